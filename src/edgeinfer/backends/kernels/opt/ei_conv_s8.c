/* ei_conv_s8.c (optimised twin): int8 convolution and depthwise convolution with the
 * signatures and results of the reference kernels (../ei_conv_s8.c), for generated C that
 * does not know the kernel set (mult / shift tables, no scratch: the convolution takes the
 * direct path). The code is in ei_conv_s8_impl.inc; ei_opt_conv_s8.c has the faster entry points
 * that C generated with kernels="optimized" calls. */
#define EI_RQ(acc_, m_) ei_opt_requant((acc_), mult[m_], shift[m_], zp, lo, hi)
#include "ei_conv_s8_impl.inc"

void ei_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *y)
{
  ei_conv_core(g, x, w, bias, mult, shift, y, (void *)0);
}

void ei_depthwise_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y)
{
  ei_dw_core(g, x, w, bias, mult, shift, y);
}
