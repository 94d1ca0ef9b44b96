/* ei_fc_s8.c (optimised twin): int8 fully connected layer with the signature and results
 * of the reference kernel (../ei_fc_s8.c); the code is in ei_fc_s8_impl.inc. */
#define EI_FC_RQ(acc_, k_) ei_opt_requant((acc_), mult[k_], shift[k_], q[1], q[2], q[3])
#include "ei_fc_s8_impl.inc"

void ei_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mult,
                           const int32_t *shift, int32_t n_mult, const int32_t *q, int32_t rows,
                           int32_t n_in, int32_t n_out, int8_t *y)
{
  ei_fc_core(x, w, bias, mult, shift, n_mult, q, rows, n_in, n_out, y);
}
