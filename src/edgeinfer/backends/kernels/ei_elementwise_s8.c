/* ei_elementwise_s8.c: int8 add and mul (TFLite Micro reference kernels), quantize, dequantize. */
#include "ei_int8.h"

void ei_add_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t va = (int32_t)a[ia ? ia[i] : i] - q[0], vb = (int32_t)b[ib ? ib[i] : i] - q[1];
    const int32_t sa = ei_mbqm(va * (1 << q[5]), q[6], q[7]);
    const int32_t sb = ei_mbqm(vb * (1 << q[5]), q[8], q[9]);
    y[i] = (int8_t)ei_clamp_s32(ei_mbqm(sa + sb, q[10], q[11]) + q[2], q[3], q[4]);
  }
}

void ei_mul_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t va = (int32_t)a[ia ? ia[i] : i] - q[0], vb = (int32_t)b[ib ? ib[i] : i] - q[1];
    y[i] = (int8_t)ei_clamp_s32(ei_mbqm(va * vb, q[5], q[6]) + q[2], q[3], q[4]);
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
