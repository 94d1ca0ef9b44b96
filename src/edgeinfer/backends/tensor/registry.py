"""The op-to-torch lowering registry: one function per IR op, as the C backend has one emitter per op.

A lowering is ``fn(node, ctx) -> kernel``: it runs once per model ("prepare"), reads attributes
and constants, builds its tables as tensors on the model's device, and returns ``kernel``, a
function of the node's non-constant input tensors that returns its output tensors ("run").
A classifier kernel may return one extra trailing tensor: a boolean per row that is true where
its label is not certified (two scores within rounding of each other); those rows are recomputed
by the IR reference, so labels equal scikit-learn's on every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node

Kernel = Callable[..., tuple]
Lowering = Callable[[Node, "LowerContext"], Kernel]
_LOWERINGS: dict[str, Lowering] = {}


def lower(*ops: str) -> Callable[[Lowering], Lowering]:
    """Decorator registering ``fn`` as the torch lowering of ``ops``."""
    def deco(fn: Lowering) -> Lowering:
        for op in ops:
            _LOWERINGS[op] = fn
        return fn
    return deco


def get_lowering(op: str) -> Lowering:
    _load_all()
    try:
        return _LOWERINGS[op]
    except KeyError:
        raise UnsupportedModelError(f"the torch backend has no lowering for IR op {op!r}; "
                                    f"lowered ops: {', '.join(sorted(_LOWERINGS))}") from None


def lowered_ops() -> list[str]:
    _load_all()
    return sorted(_LOWERINGS)


def _load_all() -> None:
    # importing the lowering modules fills the registry (and imports torch): done on first use only
    from edgeinfer.backends.tensor import ops_classic, ops_nn, trees  # noqa: F401


@dataclass
class LowerContext:
    """What a lowering may read: the graph, the device, options (strategy, precision)."""

    graph: Graph
    device: Any
    options: dict[str, Any] = field(default_factory=dict)

    def const(self, name: str, dtype: Any = None) -> Any:
        """A graph constant as a tensor on the device (optionally cast)."""
        import torch

        arr = self.graph.tensors[name].data
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if dtype is not None:
            t = t.to(dtype)
        return t.to(self.device)

    def tensor(self, arr: np.ndarray, dtype: Any = None) -> Any:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(arr))
        return (t.to(dtype) if dtype is not None else t).to(self.device)

    def is_const(self, name: str) -> bool:
        return bool(name) and self.graph.tensors[name].is_const

    @property
    def float_dtype(self) -> Any:
        """The dtype of neural-network float compute: float16 only where asked for and on a GPU."""
        import torch

        return torch.float16 if self.options.get("precision") == "float16" else torch.float32
