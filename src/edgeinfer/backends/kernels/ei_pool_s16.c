/* ei_pool_s16.c: int16 (16x8) average and max pooling (TFLite Micro reference kernels): windows are
 * clipped to the input; the average divides by the clipped count, rounding halves away from 0. */
#include "ei_int8.h"
#include "ei_int16.h"

static void ei_pool_s16(const int32_t *g, const int16_t *x, int16_t *y, int32_t is_max)
{
  const int32_t h = g[EI_QP_H], wd = g[EI_QP_W], ch = g[EI_QP_C];
  int32_t oy, ox, c, iy, ix;
  for (oy = 0; oy < g[EI_QP_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QP_SH] - g[EI_QP_PT];
    const int32_t ys = y0 < 0 ? 0 : y0, ye = y0 + g[EI_QP_KH] > h ? h : y0 + g[EI_QP_KH];
    for (ox = 0; ox < g[EI_QP_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QP_SW] - g[EI_QP_PL];
      const int32_t xs = x0 < 0 ? 0 : x0, xe = x0 + g[EI_QP_KW] > wd ? wd : x0 + g[EI_QP_KW];
      for (c = 0; c < ch; ++c) {
        int32_t acc = is_max ? -32768 : 0, count = 0;
        for (iy = ys; iy < ye; ++iy) {
          for (ix = xs; ix < xe; ++ix) {
            const int32_t v = x[(iy * wd + ix) * ch + c];
            if (is_max) {
              acc = v > acc ? v : acc;
            } else {
              acc += v;
            }
            ++count;
          }
        }
        if (!is_max && count > 0) {
          acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        }
        y[(oy * g[EI_QP_OW] + ox) * ch + c] = (int16_t)ei_clamp_s32(acc, g[EI_QP_ACT_MIN], g[EI_QP_ACT_MAX]);
      }
    }
  }
}

void ei_avgpool2d_s16(const int32_t *geom, const int16_t *x, int16_t *y)
{
  ei_pool_s16(geom, x, y, 0);
}

void ei_maxpool2d_s16(const int32_t *geom, const int16_t *x, int16_t *y)
{
  ei_pool_s16(geom, x, y, 1);
}
