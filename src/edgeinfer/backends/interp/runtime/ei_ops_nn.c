/* ei_ops_nn.c: network ops of the interpreter, calling the edgeinfer kernel library: float32, and
 * the integer element types the generated C also runs element-wise ops, Clip and ArgMax on.
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

/* ---- DENSE: y[r] = x[r] W + b (W (k, n) row-major, ei_fc_f32 as the C backend), r < m;
 * attrs {m, k, n, lo, hi} (outputs clamped to [lo, hi]: a fused Relu / Clip, or +-inf) ---- */
ei_status_t ei_prepare_dense(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t mk, nk, mn;
  if (op->attr_words != 5 || op->n_in != 3 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] == 0) {
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
  const float lo = ei_word_f32(a[3]), hi = ei_word_f32(a[4]);
  int32_t r;
  for (r = 0; r < rows; ++r) {
    ei_fc_f32(x + (long)r * k, w, b, k, n, lo, hi, y + (long)r * n);
  }
}

/* ---- CONV: attrs {n_images, geom[EI_CONV_NGEOM], lo, hi, kind, accumulate, scratch_off, chunk_rows};
 * kind picks the kernel the C backend picks for the layer (see ei_nn.h for weight layouts):
 * 0 ei_conv2d_f32 (W (c_out, c_in/group, kh, kw)), 1 ei_conv1x1_f32 and 2 ei_conv2d_gemm_f32 (W packed
 * [ceil(c_out/8)][K][8], bias padded to a multiple of 8), 3 ei_dwconv2d_f32 (W (c, kh*kw)),
 * 4 ei_convtranspose2d_f32 (W (c_in, c_out/group, kh, kw)). scratch_off: arena offset of the kernel's
 * working memory (EI_NONE_OFF: none). accumulate: add into y (a residual Add fused by the planner). ---- */
enum { EI_CK_DIRECT, EI_CK_POINTWISE, EI_CK_GEMM, EI_CK_DEPTHWISE, EI_CK_TRANSPOSE };
#define EI_CONV_WORDS (7u + EI_CONV_NGEOM)

/* Floats of scratch kernel `kind` needs, as ei_nn.h states it (0: none). */
static uint64_t ei_conv_scratch(const uint32_t *g, uint32_t kind, uint32_t chunk_rows)
{
  int32_t gi[EI_CONV_NGEOM], hp, wp;
  uint32_t i;
  if (kind == EI_CK_POINTWISE) return ((uint64_t)g[EI_CONV_COUT] + g[EI_CONV_CIN]) * EI_GEMM_NR;
  if (kind == EI_CK_GEMM) {
    const uint64_t cols = ((uint64_t)chunk_rows * g[EI_CONV_OW] + EI_GEMM_NR - 1u) / EI_GEMM_NR * EI_GEMM_NR;
    return (uint64_t)g[EI_CONV_CIN] * g[EI_CONV_KH] * g[EI_CONV_KW] * cols;
  }
  if (kind != EI_CK_DEPTHWISE) return 0;
  for (i = 0; i < EI_CONV_NGEOM; ++i) gi[i] = (int32_t)g[i];
  ei_dwconv_padded(gi, &hp, &wp);
  return hp > 0 && wp > 0 ? (uint64_t)hp * (uint64_t)wp : 0u;
}

/* 1 when the output size follows from the input, kernel, stride, dilation and padding: the begin pad
 * and the end pad are each smaller than the dilated kernel, and every window starts inside the padded
 * input (what a conv kernel is entitled to assume; ONNX models satisfy it). */
static int ei_conv_geometry_ok(const uint32_t *g)
{
  const uint64_t ekh = (uint64_t)(g[EI_CONV_KH] - 1u) * g[EI_CONV_DH] + 1u;
  const uint64_t ekw = (uint64_t)(g[EI_CONV_KW] - 1u) * g[EI_CONV_DW] + 1u;
  const uint64_t spanh = (uint64_t)(g[EI_CONV_OH] - 1u) * g[EI_CONV_SH] + ekh;
  const uint64_t spanw = (uint64_t)(g[EI_CONV_OW] - 1u) * g[EI_CONV_SW] + ekw;
  return g[EI_CONV_PT] < ekh && g[EI_CONV_PL] < ekw && spanh <= (uint64_t)g[EI_CONV_PT] + g[EI_CONV_H] + ekh - 1u &&
         spanw <= (uint64_t)g[EI_CONV_PL] + g[EI_CONV_W] + ekw - 1u;
}

ei_status_t ei_prepare_conv(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t *g;
  uint32_t i, kind, acc, soff, chunk, cin, cout, grp;
  uint64_t n, xs, ys, ws, bs, need;
  if (op->attr_words != EI_CONV_WORDS || op->n_in != 3 || op->n_out != 1) {
    return EI_ERR_OP_INVALID;
  }
  g = a + 1;
  n = a[0];
  kind = a[3 + EI_CONV_NGEOM];
  acc = a[4 + EI_CONV_NGEOM];
  soff = a[5 + EI_CONV_NGEOM];
  chunk = a[6 + EI_CONV_NGEOM];
  for (i = 0; i < EI_CONV_NGEOM; ++i) {
    const uint32_t lo = (i == EI_CONV_PT || i == EI_CONV_PL) ? 0u : 1u;
    if (g[i] < lo || g[i] > EI_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  cin = g[EI_CONV_CIN];
  cout = g[EI_CONV_COUT];
  grp = g[EI_CONV_GROUP];
  if (n == 0 || n > EI_GEOM_MAX || cin % grp || cout % grp || kind > EI_CK_TRANSPOSE || acc > 1 ||
      (acc && kind != EI_CK_POINTWISE && kind != EI_CK_GEMM) || chunk == 0 || chunk > EI_GEOM_MAX) {
    return EI_ERR_OP_INVALID;
  }
  xs = n * cin * g[EI_CONV_H] * g[EI_CONV_W];
  ys = n * cout * g[EI_CONV_OH] * g[EI_CONV_OW];
  ws = (uint64_t)cout * (cin / grp) * g[EI_CONV_KH] * g[EI_CONV_KW];
  bs = cout;
  if (kind == EI_CK_POINTWISE || kind == EI_CK_GEMM) {
    /* group 1 only; the packed panels hold ceil(c_out / 8) * 8 rows, and the bias is always there */
    bs = ((uint64_t)cout + EI_GEMM_MR - 1u) / EI_GEMM_MR * EI_GEMM_MR;
    ws = bs * cin * g[EI_CONV_KH] * g[EI_CONV_KW];
    if (grp != 1 || op->t[2] == EI_NO_TENSOR) return EI_ERR_OP_INVALID;
  }
  if (kind == EI_CK_POINTWISE &&
      (g[EI_CONV_KH] != 1 || g[EI_CONV_KW] != 1 || g[EI_CONV_SH] != 1 || g[EI_CONV_SW] != 1 || g[EI_CONV_PT] ||
       g[EI_CONV_PL] || g[EI_CONV_OH] != g[EI_CONV_H] || g[EI_CONV_OW] != g[EI_CONV_W])) {
    return EI_ERR_OP_INVALID;
  }
  if ((kind == EI_CK_DEPTHWISE && (grp != cin || cout != cin)) || (kind != EI_CK_TRANSPOSE && !ei_conv_geometry_ok(g))) {
    return EI_ERR_OP_INVALID;
  }
  need = ei_conv_scratch(g, kind, chunk);
  if (kind == EI_CK_GEMM || kind == EI_CK_DEPTHWISE || soff != EI_NONE_OFF) {
    /* the gemm and depthwise kernels always need theirs; an in-place 1x1 conv asks for its tile */
    /* ... and it must lie apart from x and y: the kernels copy x into it (memcpy of overlapping memory is
     * undefined) and write y while reading it */
    if (soff == EI_NONE_OFF || need == 0 || soff % 4u != 0 || need > 0x7FFFFFFFu ||
        (uint64_t)soff + 4u * need > m->hdr->arena_bytes || !ei_arena_apart(m, op->t[0], soff, 4u * need) ||
        !ei_arena_apart(m, op->t[3], soff, 4u * need)) {
      return EI_ERR_OP_INVALID;
    }
  }
  if (kind == EI_CK_TRANSPOSE) ws = (uint64_t)cin * (cout / grp) * g[EI_CONV_KH] * g[EI_CONV_KW];
  if (xs > 0x7FFFFFFFu || ys > 0x7FFFFFFFu || ws > 0x7FFFFFFFu ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)xs) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)ws) ||
      (op->t[2] != EI_NO_TENSOR && !ei_check_tensor(m, op, 2, EI_DT_F32, (uint32_t)bs)) ||
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
  const uint32_t kind = a[3 + EI_CONV_NGEOM], soff = a[5 + EI_CONV_NGEOM];
  const int32_t acc = (int32_t)a[4 + EI_CONV_NGEOM], chunk = (int32_t)a[6 + EI_CONV_NGEOM];
  float *scratch = soff == EI_NONE_OFF ? (float *)0 : (float *)(void *)(m->arena + soff);
  uint32_t i;
  for (i = 0; i < a[0]; ++i) {
    const float *xi = x + (long)i * xs;
    float *yi = y + (long)i * ys;
    switch (kind) {
    case EI_CK_POINTWISE: ei_conv1x1_f32(g, xi, w, b, lo, hi, acc, scratch, yi); break;
    case EI_CK_GEMM: ei_conv2d_gemm_f32(g, xi, w, b, lo, hi, acc, chunk, scratch, yi); break;
    case EI_CK_DEPTHWISE: ei_dwconv2d_f32(g, xi, w, b, lo, hi, scratch, yi); break;
    case EI_CK_TRANSPOSE: ei_convtranspose2d_f32(g, xi, w, b, lo, hi, yi); break;
    default: ei_conv2d_f32(g, xi, w, b, lo, hi, yi); break;
    }
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

/* ---- GLOBAL_AVGPOOL / GlobalMaxPool: attrs {channels (all images), hw, is_max} ---- */
ei_status_t ei_prepare_gap(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  if (op->attr_words != 3 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] > 1 ||
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
    float s = a[2] ? xc[0] : 0.0f;
    if (a[2]) {
      for (i = 1; i < hw; ++i) s = xc[i] > s ? xc[i] : s;
      y[c] = s;
    } else {
      for (i = 0; i < hw; ++i) s += xc[i];
      y[c] = s / (float)hw;
    }
  }
}

/* ---- BINARY: attrs {kind (0 add, 1 sub, 2 mul, 3 div, 4 pow), dims[4] of y, a strides[4], b strides[4]}:
 * y[i0,i1,i2,i3] = a[sum i_d sa_d] op b[sum i_d sb_d] (stride 0 along a broadcast axis).
 * float32, or an integer type y and a share: wrapping to the element type as the generated C's
 * (t)(a op b) (computed in 64 bits, so no signed overflow), division truncating; a division by zero
 * (only possible in run-time data) gives 0. pow's exponent b may have any numeric type:
 * powf(a, (float)b) for float32, (t)pow((double)a, (double)b) for integers, as the generated C.
 * bool: the IR reference's numpy semantics (add = or, mul = and, a / 0 true, any nonzero result true). ---- */
#define EI_BIN_WORDS 13u

/* 1 when every index the strides reach over dims stays below numel. */
static int ei_bcast_ok(const uint32_t *dims, const uint32_t *st, uint32_t numel)
{
  uint64_t last = 0;
  uint32_t d;
  for (d = 0; d < 4; ++d) last += (uint64_t)(dims[d] - 1u) * st[d];
  return last < numel;
}

ei_status_t ei_prepare_binary(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x, *z, *y;
  uint64_t n = 1;
  uint32_t d;
  if (op->attr_words != EI_BIN_WORDS || op->n_in != 2 || op->n_out != 1 || a[0] > 4) {
    return EI_ERR_OP_INVALID;
  }
  for (d = 0; d < 4; ++d) {
    if (a[1 + d] == 0 || a[5 + d] > 0x7FFFFFFFu || a[9 + d] > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
    n *= a[1 + d];
    if (n > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, -1, 0);
  z = ei_check_tensor(m, op, 1, -1, 0);
  y = ei_check_tensor(m, op, 2, -1, (uint32_t)n);
  if (!x || !z || !y || !ei_bcast_ok(a + 1, a + 5, ei_numel(x)) || !ei_bcast_ok(a + 1, a + 9, ei_numel(z)) ||
      x->dtype != y->dtype || (y->dtype != EI_DT_F32 && !ei_is_int_dtype(y->dtype)) ||
      (a[0] != 4 && z->dtype != y->dtype) || (y->dtype == EI_DT_BOOL && a[0] == 1)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

static float ei_ld_f32_(const void *p, uint32_t dt, uint32_t i)
{
  if (dt == EI_DT_F32) return ((const float *)p)[i];
  if (dt == EI_DT_F64) return (float)((const double *)p)[i];
  return (float)ei_ld_int(p, dt, i);
}

/* one element of an integer BINARY, or of a float32 pow (the paths other than the float fast loops) */
static void ei_bin_any_(uint32_t kind, const ei_tensor_rec_t *tx, const void *x, uint32_t i,
                        const ei_tensor_rec_t *tz, const void *z, uint32_t j, void *y, uint32_t o)
{
  const uint32_t dt = tx->dtype;
  int64_t u, v, r;
  if (dt == EI_DT_F32) {
    ((float *)y)[o] = powf(((const float *)x)[i], ei_ld_f32_(z, tz->dtype, j));
    return;
  }
  u = ei_ld_int(x, dt, i);
  if (kind == 4) {
    const double e = tz->dtype == EI_DT_F32 ? (double)((const float *)z)[j]
                     : tz->dtype == EI_DT_F64 ? ((const double *)z)[j] : (double)ei_ld_int(z, tz->dtype, j);
    const double p = pow((double)u, e);
    /* the cast of a double outside int64 is undefined: saturate (NaN gives 0) */
    r = p != p ? 0 : p >= 9.2233720368547758e18 ? INT64_MAX : p <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)p;
    ei_st_int(y, dt, o, dt == EI_DT_BOOL ? (p != 0.0) : r);
    return;
  }
  v = ei_ld_int(z, dt, j);
  switch (kind) {
  case 0: r = (int64_t)((uint64_t)u + (uint64_t)v); break;
  case 1: r = (int64_t)((uint64_t)u - (uint64_t)v); break;
  case 2: r = (int64_t)((uint64_t)u * (uint64_t)v); break;
  default: r = v == 0 ? (dt == EI_DT_BOOL) : (v == -1 ? (int64_t)(0u - (uint64_t)u) : u / v); break;
  }
  ei_st_int(y, dt, o, dt == EI_DT_BOOL ? r != 0 : r);
}

static float ei_bin_(uint32_t kind, float u, float v)
{
  switch (kind) {
  case 0: return u + v;
  case 1: return u - v;
  case 2: return u * v;
  default: return u / v;
  }
}

void ei_eval_binary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const float *z = (const float *)ei_slot(m, op, 1, in, out);
  float *y = (float *)ei_slot(m, op, 2, in, out);
  const uint32_t *dm = a + 1, *sa = a + 5, *sb = a + 9;
  const ei_tensor_rec_t *tx = &m->tensors[op->t[0]], *tz = &m->tensors[op->t[1]];
  uint32_t i0, i1, i2, i3;
  if (a[0] == 4 || tx->dtype != EI_DT_F32) {
    uint32_t o = 0;
    for (i0 = 0; i0 < dm[0]; ++i0) {
      for (i1 = 0; i1 < dm[1]; ++i1) {
        for (i2 = 0; i2 < dm[2]; ++i2) {
          const uint32_t ba = i0 * sa[0] + i1 * sa[1] + i2 * sa[2], bb = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
          for (i3 = 0; i3 < dm[3]; ++i3, ++o) ei_bin_any_(a[0], tx, x, ba + i3 * sa[3], tz, z, bb + i3 * sb[3], y, o);
        }
      }
    }
    return;
  }
  if (dm[0] == 1 && dm[1] == 1 && dm[2] == 1) {
    /* the common same-shape / scalar case as one loop the compiler vectorises */
    const uint32_t n = dm[3], s0 = sa[3], s1 = sb[3];
    switch (a[0]) {
    case 0: for (i3 = 0; i3 < n; ++i3) y[i3] = x[i3 * s0] + z[i3 * s1]; break;
    case 1: for (i3 = 0; i3 < n; ++i3) y[i3] = x[i3 * s0] - z[i3 * s1]; break;
    case 2: for (i3 = 0; i3 < n; ++i3) y[i3] = x[i3 * s0] * z[i3 * s1]; break;
    default: for (i3 = 0; i3 < n; ++i3) y[i3] = x[i3 * s0] / z[i3 * s1]; break;
    }
    return;
  }
  for (i0 = 0; i0 < dm[0]; ++i0) {
    for (i1 = 0; i1 < dm[1]; ++i1) {
      for (i2 = 0; i2 < dm[2]; ++i2) {
        const float *xr = x + (long)i0 * sa[0] + (long)i1 * sa[1] + (long)i2 * sa[2];
        const float *zr = z + (long)i0 * sb[0] + (long)i1 * sb[1] + (long)i2 * sb[2];
        for (i3 = 0; i3 < dm[3]; ++i3) y[i3] = ei_bin_(a[0], xr[i3 * sa[3]], zr[i3 * sb[3]]);
        y += dm[3];
      }
    }
  }
}

/* ---- MAXMIN (Max, Min): x_0..x_{n-1} -> y, all of one type; attrs {is_min, dims[4] of y, strides[4] per input}
 * (broadcast as BINARY's). y = the largest (smallest) input; a NaN input gives NaN, as numpy's maximum. ---- */
ei_status_t ei_prepare_maxmin(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *y;
  uint64_t n = 1;
  uint32_t d, i;
  if (op->n_in == 0 || op->n_out != 1 || op->attr_words != 5u + 4u * op->n_in || a[0] > 1) {
    return EI_ERR_OP_INVALID;
  }
  for (d = 0; d < 4; ++d) {
    if (a[1 + d] == 0) return EI_ERR_OP_INVALID;
    n *= a[1 + d];
    if (n > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
  }
  y = ei_check_tensor(m, op, op->n_in, -1, (uint32_t)n);
  if (!y) return EI_ERR_OP_INVALID;
  for (i = 0; i < op->n_in; ++i) {
    const ei_tensor_rec_t *x = ei_check_tensor(m, op, i, y->dtype, 0);
    const uint32_t *st = a + 5 + 4u * i;
    for (d = 0; d < 4; ++d) {
      if (st[d] > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
    }
    if (!x || !ei_bcast_ok(a + 1, st, ei_numel(x))) return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_maxmin(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t *dm = a + 1, dt = m->tensors[op->t[0]].dtype, is_min = a[0];
  void *y = ei_slot(m, op, op->n_in, in, out);
  uint32_t i0, i1, i2, i3, k, o = 0;
  for (i0 = 0; i0 < dm[0]; ++i0) {
    for (i1 = 0; i1 < dm[1]; ++i1) {
      for (i2 = 0; i2 < dm[2]; ++i2) {
        for (i3 = 0; i3 < dm[3]; ++i3, ++o) {
          double vd = 0.0;
          int64_t vi = 0;
          for (k = 0; k < op->n_in; ++k) {
            const uint32_t *st = a + 5 + 4u * k;
            const void *x = ei_slot(m, op, k, in, out);
            const uint32_t at = i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3];
            if (dt == EI_DT_F32 || dt == EI_DT_F64) {
              const double w = dt == EI_DT_F32 ? (double)((const float *)x)[at] : ((const double *)x)[at];
              if (k == 0 || w != w || (is_min ? w < vd : w > vd)) vd = w;
            } else {
              const int64_t w = ei_ld_int(x, dt, at);
              if (k == 0 || (is_min ? w < vi : w > vi)) vi = w;
            }
          }
          if (dt == EI_DT_F32) ((float *)y)[o] = (float)vd;
          else if (dt == EI_DT_F64) ((double *)y)[o] = vd;
          else ei_st_int(y, dt, o, vi);
        }
      }
    }
  }
}

/* ---- CAST between integer types (and bool: nonzero is 1), as numpy's astype: attrs none ---- */
ei_status_t ei_prepare_cast(const ei_model_t *m, const ei_op_rec_t *op)
{
  const ei_tensor_rec_t *x, *y;
  if (op->n_in != 1 || op->n_out != 1 || op->attr_words != 0) return EI_ERR_OP_INVALID;
  x = ei_check_tensor(m, op, 0, -1, 0);
  y = x ? ei_check_tensor(m, op, 1, -1, ei_numel(x)) : (const ei_tensor_rec_t *)0;
  return x && y && ei_is_int_dtype(x->dtype) && ei_is_int_dtype(y->dtype) ? EI_OK : EI_ERR_OP_INVALID;
}

void ei_eval_cast(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t dx = m->tensors[op->t[0]].dtype, dy = m->tensors[op->t[1]].dtype;
  const uint32_t n = ei_numel(&m->tensors[op->t[0]]);
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  uint32_t i;
  for (i = 0; i < n; ++i) {
    const int64_t v = ei_ld_int(x, dx, i);
    ei_st_int(y, dy, i, dy == EI_DT_BOOL ? v != 0 : v);
  }
}

/* ---- AFFINE (unfolded BatchNormalization): y[o, c, i] = x[o, c, i] * k[c] + s[c]; attrs {outer, c, inner} ---- */
ei_status_t ei_prepare_affine(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t n;
  if (op->attr_words != 3 || op->n_in != 3 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] == 0) {
    return EI_ERR_OP_INVALID;
  }
  n = (uint64_t)a[0] * a[1] * a[2];
  if (n > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)n) ||
      !ei_check_tensor(m, op, 1, EI_DT_F32, a[1]) || !ei_check_tensor(m, op, 2, EI_DT_F32, a[1]) ||
      !ei_check_tensor(m, op, 3, EI_DT_F32, (uint32_t)n)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_affine(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const float *k = (const float *)ei_slot(m, op, 1, in, out);
  const float *s = (const float *)ei_slot(m, op, 2, in, out);
  float *y = (float *)ei_slot(m, op, 3, in, out);
  uint32_t o, c, i;
  for (o = 0; o < a[0]; ++o) {
    for (c = 0; c < a[1]; ++c) {
      const long base = ((long)o * a[1] + c) * a[2];
      for (i = 0; i < a[2]; ++i) y[base + i] = x[base + i] * k[c] + s[c];
    }
  }
}

/* ---- UNARY (in place allowed), float32: attrs {kind, p, q} with kind 0 relu, 1 sigmoid, 2 tanh, 3 clip to
 * [p, q], 4 exp, 5 sqrt, 6 erf, 7 leaky relu (slope p), 8 hard sigmoid (alpha p, beta q), 9 hard swish, each the
 * generated C's expression; other types: Clip only, attrs {3, lo, hi} with bounds of 2 words each (int64 for
 * the integer types, double for float64). ---- */
ei_status_t ei_prepare_unary(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x;
  if (op->n_in != 1 || op->n_out != 1 || op->attr_words < 1) {
    return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, -1, 0);
  if (!x || !ei_check_tensor(m, op, 1, x->dtype, ei_numel(x)) ||
      (x->dtype == EI_DT_F32 ? (op->attr_words != 3 || a[0] > 9) : (op->attr_words != 5 || a[0] != 3))) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

static int64_t ei_word_i64_(const uint32_t *w)
{
  return (int64_t)(((uint64_t)w[1] << 32) | w[0]);
}

static void ei_unary_f32_(uint32_t kind, float *y, int32_t n, float p, float q)
{
  int32_t i;
  for (i = 0; i < n; ++i) {
    const float v = y[i];
    switch (kind) {
    case 4: y[i] = expf(v); break;
    case 5: y[i] = sqrtf(v); break;
    case 6: y[i] = erff(v); break;
    case 7: y[i] = v >= 0.0f ? v : v * p; break;
    case 8: y[i] = fminf(fmaxf(v * p + q, 0.0f), 1.0f); break;
    default: y[i] = v * fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f); break;
    }
  }
}

void ei_eval_unary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *t = &m->tensors[op->t[0]];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  const int32_t n = (int32_t)ei_numel(t);
  if (t->dtype == EI_DT_F64) {
    double lo, hi;
    const double *xd = (const double *)(const void *)x;
    double *yd = (double *)(void *)y;
    int32_t i;
    memcpy(&lo, a + 1, 8);
    memcpy(&hi, a + 3, 8);
    for (i = 0; i < n; ++i) {
      const double w = xd[i] < lo ? lo : xd[i];
      yd[i] = w > hi ? hi : w;
    }
    return;
  }
  if (t->dtype != EI_DT_F32) {
    /* integer Clip in the element type: min(max(v, lo), hi), the IR reference's order (the bounds stored
     * already cast to the type) */
    const int64_t lo = ei_word_i64_(a + 1), hi = ei_word_i64_(a + 3);
    int32_t i;
    for (i = 0; i < n; ++i) {
      const int64_t v = ei_ld_int(x, t->dtype, (uint32_t)i), w = v < lo ? lo : v;
      ei_st_int(y, t->dtype, (uint32_t)i, w > hi ? hi : w);
    }
    return;
  }
  if (x != y) {
    memmove(y, x, (size_t)n * sizeof(float));
  }
  switch (a[0]) {
  case 0: ei_relu_f32(y, n); break;
  case 1: ei_sigmoid_f32(y, n); break;
  case 2: ei_tanh_f32(y, n); break;
  case 3: ei_clamp_(y, n, ei_word_f32(a[1]), ei_word_f32(a[2])); break;
  default: ei_unary_f32_(a[0], y, n, ei_word_f32(a[1]), ei_word_f32(a[2])); break;
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
  const ei_tensor_rec_t *t = &m->tensors[op->t[0]];
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  if (x != y) {
    memmove(y, x, (size_t)ei_numel(t) * ei_dtype_size[t->dtype]);
  }
}

/* ---- ARGMAX (any element type -> int32, first index on ties): attrs {outer, n, inner} ---- */
ei_status_t ei_prepare_argmax(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t xs;
  if (op->attr_words != 3 || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[2] == 0) {
    return EI_ERR_OP_INVALID;
  }
  xs = (uint64_t)a[0] * a[1] * a[2];
  if (xs > 0x7FFFFFFFu || !ei_check_tensor(m, op, 0, -1, (uint32_t)xs) ||
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
  const uint32_t n = a[1], inner = a[2], dt = m->tensors[op->t[0]].dtype;
  uint32_t o, i, j;
  if (dt != EI_DT_F32) {
    const double *xd = (const double *)(const void *)x;
    for (o = 0; o < a[0]; ++o) {
      for (i = 0; i < inner; ++i) {
        const uint32_t b = o * n * inner + i;
        uint32_t best = 0;
        for (j = 1; j < n; ++j) {
          const uint32_t at = b + j * inner, bt = b + best * inner;
          if (dt == EI_DT_F64 ? xd[at] > xd[bt] : ei_ld_int(x, dt, at) > ei_ld_int(x, dt, bt)) best = j;
        }
        y[o * inner + i] = (int32_t)best;
      }
    }
    return;
  }
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
