/* ei_ops_int8.c: integer ops of the TFLite scheme, calling the kernel library's ei_*_s8.c kernels
 * (ei_int8.h) and, where activations are int16 (the 16x8 scheme: int8 weights, int64 biases), the
 * ei_*_s16.c ones (ei_int16.h), with the multipliers, shifts and index tables the C backend computes
 * (backends/c/ops/quantized.py), so outputs are the generated C's bytes (and TFLite Micro's). The
 * activation dtype comes from the tensor records: the same op codes run both schemes.
 *
 * prepare bounds everything the kernels read and keeps their integer arithmetic defined: zero
 * points and clamp bounds in the activation type's range, shifts in [-31, 31] ([-47, 14] for the
 * 16x8 kernels' int64 requantization), multipliers non-negative, accumulators that cannot overflow
 * (bias magnitude and window size bounded). */
#include "ei_interp_ops.h"
#include "ei_int8.h"
#include "ei_int16.h"
#include "ei_act_s8.h"

#define EI_Q_GEOM_MAX 32767
#define EI_Q_ACC_MAX 0x3FFFFFFF /* accumulator bound: |bias| and |sum of products| each below it */
#define EI_Q16_ACC_MAX ((int64_t)1 << 46) /* 16x8: int64 accumulators, |acc| * 2^15 must stay below 2^62 */

static int ei_q8_(int32_t v)
{
  return v >= -128 && v <= 127;
}

static int ei_qmult_(int32_t mult, int32_t shift)
{
  return mult >= 0 && shift >= -31 && shift <= 31;
}

/* the activation type of a tensor (int8 or int16; -1 otherwise) and range checks in it */
static int ei_qdt_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t slot)
{
  const ei_tensor_rec_t *t = ei_check_tensor(m, op, slot, -1, 0);
  return t && (t->dtype == EI_DT_I8 || t->dtype == EI_DT_I16) ? (int)t->dtype : -1;
}

static int ei_qv_(int dt, int32_t v)
{
  return dt == EI_DT_I16 ? v >= -32768 && v <= 32767 : ei_q8_(v);
}

static int ei_qrange_dt_(int dt, int32_t lo, int32_t hi)
{
  return ei_qv_(dt, lo) && ei_qv_(dt, hi) && lo <= hi;
}

/* n multipliers and shifts at data offsets mo, so, each valid (for the int32 requantization, or with wide
 * for the 16x8 kernels' int64 one, whose rounding shift is 15 - shift) */
static int ei_qmults_(const ei_model_t *m, uint32_t mo, uint32_t so, uint32_t n, int wide)
{
  const int32_t *mu, *sh;
  uint32_t i;
  if (!ei_check_span(m, mo, n, 4) || !ei_check_span(m, so, n, 4)) return 0;
  mu = (const int32_t *)ei_data_at(m, mo);
  sh = (const int32_t *)ei_data_at(m, so);
  for (i = 0; i < n; ++i) {
    if (wide ? (mu[i] < 0 || sh[i] < -47 || sh[i] > 14) : !ei_qmult_(mu[i], sh[i])) return 0;
  }
  return 1;
}

/* an optional bias of n values (int32; int64 for the 16x8 kernels), each within the accumulator bound */
static int ei_qbias_ok_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t slot, uint32_t n, int dt)
{
  const ei_tensor_rec_t *t;
  uint32_t i;
  if (op->t[slot] == EI_NO_TENSOR) return 1;
  t = ei_check_tensor(m, op, slot, dt == EI_DT_I16 ? EI_DT_I64 : EI_DT_I32, n);
  if (!t || t->kind != EI_TK_CONST) return 0;
  for (i = 0; i < n; ++i) {
    if (dt == EI_DT_I16) {
      const int64_t b = ((const int64_t *)(const void *)(m->data + t->offset))[i];
      if (b > EI_Q16_ACC_MAX || b < -EI_Q16_ACC_MAX) return 0;
    } else {
      const int32_t b = ((const int32_t *)(const void *)(m->data + t->offset))[i];
      if (b > EI_Q_ACC_MAX || b < -EI_Q_ACC_MAX) return 0;
    }
  }
  return 1;
}

/* ---- QCONV: x (h, w, cin), W, bias? -> y (oh, ow, cout); attrs {depthwise, geom[EI_QC_NGEOM], mult, shift}
 * W (cout, kh, kw, cin/groups), or depthwise (kh, kw, cout) with geom's groups the depth multiplier. */
ei_status_t ei_prepare_qconv(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)(a + 1);
  const int dt = ei_qdt_(m, op, 0);
  uint32_t i;
  uint64_t x, y, w, win;
  if (op->attr_words != 3u + EI_QC_NGEOM || op->n_in != 3 || op->n_out != 1 || a[0] > 1 || dt < 0) {
    return EI_ERR_OP_INVALID;
  }
  for (i = 0; i < EI_QC_NGEOM; ++i) {
    const int32_t lo = (i == EI_QC_PT || i == EI_QC_PL) ? 0 : 1;
    if (i >= EI_QC_IN_ZP && i <= EI_QC_ACT_MAX) continue;
    if (g[i] < lo || g[i] > EI_Q_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  if (!ei_qv_(dt, g[EI_QC_IN_ZP]) || !ei_qv_(dt, g[EI_QC_OUT_ZP]) ||
      !ei_qrange_dt_(dt, g[EI_QC_ACT_MIN], g[EI_QC_ACT_MAX])) {
    return EI_ERR_OP_INVALID;
  }
  x = (uint64_t)g[EI_QC_H] * (uint64_t)g[EI_QC_W] * (uint64_t)g[EI_QC_CIN];
  y = (uint64_t)g[EI_QC_OH] * (uint64_t)g[EI_QC_OW] * (uint64_t)g[EI_QC_COUT];
  if (a[0]) {
    if ((uint64_t)g[EI_QC_CIN] * (uint64_t)g[EI_QC_GROUPS] != (uint64_t)g[EI_QC_COUT]) return EI_ERR_OP_INVALID;
    w = (uint64_t)g[EI_QC_KH] * (uint64_t)g[EI_QC_KW] * (uint64_t)g[EI_QC_COUT];
    win = (uint64_t)g[EI_QC_KH] * (uint64_t)g[EI_QC_KW];
  } else {
    if (g[EI_QC_CIN] % g[EI_QC_GROUPS] || g[EI_QC_COUT] % g[EI_QC_GROUPS]) return EI_ERR_OP_INVALID;
    win = (uint64_t)g[EI_QC_KH] * (uint64_t)g[EI_QC_KW] * (uint64_t)(g[EI_QC_CIN] / g[EI_QC_GROUPS]);
    w = win * (uint64_t)g[EI_QC_COUT];
  }
  if (x > 0x7FFFFFFFu || y > 0x7FFFFFFFu || w > 0x7FFFFFFFu ||
      (dt == EI_DT_I16 ? win * 65535u * 128u > (uint64_t)EI_Q16_ACC_MAX : win * 255u * 128u > (uint64_t)EI_Q_ACC_MAX) ||
      !ei_check_tensor(m, op, 0, dt, (uint32_t)x) || !ei_check_tensor(m, op, 1, EI_DT_I8, (uint32_t)w) ||
      !ei_check_tensor(m, op, 3, dt, (uint32_t)y) || !ei_qbias_ok_(m, op, 2, (uint32_t)g[EI_QC_COUT], dt) ||
      !ei_qmults_(m, a[1 + EI_QC_NGEOM], a[2 + EI_QC_NGEOM], (uint32_t)g[EI_QC_COUT], dt == EI_DT_I16)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qconv(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)(a + 1);
  const int32_t *mult = (const int32_t *)ei_data_at(m, a[1 + EI_QC_NGEOM]);
  const int32_t *shift = (const int32_t *)ei_data_at(m, a[2 + EI_QC_NGEOM]);
  const void *x = ei_slot(m, op, 0, in, out), *b = ei_slot(m, op, 2, in, out);
  const int8_t *w = (const int8_t *)ei_slot(m, op, 1, in, out);
  void *y = ei_slot(m, op, 3, in, out);
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    if (a[0]) ei_depthwise_conv2d_s16(g, (const int16_t *)x, w, (const int64_t *)b, mult, shift, (int16_t *)y);
    else ei_conv2d_s16(g, (const int16_t *)x, w, (const int64_t *)b, mult, shift, (int16_t *)y);
  } else if (a[0]) {
    ei_depthwise_conv2d_s8(g, (const int8_t *)x, w, (const int32_t *)b, mult, shift, (int8_t *)y);
  } else {
    ei_conv2d_s8(g, (const int8_t *)x, w, (const int32_t *)b, mult, shift, (int8_t *)y);
  }
}

/* ---- QFC: x (rows, n_in), W (n_out, n_in), bias? -> y (rows, n_out);
 * attrs {rows, n_in, n_out, n_mult (1 or n_out), mult, shift, in_zp, out_zp, act_min, act_max} */
ei_status_t ei_prepare_qfc(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 6);
  const int dt = ei_qdt_(m, op, 0);
  uint64_t xn, wn, yn;
  if (op->attr_words != 10 || op->n_in != 3 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] == 0 || dt < 0 ||
      (a[3] != 1 && a[3] != a[2]) || !ei_qv_(dt, q[0]) || !ei_qv_(dt, q[1]) || !ei_qrange_dt_(dt, q[2], q[3])) {
    return EI_ERR_OP_INVALID;
  }
  xn = (uint64_t)a[0] * a[1];
  wn = (uint64_t)a[2] * a[1];
  yn = (uint64_t)a[0] * a[2];
  if (xn > 0x7FFFFFFFu || wn > 0x7FFFFFFFu || yn > 0x7FFFFFFFu ||
      (dt == EI_DT_I16 ? (uint64_t)a[1] * 65535u * 128u > (uint64_t)EI_Q16_ACC_MAX
                       : (uint64_t)a[1] * 255u * 128u > EI_Q_ACC_MAX) ||
      !ei_check_tensor(m, op, 0, dt, (uint32_t)xn) || !ei_check_tensor(m, op, 1, EI_DT_I8, (uint32_t)wn) ||
      !ei_check_tensor(m, op, 3, dt, (uint32_t)yn) || !ei_qbias_ok_(m, op, 2, a[2], dt) ||
      !ei_qmults_(m, a[4], a[5], a[3], dt == EI_DT_I16)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qfc(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    ei_fully_connected_s16((const int16_t *)ei_slot(m, op, 0, in, out), (const int8_t *)ei_slot(m, op, 1, in, out),
                           (const int64_t *)ei_slot(m, op, 2, in, out), (const int32_t *)ei_data_at(m, a[4]),
                           (const int32_t *)ei_data_at(m, a[5]), (int32_t)a[3], (const int32_t *)(const void *)(a + 6),
                           (int32_t)a[0], (int32_t)a[1], (int32_t)a[2], (int16_t *)ei_slot(m, op, 3, in, out));
    return;
  }
  ei_fully_connected_s8((const int8_t *)ei_slot(m, op, 0, in, out), (const int8_t *)ei_slot(m, op, 1, in, out),
                        (const int32_t *)ei_slot(m, op, 2, in, out), (const int32_t *)ei_data_at(m, a[4]),
                        (const int32_t *)ei_data_at(m, a[5]), (int32_t)a[3], (const int32_t *)(const void *)(a + 6),
                        (int32_t)a[0], (int32_t)a[1], (int32_t)a[2], (int8_t *)ei_slot(m, op, 3, in, out));
}

/* ---- QPOOL: x (h, w, c) -> y (oh, ow, c); attrs {is_max, geom[EI_QP_NGEOM]} ---- */
ei_status_t ei_prepare_qpool(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)(a + 1);
  const int dt = ei_qdt_(m, op, 0);
  uint32_t i;
  uint64_t x, y;
  if (op->attr_words != 1u + EI_QP_NGEOM || op->n_in != 1 || op->n_out != 1 || a[0] > 1 || dt < 0 ||
      !ei_qrange_dt_(dt, g[EI_QP_ACT_MIN], g[EI_QP_ACT_MAX])) {
    return EI_ERR_OP_INVALID;
  }
  for (i = 0; i < EI_QP_ACT_MIN; ++i) {
    const int32_t lo = (i == EI_QP_PT || i == EI_QP_PL) ? 0 : 1;
    if (g[i] < lo || g[i] > EI_Q_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  x = (uint64_t)g[EI_QP_H] * (uint64_t)g[EI_QP_W] * (uint64_t)g[EI_QP_C];
  y = (uint64_t)g[EI_QP_OH] * (uint64_t)g[EI_QP_OW] * (uint64_t)g[EI_QP_C];
  /* the int32 window sum: 2^23 int8 values, or 2^16 int16 ones */
  if (x > 0x7FFFFFFFu || y > 0x7FFFFFFFu ||
      (uint64_t)g[EI_QP_KH] * (uint64_t)g[EI_QP_KW] > (dt == EI_DT_I16 ? 0xFFFFu : 0x7FFFFFu) ||
      !ei_check_tensor(m, op, 0, dt, (uint32_t)x) || !ei_check_tensor(m, op, 1, dt, (uint32_t)y)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qpool(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)(a + 1);
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    if (a[0]) ei_maxpool2d_s16(g, (const int16_t *)x, (int16_t *)y);
    else ei_avgpool2d_s16(g, (const int16_t *)x, (int16_t *)y);
  } else if (a[0]) {
    ei_maxpool2d_s8(g, (const int8_t *)x, (int8_t *)y);
  } else {
    ei_avgpool2d_s8(g, (const int8_t *)x, (int8_t *)y);
  }
}

/* ---- QBINARY: a, b -> y (n); attrs {kind (0 add, 1 mul, 2 sub, 3 prelu), n, ia, ib (index tables of n into
 * a / b, or EI_NONE_OFF when the operand has n elements), q}: add and sub q = {a_zp, b_zp, out_zp, act_min,
 * act_max, left_shift, m1, s1, m2, s2, mo, so} (12 words), mul q = {a_zp, b_zp, out_zp, act_min, act_max, mult,
 * shift}, prelu q = {x_zp, alpha_zp, out_zp, mult_pos, shift_pos, mult_neg, shift_neg} (7 words); sub and
 * prelu (ei_act_s8.c) are int8 only ---- */
static int ei_qindex_ok_(const ei_model_t *m, uint32_t off, uint32_t n, uint32_t limit)
{
  const int32_t *ix;
  uint32_t i;
  if (off == EI_NONE_OFF) return n == limit;
  if (!ei_check_span(m, off, n, 4)) return 0;
  ix = (const int32_t *)ei_data_at(m, off);
  for (i = 0; i < n; ++i) {
    if (ix[i] < 0 || (uint32_t)ix[i] >= limit) return 0;
  }
  return 1;
}

ei_status_t ei_prepare_qbinary(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 4);
  const int dt = ei_qdt_(m, op, 0);
  const ei_tensor_rec_t *ta, *tb;
  /* int16 add has at most 15 bits of headroom (TFLite's int16 ADD): |a - zp| << 15 stays within int32 */
  if (op->attr_words < 4 || a[0] > 3 || op->attr_words != (a[0] % 2u ? 11u : 16u) || op->n_in != 2 ||
      op->n_out != 1 || a[1] == 0 || dt < 0 || (a[0] >= 2 && dt != EI_DT_I8) || !ei_qv_(dt, q[0]) ||
      !ei_qv_(dt, q[1]) || !ei_qv_(dt, q[2]) || (a[0] != 3 && !ei_qrange_dt_(dt, q[3], q[4]))) {
    return EI_ERR_OP_INVALID;
  }
  /* int16 mul: zero points 0 (the 16x8 scheme's), so that the int32 product of two differences cannot overflow */
  if (a[0] == 3 ? (!ei_qmult_(q[3], q[4]) || !ei_qmult_(q[5], q[6]))
      : a[0] == 1 ? (!ei_qmult_(q[5], q[6]) || (dt == EI_DT_I16 && (q[0] != 0 || q[1] != 0)))
      : (q[5] < 0 || q[5] > (dt == EI_DT_I16 ? 15 : 22) || !ei_qmult_(q[6], q[7]) || !ei_qmult_(q[8], q[9]) ||
         !ei_qmult_(q[10], q[11]))) {
    return EI_ERR_OP_INVALID;
  }
  ta = ei_check_tensor(m, op, 0, dt, 0);
  tb = ei_check_tensor(m, op, 1, dt, 0);
  if (!ta || !tb || !ei_check_tensor(m, op, 2, dt, a[1]) || !ei_qindex_ok_(m, a[2], a[1], ei_numel(ta)) ||
      !ei_qindex_ok_(m, a[3], a[1], ei_numel(tb))) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qbinary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const void *x0 = ei_slot(m, op, 0, in, out), *x1 = ei_slot(m, op, 1, in, out);
  const int32_t *ia = (const int32_t *)ei_data_at(m, a[2]), *ib = (const int32_t *)ei_data_at(m, a[3]);
  const int32_t *q = (const int32_t *)(const void *)(a + 4);
  void *y = ei_slot(m, op, 2, in, out);
  const int8_t *a8 = (const int8_t *)x0, *b8 = (const int8_t *)x1;
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    if (a[0]) ei_mul_s16((const int16_t *)x0, (const int16_t *)x1, ia, ib, q, (int32_t)a[1], (int16_t *)y);
    else ei_add_s16((const int16_t *)x0, (const int16_t *)x1, ia, ib, q, (int32_t)a[1], (int16_t *)y);
    return;
  }
  switch (a[0]) {
  case 0: ei_add_s8(a8, b8, ia, ib, q, (int32_t)a[1], (int8_t *)y); break;
  case 1: ei_mul_s8(a8, b8, ia, ib, q, (int32_t)a[1], (int8_t *)y); break;
  case 2: ei_sub_s8(a8, b8, ia, ib, q, (int32_t)a[1], (int8_t *)y); break;
  default: ei_prelu_s8(a8, b8, ia, ib, q, (int32_t)a[1], (int8_t *)y); break;
  }
}

/* ---- QSOFTMAX: x (rows, n) -> y; attrs {rows, n, mult, left_shift, diff_min} (int16: TFLM's table kernel,
 * left_shift a signed shift and diff_min 0) ---- */
ei_status_t ei_prepare_qsoftmax(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 2);
  const int dt = ei_qdt_(m, op, 0);
  uint64_t n;
  /* n <= 2^16: the int16 kernel's int32 sum of n values below 2^15 cannot overflow; int8: the kernel scales
   * every difference it keeps (diff >= diff_min, and diff >= -255) by 2^left_shift in int32, so
   * min(255, -diff_min) << left_shift must stay within 2^31 (TFLite's diff_min guarantees it) */
  if (op->attr_words != 5 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[1] > 0x10000u ||
      dt < 0 || (dt == EI_DT_I16 ? (!ei_qmult_(q[0], q[1]) || q[2] != 0) : (q[0] < 0 || q[1] < 0 || q[1] > 30 ||
                                                                         q[2] > 0))) {
    return EI_ERR_OP_INVALID;
  }
  if (dt == EI_DT_I8 && ((uint64_t)(q[2] < -255 ? 255 : -q[2]) << q[1]) > ((uint64_t)1 << 31)) {
    return EI_ERR_OP_INVALID;
  }
  n = (uint64_t)a[0] * a[1];
  if (n > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, dt, (uint32_t)n) || !ei_check_tensor(m, op, 1, dt, (uint32_t)n)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qsoftmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 2);
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    ei_softmax_s16((const int16_t *)ei_slot(m, op, 0, in, out), (int32_t)a[0], (int32_t)a[1], q[0], q[1],
                   (int16_t *)ei_slot(m, op, 1, in, out));
    return;
  }
  ei_softmax_s8((const int8_t *)ei_slot(m, op, 0, in, out), (int32_t)a[0], (int32_t)a[1], q[0], q[1], q[2],
                (int8_t *)ei_slot(m, op, 1, in, out));
}

/* ---- QACT: x -> y (n); attrs {kind, n, q}: kind 0 logistic, 1 tanh with q = {in_zp, mult, left_shift, radius}
 * (int16: in_zp 0, mult and a right shift in [0, 31] rescaling the input, radius 0); int8 only: 2 relu
 * q = {in_zp, out_zp, mult, shift, act_min, act_max}, 3 leaky relu q = {in_zp, out_zp, mult_identity,
 * shift_identity, mult_alpha, shift_alpha}, 4 hard swish q = {in_zp, out_zp, out_mult16, out_exp, relu_mult16,
 * relu_exp} (ei_act_s8.c) ---- */
ei_status_t ei_prepare_qact(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 2);
  const int dt = ei_qdt_(m, op, 0);
  if (op->attr_words < 2 || op->attr_words != (a[0] <= 1 ? 6u : 8u) || op->n_in != 1 || op->n_out != 1 ||
      a[0] > 4 || a[1] == 0 || dt < 0 || (a[0] >= 2 && dt != EI_DT_I8) || !ei_check_tensor(m, op, 0, dt, a[1]) ||
      !ei_check_tensor(m, op, 1, dt, a[1])) {
    return EI_ERR_OP_INVALID;
  }
  switch (a[0]) {
  case 2: return ei_q8_(q[0]) && ei_q8_(q[1]) && ei_qmult_(q[2], q[3]) && ei_qrange_dt_(dt, q[4], q[5]) ?
                 EI_OK : EI_ERR_OP_INVALID;
  case 3: return ei_q8_(q[0]) && ei_q8_(q[1]) && ei_qmult_(q[2], q[3]) && ei_qmult_(q[4], q[5]) ?
                 EI_OK : EI_ERR_OP_INVALID;
  case 4: /* int16 multipliers; rounding shifts of int16 values within 15 bits, the relu left shift within 31 */
    return ei_q8_(q[0]) && ei_q8_(q[1]) && q[2] >= -32768 && q[2] <= 32767 && q[3] <= 0 && q[3] >= -15 &&
           q[4] >= -32768 && q[4] <= 32767 && q[5] >= -15 && q[5] <= 31 ? EI_OK : EI_ERR_OP_INVALID;
  default:
    return (dt == EI_DT_I16 ? (q[0] != 0 || q[1] < 0 || q[2] < 0 || q[2] > 31 || q[3] != 0)
                            : (!ei_q8_(q[0]) || !ei_qmult_(q[1], q[2]) || q[3] < 0)) ? EI_ERR_OP_INVALID : EI_OK;
  }
}

void ei_eval_qact(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 2);
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  const int32_t n = (int32_t)a[1];
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    if (a[0]) ei_tanh_s16((const int16_t *)x, q[1], q[2], n, (int16_t *)y);
    else ei_logistic_s16((const int16_t *)x, q[1], q[2], n, (int16_t *)y);
    return;
  }
  switch (a[0]) {
  case 0: ei_logistic_s8((const int8_t *)x, q, n, (int8_t *)y); break;
  case 1: ei_tanh_s8((const int8_t *)x, q, n, (int8_t *)y); break;
  case 2: ei_relu_s8((const int8_t *)x, q, n, (int8_t *)y); break;
  case 3: ei_leaky_relu_s8((const int8_t *)x, q, n, (int8_t *)y); break;
  default: ei_hard_swish_s8((const int8_t *)x, q, n, (int8_t *)y); break;
  }
}

/* ---- QQUANTIZE: x (f32) -> y (i8 / i16); QDEQUANTIZE: x (i8 / i16) -> y (f32); attrs {n, scale (f32), zp} ---- */
static ei_status_t ei_prepare_qconvert_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t fslot)
{
  const uint32_t *a = ei_attrs(m, op);
  const float scale = op->attr_words == 3 ? ei_word_f32(a[1]) : 0.0f;
  const int dt = ei_qdt_(m, op, 1u - fslot);
  if (op->attr_words != 3 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || !(scale > 0.0f) ||
      scale > 3.0e38f || dt < 0 || !ei_qv_(dt, (int32_t)a[2]) || !ei_check_tensor(m, op, fslot, EI_DT_F32, a[0]) ||
      !ei_check_tensor(m, op, 1u - fslot, dt, a[0])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

ei_status_t ei_prepare_qquantize(const ei_model_t *m, const ei_op_rec_t *op)
{
  return ei_prepare_qconvert_(m, op, 0);
}

void ei_eval_qquantize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  if (m->tensors[op->t[1]].dtype == EI_DT_I16) {
    ei_quantize_f32_s16(x, ei_word_f32(a[1]), (int32_t)a[2], (int32_t)a[0], (int16_t *)y);
  } else {
    ei_quantize_f32_s8(x, ei_word_f32(a[1]), (int32_t)a[2], (int32_t)a[0], (int8_t *)y);
  }
}

ei_status_t ei_prepare_qdequantize(const ei_model_t *m, const ei_op_rec_t *op)
{
  return ei_prepare_qconvert_(m, op, 1);
}

void ei_eval_qdequantize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const void *x = ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  if (m->tensors[op->t[0]].dtype == EI_DT_I16) {
    ei_dequantize_s16_f32((const int16_t *)x, (double)ei_word_f32(a[1]), (int32_t)a[2], (int32_t)a[0], y);
  } else {
    ei_dequantize_s8_f32((const int8_t *)x, (double)ei_word_f32(a[1]), (int32_t)a[2], (int32_t)a[0], y);
  }
}

/* the int8 or int16 value at i, and its clamp into [lo, hi] of the output type */
static int32_t ei_qld_(const void *p, uint32_t dt, uint32_t i)
{
  return dt == EI_DT_I16 ? (int32_t)((const int16_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

static void ei_qst_(void *p, uint32_t dt, uint32_t i, int32_t v)
{
  if (dt == EI_DT_I16) ((int16_t *)p)[i] = (int16_t)ei_clamp_s32(v, -32768, 32767);
  else ((int8_t *)p)[i] = (int8_t)ei_clamp_s32(v, -128, 127);
}

/* ---- QREQUANTIZE: x (i8 / i16) -> y (i8 / i16, either way), or uint8 <-> int8 (ei_act_s8.c);
 * attrs {n, in_zp, mult, shift, out_zp} ---- */
static int ei_qdt_u8_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t slot)
{
  const ei_tensor_rec_t *t = ei_check_tensor(m, op, slot, -1, 0);
  return t && t->dtype == EI_DT_U8 ? (int)EI_DT_U8 : ei_qdt_(m, op, slot);
}

static int ei_qv_u8_(int dt, int32_t v)
{
  return dt == EI_DT_U8 ? v >= 0 && v <= 255 : ei_qv_(dt, v);
}

ei_status_t ei_prepare_qrequantize(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 1);
  const int dx = ei_qdt_u8_(m, op, 0), dy = ei_qdt_u8_(m, op, 1);
  if (op->attr_words != 5 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || dx < 0 || dy < 0 ||
      (dx == EI_DT_U8 && dy != EI_DT_I8) || (dy == EI_DT_U8 && dx != EI_DT_I8) || !ei_qv_u8_(dx, q[0]) ||
      !ei_qmult_(q[1], q[2]) || !ei_qv_u8_(dy, q[3]) || !ei_check_tensor(m, op, 0, dx, a[0]) ||
      !ei_check_tensor(m, op, 1, dy, a[0])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qrequantize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 1);
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  const uint32_t dx = m->tensors[op->t[0]].dtype, dy = m->tensors[op->t[1]].dtype;
  const int32_t qu[4] = {q[0], q[3], q[1], q[2]}; /* ei_act_s8.h's order: in_zp, out_zp, mult, shift */
  uint32_t i;
  if (dx == EI_DT_U8) {
    ei_requantize_u8_s8((const uint8_t *)x, qu, (int32_t)a[0], (int8_t *)y);
    return;
  }
  if (dy == EI_DT_U8) {
    ei_requantize_s8_u8((const int8_t *)x, qu, (int32_t)a[0], (uint8_t *)y);
    return;
  }
  for (i = 0; i < a[0]; ++i) {
    ei_qst_(y, dy, i, ei_mbqm(ei_qld_(x, dx, i) - q[0], q[1], q[2]) + q[3]);
  }
}

/* ---- QMEAN: x (outer, red, inner) -> y (outer, inner); attrs {outer, red, inner, in_zp, mult, shift, out_zp}:
 * y = clamp(mbqm(sum - in_zp * red) + out_zp), as the generated C's loop ---- */
ei_status_t ei_prepare_qmean(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 3);
  const int dt = ei_qdt_(m, op, 0);
  uint64_t n, o;
  /* the int32 sum minus in_zp * red: 2^20 int8 values, or 2^15 - 1 int16 ones */
  if (op->attr_words != 7 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || dt < 0 ||
      a[1] > (dt == EI_DT_I16 ? 0x7FFFu : 0x100000u) || a[2] == 0 || !ei_qv_(dt, q[0]) || !ei_qmult_(q[1], q[2]) ||
      !ei_qv_(dt, q[3])) {
    return EI_ERR_OP_INVALID;
  }
  o = (uint64_t)a[0] * a[2];
  n = o * a[1];
  if (n > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, dt, (uint32_t)n) || !ei_check_tensor(m, op, 1, dt, (uint32_t)o)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_qmean(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *q = (const int32_t *)(const void *)(a + 3);
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  const uint32_t outer = a[0], red = a[1], inner = a[2], dt = m->tensors[op->t[0]].dtype;
  uint32_t o, r, i;
  for (o = 0; o < outer; ++o) {
    for (i = 0; i < inner; ++i) {
      int32_t acc = 0;
      for (r = 0; r < red; ++r) acc += ei_qld_(x, dt, (o * red + r) * inner + i);
      ei_qst_(y, dt, o * inner + i, ei_mbqm(acc - q[0] * (int32_t)red, q[1], q[2]) + q[3]);
    }
  }
}
