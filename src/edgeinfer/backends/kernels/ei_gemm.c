/* ei_gemm.c: float32 GEMM-based convolution kernels (see ei_nn.h).
 *
 * One micro-kernel computes an EI_GEMM_MR (8) output channels x EI_GEMM_NR (16) pixels tile with
 * fixed-count loops on a local accumulator array, which gcc turns into SIMD registers (two AVX
 * vectors per channel row at -O3 -march=native, plain scalar code on a Cortex-M4). The weights are
 * packed at generation time as [ceil(M/8)][K][8] (zero rows past M) so the k loop reads one
 * contiguous group of 8 per step; the input rows are read straight from the activation tensor
 * (1x1 conv), from a band of zero-padded input rows split by stride phase (any other conv: the tile
 * reads each tap's 8 consecutive floats of the band, see "Direct convolution from a band" below) or,
 * where no band fits, from an im2col slice of the arena built one chunk of output rows at a time, so
 * the zero padding costs nothing in the hot loop. Depthwise conv copies one channel at a time into a
 * zero-bordered scratch plane, which both removes border tests and makes it legal to write the
 * output over the input (the planner shares their buffer). */
#include <string.h>
#include "ei_nn.h"

/* This file only serves float neural-network layers, whose results are checked against a reference
 * with a tolerance: gcc may contract a * b + c into one fused multiply-add here (twice the
 * throughput on hosts with FMA, and one rounding less). Every other kernel keeps -std=c99's default
 * of no contraction, so classical models stay bit-exact. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#define EI_MR EI_GEMM_MR
#define EI_NR EI_GEMM_NR

#if defined(__GNUC__)
#define EI_GEMM_NOINLINE __attribute__((noinline))
#else
#define EI_GEMM_NOINLINE
#endif

static float ei_gclamp(float v, float lo, float hi)
{
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON) || defined(__AVX__))
/* SIMD hosts: GNU C vector types make the accumulators registers for certain (gcc's vectoriser,
 * left to itself, keeps an 8x16 array in memory). An 8-float vector is one AVX register, two SSE or
 * NEON ones; with AVX-512 a 16-float vector is one register and the tile is 8 of them. */
typedef float ei_v8 __attribute__((vector_size(32), aligned(4)));
#define EI_GEMM_VECTOR 1
#if defined(__AVX512F__)
typedef float ei_v16 __attribute__((vector_size(64), aligned(4)));
#endif
typedef int32_t ei_i8 __attribute__((vector_size(32)));
#if !defined(__clang__)
/* gcc's __builtin_shuffle (the band's stride-2 deinterleave) */
#define EI_BAND_SHUFFLE 1
#endif
#endif

static void ei_store_row(float *yr, const float *a, int32_t n, float lo, float hi, int32_t accum)
{
  int32_t j;
  if (accum) {
    for (j = 0; j < n; ++j) yr[j] = ei_gclamp(a[j] + yr[j], lo, hi);
  } else {
    for (j = 0; j < n; ++j) yr[j] = ei_gclamp(a[j], lo, hi);
  }
}

#if defined(EI_GEMM_VECTOR)
/* 8 rows x 8 columns, n (<= 8) of them stored. */
EI_GEMM_NOINLINE static void ei_gemm_v8(const float *wp, const float *bias, int32_t k, const float *x, int32_t ldx,
                                        int32_t mrows, int32_t n, float lo, float hi, int32_t accum, float *y,
                                        int32_t ldy, int32_t ns)
{
  ei_v8 a[EI_MR], xv;
  float t[8];
  int32_t p, i;
  for (i = 0; i < EI_MR; ++i) a[i] = bias[i] + (ei_v8){0};
  if (n == 8) {
    for (p = 0; p < k; ++p) {
      const float *w = wp + (long)p * EI_MR;
      memcpy(&xv, x + (long)p * ldx, sizeof xv);
      a[0] += w[0] * xv; a[1] += w[1] * xv; a[2] += w[2] * xv; a[3] += w[3] * xv;
      a[4] += w[4] * xv; a[5] += w[5] * xv; a[6] += w[6] * xv; a[7] += w[7] * xv;
    }
  } else {
    for (p = 0; p < k; ++p) {
      const float *w = wp + (long)p * EI_MR;
      for (i = 0; i < 8; ++i) t[i] = i < n ? x[(long)p * ldx + i] : 0.0f;
      memcpy(&xv, t, sizeof xv);
      a[0] += w[0] * xv; a[1] += w[1] * xv; a[2] += w[2] * xv; a[3] += w[3] * xv;
      a[4] += w[4] * xv; a[5] += w[5] * xv; a[6] += w[6] * xv; a[7] += w[7] * xv;
    }
  }
  for (i = 0; i < mrows; ++i) {
    memcpy(t, &a[i], sizeof t);
    ei_store_row(y + (long)i * ldy, t, ns, lo, hi, accum);
  }
}
#endif

/* Full tile: rows [0, mrows) of y (mrows <= 8), 16 columns. */
static void ei_gemm_tile16(const float *wp, const float *bias, int32_t k, const float *x, int32_t ldx,
                           int32_t mrows, int32_t n, float lo, float hi, int32_t accum, float *y, int32_t ldy)
{
#if defined(__AVX512F__) && defined(EI_GEMM_VECTOR)
  ei_v16 a[EI_MR], xv;
  float t[16];
  int32_t p, i;
  for (i = 0; i < EI_MR; ++i) a[i] = bias[i] + (ei_v16){0};
  for (p = 0; p < k; ++p) {
    const float *w = wp + (long)p * EI_MR;
    memcpy(&xv, x + (long)p * ldx, sizeof xv);
    a[0] += w[0] * xv; a[1] += w[1] * xv; a[2] += w[2] * xv; a[3] += w[3] * xv;
    a[4] += w[4] * xv; a[5] += w[5] * xv; a[6] += w[6] * xv; a[7] += w[7] * xv;
  }
  for (i = 0; i < mrows; ++i) {
    memcpy(t, &a[i], sizeof t);
    ei_store_row(y + (long)i * ldy, t, n, lo, hi, accum);
  }
#elif defined(EI_GEMM_VECTOR)
  ei_gemm_v8(wp, bias, k, x, ldx, mrows, 8, lo, hi, accum, y, ldy, n < 8 ? n : 8);
  if (n > 8) ei_gemm_v8(wp, bias, k, x + 8, ldx, mrows, 8, lo, hi, accum, y + 8, ldy, n - 8);
#else
  float acc[EI_MR][EI_NR];
  int32_t p, i, j;
  for (i = 0; i < EI_MR; ++i)
    for (j = 0; j < EI_NR; ++j) acc[i][j] = bias[i];
  for (p = 0; p < k; ++p) {
    const float *xr = x + (long)p * ldx;
    const float *w = wp + (long)p * EI_MR;
    for (i = 0; i < EI_MR; ++i)
      for (j = 0; j < EI_NR; ++j) acc[i][j] += w[i] * xr[j];
  }
  for (i = 0; i < mrows; ++i) ei_store_row(y + (long)i * ldy, acc[i], n, lo, hi, accum);
#endif
}

#if !defined(EI_GEMM_VECTOR)
/* Narrow tile: 1 <= n < 16 columns (8 at a time, then the rest one by one). */
EI_GEMM_NOINLINE static void ei_gemm_tile8(const float *wp, const float *bias, int32_t k, const float *x,
                                           int32_t ldx, int32_t mrows, int32_t n, float lo, float hi,
                                           int32_t accum, float *y, int32_t ldy)
{
  float acc[EI_MR][8];
  int32_t p, i, j;
  for (i = 0; i < EI_MR; ++i)
    for (j = 0; j < 8; ++j) acc[i][j] = bias[i];
  if (n >= 8) {
    for (p = 0; p < k; ++p) {
      const float *xr = x + (long)p * ldx;
      const float *w = wp + (long)p * EI_MR;
      for (i = 0; i < EI_MR; ++i)
        for (j = 0; j < 8; ++j) acc[i][j] += w[i] * xr[j];
    }
    n = 8;
  } else {
    for (p = 0; p < k; ++p) {
      const float *xr = x + (long)p * ldx;
      const float *w = wp + (long)p * EI_MR;
      for (i = 0; i < EI_MR; ++i)
        for (j = 0; j < n; ++j) acc[i][j] += w[i] * xr[j];
    }
  }
  for (i = 0; i < mrows; ++i) {
    float *yr = y + (long)i * ldy;
    for (j = 0; j < n; ++j) yr[j] = ei_gclamp(acc[i][j] + (accum ? yr[j] : 0.0f), lo, hi);
  }
}
#endif

/* padded != 0: x has readable (zero) columns up to the next multiple of 16 past n, so every tile
 * is a full one and only the stores are cut short. */
static void ei_gemm_run(const float *wp, const float *bias, int32_t m, int32_t k, const float *x, int32_t ldx,
                        int32_t n, float act_min, float act_max, int32_t accumulate, float *y, int32_t ldy,
                        int32_t padded)
{
  int32_t j0, i0;
  for (j0 = 0; j0 < n; j0 += EI_NR) {
    const int32_t nb = n - j0;
    for (i0 = 0; i0 < m; i0 += EI_MR) {
      const int32_t mr = m - i0 < EI_MR ? m - i0 : EI_MR;
      const float *wb = wp + (long)i0 * k;
      float *yb = y + (long)i0 * ldy + j0;
      if (nb >= EI_NR || padded) {
        ei_gemm_tile16(wb, bias + i0, k, x + j0, ldx, mr, nb < EI_NR ? nb : EI_NR, act_min, act_max, accumulate,
                       yb, ldy);
      } else {
#if defined(EI_GEMM_VECTOR)
        ei_gemm_v8(wb, bias + i0, k, x + j0, ldx, mr, nb < 8 ? nb : 8, act_min, act_max, accumulate, yb, ldy,
                   nb < 8 ? nb : 8);
        if (nb > 8)
          ei_gemm_v8(wb, bias + i0, k, x + j0 + 8, ldx, mr, nb - 8, act_min, act_max, accumulate, yb + 8, ldy,
                     nb - 8);
#else
        ei_gemm_tile8(wb, bias + i0, k, x + j0, ldx, mr, nb, act_min, act_max, accumulate, yb, ldy);
        if (nb > 8)
          ei_gemm_tile8(wb, bias + i0, k, x + j0 + 8, ldx, mr, nb - 8, act_min, act_max, accumulate, yb + 8, ldy);
#endif
      }
    }
  }
}

void ei_gemm_f32(const float *wp, const float *bias, int32_t m, int32_t k, const float *x, int32_t ldx,
                 int32_t n, float act_min, float act_max, int32_t accumulate, float *y, int32_t ldy)
{
  ei_gemm_run(wp, bias, m, k, x, ldx, n, act_min, act_max, accumulate, y, ldy, 0);
}

#if defined(__AVX512F__) && defined(EI_GEMM_VECTOR)
/* Planes that are not a multiple of 16 pixels (MobileNet's 6x6 and 3x3): 16 output channels (two weight
 * panels, one 8-lane vector each) x 12 pixels whose inputs are broadcast, so that the lanes follow the
 * channels and none is spent past the plane's end. 24 accumulators: AVX-512's 32 registers only. t gets
 * the 12 x 16 results, pixel-major. */
#define EI_PW_PIX 12
EI_GEMM_NOINLINE static void ei_pw_tile12(const float *w0, const float *w1, const float *b0, const float *b1, int32_t k,
                                          const float *x, int32_t ldx, float *t)
{
  ei_v8 a[EI_PW_PIX], b[EI_PW_PIX], va, vb, ba, bb;
  int32_t p, i;
  memcpy(&ba, b0, sizeof ba);
  memcpy(&bb, b1, sizeof bb);
  for (i = 0; i < EI_PW_PIX; ++i) {
    a[i] = ba;
    b[i] = bb;
  }
  for (p = 0; p < k; ++p) {
    const float *xr = x + (long)p * ldx;
    memcpy(&va, w0 + (long)p * EI_MR, sizeof va);
    memcpy(&vb, w1 + (long)p * EI_MR, sizeof vb);
    for (i = 0; i < EI_PW_PIX; ++i) {
      a[i] += xr[i] * va;
      b[i] += xr[i] * vb;
    }
  }
  for (i = 0; i < EI_PW_PIX; ++i) {
    memcpy(t + i * 16, &a[i], sizeof a[i]);
    memcpy(t + i * 16 + 8, &b[i], sizeof b[i]);
  }
}

/* ei_conv1x1_f32 on 12-pixel blocks (scratch as ei_nn.h states it). */
static void ei_conv1x1_pix12(const int32_t *g, const float *x, const float *wp, const float *bias, float lo, float hi,
                             int32_t accumulate, float *scratch, float *y)
{
  const int32_t cin = g[EI_CONV_CIN], cout = g[EI_CONV_COUT];
  const int32_t plane = g[EI_CONV_OH] * g[EI_CONV_OW];
  const int32_t inplace = x == y;
  float *tile = scratch, *xs = scratch + (long)cout * EI_NR;
  float t[16 * EI_PW_PIX];
  int32_t j0, i0, i, j, nb;
  for (j0 = 0; j0 < plane; j0 += EI_PW_PIX) {
    const float *xb = x + j0;
    int32_t ldx = plane;
    nb = plane - j0 < EI_PW_PIX ? plane - j0 : EI_PW_PIX;
    if (nb < EI_PW_PIX) { /* the last block reads a zero-padded copy: no read past x */
      memset(xs, 0, (size_t)cin * EI_NR * sizeof(float));
      for (i = 0; i < cin; ++i) memcpy(xs + (long)i * EI_NR, x + (long)i * plane + j0, (size_t)nb * sizeof(float));
      xb = xs;
      ldx = EI_NR;
    }
    for (i0 = 0; i0 < cout; i0 += 16) {
      const int32_t mr = cout - i0 < 16 ? cout - i0 : 16, second = i0 + EI_MR < cout ? EI_MR : 0;
      ei_pw_tile12(wp + (long)i0 * cin, wp + (long)(i0 + second) * cin, bias + i0, bias + i0 + second, cin, xb, ldx,
                   t);
      for (i = 0; i < mr; ++i) {
        /* in place, the block's outputs wait in the tile until every channel has read the block */
        float *yr = inplace ? tile + (long)(i0 + i) * EI_NR : y + (long)(i0 + i) * plane + j0;
        if (accumulate && !inplace) {
          for (j = 0; j < nb; ++j) yr[j] = ei_gclamp(t[j * 16 + i] + yr[j], lo, hi);
        } else {
          for (j = 0; j < nb; ++j) yr[j] = ei_gclamp(t[j * 16 + i], lo, hi);
        }
      }
    }
    if (inplace && nb == EI_PW_PIX) { /* a constant size: vector moves, not a memcpy call */
      for (i = 0; i < cout; ++i) memcpy(y + (long)i * plane + j0, tile + (long)i * EI_NR, EI_PW_PIX * sizeof(float));
    } else if (inplace) {
      for (i = 0; i < cout; ++i) memcpy(y + (long)i * plane + j0, tile + (long)i * EI_NR, (size_t)nb * sizeof(float));
    }
  }
}
#endif

void ei_conv1x1_f32(const int32_t *g, const float *x, const float *wp, const float *bias, float act_min,
                    float act_max, int32_t accumulate, float *scratch, float *y)
{
  const int32_t cin = g[EI_CONV_CIN], cout = g[EI_CONV_COUT];
  const int32_t plane = g[EI_CONV_OH] * g[EI_CONV_OW];
  const int32_t inplace = x == y;
  float *tile, *xs;
  int32_t j0, i, nb;
  if (scratch == 0) {
    ei_gemm_run(wp, bias, cout, cin, x, plane, plane, act_min, act_max, accumulate, y, plane, 0);
    return;
  }
#if defined(EI_PW_PIX)
  /* blocks of 12 pixels where they compute at most 7/8 of the lanes that blocks of 16 would (their
   * outputs cost a transposition) */
  if (8 * ((plane + EI_PW_PIX - 1) / EI_PW_PIX * EI_PW_PIX) <= 7 * ((plane + EI_NR - 1) / EI_NR * EI_NR)) {
    ei_conv1x1_pix12(g, x, wp, bias, act_min, act_max, accumulate, scratch, y);
    return;
  }
#endif
  /* only now: arithmetic on a null scratch pointer is undefined behaviour (UBSan flags it) */
  tile = scratch;
  xs = scratch + (long)cout * EI_NR;
  /* in place (y == x): each block of 16 output columns is computed into the scratch tile from the
   * same input columns, which nothing else reads, then copied over them; the last, partial block
   * reads a zero-padded copy so that it too runs the full-width tile */
  for (j0 = 0; j0 < plane; j0 += EI_NR) {
    const float *xb = x + j0;
    int32_t ldx = plane;
    nb = plane - j0 < EI_NR ? plane - j0 : EI_NR;
    if (nb < EI_NR) {
      memset(xs, 0, (size_t)cin * EI_NR * sizeof(float));
      for (i = 0; i < cin; ++i) memcpy(xs + (long)i * EI_NR, x + (long)i * plane + j0, (size_t)nb * sizeof(float));
      xb = xs;
      ldx = EI_NR;
    }
    if (!inplace) {
      ei_gemm_run(wp, bias, cout, cin, xb, ldx, nb, act_min, act_max, accumulate, y + j0, plane, 1);
      continue;
    }
    ei_gemm_run(wp, bias, cout, cin, xb, ldx, nb, act_min, act_max, 0, tile, EI_NR, 1);
    if (nb == EI_NR) { /* a constant size: one vector move per row, not a memcpy call */
      for (i = 0; i < cout; ++i) memcpy(y + (long)i * plane + j0, tile + (long)i * EI_NR, EI_NR * sizeof(float));
    } else {
      for (i = 0; i < cout; ++i) memcpy(y + (long)i * plane + j0, tile + (long)i * EI_NR, (size_t)nb * sizeof(float));
    }
  }
}

/* im2col for output rows [oy0, oy0 + rows): row r = (c, ky, kx) of b holds, for every output pixel
 * of the chunk, the input value under that tap or 0 in the padding. */
static void ei_im2col(const int32_t *g, const float *x, int32_t oy0, int32_t rows, int32_t ldb, float *b)
{
  const int32_t cin = g[EI_CONV_CIN], h = g[EI_CONV_H], wd = g[EI_CONV_W], ow = g[EI_CONV_OW];
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sh = g[EI_CONV_SH], sw = g[EI_CONV_SW];
  const int32_t dh = g[EI_CONV_DH], dw = g[EI_CONV_DW], pt = g[EI_CONV_PT], pl = g[EI_CONV_PL];
  const int32_t nc = rows * ow;
  int32_t c, ky, kx, r, ox, j, oxa, oxb;
  for (kx = 0; kx < kw; ++kx) {
    const int32_t off = kx * dw - pl;
    /* output columns [oxa, oxb) read inside the row */
    oxa = off < 0 ? (-off + sw - 1) / sw : 0;
    oxb = wd - off > 0 ? (wd - off + sw - 1) / sw : 0;
    if (oxb > ow) oxb = ow;
    if (oxa > oxb) oxa = oxb;
    for (c = 0; c < cin; ++c) {
      const float *xc = x + (long)c * h * wd;
      for (ky = 0; ky < kh; ++ky) {
        float *br = b + (long)((c * kh + ky) * kw + kx) * ldb;
        for (r = 0; r < rows; ++r) {
          const int32_t iy = (oy0 + r) * sh + ky * dh - pt;
          float *restrict bo = br + r * ow;
          const float *restrict xr = xc + (long)iy * wd + off;
          if (iy < 0 || iy >= h) {
            for (ox = 0; ox < ow; ++ox) bo[ox] = 0.0f;
            continue;
          }
          for (ox = 0; ox < oxa; ++ox) bo[ox] = 0.0f;
          if (sw == 1) {
            for (ox = oxa; ox < oxb; ++ox) bo[ox] = xr[ox];
          } else {
            for (ox = oxa; ox < oxb; ++ox) bo[ox] = xr[ox * sw];
          }
          for (ox = oxb; ox < ow; ++ox) bo[ox] = 0.0f;
        }
        for (j = nc; j < ldb; ++j) br[j] = 0.0f;
      }
    }
  }
}

/* A stride-2 conv reads every other column: its input rows are copied split, the even padded columns
 * to ev and the odd ones to od (padded column q = input column + pl goes to ev[q / 2] or od[q / 2]), so
 * that its taps read contiguous runs. Writes the cols input columns of row xr only (not the padding). */
static void ei_dw_row_split(const float *restrict xr, int32_t cols, int32_t pl, float *ev, float *od)
{
  /* the first input column that lands on an even padded column, and the even / odd runs it starts */
  const int32_t se = pl & 1, e0 = (pl + 1) / 2, o0 = pl / 2;
  float *restrict a = se ? od + o0 : ev + e0;     /* input columns 0, 2, 4, ... */
  float *restrict b = se ? ev + e0 : od + o0;     /* input columns 1, 3, 5, ... */
  const int32_t na = (cols + 1) / 2, nb = cols / 2;
  int32_t q = 0;
#if defined(EI_BAND_SHUFFLE)
  for (; q + 8 <= nb; q += 8) {
    ei_v8 lo8, hi8, v;
    memcpy(&lo8, xr + 2 * q, sizeof lo8);
    memcpy(&hi8, xr + 2 * q + 8, sizeof hi8);
    v = __builtin_shuffle(lo8, hi8, (ei_i8){0, 2, 4, 6, 8, 10, 12, 14});
    memcpy(a + q, &v, sizeof v);
    v = __builtin_shuffle(lo8, hi8, (ei_i8){1, 3, 5, 7, 9, 11, 13, 15});
    memcpy(b + q, &v, sizeof v);
  }
#endif
  for (; q < nb; ++q) {
    a[q] = xr[2 * q];
    b[q] = xr[2 * q + 1];
  }
  if (na > nb) a[nb] = xr[2 * nb];
}

/* ---- Direct convolution from a band of padded input rows (no im2col) ----
 *
 * For output rows [oy0, oy0 + rows) the band holds, per input channel, per row stride phase py that some
 * tap uses (py = ky * dh % sh) and per column plane, the input rows iy = (oy0 + j) * sh + py - pt,
 * j < rows + qy (qy = (kh - 1) * dh / sh), zeros where they fall in the padding. Output (oy, ox) under
 * tap (ky, kx) then reads its row phase's plane at row oy - oy0 + ky * dh / sh, so that 8 outputs read
 * 8 consecutive floats of the band for every tap and the GEMM tile runs on it in place, with the same
 * packed weights (k = (c, ky, kx)). The column planes are either
 *  - one per column stride phase px = kx * dw % sw that some tap uses, wq = ow + (kw - 1) * dw / sw
 *    columns holding input columns q * sw + px - pl, the tap at column offset kx * dw / sw: about one
 *    copy of the input where im2col makes kh * kw (a stride-2 conv becomes four stride-1 ones), used
 *    when rows are a multiple of 8 outputs wide, in runs of 8 along each row; or
 *  - one per kernel column kx, wq = ow columns holding input columns ox * sw + kx * dw - pl: kw copies,
 *    but the planes have the output's own pitch, so the outputs of a chunk run over its rows flattened
 *    without a lane in the padding, for planes whose rows are not a multiple of 8 (KWS: 5 wide). */
#define EI_BAND_MAXTAPS 64
#define EI_BAND_MAXSTRIDE 4
/* floats past the band that the dropped lanes of a chunk's last run may read (zeros, never used) */
#define EI_BAND_SLACK 16

typedef struct {
  int32_t expand; /* 1: a column plane per kernel column (pitch ow), 0: per column stride phase */
  int32_t nphy, ncol, qy, wq;
  int32_t slot_y[EI_BAND_MAXSTRIDE];  /* row phase -> its row slot, -1 if unused */
  int32_t ph_y[EI_BAND_MAXSTRIDE];    /* row slot -> its phase */
  int32_t col_of[EI_BAND_MAXTAPS];    /* kx -> its column plane */
  int32_t col_dx[EI_BAND_MAXTAPS];    /* kx -> its column offset in the plane */
  int32_t off[EI_BAND_MAXTAPS];       /* column plane -> input column of its column 0 (before the stride) */
  int32_t qa[EI_BAND_MAXTAPS], qb[EI_BAND_MAXTAPS]; /* column plane -> its columns inside the input */
} ei_band_t;

/* 0 when the layer does not suit the band: a stride above 4, more than 64 taps, or a single tap (a strided
 * 1x1 conv: its im2col is no bigger than a band, and the GEMM's tile runs its k loop without taps). */
static int32_t ei_band_setup(const int32_t *g, ei_band_t *bd)
{
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sh = g[EI_CONV_SH], sw = g[EI_CONV_SW];
  const int32_t dh = g[EI_CONV_DH], dw = g[EI_CONV_DW], wd = g[EI_CONV_W], ow = g[EI_CONV_OW];
  int32_t i, j;
  if (sh > EI_BAND_MAXSTRIDE || sw > EI_BAND_MAXSTRIDE || kh * kw > EI_BAND_MAXTAPS || kh * kw == 1) return 0;
  for (i = 0; i < EI_BAND_MAXSTRIDE; ++i) bd->slot_y[i] = -1;
  bd->nphy = bd->ncol = 0;
  for (i = 0; i < kh; ++i) {
    const int32_t ph = i * dh % sh;
    if (bd->slot_y[ph] < 0) {
      bd->ph_y[bd->nphy] = ph;
      bd->slot_y[ph] = bd->nphy++;
    }
  }
  bd->qy = (kh - 1) * dh / sh;
  bd->expand = ow % 8 != 0;
  bd->wq = bd->expand ? ow : ow + (kw - 1) * dw / sw;
  for (i = 0; i < kw; ++i) {
    const int32_t off = bd->expand ? i * dw - g[EI_CONV_PL] : i * dw % sw - g[EI_CONV_PL];
    int32_t qa, qb;
    bd->col_dx[i] = bd->expand ? 0 : i * dw / sw;
    for (j = 0; j < bd->ncol && bd->off[j] != off; ++j) continue;
    bd->col_of[i] = j;
    if (j < bd->ncol) continue;
    qa = off < 0 ? (-off + sw - 1) / sw : 0;
    qb = wd - off > 0 ? (wd - off + sw - 1) / sw : 0;
    if (qb > bd->wq) qb = bd->wq;
    if (qa > qb) qa = qb;
    bd->off[j] = off;
    bd->qa[j] = qa;
    bd->qb[j] = qb;
    ++bd->ncol;
  }
  return 1;
}

/* Floats of one channel's band for chunks of `rows` output rows. */
static long ei_band_cs(const ei_band_t *bd, int32_t rows)
{
  return (long)bd->nphy * bd->ncol * (rows + bd->qy) * bd->wq;
}

/* The band of output rows [oy0, oy0 + rows) in planes of prow + qy rows (prow >= rows). */
static void ei_band_fill(const int32_t *g, const ei_band_t *bd, const float *x, int32_t oy0, int32_t rows,
                         int32_t prow, float *band)
{
  const int32_t cin = g[EI_CONV_CIN], h = g[EI_CONV_H], wd = g[EI_CONV_W], sh = g[EI_CONV_SH], sw = g[EI_CONV_SW];
  const int32_t pt = g[EI_CONV_PT], pl = g[EI_CONV_PL], wq = bd->wq, nr = rows + bd->qy;
  /* stride 2 with both column phases (pl and pl - 1 before the stride): each input row is read once and
   * split between the two planes, when its last column lands inside them */
  const int32_t split = sw == 2 && !bd->expand && bd->ncol == 2 && (wd - 1 + pl) / 2 < wq;
  const int32_t s0 = bd->off[0] == -pl ? 0 : 1;
  const long psz = (long)(prow + bd->qy) * wq;
  int32_t c, sy, sx, j, q;
  for (c = 0; c < cin; ++c) {
    const float *xc = x + (long)c * h * wd;
    for (sy = 0; split && sy < bd->nphy; ++sy) {
      float *p0 = band + ((long)c * bd->nphy + sy) * 2 * psz, *p1 = p0 + psz;
      if (s0) { /* the plane of padded even columns is the second one */
        float *tmp = p0;
        p0 = p1;
        p1 = tmp;
      }
      for (j = 0; j < nr; ++j, p0 += wq, p1 += wq) {
        const int32_t iy = (oy0 + j) * sh + bd->ph_y[sy] - pt;
        if (iy < 0 || iy >= h) {
          for (q = 0; q < wq; ++q) p0[q] = p1[q] = 0.0f;
          continue;
        }
        for (q = 0; q < bd->qa[s0]; ++q) p0[q] = 0.0f;
        for (q = 0; q < bd->qa[1 - s0]; ++q) p1[q] = 0.0f;
        ei_dw_row_split(xc + (long)iy * wd, wd, pl, p0, p1);
        for (q = bd->qb[s0]; q < wq; ++q) p0[q] = 0.0f;
        for (q = bd->qb[1 - s0]; q < wq; ++q) p1[q] = 0.0f;
      }
    }
    for (sy = 0; !split && sy < bd->nphy; ++sy) {
      for (sx = 0; sx < bd->ncol; ++sx) {
        const int32_t qa = bd->qa[sx], qb = bd->qb[sx];
        float *pp = band + (((long)c * bd->nphy + sy) * bd->ncol + sx) * (prow + bd->qy) * wq;
        for (j = 0; j < nr; ++j) {
          const int32_t iy = (oy0 + j) * sh + bd->ph_y[sy] - pt;
          float *restrict br = pp + (long)j * wq;
          const float *restrict xr = xc + (long)iy * wd + bd->off[sx];
          if (iy < 0 || iy >= h) {
            for (q = 0; q < wq; ++q) br[q] = 0.0f;
            continue;
          }
          /* rows are short: one loop over the row with the reads under a condition (masked loads)
           * costs less than a loop, or a memcpy call, per part */
          if (sw == 1) {
            for (q = 0; q < wq; ++q) br[q] = q >= qa && q < qb ? xr[q] : 0.0f;
            continue;
          }
          for (q = 0; q < qa; ++q) br[q] = 0.0f;
          q = qa;
#if defined(EI_BAND_SHUFFLE)
          if (sw == 2) { /* 8 outputs from 16 inputs by one shuffle (gcc's own vectorisation costs 3x) */
            for (; q + 8 <= qb; q += 8) {
              ei_v8 lo8, hi8, ev;
              memcpy(&lo8, xr + 2 * q, sizeof lo8);
              memcpy(&hi8, xr + 2 * q + 8, sizeof hi8);
              ev = __builtin_shuffle(lo8, hi8, (ei_i8){0, 2, 4, 6, 8, 10, 12, 14});
              memcpy(br + q, &ev, sizeof ev);
            }
          }
#endif
          for (; q < qb; ++q) br[q] = xr[q * sw];
          for (q = qb; q < wq; ++q) br[q] = 0.0f;
        }
      }
    }
  }
}

#if defined(EI_GEMM_VECTOR)
/* Rows [0, mr) of the 8-lane accumulators a into y (row pitch plane): clamped as ei_gclamp does (a NaN
 * stays NaN), added to y first with accum. Written with vector compares and selects: gcc scalarises the
 * element-wise ei_gclamp of a vector. */
static void ei_band_put(const ei_v8 *a, int32_t mr, float *y, long plane, float lo, float hi, int32_t accum)
{
  const ei_v8 lv = lo + (ei_v8){0}, hv = hi + (ei_v8){0};
  ei_v8 v, yv;
  ei_i8 m;
  int32_t i;
  for (i = 0; i < mr; ++i, y += plane) {
    v = a[i];
    if (accum) {
      memcpy(&yv, y, sizeof yv);
      v += yv;
    }
    m = v < lv;
    v = (ei_v8)(((ei_i8)v & ~m) | ((ei_i8)lv & m));
    m = v > hv;
    v = (ei_v8)(((ei_i8)v & ~m) | ((ei_i8)hv & m));
    memcpy(y, &v, sizeof v);
  }
}
#endif

/* EI_MR channels x 16 outputs: two runs of 8 outputs, at xa and xb of the band (the same row, or two rows
 * of a narrow plane), k over (channel, tap). A run whose outputs are 8 consecutive ones of a row has its
 * first output's address in ya / yb and is stored from the registers (rows [0, mr), pitch plane); a run
 * with ya / yb null goes to t (EI_MR rows of 16, lanes 0-7 for a, 8-15 for b) for ei_band_store. */
EI_GEMM_NOINLINE static void ei_band_tile(const float *wp, const float *bias, int32_t cin, int32_t ntap,
                                          const int32_t *toff, long cs, const float *xa, const float *xb,
                                          float *ya, float *yb, int32_t mr, long plane, float lo, float hi,
                                          int32_t accum, float *t)
{
  int32_t c, q, i;
#if defined(__AVX512F__) && defined(EI_GEMM_VECTOR)
  /* 16 accumulators of 8 lanes fit the 32 AVX-512 registers (as fast as 8 of 16 lanes on hosts that
   * split 512-bit operations, and no lane is spent on a second row's padding) */
  ei_v8 a[EI_MR], b[EI_MR], xv, yv;
  for (i = 0; i < EI_MR; ++i) a[i] = b[i] = bias[i] + (ei_v8){0};
  for (c = 0; c < cin; ++c, xa += cs, xb += cs) {
    for (q = 0; q < ntap; ++q, wp += EI_MR) {
      memcpy(&xv, xa + toff[q], sizeof xv);
      memcpy(&yv, xb + toff[q], sizeof yv);
      a[0] += wp[0] * xv; a[1] += wp[1] * xv; a[2] += wp[2] * xv; a[3] += wp[3] * xv;
      a[4] += wp[4] * xv; a[5] += wp[5] * xv; a[6] += wp[6] * xv; a[7] += wp[7] * xv;
      b[0] += wp[0] * yv; b[1] += wp[1] * yv; b[2] += wp[2] * yv; b[3] += wp[3] * yv;
      b[4] += wp[4] * yv; b[5] += wp[5] * yv; b[6] += wp[6] * yv; b[7] += wp[7] * yv;
    }
  }
  if (ya) {
    ei_band_put(a, mr, ya, plane, lo, hi, accum);
  } else {
    for (i = 0; i < EI_MR; ++i) memcpy(t + i * 16, &a[i], sizeof a[i]);
  }
  if (yb) {
    ei_band_put(b, mr, yb, plane, lo, hi, accum);
  } else {
    for (i = 0; i < EI_MR; ++i) memcpy(t + i * 16 + 8, &b[i], sizeof b[i]);
  }
#elif defined(EI_GEMM_VECTOR)
  /* one run at a time: 16 accumulators and the loads would not fit 16 AVX (or NEON q-pair) registers */
  const float *const wp0 = wp;
  int32_t half;
  for (half = 0; half < 2; ++half) {
    const float *xr = half ? xb : xa;
    float *yr = half ? yb : ya;
    ei_v8 a[EI_MR], xv;
    wp = wp0;
    for (i = 0; i < EI_MR; ++i) a[i] = bias[i] + (ei_v8){0};
    for (c = 0; c < cin; ++c, xr += cs) {
      for (q = 0; q < ntap; ++q, wp += EI_MR) {
        memcpy(&xv, xr + toff[q], sizeof xv);
        a[0] += wp[0] * xv; a[1] += wp[1] * xv; a[2] += wp[2] * xv; a[3] += wp[3] * xv;
        a[4] += wp[4] * xv; a[5] += wp[5] * xv; a[6] += wp[6] * xv; a[7] += wp[7] * xv;
      }
    }
    if (yr) {
      ei_band_put(a, mr, yr, plane, lo, hi, accum);
    } else {
      for (i = 0; i < EI_MR; ++i) memcpy(t + i * 16 + half * 8, &a[i], sizeof a[i]);
    }
  }
#else
  float acc[EI_MR][16];
  int32_t j, h;
  for (i = 0; i < EI_MR; ++i)
    for (j = 0; j < 16; ++j) acc[i][j] = bias[i];
  for (c = 0; c < cin; ++c, xa += cs, xb += cs) {
    for (q = 0; q < ntap; ++q, wp += EI_MR) {
      const float *ra = xa + toff[q], *rb = xb + toff[q];
      for (i = 0; i < EI_MR; ++i) {
        for (j = 0; j < 8; ++j) {
          acc[i][j] += wp[i] * ra[j];
          acc[i][j + 8] += wp[i] * rb[j];
        }
      }
    }
  }
  for (h = 0; h < 2; ++h) {
    float *yr = h ? yb : ya;
    for (i = 0; i < EI_MR; ++i) {
      for (j = 0; j < 8; ++j) {
        if (yr == 0) {
          t[i * 16 + h * 8 + j] = acc[i][h * 8 + j];
        } else if (i < mr) {
          float *yo = yr + i * plane + j;
          *yo = ei_gclamp(accum ? acc[i][h * 8 + j] + *yo : acc[i][h * 8 + j], lo, hi);
        }
      }
    }
  }
#endif
}

/* A run of up to 8 outputs: its band position, output row (in the chunk) and column, outputs kept. */
typedef struct {
  int32_t p, r, ox, n;
} ei_band_run_t;

/* Rows [0, mr) of lanes t[0, 8) (row pitch 16), run `run`, into y (the chunk's first output row of the
 * panel's first channel), one output at a time: a run that ends a row or a chunk (runs that are 8
 * consecutive outputs are stored from the tile's registers); lanes on columns past ow are dropped. */
static void ei_band_store(const float *t, int32_t mr, const ei_band_run_t *run, int32_t wq, int32_t ow, float lo,
                          float hi, int32_t accum, float *y, int32_t plane)
{
  int32_t r = run->r, ox = run->ox, i, j;
  for (j = 0; j < run->n; ++j) {
    if (ox < ow) {
      float *yo = y + (long)r * ow + ox;
      for (i = 0; i < mr; ++i) {
        const float v = t[i * 16 + j];
        yo[(long)i * plane] = ei_gclamp(accum ? v + yo[(long)i * plane] : v, lo, hi);
      }
    }
    if (++ox == wq) {
      ox = 0;
      ++r;
    }
  }
}

/* The address of run's first output if its outputs are 8 consecutive ones of y (stored straight from the
 * tile's registers): 8 of a row, or any 8 when the band's pitch is the output's. Else null. */
static float *ei_band_direct(const ei_band_run_t *run, int32_t wq, int32_t ow, float *y)
{
  if (run->n != 8 || (wq != ow && run->ox + 8 > ow)) return (float *)0;
  return y + (long)run->r * ow + run->ox;
}

/* The next run of a chunk of n rows after `run` (the first when run->n == 0): along each row (by_rows),
 * or over the rows flattened at pitch wq. Returns 0 past the chunk's end. */
static int32_t ei_band_next(ei_band_run_t *run, int32_t by_rows, int32_t n, int32_t wq, int32_t ow)
{
  int32_t p = run->n ? run->p + run->n : 0, r = run->r, ox = run->ox + run->n;
  if (run->n == 0) r = ox = 0;
  if (by_rows) {
    if (ox >= ow) {
      ++r;
      ox = 0;
    }
    p = r * wq + ox;
    run->n = ow - ox < 8 ? ow - ox : 8;
  } else {
    while (ox >= wq) {
      ox -= wq;
      ++r;
    }
    run->n = n * wq - p < 8 ? n * wq - p : 8;
  }
  run->p = p;
  run->r = r;
  run->ox = ox;
  return r < n && run->n > 0;
}

/* The band path of ei_conv2d_gemm_f32: chunks of `rows` output rows (the last may be shorter). */
static void ei_conv_band(const int32_t *g, const ei_band_t *bd, const float *x, const float *wp,
                         const float *bias, float lo, float hi, int32_t accum, int32_t rows, float *band, float *y)
{
  const int32_t cin = g[EI_CONV_CIN], cout = g[EI_CONV_COUT], oh = g[EI_CONV_OH], ow = g[EI_CONV_OW];
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sh = g[EI_CONV_SH];
  const int32_t dh = g[EI_CONV_DH], ntap = kh * kw, wq = bd->wq, plane = oh * ow;
  /* runs along rows, unless the planes have the output's pitch (then no lane falls in the padding) */
  const int32_t by_rows = wq != ow;
  const long k = (long)cin * ntap, cs = ei_band_cs(bd, rows);
  int32_t toff[EI_BAND_MAXTAPS];
  float t[EI_MR * 16];
  ei_band_run_t ra, rb;
  int32_t ky, kx, oy0, n, i0, has_b;
  for (ky = 0; ky < kh; ++ky) {
    for (kx = 0; kx < kw; ++kx) {
      const int32_t plane_i = bd->slot_y[ky * dh % sh] * bd->ncol + bd->col_of[kx];
      toff[ky * kw + kx] = (plane_i * (rows + bd->qy) + ky * dh / sh) * wq + bd->col_dx[kx];
    }
  }
  memset(band + cin * cs, 0, EI_BAND_SLACK * sizeof(float));
  for (oy0 = 0; oy0 < oh; oy0 += n) {
    float *yc = y + (long)oy0 * ow;
    n = oh - oy0 < rows ? oh - oy0 : rows;
    ei_band_fill(g, bd, x, oy0, n, rows, band);
    ra.n = 0;
    while (ei_band_next(&ra, by_rows, n, wq, ow)) {
      rb = ra;
      has_b = ei_band_next(&rb, by_rows, n, wq, ow);
      for (i0 = 0; i0 < cout; i0 += EI_MR) {
        const int32_t mr = cout - i0 < EI_MR ? cout - i0 : EI_MR;
        float *ym = yc + (long)i0 * plane, *ya = ei_band_direct(&ra, wq, ow, ym);
        float *yb = has_b ? ei_band_direct(&rb, wq, ow, ym) : (float *)0;
        /* a lone last run pairs with the 8 floats after it (lanes computed and dropped) */
        ei_band_tile(wp + i0 * k, bias + i0, cin, ntap, toff, cs, band + ra.p, band + (has_b ? rb.p : ra.p + 8), ya,
                     yb, mr, plane, lo, hi, accum, t);
        if (!ya) ei_band_store(t, mr, &ra, wq, ow, lo, hi, accum, ym, plane);
        if (has_b && !yb) ei_band_store(t + 8, mr, &rb, wq, ow, lo, hi, accum, ym, plane);
      }
      if (!has_b) break;
      ra = rb;
    }
  }
}

void ei_conv2d_gemm_f32(const int32_t *g, const float *x, const float *wp, const float *bias, float act_min,
                        float act_max, int32_t accumulate, int32_t chunk_rows, float *scratch, float *y)
{
  const int32_t cout = g[EI_CONV_COUT], oh = g[EI_CONV_OH], ow = g[EI_CONV_OW];
  const int32_t k = g[EI_CONV_CIN] * g[EI_CONV_KH] * g[EI_CONV_KW];
  const int32_t plane = oh * ow;
  const int32_t ldb = (chunk_rows * ow + EI_NR - 1) / EI_NR * EI_NR;
  ei_band_t bd;
  int32_t oy0;
  if (ei_band_setup(g, &bd)) {
    /* the band takes the scratch the im2col slice was given: as many output rows as fit, evened out */
    const long avail = (long)k * ldb - EI_BAND_SLACK;
    const long per_row = ei_band_cs(&bd, 1) - ei_band_cs(&bd, 0);
    long rows = per_row > 0 ? (avail / g[EI_CONV_CIN] - ei_band_cs(&bd, 0)) / per_row : 0;
    if (rows > oh) rows = oh;
    if (rows >= 1) {
      const long chunks = (oh + rows - 1) / rows;
      ei_conv_band(g, &bd, x, wp, bias, act_min, act_max, accumulate, (int32_t)((oh + chunks - 1) / chunks),
                   scratch, y);
      return;
    }
  }
  for (oy0 = 0; oy0 < oh; oy0 += chunk_rows) {
    const int32_t rows = oh - oy0 < chunk_rows ? oh - oy0 : chunk_rows;
    ei_im2col(g, x, oy0, rows, ldb, scratch);
    ei_gemm_run(wp, bias, cout, k, scratch, ldb, rows * ow, act_min, act_max, accumulate, y + (long)oy0 * ow, plane,
                1);
  }
}

/* Narrow planes (KWS: 25x5): a 3x3 stride-1 'same' conv over the plane as one long row. xs is the
 * channel with w + 1 zeros before and after (the rows above and below the plane); m0 / m2 are 0 in the
 * first / last column and 1 elsewhere, cancelling the taps that would wrap around to the next row. */
static void ei_dw3x3_flat(const float *xs, const float *m0, const float *m2, int32_t h, int32_t wd,
                          const float *w, float bias, float lo, float hi, float *y)
{
  const int32_t n = h * wd;
  const float *r0 = xs - wd, *r1 = xs, *r2 = xs + wd;
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float v = bias + m0[i] * (w[0] * r0[i - 1] + w[3] * r1[i - 1] + w[6] * r2[i - 1])
                    + (w[1] * r0[i] + w[4] * r1[i] + w[7] * r2[i])
                    + m2[i] * (w[2] * r0[i + 1] + w[5] * r1[i + 1] + w[8] * r2[i + 1]);
    y[i] = ei_gclamp(v, lo, hi);
  }
}

/* One channel, 3x3, any stride: one output row at a time (SIMD across the row). */
static void ei_dw3x3_rows(const float *xp, int32_t wp, int32_t oh, int32_t ow, int32_t sh, int32_t sw,
                          const float *w, float bias, float lo, float hi, float *y)
{
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  int32_t oy, ox;
  for (oy = 0; oy < oh; ++oy) {
    const float *r0 = xp + (long)oy * sh * wp, *r1 = r0 + wp, *r2 = r1 + wp;
    float *yr = y + oy * ow;
    if (sw == 1) {
      for (ox = 0; ox < ow; ++ox) {
        const float v = bias + w0 * r0[ox] + w1 * r0[ox + 1] + w2 * r0[ox + 2] + w3 * r1[ox] + w4 * r1[ox + 1]
                        + w5 * r1[ox + 2] + w6 * r2[ox] + w7 * r2[ox + 1] + w8 * r2[ox + 2];
        yr[ox] = ei_gclamp(v, lo, hi);
      }
    } else {
      for (ox = 0; ox < ow; ++ox) {
        const int32_t q = ox * sw;
        const float v = bias + w0 * r0[q] + w1 * r0[q + 1] + w2 * r0[q + 2] + w3 * r1[q] + w4 * r1[q + 1]
                        + w5 * r1[q + 2] + w6 * r2[q] + w7 * r2[q + 1] + w8 * r2[q + 2];
        yr[ox] = ei_gclamp(v, lo, hi);
      }
    }
  }
}

/* One channel, 3x3 stride 2 on the split padded plane (rows of wp floats, even columns then odd). */
static void ei_dw3x3_s2(const float *xp, int32_t wp, int32_t oh, int32_t ow, const float *w, float bias, float lo,
                        float hi, float *y)
{
  const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const int32_t we = (wp + 1) / 2;
  int32_t oy, ox;
  for (oy = 0; oy < oh; ++oy) {
    /* restrict: no run-time overlap checks before the row's loop (rows are short) */
    const float *restrict e0 = xp + (long)2 * oy * wp, *restrict e1 = e0 + wp, *restrict e2 = e1 + wp;
    const float *restrict o0 = e0 + we, *restrict o1 = e1 + we, *restrict o2 = e2 + we;
    float *restrict yr = y + oy * ow;
    for (ox = 0; ox < ow; ++ox) {
      const float v = bias + w0 * e0[ox] + w1 * o0[ox] + w2 * e0[ox + 1] + w3 * e1[ox] + w4 * o1[ox]
                      + w5 * e1[ox + 1] + w6 * e2[ox] + w7 * o2[ox] + w8 * e2[ox + 1];
      yr[ox] = ei_gclamp(v, lo, hi);
    }
  }
}

/* One channel, any kernel size / stride / dilation. */
static void ei_dw_generic(const float *xp, int32_t wp, const int32_t *g, const float *w, float bias, float lo,
                          float hi, float *y)
{
  const int32_t oh = g[EI_CONV_OH], ow = g[EI_CONV_OW], kh = g[EI_CONV_KH], kw = g[EI_CONV_KW];
  const int32_t sh = g[EI_CONV_SH], sw = g[EI_CONV_SW], dh = g[EI_CONV_DH], dw = g[EI_CONV_DW];
  int32_t oy, ox, ky, kx;
  for (oy = 0; oy < oh; ++oy) {
    float *yr = y + oy * ow;
    for (ox = 0; ox < ow; ++ox) yr[ox] = bias;
    for (ky = 0; ky < kh; ++ky) {
      const float *xr = xp + (long)(oy * sh + ky * dh) * wp;
      for (kx = 0; kx < kw; ++kx) {
        const float wv = w[ky * kw + kx];
        const float *xq = xr + kx * dw;
        for (ox = 0; ox < ow; ++ox) yr[ox] += wv * xq[ox * sw];
      }
    }
    for (ox = 0; ox < ow; ++ox) yr[ox] = ei_gclamp(yr[ox], lo, hi);
  }
}

static int32_t ei_dw_is_flat(const int32_t *g)
{
  return g[EI_CONV_KH] == 3 && g[EI_CONV_KW] == 3 && g[EI_CONV_SH] == 1 && g[EI_CONV_SW] == 1
         && g[EI_CONV_DH] == 1 && g[EI_CONV_DW] == 1 && g[EI_CONV_PT] == 1 && g[EI_CONV_PL] == 1
         && g[EI_CONV_OH] == g[EI_CONV_H] && g[EI_CONV_OW] == g[EI_CONV_W] && g[EI_CONV_OW] < 16;
}

void ei_dwconv2d_f32(const int32_t *g, const float *x, const float *w, const float *bias, float act_min,
                     float act_max, float *scratch, float *y)
{
  const int32_t c = g[EI_CONV_CIN], h = g[EI_CONV_H], wd = g[EI_CONV_W], oh = g[EI_CONV_OH], ow = g[EI_CONV_OW];
  const int32_t kh = g[EI_CONV_KH], kw = g[EI_CONV_KW], sh = g[EI_CONV_SH], sw = g[EI_CONV_SW];
  const int32_t pt = g[EI_CONV_PT], pl = g[EI_CONV_PL];
  int32_t hp, wp, rows, cols, ch, r, i;
  if (ei_dw_is_flat(g)) {
    const int32_t n = h * wd;
    float *xs = scratch + wd + 1, *m0 = scratch + n + 2 * wd + 2, *m2 = m0 + n;
    memset(scratch, 0, (size_t)(n + 2 * wd + 2) * sizeof(float));
    for (i = 0; i < n; ++i) {
      m0[i] = i % wd == 0 ? 0.0f : 1.0f;
      m2[i] = i % wd == wd - 1 ? 0.0f : 1.0f;
    }
    for (ch = 0; ch < c; ++ch) {
      /* copied first: y may be x (in place) */
      memcpy(xs, x + (long)ch * n, (size_t)n * sizeof(float));
      ei_dw3x3_flat(xs, m0, m2, h, wd, w + ch * 9, bias ? bias[ch] : 0.0f, act_min, act_max, y + (long)ch * n);
    }
    return;
  }
  ei_dwconv_padded(g, &hp, &wp);
  rows = h < hp - pt ? h : hp - pt;
  cols = wd < wp - pl ? wd : wp - pl;
  memset(scratch, 0, (size_t)hp * wp * sizeof(float));
  for (ch = 0; ch < c; ++ch) {
    const float *xc = x + (long)ch * h * wd;
    float *yc = y + (long)ch * oh * ow;
    const float b = bias ? bias[ch] : 0.0f;
    /* the channel's plane is copied before its output is written: y may overlap x up to here */
    if (kh == 3 && kw == 3 && sh == 2 && sw == 2 && g[EI_CONV_DH] == 1 && g[EI_CONV_DW] == 1) {
      for (r = 0; r < rows; ++r) {
        float *row = scratch + (long)(r + pt) * wp;
        ei_dw_row_split(xc + (long)r * wd, cols, pl, row, row + (wp + 1) / 2);
      }
      ei_dw3x3_s2(scratch, wp, oh, ow, w + ch * 9, b, act_min, act_max, yc);
      continue;
    }
    for (r = 0; r < rows; ++r) memcpy(scratch + (long)(r + pt) * wp + pl, xc + (long)r * wd, (size_t)cols * sizeof(float));
    if (kh == 3 && kw == 3 && g[EI_CONV_DH] == 1 && g[EI_CONV_DW] == 1) {
      ei_dw3x3_rows(scratch, wp, oh, ow, sh, sw, w + ch * 9, b, act_min, act_max, yc);
    } else {
      ei_dw_generic(scratch, wp, g, w + (long)ch * kh * kw, b, act_min, act_max, yc);
    }
  }
}

void ei_dwconv_padded(const int32_t *g, int32_t *hp, int32_t *wp)
{
  *hp = (g[EI_CONV_OH] - 1) * g[EI_CONV_SH] + (g[EI_CONV_KH] - 1) * g[EI_CONV_DH] + 1;
  *wp = (g[EI_CONV_OW] - 1) * g[EI_CONV_SW] + (g[EI_CONV_KW] - 1) * g[EI_CONV_DW] + 1;
  if (ei_dw_is_flat(g)) { /* the flat path's layout, as one row of this many floats */
    *wp = 3 * g[EI_CONV_H] * g[EI_CONV_W] + 2 * g[EI_CONV_W] + 2;
    *hp = 1;
  }
}
