/* ei_fc_s16.c: 16x8 fully connected layer (TFLite Micro reference kernel). */
#include "ei_int8.h"
#include "ei_int16.h"

void ei_fully_connected_s16(const int16_t *x, const int8_t *w, const int64_t *bias, const int32_t *mult,
                            const int32_t *shift, int32_t n_mult, const int32_t *q, int32_t rows,
                            int32_t n_in, int32_t n_out, int16_t *y)
{
  int32_t r, j, i;
  for (r = 0; r < rows; ++r) {
    const int16_t *xr = x + r * n_in;
    for (j = 0; j < n_out; ++j) {
      const int8_t *wr = w + j * n_in;
      const int32_t k = n_mult > 1 ? j : 0;
      int64_t acc = bias ? bias[j] : 0;
      for (i = 0; i < n_in; ++i) {
        acc += (int64_t)(((int32_t)xr[i] - q[0]) * (int32_t)wr[i]);
      }
      y[r * n_out + j] = ei_clamp_s64_s16(ei_mbqm64(acc, mult[k], shift[k]) + q[1], q[2], q[3]);
    }
  }
}
