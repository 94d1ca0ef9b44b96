/* ei_conv_s8.c (optimised twin): int8 convolution and depthwise convolution with the
 * signatures and results of the reference kernels (../ei_conv_s8.c).
 *
 * Convolution, DSP cores: im2col of two output pixels into a static int16 buffer, then a
 * 2 output channels x 2 pixels SMLAD micro-kernel over it (see ei_conv_im2col). Receptive
 * fields above EI_OPT_COL_K bytes, and cores without DSP, take the direct path: 2 pixels x
 * 2 channels per block, a kernel row whose taps all lie inside the input being one
 * contiguous run of kw * c_in bytes in both input and weights (NHWC, weights (c_out, kh, kw,
 * c_in)), so one dot product. Depthwise: 4 channels per word, one multiply-accumulate per
 * lane (SMLABB / SMLATT on sign-extended pairs), the valid tap window computed once per
 * pixel and a full 3-tap row unrolled. See ei_int8_opt.h for the DSP / portable split and
 * the requantization. */
#include "ei_int8_opt.h"

/* acc[0..3] += dot(x0|x1, w0|w1) over n bytes, inputs offset by -zp: (x0,w0) (x0,w1) (x1,w0) (x1,w1). */
static void ei_dot_2x2(const int8_t *x0, const int8_t *x1, const int8_t *w0, const int8_t *w1, int32_t n,
                       int32_t zp, int32_t *acc)
{
  int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if EI_OPT_DSP
  const uint32_t off = ((uint32_t)(uint16_t)(int16_t)-zp) * 0x10001u;
  for (; n >= 4; n -= 4) {
    const uint32_t xa = ei_opt_ld32(x0), xb = ei_opt_ld32(x1), wa = ei_opt_ld32(w0), wb = ei_opt_ld32(w1);
    const int16x2_t xae = __sxtab16(off, xa), xao = ei_opt_sxtab16_ror8(off, xa);
    const int16x2_t xbe = __sxtab16(off, xb), xbo = ei_opt_sxtab16_ror8(off, xb);
    const int16x2_t wae = __sxtb16(wa), wao = ei_opt_sxtb16_ror8(wa);
    const int16x2_t wbe = __sxtb16(wb), wbo = ei_opt_sxtb16_ror8(wb);
    a00 = __smlad(xae, wae, a00);
    a00 = __smlad(xao, wao, a00);
    a01 = __smlad(xae, wbe, a01);
    a01 = __smlad(xao, wbo, a01);
    a10 = __smlad(xbe, wae, a10);
    a10 = __smlad(xbo, wao, a10);
    a11 = __smlad(xbe, wbe, a11);
    a11 = __smlad(xbo, wbo, a11);
    x0 += 4;
    x1 += 4;
    w0 += 4;
    w1 += 4;
  }
#else
  for (; n >= 2; n -= 2) {
    const int32_t xa0 = x0[0] - zp, xa1 = x0[1] - zp, xb0 = x1[0] - zp, xb1 = x1[1] - zp;
    const int32_t wa0 = w0[0], wa1 = w0[1], wb0 = w1[0], wb1 = w1[1];
    a00 += xa0 * wa0 + xa1 * wa1;
    a01 += xa0 * wb0 + xa1 * wb1;
    a10 += xb0 * wa0 + xb1 * wa1;
    a11 += xb0 * wb0 + xb1 * wb1;
    x0 += 2;
    x1 += 2;
    w0 += 2;
    w1 += 2;
  }
#endif
  for (; n > 0; --n) {
    const int32_t xa = *x0++ - zp, xb = *x1++ - zp, wa = *w0++, wb = *w1++;
    a00 += xa * wa;
    a01 += xa * wb;
    a10 += xb * wa;
    a11 += xb * wb;
  }
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

/* One block: pixels (oy, ox) and (oy, ox + 1 if two_px), channels m and m + 1 (if two_ch). */
static void ei_conv_block(const int32_t *g, const int8_t *x, const int8_t *w, int32_t oy, int32_t ox, int32_t m,
                          int32_t two_px, int32_t two_ch, int32_t *acc)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t sw = g[EI_QC_SW], dw = g[EI_QC_DW], zp = g[EI_QC_IN_ZP];
  const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT], xa = ox * sw - g[EI_QC_PL], xb = xa + (two_px ? sw : 0);
  const int32_t klen = kh * kw * cin;
  /* a row of taps is contiguous when undilated and inside the input for both pixels */
  const int32_t row_ok = dw == 1 && xa >= 0 && xb + kw <= wd;
  const int8_t *wm0 = w + m * klen, *wm1 = two_ch ? wm0 + klen : wm0;
  int32_t ky, kx, t[4];
  for (ky = 0; ky < kh; ++ky) {
    const int32_t iy = y0 + ky * g[EI_QC_DH];
    const int8_t *xrow = x + iy * wd * cin;
    const int32_t wofs = ky * kw * cin;
    if (iy < 0 || iy >= h) {
      continue;
    }
    if (row_ok) {
      ei_dot_2x2(xrow + xa * cin, xrow + xb * cin, wm0 + wofs, wm1 + wofs, kw * cin, zp, acc);
      continue;
    }
    for (kx = 0; kx < kw; ++kx) {
      const int32_t ia = xa + kx * dw, ib = xb + kx * dw;
      const int32_t va = ia >= 0 && ia < wd, vb = ib >= 0 && ib < wd;
      if (!va && !vb) {
        continue;
      }
      t[0] = t[1] = t[2] = t[3] = 0;
      ei_dot_2x2(xrow + (va ? ia : ib) * cin, xrow + (vb ? ib : ia) * cin, wm0 + wofs + kx * cin,
                 wm1 + wofs + kx * cin, cin, zp, t);
      if (va) {
        acc[0] += t[0];
        acc[1] += t[1];
      }
      if (vb) {
        acc[2] += t[2];
        acc[3] += t[3];
      }
    }
  }
}

#if EI_OPT_DSP
/* im2col path (DSP only): the receptive fields of two output pixels are gathered once, offset by
 * -in_zp and widened to int16 in SXTB16 lane order, into a static scratch buffer; every output
 * channel pair then runs a 2x2 micro-kernel over it (CMSIS-NN's arm_nn_mat_mult_kernel_s8_s16
 * scheme). The buffer layout interleaves the two columns per 4 taps, words
 *   [A(k0,k2), A(k1,k3), B(k0,k2), B(k1,k3)],
 * so one pointer walks both and a weight word's SXTB16 / SXTB16 ROR 8 halves meet their inputs
 * without repacking. Padding taps are zero after the offset. Sized statically (no heap):
 * layers with a receptive field above EI_OPT_COL_K bytes take the direct path below. */
#ifndef EI_OPT_COL_K
#define EI_OPT_COL_K 640
#endif
static uint32_t ei_opt_col[EI_OPT_COL_K];             /* 2 columns x EI_OPT_COL_K int16 */
static int8_t ei_opt_stage[2][EI_OPT_COL_K];           /* gathered int8 fields of the 2 pixels */

/* Copy n bytes a word at a time (newlib-nano's memcpy copies bytes); unaligned words are fine
 * on the DSP cores this path is built for. */
static void ei_copy(int8_t *d, const int8_t *s, int32_t n)
{
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t v = ei_opt_ld32(s + i);
    memcpy(d + i, &v, sizeof v);
  }
  for (; i < n; ++i) {
    d[i] = s[i];
  }
}

/* Gather pixel (oy, ox)'s receptive field (kh, kw, c_in order) into dst; padding reads as in_zp. */
static const int8_t *ei_gather(const int32_t *g, const int8_t *x, int32_t oy, int32_t ox, int8_t *dst)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t dw = g[EI_QC_DW], zp = g[EI_QC_IN_ZP];
  const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT], x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
  const int32_t run = kw * cin;
  int32_t ky, kx;
  if (kh == 1 && kw == 1 && y0 >= 0 && y0 < h && x0 >= 0 && x0 < wd) {
    return x + (y0 * wd + x0) * cin;                    /* pointwise: the field is the pixel */
  }
  for (ky = 0; ky < kh; ++ky) {
    const int32_t iy = y0 + ky * g[EI_QC_DH];
    int8_t *d = dst + ky * run;
    if (iy < 0 || iy >= h) {
      memset(d, zp, (size_t)run);
    } else if (dw == 1 && x0 >= 0 && x0 + kw <= wd) {
      ei_copy(d, x + (iy * wd + x0) * cin, run);
    } else {
      for (kx = 0; kx < kw; ++kx) {
        const int32_t ix = x0 + kx * dw;
        if (ix < 0 || ix >= wd) {
          memset(d + kx * cin, zp, (size_t)cin);
        } else {
          ei_copy(d + kx * cin, x + (iy * wd + ix) * cin, cin);
        }
      }
    }
  }
  return dst;
}

/* Widen the first k4 (a multiple of 4) bytes of two gathered fields into ei_opt_col. */
static void ei_widen2(const int8_t *a, const int8_t *b, int32_t k4, int32_t zp)
{
  const uint32_t off = ((uint32_t)(uint16_t)(int16_t)-zp) * 0x10001u;
  uint32_t *c = ei_opt_col;
  const uint32_t *end = c + k4;
  while (c != end) {
    const uint32_t va = ei_opt_ld32(a), vb = ei_opt_ld32(b);
    c[0] = (uint32_t)__sxtab16(off, va);
    c[1] = (uint32_t)ei_opt_sxtab16_ror8(off, va);
    c[2] = (uint32_t)__sxtab16(off, vb);
    c[3] = (uint32_t)ei_opt_sxtab16_ror8(off, vb);
    c += 4;
    a += 4;
    b += 4;
  }
}

/* acc (A,w0) (A,w1) (B,w0) (B,w1) += dot over k4 taps of ei_opt_col and two weight rows. The
 * weight words and the first halves of both columns are loaded back to back (pipelined loads),
 * 13 live registers: no spills at -O2 -fno-schedule-insns (checked with objdump). */
static void ei_mm_2x2(const int8_t *w0, const int8_t *w1, int32_t k4, int32_t *acc)
{
  int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
  const uint32_t *c = ei_opt_col;
  const uint32_t *end = c + k4;
  /* two 4-tap groups per pass (8 taps: one loop test per 32 MACs), then the odd group */
#define EI_MM_GROUP(o)                                                                                             \
  do {                                                                                                             \
    const uint32_t wa = ei_opt_ld32(w0 + (o)), wb = ei_opt_ld32(w1 + (o));                                         \
    uint32_t xa = c[(o)], xb = c[(o) + 2];                                                                         \
    int16x2_t t = __sxtb16(wa), u = __sxtb16(wb);                                                                  \
    a00 = __smlad((int16x2_t)xa, t, a00);                                                                          \
    a01 = __smlad((int16x2_t)xa, u, a01);                                                                          \
    a10 = __smlad((int16x2_t)xb, t, a10);                                                                          \
    a11 = __smlad((int16x2_t)xb, u, a11);                                                                          \
    xa = c[(o) + 1];                                                                                               \
    xb = c[(o) + 3];                                                                                               \
    t = ei_opt_sxtb16_ror8(wa);                                                                                    \
    u = ei_opt_sxtb16_ror8(wb);                                                                                    \
    a00 = __smlad((int16x2_t)xa, t, a00);                                                                          \
    a01 = __smlad((int16x2_t)xa, u, a01);                                                                          \
    a10 = __smlad((int16x2_t)xb, t, a10);                                                                          \
    a11 = __smlad((int16x2_t)xb, u, a11);                                                                          \
  } while (0)
  if (k4 & 4) {
    EI_MM_GROUP(0);
    c += 4;
    w0 += 4;
    w1 += 4;
  }
  while (c != end) {
    EI_MM_GROUP(0);
    EI_MM_GROUP(4);
    c += 8;
    w0 += 8;
    w1 += 8;
  }
#undef EI_MM_GROUP
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

/* The im2col path for a whole layer (klen <= EI_OPT_COL_K). */
static void ei_conv_im2col(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                           const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t oh = g[EI_QC_OH], ow = g[EI_QC_OW], cout = g[EI_QC_COUT], in_zp = g[EI_QC_IN_ZP];
  const int32_t zp = g[EI_QC_OUT_ZP], lo = g[EI_QC_ACT_MIN], hi = g[EI_QC_ACT_MAX];
  const int32_t klen = g[EI_QC_KH] * g[EI_QC_KW] * g[EI_QC_CIN], k4 = klen & ~3;
  const int32_t npix = oh * ow;
  int32_t p, m, k, acc[4];
  for (p = 0; p < npix; p += 2) {
    const int32_t two_px = p + 1 < npix, pb = two_px ? p + 1 : p;
    const int8_t *fa = ei_gather(g, x, p / ow, p % ow, ei_opt_stage[0]);
    const int8_t *fb = ei_gather(g, x, pb / ow, pb % ow, ei_opt_stage[1]);
    int8_t *ya = y + p * cout, *yb = y + pb * cout;
    ei_widen2(fa, fb, k4, in_zp);
    for (m = 0; m < cout; m += 2) {
      const int32_t two_ch = m + 1 < cout, mb = two_ch ? m + 1 : m;
      const int8_t *w0 = w + m * klen, *w1 = w + mb * klen;
      const int32_t b0 = bias ? bias[m] : 0, b1 = bias ? bias[mb] : 0;
      acc[0] = b0;
      acc[1] = b1;
      acc[2] = b0;
      acc[3] = b1;
      ei_mm_2x2(w0, w1, k4, acc);
      for (k = k4; k < klen; ++k) {
        const int32_t xa = fa[k] - in_zp, xb = fb[k] - in_zp;
        acc[0] += xa * w0[k];
        acc[1] += xa * w1[k];
        acc[2] += xb * w0[k];
        acc[3] += xb * w1[k];
      }
      {
        /* a missing second channel (pixel) repeats the first, so its results equal the first's
         * and the four stores need no tests; all are computed before any store, as int8 stores
         * may alias the tables and would force their reloads */
        const int32_t r00 = ei_opt_requant(acc[0], mult[m], shift[m], zp, lo, hi);
        const int32_t r01 = ei_opt_requant(acc[1], mult[mb], shift[mb], zp, lo, hi);
        const int32_t r10 = ei_opt_requant(acc[2], mult[m], shift[m], zp, lo, hi);
        const int32_t r11 = ei_opt_requant(acc[3], mult[mb], shift[mb], zp, lo, hi);
        ya[m] = (int8_t)r00;
        ya[mb] = (int8_t)r01;
        yb[m] = (int8_t)r10;
        yb[mb] = (int8_t)r11;
      }
    }
  }
}
#endif

/* The reference loop, for grouped convolutions (none in the usual models). */
static void ei_conv_grouped(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y)
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
        int32_t acc = bias ? bias[m] : 0;
        for (ky = 0; ky < kh; ++ky) {
          const int32_t iy = y0 + ky * g[EI_QC_DH];
          if (iy < 0 || iy >= h) {
            continue;
          }
          for (kx = 0; kx < kw; ++kx) {
            const int32_t ix = x0 + kx * g[EI_QC_DW];
            const int8_t *xp = x + (iy * wd + ix) * cin + c0, *wp = w + ((m * kh + ky) * kw + kx) * cg;
            if (ix < 0 || ix >= wd) {
              continue;
            }
            for (c = 0; c < cg; ++c) {
              acc += ((int32_t)xp[c] - in_zp) * (int32_t)wp[c];
            }
          }
        }
        y[(oy * g[EI_QC_OW] + ox) * cout + m] = (int8_t)ei_opt_requant(
            acc, mult[m], shift[m], g[EI_QC_OUT_ZP], g[EI_QC_ACT_MIN], g[EI_QC_ACT_MAX]);
      }
    }
  }
}

void ei_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                  const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t oh = g[EI_QC_OH], ow = g[EI_QC_OW], cout = g[EI_QC_COUT];
  const int32_t zp = g[EI_QC_OUT_ZP], lo = g[EI_QC_ACT_MIN], hi = g[EI_QC_ACT_MAX];
  int32_t oy, ox, m, acc[4];
  if (g[EI_QC_GROUPS] != 1) {
    ei_conv_grouped(g, x, w, bias, mult, shift, y);
    return;
  }
#if EI_OPT_DSP
  if (g[EI_QC_KH] * g[EI_QC_KW] * g[EI_QC_CIN] <= EI_OPT_COL_K) {
    ei_conv_im2col(g, x, w, bias, mult, shift, y);
    return;
  }
#endif
  for (oy = 0; oy < oh; ++oy) {
    for (ox = 0; ox < ow; ox += 2) {
      const int32_t two_px = ox + 1 < ow;
      int8_t *ya = y + (oy * ow + ox) * cout, *yb = ya + cout;
      for (m = 0; m < cout; m += 2) {
        const int32_t two_ch = m + 1 < cout;
        const int32_t b0 = bias ? bias[m] : 0, b1 = bias && two_ch ? bias[m + 1] : 0;
        acc[0] = b0;
        acc[1] = b1;
        acc[2] = b0;
        acc[3] = b1;
        ei_conv_block(g, x, w, oy, ox, m, two_px, two_ch, acc);
        ya[m] = (int8_t)ei_opt_requant(acc[0], mult[m], shift[m], zp, lo, hi);
        if (two_ch) {
          ya[m + 1] = (int8_t)ei_opt_requant(acc[1], mult[m + 1], shift[m + 1], zp, lo, hi);
        }
        if (two_px) {
          yb[m] = (int8_t)ei_opt_requant(acc[2], mult[m], shift[m], zp, lo, hi);
          if (two_ch) {
            yb[m + 1] = (int8_t)ei_opt_requant(acc[3], mult[m + 1], shift[m + 1], zp, lo, hi);
          }
        }
      }
    }
  }
}

/* Depthwise, 4 channels of one output pixel over the taps [ky0, ky1) x [kx0, kx1) (all inside the
 * input): x and w point at the first tap's channel m; xs / ws step one tap right, xr / wr one
 * tap down. Accumulators stay in registers; a full 3-tap row (the 3x3 interior) is unrolled. */
static void ei_dw4(const int8_t *x, const int8_t *w, int32_t nky, int32_t nkx, int32_t xs, int32_t ws,
                   int32_t xr, int32_t wr, int32_t zp, int32_t *acc)
{
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], ky, kx;
#if EI_OPT_DSP
  const uint32_t off = ((uint32_t)(uint16_t)(int16_t)-zp) * 0x10001u;
#define EI_DW_TAP(xp, wp)                                                                                          \
  do {                                                                                                             \
    const uint32_t xv_ = ei_opt_ld32(xp), wv_ = ei_opt_ld32(wp);                                                   \
    const int16x2_t xe_ = __sxtab16(off, xv_), we_ = __sxtb16(wv_);                                                \
    const int16x2_t xo_ = ei_opt_sxtab16_ror8(off, xv_), wo_ = ei_opt_sxtb16_ror8(wv_);                            \
    a0 = __smlabb(xe_, we_, a0);                                                                                   \
    a2 = __smlatt(xe_, we_, a2);                                                                                   \
    a1 = __smlabb(xo_, wo_, a1);                                                                                   \
    a3 = __smlatt(xo_, wo_, a3);                                                                                   \
  } while (0)
#else
#define EI_DW_TAP(xp, wp)                                                                                          \
  do {                                                                                                             \
    a0 += ((xp)[0] - zp) * (wp)[0];                                                                                \
    a1 += ((xp)[1] - zp) * (wp)[1];                                                                                \
    a2 += ((xp)[2] - zp) * (wp)[2];                                                                                \
    a3 += ((xp)[3] - zp) * (wp)[3];                                                                                \
  } while (0)
#endif
  for (ky = 0; ky < nky; ++ky) {
    if (nkx == 3) {
      EI_DW_TAP(x, w);
      EI_DW_TAP(x + xs, w + ws);
      EI_DW_TAP(x + 2 * xs, w + 2 * ws);
    } else {
      const int8_t *xp = x, *wp = w;
      for (kx = 0; kx < nkx; ++kx) {
        EI_DW_TAP(xp, wp);
        xp += xs;
        wp += ws;
      }
    }
    x += xr;
    w += wr;
  }
#undef EI_DW_TAP
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

void ei_depthwise_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t cout = g[EI_QC_COUT], dm = g[EI_QC_GROUPS], in_zp = g[EI_QC_IN_ZP];
  const int32_t zp = g[EI_QC_OUT_ZP], lo = g[EI_QC_ACT_MIN], hi = g[EI_QC_ACT_MAX];
  const int32_t dh = g[EI_QC_DH], dwl = g[EI_QC_DW];
  /* channel blocks of 4 need one input channel per output channel */
  const int32_t c4 = dm == 1 ? cout & ~3 : 0;
  int32_t oy, ox, m, ky, kx, acc[4];
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT];
    const int32_t ky0 = y0 < 0 ? (-y0 + dh - 1) / dh : 0;
    int32_t ky1 = kh;
    while (ky1 > ky0 && y0 + (ky1 - 1) * dh >= h) {
      --ky1;
    }
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
      const int32_t kx0 = x0 < 0 ? (-x0 + dwl - 1) / dwl : 0;
      int32_t kx1 = kw;
      int8_t *yp = y + (oy * g[EI_QC_OW] + ox) * cout;
      const int8_t *xb = x, *wb = w;
      while (kx1 > kx0 && x0 + (kx1 - 1) * dwl >= wd) {
        --kx1;
      }
      if (ky1 > ky0 && kx1 > kx0) {
        xb = x + ((y0 + ky0 * dh) * wd + x0 + kx0 * dwl) * cin;
        wb = w + (ky0 * kw + kx0) * cout;
      }
      for (m = 0; m < c4; m += 4) {
        acc[0] = bias ? bias[m] : 0;
        acc[1] = bias ? bias[m + 1] : 0;
        acc[2] = bias ? bias[m + 2] : 0;
        acc[3] = bias ? bias[m + 3] : 0;
        if (ky1 > ky0 && kx1 > kx0) {
          ei_dw4(xb + m, wb + m, ky1 - ky0, kx1 - kx0, dwl * cin, cout, dh * wd * cin, kw * cout, in_zp, acc);
        }
        /* SMLABB / SMLATT on (c0, c2) and (c1, c3) leave the accumulators in channel order;
         * all four results before the stores (int8 stores may alias the tables) */
        {
          const int32_t r0 = ei_opt_requant(acc[0], mult[m], shift[m], zp, lo, hi);
          const int32_t r1 = ei_opt_requant(acc[1], mult[m + 1], shift[m + 1], zp, lo, hi);
          const int32_t r2 = ei_opt_requant(acc[2], mult[m + 2], shift[m + 2], zp, lo, hi);
          const int32_t r3 = ei_opt_requant(acc[3], mult[m + 3], shift[m + 3], zp, lo, hi);
          yp[m] = (int8_t)r0;
          yp[m + 1] = (int8_t)r1;
          yp[m + 2] = (int8_t)r2;
          yp[m + 3] = (int8_t)r3;
        }
      }
      for (; m < cout; ++m) {
        const int32_t c = m / dm;
        int32_t a = bias ? bias[m] : 0;
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
            a += ((int32_t)x[(iy * wd + ix) * cin + c] - in_zp) * (int32_t)w[(ky * kw + kx) * cout + m];
          }
        }
        yp[m] = (int8_t)ei_opt_requant(a, mult[m], shift[m], zp, lo, hi);
      }
    }
  }
}
