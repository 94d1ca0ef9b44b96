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


# ---------------------------------------------------------------------------------------------
# 16x8 scheme (int16 activations): TFLite Micro's int16 softmax, logistic and tanh.

def _roundf(v) -> np.ndarray:
    """``std::round`` on float32 values (halves away from zero), without leaving float32."""
    v = np.asarray(v, np.float32)
    t = np.trunc(v)
    return (t + np.where(np.abs(v - t) >= np.float32(0.5), np.sign(v), np.float32(0))).astype(np.float32)


def _expf(v) -> np.ndarray:
    """``std::exp`` of float32 values, rounded once to float32 from double (glibc's ``expf`` gives the
    same 1537 values :func:`softmax_s16_luts` samples; numpy's float32 ``exp`` differs on a third)."""
    return np.exp(np.asarray(v, np.float32).astype(np.float64)).astype(np.float32)


def gen_lut_s16(func, input_min: float, input_max: float, output_min: float, output_max: float) -> np.ndarray:
    """TFLite's ``gen_lut<float, int16_t, int16_t>``: 512 samples of ``func`` on [input_min, input_max],
    each biased by half the interpolation error at its interval's midpoint, plus one end value (513).

    Every step is float32, in the C++'s order, so the table is TFLite Micro's bit for bit.

    >>> int(gen_lut_s16(lambda v: np.float32(1) / (np.float32(1) + v), 0.0, 1.0, -1.0, 1.0)[0])
    32767
    """
    f = np.float32
    lo, hi = f(input_min), f(input_max)
    nb = 512
    step = (hi - lo) / f(nb)
    half_step = step / f(2)
    scale_inv = f(65536) / (f(output_max) - f(output_min))
    i = np.arange(nb, dtype=np.float32)
    x = lo + i * step                       # input_min + i * step
    val = func(x)
    val_mid = func(x + half_step)           # (input_min + i * step) + half_step
    val_next = func(lo + (i + f(1)) * step)
    sample = _roundf(val * scale_inv)
    mid_interp = _roundf((val_next * scale_inv + _roundf(val * scale_inv)) / f(2))
    bias = _roundf((mid_interp - _roundf(val_mid * scale_inv)) / f(2))
    lut = np.empty(nb + 1, np.int16)
    lut[:nb] = np.clip(sample - bias, f(-32768), f(32767)).astype(np.int16)
    lut[nb] = np.clip(_roundf(func(np.asarray([hi], np.float32)) * scale_inv), f(-32768), f(32767))[0]
    return lut


_SOFTMAX_S16_LUTS: tuple[np.ndarray, np.ndarray] | None = None


def softmax_s16_luts() -> tuple[np.ndarray, np.ndarray]:
    """(exp on [-10, 0], 1 / (1 + x) on [0, 1]) tables of TFLite Micro's int16 softmax Prepare (513 each)."""
    global _SOFTMAX_S16_LUTS
    if _SOFTMAX_S16_LUTS is None:
        one = np.float32(1)
        _SOFTMAX_S16_LUTS = (gen_lut_s16(_expf, -10.0, 0.0, -1.0, 1.0),
                             gen_lut_s16(lambda v: one / (one + v), 0.0, 1.0, -1.0, 1.0))
    return _SOFTMAX_S16_LUTS


def lut_lookup_s16(value, lut: np.ndarray) -> np.ndarray:
    """TFLite's int16 table lookup: the top 9 bits pick an entry, the low 7 interpolate to the next."""
    v = _i64(value)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = lut.astype(np.int64)[index]
    slope = ((lut.astype(np.int64)[index + 1] - base + 32768) & 0xFFFF) - 32768   # int16_t slope
    return ((base + ((slope * offset + 64) >> 7) + 32768) & 0xFFFF) - 32768       # int16_t(base + delta)


def softmax_s16_params(beta: float, input_scale: float) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) of TFLM's int16 softmax: an input difference of -65535 is
    -10.0, the exp table's left end."""
    return quantize_multiplier(float(np.float32(input_scale)) * float(np.float32(beta)) / (10.0 / 65535.0))


def softmax_s16(x: np.ndarray, beta: float, input_scale: float) -> np.ndarray:
    """TFLite Micro's reference int16 softmax over the last axis (SoftmaxInt16: output scale 1/32768,
    zero point 0)."""
    exp_lut, recip_lut = softmax_s16_luts()
    mult, shift = softmax_s16_params(beta, input_scale)
    xi = _i64(x)
    diff = xi - xi.max(axis=-1, keepdims=True)
    scaled = np.clip(mbqm(diff, mult, shift) + 32767, -32768, 32767)
    e = lut_lookup_s16(scaled, exp_lut)
    total = e.sum(axis=-1, keepdims=True)
    headroom_plus_one = np.vectorize(lambda s: 32 - int(s & 0xFFFFFFFF).bit_length())(total).astype(np.int64)
    shifted = ((total << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    recip = lut_lookup_s16(np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), recip_lut)
    right = 31 - headroom_plus_one
    out = wrap32((e * recip + (np.int64(1) << (right - 1))) >> right)
    return np.clip(out, 0, 32767).astype(np.int16)


SIGMOID_TABLE_U16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535],
    dtype=np.int64)
"""TFLite's ``sigmoid_table_uint16``: sigmoid(i / 24) in 0.16 fixed point, the int16 logistic and tanh
table (tanh(x) = 2 sigmoid(2x) - 1). Fixed data of the algorithm, not computed: several entries sit one
above round(65536 sigmoid(i / 24))."""


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's CheckedLog2 in float32: (is ``x`` a power of two within 1e-3 in log2, the rounded log2)."""
    f = np.float32
    v = np.log(np.float64(f(x))).astype(np.float32) * (f(1) / np.log(np.float64(f(2))).astype(np.float32))
    r = _roundf(v)
    return bool(abs(float(v - r)) < 1e-3), int(r)


def sigmoid_tanh_s16_params(input_scale: float, tanh: bool) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) the int16 logistic / tanh kernels run with: the input rescaled
    to 1 / (3 * 4096) per step (TFLM's Prepare), or, for a power-of-two scale of 2**-12 (tanh also
    2**-11), the kernel's own ``3 << shift``."""
    pot, log2 = checked_log2(input_scale)
    shift = 12 + log2
    if pot and (shift == 0 or (tanh and shift == 1)):
        return 3 << shift, 0
    m = float(np.float32(input_scale)) * 4096.0 * 3.0
    shift = 0
    while m <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        m *= 2.0
    return int(m), shift


def _sigmoid_tanh_input(x: np.ndarray, mult: int, shift: int) -> np.ndarray:
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    return wrap32(_i64(x) * mult + rnd) >> shift


def logistic_s16(x: np.ndarray, input_scale: float) -> np.ndarray:
    """TFLite Micro's reference int16 logistic (output scale 1/32768, zero point 0): |x| in units of 1/24
    indexes the sigmoid table, 9 fractional bits interpolate."""
    v = _sigmoid_tanh_input(x, *sigmoid_tanh_s16_params(input_scale, tanh=False))
    a = np.abs(v)
    uh = np.minimum(a >> 9, 254)
    ua, ub = SIGMOID_TABLE_U16[uh], SIGMOID_TABLE_U16[uh + 1]
    r = np.where((a >> 9) >= 255, 0x7FFF << 10, (ua << 9) + (a & 0x1FF) * (ub - ua))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_s16(x: np.ndarray, input_scale: float) -> np.ndarray:
    """TFLite Micro's reference int16 tanh (output scale 1/32768, zero point 0), from the sigmoid table
    with 8 fractional bits."""
    v = _sigmoid_tanh_input(x, *sigmoid_tanh_s16_params(input_scale, tanh=True))
    a = np.abs(v)
    uh = np.minimum(a >> 8, 254)
    ua, ub = SIGMOID_TABLE_U16[uh], SIGMOID_TABLE_U16[uh + 1]
    r = np.where((a >> 8) >= 255, 0xFFFF << 8, (ua << 8) + (a & 0xFF) * (ub - ua))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)
