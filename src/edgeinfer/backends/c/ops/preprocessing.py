"""C for Scaler (per-feature steps, rounded per step like scikit-learn) and Projection (PCA)."""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import c_float
from edgeinfer.backends.c.ops.dense import fast_path, make_layers
from edgeinfer.backends.c.registry import c_op

_OPS = {"sub": "-", "add": "+", "mul": "*", "div": "/"}


@c_op("Scaler")
def scaler(ctx, node) -> str:
    """float32 steps are plain float arithmetic; float64 steps compute in double and round each
    step to float, which is what scikit-learn's in-place ``X -= p`` on float32 X does (option
    ``exact=False`` computes them in float, for FPUs without double)."""
    wide = node.attr("precision", "float32") == "float64" and bool(ctx.options.get("exact", True))
    dt = "float64" if wide else "float32"
    n = ctx.numel(node.outputs[0])
    lines = [f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t i;",
             f"for (i = 0; i < {n}; ++i) {{", "  float v = x[i];"]
    for step, t in zip(node.attr("steps", []), node.inputs[1:], strict=True):
        tab = ctx.const_array(f"{node.name}_{step}", np.asarray(ctx.graph.const(t)).astype(dt), dt)
        lines.append(f"  v = (float)((double)v {_OPS[step]} {tab}[i]);" if wide else f"  v = v {_OPS[step]} {tab}[i];")
    clip = node.attr("clip")
    if clip is not None:
        lo, hi = c_float(clip[0]), c_float(clip[1])
        lines.append(f"  v = v < {lo} ? {lo} : (v > {hi} ? {hi} : v);")
    lines += ["  y[i] = v;", "}"]
    return "\n".join(lines)


@c_op("Projection")
def projection(ctx, node) -> str:
    """One float32 dense layer with the offset and scale folded into weights and bias."""
    comp = np.asarray(ctx.graph.const(node.inputs[1]), dtype=np.float64)
    consts = [ctx.graph.const(t) if t else None for t in node.inputs[2:]] + [None, None]
    offset, scale = consts[0], consts[1]
    bias = -np.asarray(offset, np.float64) if offset is not None else np.zeros(comp.shape[0])
    if scale is not None:
        comp = comp / np.asarray(scale, np.float64)[:, None]
        bias = bias / np.asarray(scale, np.float64)
    layers = make_layers(ctx, node.name, [(comp, bias)], exact=False)
    return "\n".join(fast_path(ctx, ctx.ref(node.inputs[0]), layers, "identity", ctx.ref(node.outputs[0]),
                               certify=False))
