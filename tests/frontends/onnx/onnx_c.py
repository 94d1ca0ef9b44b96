"""Helper for the ONNX tests: run a graph's generated C on every input (not only the first)."""

from __future__ import annotations

import ctypes

import numpy as np

from edgeinfer.backends.c.build import compile_shared, load
from edgeinfer.backends.c.emit import generate
from edgeinfer.ir.graph import Graph


def run_c(graph: Graph, feeds: list[np.ndarray], name: str = "m") -> list[np.ndarray]:
    """Compile ``graph`` to C (-Werror) and run it on a batch; returns every output."""
    src = generate(graph, name)
    fn = getattr(load(compile_shared(src)), f"{name}_batch")
    ins = [graph.tensors[t] for t in graph.inputs]
    n = len(feeds[0]) if ins[0].shape and ins[0].shape[0] is None else 1
    arrays = []
    for t, a in zip(ins, feeds, strict=True):
        a = np.asarray(a, dtype=t.dtype)
        arrays.append(np.ascontiguousarray(a))
    outs = []
    for o in graph.outputs:
        shape = [n if i == 0 and d is None else d for i, d in enumerate(graph.tensors[o].shape)]
        outs.append(np.zeros([1 if d is None else d for d in shape], dtype=graph.tensors[o].dtype))
    ptrs = [ctypes.c_void_p(a.ctypes.data) for a in arrays + outs]
    fn(ctypes.c_int32(n), *ptrs)
    return outs
