/* ei_softmax_s8.c: int8 softmax, logistic and tanh with gemmlowp fixed point (TFLite Micro
 * reference kernels). Q<k> below is a signed 32-bit value with k integer bits. */
#include "ei_int8.h"

static int32_t ei_sat_shl(int32_t x, int32_t e)
{
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - e)) - 1);
  if (x > threshold) {
    return INT32_MAX;
  }
  if (x < -threshold) {
    return INT32_MIN;
  }
  return (int32_t)((uint32_t)x << e);
}

/* gemmlowp Rescale from int_bits to 0 integer bits */
static int32_t ei_rescale_to_q0(int32_t x, int32_t int_bits)
{
  return int_bits > 0 ? ei_sat_shl(x, int_bits) : x;
}

static int32_t ei_exp_quarter(int32_t a)
{
  const int32_t constant_term = 1895147668, one_third = 715827883;
  const int32_t x = a + (1 << 28);
  const int32_t x2 = ei_srdhm(x, x), x3 = ei_srdhm(x2, x), x4 = ei_srdhm(x2, x2);
  const int32_t x4_over_4 = ei_rdbpot(x4, 2);
  const int32_t poly = ei_rdbpot(ei_srdhm(x4_over_4 + x3, one_third) + x2, 1);
  return constant_term + ei_srdhm(constant_term, x + poly);
}

/* exp of a Q<int_bits> value <= 0, as Q0 */
static int32_t ei_exp_neg(int32_t a, int32_t int_bits)
{
  static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int32_t frac = 31 - int_bits;
  const int32_t quarter = 1 << (frac - 2);
  const int32_t a_mod = (a & (quarter - 1)) - quarter;
  const int32_t remainder = a_mod - a;
  int32_t result = ei_exp_quarter(ei_rescale_to_q0(a_mod, int_bits));
  int32_t k;
  for (k = 0; k < 7; ++k) {
    const int32_t exponent = k - 2;
    if (int_bits > exponent && (remainder & (int32_t)((uint32_t)1 << (frac + exponent))) != 0) {
      result = ei_srdhm(result, mults[k]);
    }
  }
  if (int_bits > 5 && a < -(1 << (36 - int_bits))) {
    result = 0;
  }
  return a == 0 ? INT32_MAX : result;
}

/* 1 / ((1 + a) / 2) in Q2 by Newton-Raphson */
static int32_t ei_newton_reciprocal(int32_t a)
{
  const int64_t s = (int64_t)a + INT32_MAX;
  const int32_t half = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
  int32_t x = 1515870810 + ei_srdhm(half, -1010580540);
  int32_t i;
  for (i = 0; i < 3; ++i) {
    const int32_t one_minus = (1 << 29) - ei_srdhm(half, x);
    x = x + ei_sat_shl(ei_srdhm(x, one_minus), 2);
  }
  return x;
}

static int32_t ei_one_over_one_plus_x(int32_t a)
{
  return ei_sat_shl(ei_newton_reciprocal(a), 1);
}

void ei_softmax_s8(const int8_t *x, int32_t rows, int32_t n, int32_t mult, int32_t left_shift, int32_t diff_min,
                   int8_t *y)
{
  int32_t r, c;
  for (r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * n;
    int8_t *yr = y + r * n;
    int32_t mx = -128, sum = 0, headroom = 0, nbits, scale;
    uint32_t u;
    for (c = 0; c < n; ++c) {
      mx = xr[c] > mx ? xr[c] : mx;
    }
    for (c = 0; c < n; ++c) {
      const int32_t diff = (int32_t)xr[c] - mx;
      if (diff >= diff_min) {
        sum += ei_rdbpot(ei_exp_neg(ei_srdhm(diff * (1 << left_shift), mult), 5), 12);
      }
    }
    for (u = (uint32_t)sum; headroom < 32 && !(u & 0x80000000u); u <<= 1) {
      ++headroom;
    }
    nbits = 12 - headroom;
    scale = ei_one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
    for (c = 0; c < n; ++c) {
      const int32_t diff = (int32_t)xr[c] - mx;
      if (diff >= diff_min) {
        const int32_t e = ei_exp_neg(ei_srdhm(diff * (1 << left_shift), mult), 5);
        yr[c] = (int8_t)ei_clamp_s32(ei_rdbpot(ei_srdhm(scale, e), nbits + 23) - 128, -128, 127);
      } else {
        yr[c] = -128;
      }
    }
  }
}

void ei_logistic_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t d = (int32_t)x[i] - q[0];
    if (d <= -q[3]) {
      y[i] = -128;
    } else if (d >= q[3]) {
      y[i] = 127;
    } else {
      const int32_t a = ei_mbqm(d, q[1], q[2]);
      const int32_t pos = ei_one_over_one_plus_x(ei_exp_neg(a > 0 ? -a : a, 4));
      const int32_t v = a == 0 ? (1 << 30) : (a > 0 ? pos : INT32_MAX - pos);
      y[i] = (int8_t)ei_clamp_s32(ei_rdbpot(v, 23) - 128, -128, 127);
    }
  }
}

void ei_tanh_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t d = (int32_t)x[i] - q[0];
    if (d <= -q[3]) {
      y[i] = -128;
    } else if (d >= q[3]) {
      y[i] = 127;
    } else {
      const int32_t a = ei_mbqm(d, q[1], q[2]);
      const int32_t t = ei_sat_shl(ei_newton_reciprocal(ei_exp_neg(a > 0 ? -a : a, 5)) - (1 << 29), 2);
      const int32_t v = a == 0 ? 0 : (a < 0 ? -t : t);
      y[i] = (int8_t)ei_clamp_s32(ei_rdbpot(v, 24), -128, 127);
    }
  }
}
