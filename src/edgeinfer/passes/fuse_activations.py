"""Activation fusion: Conv/Gemm/ConvTranspose followed by Relu or Clip become one node.

The layer gets ``activation`` ("Relu" or "Clip") and ``activation_params`` [min, max];
the C kernels clamp while writing each output, saving a pass over the tensor (and
its arena buffer). Only ops that declare ``fused_activation`` are fused.
"""

from __future__ import annotations

from edgeinfer.ir.graph import Graph
from edgeinfer.ir.registry import get_op

FUSABLE = ("Conv", "Gemm", "ConvTranspose")


def fuse_activations(graph: Graph) -> Graph:
    """Return a copy of ``graph`` with Relu/Clip folded into the producing Conv/Gemm.

    >>> # [n.op for n in fuse_activations(g).nodes]  # "Conv" instead of "Conv", "Relu"
    """
    g = graph.copy()
    producers, consumers = g.producers(), g.consumers()
    drop = set()
    for act in g.nodes:
        if act.op not in ("Relu", "Clip"):
            continue
        x = act.inputs[0]
        prev = producers.get(x)
        if prev is None or prev.op not in FUSABLE or not getattr(get_op(prev.op), "fused_activation", False):
            continue
        if prev.attr("activation") or len(consumers.get(x, [])) != 1 or x in g.outputs:
            continue
        if g.tensors[x].dtype != "float32":
            continue
        if act.op == "Relu":
            params = [0.0, float("inf")]
        else:
            params = [float(act.attr("min", float("-inf"))), float(act.attr("max", float("inf")))]
        prev.attrs.update(activation=act.op, activation_params=params)
        g.tensors.pop(x, None)
        prev.outputs = [act.outputs[0]]
        drop.add(id(act))
    g.nodes = [n for n in g.nodes if id(n) not in drop]
    return g
