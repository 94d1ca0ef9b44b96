"""C for convolution, pooling and normalisation: calls into ei_conv.c / ei_pool.c (see ei_nn.h).

1-D layers run as 2-D ones of height 1. The geometry of each layer goes in a small
``static const int32_t`` table, resolved here once with the same code as the IR
reference (``conv_geometry``), so C and reference cannot disagree on padding.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import c_float
from edgeinfer.backends.c.ops.shape import c_op_unless_defined, dims, require_float32
from edgeinfer.backends.c.ops.vector_math import act_bounds
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.ops.nn import conv_geometry, convtranspose_geometry


def _as_2d(node, shape: list[int]) -> list[int]:
    if len(shape) == 3:
        return [shape[0], shape[1], 1, shape[2]]
    if len(shape) == 4:
        return shape
    raise UnsupportedModelError(f"the C backend has {node.op} for 1-D and 2-D inputs only, not {shape}")


def _geo2d(geo: dict, nd: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """(strides, dilations, begin pads, end pads) as 2-D lists."""
    s, d, p = geo["strides"], geo["dilations"], geo["pads"]
    if nd == 1:
        return [1, s[0]], [1, d[0]], [0, p[0]], [0, p[1]]
    return list(s), list(d), p[:2], p[2:]


def _per_image(ctx, node, call: str) -> str:
    """Run ``call`` (using @X@ and @Y@) once per image of the leading dimension (1 for a model's own batch)."""
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    n, xs, ys = x[0], int(np.prod(x[1:])), int(np.prod(y[1:]))
    xr, yr = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    if n == 1:
        return call.replace("@X@", xr).replace("@Y@", yr)
    return (f"int32_t n;\nfor (n = 0; n < {n}; ++n) {{\n  "
            + call.replace("@X@", f"{xr} + n * {xs}").replace("@Y@", f"{yr} + n * {ys}") + "\n}")


def _table(ctx, node, values: list[int]) -> str:
    return ctx.const_array(node.name + "_geom", np.asarray(values, dtype=np.int32), "int32")


def _weights_bias(ctx, node) -> tuple[str, str]:
    if ctx.graph.const(node.inputs[1]) is None:
        raise UnsupportedModelError(f"the C backend needs {node.op} weights to be constant")
    w = ctx.ref(node.inputs[1])
    b = ctx.ref(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else "(const float *)0"
    return w, b


@c_op_unless_defined("Conv")
def conv(ctx, node) -> str:
    require_float32(ctx, node)
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    wshape = dims(ctx, node.inputs[1])
    nd = len(x) - 2
    x2, y2, k2 = _as_2d(node, x), _as_2d(node, y), _as_2d(node, wshape)
    s, d, pb, _ = _geo2d(conv_geometry(node, x[2:], wshape[2:]), nd)
    geom = _table(ctx, node, [x2[1], x2[2], x2[3], y2[1], y2[2], y2[3], k2[2], k2[3], *s, *d, *pb,
                              node.attr("group", 1)])
    w, b = _weights_bias(ctx, node)
    lo, hi = act_bounds(node)
    ctx.use_kernel("ei_conv")
    return _per_image(ctx, node, f"ei_conv2d_f32({geom}, @X@, {w}, {b}, {lo}, {hi}, @Y@);")


@c_op_unless_defined("ConvTranspose")
def conv_transpose(ctx, node) -> str:
    require_float32(ctx, node)
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    wshape = dims(ctx, node.inputs[1])
    nd = len(x) - 2
    x2, y2, k2 = _as_2d(node, x), _as_2d(node, y), _as_2d(node, wshape)
    s, d, pb, _ = _geo2d(convtranspose_geometry(node, x[2:], wshape[2:]), nd)
    geom = _table(ctx, node, [x2[1], x2[2], x2[3], y2[1], y2[2], y2[3], k2[2], k2[3], *s, *d, *pb,
                              node.attr("group", 1)])
    w, b = _weights_bias(ctx, node)
    lo, hi = act_bounds(node)
    ctx.use_kernel("ei_conv")
    return _per_image(ctx, node, f"ei_convtranspose2d_f32({geom}, @X@, {w}, {b}, {lo}, {hi}, @Y@);")


@c_op_unless_defined("MaxPool", "AveragePool")
def pool(ctx, node) -> str:
    require_float32(ctx, node)
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    k = list(node.attr("kernel_shape"))
    nd = len(x) - 2
    x2, y2 = _as_2d(node, x), _as_2d(node, y)
    k2 = [1, k[0]] if nd == 1 else k
    s, d, pb, pe = _geo2d(conv_geometry(node, x[2:], k, pool=True), nd)
    incl = int(node.attr("count_include_pad", 0))
    geom = _table(ctx, node, [x2[1], x2[2], x2[3], y2[2], y2[3], *k2, *s, *d, *pb, *pe, incl])
    fn = "ei_maxpool2d_f32" if node.op == "MaxPool" else "ei_avgpool2d_f32"
    ctx.use_kernel("ei_pool")
    return _per_image(ctx, node, f"{fn}({geom}, @X@, @Y@);")


@c_op_unless_defined("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx, node) -> str:
    require_float32(ctx, node)
    x = dims(ctx, node.inputs[0])
    c, hw = x[0] * x[1], int(np.prod(x[2:]))
    if node.op == "GlobalMaxPool":
        body = "float m = xc[0];\n  for (i = 1; i < {hw}; ++i) if (xc[i] > m) m = xc[i];\n  y[c] = m;"
    else:
        body = "float s = 0.0f;\n  for (i = 0; i < {hw}; ++i) s += xc[i];\n  y[c] = s / {n};"
    return (f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t c, i;\n"
            f"for (c = 0; c < {c}; ++c) {{\n  const float *xc = x + c * {hw};\n  "
            + body.format(hw=hw, n=c_float(hw)) + "\n}")


@c_op_unless_defined("BatchNormalization")
def batchnorm(ctx, node) -> str:
    require_float32(ctx, node)
    vals = [ctx.graph.const(i) for i in node.inputs[1:5]]
    if any(v is None for v in vals):
        raise UnsupportedModelError("the C backend needs BatchNormalization's statistics to be constant")
    scale, b, mean, var = (v.astype(np.float64) for v in vals)
    k = scale / np.sqrt(var + node.attr("epsilon", 1e-5))
    shift = b - mean * k
    x = dims(ctx, node.inputs[0])
    c, inner, n = x[1], int(np.prod(x[2:])), x[0]
    kk = ctx.const_array(node.name + "_scale", k.astype(np.float32))
    ss = ctx.const_array(node.name + "_shift", shift.astype(np.float32))
    return (f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t c, i;\n"
            f"for (c = 0; c < {n * c}; ++c) {{\n"
            f"  for (i = 0; i < {inner}; ++i) y[c * {inner} + i] = x[c * {inner} + i] * {kk}[c % {c}] + {ss}[c % {c}];"
            "\n}")
