/* ei_dense_exact.c: fully connected layer in double, weights rebuilt from float32 +
 * int16 residual (see ei_kernels.h). Only taken for samples whose float32 answer is
 * not certified, so it favours exactness over speed. */
#include "ei_kernels.h"

static double ei_weight_(const float *w, const int16_t *r, const float *rs, int32_t j, long k)
{
  double v = (double)w[k];
  if (r) {
    v += (double)r[k] * (double)rs[j];
  }
  return v;
}

void ei_dense_exact_f32in(const float *x, const float *w, const int16_t *r, const float *rs,
                          const double *b, double *y, int32_t n_in, int32_t n_out)
{
  int32_t i, j;
  for (j = 0; j < n_out; ++j) {
    long base = (long)j * n_in;
    double acc = 0.0;
    for (i = 0; i < n_in; ++i) {
      acc += ei_weight_(w, r, rs, j, base + i) * (double)x[i];
    }
    y[j] = b ? acc + b[j] : acc;
  }
}

void ei_dense_exact_f64(const double *x, const float *w, const int16_t *r, const float *rs,
                        const double *b, double *y, int32_t n_in, int32_t n_out)
{
  int32_t i, j;
  for (j = 0; j < n_out; ++j) {
    long base = (long)j * n_in;
    double acc = 0.0;
    for (i = 0; i < n_in; ++i) {
      acc += ei_weight_(w, r, rs, j, base + i) * x[i];
    }
    y[j] = b ? acc + b[j] : acc;
  }
}
