/* ei_int16.h: 16x8 kernels of the TFLite integer scheme (int16 activations, symmetric with zero point
 * 0; int8 per-channel weights; int64 biases), reference versions.
 *
 * Conv, depthwise and fully connected accumulate in int64 and requantize with TFLite's int64
 * MultiplyByQuantizedMultiplier: the multiplier reduced to 16 bits, then one rounding right shift
 * (ei_mbqm64, as ir/quant_math.py's mbqm64), so the bytes equal TFLite Micro's 16x8 kernels and
 * the IR reference. Pools, add, mul and quantize/dequantize are the int8 kernels at int16 width (add
 * with 15 bits of headroom instead of 20). Softmax, logistic and tanh read interpolated lookup tables
 * (ei_softmax_s16.c) as TFLite Micro's int16 kernels do. Geometry tables are those of ei_int8.h. */
#ifndef EI_INT16_H
#define EI_INT16_H

#include <stdint.h>

/* TFLite common.h MultiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift). */
static inline int64_t ei_mbqm64(int64_t x, int32_t multiplier, int32_t shift)
{
  const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int32_t total = 15 - shift;
  return (x * reduced + ((int64_t)1 << (total - 1))) >> total;
}

static inline int16_t ei_clamp_s64_s16(int64_t v, int32_t lo, int32_t hi)
{
  return (int16_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* ---- ei_conv_s16.c ------------------------------------------------------------ */
/* w is (c_out, kh, kw, c_in/groups) for conv, (kh, kw, c_in * depth_multiplier) for depthwise. */
void ei_conv2d_s16(const int32_t *geom, const int16_t *x, const int8_t *w, const int64_t *bias,
                   const int32_t *mult, const int32_t *shift, int16_t *y);
void ei_depthwise_conv2d_s16(const int32_t *geom, const int16_t *x, const int8_t *w, const int64_t *bias,
                             const int32_t *mult, const int32_t *shift, int16_t *y);

/* ---- ei_fc_s16.c -------------------------------------------------------------- */
/* rows x n_in -> rows x n_out; w is (n_out, n_in); q = {in_zp, out_zp, act_min, act_max}. */
void ei_fully_connected_s16(const int16_t *x, const int8_t *w, const int64_t *bias, const int32_t *mult,
                            const int32_t *shift, int32_t n_mult, const int32_t *q, int32_t rows,
                            int32_t n_in, int32_t n_out, int16_t *y);

/* ---- ei_pool_s16.c ------------------------------------------------------------ */
void ei_avgpool2d_s16(const int32_t *geom, const int16_t *x, int16_t *y);
void ei_maxpool2d_s16(const int32_t *geom, const int16_t *x, int16_t *y);

/* ---- ei_elementwise_s16.c ------------------------------------------------------- */
/* q as ei_add_s8's (left_shift 15). */
void ei_add_s16(const int16_t *a, const int16_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
                int32_t n, int16_t *y);
/* q as ei_mul_s8's; zero points are 0 in the 16x8 scheme. */
void ei_mul_s16(const int16_t *a, const int16_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
                int32_t n, int16_t *y);
void ei_quantize_f32_s16(const float *x, float scale, int32_t zp, int32_t n, int16_t *y);
void ei_dequantize_s16_f32(const int16_t *x, double scale, int32_t zp, int32_t n, float *y);

/* ---- ei_softmax_s16.c ------------------------------------------------------------ */
/* Softmax over rows of n (output scale 1/32768, zero point 0); mult / left_shift rescale an input
 * difference so that -65535 is -10.0 (the exp table's range). */
void ei_softmax_s16(const int16_t *x, int32_t rows, int32_t n, int32_t mult, int32_t left_shift, int16_t *y);
/* Logistic and tanh (output scale 1/32768, zero point 0); mult / shift bring the input to steps of
 * 1 / (3 * 4096), as edgeinfer.ir.quant_math.sigmoid_tanh_s16_params computes them. */
void ei_logistic_s16(const int16_t *x, int32_t mult, int32_t shift, int32_t n, int16_t *y);
void ei_tanh_s16(const int16_t *x, int32_t mult, int32_t shift, int32_t n, int16_t *y);

#endif /* EI_INT16_H */
