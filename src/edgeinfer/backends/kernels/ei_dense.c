/* ei_dense.c: fully connected layer in float32 (see ei_kernels.h). */
#include "ei_kernels.h"

void ei_dense_f32(const float *x, const float *w, const float *b, float *y, int32_t n_in, int32_t n_out)
{
  int32_t i, j;
  for (j = 0; j < n_out; ++j) {
    const float *row = w + (long)j * n_in;
    float acc = b ? b[j] : 0.0f;
    for (i = 0; i < n_in; ++i) {
      acc += row[i] * x[i];
    }
    y[j] = acc;
  }
}
