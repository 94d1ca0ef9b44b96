/* ei_conv_s16.c: 16x8 convolution and depthwise convolution (TFLite Micro reference kernels). */
#include "ei_int8.h"
#include "ei_int16.h"

static int16_t ei_requant_s16(int64_t acc, int32_t mult, int32_t shift, const int32_t *g)
{
  return ei_clamp_s64_s16(ei_mbqm64(acc, mult, shift) + g[EI_QC_OUT_ZP], g[EI_QC_ACT_MIN], g[EI_QC_ACT_MAX]);
}

void ei_conv2d_s16(const int32_t *g, const int16_t *x, const int8_t *w, const int64_t *bias,
                   const int32_t *mult, const int32_t *shift, int16_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t cout = g[EI_QC_COUT], groups = g[EI_QC_GROUPS];
  const int32_t cg = cin / groups, mg = cout / groups, in_zp = g[EI_QC_IN_ZP];
  int32_t oy, ox, m, ky, kx, c;
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT], x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
      for (m = 0; m < cout; ++m) {
        const int32_t c0 = (m / mg) * cg;
        int64_t acc = 0;
        for (ky = 0; ky < kh; ++ky) {
          const int32_t iy = y0 + ky * g[EI_QC_DH];
          if (iy < 0 || iy >= h) {
            continue;
          }
          for (kx = 0; kx < kw; ++kx) {
            const int32_t ix = x0 + kx * g[EI_QC_DW];
            const int16_t *xp;
            const int8_t *wp;
            if (ix < 0 || ix >= wd) {
              continue;
            }
            xp = x + (iy * wd + ix) * cin + c0;
            wp = w + ((m * kh + ky) * kw + kx) * cg;
            for (c = 0; c < cg; ++c) {
              acc += (int64_t)(((int32_t)xp[c] - in_zp) * (int32_t)wp[c]);
            }
          }
        }
        if (bias) {
          acc += bias[m];
        }
        y[(oy * g[EI_QC_OW] + ox) * cout + m] = ei_requant_s16(acc, mult[m], shift[m], g);
      }
    }
  }
}

void ei_depthwise_conv2d_s16(const int32_t *g, const int16_t *x, const int8_t *w, const int64_t *bias,
                             const int32_t *mult, const int32_t *shift, int16_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t cout = g[EI_QC_COUT], dm = g[EI_QC_GROUPS], in_zp = g[EI_QC_IN_ZP];
  int32_t oy, ox, m, ky, kx;
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT], x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
      for (m = 0; m < cout; ++m) {
        const int32_t c = m / dm;
        int64_t acc = 0;
        for (ky = 0; ky < kh; ++ky) {
          const int32_t iy = y0 + ky * g[EI_QC_DH];
          if (iy < 0 || iy >= h) {
            continue;
          }
          for (kx = 0; kx < kw; ++kx) {
            const int32_t ix = x0 + kx * g[EI_QC_DW];
            if (ix < 0 || ix >= wd) {
              continue;
            }
            acc += (int64_t)(((int32_t)x[(iy * wd + ix) * cin + c] - in_zp) * (int32_t)w[(ky * kw + kx) * cout + m]);
          }
        }
        if (bias) {
          acc += bias[m];
        }
        y[(oy * g[EI_QC_OW] + ox) * cout + m] = ei_requant_s16(acc, mult[m], shift[m], g);
      }
    }
  }
}
