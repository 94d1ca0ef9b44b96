/* ei_conv_s8.c (vectorised twin, see ei_int8_simd.h): int8 convolution and depthwise
 * convolution with the signatures and output bytes of ../ei_conv_s8.c.
 *
 * Convolution, the general path: the output plane is cut into rectangles whose pixels all see the
 * same window of kernel taps inside the input (the interior, and each band along a padded
 * border). Channels are taken EI_SIMD_MR at a time over a rectangle (their weights stay in L1),
 * its pixels EI_SIMD_NR at a time, and each block walks the valid taps once for all its dot
 * products: one run of kw * c_in contiguous bytes per kernel row, in the input (NHWC) and the
 * weights (c_out, kh, kw, c_in) alike, or one run of c_in / groups bytes per tap when dilated or
 * grouped. The accumulators stay in registers across the whole walk and are reduced once per
 * block; the block's requantization is vectorised too. When a rectangle or a group's channels run
 * out, a block repeats its last pixel / channel and drops those results. With AVX-512 VNNI the
 * products are u8 x s8 (VPDPBUSD, 32 bytes a step), the window's weight sums times zp + 128 taken
 * off the bias once per rectangle; with AVX2 they are int16 pairs (VPMADDWD / VPDPWSSD, 16 bytes).
 *
 * Small windows (at most 64 bytes: the stems of the KWS, IC and VWW models, narrow pointwise
 * layers) have too few products to pay for a block's reduction: with VNNI they take
 * ei_conv_lanes, outputs in the lanes. Without it, windows made of short runs are gathered per
 * pixel into one run (a 320-byte stack tile).
 *
 * Depthwise (multiplier 1): 16 channels per vector (contiguous in NHWC), one tap at a time; the
 * products (x - zp) * w fit int16 (|255 * 128| < 2^15); with 8 channels, two pixels share a vector.
 * Other multipliers take a plain loop. */
#include "ei_int8_simd.h"

#if EI_SIMD_MR != 4 || EI_SIMD_NR % 2 != 0
#error "the block reduction below expects 4 channels and an even number of pixels"
#endif

/* Bytes of one pixel's gathered window (see ei_conv2d_s8); a tile has 16 more (see ei_conv_window). */
#define EI_CONV_TILE 64
#define EI_CONV_TILE_ROW (EI_CONV_TILE + 16)

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
#if EI_SIMD_NR == 4
#define EI_NR4(...) __VA_ARGS__
#else
#define EI_NR4(...)
#endif
/* One step of a run for the whole block: LD(p) loads the next 16 bytes at p (or the run's tail).
 * Named accumulators, not an array: GCC 12 then keeps all of them in registers. */
#define EI_CONV_STEP(LD)                                                                                        \
  {                                                                                                             \
    const __m256i a0 = ei_simd_widen_zp(LD(x0), zp16), a1 = ei_simd_widen_zp(LD(x1), zp16);                    \
    EI_NR4(const __m256i a2 = ei_simd_widen_zp(LD(x2), zp16), a3 = ei_simd_widen_zp(LD(x3), zp16);)            \
    __m256i b = _mm256_cvtepi8_epi16(LD(w0));                                                                   \
    c00 = ei_simd_dpwssd(c00, a0, b);                                                                           \
    c10 = ei_simd_dpwssd(c10, a1, b);                                                                           \
    EI_NR4(c20 = ei_simd_dpwssd(c20, a2, b); c30 = ei_simd_dpwssd(c30, a3, b);)                                 \
    b = _mm256_cvtepi8_epi16(LD(w1));                                                                           \
    c01 = ei_simd_dpwssd(c01, a0, b);                                                                           \
    c11 = ei_simd_dpwssd(c11, a1, b);                                                                           \
    EI_NR4(c21 = ei_simd_dpwssd(c21, a2, b); c31 = ei_simd_dpwssd(c31, a3, b);)                                 \
    b = _mm256_cvtepi8_epi16(LD(w2));                                                                           \
    c02 = ei_simd_dpwssd(c02, a0, b);                                                                           \
    c12 = ei_simd_dpwssd(c12, a1, b);                                                                           \
    EI_NR4(c22 = ei_simd_dpwssd(c22, a2, b); c32 = ei_simd_dpwssd(c32, a3, b);)                                 \
    b = _mm256_cvtepi8_epi16(LD(w3));                                                                           \
    c03 = ei_simd_dpwssd(c03, a0, b);                                                                           \
    c13 = ei_simd_dpwssd(c13, a1, b);                                                                           \
    EI_NR4(c23 = ei_simd_dpwssd(c23, a2, b); c33 = ei_simd_dpwssd(c33, a3, b);)                                 \
  }
#if EI_SIMD_U8DOT
#if EI_SIMD_NR != 4
#error "AVX-512 has the registers for 4 pixels"
#endif
/* One 32-byte step of a run, inputs as unsigned bytes (x + 128): the window's weight sums, times
 * zp + 128, are taken off the bias beforehand (ei_conv_bias). */
#define EI_CONV_STEP8                                                                                           \
  {                                                                                                             \
    const __m256i a0 = _mm256_xor_si256(_mm256_maskz_loadu_epi8(mk, x0 + i), flip);                            \
    const __m256i a1 = _mm256_xor_si256(_mm256_maskz_loadu_epi8(mk, x1 + i), flip);                            \
    const __m256i a2 = _mm256_xor_si256(_mm256_maskz_loadu_epi8(mk, x2 + i), flip);                            \
    const __m256i a3 = _mm256_xor_si256(_mm256_maskz_loadu_epi8(mk, x3 + i), flip);                            \
    __m256i b = _mm256_maskz_loadu_epi8(mk, w0 + i);                                                            \
    c00 = _mm256_dpbusd_epi32(c00, a0, b);                                                                      \
    c10 = _mm256_dpbusd_epi32(c10, a1, b);                                                                      \
    c20 = _mm256_dpbusd_epi32(c20, a2, b);                                                                      \
    c30 = _mm256_dpbusd_epi32(c30, a3, b);                                                                      \
    b = _mm256_maskz_loadu_epi8(mk, w1 + i);                                                                    \
    c01 = _mm256_dpbusd_epi32(c01, a0, b);                                                                      \
    c11 = _mm256_dpbusd_epi32(c11, a1, b);                                                                      \
    c21 = _mm256_dpbusd_epi32(c21, a2, b);                                                                      \
    c31 = _mm256_dpbusd_epi32(c31, a3, b);                                                                      \
    b = _mm256_maskz_loadu_epi8(mk, w2 + i);                                                                    \
    c02 = _mm256_dpbusd_epi32(c02, a0, b);                                                                      \
    c12 = _mm256_dpbusd_epi32(c12, a1, b);                                                                      \
    c22 = _mm256_dpbusd_epi32(c22, a2, b);                                                                      \
    c32 = _mm256_dpbusd_epi32(c32, a3, b);                                                                      \
    b = _mm256_maskz_loadu_epi8(mk, w3 + i);                                                                    \
    c03 = _mm256_dpbusd_epi32(c03, a0, b);                                                                      \
    c13 = _mm256_dpbusd_epi32(c13, a1, b);                                                                      \
    c23 = _mm256_dpbusd_epi32(c23, a2, b);                                                                      \
    c33 = _mm256_dpbusd_epi32(c33, a3, b);                                                                      \
  }
#endif
#define EI_LD16(p) ei_simd_load16((p) + i)
#define EI_LDPART(p) ei_simd_load_part((p) + i, n)
#define EI_LDMASK(p) _mm_maskz_loadu_epi8(mk, (p) + i)
#endif

/* sums[p * MR + j] = sum over the walk of (x[xo[p] + ...] - zp) * w[wo[j] + ...]. Offsets are summed
 * before they meet a pointer: a block's origin may lie outside the input, its taps never do. */
static inline void ei_conv_block(const int8_t *x, const int32_t *xo, const int8_t *w, const int32_t *wo,
                                 const ei_conv_walk *k, int32_t *sums)
{
  int32_t r, q, i;
#if EI_SIMD_AVX2
  const int32_t nrun = k->nky * k->nrun;
  int32_t xrow, wrow;
#endif
#if EI_SIMD_U8DOT
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  __m256i c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  for (r = 0, q = 0, xrow = 0, wrow = 0; r < nrun; ++r) {
    const int32_t xoff = xrow + q * k->x_run, woff = wrow + q * k->w_run;
    const int8_t *x0 = x + (xo[0] + xoff), *x1 = x + (xo[1] + xoff), *x2 = x + (xo[2] + xoff);
    const int8_t *x3 = x + (xo[3] + xoff), *w0 = w + (wo[0] + woff), *w1 = w + (wo[1] + woff);
    const int8_t *w2 = w + (wo[2] + woff), *w3 = w + (wo[3] + woff);
    for (i = 0; i < k->len; i += 32) {
      const __mmask32 mk = k->len - i >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (k->len - i)) - 1u);
      EI_CONV_STEP8
    }
    if (++q == k->nrun) {
      q = 0;
      xrow += k->x_row;
      wrow += k->w_row;
    }
  }
  _mm256_storeu_si256((__m256i *)(void *)sums, ei_simd_hsum8x8(c00, c01, c02, c03, c10, c11, c12, c13));
  _mm256_storeu_si256((__m256i *)(void *)(sums + 8), ei_simd_hsum8x8(c20, c21, c22, c23, c30, c31, c32, c33));
#elif EI_SIMD_AVX2
  const __m256i zp16 = _mm256_set1_epi16((int16_t)k->zp);
#if !EI_SIMD_MASKED
  const int32_t full = k->len & ~15;
#endif
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  EI_NR4(__m256i c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;)
  /* runs in order: row r / nrun, run r % nrun; a run's last step loads only what is left of it */
  for (r = 0, q = 0, xrow = 0, wrow = 0; r < nrun; ++r) {
    const int32_t xoff = xrow + q * k->x_run, woff = wrow + q * k->w_run;
    const int8_t *x0 = x + (xo[0] + xoff), *x1 = x + (xo[1] + xoff);
    EI_NR4(const int8_t *x2 = x + (xo[2] + xoff), *x3 = x + (xo[3] + xoff);)
    const int8_t *w0 = w + (wo[0] + woff), *w1 = w + (wo[1] + woff), *w2 = w + (wo[2] + woff);
    const int8_t *w3 = w + (wo[3] + woff);
#if EI_SIMD_MASKED
    /* one loop for the whole run: the last step's mask drops the bytes past its end */
    for (i = 0; i < k->len; i += 16) {
      const __mmask16 mk = k->len - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k->len - i)) - 1u);
      EI_CONV_STEP(EI_LDMASK)
    }
#else
    for (i = 0; i < full; i += 16) {
      EI_CONV_STEP(EI_LD16)
    }
    if (full < k->len) {
      const int32_t n = k->len - full;
      EI_CONV_STEP(EI_LDPART)
    }
#endif
    if (++q == k->nrun) {
      q = 0;
      xrow += k->x_row;
      wrow += k->w_row;
    }
  }
  _mm256_storeu_si256((__m256i *)(void *)sums, ei_simd_hsum8x8(c00, c01, c02, c03, c10, c11, c12, c13));
  EI_NR4(_mm256_storeu_si256((__m256i *)(void *)(sums + 8), ei_simd_hsum8x8(c20, c21, c22, c23, c30, c31, c32, c33));)
#else
  int32_t p, j;
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

/* One pixel's whole window into tp (kk bytes, in the weights' layout) from its walk k starting at
 * offset xo of x; the valid taps start at byte t0 of the window, taps outside the input hold the
 * zero point (adding nothing). full: every tap is valid. */
static void ei_conv_window(const int8_t *x, int32_t xo, const ei_conv_walk *k, int32_t t0, int32_t full,
                           int32_t row, int32_t kk, int8_t *tp)
{
  int32_t r, q;
#if EI_SIMD_MASKED
  if (full && k->len <= 16) {
    /* runs in order, each stored as 16 whole bytes (zeros past its end) that the next run overwrites:
     * whole stores forward to the 4-byte loads that follow, masked ones would not. tp has 16 bytes
     * of slack past kk. */
    const __mmask16 m = (__mmask16)((1u << k->len) - 1u);
    for (r = 0; r < k->nky; ++r) {
      for (q = 0; q < k->nrun; ++q) {
        _mm_storeu_si128((__m128i *)(void *)(tp + t0 + r * row + q * k->w_run),
                         _mm_maskz_loadu_epi8(m, x + (xo + r * k->x_row + q * k->x_run)));
      }
    }
    return;
  }
#endif
  if (!full) {
    memset(tp, (int8_t)k->zp, (size_t)kk);
  }
  for (r = 0; r < k->nky; ++r) {
    for (q = 0; q < k->nrun; ++q) {
      ei_simd_copy(tp + t0 + r * row + q * k->w_run, x + (xo + r * k->x_row + q * k->x_run), k->len);
    }
  }
}

/* b4[j] = bias of channel j of a block less what the u8 dot products add to it: (zp + 128) times the
 * sum of the channel's weights over the walk (the same for every pixel of a rectangle). */
static void ei_conv_bias(const int8_t *w, const int32_t *wo, const ei_conv_walk *k, const int32_t *bias, int32_t m,
                         int32_t nm, int32_t *b4)
{
  int32_t j;
#if EI_SIMD_U8DOT
  const __m256i ones = _mm256_set1_epi8(1);
  __m256i s[EI_SIMD_MR];
  int32_t r, q, i;
  for (j = 0; j < EI_SIMD_MR; ++j) {
    s[j] = _mm256_setzero_si256();
  }
  for (r = 0; r < k->nky; ++r) {
    for (q = 0; q < k->nrun; ++q) {
      for (i = 0; i < k->len; i += 32) {
        const __mmask32 mk = k->len - i >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (k->len - i)) - 1u);
        for (j = 0; j < EI_SIMD_MR; ++j) {
          const int8_t *wp = w + (wo[j] + r * k->w_row + q * k->w_run + i);
          s[j] = _mm256_dpbusd_epi32(s[j], ones, _mm256_maskz_loadu_epi8(mk, wp));
        }
      }
    }
  }
  {
    int32_t sums[8];
    _mm256_storeu_si256((__m256i *)(void *)sums, ei_simd_hsum8x8(s[0], s[1], s[2], s[3], s[0], s[1], s[2], s[3]));
    for (j = 0; j < EI_SIMD_MR; ++j) {
      b4[j] = (int32_t)((uint32_t)(bias && j < nm ? bias[m + j] : 0) - (uint32_t)(k->zp + 128) * (uint32_t)sums[j]);
    }
  }
#else
  (void)w;
  (void)wo;
  (void)k;
  for (j = 0; j < EI_SIMD_MR; ++j) {
    b4[j] = bias && j < nm ? bias[m + j] : 0;
  }
#endif
}

/* Requantize a block's sums (bias b4 added) and store its np pixels x nm channels from channel m. */
static void ei_conv_store(const int32_t *sums, int32_t np, int32_t m, int32_t nm, const int32_t *yo,
                          const int32_t *b4, const int32_t *mult, const int32_t *shift, const int32_t *g,
                          int32_t exact, int8_t *y)
{
  const int32_t zp = g[EI_QC_OUT_ZP], lo = g[EI_QC_ACT_MIN], hi = g[EI_QC_ACT_MAX];
  int32_t p, j;
#if EI_SIMD_AVX2
  if (exact && nm == EI_SIMD_MR) {
    const __m128i m4 = _mm_loadu_si128((const __m128i *)(const void *)(mult + m));
    const __m128i s4 = _mm_loadu_si128((const __m128i *)(const void *)(shift + m));
    const __m256i s8 = _mm256_broadcastsi128_si256(s4);
    const __m256i b8 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)b4));
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
      const int32_t acc = (int32_t)((uint32_t)sums[p * EI_SIMD_MR + j] + (uint32_t)b4[j]);
      y[yo[p] + m + j] = ei_simd_out(acc, mult[m + j], shift[m + j], zp, lo, hi, exact);
    }
  }
}

/* One rectangle of output pixels (all seeing the window walk k) and one block of channels: the hot
 * loop of a convolution, one function so that a block costs no call. */
typedef struct {
  int32_t oy0, ox0, ox1, npx;        /* the rectangle: npx pixels from (oy0, ox0), rows ox0 .. ox1 - 1 */
  int32_t ky0, kx0, full;            /* its first valid tap; whether every tap is valid */
  int32_t cofs, m, nm;               /* input channel offset (group), first and valid output channels */
  int32_t wo[EI_SIMD_MR], b4[EI_SIMD_MR];
} ei_conv_rect;

EI_SIMD_KERNEL static void ei_conv_rect_run(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *mult,
                                            const int32_t *shift, int32_t exact, const ei_conv_walk *k,
                                            const ei_conv_walk *whole, int32_t gather, const ei_conv_rect *rc,
                                            int8_t *y)
{
  const int32_t wd = g[EI_QC_W], cin = g[EI_QC_CIN], ow = g[EI_QC_OW], cout = g[EI_QC_COUT], kw = g[EI_QC_KW];
  const int32_t sh = g[EI_QC_SH], sw = g[EI_QC_SW], dh = g[EI_QC_DH], dw = g[EI_QC_DW];
  const int32_t pt = g[EI_QC_PT], pl = g[EI_QC_PL];
  int8_t tile[EI_SIMD_NR * EI_CONV_TILE_ROW];
  int32_t t, oy = rc->oy0, ox = rc->ox0;
  for (t = 0; t < rc->npx; t += EI_SIMD_NR) {
    const int32_t np = rc->npx - t < EI_SIMD_NR ? rc->npx - t : EI_SIMD_NR;
    int32_t xo[EI_SIMD_NR], yo[EI_SIMD_NR], sums[EI_SIMD_NR * EI_SIMD_MR], p;
    for (p = 0; p < EI_SIMD_NR; ++p) {
      xo[p] = ((oy * sh - pt + rc->ky0 * dh) * wd + ox * sw - pl + rc->kx0 * dw) * cin + rc->cofs;
      yo[p] = (oy * ow + ox) * cout;
      if (gather) {
        ei_conv_window(x, xo[p], k, (rc->ky0 * kw + rc->kx0) * cin, rc->full, kw * cin, whole->len,
                       tile + p * EI_CONV_TILE_ROW);
        xo[p] = p * EI_CONV_TILE_ROW;
      }
      if (p + 1 < np && ++ox == rc->ox1) { /* the block's last pixels repeat the rectangle's last one */
        ox = rc->ox0;
        ++oy;
      }
    }
    if (np == EI_SIMD_NR && ++ox == rc->ox1) {
      ox = rc->ox0;
      ++oy;
    }
    if (gather) {
      ei_conv_block(tile, xo, w, rc->wo, whole, sums);
    } else {
      ei_conv_block(x, xo, w, rc->wo, k, sums);
    }
    ei_conv_store(sums, np, rc->m, rc->nm, yo, rc->b4, mult, shift, g, exact, y);
  }
}

#if EI_SIMD_U8DOT
/* Bytes of the weight table ei_conv_lanes packs on the stack: one block of 16 channels of the largest
 * window (16 words of 16 x 4 bytes, 16 int32 of bias), several of smaller ones. */
#define EI_CONV_LANES_BYTES (64 * (EI_CONV_TILE / 4) + 64)

/* 8 lanes of a per-channel table from channel m (n valid, zeros above). */
static inline __m256i ei_conv_lanes8(const int32_t *t, int32_t m, int32_t n)
{
  return n >= 8 ? _mm256_loadu_si256((const __m256i *)(const void *)(t + m))
                : _mm256_maskz_loadu_epi32((__mmask8)(n > 0 ? (1u << n) - 1u : 0u), t + m);
}

/* Small windows (one group, at most EI_CONV_TILE bytes once each run is padded to whole words): the
 * block kernel's reduction and requantization of 16 sums would cost more than their few products.
 * Here the outputs are the lanes instead. The window is cut into 4-byte words, each run (a kernel
 * row of kw * c_in bytes, or one tap's c_in when dilated) padded to whole words; the weights of
 * blocks of 16 channels are packed to match, [word][16 channels][4 bytes] with zeros in the
 * padding, the bias less (zp + 128) * sum(weights) beside them, in a stack table of
 * EI_CONV_LANES_BYTES. Each word of a pixel's window, broadcast to every lane, accumulates straight
 * into the block's 16 outputs. A window wholly inside the input is read in place, each word
 * loaded under a byte mask (so never past a run's end); a window across a border is first
 * gathered into a tile with the zero point in its missing taps. */
static void ei_conv_lanes(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                          const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], oh = g[EI_QC_OH], ow = g[EI_QC_OW];
  const int32_t cout = g[EI_QC_COUT], kh = g[EI_QC_KH], kw = g[EI_QC_KW], sh = g[EI_QC_SH], sw = g[EI_QC_SW];
  const int32_t dh = g[EI_QC_DH], dw = g[EI_QC_DW], pt = g[EI_QC_PT], pl = g[EI_QC_PL], zp = g[EI_QC_IN_ZP];
  const int32_t merged = dw == 1, len = merged ? kw * cin : cin, nrun = merged ? 1 : kw;
  const int32_t rw = (len + 3) / 4, nq = kh * nrun * rw, bbytes = 64 * nq + 64, per = EI_CONV_LANES_BYTES / bbytes;
  const __m256i flip = _mm256_set1_epi8((char)0x80), vzp = _mm256_set1_epi32(g[EI_QC_OUT_ZP]);
  const __m256i vlo = _mm256_set1_epi32(g[EI_QC_ACT_MIN]), vhi = _mm256_set1_epi32(g[EI_QC_ACT_MAX]);
  union {
    int8_t b[EI_CONV_LANES_BYTES];
    int32_t align_;
  } tab;
  int8_t tile[EI_CONV_TILE];
  int32_t qoff[EI_CONV_TILE / 4], c0, oy, ox, q, j, i, blk, r, u;
  __mmask16 qmask[EI_CONV_TILE / 4];
  __m256i xq[EI_CONV_TILE / 4];
  /* word q: run u = q / rw (row u / nrun, tap u % nrun), bytes 4 * (q % rw) .. of that run */
  for (q = 0; q < nq; ++q) {
    const int32_t o = 4 * (q % rw), left = len - o;
    u = q / rw;
    qoff[q] = (u / nrun) * dh * wd * cin + (u % nrun) * dw * cin + o;
    qmask[q] = (__mmask16)(left >= 4 ? 0xF : (1u << left) - 1u);
  }
  for (c0 = 0; c0 < cout; c0 += 16 * per) {
    const int32_t nb = (cout - c0 + 15) / 16 < per ? (cout - c0 + 15) / 16 : per;
    memset(tab.b, 0, (size_t)(nb * bbytes));
    for (blk = 0; blk < nb; ++blk) {
      int8_t *wt = tab.b + blk * bbytes;
      int32_t *be = (int32_t *)(void *)(wt + 64 * nq);
      for (j = 0; j < 16 && c0 + blk * 16 + j < cout; ++j) {
        const int8_t *wm = w + (c0 + blk * 16 + j) * kh * kw * cin;
        uint32_t sum = 0;
        for (u = 0; u < kh * nrun; ++u) {
          for (i = 0; i < len; ++i) {
            const int8_t v = wm[u * len + i]; /* runs follow each other in the weights' (kh, kw, c_in) */
            wt[(u * rw + i / 4) * 64 + j * 4 + i % 4] = v;
            sum += (uint32_t)(int32_t)v;
          }
        }
        be[j] = (int32_t)((uint32_t)(bias ? bias[c0 + blk * 16 + j] : 0) - (uint32_t)(zp + 128) * sum);
      }
    }
    for (oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * sh - pt;
      int32_t ky0, ky1;
      ei_conv_taps(y0, dh, kh, h, &ky0, &ky1);
      for (ox = 0; ox < ow; ++ox) {
        const int32_t x0 = ox * sw - pl;
        int8_t *yp = y + (oy * ow + ox) * cout;
        int32_t kx0, kx1;
        ei_conv_taps(x0, dw, kw, wd, &kx0, &kx1);
        if (ky1 - ky0 == kh && kx1 - kx0 == kw) {
          const int8_t *src = x + (y0 * wd + x0) * cin;
          for (q = 0; q < nq; ++q) {
            xq[q] = _mm256_xor_si256(_mm256_broadcastd_epi32(_mm_maskz_loadu_epi8(qmask[q], src + qoff[q])), flip);
          }
        } else {
          /* the tile in the padded word layout: the zero point everywhere, then the valid taps */
          memset(tile, (int8_t)zp, sizeof(tile));
          for (r = ky0; r < ky1 && kx0 < kx1; ++r) {
            const int8_t *row = x + ((y0 + r * dh) * wd + x0) * cin;
            if (merged) {
              ei_simd_copy(tile + r * rw * 4 + kx0 * cin, row + kx0 * cin, (kx1 - kx0) * cin);
            } else {
              for (u = kx0; u < kx1; ++u) {
                ei_simd_copy(tile + (r * nrun + u) * rw * 4, row + u * dw * cin, cin);
              }
            }
          }
          for (q = 0; q < nq; ++q) {
            int32_t word;
            memcpy(&word, tile + 4 * q, 4);
            xq[q] = _mm256_xor_si256(_mm256_set1_epi32(word), flip);
          }
        }
        for (blk = 0; blk < nb; ++blk) {
          const int8_t *wt = tab.b + blk * bbytes;
          const int32_t m0 = c0 + blk * 16, nm = cout - m0 < 16 ? cout - m0 : 16;
          __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(wt + 64 * nq));
          __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(wt + 64 * nq + 32));
          ei_simd_rq8 r0, r1;
          __m128i out;
          for (q = 0; q < nq; ++q) {
            a0 = _mm256_dpbusd_epi32(a0, xq[q], _mm256_loadu_si256((const __m256i *)(const void *)(wt + 64 * q)));
            if (nm > 8) {
              a1 = _mm256_dpbusd_epi32(a1, xq[q],
                                       _mm256_loadu_si256((const __m256i *)(const void *)(wt + 64 * q + 32)));
            }
          }
          r0.mult = ei_conv_lanes8(mult, m0, nm);
          r0.left = ei_conv_lanes8(shift, m0, nm);
          r0.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), r0.left), _mm256_setzero_si256());
          r0.left = _mm256_max_epi32(r0.left, _mm256_setzero_si256());
          if (nm > 8) {
            r1.mult = ei_conv_lanes8(mult, m0 + 8, nm - 8);
            r1.left = ei_conv_lanes8(shift, m0 + 8, nm - 8);
            r1.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), r1.left), _mm256_setzero_si256());
            r1.left = _mm256_max_epi32(r1.left, _mm256_setzero_si256());
            out = ei_simd_pack16(ei_simd_requant8(a0, r0, vzp, vlo, vhi), ei_simd_requant8(a1, r1, vzp, vlo, vhi));
          } else {
            out = ei_simd_pack16(ei_simd_requant8(a0, r0, vzp, vlo, vhi), _mm256_setzero_si256());
          }
          _mm_mask_storeu_epi8(yp + m0, (__mmask16)((1u << nm) - 1u), out);
        }
      }
    }
  }
}
#endif

void ei_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                  const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], cin = g[EI_QC_CIN], oh = g[EI_QC_OH], ow = g[EI_QC_OW];
  const int32_t cout = g[EI_QC_COUT], kh = g[EI_QC_KH], kw = g[EI_QC_KW], sh = g[EI_QC_SH], sw = g[EI_QC_SW];
  const int32_t dh = g[EI_QC_DH], dw = g[EI_QC_DW], pt = g[EI_QC_PT], pl = g[EI_QC_PL], groups = g[EI_QC_GROUPS];
  const int32_t cg = cin / groups, mg = cout / groups, merged = dw == 1 && groups == 1;
  const int32_t exact = ei_simd_requant_ok(mult, shift, cout), kk = kh * kw * cg, zp = g[EI_QC_IN_ZP];
  /* short runs (few input channels, a tall kernel: the KWS stem is 10 runs of 4 bytes) are gathered,
   * pixel by pixel, into one run of the whole window (kk bytes, the weights' own layout) */
  const int32_t gather = groups == 1 && kk <= EI_CONV_TILE && kh * kw > 1 && (merged ? kw * cin : cin) < 16 &&
                         zp >= -128 && zp <= 127;
  ei_conv_walk whole;
  int32_t oy0, oy1, ox0, ox1;
#if EI_SIMD_U8DOT
  {
    /* the lanes path's window: runs padded to whole words */
    const int32_t words = kh * (dw == 1 ? (kw * cin + 3) / 4 : kw * ((cin + 3) / 4));
    if (exact && groups == 1 && zp >= -128 && zp <= 127 && 4 * words <= EI_CONV_TILE && (kk <= 32 || gather)) {
      ei_conv_lanes(g, x, w, bias, mult, shift, y);
      return;
    }
  }
#endif
  whole.nky = whole.nrun = 1;
  whole.len = kk;
  whole.x_row = whole.x_run = whole.w_row = whole.w_run = 0;
  whole.zp = zp;
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
      int32_t kx0, kx1, gi, m;
      ei_conv_walk k;
      ei_conv_rect rc;
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
      k.zp = zp;
      rc.oy0 = oy0;
      rc.ox0 = ox0;
      rc.ox1 = ox1;
      rc.npx = (oy1 - oy0) * (ox1 - ox0);
      rc.ky0 = ky0;
      rc.kx0 = kx0;
      rc.full = ky1 - ky0 == kh && kx1 - kx0 == kw;
      for (gi = 0; gi < groups; ++gi) {
        rc.cofs = gi * cg;
        for (m = gi * mg; m < (gi + 1) * mg; m += EI_SIMD_MR) {
          /* a block of channels at a time over the rectangle: their weights stay in L1 */
          int32_t j;
          rc.m = m;
          rc.nm = (gi + 1) * mg - m < EI_SIMD_MR ? (gi + 1) * mg - m : EI_SIMD_MR;
          for (j = 0; j < EI_SIMD_MR; ++j) {
            /* a gathered window is the weights' whole row, its taps outside the input holding the zero point */
            const int32_t mj = m + (j < rc.nm ? j : rc.nm - 1);
            rc.wo[j] = gather ? mj * kk : ((mj * kh + ky0) * kw + kx0) * cg;
          }
          ei_conv_bias(w, rc.wo, gather ? &whole : &k, bias, m, rc.nm, rc.b4);
          ei_conv_rect_run(g, x, w, mult, shift, exact, &k, &whole, gather, &rc, y);
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

#if EI_SIMD_AVX2
/* 16 int32 lanes of a per-channel table from channel c0 (n valid, zeros above), as two vectors. */
static void ei_depthwise_lanes(const int32_t *t, int32_t c0, int32_t n, __m256i *lo, __m256i *hi)
{
  int32_t buf[16] = {0};
  if (t) {
    memcpy(buf, t + c0, (size_t)n * sizeof(int32_t));
  }
  *lo = _mm256_loadu_si256((const __m256i *)(const void *)buf);
  *hi = _mm256_loadu_si256((const __m256i *)(const void *)(buf + 8));
}

/* Depthwise, multiplier 1, exact requantization: for each run of 16 channels, every output pixel is
 * one pair of int32 vectors walked over its valid taps. With 8 channels, two neighbouring pixels of
 * one row share the vector (the same window of taps), lanes 0-7 and 8-15. */
static void ei_depthwise_avx2(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                              const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], c = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t oh = g[EI_QC_OH], ow = g[EI_QC_OW], sh = g[EI_QC_SH], sw = g[EI_QC_SW], dh = g[EI_QC_DH];
  const int32_t ddw = g[EI_QC_DW], pt = g[EI_QC_PT], pl = g[EI_QC_PL];
  const int32_t x_row = dh * wd * c, x_tap = ddw * c, pair = c == 8;
  const __m256i zp16 = _mm256_set1_epi16((int16_t)g[EI_QC_IN_ZP]), vzp = _mm256_set1_epi32(g[EI_QC_OUT_ZP]);
  const __m256i vlo = _mm256_set1_epi32(g[EI_QC_ACT_MIN]), vhi = _mm256_set1_epi32(g[EI_QC_ACT_MAX]);
  int32_t c0, oy, ox, ky, kx;
  for (c0 = 0; c0 < c; c0 += 16) {
    const int32_t n = pair ? 8 : (c - c0 < 16 ? c - c0 : 16);
    __m256i b0, b1, m0, m1, s0, s1;
    ei_simd_rq8 r0, r1;
    ei_depthwise_lanes(bias, c0, n, &b0, &b1);
    ei_depthwise_lanes(mult, c0, n, &m0, &m1);
    ei_depthwise_lanes(shift, c0, n, &s0, &s1);
    if (pair) {
      b1 = b0;
      m1 = m0;
      s1 = s0;
    }
    r0.mult = m0;
    r0.left = _mm256_max_epi32(s0, _mm256_setzero_si256());
    r0.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s0), _mm256_setzero_si256());
    r1.mult = m1;
    r1.left = _mm256_max_epi32(s1, _mm256_setzero_si256());
    r1.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s1), _mm256_setzero_si256());
    for (oy = 0; oy < oh; ++oy) {
      const int32_t y0 = oy * sh - pt;
      int32_t ky0, ky1;
      ei_conv_taps(y0, dh, kh, h, &ky0, &ky1);
      for (ox = 0; ox < ow; ox += 1 + pair) {
        const int32_t x0 = ox * sw - pl, xo = (y0 * wd + x0) * c + c0;
        int32_t kx0, kx1, kb0 = 0, kb1 = 0, two = 0;
        __m256i a0 = b0, a1 = b1;
        __m128i out;
        ei_conv_taps(x0, ddw, kw, wd, &kx0, &kx1);
        if (pair && ox + 1 < ow) {
          ei_conv_taps(x0 + sw, ddw, kw, wd, &kb0, &kb1);
          two = kb0 == kx0 && kb1 == kx1;
        }
        for (ky = kx0 < kx1 ? ky0 : ky1; ky < ky1; ++ky) {
          for (kx = kx0; kx < kx1; ++kx) {
            const int32_t o = xo + ky * x_row + kx * x_tap;
            const int8_t *ws = w + (ky * kw + kx) * c + c0;
            __m128i xb, wb;
            if (pair) {
              /* the second pixel's bytes only when it is computed: the first one's again otherwise */
              xb = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)(x + o)),
                                      _mm_loadl_epi64((const __m128i *)(const void *)(x + o + two * sw * c)));
              wb = _mm_loadl_epi64((const __m128i *)(const void *)ws);
              wb = _mm_unpacklo_epi64(wb, wb);
            } else if (n == 16) {
              xb = ei_simd_load16(x + o);
              wb = ei_simd_load16(ws);
            } else {
              xb = ei_simd_load_part(x + o, n);
              wb = ei_simd_load_part(ws, n);
            }
            {
              const __m256i pr = _mm256_mullo_epi16(ei_simd_widen_zp(xb, zp16), _mm256_cvtepi8_epi16(wb));
              a0 = _mm256_add_epi32(a0, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(pr)));
              a1 = _mm256_add_epi32(a1, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(pr, 1)));
            }
          }
        }
        out = ei_simd_pack16(ei_simd_requant8(a0, r0, vzp, vlo, vhi), ei_simd_requant8(a1, r1, vzp, vlo, vhi));
        if (pair) {
          _mm_storel_epi64((__m128i *)(void *)(y + (oy * ow + ox) * c), out);
          if (two) {
            _mm_storel_epi64((__m128i *)(void *)(y + (oy * ow + ox + 1) * c), _mm_unpackhi_epi64(out, out));
          } else {
            ox -= 1; /* the neighbour sees another window: it starts the next pair */
          }
        } else if (n == 16) {
          _mm_storeu_si128((__m128i *)(void *)(y + (oy * ow + ox) * c + c0), out);
        } else {
          int8_t buf[16];
          _mm_storeu_si128((__m128i *)(void *)buf, out);
          memcpy(y + (oy * ow + ox) * c + c0, buf, (size_t)n);
        }
      }
    }
  }
}
#endif

/* Depthwise, multiplier 1, plain C: per output pixel, 16 channels at a time, the tap loop outside
 * the channel loop so that the compiler vectorises across channels. */
static void ei_depthwise_portable(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                                  const int32_t *mult, const int32_t *shift, int32_t exact, int8_t *y)
{
  const int32_t h = g[EI_QC_H], wd = g[EI_QC_W], c = g[EI_QC_CIN], kh = g[EI_QC_KH], kw = g[EI_QC_KW];
  const int32_t zp = g[EI_QC_IN_ZP], x_row = g[EI_QC_DH] * wd * c, x_tap = g[EI_QC_DW] * c;
  int32_t oy, ox, c0, ky, kx, i;
  for (oy = 0; oy < g[EI_QC_OH]; ++oy) {
    const int32_t y0 = oy * g[EI_QC_SH] - g[EI_QC_PT];
    int32_t ky0, ky1;
    ei_conv_taps(y0, g[EI_QC_DH], kh, h, &ky0, &ky1);
    for (ox = 0; ox < g[EI_QC_OW]; ++ox) {
      const int32_t x0 = ox * g[EI_QC_SW] - g[EI_QC_PL], xo = (y0 * wd + x0) * c;
      int8_t *yp = y + (oy * g[EI_QC_OW] + ox) * c;
      int32_t kx0, kx1;
      ei_conv_taps(x0, g[EI_QC_DW], kw, wd, &kx0, &kx1);
      for (c0 = 0; c0 < c; c0 += 16) {
        const int32_t n = c - c0 < 16 ? c - c0 : 16;
        int32_t acc[16];
        for (i = 0; i < n; ++i) {
          acc[i] = bias ? bias[c0 + i] : 0;
        }
        for (ky = kx0 < kx1 ? ky0 : ky1; ky < ky1; ++ky) {
          for (kx = kx0; kx < kx1; ++kx) {
            const int8_t *xs = x + (xo + ky * x_row + kx * x_tap + c0), *ws = w + (ky * kw + kx) * c + c0;
            for (i = 0; i < n; ++i) {
              acc[i] += ((int32_t)xs[i] - zp) * (int32_t)ws[i];
            }
          }
        }
        for (i = 0; i < n; ++i) {
          yp[c0 + i] = ei_simd_out(acc[i], mult[c0 + i], shift[c0 + i], g[EI_QC_OUT_ZP], g[EI_QC_ACT_MIN],
                                   g[EI_QC_ACT_MAX], exact);
        }
      }
    }
  }
}

void ei_depthwise_conv2d_s8(const int32_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                            const int32_t *mult, const int32_t *shift, int8_t *y)
{
  const int32_t exact = ei_simd_requant_ok(mult, shift, g[EI_QC_COUT]);
#if EI_SIMD_AVX2
  if (g[EI_QC_GROUPS] == 1 && exact) {
    ei_depthwise_avx2(g, x, w, bias, mult, shift, y);
    return;
  }
#endif
  if (g[EI_QC_GROUPS] == 1) {
    ei_depthwise_portable(g, x, w, bias, mult, shift, exact, y);
    return;
  }
  ei_depthwise_any(g, x, w, bias, mult, shift, exact, y);
}
