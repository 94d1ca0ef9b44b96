/* ei_opt_fc_s8.c: the int8 fully connected entry point of C generated with kernels="optimized"
 * (declared in ei_int8_opt.h): ei_fully_connected_s8's results, requantized from an rq table
 * (ei_opt_rq form, n_rq rows of 2 words: 1 or n_out). */
#define EI_FC_RQ(acc_, k_) ei_opt_rq((acc_), mult + 2 * (k_), q[1], q[2], q[3])
#include "ei_fc_s8_impl.inc"

void ei_opt_fully_connected_s8(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *rq,
                               int32_t n_rq, const int32_t *q, int32_t rows, int32_t n_in, int32_t n_out,
                               int8_t *y)
{
  ei_fc_core(x, w, bias, rq, (const int32_t *)0, n_rq, q, rows, n_in, n_out, y);
}
