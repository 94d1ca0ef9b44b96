/* ei_kernels.h: the edgeinfer kernel library (C99, no heap, no global state).
 *
 * Plain functions over contiguous row-major arrays, shared by the generated model C
 * and the interpreter. Each family lives in its own file, ei_<family>.c, so an
 * artifact only carries the families it calls (ctx.use_kernel("ei_dense")).
 * Weight matrices are row-major (n_out, n_in): row j holds the weights of output j.
 * Float kernels never use double arithmetic; the *_f64 kernels are the exact
 * (slow, rarely taken) paths that replicate scikit-learn's float64 results.
 */
#ifndef EI_KERNELS_H
#define EI_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ei_dense.c ------------------------------------------------------------ */
/* y[j] = b[j] + sum_i w[j*n_in + i] * x[i], j < n_out (b may be NULL: no bias). */
void ei_dense_f32(const float *x, const float *w, const float *b, float *y, int32_t n_in, int32_t n_out);

/* ---- ei_dense_exact.c (double) ---------------------------------------------- */
/* Same product in double with weights rebuilt as w + r * rs[row] (float32 weight plus
 * an int16 residual scaled per row; r and rs may be NULL when the weights are exactly
 * float32) and a double bias (may be NULL). x is float (first layer) or double. */
void ei_dense_exact_f32in(const float *x, const float *w, const int16_t *r, const float *rs,
                          const double *b, double *y, int32_t n_in, int32_t n_out);
void ei_dense_exact_f64(const double *x, const float *w, const int16_t *r, const float *rs,
                        const double *b, double *y, int32_t n_in, int32_t n_out);

/* ---- ei_activation.c (float, in place) ------------------------------------- */
void ei_relu_f32(float *x, int32_t n);
void ei_tanh_f32(float *x, int32_t n);
void ei_sigmoid_f32(float *x, int32_t n);        /* 1 / (1 + exp(-x)) */
void ei_softmax_f32(float *x, int32_t n);        /* max-shifted, sums to 1 */

/* ---- ei_activation_f64.c (double, in place: the exact paths) ---------------- */
void ei_relu_f64(double *x, int32_t n);
void ei_tanh_f64(double *x, int32_t n);
void ei_sigmoid_f64(double *x, int32_t n);
void ei_softmax_f64(double *x, int32_t n);

/* ---- ei_reduce.c ------------------------------------------------------------- */
/* Index of the largest value; ties go to the first (numpy argmax). */
int32_t ei_argmax_f32(const float *x, int32_t n);
int32_t ei_argmax_f64(const double *x, int32_t n);
/* Largest |x[i]| (0 for n == 0). */
float ei_absmax_f32(const float *x, int32_t n);
/* Index of the largest value (first on ties); *gap = largest - second largest
 * (0 when n < 2 or on a tie). */
int32_t ei_top2_f32(const float *x, int32_t n, float *gap);

#ifdef __cplusplus
}
#endif

#endif /* EI_KERNELS_H */
