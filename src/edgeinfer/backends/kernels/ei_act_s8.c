/* ei_act_s8.c: int8 RELU, LEAKY_RELU, HARD_SWISH, PRELU, SUB and int8 <-> uint8 requantization
 * (TFLite Micro reference kernels; see ei_act_s8.h for the q tables). */
#include "ei_int8.h"
#include "ei_act_s8.h"

void ei_relu_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t v = ei_mbqm((int32_t)x[i] - q[0], q[2], q[3]) + q[1];
    y[i] = (int8_t)ei_clamp_s32(v, q[4], q[5]);
  }
}

void ei_leaky_relu_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t d = (int32_t)x[i] - q[0];
    const int32_t v = (d >= 0 ? ei_mbqm(d, q[2], q[3]) : ei_mbqm(d, q[4], q[5])) + q[1];
    y[i] = (int8_t)ei_clamp_s32(v, -128, 127);
  }
}

/* ---- HARD_SWISH: TFLite's int16 fixed point (gemmlowp int16 helpers) ---------------- */
static int16_t ei_srdhm16(int16_t a, int16_t b)
{
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  if (a == b && a == INT16_MIN) {
    return INT16_MAX;
  }
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* SaturatingDoublingHighMul: truncates instead of rounding (cancels the bias of the one above). */
static int16_t ei_sdhm16(int16_t a, int16_t b)
{
  const int32_t ab = (int32_t)a * (int32_t)b;
  if (a == b && a == INT16_MIN) {
    return INT16_MAX;
  }
  return (int16_t)(ab / (1 << 15));
}

/* RoundingDivideByPOT in int16: mask and threshold are int16 as in the C++ template. */
static int16_t ei_rdbpot16(int16_t x, int32_t exponent)
{
  const int16_t mask = (int16_t)(((int64_t)1 << exponent) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static int16_t ei_sat_lshift16(int16_t v, int32_t amount)
{
  const int64_t r = (int64_t)v * ((int64_t)1 << amount);
  return (int16_t)(r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : r));
}

void ei_hard_swish_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y)
{
  const int16_t out_mult = (int16_t)q[2], relu_mult = (int16_t)q[4];
  const int32_t out_exp = q[3], relu_exp = q[5];
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int16_t v = (int16_t)((int32_t)x[i] - q[0]);
    const int16_t hires = (int16_t)(v * (1 << 7));
    const int16_t pre_out = ei_srdhm16(hires, out_mult);
    int16_t r = hires, out;
    if (relu_exp > 0) {
      r = ei_sat_lshift16(r, relu_exp - 1);
    }
    r = ei_srdhm16(r, relu_mult);
    if (relu_exp > 0) {
      r = ei_sat_lshift16(r, 1);
    }
    if (relu_exp < 0) {
      r = ei_rdbpot16(r, -relu_exp);
    }
    r = (int16_t)((r + (1 << 15)) >> 1);
    out = ei_rdbpot16(ei_sdhm16(r, pre_out), -out_exp);
    out = (int16_t)(out + q[1]);
    y[i] = (int8_t)ei_clamp_s32(out, -128, 127);
  }
}

void ei_prelu_s8(const int8_t *x, const int8_t *alpha, const int32_t *ix, const int32_t *ia, const int32_t *q,
                 int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t d = (int32_t)x[ix ? ix[i] : i] - q[0];
    int32_t v;
    if (d >= 0) {
      v = ei_mbqm(d, q[3], q[4]);
    } else {
      v = ei_mbqm(d * ((int32_t)alpha[ia ? ia[i] : i] - q[1]), q[5], q[6]);
    }
    y[i] = (int8_t)ei_clamp_s32(v + q[2], -128, 127);
  }
}

void ei_sub_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t va = (int32_t)a[ia ? ia[i] : i] - q[0], vb = (int32_t)b[ib ? ib[i] : i] - q[1];
    const int32_t sa = ei_mbqm(va * (1 << q[5]), q[6], q[7]);
    const int32_t sb = ei_mbqm(vb * (1 << q[5]), q[8], q[9]);
    y[i] = (int8_t)ei_clamp_s32(ei_mbqm(sa - sb, q[10], q[11]) + q[2], q[3], q[4]);
  }
}

void ei_requantize_u8_s8(const uint8_t *x, const int32_t *q, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    y[i] = (int8_t)ei_clamp_s32(ei_mbqm((int32_t)x[i] - q[0], q[2], q[3]) + q[1], -128, 127);
  }
}

void ei_requantize_s8_u8(const int8_t *x, const int32_t *q, int32_t n, uint8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    y[i] = (uint8_t)ei_clamp_s32(ei_mbqm((int32_t)x[i] - q[0], q[2], q[3]) + q[1], 0, 255);
  }
}
