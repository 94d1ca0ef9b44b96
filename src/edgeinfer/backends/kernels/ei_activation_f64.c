/* ei_activation_f64.c: double activations for the exact paths, in place (see ei_kernels.h).
 * Written as scikit-learn writes them, so the double results agree with its float64 ones. */
#include <math.h>
#include "ei_kernels.h"

void ei_relu_f64(double *x, int32_t n)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    x[i] = x[i] > 0.0 ? x[i] : 0.0;
  }
}

void ei_tanh_f64(double *x, int32_t n)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    x[i] = tanh(x[i]);
  }
}

void ei_sigmoid_f64(double *x, int32_t n)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    x[i] = 1.0 / (1.0 + exp(-x[i]));
  }
}

void ei_softmax_f64(double *x, int32_t n)
{
  int32_t i;
  double mx, sum = 0.0;
  if (n <= 0) {
    return;
  }
  mx = x[0];
  for (i = 1; i < n; ++i) {
    mx = x[i] > mx ? x[i] : mx;
  }
  for (i = 0; i < n; ++i) {
    x[i] = exp(x[i] - mx);
    sum += x[i];
  }
  for (i = 0; i < n; ++i) {
    x[i] /= sum;
  }
}
