/* ei_int8_opt.h: shared pieces of the optimised int8 kernels (twins of ei_conv_s8.c,
 * ei_fc_s8.c, ei_pool_s8.c with the same signatures, chosen at build time).
 *
 * With the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) the dot products run on
 * SMLAD over sign-extended pairs: a 32-bit word of four int8 becomes (b0, b2) and (b1, b3)
 * with SXTB16 / SXTB16 ROR 8, and the input's zero point is added in the same instruction
 * (SXTAB16). Weights and inputs then meet in the same lane order, so no repacking is
 * needed. Without DSP the same blocking runs as unrolled portable C.
 *
 * Requantization is TFLite's MultiplyByQuantizedMultiplier written without the 64-bit
 * division: for a positive multiplier (always the case, it lies in [2^30, 2^31)),
 * SaturatingRoundingDoublingHighMul(a, b) == (a * b + 2^30) >> 31 for both signs of a * b
 * (the negative nudge 1 - 2^30 and the truncating division cancel out), and the
 * saturating case a == b == INT32_MIN cannot occur. Results are bit-exact with the
 * reference kernels; tests check that under emulation. */
#ifndef EI_INT8_OPT_H
#define EI_INT8_OPT_H

#include <stdint.h>
#include <string.h>

#include "ei_int8.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define EI_OPT_DSP 1
/* SXTB16 / SXTAB16 of the odd bytes (1, 3): the instructions' own ROR #8 operand. GCC's
 * builtins do not fold a separate rotate into it, so this is written out (as CMSIS-NN's
 * __SXTB16_RORn does for GCC). */
static inline int16x2_t ei_opt_sxtb16_ror8(uint32_t v)
{
  int16x2_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

static inline int16x2_t ei_opt_sxtab16_ror8(uint32_t a, uint32_t v)
{
  int16x2_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
  return r;
}
#else
#define EI_OPT_DSP 0
#endif

/* Keeps a blocked inner kernel out of a large caller: inlined, its accumulators compete with
 * the caller's loop state for the 13 registers and spill. */
#if defined(__GNUC__)
#define EI_OPT_NOINLINE __attribute__((noinline))
#else
#define EI_OPT_NOINLINE
#endif

static inline int32_t ei_opt_requant(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
  int32_t v;
  if (shift > 0) {
    const int32_t x = (int32_t)((uint32_t)acc << shift);
    v = (int32_t)(((int64_t)x * mult + ((int64_t)1 << 30)) >> 31);
  } else {
    /* RoundingDivideByPOT(hm, r), halves away from zero, as one add and shift: for r > 0 it is
     * floor((hm + 2^(r-1) - [hm < 0]) / 2^r). The non-negative case is summed unsigned, so
     * hm near INT32_MAX cannot overflow (the quotient is below 2^31 again). */
    const int32_t hm = (int32_t)(((int64_t)acc * mult + ((int64_t)1 << 30)) >> 31);
    const int32_t r = -shift;
    const uint32_t half = ((uint32_t)1 << r) >> 1;
    if (r == 0) {
      v = hm;
    } else if (hm >= 0) {
      v = (int32_t)(((uint32_t)hm + half) >> r);
    } else {
      v = (hm + (int32_t)half - 1) >> r;
    }
  }
  v += zp;
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

/* The same requantization in the form C generated with kernels="optimized" tabulates, 2 words
 * per output channel: rq = {mult, rsh}. For shift = -r < 0 (the usual case), TFLite's two
 * roundings fold into one: with P = acc * mult,
 *   RDBPOT((P + 2^30) >> 31, r) == (P + 2^30 + 2^(30+r) - [acc < 0] * 2^31) >> (31 + r),
 * since a floor of a floor is one floor, the away-from-zero half of RDBPOT is 2^(r-1) - [hm < 0]
 * (hm < 0 exactly when P < -2^30; deciding by acc < 0 instead differs only at acc = -1,
 * mult = 2^30, where both give 0). So the result is the high word of one 64-bit
 * multiply-accumulate (SMLAL) onto R = 2^30 + 2^(30+r) (built from rsh = r - 1 in a few ALU
 * operations), shifted right by rsh: no branch on the sign of hm, no second rounding. shift >= 0
 * is stored as rsh = -1 - shift (negative) and takes the left-shift form of ei_opt_requant.
 * Bit-exact with ei_mbqm (tests compare on the host over random accumulators and every shift,
 * and whole models under emulation). */
static inline int32_t ei_opt_rq(int32_t acc, const int32_t *rq, int32_t zp, int32_t lo, int32_t hi)
{
  const int32_t rsh = rq[1];
  int32_t v;
  if (rsh >= 0) {
    /* R = 2^30 + 2^(31 + rsh): low word 2^30 (+ 2^31 when rsh = 0), high word 2^rsh / 2 */
    const uint32_t one = (uint32_t)1 << rsh;
    const uint64_t r = (((uint64_t)(one >> 1) << 32) | (0x40000000u | (one << 31))) -
                       (acc < 0 ? (uint64_t)1 << 31 : 0u);
    v = (int32_t)((uint64_t)((int64_t)acc * rq[0] + (int64_t)r) >> 32) >> rsh;
  } else {
    const int32_t x = (int32_t)((uint32_t)acc << (-1 - rsh));
    v = (int32_t)(((int64_t)x * rq[0] + ((int64_t)1 << 30)) >> 31);
  }
  v += zp;
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

/* Entry points of C generated with kernels="optimized" (ei_opt_conv_s8.c, ei_opt_fc_s8.c,
 * ei_opt_elementwise_s8.c): the reference kernels' arguments, with rq tables in place of
 * mult / shift and scratch planned in the model's arena. */
/* Bytes of ei_opt_conv2d_s8's scratch for a receptive field of klen = kh * kw * c_in bytes. */
#define EI_OPT_CONV_SCRATCH(klen) (4 * ((klen) & ~3) + 2 * (klen))
void ei_opt_conv2d_s8(const int32_t *geom, const int8_t *x, const int8_t *w, const int32_t *bias,
                      const int32_t *rq, int8_t *y, void *scratch);
void ei_opt_depthwise_conv2d_s8(const int32_t *geom, const int8_t *x, const int8_t *w, const int32_t *bias,
                                const int32_t *rq, int8_t *y);
void ei_opt_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *rq,
                               int32_t n_rq, const int32_t *q, int32_t rows, int32_t n_in, int32_t n_out,
                               int8_t *y);
/* Same-shape int8 add with the input rescalings tabulated in lut (2 x 256 int32, arena scratch). */
void ei_opt_add_s8(const int8_t *a, const int8_t *b, const int32_t *q, int32_t n, int8_t *y, int32_t *lut);

/* Four bytes from any address (the compiler emits one LDR where unaligned access is allowed). */
static inline uint32_t ei_opt_ld32(const int8_t *p)
{
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

#endif /* EI_INT8_OPT_H */
