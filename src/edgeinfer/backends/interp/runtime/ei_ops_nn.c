/* ei_ops_nn.c: float32 network ops of the interpreter, calling the edgeinfer kernel library.
 * Attribute layouts are in docs/eim_format.md; every prepare bounds what its eval touches. */
#include <math.h>
#include "ei_interp_ops.h"
#include "ei_kernels.h"
#include "ei_nn.h"

#define EI_GEOM_MAX 32767u

static void ei_clamp_(float *y, int32_t n, float lo, float hi)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    float v = y[i] < lo ? lo : y[i];
    y[i] = v > hi ? hi : v;
  }
}

/* ---- DENSE: y[r] = W x[r] + b (W (n, k) row-major), r < m; attrs {m, k, n, has_act, lo, hi} ---- */
ei_status_t ei_prepare_dense(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t mk, nk, mn;
  if (op->attr_words != 6 || op->n_in != 3 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] == 0) {
    return EI_ERR_OP_INVALID;
  }
  mk = (uint64_t)a[0] * a[1];
  nk = (uint64_t)a[2] * a[1];
  mn = (uint64_t)a[0] * a[2];
  if (mk > 0x7FFFFFFFu || nk > 0x7FFFFFFFu || mn > 0x7FFFFFFFu ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)mk) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)nk) ||
      (op->t[2] != EI_NO_TENSOR && !ei_check_tensor(m, op, 2, EI_DT_F32, a[2])) ||
      !ei_check_tensor(m, op, 3, EI_DT_F32, (uint32_t)mn)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_dense(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t rows = (int32_t)a[0], k = (int32_t)a[1], n = (int32_t)a[2];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const float *w = (const float *)ei_slot(m, op, 1, in, out);
  const float *b = (const float *)ei_slot(m, op, 2, in, out);
  float *y = (float *)ei_slot(m, op, 3, in, out);
  int32_t r;
  for (r = 0; r < rows; ++r) {
    ei_dense_f32(x + (long)r * k, w, b, y + (long)r * n, k, n);
  }
  if (a[3]) {
    ei_clamp_(y, rows * n, ei_word_f32(a[4]), ei_word_f32(a[5]));
  }
}

/* ---- CONV: attrs {n_images, geom[EI_CONV_NGEOM], lo, hi} ---- */
ei_status_t ei_prepare_conv(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t *g;
  uint32_t i;
  uint64_t n, xs, ys, ws;
  if (op->attr_words != 3 + EI_CONV_NGEOM || op->n_in != 3 || op->n_out != 1) {
    return EI_ERR_OP_INVALID;
  }
  g = a + 1;
  n = a[0];
  for (i = 0; i < EI_CONV_NGEOM; ++i) {
    const uint32_t lo = (i == EI_CONV_PT || i == EI_CONV_PL) ? 0u : 1u;
    if (g[i] < lo || g[i] > EI_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  if (n == 0 || n > EI_GEOM_MAX || g[EI_CONV_CIN] % g[EI_CONV_GROUP] || g[EI_CONV_COUT] % g[EI_CONV_GROUP]) {
    return EI_ERR_OP_INVALID;
  }
  xs = n * g[EI_CONV_CIN] * g[EI_CONV_H] * g[EI_CONV_W];
  ys = n * g[EI_CONV_COUT] * g[EI_CONV_OH] * g[EI_CONV_OW];
  ws = (uint64_t)g[EI_CONV_COUT] * (g[EI_CONV_CIN] / g[EI_CONV_GROUP]) * g[EI_CONV_KH] * g[EI_CONV_KW];
  if (xs > 0x7FFFFFFFu || ys > 0x7FFFFFFFu || ws > 0x7FFFFFFFu ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)xs) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)ws) ||
      (op->t[2] != EI_NO_TENSOR && !ei_check_tensor(m, op, 2, EI_DT_F32, g[EI_CONV_COUT])) ||
      !ei_check_tensor(m, op, 3, EI_DT_F32, (uint32_t)ys)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_conv(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)(a + 1);
  const long xs = (long)g[EI_CONV_CIN] * g[EI_CONV_H] * g[EI_CONV_W];
  const long ys = (long)g[EI_CONV_COUT] * g[EI_CONV_OH] * g[EI_CONV_OW];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const float *w = (const float *)ei_slot(m, op, 1, in, out);
  const float *b = (const float *)ei_slot(m, op, 2, in, out);
  float *y = (float *)ei_slot(m, op, 3, in, out);
  const float lo = ei_word_f32(a[1 + EI_CONV_NGEOM]), hi = ei_word_f32(a[2 + EI_CONV_NGEOM]);
  uint32_t i;
  for (i = 0; i < a[0]; ++i) {
    ei_conv2d_f32(g, x + (long)i * xs, w, b, lo, hi, y + (long)i * ys);
  }
}

/* ---- POOL: attrs {is_avg, n_images, geom[EI_POOL_NGEOM]} ---- */
ei_status_t ei_prepare_pool(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t *g;
  uint32_t i;
  uint64_t n, xs, ys;
  if (op->attr_words != 2 + EI_POOL_NGEOM || op->n_in != 1 || op->n_out != 1 || a[0] > 1) {
    return EI_ERR_OP_INVALID;
  }
  g = a + 2;
  n = a[1];
  for (i = 0; i < EI_POOL_NGEOM; ++i) {
    const uint32_t lo = (i >= EI_POOL_PT) ? 0u : 1u;
    if (g[i] < lo || g[i] > EI_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  /* a window larger than the padded input, or a pad as large as the window, only burns cycles */
  if (n == 0 || n > EI_GEOM_MAX || g[EI_POOL_INCLUDE_PAD] > 1 ||
      (uint64_t)g[EI_POOL_KH] * g[EI_POOL_DH] > (uint64_t)g[EI_POOL_H] + g[EI_POOL_PT] + g[EI_POOL_PB] + g[EI_POOL_DH] ||
      (uint64_t)g[EI_POOL_KW] * g[EI_POOL_DW] > (uint64_t)g[EI_POOL_W] + g[EI_POOL_PL] + g[EI_POOL_PR] + g[EI_POOL_DW] ||
      g[EI_POOL_PT] >= g[EI_POOL_KH] * g[EI_POOL_DH] || g[EI_POOL_PB] >= g[EI_POOL_KH] * g[EI_POOL_DH] ||
      g[EI_POOL_PL] >= g[EI_POOL_KW] * g[EI_POOL_DW] || g[EI_POOL_PR] >= g[EI_POOL_KW] * g[EI_POOL_DW]) {
    return EI_ERR_OP_INVALID;
  }
  xs = n * g[EI_POOL_C] * g[EI_POOL_H] * g[EI_POOL_W];
  ys = n * g[EI_POOL_C] * g[EI_POOL_OH] * g[EI_POOL_OW];
  if (xs > 0x7FFFFFFFu || ys > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)xs) ||
      !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)ys)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_pool(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)(a + 2);
  const long xs = (long)g[EI_POOL_C] * g[EI_POOL_H] * g[EI_POOL_W];
  const long ys = (long)g[EI_POOL_C] * g[EI_POOL_OH] * g[EI_POOL_OW];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  uint32_t i;
  for (i = 0; i < a[1]; ++i) {
    if (a[0]) {
      ei_avgpool2d_f32(g, x + (long)i * xs, y + (long)i * ys);
    } else {
      ei_maxpool2d_f32(g, x + (long)i * xs, y + (long)i * ys);
    }
  }
}

/* ---- GLOBAL_AVGPOOL: attrs {channels (all images), hw} ---- */
ei_status_t ei_prepare_gap(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  if (op->attr_words != 2 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 ||
      (uint64_t)a[0] * a[1] > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, EI_DT_F32, a[0] * a[1]) ||
      !ei_check_tensor(m, op, 1, EI_DT_F32, a[0])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_gap(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  const uint32_t hw = a[1];
  uint32_t c, i;
  for (c = 0; c < a[0]; ++c) {
    const float *xc = x + (long)c * hw;
    float s = 0.0f;
    for (i = 0; i < hw; ++i) s += xc[i];
    y[c] = s / (float)hw;
  }
}

/* ---- BINARY: attrs {kind (0 add, 1 sub, 2 mul, 3 div), n}; an operand has n elements or 1 ---- */
ei_status_t ei_prepare_binary(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x, *y;
  if (op->attr_words != 2 || op->n_in != 2 || op->n_out != 1 || a[0] > 3 || a[1] == 0) {
    return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, EI_DT_F32, 0);
  y = ei_check_tensor(m, op, 1, EI_DT_F32, 0);
  if (!x || !y || (ei_numel(x) != a[1] && ei_numel(x) != 1) || (ei_numel(y) != a[1] && ei_numel(y) != 1) ||
      !ei_check_tensor(m, op, 2, EI_DT_F32, a[1])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_binary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const float *z = (const float *)ei_slot(m, op, 1, in, out);
  float *y = (float *)ei_slot(m, op, 2, in, out);
  const uint32_t n = a[1];
  const uint32_t sx = ei_numel(&m->tensors[op->t[0]]) == n, sz = ei_numel(&m->tensors[op->t[1]]) == n;
  uint32_t i;
  switch (a[0]) {
  case 0: for (i = 0; i < n; ++i) y[i] = x[i * sx] + z[i * sz]; break;
  case 1: for (i = 0; i < n; ++i) y[i] = x[i * sx] - z[i * sz]; break;
  case 2: for (i = 0; i < n; ++i) y[i] = x[i * sx] * z[i * sz]; break;
  default: for (i = 0; i < n; ++i) y[i] = x[i * sx] / z[i * sz]; break;
  }
}

/* ---- UNARY: attrs {kind (0 relu, 1 sigmoid, 2 tanh, 3 clip), lo, hi}; in place allowed ---- */
ei_status_t ei_prepare_unary(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x;
  if (op->attr_words != 3 || op->n_in != 1 || op->n_out != 1 || a[0] > 3) {
    return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, EI_DT_F32, 0);
  if (!x || !ei_check_tensor(m, op, 1, EI_DT_F32, ei_numel(x))) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_unary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  const int32_t n = (int32_t)ei_numel(&m->tensors[op->t[0]]);
  if (x != y) {
    memmove(y, x, (size_t)n * sizeof(float));
  }
  switch (a[0]) {
  case 0: ei_relu_f32(y, n); break;
  case 1: ei_sigmoid_f32(y, n); break;
  case 2: ei_tanh_f32(y, n); break;
  default: ei_clamp_(y, n, ei_word_f32(a[1]), ei_word_f32(a[2])); break;
  }
}

/* ---- SOFTMAX over the last axis: attrs {rows, n} ---- */
ei_status_t ei_prepare_softmax(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  if (op->attr_words != 2 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 ||
      (uint64_t)a[0] * a[1] > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, EI_DT_F32, a[0] * a[1]) ||
      !ei_check_tensor(m, op, 1, EI_DT_F32, a[0] * a[1])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_softmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  uint32_t r;
  if (x != y) {
    memmove(y, x, (size_t)a[0] * a[1] * sizeof(float));
  }
  for (r = 0; r < a[0]; ++r) {
    ei_softmax_f32(y + (long)r * a[1], (int32_t)a[1]);
  }
}

/* ---- COPY (Reshape, Flatten, Squeeze, Identity...): same bytes, new shape ---- */
ei_status_t ei_prepare_copy(const ei_model_t *m, const ei_op_rec_t *op)
{
  const ei_tensor_rec_t *x, *y;
  if (op->n_in != 1 || op->n_out != 1) {
    return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, -1, 0);
  y = ei_check_tensor(m, op, 1, -1, 0);
  if (!x || !y || x->dtype != y->dtype || ei_numel(x) != ei_numel(y)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_copy(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  static const uint8_t size[EI_DT_COUNT] = {4, 8, 4, 2, 1, 1};
  const ei_tensor_rec_t *t = &m->tensors[op->t[0]];
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  if (x != y) {
    memmove(y, x, (size_t)ei_numel(t) * size[t->dtype]);
  }
}

/* ---- ARGMAX (float32 -> int32, first index on ties): attrs {outer, n, inner} ---- */
ei_status_t ei_prepare_argmax(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t xs;
  if (op->attr_words != 3 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] == 0) {
    return EI_ERR_OP_INVALID;
  }
  xs = (uint64_t)a[0] * a[1] * a[2];
  if (xs > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)xs) ||
      !ei_check_tensor(m, op, 1, EI_DT_I32, a[0] * a[2])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_argmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  int32_t *y = (int32_t *)ei_slot(m, op, 1, in, out);
  const uint32_t n = a[1], inner = a[2];
  uint32_t o, i, j;
  for (o = 0; o < a[0]; ++o) {
    const float *xo = x + (long)o * n * inner;
    if (inner == 1) {
      y[o] = ei_argmax_f32(xo, (int32_t)n);
      continue;
    }
    for (i = 0; i < inner; ++i) {
      uint32_t best = 0;
      for (j = 1; j < n; ++j) {
        if (xo[j * inner + i] > xo[best * inner + i]) best = j;
      }
      y[o * inner + i] = (int32_t)best;
    }
  }
}
