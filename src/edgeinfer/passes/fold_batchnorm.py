"""BatchNorm folding: a BatchNormalization after a Conv or Gemm goes into its weights and bias.

y = (W*x + b - mean) * k + beta with k = scale / sqrt(var + eps) is the layer with
weights W*k and bias (b - mean)*k + beta: one op less and no per-element multiply.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.graph import Graph


def _bn_params(g: Graph, bn) -> tuple[np.ndarray, np.ndarray] | None:
    vals = [g.const(i) for i in bn.inputs[1:5]]
    if any(v is None for v in vals):
        return None
    scale, beta, mean, var = (v.astype(np.float64) for v in vals)
    k = scale / np.sqrt(var + bn.attr("epsilon", 1e-5))
    return k, beta - mean * k


def fold_batchnorm(graph: Graph) -> Graph:
    """Return a copy of ``graph`` with BatchNormalization folded into a preceding Conv/Gemm.

    >>> # [n.op for n in fold_batchnorm(g).nodes]  # no BatchNormalization after a Conv
    """
    g = graph.copy()
    producers, consumers = g.producers(), g.consumers()
    drop = set()
    for bn in g.nodes:
        if bn.op != "BatchNormalization":
            continue
        prev = producers.get(bn.inputs[0])
        x = bn.inputs[0]
        if prev is None or prev.op not in ("Conv", "Gemm") or len(consumers.get(x, [])) != 1 or x in g.outputs:
            continue
        if prev.attr("activation") or g.const(prev.inputs[1]) is None:
            continue
        if len(prev.inputs) > 2 and prev.inputs[2] and g.const(prev.inputs[2]) is None:
            continue
        kb = _bn_params(g, bn)
        if kb is None:
            continue
        k, shift = kb
        w = g.const(prev.inputs[1]).astype(np.float64)
        bias = g.const(prev.inputs[2]).astype(np.float64) if len(prev.inputs) > 2 and prev.inputs[2] else None
        dtype = g.tensors[prev.inputs[1]].dtype
        if prev.op == "Conv":
            w = w * k.reshape((-1,) + (1,) * (w.ndim - 1))
            b = shift if bias is None else bias * k + shift
        else:
            n = g.tensors[prev.outputs[0]].shape[1]
            if g.tensors[prev.outputs[0]].shape != g.tensors[bn.outputs[0]].shape or k.size != n:
                continue
            alpha, beta = prev.attr("alpha", 1.0), prev.attr("beta", 1.0)
            w = alpha * (w * k[:, None] if prev.attr("transB", 0) else w * k[None, :])
            if bias is not None:
                if bias.ndim == 2 and bias.shape[0] != 1:
                    continue
                bias = np.broadcast_to(bias.reshape(-1) if bias.ndim else bias, (n,))
            b = shift if bias is None else beta * bias * k + shift
            prev.attrs.update(alpha=1.0, beta=1.0)
        wname = g.add_const(prev.inputs[1] + "_bn", w.astype(dtype))
        bname = g.add_const(prev.outputs[0] + "_bias_bn", b.astype(dtype))
        prev.inputs = [prev.inputs[0], wname, bname]
        g.tensors.pop(prev.outputs[0], None)
        prev.outputs = [bn.outputs[0]]
        drop.add(id(bn))
    g.nodes = [n for n in g.nodes if id(n) not in drop]
    from edgeinfer.passes.dead_code import remove_dead_code

    return remove_dead_code(g)
