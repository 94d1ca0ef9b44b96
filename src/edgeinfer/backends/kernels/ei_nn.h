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

/* GEMM-based kernels (ei_gemm.c). Weights are packed at generation time as [ceil(M/8)][K][8]
 * (EI_GEMM_MR rows per panel, zero rows past M) and the bias padded to a multiple of 8 (zeros if
 * the layer has none). With accumulate != 0 the result is added to what y already holds (a
 * residual Add computed in the conv's epilogue, before the clamp). */
#define EI_GEMM_MR 8
#define EI_GEMM_NR 16

/* y[i][j] = clamp(bias[i] + sum_p wp(i, p) * x[p][j] (+ y[i][j])), i < m, j < n. */
void ei_gemm_f32(const float *wp, const float *bias, int32_t m, int32_t k, const float *x, int32_t ldx,
                 int32_t n, float act_min, float act_max, int32_t accumulate, float *y, int32_t ldy);

/* 1x1 stride-1 unpadded conv (group 1) as one GEMM. scratch: NULL, or (c_out + c_in) x EI_GEMM_NR
 * floats, which makes y == x legal (in place; then accumulate must be 0) and runs the last partial
 * block of 16 pixels at full width. */
void ei_conv1x1_f32(const int32_t *geom, const float *x, const float *wp, const float *bias, float act_min,
                    float act_max, int32_t accumulate, float *scratch, float *y);

/* Any group-1 conv. scratch: c_in * kh * kw * roundup(chunk_rows * ow, EI_GEMM_NR) floats (an im2col
 * slice of chunk_rows output rows). The kernel fills it with a band of zero-padded input rows, as many
 * output rows at a time as fit, and runs the GEMM tile on the band in place (strides up to 4, at most
 * 64 taps, not a strided 1x1 conv; see ei_gemm.c), else with im2col slices of chunk_rows rows. */
void ei_conv2d_gemm_f32(const int32_t *geom, const float *x, const float *wp, const float *bias, float act_min,
                        float act_max, int32_t accumulate, int32_t chunk_rows, float *scratch, float *y);

/* Depthwise conv (group == c_in == c_out), weights (c, kh * kw). scratch: hp * wp floats from
 * ei_dwconv_padded (one zero-padded plane). y may be x when the output plane is not larger than the
 * input plane (in place). */
void ei_dwconv2d_f32(const int32_t *geom, const float *x, const float *w, const float *bias, float act_min,
                     float act_max, float *scratch, float *y);
void ei_dwconv_padded(const int32_t *geom, int32_t *hp, int32_t *wp);

#endif /* EI_NN_H */
