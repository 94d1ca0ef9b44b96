"""The numpy reference interpreter: the golden answer of every backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import InputError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.registry import get_op


def _coerce_inputs(graph: Graph, inputs: Any) -> dict[str, np.ndarray]:
    if isinstance(inputs, dict):
        feeds = {k: np.asarray(v) for k, v in inputs.items()}
    else:
        arrs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(arrs) != len(graph.inputs):
            raise InputError(f"graph {graph.name!r} takes {len(graph.inputs)} inputs, got {len(arrs)}")
        feeds = dict(zip(graph.inputs, (np.asarray(a) for a in arrs), strict=False))
    for name in graph.inputs:
        if name not in feeds:
            raise InputError(f"missing input {name!r}; graph inputs are {graph.inputs}")
        t = graph.tensors[name]
        a = feeds[name]
        want = t.shape
        if a.ndim == len(want) - 1 and want[0] in (None, 1):
            a = a[None]  # one sample given without its batch dimension
        if a.ndim != len(want) or any(w is not None and w != s for w, s in zip(want[1:], a.shape[1:], strict=False)):
            raise InputError(f"input {name!r} has shape {a.shape}, expected {tuple(want)} "
                             "(None = any batch size)")
        feeds[name] = a.astype(t.dtype, copy=False)
    return feeds


def run(graph: Graph, inputs: Any, outputs: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run ``graph`` on numpy inputs with the reference op implementations.

    ``inputs`` is an array (single-input graphs), a list, or a dict by name. Any batch
    size works; a graph whose batch dimension is fixed to 1 is run one sample at a time.
    Returns a dict from output name to array (``outputs`` picks other tensors too).

    >>> # run(g, X)["probabilities"]
    """
    feeds = _coerce_inputs(graph, inputs)
    wanted = list(outputs or graph.outputs)
    first = graph.tensors[graph.inputs[0]]
    n = next(iter(feeds.values())).shape[0]
    if first.shape and first.shape[0] == 1 and n != 1:
        parts = [run(graph, {k: v[i:i + 1] for k, v in feeds.items()}, wanted) for i in range(n)]
        return {k: np.concatenate([p[k] for p in parts]) for k in wanted}
    env: dict[str, np.ndarray] = dict(feeds)
    for name, t in graph.tensors.items():
        if t.is_const:
            env[name] = t.data
    for node in graph.nodes:
        xs = [env[i] if i else None for i in node.inputs]
        ys = get_op(node.op).reference(node, *xs)
        for o, y in zip(node.outputs, ys, strict=False):
            env[o] = y
    return {k: env[k] for k in wanted}
