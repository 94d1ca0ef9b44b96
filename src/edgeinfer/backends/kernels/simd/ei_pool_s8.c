/* ei_pool_s8.c (vectorised twin, see ei_int8_simd.h): int8 average and max pooling with the
 * signatures and output bytes of ../ei_pool_s8.c (windows clipped to the input; the average
 * divides by the clipped count, halves away from zero). Channels are contiguous in NHWC, so each
 * window tap is one run of up to 64 channels combined element by element: loops the compiler
 * vectorises (VPMAXSB, widening adds) without intrinsics. */
#include "ei_int8_simd.h"

#define EI_POOL_CHUNK 64

static void ei_pool_simd(const int32_t *g, const int8_t *x, int8_t *y, int32_t is_max)
{
  const int32_t h = g[EI_QP_H], wd = g[EI_QP_W], ch = g[EI_QP_C];
  const int32_t lo = g[EI_QP_ACT_MIN], hi = g[EI_QP_ACT_MAX];
  int32_t oy, ox, c0, c, iy, ix;
  for (oy = 0; oy < g[EI_QP_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QP_SH] - g[EI_QP_PT];
    const int32_t ys = y0 < 0 ? 0 : y0, ye = y0 + g[EI_QP_KH] > h ? h : y0 + g[EI_QP_KH];
    for (ox = 0; ox < g[EI_QP_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QP_SW] - g[EI_QP_PL];
      const int32_t xs = x0 < 0 ? 0 : x0, xe = x0 + g[EI_QP_KW] > wd ? wd : x0 + g[EI_QP_KW];
      const int32_t count = (ye > ys ? ye - ys : 0) * (xe > xs ? xe - xs : 0);
      int8_t *yp = y + (oy * g[EI_QP_OW] + ox) * ch;
      for (c0 = 0; c0 < ch; c0 += EI_POOL_CHUNK) {
        const int32_t n = ch - c0 < EI_POOL_CHUNK ? ch - c0 : EI_POOL_CHUNK;
        if (is_max) {
          int8_t m[EI_POOL_CHUNK];
          for (c = 0; c < n; ++c) {
            m[c] = -128;
          }
          for (iy = ys; iy < ye; ++iy) {
            for (ix = xs; ix < xe; ++ix) {
              const int8_t *xp = x + (iy * wd + ix) * ch + c0;
              for (c = 0; c < n; ++c) {
                m[c] = xp[c] > m[c] ? xp[c] : m[c];
              }
            }
          }
          for (c = 0; c < n; ++c) {
            yp[c0 + c] = (int8_t)ei_clamp_s32(m[c], lo, hi);
          }
        } else {
          int32_t s[EI_POOL_CHUNK];
          for (c = 0; c < n; ++c) {
            s[c] = 0;
          }
          for (iy = ys; iy < ye; ++iy) {
            for (ix = xs; ix < xe; ++ix) {
              const int8_t *xp = x + (iy * wd + ix) * ch + c0;
              for (c = 0; c < n; ++c) {
                s[c] += xp[c];
              }
            }
          }
          for (c = 0; c < n; ++c) {
            int32_t v = s[c];
            if (count > 0) {
              v = v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
            }
            yp[c0 + c] = (int8_t)ei_clamp_s32(v, lo, hi);
          }
        }
      }
    }
  }
}

void ei_avgpool2d_s8(const int32_t *geom, const int8_t *x, int8_t *y)
{
  ei_pool_simd(geom, x, y, 0);
}

void ei_maxpool2d_s8(const int32_t *geom, const int8_t *x, int8_t *y)
{
  ei_pool_simd(geom, x, y, 1);
}
