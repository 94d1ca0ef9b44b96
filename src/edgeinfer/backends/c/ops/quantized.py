"""C for the TFLite-scheme integer ops: calls into the ei_*_s8.c kernels (see ei_int8.h), and the
ei_*_s16.c ones (ei_int16.h) where activations are int16 (the 16x8 scheme).

Fixed-point multipliers and shifts are computed here with the very functions the IR
reference uses (``ir/ops/quantized.py``, ``ir/quant_math.py``), as TFLite's Prepare does,
and land in flash as ``static const int32_t`` tables; the kernels only run.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import c_float
from edgeinfer.backends.c.ops.shape import dims
from edgeinfer.backends.c.registry import c_op
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.ops.quantized import add_params, channel_multipliers, f32, mul_params, pool_geometry


def _i32(ctx, node, suffix: str, values) -> str:
    return ctx.const_array(f"{node.name}_{suffix}", np.asarray(values, dtype=np.int32), "int32")


def _no_single_rounding(node) -> None:
    if node.attr("single_rounding", False):
        raise UnsupportedModelError(f"{node.op} node {node.name!r}: the int8 C kernels use TFLite Micro's "
                                    "double rounding; single_rounding=True has no C kernel yet")


def _bias(ctx, node) -> str:
    if len(node.inputs) > 2 and node.inputs[2]:
        return ctx.ref(node.inputs[2])
    return "(const int64_t *)0" if _is16(ctx, node) else "(const int32_t *)0"


def _is16(ctx, node) -> bool:
    """16x8 scheme: int16 activations, int8 weights, int64 bias (the ei_*_s16 kernels)."""
    return ctx.graph.tensors[node.inputs[0]].dtype == "int16"


def _act_range(ctx, node) -> tuple[int, int]:
    lo, hi = (-32768, 32767) if _is16(ctx, node) else (-128, 127)
    return node.attr("act_min", lo), node.attr("act_max", hi)


#: same-shape int8 adds at least this long get ei_opt_add_s8's 2 KiB table (optimised kernel set)
OPT_ADD_LUT_MIN = 1024


def _optimized(ctx, node) -> bool:
    """True where the C is generated for the optimised kernel set and ``node`` runs an int8 kernel
    with an ``ei_opt_*`` entry point (the 16x8 scheme keeps the reference kernels)."""
    return ctx.options.get("kernels") == "optimized" and not _is16(ctx, node)


def _rq_table(mult, shift) -> np.ndarray:
    """Per-channel requantization in the form ei_opt_rq consumes (see ei_int8_opt.h): rows {mult, rsh},
    rsh = r - 1 for shift = -r < 0 (both TFLite roundings folded into one 64-bit add), -1 - shift for
    shift >= 0. As many words as the mult / shift pair it replaces: no flash cost."""
    m = np.asarray(mult, dtype=np.int64).reshape(-1)
    s = np.asarray(shift, dtype=np.int64).reshape(-1)
    return np.stack([m, np.where(s < 0, -s - 1, -1 - s)], axis=1)


def opt_scratch_bytes(graph, node) -> int:
    """Memory-planner hook for the optimised kernel set: the arena scratch of ei_opt_conv2d_s8 (two
    widened im2col columns and two gathered fields, EI_OPT_CONV_SCRATCH in ei_int8_opt.h) and of
    ei_opt_add_s8 (its 2 x 256 int32 table). Static buffers in the kernels would hide this RAM from
    the plan and keep two models from sharing the kernels."""
    if node.op == "QConv2D" and graph.tensors[node.inputs[0]].dtype == "int8":
        x, w = graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape
        if x[3] != w[3]:                 # grouped: the reference loop, no scratch
            return 0
        klen = int(w[1]) * int(w[2]) * int(w[3])
        return 4 * (klen & ~3) + 2 * klen
    if node.op == "QAdd" and graph.tensors[node.inputs[0]].dtype == "int8" and _same_shape_add(graph, node):
        return 2 * 256 * 4
    return 0


def _same_shape_add(graph, node) -> bool:
    n = graph.tensors[node.outputs[0]].numel(1)
    return n >= OPT_ADD_LUT_MIN and all(graph.tensors[t].numel(1) == n for t in node.inputs[:2])


def _scratch_ref(ctx, node, ctype_: str) -> str:
    at = ctx.graph.metadata.get("scratch", {}).get(node.name)
    return f"({ctype_} *)({ctx.name}_arena.b + {at[0]})" if at else f"({ctype_} *)0"


@c_op("QConv2D", "QDepthwiseConv2D")
def qconv(ctx, node) -> str:
    _no_single_rounding(node)
    x, y, w = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0]), dims(ctx, node.inputs[1])
    if ctx.graph.const(node.inputs[1]) is None:
        raise UnsupportedModelError(f"the C backend needs {node.op} weights to be constant")
    depthwise = node.op == "QDepthwiseConv2D"
    cout = y[3]
    mult, shift = channel_multipliers(node.attr("in_scale"), node.attr("w_scale"), node.attr("out_scale"), cout)
    groups = cout // x[3] if depthwise else x[3] // w[3]
    pt, pl, _, _ = node.attr("pads", [0, 0, 0, 0])
    geom = _i32(ctx, node, "geom", [x[1], x[2], x[3], y[1], y[2], cout, w[1], w[2], *node.attr("strides", [1, 1]),
                                    *node.attr("dilations", [1, 1]), pt, pl, node.attr("in_zp"), node.attr("out_zp"),
                                    *_act_range(ctx, node), groups])
    if _optimized(ctx, node):
        ctx.use_kernel("ei_opt_conv_s8")
        rq = _i32(ctx, node, "rq", _rq_table(mult, shift))
        args = f"{geom}, {ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_bias(ctx, node)}, {rq}"
        if depthwise:
            return f"ei_opt_depthwise_conv2d_s8({args}, {ctx.ref(node.outputs[0])});"
        return f"ei_opt_conv2d_s8({args}, {ctx.ref(node.outputs[0])}, {_scratch_ref(ctx, node, 'void')});"
    sfx = "s16" if _is16(ctx, node) else "s8"
    ctx.use_kernel(f"ei_conv_{sfx}")
    fn = f"ei_depthwise_conv2d_{sfx}" if depthwise else f"ei_conv2d_{sfx}"
    return (f"{fn}({geom}, {ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_bias(ctx, node)}, "
            f"{_i32(ctx, node, 'mult', mult)}, {_i32(ctx, node, 'shift', shift)}, {ctx.ref(node.outputs[0])});")


@c_op("QFullyConnected")
def qfc(ctx, node) -> str:
    _no_single_rounding(node)
    w = dims(ctx, node.inputs[1])
    n_out, n_in = w
    ws = node.attr("w_scale")
    mult, shift = channel_multipliers(node.attr("in_scale"), ws, node.attr("out_scale"), len(ws))
    q = _i32(ctx, node, "q", [node.attr("in_zp"), node.attr("out_zp"), *_act_range(ctx, node)])
    rows = ctx.numel(node.inputs[0]) // n_in
    if _optimized(ctx, node):
        ctx.use_kernel("ei_opt_fc_s8")
        return (f"ei_opt_fully_connected_s8({ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, "
                f"{_bias(ctx, node)}, {_i32(ctx, node, 'rq', _rq_table(mult, shift))}, {len(mult)}, {q}, {rows}, "
                f"{n_in}, {n_out}, {ctx.ref(node.outputs[0])});")
    sfx = "s16" if _is16(ctx, node) else "s8"
    ctx.use_kernel(f"ei_fc_{sfx}")
    return (f"ei_fully_connected_{sfx}({ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_bias(ctx, node)}, "
            f"{_i32(ctx, node, 'mult', mult)}, {_i32(ctx, node, 'shift', shift)}, {len(mult)}, {q}, {rows}, "
            f"{n_in}, {n_out}, {ctx.ref(node.outputs[0])});")


@c_op("QAveragePool2D", "QMaxPool2D")
def qpool(ctx, node) -> str:
    x = dims(ctx, node.inputs[0])
    kh, kw, sh, sw, pt, pl, oh, ow = pool_geometry(node, x[1], x[2])
    geom = _i32(ctx, node, "geom", [x[1], x[2], x[3], oh, ow, kh, kw, sh, sw, pt, pl, *_act_range(ctx, node)])
    sfx = "s16" if _is16(ctx, node) else "s8"
    ctx.use_kernel(f"ei_pool_{sfx}")
    fn = f"ei_maxpool2d_{sfx}" if node.op == "QMaxPool2D" else f"ei_avgpool2d_{sfx}"
    return f"{fn}({geom}, {ctx.ref(node.inputs[0])}, {ctx.ref(node.outputs[0])});"


def _broadcast_index(ctx, node, i: int) -> str:
    """Index table of input ``i`` into the output (NULL when shapes already match)."""
    shp, out = dims(ctx, node.inputs[i]), dims(ctx, node.outputs[0])
    if int(np.prod(shp)) == int(np.prod(out)):
        return "(const int32_t *)0"
    idx = np.broadcast_to(np.arange(int(np.prod(shp))).reshape(shp), out).reshape(-1)
    return _i32(ctx, node, f"idx{i}", idx)


@c_op("QAdd", "QMul")
def qbinary(ctx, node) -> str:
    _no_single_rounding(node)
    base = [node.attr("a_zp"), node.attr("b_zp"), node.attr("out_zp"), *_act_range(ctx, node)]
    if node.op == "QAdd":
        p = add_params(node, _is16(ctx, node))
        q = base + [p["left_shift"], p["m1"], p["s1"], p["m2"], p["s2"], p["mo"], p["so"]]
        fn = "ei_add_s16" if _is16(ctx, node) else "ei_add_s8"
    else:
        q = base + list(mul_params(node))
        fn = "ei_mul_s16" if _is16(ctx, node) else "ei_mul_s8"
    ctx.use_kernel("ei_elementwise_s16" if _is16(ctx, node) else "ei_elementwise_s8")
    if node.op == "QAdd" and _optimized(ctx, node) and _same_shape_add(ctx.graph, node):
        ctx.use_kernel("ei_opt_elementwise_s8")
        return (f"ei_opt_add_s8({ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_i32(ctx, node, 'q', q)}, "
                f"{ctx.numel(node.outputs[0])}, {ctx.ref(node.outputs[0])}, {_scratch_ref(ctx, node, 'int32_t')});")
    return (f"{fn}({ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_broadcast_index(ctx, node, 0)}, "
            f"{_broadcast_index(ctx, node, 1)}, {_i32(ctx, node, 'q', q)}, {ctx.numel(node.outputs[0])}, "
            f"{ctx.ref(node.outputs[0])});")


@c_op("QSoftmax")
def qsoftmax(ctx, node) -> str:
    _no_single_rounding(node)
    n = dims(ctx, node.inputs[0])[-1]
    if _is16(ctx, node):
        mult, shift = qm.softmax_s16_params(node.attr("beta", 1.0), node.attr("in_scale"))
        ctx.use_kernel("ei_softmax_s16")
        return (f"ei_softmax_s16({ctx.ref(node.inputs[0])}, {ctx.numel(node.inputs[0]) // n}, {n}, {mult}, "
                f"{shift}, {ctx.ref(node.outputs[0])});")
    mult, shift, diff_min = qm.softmax_params(node.attr("beta", 1.0), node.attr("in_scale"))
    ctx.use_kernel("ei_softmax_s8")
    return (f"ei_softmax_s8({ctx.ref(node.inputs[0])}, {ctx.numel(node.inputs[0]) // n}, {n}, {mult}, {shift}, "
            f"{diff_min}, {ctx.ref(node.outputs[0])});")


@c_op("QLogistic", "QTanh")
def qsigmoid_tanh(ctx, node) -> str:
    if _is16(ctx, node):
        mult, shift = qm.sigmoid_tanh_s16_params(node.attr("in_scale"), tanh=node.op == "QTanh")
        ctx.use_kernel("ei_softmax_s16")
        fn = "ei_logistic_s16" if node.op == "QLogistic" else "ei_tanh_s16"
        return (f"{fn}({ctx.ref(node.inputs[0])}, {mult}, {shift}, {ctx.numel(node.inputs[0])}, "
                f"{ctx.ref(node.outputs[0])});")
    mult, shift, radius = qm.sigmoid_tanh_params(node.attr("in_scale"))
    q = _i32(ctx, node, "q", [node.attr("in_zp"), mult, shift, radius])
    ctx.use_kernel("ei_softmax_s8")
    fn = "ei_logistic_s8" if node.op == "QLogistic" else "ei_tanh_s8"
    return f"{fn}({ctx.ref(node.inputs[0])}, {q}, {ctx.numel(node.inputs[0])}, {ctx.ref(node.outputs[0])});"


@c_op("QQuantize")
def qquantize(ctx, node) -> str:
    to = node.attr("to", "int8")
    if to not in ("int8", "int16"):
        raise UnsupportedModelError(f"the C backend quantizes to int8 or int16, not {to}")
    sfx = "s16" if to == "int16" else "s8"
    ctx.use_kernel(f"ei_elementwise_{sfx}")
    return (f"ei_quantize_f32_{sfx}({ctx.ref(node.inputs[0])}, {c_float(f32(node.attr('scale')))}, "
            f"{node.attr('zp')}, {ctx.numel(node.inputs[0])}, {ctx.ref(node.outputs[0])});")


@c_op("QDequantize")
def qdequantize(ctx, node) -> str:
    dt = ctx.graph.tensors[node.inputs[0]].dtype
    if dt not in ("int8", "int16"):
        raise UnsupportedModelError(f"the C backend dequantizes int8 or int16, not {dt}")
    # TFLite computes (float)(double scale * (q - zp)). scale is a float32 value and q - zp an integer
    # below 2**17, so the double product is exact and its one rounding to float is the float32
    # product's: the same bytes in single precision, without the soft-double library (about 1.6 KB
    # of __aeabi_dmul/dadd/d2f) that the double form links on an FPU-less or single-precision core.
    x, y, n = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0]), ctx.numel(node.inputs[0])
    return (f"{{ int32_t i_; for (i_ = 0; i_ < {n}; ++i_) {{ {y}[i_] = {c_float(f32(node.attr('scale')))} * "
            f"(float)((int32_t){x}[i_] - ({node.attr('zp')})); }} }}")


@c_op("QRequantize")
def qrequantize(ctx, node) -> str:
    from edgeinfer.ir.ops.quantized import requantize_params

    m, s = requantize_params(node)
    ctx.use_kernel("ei_elementwise_s8")
    x, y, n = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0]), ctx.numel(node.inputs[0])
    t, lo, hi = _int_type(ctx, node.outputs[0])
    return (f"{{ int32_t i_; for (i_ = 0; i_ < {n}; ++i_) {{ "
            f"y_rq_ = ei_mbqm((int32_t){x}[i_] - ({node.attr('in_zp')}), {m}, {s}) + ({node.attr('out_zp')}); "
            f"{y}[i_] = ({t})ei_clamp_s32(y_rq_, {lo}, {hi}); }} }}").replace(
        "{ int32_t i_;", "{ int32_t i_, y_rq_;", 1)


def _int_type(ctx, tensor: str) -> tuple[str, int, int]:
    """(C type, min, max) of an int8 or int16 tensor (the 16x8 scheme's ops clamp to int16)."""
    return ("int16_t", -32768, 32767) if ctx.graph.tensors[tensor].dtype == "int16" else ("int8_t", -128, 127)


@c_op("QMean")
def qmean(ctx, node) -> str:
    """Mean over the middle axes of a row-major tensor: (outer, reduced, inner) loops."""
    from edgeinfer.ir.ops.quantized import mean_params

    x = dims(ctx, node.inputs[0])
    axes = sorted(a % len(x) for a in node.attr("axes"))
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise UnsupportedModelError(f"QMean node {node.name!r}: the C backend reduces contiguous axes only")
    outer = int(np.prod(x[:axes[0]]))
    red = int(np.prod([x[a] for a in axes]))
    inner = int(np.prod(x[axes[-1] + 1:]))
    m, s = mean_params(node, red)
    ctx.use_kernel("ei_elementwise_s8")
    xi, yo = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    t, lo, hi = _int_type(ctx, node.outputs[0])
    return (f"{{ int32_t o_, r_, i_; for (o_ = 0; o_ < {outer}; ++o_) for (i_ = 0; i_ < {inner}; ++i_) {{ "
            f"int32_t acc_ = 0; for (r_ = 0; r_ < {red}; ++r_) acc_ += {xi}[(o_ * {red} + r_) * {inner} + i_]; "
            f"acc_ = ei_mbqm(acc_ - ({node.attr('in_zp') * red}), {m}, {s}) + ({node.attr('out_zp')}); "
            f"{yo}[o_ * {inner} + i_] = ({t})ei_clamp_s32(acc_, {lo}, {hi}); }} }}")
