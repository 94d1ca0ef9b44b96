/* ei_opt_conv_s8.c: the int8 convolution entry points of C generated with kernels="optimized"
 * (declared in ei_int8_opt.h). Same results as ei_conv2d_s8 / ei_depthwise_conv2d_s8; the
 * requantization table is the per-channel rq form of ei_opt_rq (2 words a channel) and the
 * convolution's im2col buffer is scratch planned in the model's arena. */
#define EI_RQ(acc_, m_) ei_opt_rq((acc_), mult + 2 * (m_), zp, lo, hi)
#include "ei_conv_s8_impl.inc"

void ei_opt_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *rq,
                      int8_t *y, void *scratch)
{
  ei_conv_core(g, x, w, bias, rq, (const int32_t *)0, y, scratch);
}

void ei_opt_depthwise_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                                const int32_t *rq, int8_t *y)
{
  ei_dw_core(g, x, w, bias, rq, (const int32_t *)0, y);
}
