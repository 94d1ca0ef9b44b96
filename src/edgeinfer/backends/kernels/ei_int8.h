/* ei_int8.h: int8 kernels of the TFLite integer scheme (reference versions), and their
 * fixed-point arithmetic.
 *
 * Tensors are NHWC without the batch dimension. Every kernel produces the bytes TFLite
 * Micro's reference kernels produce: requantization is MultiplyByQuantizedMultiplier
 * (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), softmax / logistic /
 * tanh use gemmlowp's fixed-point exp and reciprocal. Multipliers and shifts are
 * computed by the code generator (as TFLite's Prepare does) and passed as constants.
 * Geometry tables:
 *   conv:  {h, w, c_in, oh, ow, c_out, kh, kw, sh, sw, dh, dw, pad_top, pad_left,
 *           in_zp, out_zp, act_min, act_max, groups (conv) | depth_multiplier (depthwise)}
 *   pool:  {h, w, c, oh, ow, kh, kw, sh, sw, pad_top, pad_left, act_min, act_max}
 * C99, no heap, no recursion. Right shifts of negative values are arithmetic (as on
 * every compiler TFLite supports). */
#ifndef EI_INT8_H
#define EI_INT8_H

#include <stdint.h>

enum { EI_QC_H, EI_QC_W, EI_QC_CIN, EI_QC_OH, EI_QC_OW, EI_QC_COUT, EI_QC_KH, EI_QC_KW, EI_QC_SH, EI_QC_SW,
       EI_QC_DH, EI_QC_DW, EI_QC_PT, EI_QC_PL, EI_QC_IN_ZP, EI_QC_OUT_ZP, EI_QC_ACT_MIN, EI_QC_ACT_MAX,
       EI_QC_GROUPS, EI_QC_NGEOM };

enum { EI_QP_H, EI_QP_W, EI_QP_C, EI_QP_OH, EI_QP_OW, EI_QP_KH, EI_QP_KW, EI_QP_SH, EI_QP_SW, EI_QP_PT,
       EI_QP_PL, EI_QP_ACT_MIN, EI_QP_ACT_MAX, EI_QP_NGEOM };

/* ---- fixed-point arithmetic (TFLite common.h, gemmlowp fixedpoint.h) ------------- */
static inline int32_t ei_srdhm(int32_t a, int32_t b)
{
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  if (a == b && a == INT32_MIN) {
    return INT32_MAX;
  }
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t ei_rdbpot(int32_t x, int32_t exponent)
{
  int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t ei_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
  int32_t left = shift > 0 ? shift : 0;
  int32_t right = shift > 0 ? 0 : -shift;
  return ei_rdbpot(ei_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

static inline int32_t ei_clamp_s32(int32_t v, int32_t lo, int32_t hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

/* TFLite QUANTIZE of one float: round(x / scale) half away from zero (std::round, without <math.h>)
 * plus the zero point, before the caller's clamp. NaN or a value beyond any code is clamped first:
 * (int32_t) of it would be undefined. One copy for every kernel set's quantize loop. */
static inline int32_t ei_quantize_f32_one(float x, float scale, int32_t zp)
{
  float v = x / scale, t;
  v = v != v ? 0.0f : (v < -1.0e6f ? -1.0e6f : (v > 1.0e6f ? 1.0e6f : v));
  t = (float)(int32_t)v;
  if (v - t >= 0.5f) {
    t += 1.0f;
  } else if (t - v >= 0.5f) {
    t -= 1.0f;
  }
  return (int32_t)t + zp;
}

/* ---- ei_conv_s8.c ------------------------------------------------------------- */
/* Convolution with per-output-channel requantization; w is (c_out, kh, kw, c_in/groups). */
void ei_conv2d_s8(const int32_t *geom, const int8_t *x, const int8_t *w, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *y);
/* Depthwise convolution; w is (kh, kw, c_in * depth_multiplier). */
void ei_depthwise_conv2d_s8(const int32_t *geom, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y);

/* ---- ei_fc_s8.c ---------------------------------------------------------------- */
/* rows x n_in -> rows x n_out; w is (n_out, n_in); mult/shift hold n_mult entries (1 or n_out);
 * q = {in_zp, out_zp, act_min, act_max}. */
void ei_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                           const int32_t *shift, int32_t n_mult, const int32_t *q, int32_t rows,
                           int32_t n_in, int32_t n_out, int8_t *y);

/* ---- ei_pool_s8.c -------------------------------------------------------------- */
void ei_avgpool2d_s8(const int32_t *geom, const int8_t *x, int8_t *y);
void ei_maxpool2d_s8(const int32_t *geom, const int8_t *x, int8_t *y);

/* ---- ei_elementwise_s8.c --------------------------------------------------------- */
/* Broadcast binary ops over an index table pair: y[i] = op(a[ia[i]], b[ib[i]]) when ia / ib are
 * given, a[i] / b[i] otherwise.
 * add q = {a_zp, b_zp, out_zp, act_min, act_max, left_shift, m1, s1, m2, s2, mo, so}
 * mul q = {a_zp, b_zp, out_zp, act_min, act_max, m, s} */
void ei_add_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y);
void ei_mul_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y);
/* q = clamp(round(x / scale) + zp, lo, hi), halves away from zero (TFLite QUANTIZE). */
void ei_quantize_f32_s8(const float *x, float scale, int32_t zp, int32_t n, int8_t *y);
/* y = scale * (q - zp) (TFLite DEQUANTIZE). */
void ei_dequantize_s8_f32(const int8_t *x, double scale, int32_t zp, int32_t n, float *y);

/* ---- ei_softmax_s8.c -------------------------------------------------------------- */
/* Softmax over rows of n (output scale 1/256, zero point -128). */
void ei_softmax_s8(const int8_t *x, int32_t rows, int32_t n, int32_t mult, int32_t left_shift, int32_t diff_min,
                   int8_t *y);
/* Logistic (out 1/256, zp -128) and tanh (out 1/128, zp 0); q = {in_zp, mult, left_shift, radius}. */
void ei_logistic_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y);
void ei_tanh_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y);

#endif /* EI_INT8_H */
