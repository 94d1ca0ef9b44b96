/* ei_activation.c: float32 activations, in place (see ei_kernels.h). */
#include <math.h>
#include "ei_kernels.h"

void ei_relu_f32(float *x, int32_t n)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    x[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }
}

void ei_tanh_f32(float *x, int32_t n)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    x[i] = tanhf(x[i]);
  }
}

void ei_sigmoid_f32(float *x, int32_t n)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    x[i] = 1.0f / (1.0f + expf(-x[i]));
  }
}

void ei_softmax_f32(float *x, int32_t n)
{
  int32_t i;
  float mx, sum = 0.0f;
  if (n <= 0) {
    return;
  }
  mx = x[0];
  for (i = 1; i < n; ++i) {
    mx = x[i] > mx ? x[i] : mx;
  }
  for (i = 0; i < n; ++i) {
    x[i] = expf(x[i] - mx);
    sum += x[i];
  }
  for (i = 0; i < n; ++i) {
    x[i] /= sum;
  }
}
