"""Static memory planning: every intermediate tensor gets an offset in one arena.

Tensor lifetimes (first producing node .. last consuming node) are packed greedily,
largest first, each at the lowest offset that does not overlap a live tensor — the
same strategy as TensorFlow Lite Micro's GreedyMemoryPlanner. Elementwise ops whose
input dies at that node write in place: their output shares the input's buffer.
Graph inputs and outputs are the caller's buffers and take no arena space.
"""

from __future__ import annotations

from edgeinfer.ir.graph import Graph

#: ops whose output may alias their first input (same size, element by element).
INPLACE_OPS = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
               "Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Exp",
               "Sqrt", "Erf", "Neg", "Abs"}

ALIGN = 8


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(graph: Graph, inplace: bool = True) -> Graph:
    """Return a copy of ``graph`` whose arena tensors carry ``offset``.

    Sets ``metadata["arena_bytes"]`` (planned peak) and ``metadata["arena_naive_bytes"]``
    (sum of all intermediate tensors, what a planner-less runtime would need).

    >>> # plan_memory(g).metadata["arena_bytes"]
    """
    g = graph.copy()
    if any(g.tensors[o].shape is None for n in g.nodes for o in n.outputs):
        g.infer_shapes()
    external = set(g.inputs) | set(g.outputs)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        for o in node.outputs:
            if o not in external and not g.tensors[o].is_const:
                first.setdefault(o, i)
                last.setdefault(o, i)
        for x in node.inputs:
            if x in first:
                last[x] = i
    # alias groups for in-place ops: output joins its input's group
    root: dict[str, str] = {t: t for t in first}
    if inplace:
        for i, node in enumerate(g.nodes):
            if node.op in INPLACE_OPS and node.inputs and node.inputs[0] in first:
                x, y = node.inputs[0], node.outputs[0]
                if y in first and last[x] == i and g.tensors[x].nbytes() == g.tensors[y].nbytes() \
                        and sum(1 for n in g.nodes for j in n.inputs if j == x) == 1:
                    root[y] = _find(root, x)
    groups: dict[str, list[str]] = {}
    for t in first:
        groups.setdefault(_find(root, t), []).append(t)
    bufs = []
    for _r, members in groups.items():
        size = _align(max(g.tensors[m].nbytes() for m in members))
        bufs.append((size, min(first[m] for m in members), max(last[m] for m in members), members))
    bufs.sort(key=lambda b: (-b[0], b[1]))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    peak = 0
    for size, f, lst, members in bufs:
        live = sorted((o, s) for o, s, pf, pl in placed if not (pl < f or lst < pf))
        off = 0
        for o, s in live:
            if off + size <= o:
                break
            off = max(off, o + s)
        placed.append((off, size, f, lst))
        peak = max(peak, off + size)
        for m in members:
            g.tensors[m].offset = off
    g.metadata["arena_bytes"] = peak
    g.metadata["arena_naive_bytes"] = sum(_align(g.tensors[t].nbytes()) for t in first)
    return g


def _find(root: dict[str, str], t: str) -> str:
    while root[t] != t:
        t = root[t]
    return t
