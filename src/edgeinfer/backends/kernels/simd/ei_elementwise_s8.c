/* ei_elementwise_s8.c (vectorised twin, see ei_int8_simd.h): int8 add and mul with the
 * signatures and output bytes of ../ei_elementwise_s8.c, and its quantize / dequantize.
 *
 * Add is three requantizations per element (each input to the common scale, then the sum to
 * the output's); without broadcasting they run 8 lanes at a time, which is what makes a residual
 * block's Add cheap next to its convolutions. A broadcast operand takes the scalar loop. */
#include "ei_int8_simd.h"

#if EI_SIMD_AVX2
static inline __m256i ei_simd_ld8(const int8_t *p, int32_t zp)
{
  return _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)),
                          _mm256_set1_epi32(zp));
}
#endif

void ei_add_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  const int32_t exact = q[6] >= 0 && q[8] >= 0 && q[10] >= 0 && q[7] >= -31 && q[7] <= 31 && q[9] >= -31 &&
                        q[9] <= 31 && q[11] >= -31 && q[11] <= 31;
  int32_t i = 0;
#if EI_SIMD_AVX2
  if (exact && !ia && !ib) {
    const ei_simd_rq8 r1 = ei_simd_rq8_set1(q[6], q[7]), r2 = ei_simd_rq8_set1(q[8], q[9]);
    const ei_simd_rq8 ro = ei_simd_rq8_set1(q[10], q[11]);
    const __m128i ls = _mm_cvtsi32_si128(q[5]);
    const __m256i zp = _mm256_set1_epi32(q[2]), lo = _mm256_set1_epi32(q[3]), hi = _mm256_set1_epi32(q[4]);
    for (; i + 8 <= n; i += 8) {
      const __m256i va = _mm256_sll_epi32(ei_simd_ld8(a + i, q[0]), ls);
      const __m256i vb = _mm256_sll_epi32(ei_simd_ld8(b + i, q[1]), ls);
      const __m256i sa = ei_simd_mbqm8(va, r1.mult, r1.left, r1.right);
      const __m256i sb = ei_simd_mbqm8(vb, r2.mult, r2.left, r2.right);
      const __m256i v = ei_simd_requant8(_mm256_add_epi32(sa, sb), ro, zp, lo, hi);
      _mm_storel_epi64((__m128i *)(void *)(y + i), ei_simd_pack16(v, v));
    }
  }
#endif
  for (; i < n; ++i) {
    const int32_t va = (int32_t)a[ia ? ia[i] : i] - q[0], vb = (int32_t)b[ib ? ib[i] : i] - q[1];
    int32_t sa, sb, v;
    if (exact) {
      sa = ei_simd_mbqm(va * (1 << q[5]), q[6], q[7]);
      sb = ei_simd_mbqm(vb * (1 << q[5]), q[8], q[9]);
      v = ei_simd_mbqm(sa + sb, q[10], q[11]);
    } else {
      sa = ei_mbqm(va * (1 << q[5]), q[6], q[7]);
      sb = ei_mbqm(vb * (1 << q[5]), q[8], q[9]);
      v = ei_mbqm(sa + sb, q[10], q[11]);
    }
    y[i] = (int8_t)ei_clamp_s32(v + q[2], q[3], q[4]);
  }
}

void ei_mul_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y)
{
  const int32_t exact = q[5] >= 0 && q[6] >= -31 && q[6] <= 31;
  int32_t i = 0;
#if EI_SIMD_AVX2
  if (exact && !ia && !ib) {
    const ei_simd_rq8 r = ei_simd_rq8_set1(q[5], q[6]);
    const __m256i zp = _mm256_set1_epi32(q[2]), lo = _mm256_set1_epi32(q[3]), hi = _mm256_set1_epi32(q[4]);
    for (; i + 8 <= n; i += 8) {
      const __m256i p = _mm256_mullo_epi32(ei_simd_ld8(a + i, q[0]), ei_simd_ld8(b + i, q[1]));
      const __m256i v = ei_simd_requant8(p, r, zp, lo, hi);
      _mm_storel_epi64((__m128i *)(void *)(y + i), ei_simd_pack16(v, v));
    }
  }
#endif
  for (; i < n; ++i) {
    const int32_t va = (int32_t)a[ia ? ia[i] : i] - q[0], vb = (int32_t)b[ib ? ib[i] : i] - q[1];
    y[i] = ei_simd_out(va * vb, q[5], q[6], q[2], q[3], q[4], exact);
  }
}

/* Quantize and dequantize: the reference loops (../ei_elementwise_s8.c), which the compiler
 * already vectorises. */
void ei_quantize_f32_s8(const float *x, float scale, int32_t zp, int32_t n, int8_t *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) y[i] = (int8_t)ei_clamp_s32(ei_quantize_f32_one(x[i], scale, zp), -128, 127);
}

void ei_dequantize_s8_f32(const int8_t *x, double scale, int32_t zp, int32_t n, float *y)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    y[i] = (float)(scale * (double)((int32_t)x[i] - zp));
  }
}
