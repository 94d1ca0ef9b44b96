"""Cost model: parameter bytes, MACs and comparisons per inference (one sample)."""

from __future__ import annotations

from typing import Any

from edgeinfer.ir.graph import Graph
from edgeinfer.ir.registry import get_op


def graph_cost(graph: Graph) -> dict[str, Any]:
    """Totals and per-node costs for one sample.

    ``param_bytes`` counts each constant once (at its stored dtype) plus any
    ``param_bytes`` an op reports for tables held in attributes (tree nodes).

    >>> # graph_cost(g)["macs"]
    """
    if any(graph.tensors[o].shape is None for n in graph.nodes for o in n.outputs):
        graph.infer_shapes()
    seen: set[str] = set()
    per_node = []
    tot = {"macs": 0, "comparisons": 0, "param_bytes": 0}
    for node in graph.nodes:
        ins = [graph.tensors.get(i) if i else None for i in node.inputs]
        outs = [graph.tensors[o] for o in node.outputs]
        c = dict(get_op(node.op).cost(node, ins, outs))
        pb = int(c.get("param_bytes", 0))
        for t in ins:
            if t is not None and t.is_const and t.name not in seen:
                seen.add(t.name)
                pb += t.data.nbytes
        entry = {"node": node.name, "op": node.op, "macs": int(c.get("macs", 0)),
                 "comparisons": int(c.get("comparisons", 0)), "param_bytes": pb}
        per_node.append(entry)
        for k in tot:
            tot[k] += entry[k]
    act = sum(graph.tensors[o].nbytes() for n in graph.nodes for o in n.outputs)
    return {**tot, "activation_bytes": act, "per_node": per_node}
