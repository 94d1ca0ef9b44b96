/* ei_fc_s8.c (vectorised twin, see ei_int8_simd.h): int8 fully connected layer with the
 * signature and output bytes of ../ei_fc_s8.c.
 *
 * A blocked matrix-vector product: 8 outputs at a time share each 16-byte slice of the input row
 * (widened, zero point subtracted, once), one accumulator register per output; the 8 sums come
 * out of one reduction as one vector and are requantized together. */
#include "ei_int8_simd.h"

void ei_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                           const int32_t *shift, int32_t n_mult, const int32_t *q, int32_t rows,
                           int32_t n_in, int32_t n_out, int8_t *y)
{
  const int32_t exact = ei_simd_requant_ok(mult, shift, n_mult);
  int32_t r, j, i, t;
  for (r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * n_in;
    int8_t *yr = y + r * n_out;
    for (j = 0; j < n_out; j += 8) {
      const int32_t nj = n_out - j < 8 ? n_out - j : 8;
      int32_t acc[8];
#if EI_SIMD_AVX2
      const __m256i zp16 = _mm256_set1_epi16((int16_t)q[0]);
      const int32_t full = n_in & ~15;
      const int8_t *wr[8];
      __m256i a[8], s;
      for (t = 0; t < 8; ++t) {
        wr[t] = w + (j + (t < nj ? t : nj - 1)) * n_in;
        a[t] = _mm256_setzero_si256();
      }
      for (i = 0; i < full; i += 16) {
        const __m256i xv = ei_simd_widen_zp(ei_simd_load16(xr + i), zp16);
        for (t = 0; t < 8; ++t) {
          a[t] = ei_simd_dpwssd(a[t], xv, _mm256_cvtepi8_epi16(ei_simd_load16(wr[t] + i)));
        }
      }
      if (full < n_in) {
        const __m256i xv = ei_simd_widen_zp(ei_simd_load_part(xr + full, n_in - full), zp16);
        for (t = 0; t < 8; ++t) {
          a[t] = ei_simd_dpwssd(a[t], xv, _mm256_cvtepi8_epi16(ei_simd_load_part(wr[t] + full, n_in - full)));
        }
      }
      s = ei_simd_hsum8x8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
      if (exact && nj == 8) {
        const __m256i b = bias ? _mm256_loadu_si256((const __m256i *)(const void *)(bias + j)) : _mm256_setzero_si256();
        const ei_simd_rq8 rq = n_mult > 1 ? ei_simd_rq8_load(mult + j, shift + j) : ei_simd_rq8_set1(mult[0], shift[0]);
        const __m256i v = ei_simd_requant8(_mm256_add_epi32(s, b), rq, _mm256_set1_epi32(q[1]), _mm256_set1_epi32(q[2]),
                                           _mm256_set1_epi32(q[3]));
        _mm_storel_epi64((__m128i *)(void *)(yr + j), ei_simd_pack16(v, v));
        continue;
      }
      _mm256_storeu_si256((__m256i *)(void *)acc, s);
#else
      for (t = 0; t < nj; ++t) {
        const int8_t *wr = w + (j + t) * n_in;
        int32_t sum = 0;
        for (i = 0; i < n_in; ++i) {
          sum += ((int32_t)xr[i] - q[0]) * (int32_t)wr[i];
        }
        acc[t] = sum;
      }
#endif
      for (t = 0; t < nj; ++t) {
        const int32_t k = n_mult > 1 ? j + t : 0;
        yr[j + t] = ei_simd_out(acc[t] + (bias ? bias[j + t] : 0), mult[k], shift[k], q[1], q[2], q[3], exact);
      }
    }
  }
}
