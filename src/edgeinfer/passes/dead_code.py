"""Dead-code removal: drop nodes and constants that no graph output depends on."""

from __future__ import annotations

from edgeinfer.ir.graph import Graph


def remove_dead_code(graph: Graph) -> Graph:
    """Return a copy of ``graph`` keeping only what the outputs need (inputs are always kept).

    >>> # remove_dead_code(g).nodes
    """
    g = graph.copy()
    needed = set(g.outputs)
    kept = []
    for node in reversed(g.nodes):
        if needed & set(node.outputs):
            kept.append(node)
            needed.update(i for i in node.inputs if i)
    g.nodes = kept[::-1]
    live = needed | set(g.inputs) | {o for n in g.nodes for o in n.outputs}
    g.tensors = {k: t for k, t in g.tensors.items() if k in live}
    return g
