/* ei_opt_elementwise_s8.c: the same-shape int8 add of C generated with kernels="optimized"
 * (declared in ei_int8_opt.h), with ei_add_s8's results. The two input rescalings depend only
 * on the input byte, so they are tabulated once per call into lut (2 x 256 int32, scratch
 * planned in the model's arena; the generator calls this only for vectors long enough to pay
 * for the table) and each element costs one requantization instead of three. */
#include "ei_int8_opt.h"

void ei_opt_add_s8(const int8_t *a, const int8_t *b, const int32_t *q, int32_t n, int8_t *y, int32_t *lut)
{
  int32_t i;
  for (i = 0; i < 256; ++i) {
    lut[i] = ei_opt_requant((i - 128 - q[0]) * (1 << q[5]), q[6], q[7], 0, INT32_MIN, INT32_MAX);
    lut[256 + i] = ei_opt_requant((i - 128 - q[1]) * (1 << q[5]), q[8], q[9], 0, INT32_MIN, INT32_MAX);
  }
  for (i = 0; i < n; ++i) {
    const int32_t r = ei_opt_requant(lut[a[i] + 128] + lut[256 + b[i] + 128], q[10], q[11], q[2], q[3], q[4]);
    y[i] = (int8_t)r;
  }
}
