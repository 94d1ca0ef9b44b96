/* ei_conv.c: float32 2-D convolution and transposed convolution (see ei_nn.h). */
#include "ei_nn.h"

static void ei_clamp_f32(float *y, int32_t n, float lo, float hi)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    float v = y[i] < lo ? lo : y[i];
    y[i] = v > hi ? hi : v;
  }
}

void ei_conv2d_f32(const int32_t *g, const float *x, const float *w, const float *b,
                   float act_min, float act_max, float *y)
{
  const int32_t cin = g[EI_CONV_CIN], h = g[EI_CONV_H], wd = g[EI_CONV_W];
  const int32_t cout = g[EI_CONV_COUT], oh = g[EI_CONV_OH], ow = g[EI_CONV_OW];
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sh = g[EI_CONV_SH], sw = g[EI_CONV_SW];
  const int32_t dh = g[EI_CONV_DH], dw = g[EI_CONV_DW], pt = g[EI_CONV_PT], pl = g[EI_CONV_PL];
  const int32_t cg = cin / g[EI_CONV_GROUP], mg = cout / g[EI_CONV_GROUP];
  int32_t m, c, ky, kx, oy, ox;
  for (m = 0; m < cout; ++m) {
    float *ym = y + m * oh * ow;
    const float *xg = x + (m / mg) * cg * h * wd;
    const float bias = b ? b[m] : 0.0f;
    for (oy = 0; oy < oh * ow; ++oy) ym[oy] = bias;
    for (c = 0; c < cg; ++c) {
      const float *xc = xg + c * h * wd;
      const float *wc = w + (m * cg + c) * kh * kw;
      for (kx = 0; kx < kw; ++kx) {
        /* output columns whose input column ox*sw + off lies inside the row */
        const int32_t off = kx * dw - pl;
        const int32_t ox0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
        int32_t ox1 = wd - off > 0 ? (wd - off + sw - 1) / sw : 0;
        if (ox1 > ow) ox1 = ow;
        for (ky = 0; ky < kh; ++ky) {
          const float wv = wc[ky * kw + kx];
          for (oy = 0; oy < oh; ++oy) {
            const int32_t iy = oy * sh + ky * dh - pt;
            const float *xr;
            float *yr = ym + oy * ow;
            if (iy < 0 || iy >= h) continue;
            xr = xc + iy * wd;
            if (sw == 1) {
              for (ox = ox0; ox < ox1; ++ox) yr[ox] += wv * xr[ox + off];
            } else {
              for (ox = ox0; ox < ox1; ++ox) yr[ox] += wv * xr[ox * sw + off];
            }
          }
        }
      }
    }
    ei_clamp_f32(ym, oh * ow, act_min, act_max);
  }
}

void ei_convtranspose2d_f32(const int32_t *g, const float *x, const float *w, const float *b,
                            float act_min, float act_max, float *y)
{
  const int32_t cin = g[EI_CONV_CIN], h = g[EI_CONV_H], wd = g[EI_CONV_W];
  const int32_t cout = g[EI_CONV_COUT], oh = g[EI_CONV_OH], ow = g[EI_CONV_OW];
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sh = g[EI_CONV_SH], sw = g[EI_CONV_SW];
  const int32_t dh = g[EI_CONV_DH], dw = g[EI_CONV_DW], pt = g[EI_CONV_PT], pl = g[EI_CONV_PL];
  const int32_t cg = cin / g[EI_CONV_GROUP], mg = cout / g[EI_CONV_GROUP];
  int32_t m, c, ky, kx, iy, ix, i;
  for (m = 0; m < cout; ++m) {
    const float bias = b ? b[m] : 0.0f;
    for (i = 0; i < oh * ow; ++i) y[m * oh * ow + i] = bias;
  }
  for (c = 0; c < cin; ++c) {
    const int32_t grp = c / cg;
    const float *xc = x + c * h * wd;
    for (m = 0; m < mg; ++m) {
      float *ym = y + (grp * mg + m) * oh * ow;
      const float *wc = w + (c * mg + m) * kh * kw;
      for (ky = 0; ky < kh; ++ky) {
        for (iy = 0; iy < h; ++iy) {
          const int32_t oy = iy * sh + ky * dh - pt;
          if (oy < 0 || oy >= oh) continue;
          for (kx = 0; kx < kw; ++kx) {
            const float wv = wc[ky * kw + kx];
            for (ix = 0; ix < wd; ++ix) {
              const int32_t ox = ix * sw + kx * dw - pl;
              if (ox >= 0 && ox < ow) ym[oy * ow + ox] += wv * xc[iy * wd + ix];
            }
          }
        }
      }
    }
  }
  ei_clamp_f32(y, cout * oh * ow, act_min, act_max);
}
