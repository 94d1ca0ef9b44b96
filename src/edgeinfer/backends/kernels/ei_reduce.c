/* ei_reduce.c: argmax, top-2 gap and absolute maximum (see ei_kernels.h). */
#include "ei_kernels.h"

int32_t ei_argmax_f32(const float *x, int32_t n)
{
  int32_t i, best = 0;
  for (i = 1; i < n; ++i) {
    if (x[i] > x[best]) {
      best = i;
    }
  }
  return best;
}

int32_t ei_argmax_f64(const double *x, int32_t n)
{
  int32_t i, best = 0;
  for (i = 1; i < n; ++i) {
    if (x[i] > x[best]) {
      best = i;
    }
  }
  return best;
}

float ei_absmax_f32(const float *x, int32_t n)
{
  int32_t i;
  float m = 0.0f;
  for (i = 0; i < n; ++i) {
    float a = x[i] < 0.0f ? -x[i] : x[i];
    m = a > m ? a : m;
  }
  return m;
}

int32_t ei_top2_f32(const float *x, int32_t n, float *gap)
{
  int32_t i, best = 0;
  float second;
  if (n < 2) {
    *gap = 0.0f;
    return 0;
  }
  second = x[1];
  if (x[1] > x[0]) {
    best = 1;
    second = x[0];
  }
  for (i = 2; i < n; ++i) {
    if (x[i] > x[best]) {
      second = x[best];
      best = i;
    } else if (x[i] > second) {
      second = x[i];
    }
  }
  *gap = x[best] - second;
  return best;
}
