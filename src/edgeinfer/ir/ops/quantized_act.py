"""More ops of the TFLite int8 scheme: standalone activations, SUB, PRELU, 8-bit type changes.

The ops a trained Keras model brings into an int8 ``.tflite`` beside conv / dense / pool
(``ir/ops/quantized.py``). Each reference is a transliteration of TFLite Micro's reference
kernel, Prepare included. Every real multiplier is formed in double from the float32 scales
(``double(in_scale) / double(out_scale)``), as the TFLite Micro build the tests run does: on
parameter sets where a float32 division rounds the multiplier differently (some TFLite
Micro sources write LEAKY_RELU's, HARD_SWISH's and SUB's that way), its bytes follow the
double form.

* ``QRelu`` — RELU (and RELU_N1_TO_1): requantize, then clamp (``ReluQuantized``).
* ``QLeakyRelu`` — LEAKY_RELU: one multiplier for x >= 0, one with alpha folded in.
* ``QHardSwish`` — HARD_SWISH: TFLite's 16-bit fixed-point formula.
* ``QPRelu`` — PRELU with an int8 alpha tensor broadcast against the input.
* ``QSub`` — SUB: ADD's 20-bit-headroom scheme with the second input subtracted.
* ``QRequantizeU8`` — QUANTIZE between uint8 and int8 (the QUANTIZE ops TensorFlow adds at
  the edges of a model converted with ``inference_input_type=tf.uint8``); int8 <-> int16 is
  ``QRequantize``.
* ``Max`` / ``Min`` (ONNX semantics) — MAXIMUM / MINIMUM, which TFLite Micro computes on the
  raw integers (both inputs share one scale), and ``Cast`` (ONNX), which widens ARG_MAX's
  int32 indices to the int64 a model may ask for.

RELU6 is the plain ``Clip`` on the raw int8 values and REDUCE_MAX the plain ``ReduceMax``:
TFLite Micro computes both without touching the quantization parameters.

>>> # g.add_node("QLeakyRelu", ["x"], ["y"], alpha=0.1, in_scale=0.02, in_zp=-3, out_scale=0.01, out_zp=-100)
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.ops.quantized import add_params, f32
from edgeinfer.ir.ops.vector_math import broadcast_shapes, register_unless_defined
from edgeinfer.ir.registry import OpDef, register, require

_RANGE = {"int8": (-128, 127), "uint8": (0, 255)}


def _fdiv(a: float, b: float) -> float:
    """``a / b`` of two float32 scales in float32 (as TFLite Micro's Prepare writes it), widened."""
    return float(np.float32(a) / np.float32(b))


def _int8_in(node, t) -> None:
    require(t.dtype == "int8", node, f"input must be int8, got {t.dtype}")


class _QElementwise(OpDef):
    """One int8 input, an int8 output of the same shape."""

    @staticmethod
    def infer(node, inputs):
        _int8_in(node, inputs[0])
        return [(inputs[0].shape, "int8")]

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1), "comparisons": 0}


def relu_params(node) -> tuple[int, int]:
    """TFLite Micro CalculateReluOpData: one multiplier for in_scale / out_scale, in double."""
    return qm.quantize_multiplier(f32(node.attr("in_scale")) / f32(node.attr("out_scale")))


@register
class QRelu(_QElementwise):
    """y = clamp(out_zp + requant(x - in_zp), act_min, act_max) (TFLite Micro ReluQuantized).

    attrs: in_scale, in_zp, out_scale, out_zp, act_min, act_max. RELU has act_min = max(-128,
    out_zp), act_max = 127; RELU_N1_TO_1 clamps to the codes of -1 and 1 (LiteRT's ReluX)."""

    name = "QRelu"

    @staticmethod
    def reference(node, x):
        m, s = relu_params(node)
        y = qm.mbqm(x.astype(np.int64) - node.attr("in_zp"), m, s) + node.attr("out_zp")
        return (np.clip(y, node.attr("act_min", -128), node.attr("act_max", 127)).astype(np.int8),)


def leaky_relu_params(node) -> tuple[int, int, int, int]:
    """(identity multiplier, shift, alpha multiplier, shift) of CalculateOpDataLeakyRelu: ``in_scale / out_scale``
    and ``in_scale * alpha / out_scale`` (alpha a float32 option), in double."""
    s_in, s_out, alpha = f32(node.attr("in_scale")), f32(node.attr("out_scale")), f32(node.attr("alpha"))
    m_id, s_id = qm.quantize_multiplier(s_in / s_out)
    m_a, s_a = qm.quantize_multiplier(s_in * alpha / s_out)
    return m_id, s_id, m_a, s_a


@register
class QLeakyRelu(_QElementwise):
    """y = out_zp + requant(x - in_zp) with alpha folded into the multiplier below zero (TFLite
    QuantizeLeakyRelu). attrs: alpha, in_scale, in_zp, out_scale, out_zp."""

    name = "QLeakyRelu"

    @staticmethod
    def reference(node, x):
        m_id, s_id, m_a, s_a = leaky_relu_params(node)
        d = x.astype(np.int64) - node.attr("in_zp")
        y = np.where(d >= 0, qm.mbqm(d, m_id, s_id), qm.mbqm(d, m_a, s_a)) + node.attr("out_zp")
        return (np.clip(y, -128, 127).astype(np.int8),)


# ---------------------------------------------------------------- HARD_SWISH (16-bit fixed point)
def wrap16(x) -> np.ndarray:
    """Two's-complement wrap to int16 (a C int stored into an int16_t)."""
    return ((np.asarray(x, np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def srdhm16(a, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul for int16."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    s = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = np.where(s >= 0, s >> 15, -((-s) >> 15))  # C division truncates
    return np.where((a == -32768) & (b == -32768), 32767, wrap16(q))


def sdhm16(a, b) -> np.ndarray:
    """TFLite's SaturatingDoublingHighMul for int16: as above but truncating (no rounding nudge)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    q = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, wrap16(q))


def rdbpot16(x, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT on int16 values: mask and threshold are int16 too (they wrap for
    exponents of 16 and more, as the C++ template does)."""
    x = np.asarray(x, np.int64)
    mask = int(wrap16((1 << exponent) - 1))
    remainder = wrap16(x & mask)
    threshold = wrap16((mask >> 1) + (x < 0))
    return wrap16((x >> exponent) + (remainder > threshold))


def sat_left_shift16(x, amount: int) -> np.ndarray:
    """TFLite's SaturatingLeftShift for int16."""
    return np.clip(np.asarray(x, np.int64) * (1 << amount), -32768, 32767)


def _int16_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier."""
    q, e = qm.quantize_multiplier(m)
    return (32767 if q >= (1 << 31) - 1 - (1 << 15) else (q + (1 << 15)) >> 16), e


def hard_swish_params(node) -> dict[str, int]:
    """HardSwishPrepare: the input scale / 128 (exact) over the output scale and over 3 / 32768 (the
    scale on which 3.0 is 32768), in double, then rounded to int16 multipliers."""
    hires = f32(node.attr("in_scale")) / 128.0
    om, oe = _int16_multiplier(hires / f32(node.attr("out_scale")))
    rm, re = _int16_multiplier(hires / (3.0 / 32768.0))
    return {"out_mult": om, "out_exp": oe, "relu_mult": rm, "relu_exp": re}


@register
class QHardSwish(_QElementwise):
    """x * relu6(x + 3) / 6 in TFLite's int16 fixed point (reference_ops::HardSwish, int8).

    attrs: in_scale, in_zp, out_scale, out_zp. TFLite requires the output multiplier's exponent
    to be <= 0 (output scale at least in_scale / 128); the frontend refuses the others."""

    name = "QHardSwish"

    @staticmethod
    def reference(node, x):
        p = hard_swish_params(node)
        v = wrap16(x.astype(np.int64) - node.attr("in_zp"))
        hires = wrap16(v * 128)
        pre_out = srdhm16(hires, p["out_mult"])
        r = hires
        if p["relu_exp"] > 0:
            r = sat_left_shift16(r, p["relu_exp"] - 1)
        r = srdhm16(r, p["relu_mult"])
        if p["relu_exp"] > 0:
            r = sat_left_shift16(r, 1)
        if p["relu_exp"] < 0:
            r = rdbpot16(r, -p["relu_exp"])
        r = (r + (1 << 15)) >> 1
        out = rdbpot16(sdhm16(r, pre_out), -p["out_exp"])
        out = wrap16(out + node.attr("out_zp"))
        return (np.clip(out, -128, 127).astype(np.int8),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": 3 * outputs[0].numel(1), "comparisons": 0}


# ---------------------------------------------------------------- binary
def prelu_params(node) -> tuple[int, int, int, int]:
    """TFLite Micro CalculatePreluParams (double): in/out for x >= 0, in * alpha / out below."""
    s_in, s_a, s_out = f32(node.attr("in_scale")), f32(node.attr("alpha_scale")), f32(node.attr("out_scale"))
    m1, sh1 = qm.quantize_multiplier(s_in / s_out)
    m2, sh2 = qm.quantize_multiplier(s_in * s_a / s_out)
    return m1, sh1, m2, sh2


class _QTwo(OpDef):
    @staticmethod
    def infer(node, inputs):
        a, b = inputs[0], inputs[1]
        _int8_in(node, a)
        _int8_in(node, b)
        return [(broadcast_shapes(a.shape, b.shape), "int8")]

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1), "comparisons": 0}


@register
class QPRelu(_QTwo):
    """PRELU: x where x >= in_zp, else requant((x - in_zp) * (alpha - alpha_zp)); alpha broadcasts.

    attrs: in_scale, in_zp, alpha_scale, alpha_zp, out_scale, out_zp (alpha per tensor)."""

    name = "QPRelu"

    @staticmethod
    def reference(node, x, alpha):
        m1, s1, m2, s2 = prelu_params(node)
        d = x.astype(np.int64) - node.attr("in_zp")
        a = alpha.astype(np.int64) - node.attr("alpha_zp")
        d, a = np.broadcast_arrays(d, a)
        y = np.where(d >= 0, qm.mbqm(d, m1, s1), qm.mbqm(d * a, m2, s2)) + node.attr("out_zp")
        return (np.clip(y, -128, 127).astype(np.int8),)


def sub_params(node) -> dict[str, int]:
    """CalculateOpDataSub: ADD's parameters (both inputs rescaled to twice the larger scale with 20 bits
    of headroom, multipliers in double); only the combination differs."""
    return add_params(node)


@register
class QSub(_QTwo):
    """a - b (TFLite SUB, int8). attrs: a_scale, a_zp, b_scale, b_zp, out_scale, out_zp, act_min, act_max."""

    name = "QSub"

    @staticmethod
    def reference(node, a, b):
        p = sub_params(node)
        xa = (a.astype(np.int64) - node.attr("a_zp")) << p["left_shift"]
        xb = (b.astype(np.int64) - node.attr("b_zp")) << p["left_shift"]
        d = qm.mbqm(xa, p["m1"], p["s1"]) - qm.mbqm(xb, p["m2"], p["s2"])
        y = qm.mbqm(d, p["mo"], p["so"]) + node.attr("out_zp")
        return (np.clip(y, node.attr("act_min", -128), node.attr("act_max", 127)).astype(np.int8),)


# ---------------------------------------------------------------- 8-bit type changes
def requantize_u8_params(node) -> tuple[int, int]:
    """TFLite Micro PrepareQuantizeReference: in_scale / out_scale in double."""
    return qm.quantize_multiplier(f32(node.attr("in_scale")) / f32(node.attr("out_scale")))


@register
class QRequantizeU8(OpDef):
    """uint8 -> int8 or int8 -> uint8 at new parameters (TFLite QUANTIZE between them: Requantize).

    attrs: in_scale, in_zp, out_scale, out_zp, to ("int8" or "uint8", the other type than the
    input's). With equal scales and zero points 128 apart this is TFLite's ``x ^ 0x80`` fast path,
    which the formula reproduces."""

    name = "QRequantizeU8"

    @staticmethod
    def infer(node, inputs):
        to = node.attr("to", "int8")
        require(inputs[0].dtype in _RANGE, node, f"input must be int8 or uint8, got {inputs[0].dtype}")
        require(to in _RANGE and to != inputs[0].dtype, node,
                f"converts uint8 to int8 or int8 to uint8, not {inputs[0].dtype} to {to}")
        return [(inputs[0].shape, to)]

    @staticmethod
    def reference(node, x):
        m, s = requantize_u8_params(node)
        lo, hi = _RANGE[node.attr("to", "int8")]
        y = qm.mbqm(x.astype(np.int64) - node.attr("in_zp"), m, s) + node.attr("out_zp")
        return (np.clip(y, lo, hi).astype(node.attr("to", "int8")),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1), "comparisons": 0}


# ---------------------------------------------------------------- ONNX-named helpers
class _MaxMin(OpDef):
    fn = staticmethod(np.maximum)

    @staticmethod
    def infer(node, inputs):
        require(len({t.dtype for t in inputs}) == 1, node, f"inputs differ in dtype: {[t.dtype for t in inputs]}")
        return [(broadcast_shapes(*[t.shape for t in inputs]), inputs[0].dtype)]

    @classmethod
    def reference(cls, node, *xs):
        y = xs[0]
        for x in xs[1:]:
            y = cls.fn(y, x)
        return (np.asarray(y).astype(xs[0].dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": 0, "comparisons": outputs[0].numel(1) * (len(inputs) - 1)}


@register_unless_defined
class Max(_MaxMin):
    """Elementwise largest of the inputs, numpy broadcasting (ONNX Max; TFLite MAXIMUM)."""

    name = "Max"
    fn = staticmethod(np.maximum)


@register_unless_defined
class Min(_MaxMin):
    """Elementwise smallest of the inputs, numpy broadcasting (ONNX Min; TFLite MINIMUM)."""

    name = "Min"
    fn = staticmethod(np.minimum)


@register_unless_defined
class Cast(OpDef):
    """Numeric conversion to ``to`` (a dtype name), as C converts (ONNX Cast between integer types)."""

    name = "Cast"

    @staticmethod
    def infer(node, inputs):
        return [(inputs[0].shape, str(node.attr("to")))]

    @staticmethod
    def reference(node, x):
        return (x.astype(str(node.attr("to"))),)
