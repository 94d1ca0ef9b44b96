/* ei_pool_s8.c (optimised twin): int8 average and max pooling with the signatures and
 * results of the reference kernels (../ei_pool_s8.c). Four channels per step: with DSP the
 * maximum of four lanes is SSUB8 + SEL; the average sums four channels at once. */
#include "ei_int8_opt.h"

static void ei_pool_opt(const int32_t *g, const int8_t *x, int8_t *y, int32_t is_max)
{
  const int32_t h = g[EI_QP_H], wd = g[EI_QP_W], ch = g[EI_QP_C], c4 = ch & ~3;
  const int32_t lo = g[EI_QP_ACT_MIN], hi = g[EI_QP_ACT_MAX];
  int32_t oy, ox, c, iy, ix, k;
  for (oy = 0; oy < g[EI_QP_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QP_SH] - g[EI_QP_PT];
    const int32_t ys = y0 < 0 ? 0 : y0, ye = y0 + g[EI_QP_KH] > h ? h : y0 + g[EI_QP_KH];
    for (ox = 0; ox < g[EI_QP_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QP_SW] - g[EI_QP_PL];
      const int32_t xs = x0 < 0 ? 0 : x0, xe = x0 + g[EI_QP_KW] > wd ? wd : x0 + g[EI_QP_KW];
      const int32_t count = (ye > ys ? ye - ys : 0) * (xe > xs ? xe - xs : 0);
      int8_t *yp = y + (oy * g[EI_QP_OW] + ox) * ch;
      for (c = 0; c < c4; c += 4) {
        const int32_t a0 = is_max ? -128 : 0;
        int32_t acc[4];
#if EI_OPT_DSP
        uint32_t mx = 0x80808080u;
#endif
        acc[0] = acc[1] = acc[2] = acc[3] = a0;
        for (iy = ys; iy < ye; ++iy) {
          const int8_t *xp = x + (iy * wd + xs) * ch + c;
          for (ix = xs; ix < xe; ++ix, xp += ch) {
#if EI_OPT_DSP
            const uint32_t v = ei_opt_ld32(xp);
            if (is_max) {
              (void)__ssub8(v, mx);
              mx = __sel(v, mx);
            } else {
              acc[0] += xp[0];
              acc[1] += xp[1];
              acc[2] += xp[2];
              acc[3] += xp[3];
            }
#else
            if (is_max) {
              acc[0] = xp[0] > acc[0] ? xp[0] : acc[0];
              acc[1] = xp[1] > acc[1] ? xp[1] : acc[1];
              acc[2] = xp[2] > acc[2] ? xp[2] : acc[2];
              acc[3] = xp[3] > acc[3] ? xp[3] : acc[3];
            } else {
              acc[0] += xp[0];
              acc[1] += xp[1];
              acc[2] += xp[2];
              acc[3] += xp[3];
            }
#endif
          }
        }
        for (k = 0; k < 4; ++k) {
          int32_t a = acc[k];
#if EI_OPT_DSP
          if (is_max) {
            a = (int8_t)(uint8_t)(mx >> (8 * k));
          }
#endif
          if (!is_max && count > 0) {
            a = a > 0 ? (a + count / 2) / count : (a - count / 2) / count;
          }
          yp[c + k] = (int8_t)ei_clamp_s32(a, lo, hi);
        }
      }
      for (; c < ch; ++c) {
        int32_t a = is_max ? -128 : 0;
        for (iy = ys; iy < ye; ++iy) {
          for (ix = xs; ix < xe; ++ix) {
            const int32_t v = x[(iy * wd + ix) * ch + c];
            a = is_max ? (v > a ? v : a) : a + v;
          }
        }
        if (!is_max && count > 0) {
          a = a > 0 ? (a + count / 2) / count : (a - count / 2) / count;
        }
        yp[c] = (int8_t)ei_clamp_s32(a, lo, hi);
      }
    }
  }
}

void ei_avgpool2d_s8(const int32_t *geom, const int8_t *x, int8_t *y)
{
  ei_pool_opt(geom, x, y, 0);
}

void ei_maxpool2d_s8(const int32_t *geom, const int8_t *x, int8_t *y)
{
  ei_pool_opt(geom, x, y, 1);
}
