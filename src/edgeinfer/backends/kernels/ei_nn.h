/* ei_nn.h: float32 convolution and pooling kernels of the edgeinfer kernel library.
 *
 * Tensors are NCHW without the batch dimension (one sample per call). The geometry of
 * a layer is a small constant table so that generated code passes one pointer:
 *   conv:  {c_in, h, w, c_out, oh, ow, kh, kw, sh, sw, dh, dw, pad_top, pad_left, group}
 *   pool:  {c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pad_top, pad_left, pad_bottom, pad_right,
 *           count_include_pad}
 * Outputs of conv kernels are clamped to [act_min, act_max] (a fused Relu / Relu6 / Clip;
 * -INFINITY..INFINITY for none). C99, no heap, no recursion. */
#ifndef EI_NN_H
#define EI_NN_H

#include <stdint.h>

enum { EI_CONV_CIN, EI_CONV_H, EI_CONV_W, EI_CONV_COUT, EI_CONV_OH, EI_CONV_OW, EI_CONV_KH, EI_CONV_KW,
       EI_CONV_SH, EI_CONV_SW, EI_CONV_DH, EI_CONV_DW, EI_CONV_PT, EI_CONV_PL, EI_CONV_GROUP, EI_CONV_NGEOM };

enum { EI_POOL_C, EI_POOL_H, EI_POOL_W, EI_POOL_OH, EI_POOL_OW, EI_POOL_KH, EI_POOL_KW, EI_POOL_SH,
       EI_POOL_SW, EI_POOL_DH, EI_POOL_DW, EI_POOL_PT, EI_POOL_PL, EI_POOL_PB, EI_POOL_PR,
       EI_POOL_INCLUDE_PAD, EI_POOL_NGEOM };

/* 2-D convolution (groups, strides, dilations, zero padding); b may be NULL. */
void ei_conv2d_f32(const int32_t *geom, const float *x, const float *w, const float *b,
                   float act_min, float act_max, float *y);

/* Fully connected layer with weights stored (n_in, n_out); b may be NULL. */
void ei_fc_f32(const float *x, const float *w, const float *b, int32_t n_in, int32_t n_out,
               float act_min, float act_max, float *y);

/* 2-D transposed convolution; w is (c_in, c_out/group, kh, kw); pads crop the full output. */
void ei_convtranspose2d_f32(const int32_t *geom, const float *x, const float *w, const float *b,
                            float act_min, float act_max, float *y);

/* Max / average pooling; windows past the input are clipped (ceil_mode, padding). */
void ei_maxpool2d_f32(const int32_t *geom, const float *x, float *y);
void ei_avgpool2d_f32(const int32_t *geom, const float *x, float *y);

#endif /* EI_NN_H */
