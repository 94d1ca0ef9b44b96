/* ei_pool.c: float32 2-D max and average pooling (see ei_nn.h). */
#include <math.h>
#include "ei_nn.h"

static void ei_pool2d_f32(const int32_t *g, const float *x, float *y, int is_max)
{
  const int32_t c = g[EI_POOL_C], h = g[EI_POOL_H], w = g[EI_POOL_W], oh = g[EI_POOL_OH], ow = g[EI_POOL_OW];
  const int32_t kh = g[EI_POOL_KH], kw = g[EI_POOL_KW], sh = g[EI_POOL_SH], sw = g[EI_POOL_SW];
  const int32_t dh = g[EI_POOL_DH], dw = g[EI_POOL_DW], pt = g[EI_POOL_PT], pl = g[EI_POOL_PL];
  const int32_t hb = h + g[EI_POOL_PB], wr = w + g[EI_POOL_PR], incl = g[EI_POOL_INCLUDE_PAD];
  int32_t ch, oy, ox, ky, kx;
  for (ch = 0; ch < c; ++ch) {
    const float *xc = x + ch * h * w;
    for (oy = 0; oy < oh; ++oy) {
      for (ox = 0; ox < ow; ++ox) {
        float acc = is_max ? -INFINITY : 0.0f;
        int32_t n = 0;
        for (ky = 0; ky < kh; ++ky) {
          const int32_t iy = oy * sh + ky * dh - pt;
          if (iy >= hb) break;
          for (kx = 0; kx < kw; ++kx) {
            const int32_t ix = ox * sw + kx * dw - pl;
            if (ix >= wr) break;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              n += incl;  /* a padding position: counted only by count_include_pad */
              continue;
            }
            if (is_max) {
              if (xc[iy * w + ix] > acc) acc = xc[iy * w + ix];
            } else {
              acc += xc[iy * w + ix];
            }
            ++n;
          }
        }
        y[(ch * oh + oy) * ow + ox] = is_max ? acc : (n > 0 ? acc / (float)n : 0.0f);
      }
    }
  }
}

void ei_maxpool2d_f32(const int32_t *geom, const float *x, float *y)
{
  ei_pool2d_f32(geom, x, y, 1);
}

void ei_avgpool2d_f32(const int32_t *geom, const float *x, float *y)
{
  ei_pool2d_f32(geom, x, y, 0);
}
