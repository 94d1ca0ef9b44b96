/* ei_conv_s8.c (vectorised twin, see ei_int8_simd.h): int8 convolution and depthwise
 * convolution with the signatures and output bytes of ../ei_conv_s8.c.
 *
 * Convolution: the output plane is cut into rectangles whose pixels all see the same window of
 * kernel taps inside the input (the interior, and each band along a padded border). A rectangle's
 * pixels are taken EI_SIMD_NR at a time, output channels EI_SIMD_MR at a time, and each block
 * walks the valid taps once for all its dot products: one run of kw * c_in contiguous bytes per
 * kernel row, in the input (NHWC) and the weights (c_out, kh, kw, c_in) alike, or one run of
 * c_in / groups bytes per tap when dilated or grouped. The accumulators stay in registers across
 * the whole walk and are reduced once per block; the block's requantization is vectorised too.
 * When a rectangle or a group's channels run out, a block repeats its last pixel / channel and
 * drops those results.
 *
 * Depthwise (multiplier 1): 16 channels per vector (contiguous in NHWC), one tap at a time; the
 * products (x - zp) * w fit int16 (|255 * 128| < 2^15). Other multipliers take a plain loop. */
#include "ei_int8_simd.h"

#if EI_SIMD_MR != 4 || EI_SIMD_NR % 2 != 0
#error "the block reduction below expects 4 channels and an even number of pixels"
#endif

/* What a block's dot products walk from its first valid tap: nky kernel rows, nrun runs of len
 * bytes per row; offsets between rows / runs in the input (x_*) and the weights (w_*). */
typedef struct {
  int32_t nky, nrun, len, x_row, x_run, w_row, w_run, zp;
} ei_conv_walk;

/* Valid taps [*k0, *k1) of a kernel axis: 0 <= base + k * d < size, k < kk. */
static void ei_conv_taps(int32_t base, int32_t d, int32_t kk, int32_t size, int32_t *k0, int32_t *k1)
{
  int32_t a = base < 0 ? (-base + d - 1) / d : 0;
  int32_t b = size - base <= 0 ? 0 : (size - base + d - 1) / d;
  b = b > kk ? kk : b;
  *k0 = a > b ? b : a;
  *k1 = b;
}

#if EI_SIMD_AVX2
/* acc[p][j] += (x[xo[p] + o + i] - zp) * w[wo[j] + v + i], i < n (a full 16 or a tail). Offsets are
 * summed before they meet a pointer: a block's origin may lie outside the input, its taps never. */
static inline void ei_conv_step(__m256i acc[EI_SIMD_NR][EI_SIMD_MR], const int8_t *x, const int32_t *xo,
                                const int8_t *w, const int32_t *wo, int32_t o, int32_t v, int32_t n, __m256i zp16)
{
  __m256i a[EI_SIMD_NR];
  int32_t p, j;
  for (p = 0; p < EI_SIMD_NR; ++p) {
    const int8_t *src = x + (xo[p] + o);
    a[p] = ei_simd_widen_zp(n == 16 ? ei_simd_load16(src) : ei_simd_load_part(src, n), zp16);
  }
  for (j = 0; j < EI_SIMD_MR; ++j) {
    const int8_t *src = w + (wo[j] + v);
    const __m256i b = _mm256_cvtepi8_epi16(n == 16 ? ei_simd_load16(src) : ei_simd_load_part(src, n));
    for (p = 0; p < EI_SIMD_NR; ++p) {
      acc[p][j] = ei_simd_dpwssd(acc[p][j], a[p], b);
    }
  }
}
#endif

/* sums[p * MR + j] = sum over the walk of (x[xo[p] + ...] - zp) * w[wo[j] + ...]. */
static void ei_conv_block(const int8_t *x, const int32_t *xo, const int8_t *w, const int32_t *wo, const ei_conv_walk *k,
                          int32_t *sums)
{
  int32_t p, j, r, q, i;
#if EI_SIMD_AVX2
  const __m256i zp16 = _mm256_set1_epi16((int16_t)k->zp);
  const int32_t full = k->len & ~15;
  __m256i acc[EI_SIMD_NR][EI_SIMD_MR];
  for (p = 0; p < EI_SIMD_NR; ++p) {
    for (j = 0; j < EI_SIMD_MR; ++j) {
      acc[p][j] = _mm256_setzero_si256();
    }
  }
  for (r = 0; r < k->nky; ++r) {
    for (q = 0; q < k->nrun; ++q) {
      const int32_t xoff = r * k->x_row + q * k->x_run, woff = r * k->w_row + q * k->w_run;
      for (i = 0; i < full; i += 16) {
        ei_conv_step(acc, x, xo, w, wo, xoff + i, woff + i, 16, zp16);
      }
      if (full < k->len) {
        ei_conv_step(acc, x, xo, w, wo, xoff + full, woff + full, k->len - full, zp16);
      }
    }
  }
  for (p = 0; p < EI_SIMD_NR; p += 2) {
    const __m256i s = ei_simd_hsum8x8(acc[p][0], acc[p][1], acc[p][2], acc[p][3], acc[p + 1][0], acc[p + 1][1],
                                      acc[p + 1][2], acc[p + 1][3]);
    _mm256_storeu_si256((__m256i *)(void *)(sums + p * EI_SIMD_MR), s);
  }
#else
  for (p = 0; p < EI_SIMD_NR; ++p) {
    for (j = 0; j < EI_SIMD_MR; ++j) {
      int32_t s = 0;
      for (r = 0; r < k->nky; ++r) {
        for (q = 0; q < k->nrun; ++q) {
          const int8_t *xp = x + (xo[p] + r * k->x_row + q * k->x_run);
          const int8_t *wp = w + (wo[j] + r * k->w_row + q * k->w_run);
          for (i = 0; i < k->len; ++i) {
            s += ((int32_t)xp[i] - k->zp) * (int32_t)wp[i];
          }
        }
      }
      sums[p * EI_SIMD_MR + j] = s;
    }
  }
#endif
}

/* Requantize a block's sums and store its np pixels x nm channels from channel m. */
static void ei_conv_store(const int32_t *sums, int32_t np, int32_t m, int32_t nm, const int32_t *yo,
                          const int32_t *bias, const int32_t *mult, const int32_t *shift, const int32_t *g,
                          int32_t exact, int8_t *y)
{
  const int32_t zp = g[EI_QC_OUT_ZP], lo = g[EI_QC_ACT_MIN], hi = g[EI_QC_ACT_MAX];
  int32_t p, j;
#if EI_SIMD_AVX2
  if (exact && nm == EI_SIMD_MR) {
    const __m128i m4 = _mm_loadu_si128((const __m128i *)(const void *)(mult + m));
    const __m128i s4 = _mm_loadu_si128((const __m128i *)(const void *)(shift + m));
    const __m128i b4 = bias ? _mm_loadu_si128((const __m128i *)(const void *)(bias + m)) : _mm_setzero_si128();
    const __m256i s8 = _mm256_broadcastsi128_si256(s4), b8 = _mm256_broadcastsi128_si256(b4);
    const __m256i vzp = _mm256_set1_epi32(zp), vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    ei_simd_rq8 rq;
    rq.mult = _mm256_broadcastsi128_si256(m4);
    rq.left = _mm256_max_epi32(s8, _mm256_setzero_si256());
    rq.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s8), _mm256_setzero_si256());
    for (p = 0; p < np; p += 2) {
      const __m256i acc = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(sums + p * 4)), b8);
      const __m256i v = ei_simd_requant8(acc, rq, vzp, vlo, vhi);
      const __m128i b = ei_simd_pack16(v, v);
      const int32_t w0 = _mm_cvtsi128_si32(b), w1 = _mm_extract_epi32(b, 1);
      memcpy(y + yo[p] + m, &w0, 4);
      if (p + 1 < np) {
        memcpy(y + yo[p + 1] + m, &w1, 4);
      }
    }
    return;
  }
#endif
  for (p = 0; p < np; ++p) {
    for (j = 0; j < nm; ++j) {
      const int32_t acc = sums[p * EI_SIMD_MR + j] + (bias ? bias[m + j] : 0);
      y[yo[p] + m + j] = ei_simd_out(acc, mult[m + j], shift[m + j], zp, lo, hi, exact);
    }
  }
}

void ei_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                  const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], oh = g[EI_QC_OH], ow = g[EI_QC_OW];
  const int32_t cout = g[EI_QC_COUT], kh = g[EI_QC_KH], kw = g[EI_QC_KW], sh = g[EI_QC_SH], sw = g[EI_QC_SW];
  const int32_t dh = g[EI_QC_DH], dw = g[EI_QC_DW], pt = g[EI_QC_PT], pl = g[EI_QC_PL], groups = g[EI_QC_GROUPS];
  const int32_t cg = cin / groups, mg = cout / groups, merged = dw == 1 && groups == 1;
  const int32_t exact = ei_simd_requant_ok(mult, shift, cout);
  int32_t oy0, oy1, ox0, ox1;
  for (oy0 = 0; oy0 < oh; oy0 = oy1) {
    int32_t ky0, ky1, a, b;
    ei_conv_taps(oy0 * sh - pt, dh, kh, h, &ky0, &ky1);
    for (oy1 = oy0 + 1; oy1 < oh; ++oy1) {
      ei_conv_taps(oy1 * sh - pt, dh, kh, h, &a, &b);
      if (a != ky0 || b != ky1) {
        break;
      }
    }
    for (ox0 = 0; ox0 < ow; ox0 = ox1) {
      int32_t kx0, kx1, t, npx, nc;
      ei_conv_walk k;
      ei_conv_taps(ox0 * sw - pl, dw, kw, wd, &kx0, &kx1);
      for (ox1 = ox0 + 1; ox1 < ow; ++ox1) {
        ei_conv_taps(ox1 * sw - pl, dw, kw, wd, &a, &b);
        if (a != kx0 || b != kx1) {
          break;
        }
      }
      k.nky = kx1 > kx0 ? ky1 - ky0 : 0;
      k.nrun = merged ? 1 : kx1 - kx0;
      k.len = merged ? (kx1 - kx0) * cin : cg;
      k.x_row = dh * wd * cin;
      k.x_run = dw * cin;
      k.w_row = kw * cg;
      k.w_run = cg;
      k.zp = g[EI_QC_IN_ZP];
      nc = ox1 - ox0;
      npx = (oy1 - oy0) * nc;
      for (t = 0; t < npx; t += EI_SIMD_NR) {
        const int32_t np = npx - t < EI_SIMD_NR ? npx - t : EI_SIMD_NR;
        int32_t xo[EI_SIMD_NR], yo[EI_SIMD_NR], sums[EI_SIMD_NR * EI_SIMD_MR], p, gi, m;
        for (p = 0; p < EI_SIMD_NR; ++p) {
          const int32_t tt = t + (p < np ? p : np - 1), oy = oy0 + tt / nc, ox = ox0 + tt % nc;
          xo[p] = ((oy * sh - pt + ky0 * dh) * wd + ox * sw - pl + kx0 * dw) * cin;
          yo[p] = (oy * ow + ox) * cout;
        }
        for (gi = 0; gi < groups; ++gi) {
          for (m = gi * mg; m < (gi + 1) * mg; m += EI_SIMD_MR) {
            const int32_t nm = (gi + 1) * mg - m < EI_SIMD_MR ? (gi + 1) * mg - m : EI_SIMD_MR;
            int32_t wo[EI_SIMD_MR], j;
            for (j = 0; j < EI_SIMD_MR; ++j) {
              wo[j] = (((m + (j < nm ? j : nm - 1)) * kh + ky0) * kw + kx0) * cg;
            }
            ei_conv_block(x + gi * cg, xo, w, wo, &k, sums);
            ei_conv_store(sums, np, m, nm, yo, bias, mult, shift, g, exact, y);
          }
        }
      }
    }
  }
}

/* Depthwise with any multiplier: output channel m reads input channel m / dm. */
static void ei_depthwise_any(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                             const int32_t *mult, const int32_t *shift, int32_t exact, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t cout = g[EI_QC_COUT], dm = g[EI_QC_GROUPS], zp = g[EI_QC_IN_ZP];
  int32_t oy, ox, m, ky, kx;
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT];
    int32_t ky0, ky1;
    ei_conv_taps(y0, g[EI_QC_DH], kh, h, &ky0, &ky1);
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
      int8_t *yp = y + (oy * g[EI_QC_OW] + ox) * cout;
      int32_t kx0, kx1;
      ei_conv_taps(x0, g[EI_QC_DW], kw, wd, &kx0, &kx1);
      for (m = 0; m < cout; ++m) {
        int32_t acc = bias ? bias[m] : 0;
        for (ky = ky0; ky < ky1; ++ky) {
          const int8_t *xr = x + (y0 + ky * g[EI_QC_DH]) * wd * cin + m / dm;
          for (kx = kx0; kx < kx1; ++kx) {
            acc += ((int32_t)xr[(x0 + kx * g[EI_QC_DW]) * cin] - zp) * (int32_t)w[(ky * kw + kx) * cout + m];
          }
        }
        yp[m] = ei_simd_out(acc, mult[m], shift[m], g[EI_QC_OUT_ZP], g[EI_QC_ACT_MIN], g[EI_QC_ACT_MAX], exact);
      }
    }
  }
}

/* Depthwise, multiplier 1: channels c0 .. c0 + n - 1 (n <= 16) of output pixel yp, whose window
 * starts at offset xo of x (perhaps outside it: only valid taps are added to it). */
static void ei_depthwise_chunk(const int32_t *g, const int8_t *x, int32_t xo, const int8_t *w, const int32_t *bias,
                               const int32_t *mult, const int32_t *shift, int32_t exact, int32_t c0, int32_t n,
                               int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int8_t *yp)
{
  const int32_t c = g[EI_QC_CIN], kw = g[EI_QC_KW], zp = g[EI_QC_IN_ZP];
  const int32_t x_row = g[EI_QC_DH] * g[EI_QC_W] * c, x_tap = g[EI_QC_DW] * c;
  int32_t acc[16], ky, kx, i;
#if EI_SIMD_AVX2
  const __m256i zp16 = _mm256_set1_epi16((int16_t)zp);
  __m256i a0, a1;
  if (n == 16 && bias) {
    a0 = _mm256_loadu_si256((const __m256i *)(const void *)(bias + c0));
    a1 = _mm256_loadu_si256((const __m256i *)(const void *)(bias + c0 + 8));
  } else {
    for (i = 0; i < 16; ++i) {
      acc[i] = bias && i < n ? bias[c0 + i] : 0;
    }
    a0 = _mm256_loadu_si256((const __m256i *)(const void *)acc);
    a1 = _mm256_loadu_si256((const __m256i *)(const void *)(acc + 8));
  }
  for (ky = ky0; ky < ky1; ++ky) {
    for (kx = kx0; kx < kx1; ++kx) {
      const int8_t *xs = x + (xo + ky * x_row + kx * x_tap + c0), *ws = w + (ky * kw + kx) * c + c0;
      const __m256i xv = ei_simd_widen_zp(n == 16 ? ei_simd_load16(xs) : ei_simd_load_part(xs, n), zp16);
      const __m256i wv = _mm256_cvtepi8_epi16(n == 16 ? ei_simd_load16(ws) : ei_simd_load_part(ws, n));
      const __m256i pr = _mm256_mullo_epi16(xv, wv);
      a0 = _mm256_add_epi32(a0, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(pr)));
      a1 = _mm256_add_epi32(a1, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(pr, 1)));
    }
  }
  if (exact && n == 16) {
    const __m256i vzp = _mm256_set1_epi32(g[EI_QC_OUT_ZP]);
    const __m256i vlo = _mm256_set1_epi32(g[EI_QC_ACT_MIN]), vhi = _mm256_set1_epi32(g[EI_QC_ACT_MAX]);
    const __m256i v0 = ei_simd_requant8(a0, ei_simd_rq8_load(mult + c0, shift + c0), vzp, vlo, vhi);
    const __m256i v1 = ei_simd_requant8(a1, ei_simd_rq8_load(mult + c0 + 8, shift + c0 + 8), vzp, vlo, vhi);
    _mm_storeu_si128((__m128i *)(void *)(yp + c0), ei_simd_pack16(v0, v1));
    return;
  }
  _mm256_storeu_si256((__m256i *)(void *)acc, a0);
  _mm256_storeu_si256((__m256i *)(void *)(acc + 8), a1);
#else
  for (i = 0; i < n; ++i) {
    acc[i] = bias ? bias[c0 + i] : 0;
  }
  for (ky = ky0; ky < ky1; ++ky) {
    for (kx = kx0; kx < kx1; ++kx) {
      const int8_t *xs = x + (xo + ky * x_row + kx * x_tap + c0), *ws = w + (ky * kw + kx) * c + c0;
      for (i = 0; i < n; ++i) {
        acc[i] += ((int32_t)xs[i] - zp) * (int32_t)ws[i];
      }
    }
  }
#endif
  for (i = 0; i < n; ++i) {
    yp[c0 + i] = ei_simd_out(acc[i], mult[c0 + i], shift[c0 + i], g[EI_QC_OUT_ZP], g[EI_QC_ACT_MIN],
                             g[EI_QC_ACT_MAX], exact);
  }
}

void ei_depthwise_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], c = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t exact = ei_simd_requant_ok(mult, shift, g[EI_QC_COUT]);
  int32_t oy, ox, c0;
  if (g[EI_QC_GROUPS] != 1) {
    ei_depthwise_any(g, x, w, bias, mult, shift, exact, y);
    return;
  }
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT];
    int32_t ky0, ky1;
    ei_conv_taps(y0, g[EI_QC_DH], kh, h, &ky0, &ky1);
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QC_SW] - g[EI_QC_PL];
      int32_t kx0, kx1;
      ei_conv_taps(x0, g[EI_QC_DW], kw, wd, &kx0, &kx1);
      for (c0 = 0; c0 < c; c0 += 16) {
        ei_depthwise_chunk(g, x, (y0 * wd + x0) * c, w, bias, mult, shift, exact, c0, c - c0 < 16 ? c - c0 : 16, ky0,
                           kx0 < kx1 ? ky1 : ky0, kx0, kx1, y + (oy * g[EI_QC_OW] + ox) * c);
      }
    }
  }
}
