"""The C backend's model: generated C compiled on the host and called through ctypes."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backends.base import CompiledModel
from edgeinfer.backends.c.build import compile_shared, load, object_sizes
from edgeinfer.backends.c.emit import CSources, generate
from edgeinfer.ir.graph import Graph


class CModel(CompiledModel):
    """``predict`` runs the very C that ``save`` writes.

    >>> # m = CModel(graph, "gesture"); m.predict(X); m.save("out/")
    """

    backend = "c"

    def __init__(self, graph: Graph, name: str, options: dict | None = None) -> None:
        self.options = dict(options or {})
        self.sources: CSources = generate(graph, name, self.options)
        planned = graph.copy().validate()
        planned.metadata["arena_bytes"] = self.sources.arena_bytes
        super().__init__(planned, name)
        self._lib: ctypes.CDLL | None = None

    def _fn(self) -> Any:
        if self._lib is None:
            self._lib = load(compile_shared(self.sources))
        return getattr(self._lib, f"{self.name}_batch")

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        n = len(arrays[0])
        outs = [np.zeros((n, *[1 if d is None else d for d in (self.graph.tensors[o].shape or ())[1:]]),
                         dtype=self.graph.tensors[o].dtype) for o in self.graph.outputs]
        ptrs = [ctypes.c_void_p(a.ctypes.data) for a in arrays] + [ctypes.c_void_p(o.ctypes.data) for o in outs]
        self._fn()(ctypes.c_int32(n), *ptrs)
        return outs

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``<name>.h``, ``<name>.c`` and the kernel sources they use."""
        return self.sources.write(out_dir)

    def footprint(self) -> dict[str, Any]:
        """Host estimate (gcc -Os objects): flash = code + constants, RAM = arena + data + stack."""
        s = object_sizes(self.sources)
        return {"flash_bytes": s["text"] + s["data"], "ram_bytes": s["data"] + s["bss"] + s["stack"],
                "arena_bytes": self.sources.arena_bytes, "stack_bytes": s["stack"],
                "const_bytes": self.sources.const_bytes, "estimate": "host gcc -Os"}

    def measure(self, target: str = "cortex-m4", inputs: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Build for a board, run under emulation, measure (see :func:`edgeinfer.targets.measure`)."""
        from edgeinfer.targets import measure

        return measure(self, target=target, inputs=inputs, **kwargs)
