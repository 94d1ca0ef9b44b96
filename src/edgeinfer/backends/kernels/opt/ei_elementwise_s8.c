/* ei_elementwise_s8.c (optimised twin): int8 add and mul with the signatures and results of the
 * reference kernels (../ei_elementwise_s8.c). The three MultiplyByQuantizedMultiplier of an
 * add (each input rescaled, then the sum) run as ei_opt_requant, without the 64-bit division
 * and the out-of-line calls of the reference. The tabulated same-shape add (the residual Add of
 * ResNet: each element one requantization instead of three) needs a 2 KiB table; it is
 * ei_opt_add_s8 (ei_opt_elementwise_s8.c), which C generated with kernels="optimized" calls
 * with the table in the model's arena: this twin keeps no static buffer.
 * Quantize / dequantize are the reference code. */
#include "ei_int8_opt.h"

static inline int32_t ei_opt_add1(int32_t va, int32_t vb, const int32_t *q)
{
  const int32_t sa = ei_opt_requant(va * (1 << q[5]), q[6], q[7], 0, INT32_MIN, INT32_MAX);
  const int32_t sb = ei_opt_requant(vb * (1 << q[5]), q[8], q[9], 0, INT32_MIN, INT32_MAX);
  return ei_opt_requant(sa + sb, q[10], q[11], q[2], q[3], q[4]);
}

void ei_add_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  int32_t i;
  if (!ia && !ib) {
    for (i = 0; i < n; ++i) {
      y[i] = (int8_t)ei_opt_add1((int32_t)a[i] - q[0], (int32_t)b[i] - q[1], q);
    }
    return;
  }
  for (i = 0; i < n; ++i) {
    y[i] = (int8_t)ei_opt_add1((int32_t)a[ia ? ia[i] : i] - q[0], (int32_t)b[ib ? ib[i] : i] - q[1], q);
  }
}

void ei_mul_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t va = (int32_t)a[ia ? ia[i] : i] - q[0], vb = (int32_t)b[ib ? ib[i] : i] - q[1];
    y[i] = (int8_t)ei_opt_requant(va * vb, q[5], q[6], q[2], q[3], q[4]);
  }
}

void ei_quantize_f32_s8(const float *x, float scale, int32_t zp, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) y[i] = (int8_t)ei_clamp_s32(ei_quantize_f32_one(x[i], scale, zp), -128, 127);
}

void ei_dequantize_s8_f32(const int8_t *x, double scale, int32_t zp, int32_t n, float *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    y[i] = (float)(scale * (double)((int32_t)x[i] - zp));
  }
}
