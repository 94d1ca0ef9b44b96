"""``backend="cuda"``: generated CUDA C (``emit.py``) with ``save``, an ``nvcc`` build and, on a GPU, predict.

``predict`` needs an NVIDIA GPU and ``nvcc``; without them it raises a clear error, and ``save``
still writes the .cu/.h (to build on the Jetson itself). ``compile_object`` is the build check that
runs anywhere nvcc is installed.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backends.base import CompiledModel
from edgeinfer.backends.cuda.emit import generate
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir.graph import Graph


def nvcc() -> str | None:
    return shutil.which("nvcc")


def gpu_present() -> bool:
    """True when the CUDA driver reports a device (checked without importing torch)."""
    for lib in ("libcuda.so.1", "libcuda.so"):
        try:
            cuda = ctypes.CDLL(lib)
        except OSError:
            continue
        count = ctypes.c_int(0)
        return cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    return False


class CudaModel(CompiledModel):
    """A tree ensemble or MLP as CUDA C. Options: ``arch`` (nvcc ``-arch``, e.g. "sm_53" for Jetson Nano).

    >>> # c = CudaModel(graph, "rf", {}); c.save("out/")  # rf.cu, rf.h
    """

    backend = "cuda"

    def __init__(self, graph: Graph, name: str, options: dict[str, Any] | None = None) -> None:
        super().__init__(graph.copy().validate(), name)
        self.options = dict(options or {})
        self.source, self.header, self.info = generate(self.graph, name)
        self._lib: Any = None

    def save(self, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        cu, h = out / f"{self.name}.cu", out / f"{self.name}.h"
        cu.write_text(self.source)
        h.write_text(self.header)
        return [cu, h]

    def _flags(self) -> list[str]:
        arch = self.options.get("arch")
        return ["-O3", *([f"-arch={arch}"] if arch else [])]

    def compile_object(self, out_dir: str | Path) -> Path:
        """``nvcc -c`` the saved source (works without a GPU); returns the object file."""
        exe = nvcc()
        if exe is None:
            raise EdgeInferError("nvcc is not on PATH; install the CUDA toolkit to build the generated CUDA C")
        cu, _ = self.save(out_dir)
        obj = cu.with_suffix(".o")
        r = subprocess.run([exe, *self._flags(), "-c", str(cu), "-o", str(obj)], capture_output=True, text=True)
        if r.returncode != 0:
            raise EdgeInferError(f"nvcc failed on {cu.name}:\n{r.stderr[-2000:]}")
        return obj

    def _load(self) -> Any:
        if self._lib is None:
            if not gpu_present():
                raise EdgeInferError("backend='cuda' predicts on an NVIDIA GPU and none is available here; "
                                     "save() the CUDA C and build it on the device, or use backend='torch'")
            exe = nvcc()
            if exe is None:
                raise EdgeInferError("nvcc is not on PATH; it is needed to build the model for predict")
            folder = Path(tempfile.mkdtemp(prefix=f"edgeinfer-cuda-{self.name}-"))
            cu, _ = self.save(folder)
            so = folder / f"lib{self.name}.so"
            r = subprocess.run([exe, *self._flags(), "-shared", "-Xcompiler", "-fPIC", str(cu), "-o", str(so)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise EdgeInferError(f"nvcc failed on {cu.name}:\n{r.stderr[-2000:]}")
            self._lib = ctypes.CDLL(str(so))
        return self._lib

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        lib = self._load()
        x = np.ascontiguousarray(arrays[0], np.float32)
        n = len(x)
        label = np.zeros(n, np.int32)
        scores = np.zeros((n, self.info["n_scores"]), np.float32)
        fn = getattr(lib, f"{self.name}_predict")
        rc = fn(x.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(n), label.ctypes.data_as(ctypes.c_void_p),
                scores.ctypes.data_as(ctypes.c_void_p))
        if rc != 0:
            raise EdgeInferError(f"CUDA error {rc} while running {self.name}")
        if self.graph.metadata.get("task") == "classification" or len(self.graph.outputs) == 2:
            return [label, scores]
        return [scores]

    def footprint(self) -> dict[str, Any]:
        return {"backend": self.backend, "source_bytes": len(self.source), **self.info}
