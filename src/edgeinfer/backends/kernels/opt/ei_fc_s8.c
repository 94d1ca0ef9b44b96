/* ei_fc_s8.c (optimised twin): int8 fully connected layer with the signature and results
 * of the reference kernel (../ei_fc_s8.c). Four output rows per block, so every input word
 * (sign-extended and offset once) feeds four weight rows; see ei_int8_opt.h. */
#include "ei_int8_opt.h"

/* acc[0..3] += dot(x - zp, w0..w3) over n bytes; rows i are w0 + i * s. Four row pointers, the
 * input pointer, four accumulators and the SIMD temporaries do not fit in the 13 usable
 * registers, so rows 1 and 3 are reached with register-offset loads ([w0, s], [w2, s]):
 * 2 pointers and a stride instead of 4 pointers, and no spills in the loop. */
static void ei_dot_1x4(const int8_t *x, const int8_t *w0, int32_t s, int32_t n, int32_t zp, int32_t *acc)
{
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  const int8_t *w2 = w0 + 2 * s;
#if EI_OPT_DSP
  const uint32_t off = ((uint32_t)(uint16_t)(int16_t)-zp) * 0x10001u;
  const int8_t *xe4 = x + (n & ~3);
  while (x != xe4) {
    const uint32_t xv = ei_opt_ld32(x);
    const int16x2_t xe = __sxtab16(off, xv), xo = ei_opt_sxtab16_ror8(off, xv);
    uint32_t wv = ei_opt_ld32(w0);
    a0 = __smlad(xe, __sxtb16(wv), a0);
    a0 = __smlad(xo, ei_opt_sxtb16_ror8(wv), a0);
    wv = ei_opt_ld32(w0 + s);
    a1 = __smlad(xe, __sxtb16(wv), a1);
    a1 = __smlad(xo, ei_opt_sxtb16_ror8(wv), a1);
    wv = ei_opt_ld32(w2);
    a2 = __smlad(xe, __sxtb16(wv), a2);
    a2 = __smlad(xo, ei_opt_sxtb16_ror8(wv), a2);
    wv = ei_opt_ld32(w2 + s);
    a3 = __smlad(xe, __sxtb16(wv), a3);
    a3 = __smlad(xo, ei_opt_sxtb16_ror8(wv), a3);
    x += 4;
    w0 += 4;
    w2 += 4;
  }
  n &= 3;
#else
  for (; n >= 2; n -= 2) {
    const int32_t xa = x[0] - zp, xb = x[1] - zp;
    a0 += xa * w0[0] + xb * w0[1];
    a1 += xa * w0[s] + xb * w0[s + 1];
    a2 += xa * w2[0] + xb * w2[1];
    a3 += xa * w2[s] + xb * w2[s + 1];
    x += 2;
    w0 += 2;
    w2 += 2;
  }
#endif
  for (; n > 0; --n) {
    const int32_t xa = *x++ - zp;
    a0 += xa * w0[0];
    a1 += xa * w0[s];
    a2 += xa * w2[0];
    a3 += xa * w2[s];
    ++w0;
    ++w2;
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

void ei_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                           const int32_t *shift, int32_t n_mult, const int32_t *q, int32_t rows,
                           int32_t n_in, int32_t n_out, int8_t *y)
{
  int32_t r, j, i, acc[4];
  for (r = 0; r < rows; ++r) {
    const int8_t *xr = x + r * n_in;
    int8_t *yr = y + r * n_out;
    for (j = 0; j < n_out; j += 4) {
      /* a short last block repeats row j: computed, not stored */
      const int32_t nb = n_out - j < 4 ? n_out - j : 4;
      const int8_t *wr = w + j * n_in;
      for (i = 0; i < 4; ++i) {
        acc[i] = bias && i < nb ? bias[j + i] : 0;
      }
      if (nb == 4) {
        ei_dot_1x4(xr, wr, n_in, n_in, q[0], acc);
      } else {
        /* short last block: one row at a time (stride 0: the four lanes read the same row, so
         * nothing past the weights is read) */
        for (i = 0; i < nb; ++i) {
          int32_t t[4];
          t[0] = t[1] = t[2] = t[3] = acc[i];
          ei_dot_1x4(xr, wr + i * n_in, 0, n_in, q[0], t);
          acc[i] = t[0];
        }
      }
      for (i = 0; i < nb; ++i) {
        const int32_t k = n_mult > 1 ? j + i : 0;
        yr[j + i] = (int8_t)ei_opt_requant(acc[i], mult[k], shift[k], q[1], q[2], q[3]);
      }
    }
  }
}
