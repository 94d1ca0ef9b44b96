/* ei_conv_s8.c (optimised twin): int8 convolution and depthwise convolution with the
 * signatures and results of the reference kernels (../ei_conv_s8.c).
 *
 * Convolution: 2 output pixels x 2 output channels per block, so every input word is
 * used by two channels and every weight word by two pixels. A kernel row whose taps all
 * lie inside the input is one contiguous run of kw * c_in bytes in both the input and
 * the weights (NHWC, weights (c_out, kh, kw, c_in)), so it is one dot product: no
 * im2col buffer is needed. Depthwise: 4 channels per word, one multiply-accumulate per
 * lane (SMLABB / SMLATT on sign-extended pairs). See ei_int8_opt.h for the DSP / portable
 * split and the requantization. */
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

/* acc[0..3] += (x[c] - zp) * w[c] for 4 channels of one tap. */
static void ei_dw_tap4(const int8_t *x, const int8_t *w, int32_t zp, int32_t *acc)
{
#if EI_OPT_DSP
  const uint32_t off = ((uint32_t)(uint16_t)(int16_t)-zp) * 0x10001u;
  const uint32_t xv = ei_opt_ld32(x), wv = ei_opt_ld32(w);
  const int16x2_t xe = __sxtab16(off, xv), xo = ei_opt_sxtab16_ror8(off, xv);
  const int16x2_t we = __sxtb16(wv), wo = ei_opt_sxtb16_ror8(wv);
  acc[0] = __smlabb(xe, we, acc[0]);
  acc[1] = __smlabb(xo, wo, acc[1]);
  acc[2] = __smlatt(xe, we, acc[2]);
  acc[3] = __smlatt(xo, wo, acc[3]);
#else
  acc[0] += (x[0] - zp) * w[0];
  acc[1] += (x[1] - zp) * w[1];
  acc[2] += (x[2] - zp) * w[2];
  acc[3] += (x[3] - zp) * w[3];
#endif
}

void ei_depthwise_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t cout = g[EI_QC_COUT], dm = g[EI_QC_GROUPS], in_zp = g[EI_QC_IN_ZP];
  const int32_t zp = g[EI_QC_OUT_ZP], lo = g[EI_QC_ACT_MIN], hi = g[EI_QC_ACT_MAX];
  /* channel blocks of 4 need one input channel per output channel */
  const int32_t c4 = dm == 1 ? cout & ~3 : 0;
  int32_t oy, ox, m, ky, kx, acc[4];
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT];
    const int32_t kys = y0 < 0 ? (-y0 + g[EI_QC_DH] - 1) / g[EI_QC_DH] : 0;
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
      int8_t *yp = y + (oy * g[EI_QC_OW] + ox) * cout;
      for (m = 0; m < c4; m += 4) {
        acc[0] = bias ? bias[m] : 0;
        acc[1] = bias ? bias[m + 1] : 0;
        acc[2] = bias ? bias[m + 2] : 0;
        acc[3] = bias ? bias[m + 3] : 0;
        for (ky = kys; ky < kh; ++ky) {
          const int32_t iy = y0 + ky * g[EI_QC_DH];
          if (iy >= h) {
            break;
          }
          for (kx = 0; kx < kw; ++kx) {
            const int32_t ix = x0 + kx * g[EI_QC_DW];
            if (ix < 0 || ix >= wd) {
              continue;
            }
            ei_dw_tap4(x + (iy * wd + ix) * cin + m, w + (ky * kw + kx) * cout + m, in_zp, acc);
          }
        }
        /* SMLABB / SMLATT on (c0, c2) and (c1, c3) leave the accumulators in channel order */
        yp[m] = (int8_t)ei_opt_requant(acc[0], mult[m], shift[m], zp, lo, hi);
        yp[m + 1] = (int8_t)ei_opt_requant(acc[1], mult[m + 1], shift[m + 1], zp, lo, hi);
        yp[m + 2] = (int8_t)ei_opt_requant(acc[2], mult[m + 2], shift[m + 2], zp, lo, hi);
        yp[m + 3] = (int8_t)ei_opt_requant(acc[3], mult[m + 3], shift[m + 3], zp, lo, hi);
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
