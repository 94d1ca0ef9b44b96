/* ei_act_s8.h: int8 activations, SUB, PRELU and int8 <-> uint8 requantization of the TFLite
 * integer scheme (reference versions: the bytes TFLite Micro's reference kernels produce).
 *
 * Multipliers and shifts are computed by the code generator as TFLite's Prepare does and
 * passed in a q table:
 *   relu        q = {in_zp, out_zp, mult, shift, act_min, act_max}
 *   leaky relu  q = {in_zp, out_zp, mult_identity, shift_identity, mult_alpha, shift_alpha}
 *   hard swish  q = {in_zp, out_zp, out_mult16, out_exp, relu_mult16, relu_exp}
 *   prelu       q = {in_zp, alpha_zp, out_zp, mult_pos, shift_pos, mult_neg, shift_neg}
 *   sub         q as ei_add_s8 (ei_int8.h)
 *   requantize  q = {in_zp, out_zp, mult, shift}
 * Broadcasting reads a[ia[i]] / b[ib[i]] through index tables (NULL: same size as y).
 * C99, no heap, no recursion. */
#ifndef EI_ACT_S8_H
#define EI_ACT_S8_H

#include <stdint.h>

#include "ei_int8.h"

void ei_relu_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y);
void ei_leaky_relu_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y);
void ei_hard_swish_s8(const int8_t *x, const int32_t *q, int32_t n, int8_t *y);
void ei_prelu_s8(const int8_t *x, const int8_t *alpha, const int32_t *ix, const int32_t *ia, const int32_t *q,
                 int32_t n, int8_t *y);
void ei_sub_s8(const int8_t *a, const int8_t *b, const int32_t *ia, const int32_t *ib, const int32_t *q,
               int32_t n, int8_t *y);
void ei_requantize_u8_s8(const uint8_t *x, const int32_t *q, int32_t n, int8_t *y);
void ei_requantize_s8_u8(const int8_t *x, const int32_t *q, int32_t n, uint8_t *y);

#endif /* EI_ACT_S8_H */
