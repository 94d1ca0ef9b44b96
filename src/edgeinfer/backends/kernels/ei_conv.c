/* ei_conv.c: float32 2-D convolution and transposed convolution (see ei_nn.h). */
#include <string.h>
#include "ei_nn.h"

static void ei_clamp_f32(float *y, int32_t n, float lo, float hi)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    float v = y[i] < lo ? lo : y[i];
    y[i] = v > hi ? hi : v;
  }
}

/* Register-blocked direct convolution. Output channels go in blocks of EI_MB (4) sharing one
 * input read, output columns in blocks of 8 (two 4-float groups), so that gcc -O2 turns the
 * fixed-count inner loops into SIMD on accumulators that stay in registers; border columns
 * (where a tap falls in the padding) take the scalar path. A 1x1 stride-1 unpadded conv is
 * the same loop over one long row (the whole plane): a GEMM without im2col. */
#define EI_MB 4

/* The blocks stay separate functions: inlined into the layer loop, their accumulators spill. */
#if defined(__GNUC__)
#define EI_NOINLINE __attribute__((noinline))
#else
#define EI_NOINLINE
#endif

static float ei_clampf(float v, float lo, float hi)
{
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

/* nb (1..EI_MB) output channels at one output position, checking every tap's bounds. */
static void ei_conv_point(const float *xg, const float *wm, const float *bm, int32_t nb, int32_t cg,
                          const int32_t *d, int32_t oy, int32_t ox, float lo, float hi, float *ym, int32_t oplane)
{
  const int32_t h = d[0], wd = d[1], kh = d[2], kw = d[3], sh = d[4], sw = d[5], dh = d[6], dw = d[7];
  const int32_t pt = d[8], pl = d[9], ow = d[10], ksz = kh * kw;
  const int32_t iy0 = oy * sh - pt, ix0 = ox * sw - pl;
  int32_t q, c, ky, kx, ky0 = 0, ky1 = kh, kx0 = 0, kx1 = kw;
  /* the taps inside the input, found once for the position instead of tested per tap */
  while (ky0 < kh && iy0 + ky0 * dh < 0) ++ky0;
  while (ky1 > ky0 && iy0 + (ky1 - 1) * dh >= h) --ky1;
  while (kx0 < kw && ix0 + kx0 * dw < 0) ++kx0;
  while (kx1 > kx0 && ix0 + (kx1 - 1) * dw >= wd) --kx1;
  for (q = 0; q < nb; ++q) {
    const float *wq = wm + q * cg * ksz;
    float acc = bm ? bm[q] : 0.0f;
    for (c = 0; c < cg; ++c) {
      for (ky = ky0; ky < ky1; ++ky) {
        const float *xr = xg + (c * h + iy0 + ky * dh) * wd + ix0;
        const float *wr = wq + (c * kh + ky) * kw;
        for (kx = kx0; kx < kx1; ++kx) acc += wr[kx] * xr[kx * dw];
      }
    }
    ym[q * oplane + oy * ow + ox] = ei_clampf(acc, lo, hi);
  }
}

/* EI_MB output channels x 8 output columns, every tap's columns inside the row. */
EI_NOINLINE static void ei_conv_block4(const float *xg, const float *wm, const float *bm, int32_t cg, const int32_t *d,
                           int32_t oy, int32_t ox, float lo, float hi, float *ym, int32_t oplane)
{
  const int32_t h = d[0], wd = d[1], kh = d[2], kw = d[3], sh = d[4], sw = d[5], dh = d[6], dw = d[7];
  const int32_t pt = d[8], pl = d[9], ow = d[10], ksz = kh * kw, wstep = cg * ksz;
  float a0[4], a1[4], a2[4], a3[4], c0[4], c1[4], c2[4], c3[4], xv[8];
  int32_t c, ky, kx, j;
  for (j = 0; j < 4; ++j) {
    a0[j] = c0[j] = bm ? bm[0] : 0.0f;
    a1[j] = c1[j] = bm ? bm[1] : 0.0f;
    a2[j] = c2[j] = bm ? bm[2] : 0.0f;
    a3[j] = c3[j] = bm ? bm[3] : 0.0f;
  }
  for (c = 0; c < cg; ++c) {
    for (ky = 0; ky < kh; ++ky) {
      const int32_t iy = oy * sh + ky * dh - pt;
      const float *xr;
      const float *wk;
      if (iy < 0 || iy >= h) continue;
      xr = xg + (c * h + iy) * wd + ox * sw - pl;
      wk = wm + (c * kh + ky) * kw;
      for (kx = 0; kx < kw; ++kx) {
        const float *xp = xr + kx * dw;
        const float v0 = wk[kx], v1 = wk[wstep + kx], v2 = wk[2 * wstep + kx], v3 = wk[3 * wstep + kx];
        if (sw == 1) {
          for (j = 0; j < 4; ++j) {
            a0[j] += v0 * xp[j]; a1[j] += v1 * xp[j]; a2[j] += v2 * xp[j]; a3[j] += v3 * xp[j];
            c0[j] += v0 * xp[j + 4]; c1[j] += v1 * xp[j + 4]; c2[j] += v2 * xp[j + 4]; c3[j] += v3 * xp[j + 4];
          }
        } else {
          for (j = 0; j < 8; ++j) xv[j] = xp[j * sw];
          for (j = 0; j < 4; ++j) {
            a0[j] += v0 * xv[j]; a1[j] += v1 * xv[j]; a2[j] += v2 * xv[j]; a3[j] += v3 * xv[j];
            c0[j] += v0 * xv[j + 4]; c1[j] += v1 * xv[j + 4]; c2[j] += v2 * xv[j + 4]; c3[j] += v3 * xv[j + 4];
          }
        }
      }
    }
  }
  ym += oy * ow + ox;
  for (j = 0; j < 4; ++j) {
    ym[j] = ei_clampf(a0[j], lo, hi); ym[j + 4] = ei_clampf(c0[j], lo, hi);
    ym[oplane + j] = ei_clampf(a1[j], lo, hi); ym[oplane + j + 4] = ei_clampf(c1[j], lo, hi);
    ym[2 * oplane + j] = ei_clampf(a2[j], lo, hi); ym[2 * oplane + j + 4] = ei_clampf(c2[j], lo, hi);
    ym[3 * oplane + j] = ei_clampf(a3[j], lo, hi); ym[3 * oplane + j + 4] = ei_clampf(c3[j], lo, hi);
  }
}

/* One output channel x 8 output columns (depthwise layers, leftover channels). */
EI_NOINLINE static void ei_conv_block1(const float *xg, const float *wm, const float *bm, int32_t cg, const int32_t *d,
                           int32_t oy, int32_t ox, float lo, float hi, float *ym)
{
  const int32_t h = d[0], wd = d[1], kh = d[2], kw = d[3], sh = d[4], sw = d[5], dh = d[6], dw = d[7];
  const int32_t pt = d[8], pl = d[9], ow = d[10];
  float a0[4], c0[4], xv[8];
  int32_t c, ky, kx, j;
  for (j = 0; j < 4; ++j) a0[j] = c0[j] = bm ? bm[0] : 0.0f;
  for (c = 0; c < cg; ++c) {
    for (ky = 0; ky < kh; ++ky) {
      const int32_t iy = oy * sh + ky * dh - pt;
      const float *xr;
      const float *wk;
      if (iy < 0 || iy >= h) continue;
      xr = xg + (c * h + iy) * wd + ox * sw - pl;
      wk = wm + (c * kh + ky) * kw;
      for (kx = 0; kx < kw; ++kx) {
        const float *xp = xr + kx * dw;
        const float v0 = wk[kx];
        if (sw == 1) {
          for (j = 0; j < 4; ++j) { a0[j] += v0 * xp[j]; c0[j] += v0 * xp[j + 4]; }
        } else {
          for (j = 0; j < 8; ++j) xv[j] = xp[j * sw];
          for (j = 0; j < 4; ++j) { a0[j] += v0 * xv[j]; c0[j] += v0 * xv[j + 4]; }
        }
      }
    }
  }
  ym += oy * ow + ox;
  for (j = 0; j < 4; ++j) { ym[j] = ei_clampf(a0[j], lo, hi); ym[j + 4] = ei_clampf(c0[j], lo, hi); }
}

void ei_conv2d_f32(const int32_t *g, const float *x, const float *w, const float *b,
                   float act_min, float act_max, float *y)
{
  const int32_t cin = g[EI_CONV_CIN], cout = g[EI_CONV_COUT], grp = g[EI_CONV_GROUP];
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sw = g[EI_CONV_SW], dw = g[EI_CONV_DW];
  const int32_t pl = g[EI_CONV_PL];
  const int32_t cg = cin / grp, mg = cout / grp, ksz = kh * kw;
  int32_t d[11];
  int32_t h, wd, oh, ow, gi, m, oy, ox, oxa, oxb, nb, plane, oplane;
  h = g[EI_CONV_H]; wd = g[EI_CONV_W]; oh = g[EI_CONV_OH]; ow = g[EI_CONV_OW];
  plane = h * wd;
  oplane = oh * ow;
  if (kh == 1 && kw == 1 && g[EI_CONV_SH] == 1 && sw == 1 && g[EI_CONV_PT] == 0 && pl == 0 && oh == h && ow == wd) {
    h = oh = 1; /* pointwise: the plane as one row */
    wd = ow = plane;
  }
  d[0] = h; d[1] = wd; d[2] = kh; d[3] = kw; d[4] = g[EI_CONV_SH]; d[5] = sw; d[6] = g[EI_CONV_DH]; d[7] = dw;
  d[8] = g[EI_CONV_PT]; d[9] = pl; d[10] = ow;
  /* output columns [oxa, oxb) read only inside the row for every kx */
  oxa = (pl + sw - 1) / sw;
  oxb = wd - 1 - (kw - 1) * dw + pl >= 0 ? (wd - 1 - (kw - 1) * dw + pl) / sw + 1 : 0;
  if (oxb > ow) oxb = ow;
  if (oxa > oxb) oxa = oxb;
  for (gi = 0; gi < grp; ++gi) {
    const float *xg = x + gi * cg * plane;
    for (m = 0; m < mg; m += nb) {
      const int32_t mo = gi * mg + m;
      const float *wm = w + mo * cg * ksz;
      const float *bm = b ? b + mo : b;
      float *ym = y + mo * oplane;
      nb = mg - m >= EI_MB ? EI_MB : 1;
      for (oy = 0; oy < oh; ++oy) {
        for (ox = 0; ox < oxa; ++ox) ei_conv_point(xg, wm, bm, nb, cg, d, oy, ox, act_min, act_max, ym, oplane);
        for (; ox + 8 <= oxb; ox += 8) {
          if (nb == EI_MB) ei_conv_block4(xg, wm, bm, cg, d, oy, ox, act_min, act_max, ym, oplane);
          else ei_conv_block1(xg, wm, bm, cg, d, oy, ox, act_min, act_max, ym);
        }
        for (; ox < ow; ++ox) ei_conv_point(xg, wm, bm, nb, cg, d, oy, ox, act_min, act_max, ym, oplane);
      }
    }
  }
}

/* Fully connected y = x W + b with W stored (n_in, n_out) so that the inner loop runs along
 * contiguous outputs (SIMD without reassociating a dot product); 16 outputs per block stay in
 * registers across the whole n_in loop. Outputs clamped to [act_min, act_max]. */
#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON) || defined(__AVX__))
/* GNU C vectors keep the 16 accumulators in registers at any -O level (gcc -O3's own vectoriser
 * spills the arrays below); the sum over i runs in the same order, so results are identical. */
typedef float ei_fc_v16 __attribute__((vector_size(64), aligned(4)));
#define EI_FC_VECTOR 1
#endif

void ei_fc_f32(const float *x, const float *w, const float *b, int32_t n_in, int32_t n_out,
               float act_min, float act_max, float *y)
{
  int32_t o, i, j;
  for (o = 0; o + 16 <= n_out; o += 16) {
#if defined(EI_FC_VECTOR)
    ei_fc_v16 a, wv;
    float t[16];
    for (j = 0; j < 16; ++j) t[j] = b ? b[o + j] : 0.0f;
    memcpy(&a, t, sizeof a);
    for (i = 0; i < n_in; ++i) {
      memcpy(&wv, w + (long)i * n_out + o, sizeof wv);
      a += x[i] * wv;
    }
    memcpy(t, &a, sizeof t);
    for (j = 0; j < 16; ++j) y[o + j] = ei_clampf(t[j], act_min, act_max);
#else
    float a0[4], a1[4], a2[4], a3[4];
    for (j = 0; j < 4; ++j) {
      a0[j] = b ? b[o + j] : 0.0f; a1[j] = b ? b[o + 4 + j] : 0.0f;
      a2[j] = b ? b[o + 8 + j] : 0.0f; a3[j] = b ? b[o + 12 + j] : 0.0f;
    }
    for (i = 0; i < n_in; ++i) {
      const float xv = x[i];
      const float *wr = w + (long)i * n_out + o;
      for (j = 0; j < 4; ++j) {
        a0[j] += xv * wr[j]; a1[j] += xv * wr[4 + j]; a2[j] += xv * wr[8 + j]; a3[j] += xv * wr[12 + j];
      }
    }
    for (j = 0; j < 4; ++j) {
      y[o + j] = ei_clampf(a0[j], act_min, act_max); y[o + 4 + j] = ei_clampf(a1[j], act_min, act_max);
      y[o + 8 + j] = ei_clampf(a2[j], act_min, act_max); y[o + 12 + j] = ei_clampf(a3[j], act_min, act_max);
    }
#endif
  }
  for (; o < n_out; ++o) {
    float acc = b ? b[o] : 0.0f;
    for (i = 0; i < n_in; ++i) acc += x[i] * w[(long)i * n_out + o];
    y[o] = ei_clampf(acc, act_min, act_max);
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
