/* ei_int8_simd.h: shared pieces of the vectorised int8 kernels, twins of ../ei_conv_s8.c,
 * ../ei_fc_s8.c, ../ei_pool_s8.c and ../ei_elementwise_s8.c with the same functions and the same
 * output bytes. The host build links them (backends/c/build.py); cross builds keep choosing
 * between the reference kernels and the Cortex-M twins in ../opt.
 *
 * The weights stay in the reference layout and no kernel needs planned working memory (the most
 * any takes is ei_conv_lanes' 1,088-byte weight table on the stack), so the generated C and its
 * arena are the same whichever set is linked. Dot products run on int8 inputs as u8 x s8 with
 * AVX-512 VNNI (VPDPBUSD, x + 128 against the weights, the zero point's share taken off the
 * bias), otherwise widened to int16 with the input zero point subtracted in the register (a tap
 * outside the input is a skipped tap, as in the reference) and multiplied-added in pairs
 * (VPMADDWD, or VPDPWSSD with AVX-VNNI). Without AVX2 the same loops run as plain C written for
 * the auto-vectoriser. Tests build all three (-O3 -march=native, -O3 -mavx2, -O2).
 *
 * Requantization is TFLite's MultiplyByQuantizedMultiplier without the 64-bit division: for a
 * multiplier b >= 0, SaturatingRoundingDoublingHighMul(a, b) == (a * b + 2^30) >> 31 (floor) for
 * both signs of a * b, since the reference's nudge 1 - 2^30 for a negative product followed by a
 * division truncating towards zero rounds the same way; a == b == INT32_MIN cannot occur. The
 * RoundingDivideByPOT that follows is computed as in the reference with per-lane shifts. A kernel
 * checks its multipliers once (ei_simd_requant_ok) and requantizes with the reference ei_mbqm
 * when one lies outside that range (never the case for TFLite's QuantizeMultiplier). */
#ifndef EI_INT8_SIMD_H
#define EI_INT8_SIMD_H

#include <stdint.h>
#include <string.h>

#include "ei_int8.h"

#if defined(__AVX2__)
#include <immintrin.h>
#define EI_SIMD_AVX2 1
#else
#define EI_SIMD_AVX2 0
#endif

/* AVX-512 byte masks: a load of the first n bytes of 16 or 32 that never touches the others. */
#if EI_SIMD_AVX2 && defined(__AVX512BW__) && defined(__AVX512VL__)
#define EI_SIMD_MASKED 1
#else
#define EI_SIMD_MASKED 0
#endif

/* u8 x s8 dot products, four per int32 lane (VPDPBUSD, AVX-512 VNNI): an int8 input plus 128 is
 * unsigned, so sum((x + 128) * w) - (zp + 128) * sum(w) == sum((x - zp) * w), twice the products
 * of VPDPWSSD per instruction and no widening. Byte masks load the tails. */
#if EI_SIMD_MASKED && defined(__AVX512VNNI__)
#define EI_SIMD_U8DOT 1
#else
#define EI_SIMD_U8DOT 0
#endif

/* Block of the convolution micro-kernel: EI_SIMD_NR output pixels x EI_SIMD_MR output channels,
 * one int32 accumulator register each. 4 x 4 keeps 16 accumulators and 8 operands in the 32
 * vector registers of AVX-512; plain AVX2 has 16, so two pixels there. */
#define EI_SIMD_MR 4
#if EI_SIMD_AVX2 && defined(__AVX512VL__)
#define EI_SIMD_NR 4
#else
#define EI_SIMD_NR 2
#endif

/* A micro-kernel: kept out of its large caller (inlined, its accumulators compete with the caller's
 * loop state for registers), and compiled by GCC without partial redundancy elimination, which
 * otherwise leaves the register allocator copying every accumulator in and out of a scratch
 * register around each multiply-add (GCC 12: twice the instructions in the hot loop). */
#if defined(__GNUC__) && !defined(__clang__)
#define EI_SIMD_KERNEL __attribute__((noinline, optimize("no-tree-pre")))
#elif defined(__GNUC__)
#define EI_SIMD_KERNEL __attribute__((noinline))
#else
#define EI_SIMD_KERNEL
#endif

/* True when every multiplier is >= 0 and every shift in [-31, 31]: the range the vector
 * requantization below is exact for. */
static inline int32_t ei_simd_requant_ok(const int32_t *mult, const int32_t *shift, int32_t n)
{
  int32_t i, ok = 1;
  for (i = 0; i < n; ++i) {
    ok &= mult[i] >= 0 && shift[i] >= -31 && shift[i] <= 31;
  }
  return ok;
}

/* ei_mbqm for mult >= 0 and shift in [-31, 31], without the 64-bit division. */
static inline int32_t ei_simd_mbqm(int32_t x, int32_t mult, int32_t shift)
{
  const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32_t a = (int32_t)((uint32_t)x << left);
  const int32_t hm = (int32_t)(((int64_t)a * mult + ((int64_t)1 << 30)) >> 31);
  const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
  return (hm >> right) + ((hm & mask) > (mask >> 1) + (hm < 0 ? 1 : 0) ? 1 : 0);
}

/* dst[0, n) = src[0, n) for the short runs of a gathered window: no library call per run. */
static inline void ei_simd_copy(int8_t *dst, const int8_t *src, int32_t n)
{
#if EI_SIMD_MASKED
  for (; n >= 16; n -= 16, dst += 16, src += 16) {
    _mm_storeu_si128((__m128i *)(void *)dst, _mm_loadu_si128((const __m128i *)(const void *)src));
  }
  if (n > 0) {
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    _mm_mask_storeu_epi8(dst, m, _mm_maskz_loadu_epi8(m, src));
  }
#else
  memcpy(dst, src, (size_t)n);
#endif
}

/* acc (bias included) -> int8 output; exact selects the fast form (ei_simd_requant_ok). */
static inline int8_t ei_simd_out(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi,
                                 int32_t exact)
{
  const int32_t v = (exact ? ei_simd_mbqm(acc, mult, shift) : ei_mbqm(acc, mult, shift)) + zp;
  return (int8_t)ei_clamp_s32(v, lo, hi);
}

#if EI_SIMD_AVX2
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define ei_simd_dpwssd(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#elif defined(__AVXVNNI__)
#define ei_simd_dpwssd(acc, a, b) _mm256_dpwssd_avx_epi32((acc), (a), (b))
#else
#define ei_simd_dpwssd(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#endif

static inline __m128i ei_simd_load16(const int8_t *p)
{
  return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The first n (0 < n < 16) bytes at p, zeros above: never reads past p + n. */
static inline __m128i ei_simd_load_part(const int8_t *p, int32_t n)
{
#if EI_SIMD_MASKED
  return _mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1u), p);
#else
  int8_t t[16] = {0};
  memcpy(t, p, (size_t)n);
  return _mm_loadu_si128((const __m128i *)(const void *)t);
#endif
}

/* 16 int8 -> 16 int16 minus the zero point (zp16 holds it in every lane). */
static inline __m256i ei_simd_widen_zp(__m128i v, __m256i zp16)
{
  return _mm256_sub_epi16(_mm256_cvtepi8_epi16(v), zp16);
}

/* Per-lane ei_simd_mbqm: left = max(shift, 0), right = max(-shift, 0). */
static inline __m256i ei_simd_mbqm8(__m256i x, __m256i mult, __m256i left, __m256i right)
{
  const __m256i one = _mm256_set1_epi32(1), nudge = _mm256_set1_epi64x((int64_t)1 << 30);
  const __m256i a = _mm256_sllv_epi32(x, left);
  /* even lanes: bits 31..62 of the 64-bit product land in the low half of each quadword; odd
   * lanes: shifted up by one, they land in the high half */
  const __m256i ev = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, mult), nudge), 31);
  const __m256i od = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(mult, 32)), nudge), 1);
  const __m256i hm = _mm256_blend_epi32(ev, od, 0xAA);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
  const __m256i thr = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_cmpgt_epi32(_mm256_setzero_si256(), hm));
  const __m256i up = _mm256_cmpgt_epi32(_mm256_and_si256(hm, mask), thr);
  return _mm256_sub_epi32(_mm256_srav_epi32(hm, right), up);
}

/* Requantization constants of 8 lanes, loaded once per block. */
typedef struct {
  __m256i mult, left, right;
} ei_simd_rq8;

static inline ei_simd_rq8 ei_simd_rq8_load(const int32_t *mult, const int32_t *shift)
{
  ei_simd_rq8 r;
  const __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)shift);
  r.mult = _mm256_loadu_si256((const __m256i *)(const void *)mult);
  r.left = _mm256_max_epi32(s, _mm256_setzero_si256());
  r.right = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), s), _mm256_setzero_si256());
  return r;
}

static inline ei_simd_rq8 ei_simd_rq8_set1(int32_t mult, int32_t shift)
{
  ei_simd_rq8 r;
  r.mult = _mm256_set1_epi32(mult);
  r.left = _mm256_set1_epi32(shift > 0 ? shift : 0);
  r.right = _mm256_set1_epi32(shift > 0 ? 0 : -shift);
  return r;
}

/* 8 accumulators -> 8 int32 outputs, zero point added and clamped to [lo, hi]. */
static inline __m256i ei_simd_requant8(__m256i acc, ei_simd_rq8 r, __m256i zp, __m256i lo, __m256i hi)
{
  const __m256i v = _mm256_add_epi32(ei_simd_mbqm8(acc, r.mult, r.left, r.right), zp);
  return _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
}

/* 16 int32 in int8 range -> 16 bytes, in order. */
static inline __m128i ei_simd_pack16(__m256i a, __m256i b)
{
  const __m128i a16 = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  const __m128i b16 = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  return _mm_packs_epi16(a16, b16);
}

/* Sums of the 8 lanes of a..h as one vector {sum a, ..., sum h}. Unpacks and adds, no VPHADDD: that
 * one has no EVEX form, so the accumulators feeding it would have to live in the 16 VEX registers. */
static inline __m256i ei_simd_hsum8x8(__m256i a, __m256i b, __m256i c, __m256i d, __m256i e, __m256i f,
                                       __m256i g, __m256i h)
{
  const __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  const __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
  const __m256i ef = _mm256_add_epi32(_mm256_unpacklo_epi32(e, f), _mm256_unpackhi_epi32(e, f));
  const __m256i gh = _mm256_add_epi32(_mm256_unpacklo_epi32(g, h), _mm256_unpackhi_epi32(g, h));
  /* {a, b, c, d} of lanes 0-3 | of lanes 4-7, then the same for e..h */
  const __m256i abcd = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
  const __m256i efgh = _mm256_add_epi32(_mm256_unpacklo_epi64(ef, gh), _mm256_unpackhi_epi64(ef, gh));
  return _mm256_add_epi32(_mm256_permute2x128_si256(abcd, efgh, 0x20), _mm256_permute2x128_si256(abcd, efgh, 0x31));
}
#endif /* EI_SIMD_AVX2 */

#endif /* EI_INT8_SIMD_H */
