/* ei_ops_fixed.c: the fixed-point classical ops (ir/ops/fixed_point.py), integer arithmetic only.
 *
 * No float type, literal or conversion appears in this file, so firmware registering only these ops
 * (ei_model_load_with and a resolver listing EI_REG_FXTREES / EI_REG_FXDENSE) links no soft-float
 * helper on a core without an FPU, as the generated C for the same model (backends/c/ops/fixed_point.py).
 * Sums wrap in uint32 (trees) or are exact in int64 (dense, bounded at load so that the requantization's
 * int64 product cannot overflow). */
#include "ei_interp_ops.h"
#include "ei_int16.h"

enum { EI_FX_ARGMAX = 0, EI_FX_POSITIVE = 1, EI_FX_NONNEGATIVE = 2 };

/* label and scores from k int32 sums z (binary modes: one raw score s, scores [-s, s]) */
static void ei_fx_labels_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t mode, const int32_t *z, uint32_t k,
                          const void *const *in, void *const *out)
{
  int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out);
  int32_t *scores = (int32_t *)ei_slot(m, op, 2, in, out);
  uint32_t c, best = 0;
  if (mode == EI_FX_ARGMAX) {
    for (c = 0; c < k; ++c) {
      scores[c] = z[c];
      if (z[c] > z[best]) best = c;
    }
    *label = (int32_t)best;
    return;
  }
  scores[0] = (int32_t)(0u - (uint32_t)z[0]); /* -s without the overflow at INT32_MIN */
  scores[1] = z[0];
  *label = mode == EI_FX_POSITIVE ? z[0] > 0 : z[0] >= 0;
}

static int ei_fx_outputs_ok_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t mode, uint32_t k)
{
  return mode <= EI_FX_NONNEGATIVE && (mode == EI_FX_ARGMAX || k == 1) && op->n_out == 2 &&
         ei_check_tensor(m, op, 1, EI_DT_I32, 1) &&
         ei_check_tensor(m, op, 2, EI_DT_I32, mode == EI_FX_ARGMAX ? k : 2u);
}

static int ei_fx_input_ok_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t n_features)
{
  const ei_tensor_rec_t *x = ei_check_tensor(m, op, 0, -1, n_features);
  return op->n_in == 1 && x && (x->dtype == EI_DT_I8 || x->dtype == EI_DT_I16);
}

static int32_t ei_fx_x_(const void *x, uint32_t dt, uint32_t i)
{
  return dt == EI_DT_I8 ? (int32_t)((const int8_t *)x)[i] : (int32_t)((const int16_t *)x)[i];
}

/* ---- FXTREES: x (int8 / int16 features) -> label (i32), scores (i32);
 * attrs {n_features, k, n_trees, n_branches, n_leaves, label_mode, branches, roots, leaves (i16 n_leaves x k),
 * base (i32 k)}. branch = {int32 threshold, feature, left (x <= threshold), right}; a reference >= 0 is a branch
 * after its parent (so every walk ends), < 0 the leaf row -1 - ref. Sums: base, then each tree's leaf row. ---- */
typedef struct {
  int32_t thr, feature, left, right;
} ei_fx_branch_t;

static int ei_fx_ref_ok_(int32_t r, uint32_t after, uint32_t n_branches, uint32_t n_leaves)
{
  return r >= 0 ? ((uint32_t)r >= after && (uint32_t)r < n_branches) : ((uint32_t)(-1 - r) < n_leaves);
}

ei_status_t ei_prepare_fxtrees(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_fx_branch_t *br;
  const int32_t *roots;
  uint32_t i;
  if (op->attr_words != 10 || a[0] == 0 || a[1] == 0 || a[1] > 0x10000u || a[2] == 0 || a[4] == 0 ||
      a[3] > 0x0FFFFFFFu || a[4] > 0x0FFFFFFFu || (uint64_t)a[4] * a[1] > 0x3FFFFFFFu ||
      !ei_fx_input_ok_(m, op, a[0]) || !ei_fx_outputs_ok_(m, op, a[5], a[1]) ||
      !ei_check_span(m, a[6], 4u * a[3], 4) || !ei_check_span(m, a[7], a[2], 4) ||
      !ei_check_span(m, a[8], a[4] * a[1], 2) || !ei_check_span(m, a[9], a[1], 4) ||
      4u * a[1] > m->hdr->scratch_bytes) {
    return EI_ERR_OP_INVALID;
  }
  br = (const ei_fx_branch_t *)ei_data_at(m, a[6]);
  roots = (const int32_t *)ei_data_at(m, a[7]);
  for (i = 0; i < a[3]; ++i) {
    if (br[i].feature < 0 || (uint32_t)br[i].feature >= a[0] || !ei_fx_ref_ok_(br[i].left, i + 1, a[3], a[4]) ||
        !ei_fx_ref_ok_(br[i].right, i + 1, a[3], a[4])) {
      return EI_ERR_OP_INVALID;
    }
  }
  for (i = 0; i < a[2]; ++i) {
    if (!ei_fx_ref_ok_(roots[i], 0, a[3], a[4])) return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_fxtrees(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t k = a[1], dt = m->tensors[op->t[0]].dtype;
  const void *x = ei_slot(m, op, 0, in, out);
  const ei_fx_branch_t *br = (const ei_fx_branch_t *)ei_data_at(m, a[6]);
  const int32_t *roots = (const int32_t *)ei_data_at(m, a[7]);
  const int16_t *leaves = (const int16_t *)ei_data_at(m, a[8]);
  const int32_t *base = (const int32_t *)ei_data_at(m, a[9]);
  uint32_t *acc = (uint32_t *)(void *)ei_scratch(m);
  uint32_t t, c;
  for (c = 0; c < k; ++c) acc[c] = (uint32_t)base[c];
  for (t = 0; t < a[2]; ++t) {
    int32_t r = roots[t];
    const int16_t *lv;
    while (r >= 0) {
      const ei_fx_branch_t *b = &br[r];
      r = ei_fx_x_(x, dt, (uint32_t)b->feature) <= b->thr ? b->left : b->right;
    }
    lv = leaves + (uint32_t)(-1 - r) * k;
    for (c = 0; c < k; ++c) acc[c] += (uint32_t)(int32_t)lv[c];
  }
  ei_fx_labels_(m, op, a[5], (const int32_t *)(const void *)acc, k, in, out);
}

/* ---- FXDENSE: x (int8 / int16 features) -> label (i32), scores (i32);
 * attrs {n_layers, act_bits (8 or 16), label_mode, max_hidden} then per layer
 * {n_in, n_out, act (0 relu, 1 identity, 2 tanh, 3 logistic), w_bits (8 or 16), W (n_out, n_in), b (i64 n_out),
 *  mult (i32 n_out), shift (i32 n_out), lut (257 entries of act_bits, or EI_NONE_OFF)}:
 * acc = b + W x exactly (int64), v = ei_mbqm64(acc, mult, shift), then the activation clamps / looks up (hidden
 * layers) or v clamped to +-(2^31 - 1) is the score (last layer). ---- */
#define EI_FX_HEAD 4u
#define EI_FX_LAYER 9u
#define EI_FX_LUT 257u

static uint32_t ei_fx_last_out_(const uint32_t *a)
{
  return a[EI_FX_HEAD + (a[0] - 1u) * EI_FX_LAYER + 1u];
}

/* the largest |acc| a layer can reach, or 0 when a table is absent or misplaced */
static uint64_t ei_fx_layer_bound_(const ei_model_t *m, const uint32_t *L, uint64_t x_abs)
{
  const uint32_t n_in = L[0], n_out = L[1], wb = L[3] == 16u ? 2u : 1u;
  const uint64_t nw = (uint64_t)n_in * n_out;
  uint64_t wmax = 0, bmax = 0;
  uint32_t i;
  if (nw > 0x3FFFFFFFu || !ei_check_span(m, L[4], (uint32_t)nw, wb) || !ei_check_span(m, L[5], n_out, 8) ||
      !ei_check_span(m, L[6], n_out, 4) || !ei_check_span(m, L[7], n_out, 4)) {
    return 0;
  }
  for (i = 0; i < nw; ++i) {
    const int64_t w = wb == 2u ? ((const int16_t *)ei_data_at(m, L[4]))[i] : ((const int8_t *)ei_data_at(m, L[4]))[i];
    const uint64_t aw = (uint64_t)(w < 0 ? -w : w);
    wmax = aw > wmax ? aw : wmax;
  }
  for (i = 0; i < n_out; ++i) {
    const int64_t b = ((const int64_t *)ei_data_at(m, L[5]))[i];
    const int32_t mu = ((const int32_t *)ei_data_at(m, L[6]))[i], sh = ((const int32_t *)ei_data_at(m, L[7]))[i];
    uint64_t ab;
    if (b < -((int64_t)1 << 46) || b > ((int64_t)1 << 46) || mu < 0 || sh < -47 || sh > 14) return 0;
    ab = (uint64_t)(b < 0 ? -b : b);
    bmax = ab > bmax ? ab : bmax;
  }
  return (uint64_t)n_in * wmax * x_abs + bmax + 1u;
}

ei_status_t ei_prepare_fxdense(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x;
  uint32_t l, n;
  uint64_t x_abs;
  if (op->attr_words < EI_FX_HEAD || a[0] == 0 || a[0] > 64 || op->attr_words != EI_FX_HEAD + a[0] * EI_FX_LAYER ||
      (a[1] != 8u && a[1] != 16u) || a[3] > 0x100000u) {
    return EI_ERR_OP_INVALID;
  }
  n = a[EI_FX_HEAD];
  if (!ei_fx_input_ok_(m, op, n) || !ei_fx_outputs_ok_(m, op, a[2], ei_fx_last_out_(a))) return EI_ERR_OP_INVALID;
  x = &m->tensors[op->t[0]];
  x_abs = x->dtype == EI_DT_I8 ? 128u : 32768u;
  for (l = 0; l < a[0]; ++l) {
    const uint32_t *L = a + EI_FX_HEAD + l * EI_FX_LAYER;
    const int last = l + 1u == a[0];
    uint64_t bound;
    if (L[0] != n || L[1] == 0 || L[1] > 0x100000u || L[2] > 3 || (L[3] != 8u && L[3] != 16u) ||
        (!last && L[1] > a[3])) {
      return EI_ERR_OP_INVALID;
    }
    if (!last && L[2] >= 2 && !ei_check_span(m, L[8], EI_FX_LUT, a[1] / 8u)) return EI_ERR_OP_INVALID;
    bound = ei_fx_layer_bound_(m, L, x_abs);
    if (bound == 0 || bound >= ((uint64_t)1 << 47)) return EI_ERR_OP_INVALID;
    x_abs = (uint64_t)1 << (a[1] - 1u);
    n = L[1];
  }
  return 4u * (2u * a[3] + n) > m->hdr->scratch_bytes ? EI_ERR_ARENA : EI_OK;
}

void ei_eval_fxdense(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t nl = a[0], bits = a[1], mh = a[3], dt = m->tensors[op->t[0]].dtype;
  const int64_t amax = ((int64_t)1 << (bits - 1u)) - 1;
  const int32_t sh = (int32_t)bits - 8;
  int32_t *h0 = (int32_t *)(void *)ei_scratch(m), *h1 = h0 + mh, *z = h1 + mh;
  const void *x = ei_slot(m, op, 0, in, out);
  const int32_t *src = (const int32_t *)0;
  uint32_t l, r, j;
  for (l = 0; l < nl; ++l) {
    const uint32_t *L = a + EI_FX_HEAD + l * EI_FX_LAYER;
    const uint32_t n_in = L[0], n_out = L[1], act = L[2];
    const int last = l + 1u == nl;
    const int64_t *b = (const int64_t *)ei_data_at(m, L[5]);
    const int32_t *mu = (const int32_t *)ei_data_at(m, L[6]), *sf = (const int32_t *)ei_data_at(m, L[7]);
    int32_t *dst = last ? z : (l % 2u == 0 ? h0 : h1);
    for (r = 0; r < n_out; ++r) {
      int64_t acc = b[r], v;
      for (j = 0; j < n_in; ++j) {
        const int32_t w = L[3] == 16u ? ((const int16_t *)ei_data_at(m, L[4]))[r * n_in + j]
                                      : ((const int8_t *)ei_data_at(m, L[4]))[r * n_in + j];
        acc += (int64_t)w * (src ? src[j] : ei_fx_x_(x, dt, j));
      }
      v = ei_mbqm64(acc, mu[r], sf[r]);
      if (last) {
        v = v > 2147483647 ? 2147483647 : (v < -2147483647 ? -2147483647 : v);
      } else if (act == 0) {
        v = v < 0 ? 0 : (v > amax ? amax : v);
      } else {
        v = v < -amax - 1 ? -amax - 1 : (v > amax ? amax : v);
        if (act >= 2) {
          const int32_t u = (int32_t)v + (int32_t)amax + 1, i = u >> sh;
          const int32_t i1 = i < (int32_t)EI_FX_LUT - 1 ? i + 1 : i;
          int32_t lo, d;
          if (bits == 16u) {
            const int16_t *lut = (const int16_t *)ei_data_at(m, L[8]);
            lo = lut[i];
            d = lut[i1] - lo;
          } else {
            const int8_t *lut = (const int8_t *)ei_data_at(m, L[8]);
            lo = lut[i];
            d = lut[i1] - lo;
          }
          v = lo + ((d * (u & ((1 << sh) - 1))) >> sh);
        }
      }
      dst[r] = (int32_t)v;
    }
    src = dst;
  }
  ei_fx_labels_(m, op, a[2], z, ei_fx_last_out_(a), in, out);
}
