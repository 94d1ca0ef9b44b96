"""Static memory planning: every intermediate tensor gets an offset in one arena.

Tensor lifetimes (first producing node .. last consuming node) are packed greedily,
largest first, each at the lowest offset that does not overlap a live tensor — the
same strategy as TensorFlow Lite Micro's GreedyMemoryPlanner. Elementwise ops whose
input dies at that node write in place: their output shares the input's buffer. A binary
elementwise op (``BINARY_INPLACE_OPS``) may take over either operand that is not broadcast: a
residual ``QAdd`` whose skip input outlives it still writes over its other input, so a block does
not hold three full-size tensors at once.
Graph inputs and outputs are the caller's buffers and take no arena space.

A backend may say more through three optional hooks (the planner itself stays backend-free):
``alias_ok(graph, node)``: its kernel for ``node`` may write output 0 over input 0 (a depthwise or
pointwise conv with a scratch buffer); ``scratch(graph, node, inplace)``: bytes of working memory the
kernel needs while ``node`` runs (an im2col slice), planned like a tensor living at that node only;
``accumulate(graph, node)``: the kernel can add its result into a buffer that already holds the
other operand of a following ``Add`` (a residual connection), which then needs no buffer of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node

AliasHook = Callable[[Graph, Node], bool]
ScratchHook = Callable[[Graph, Node, bool], int]

#: ops whose output may alias their first input (same size, element by element).
INPLACE_OPS = {"Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
               "Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Exp",
               "Sqrt", "Erf", "Neg", "Abs"}

#: binary ops computed element by element (each output element reads its two operands at the same
#: position, or one of them broadcast): the output may take over an operand of its own size.
BINARY_INPLACE_OPS = {"QAdd", "QMul"}

ALIGN = 8


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(graph: Graph, inplace: bool = True, alias_ok: AliasHook | None = None,
                scratch: ScratchHook | None = None, accumulate: AliasHook | None = None) -> Graph:
    """Return a copy of ``graph`` whose arena tensors carry ``offset``.

    Sets ``metadata["arena_bytes"]`` (planned peak) and ``metadata["arena_naive_bytes"]``
    (sum of all intermediate tensors, what a planner-less runtime would need). With the hooks
    (module docstring) also ``metadata["inplace_nodes"]`` (node names writing over input 0),
    ``metadata["scratch"]`` (node name -> [offset, bytes]) and ``metadata["accumulate"]``
    (conv node name -> the Add node it computes by accumulating into the Add's other operand).

    >>> # plan_memory(g).metadata["arena_bytes"]
    """
    g = graph.copy()
    if any(g.tensors[o].shape is None for n in g.nodes for o in n.outputs):
        g.infer_shapes()
    external = set(g.inputs) | set(g.outputs)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    readers: dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        for o in node.outputs:
            if o not in external and not g.tensors[o].is_const:
                first.setdefault(o, i)
                last.setdefault(o, i)
        for x in node.inputs:
            readers[x] = readers.get(x, 0) + 1
            if x in first:
                last[x] = i
    # alias groups for in-place ops: output joins its input's group
    root: dict[str, str] = {t: t for t in first}
    inplace_nodes: list[str] = []
    fused: dict[str, str] = {}
    if inplace:
        fused = _residuals(g, first, last, readers, root, accumulate) if accumulate else {}
        for i, node in enumerate(g.nodes):
            if not node.inputs or node.name in fused.values() or node.name in fused or node.outputs[0] not in first:
                continue
            y = node.outputs[0]
            if node.op in BINARY_INPLACE_OPS:
                same = [t for t in node.inputs[:2] if t in first and last[t] == i and readers[t] == 1
                        and g.tensors[t].nbytes() == g.tensors[y].nbytes()]
                if same:
                    root[y] = _find(root, same[0])
                continue
            x = node.inputs[0]
            if x not in first or last[x] != i or readers[x] != 1:
                continue
            if node.op in INPLACE_OPS and g.tensors[x].nbytes() == g.tensors[y].nbytes():
                root[y] = _find(root, x)
            elif alias_ok is not None and alias_ok(g, node) and g.tensors[y].nbytes() <= g.tensors[x].nbytes():
                root[y] = _find(root, x)
                inplace_nodes.append(node.name)
    groups: dict[str, list[str]] = {}
    for t in first:
        groups.setdefault(_find(root, t), []).append(t)
    bufs = []
    for _r, members in groups.items():
        size = _align(max(g.tensors[m].nbytes() for m in members))
        bufs.append((size, min(first[m] for m in members), max(last[m] for m in members), members))
    scratch_of: dict[str, int] = {}
    if scratch is not None:
        for i, node in enumerate(g.nodes):
            nbytes = scratch(g, node, node.name in inplace_nodes)
            if nbytes > 0:
                scratch_of[node.name] = nbytes
                bufs.append((_align(nbytes), i, i, ["\0scratch:" + node.name]))
    bufs.sort(key=lambda b: (-b[0], b[1]))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    peak = 0
    scratch_at: dict[str, list[int]] = {}
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
            if m.startswith("\0scratch:"):
                name = m[len("\0scratch:"):]
                scratch_at[name] = [off, scratch_of[name]]
            else:
                g.tensors[m].offset = off
    g.metadata["arena_bytes"] = peak
    g.metadata["arena_naive_bytes"] = sum(_align(g.tensors[t].nbytes()) for t in first)
    if alias_ok is not None or scratch is not None or accumulate is not None:
        g.metadata["inplace_nodes"] = inplace_nodes
        g.metadata["scratch"] = scratch_at
        g.metadata["accumulate"] = fused
    return g


def _residuals(g: Graph, first: dict[str, int], last: dict[str, int], readers: dict[str, int],
               root: dict[str, str], accumulate: AliasHook) -> dict[str, str]:
    """Find ``Add(conv(...), skip)`` where the conv can accumulate into ``skip``'s buffer.

    Legal when the conv's output feeds only the Add, ``skip`` is an arena tensor of the same size
    and dtype computed before the conv, not read by the conv, and read by nothing after the conv
    but the Add (so overwriting it early is invisible). The conv output and the Add output join
    ``skip``'s buffer; the Add itself then emits nothing.
    """
    producer = {o: i for i, n in enumerate(g.nodes) for o in n.outputs}
    fused: dict[str, str] = {}
    for j, add in enumerate(g.nodes):
        if add.op != "Add" or len(add.inputs) != 2 or add.attrs.get("activation") or add.inputs[0] == add.inputs[1]:
            continue
        y = add.outputs[0]
        for u, skip in (add.inputs, add.inputs[::-1]):
            if u not in first or skip not in first or y not in first or u not in producer or skip not in producer:
                continue
            ci = producer[u]
            conv = g.nodes[ci]
            tu, ts, ty = g.tensors[u], g.tensors[skip], g.tensors[y]
            if readers.get(u) != 1 or conv.name in fused or not accumulate(g, conv):
                continue
            if not (tu.shape == ts.shape == ty.shape and tu.dtype == ts.dtype == ty.dtype):
                continue
            if producer[skip] >= ci or skip in conv.inputs or last[skip] != j:
                continue
            if any(skip in n.inputs for n in g.nodes[ci + 1:j]):
                continue
            r = _find(root, skip)
            root[u] = r
            root[y] = r
            fused[conv.name] = add.name
            break
    return fused


def _find(root: dict[str, str], t: str) -> str:
    while root[t] != t:
        t = root[t]
    return t
