"""Integer ops of the TFLite int8 scheme (NHWC, as TFLite lays tensors out).

Each op carries its quantization parameters as attributes (scales as float32 values,
zero points, the fused activation's clamp ``act_min``/``act_max``) and derives the
fixed-point multipliers from them exactly as TFLite Micro's ``Prepare`` does (scales
multiplied in double, :func:`quantize_multiplier`), so the reference below, the C
kernels and TFLite Micro produce the same bytes. Weights are int8, symmetric, per
output channel (``w_scale`` is a list); biases int32 with scale ``in_scale * w_scale``;
activations int8 with a zero point.

Layouts (TFLite's): conv weights (out, kh, kw, in/groups); depthwise weights
(1, kh, kw, in * depth_multiplier); fully connected weights (out, in).
Reshape, Concat (equal scales), Pad (``value`` = zero point) and Transpose run on int8
tensors unchanged and are the plain IR ops.

The 16x8 scheme (int16 activations, symmetric with zero point 0; int8 weights; int64 biases)
runs through the same ops: their int16 path follows TFLite Micro's int16 kernels (conv, depthwise
and fully connected requantize with the int64 multiplier; softmax, logistic and tanh use lookup
tables; mul, mean and requantize are the int8 arithmetic with int16 limits).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.ops.vector_math import broadcast_shapes
from edgeinfer.ir.registry import OpDef, register, require


def f32(v) -> float:
    """A scale as TFLite stores it (float32), widened to double for the multiplier arithmetic."""
    return float(np.float32(v))


def channel_multipliers(in_scale: float, w_scale: list[float], out_scale: float, n: int) -> tuple[list, list]:
    """Per-output-channel (multiplier, shift) lists: TFLite's PopulateConvolutionQuantizationParams."""
    ws = list(w_scale) if len(w_scale) > 1 else [w_scale[0]] * n
    pairs = [qm.quantize_multiplier(f32(in_scale) * f32(s) / f32(out_scale)) for s in ws]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _clamp(node, acc: np.ndarray, dtype: np.dtype | str = "int8") -> np.ndarray:
    info = np.iinfo(np.dtype(dtype))
    return np.clip(acc, node.attr("act_min", info.min), node.attr("act_max", info.max)).astype(dtype)


def _requant(node, acc: np.ndarray, n_out: int, dtype: np.dtype | str = "int8") -> np.ndarray:
    """int8: MultiplyByQuantizedMultiplier on the int32 accumulator; int16 activations (16x8): TFLite's
    int64 overload (multiplier reduced to 16 bits, one rounding shift)."""
    mult, shift = channel_multipliers(node.attr("in_scale"), node.attr("w_scale"), node.attr("out_scale"), n_out)
    if np.dtype(dtype) == np.int16:
        y = qm.mbqm64(acc, np.asarray(mult), np.asarray(shift))
    else:
        y = qm.mbqm(acc, np.asarray(mult), np.asarray(shift), node.attr("single_rounding", False))
    return _clamp(node, y + node.attr("out_zp"), dtype)


def _int8_input(node, t) -> None:
    """int8 activations, or int16 ones of the 16x8 scheme (symmetric, zero point 0)."""
    require(t.dtype in ("int8", "int16"), node, f"input must be int8 or int16, got {t.dtype}")


def _same_out(in_size: int, k: int, s: int, d: int, pb: int, pe: int) -> int:
    return (in_size + pb + pe - ((k - 1) * d + 1)) // s + 1


class _QConvBase(OpDef):
    depthwise = False

    @classmethod
    def infer(cls, node, inputs):
        x, w = inputs[0], inputs[1]
        _int8_input(node, x)
        require(len(x.shape) == 4 and len(w.shape) == 4, node, f"needs NHWC input and 4-D weights, got {x.shape}")
        sh, sw = node.attr("strides", [1, 1])
        dh, dw = node.attr("dilations", [1, 1])
        pt, pl, pb, pr = node.attr("pads", [0, 0, 0, 0])
        oh = _same_out(x.shape[1], w.shape[1], sh, dh, pt, pb)
        ow = _same_out(x.shape[2], w.shape[2], sw, dw, pl, pr)
        require(oh > 0 and ow > 0, node, "output would be empty")
        cout = w.shape[3] if cls.depthwise else w.shape[0]
        if not cls.depthwise:
            require(x.shape[3] % w.shape[3] == 0, node, f"{x.shape[3]} input channels, weights take {w.shape[3]}")
        return [((x.shape[0], oh, ow, cout), x.dtype)]

    @classmethod
    def reference(cls, node, x, w, b=None):
        sh, sw = node.attr("strides", [1, 1])
        dh, dw = node.attr("dilations", [1, 1])
        pt, pl, pb, pr = node.attr("pads", [0, 0, 0, 0])
        kh, kw = w.shape[1], w.shape[2]
        oh = _same_out(x.shape[1], kh, sh, dh, pt, pb)
        ow = _same_out(x.shape[2], kw, sw, dw, pl, pr)
        # taps outside the input are skipped by TFLite: the same as an offset input padded with 0
        xo = np.pad(x.astype(np.int64) - node.attr("in_zp"), [(0, 0), (pt, pb), (pl, pr), (0, 0)])
        w64 = w.astype(np.int64)
        n, cin = x.shape[0], x.shape[3]
        cout = w.shape[3] if cls.depthwise else w.shape[0]
        acc = np.zeros((n, oh, ow, cout), dtype=np.int64)
        for i in range(kh):
            for j in range(kw):
                xs = xo[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw, :]
                if cls.depthwise:
                    acc += np.repeat(xs, cout // cin, axis=3) * w64[0, i, j]
                else:
                    cg = w.shape[3]
                    g = cin // cg
                    mg = cout // g
                    for gi in range(g):
                        acc[..., gi * mg:(gi + 1) * mg] += np.einsum(
                            "nhwc,mc->nhwm", xs[..., gi * cg:(gi + 1) * cg], w64[gi * mg:(gi + 1) * mg, i, j])
        if b is not None:
            acc += b.astype(np.int64)
        return (_requant(node, acc, cout, x.dtype),)

    @classmethod
    def cost(cls, node, inputs, outputs):
        w = inputs[1]
        per = w.shape[1] * w.shape[2] * (1 if cls.depthwise else w.shape[3])
        return {"macs": outputs[0].numel(1) * int(per), "comparisons": 0}


@register
class QConv2D(_QConvBase):
    """attrs: strides, dilations, pads (top, left, bottom, right), in_zp, in_scale, w_scale, out_zp,
    out_scale, act_min, act_max. Grouped when the weights take fewer channels than the input has."""

    name = "QConv2D"


@register
class QDepthwiseConv2D(_QConvBase):
    """As QConv2D; weights (1, kh, kw, in * depth_multiplier), output channel c reads input c // multiplier."""

    name = "QDepthwiseConv2D"
    depthwise = True


@register
class QFullyConnected(OpDef):
    """y = requant(x . w^T + b) over the last axis; input rows of ``in`` values (TFLite FULLY_CONNECTED)."""

    name = "QFullyConnected"

    @staticmethod
    def infer(node, inputs):
        x, w = inputs[0], inputs[1]
        _int8_input(node, x)
        n_in = int(w.shape[1])
        per = int(np.prod(x.shape[1:]))
        require(per % n_in == 0, node, f"input of {per} values per sample is not rows of {n_in}")
        if node.attr("keep_num_dims", False):
            return [((*x.shape[:-1], w.shape[0]), x.dtype)]
        rows = per // n_in
        return [((x.shape[0] if rows == 1 else (None if x.shape[0] is None else x.shape[0] * rows), w.shape[0]),
                 x.dtype)]

    @staticmethod
    def reference(node, x, w, b=None):
        n_in = w.shape[1]
        xs = x.reshape(-1, n_in).astype(np.int64) - node.attr("in_zp")
        acc = xs @ w.astype(np.int64).T
        if b is not None:
            acc += b.astype(np.int64)
        y = _requant(node, acc, w.shape[0], x.dtype)
        shape = (*x.shape[:-1], w.shape[0]) if node.attr("keep_num_dims", False) else (-1, w.shape[0])
        return (y.reshape(shape),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1) * int(inputs[1].shape[1]), "comparisons": 0}


def pool_geometry(node, h: int, w: int) -> tuple[int, int, int, int, int, int, int, int]:
    """(kh, kw, sh, sw, pad_top, pad_left, out_h, out_w) of a TFLite pool."""
    kh, kw = node.attr("kernel_shape")
    sh, sw = node.attr("strides", [1, 1])
    pt, pl, pb, pr = node.attr("pads", [0, 0, 0, 0])
    return kh, kw, sh, sw, pt, pl, _same_out(h, kh, sh, 1, pt, pb), _same_out(w, kw, sw, 1, pl, pr)


class _QPool(OpDef):
    @staticmethod
    def infer(node, inputs):
        x = inputs[0]
        _int8_input(node, x)
        require(len(x.shape) == 4, node, f"needs an NHWC input, got {x.shape}")
        *_, oh, ow = pool_geometry(node, x.shape[1], x.shape[2])
        require(oh > 0 and ow > 0, node, "output would be empty")
        return [((x.shape[0], oh, ow, x.shape[3]), x.dtype)]

    @classmethod
    def reference(cls, node, x):
        kh, kw, sh, sw, pt, pl, oh, ow = pool_geometry(node, x.shape[1], x.shape[2])
        y = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=np.int64)
        x64 = x.astype(np.int64)
        for r in range(oh):
            r0, r1 = max(r * sh - pt, 0), min(r * sh - pt + kh, x.shape[1])
            for c in range(ow):
                c0, c1 = max(c * sw - pl, 0), min(c * sw - pl + kw, x.shape[2])
                win = x64[:, r0:r1, c0:c1, :]
                if cls.name == "QMaxPool2D":
                    y[:, r, c] = win.max(axis=(1, 2))
                else:
                    s, cnt = win.sum(axis=(1, 2)), (r1 - r0) * (c1 - c0)
                    # C division truncates: round half away from zero as TFLite does
                    y[:, r, c] = np.where(s > 0, (s + cnt // 2) // cnt, -((-(s - cnt // 2)) // cnt))
        return (_clamp(node, y, x.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        kh, kw = node.attr("kernel_shape")
        return {"macs": 0, "comparisons": outputs[0].numel(1) * kh * kw}


@register
class QAveragePool2D(_QPool):
    """attrs: kernel_shape, strides, pads, act_min, act_max; input and output share scale and zero point."""

    name = "QAveragePool2D"


@register
class QMaxPool2D(_QPool):
    """As QAveragePool2D, the window's largest value."""

    name = "QMaxPool2D"


def add_params(node, int16: bool = False) -> dict:
    """TFLite ADD's Prepare: both inputs rescaled to 2*max(scale) with 20 bits of headroom (int8) or 15
    (int16, TFLM add.cc: ``left_shift = output->type == kTfLiteInt16 ? 15 : 20``)."""
    s1, s2, so = f32(node.attr("a_scale")), f32(node.attr("b_scale")), f32(node.attr("out_scale"))
    ls = 15 if int16 else 20
    twice_max = 2 * max(s1, s2)
    m1, sh1 = qm.quantize_multiplier(s1 / twice_max)
    m2, sh2 = qm.quantize_multiplier(s2 / twice_max)
    mo, sho = qm.quantize_multiplier(twice_max / ((1 << ls) * so))
    return {"left_shift": ls, "m1": m1, "s1": sh1, "m2": m2, "s2": sh2, "mo": mo, "so": sho}


def mul_params(node) -> tuple[int, int]:
    return qm.quantize_multiplier(f32(node.attr("a_scale")) * f32(node.attr("b_scale")) / f32(node.attr("out_scale")))


class _QBinary(OpDef):
    @staticmethod
    def infer(node, inputs):
        a, b = inputs[0], inputs[1]
        _int8_input(node, a)
        _int8_input(node, b)
        require(a.dtype == b.dtype, node, f"inputs are {a.dtype} and {b.dtype}")
        return [(broadcast_shapes(a.shape, b.shape), a.dtype)]

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1), "comparisons": 0}


@register
class QAdd(_QBinary):
    """attrs: a_scale, a_zp, b_scale, b_zp, out_scale, out_zp, act_min, act_max (numpy broadcasting)."""

    name = "QAdd"

    @staticmethod
    def reference(node, a, b):
        p = add_params(node, a.dtype == np.int16)
        sr = node.attr("single_rounding", False)
        xa = (a.astype(np.int64) - node.attr("a_zp")) << p["left_shift"]
        xb = (b.astype(np.int64) - node.attr("b_zp")) << p["left_shift"]
        sa = qm.mbqm(xa, p["m1"], p["s1"], sr)
        sb = qm.mbqm(xb, p["m2"], p["s2"], sr)
        y = qm.mbqm(sa + sb, p["mo"], p["so"], sr) + node.attr("out_zp")
        return (_clamp(node, y, a.dtype),)


@register
class QMul(_QBinary):
    """attrs as QAdd: y = requant((a - a_zp) * (b - b_zp)) with scale a_scale * b_scale / out_scale."""

    name = "QMul"

    @staticmethod
    def reference(node, a, b):
        m, s = mul_params(node)
        prod = (a.astype(np.int64) - node.attr("a_zp")) * (b.astype(np.int64) - node.attr("b_zp"))
        y = qm.mbqm(prod, m, s, node.attr("single_rounding", False)) + node.attr("out_zp")
        return (_clamp(node, y, a.dtype),)


class _QUnary(OpDef):
    """int8 in, int8 out; or int16 in, int16 out (16x8), where the input zero point must be 0 as TFLite
    Micro's int16 kernels require."""

    @staticmethod
    def infer(node, inputs):
        _int8_input(node, inputs[0])
        if inputs[0].dtype == "int16":
            require(node.attr("in_zp", 0) == 0, node, f"int16 input needs zero point 0, got {node.attr('in_zp')}")
        return [(inputs[0].shape, inputs[0].dtype)]


@register
class QSoftmax(_QUnary):
    """Softmax over the last axis; attrs: beta, in_scale. int8: output scale 1/256, zero point -128
    (gemmlowp fixed point); int16: output scale 1/32768, zero point 0 (exp and 1 / (1 + x) tables)."""

    name = "QSoftmax"

    @staticmethod
    def reference(node, x):
        if x.dtype == np.int16:
            return (qm.softmax_s16(x, node.attr("beta", 1.0), node.attr("in_scale")),)
        return (qm.softmax_s8(x, node.attr("beta", 1.0), node.attr("in_scale"),
                              single_rounding=node.attr("single_rounding", False)),)


@register
class QLogistic(_QUnary):
    """attrs: in_scale, in_zp. int8: output scale 1/256, zero point -128; int16: output scale 1/32768,
    zero point 0 (interpolated sigmoid table)."""

    name = "QLogistic"

    @staticmethod
    def reference(node, x):
        if x.dtype == np.int16:
            return (qm.logistic_s16(x, node.attr("in_scale")),)
        return (qm.logistic_s8(x, node.attr("in_scale"), node.attr("in_zp")),)


@register
class QTanh(_QUnary):
    """attrs: in_scale, in_zp. int8: output scale 1/128, zero point 0; int16: output scale 1/32768, zero
    point 0 (interpolated sigmoid table)."""

    name = "QTanh"

    @staticmethod
    def reference(node, x):
        if x.dtype == np.int16:
            return (qm.tanh_s16(x, node.attr("in_scale")),)
        return (qm.tanh_s8(x, node.attr("in_scale"), node.attr("in_zp")),)


@register
class QQuantize(OpDef):
    """float -> int: q = clamp(round(x / scale) + zero_point), halves away from zero (TFLite QUANTIZE).

    attrs: scale, zp, to ("int8" or "int16"). ONNX's QuantizeLinear rounds halves to even, so
    this is a distinct op."""

    name = "QQuantize"

    @staticmethod
    def infer(node, inputs):
        return [(inputs[0].shape, node.attr("to", "int8"))]

    @staticmethod
    def reference(node, x):
        dt = np.dtype(node.attr("to", "int8"))
        v = x.astype(np.float32) / np.float32(node.attr("scale"))
        t = np.trunc(v)
        r = t + np.where(np.abs(v - t) >= np.float32(0.5), np.sign(v), 0)  # std::round, no float32 0.5-add error
        info = np.iinfo(dt)
        return (np.clip(r.astype(np.int64) + node.attr("zp"), info.min, info.max).astype(dt),)


@register
class QDequantize(OpDef):
    """int -> float32: scale * (q - zero_point) (TFLite DEQUANTIZE). attrs: scale, zp."""

    name = "QDequantize"

    @staticmethod
    def infer(node, inputs):
        return [(inputs[0].shape, "float32")]

    @staticmethod
    def reference(node, x):
        return ((f32(node.attr("scale")) * (x.astype(np.int64) - node.attr("zp")).astype(np.float64))
                .astype(np.float32),)


def requantize_params(node) -> tuple[int, int]:
    """TFLite QUANTIZE int8 -> int8's Prepare: one multiplier for in_scale / out_scale."""
    return qm.quantize_multiplier(f32(node.attr("in_scale")) / f32(node.attr("out_scale")))


@register
class QRequantize(OpDef):
    """int8 or int16 -> int8 or int16 at another scale / zero point (TFLite QUANTIZE on an integer input:
    Requantize, one multiplier, clamped to the output type).

    attrs: in_scale, in_zp, out_scale, out_zp, to ("int8", the default, or "int16"). Also what an
    imported ONNX QDQ pair (DequantizeLinear then QuantizeLinear at other parameters) becomes."""

    name = "QRequantize"

    @staticmethod
    def infer(node, inputs):
        _int8_input(node, inputs[0])
        to = node.attr("to", "int8")
        require(to in ("int8", "int16"), node, f"requantizes to int8 or int16, not {to}")
        return [(inputs[0].shape, to)]

    @staticmethod
    def reference(node, x):
        m, s = requantize_params(node)
        y = qm.mbqm(x.astype(np.int64) - node.attr("in_zp"), m, s) + node.attr("out_zp")
        dt = np.dtype(node.attr("to", "int8"))
        return (np.clip(y, np.iinfo(dt).min, np.iinfo(dt).max).astype(dt),)


def mean_params(node, count: int) -> tuple[int, int]:
    """TFLite int8 MEAN: the in_scale / out_scale multiplier with 1/count folded in (QuantizedMeanOrSum)."""
    m, s = qm.quantize_multiplier(f32(node.attr("in_scale")) / f32(node.attr("out_scale")))
    if count <= 1:
        return m, s
    k = min(count.bit_length() - 1, 32, 31 + s)
    return int((m << k) // count), s - k


@register
class QMean(OpDef):
    """Mean over ``axes`` of an int8 or int16 tensor (TFLite MEAN; GlobalAveragePooling2D is axes [1, 2]).

    attrs: axes, keepdims, in_scale, in_zp, out_scale, out_zp. The int32 sum minus ``in_zp * count``
    is requantized by one multiplier holding ``1 / count`` as TFLite Micro computes it (int16 inputs:
    the same arithmetic, int16 limits)."""

    name = "QMean"

    @staticmethod
    def infer(node, inputs):
        x = inputs[0]
        _int8_input(node, x)
        axes = sorted(a % len(x.shape) for a in node.attr("axes"))
        keep = node.attr("keepdims", False)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
        return [(shape, x.dtype)]

    @staticmethod
    def reference(node, x):
        axes = tuple(sorted(a % x.ndim for a in node.attr("axes")))
        count = int(np.prod([x.shape[a] for a in axes]))
        m, s = mean_params(node, count)
        acc = x.astype(np.int64).sum(axis=axes, keepdims=node.attr("keepdims", False)) - node.attr("in_zp") * count
        y = qm.mbqm(qm.wrap32(acc), m, s) + node.attr("out_zp")   # TFLM sums in int32
        info = np.iinfo(x.dtype)
        return (np.clip(y, info.min, info.max).astype(x.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": inputs[0].numel(1), "comparisons": 0}
