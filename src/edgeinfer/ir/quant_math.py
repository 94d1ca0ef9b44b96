"""TFLite's integer arithmetic in numpy, bit for bit: requantization and gemmlowp fixed point.

Quantized ops must reproduce TFLite Micro's reference kernels byte for byte, so every
rounding step here is a transliteration of ``tensorflow/lite/kernels/internal/common.h``
and gemmlowp's ``fixedpoint.h``: int32 values are held in int64 arrays and every step
rounds (or saturates) exactly where the C++ does. TFLite Micro is built without
``TFLITE_SINGLE_ROUNDING``, so :func:`mbqm` is the double-rounding form
(SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT); the single-rounding form
is kept beside it (``single_rounding=True``) for LiteRT builds that define the macro.

>>> int(mbqm(np.array([1000]), *quantize_multiplier(0.5))[0])
500
"""

from __future__ import annotations

import math

import numpy as np

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def tfl_round(x: float) -> int:
    """``std::round``: halves away from zero (TfLiteRound)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """(multiplier, shift) with ``m ~= multiplier * 2**(shift - 31)``, as TFLite's QuantizeMultiplier."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = tfl_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def srdhm(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul of int32 values."""
    a, b = _i64(a), _i64(b)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    q = np.where(s >= 0, s >> 31, -((-s) >> 31))  # C division truncates toward zero
    return np.where((a == I32_MIN) & (b == I32_MIN), I32_MAX, q)


def rdbpot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: x / 2**exponent rounded half away from zero."""
    x, e = _i64(x), _i64(exponent)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def mbqm(x, multiplier, shift, single_rounding: bool = False) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int32 x, multiplier, shift) (shift > 0: left)."""
    x, m, s = _i64(x), _i64(multiplier), _i64(shift)
    if single_rounding:
        total = 31 - s
        return (x * m + (np.int64(1) << (total - 1))) >> total
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    return rdbpot(srdhm(wrap32(x << left), m), right)


def mbqm64(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int64 x, multiplier, shift) of TFLite's common.h, used by the 16x8
    conv / depthwise / fully connected kernels: the multiplier rounded to 16 bits
    (``(m + (1 << 15)) >> 16``, 0x7FFF at the top), then one rounding right shift by ``15 - shift``."""
    x, m, s = _i64(x), _i64(multiplier), _i64(shift)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - s
    return (x * reduced + (np.int64(1) << (total - 1))) >> total


def wrap32(x) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 range (C int32 overflow on the targets)."""
    x = _i64(x)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def sat_shift_left(x, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent."""
    x = _i64(x)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, I32_MAX, np.where(x < -threshold, I32_MIN, x << exponent))


def rescale(x, src_bits: int, dst_bits: int) -> np.ndarray:
    """gemmlowp Rescale<dst_bits> of a FixedPoint with ``src_bits`` integer bits."""
    e = src_bits - dst_bits
    if e > 0:
        return sat_shift_left(x, e)
    if e < 0:
        return rdbpot(x, -e)
    return _i64(x)


def _exp_quarter(a) -> np.ndarray:
    """exp on [-1/4, 0) in Q0.31 (gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl)."""
    constant_term, one_third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(srdhm(x4_over_4 + x3, one_third) + x2, 1)
    return constant_term + srdhm(constant_term, x + poly)


_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
           (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, int_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: Q(int_bits) input <= 0 -> Q0.31 result."""
    a = _i64(a)
    frac = 31 - int_bits
    quarter = 1 << (frac - 2)
    a_mod = (a & (quarter - 1)) - quarter
    result = _exp_quarter(rescale(a_mod, int_bits, 0))
    remainder = a_mod - a
    for exponent, mult in _BARREL:
        if int_bits > exponent:
            bit = np.int64(1) << (frac + exponent)
            result = np.where((remainder & bit) != 0, srdhm(result, mult), result)
    if int_bits > 5:
        result = np.where(a < -(1 << (36 - int_bits)), 0, result)
    return np.where(a == 0, I32_MAX, result)


def _newton_reciprocal(a) -> np.ndarray:
    """x ~= 1 / half_denominator in Q2.29 where half_denominator = (1 + a) / 2 (gemmlowp)."""
    s = _i64(a) + I32_MAX
    half = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))  # RoundingHalfSum, truncating division
    x = 1515870810 + srdhm(half, -1010580540)
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half, x)
        x = x + rescale(srdhm(x, one_minus), 4, 2)
    return x


def one_over_one_plus_x(a) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out."""
    # ExactMulByPot<-1> only relabels the raw value (Q2 -> Q1); Rescale<0> then doubles it
    return sat_shift_left(_newton_reciprocal(a), 1)


def one_minus_x_over_one_plus_x(a) -> np.ndarray:
    """gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1, Q0.31 in and out."""
    return rescale(_newton_reciprocal(a) - (1 << 29), 2, 0)


def logistic_q(a, int_bits: int) -> np.ndarray:
    """gemmlowp logistic: Q(int_bits) -> Q0.31."""
    a = _i64(a)
    pos = one_over_one_plus_x(exp_on_negative_values(-np.abs(a), int_bits))
    res = np.where(a > 0, pos, I32_MAX - pos)
    return np.where(a == 0, 1 << 30, res)


def tanh_q(a, int_bits: int) -> np.ndarray:
    """gemmlowp tanh: Q(int_bits) -> Q0.31."""
    a = _i64(a)
    n = -np.abs(a)
    # ExactMulByPot<1> relabels the raw value as one more integer bit (x2 in value)
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(n, int_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, -t, t))


def get_reciprocal(x, int_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite GetReciprocal: (Q0.31 reciprocal scale, num_bits_over_unit) of positive int32 ``x``."""
    x = _i64(x)
    headroom = np.array([32 - int(v).bit_length() for v in x.reshape(-1)], dtype=np.int64).reshape(x.shape)
    shifted = ((x << headroom) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x(shifted), int_bits - headroom


def input_radius(int_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """TFLite CalculateInputRadius."""
    v = 1.0 * ((1 << int_bits) - 1) * (1 << (total_bits - int_bits)) / (1 << left_shift)
    return int(math.floor(v))


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) of TFLite's int8 softmax (5 integer bits)."""
    real = min(float(beta) * float(np.float32(input_scale)) * (1 << 26), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)
    return mult, shift, -input_radius(5, shift)


def softmax_s8(x: np.ndarray, beta: float, input_scale: float, out_bits: int = 8,
               single_rounding: bool = False) -> np.ndarray:
    """TFLite reference int8 softmax over the last axis (output scale 1/256, zero point -128)."""
    mult, shift, diff_min = softmax_params(beta, input_scale)
    xi = _i64(x)
    diff = xi - xi.max(axis=-1, keepdims=True)
    ok = diff >= diff_min
    if single_rounding:
        scaled = mbqm(diff, mult, shift, True)
    else:
        scaled = srdhm(diff << shift, mult)
    e = exp_on_negative_values(scaled, 5)
    total = np.where(ok, rescale(e, 0, 12), 0).sum(axis=-1, keepdims=True)
    scale, nbits = get_reciprocal(total, 12)
    out = rdbpot(srdhm(scale, e), nbits + 31 - out_bits) - (1 << (out_bits - 1))
    out = np.clip(out, -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1)
    return np.where(ok, out, -(1 << (out_bits - 1))).astype(np.int8 if out_bits == 8 else np.int16)


def sigmoid_tanh_params(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) of TFLM's int8 logistic / tanh."""
    real = float(np.float32(input_scale)) * (1 << 27)
    q, shift = math.frexp(real)
    return tfl_round(q * (1 << 31)), shift, input_radius(4, shift)


def logistic_s8(x: np.ndarray, input_scale: float, input_zp: int, single_rounding: bool = False) -> np.ndarray:
    """TFLite reference int8 logistic (output scale 1/256, zero point -128)."""
    mult, shift, radius = sigmoid_tanh_params(input_scale)
    d = _i64(x) - input_zp
    q = logistic_q(mbqm(d, mult, shift, single_rounding), 4)
    out = np.clip(rdbpot(q, 23) - 128, -128, 127)
    return np.where(d <= -radius, -128, np.where(d >= radius, 127, out)).astype(np.int8)


def tanh_s8(x: np.ndarray, input_scale: float, input_zp: int, single_rounding: bool = False) -> np.ndarray:
    """TFLite reference int8 tanh (output scale 1/128, zero point 0)."""
    mult, shift, radius = sigmoid_tanh_params(input_scale)
    d = _i64(x) - input_zp
    q = tanh_q(mbqm(d, mult, shift, single_rounding), 4)
    out = np.clip(rdbpot(q, 24), -128, 127)
    return np.where(d <= -radius, -128, np.where(d >= radius, 127, out)).astype(np.int8)
