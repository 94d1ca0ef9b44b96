/* ei_ops_fixed.c: the fixed-point classical ops (ir/ops/fixed_point.py), integer arithmetic only.
 *
 * No float type, literal or conversion appears in this file, so firmware registering only these ops
 * (ei_model_load_with and a resolver listing EI_REG_FXTREES / EI_REG_FXDENSE) links no soft-float
 * helper on a core without an FPU, as the generated C for the same model (backends/c/ops/fixed_point.py).
 * Sums wrap in uint32 (trees) or are exact in int64 (dense, bounded at load so that the requantization's
 * int64 product cannot overflow). */
#include "ei_interp_ops.h"
#include "ei_int16.h"

enum { EI_FX_ARGMAX = 0, EI_FX_POSITIVE = 1, EI_FX_NONNEGATIVE = 2, EI_FX_VALUES = 3 };

/* label and scores from k int32 sums z (binary modes: one raw score s, scores [-s, s]); a regressor's
 * values (mode EI_FX_VALUES) are the sums themselves, its only output */
static void ei_fx_labels_(const ei_model_t *m, const ei_op_rec_t *op, uint32_t mode, const int32_t *z, uint32_t k,
                          const void *const *in, void *const *out)
{
  int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out);
  int32_t *scores = (int32_t *)ei_slot(m, op, 2, in, out);
  uint32_t c, best = 0;
  if (mode == EI_FX_VALUES) {
    for (c = 0; c < k; ++c) label[c] = z[c];
    return;
  }
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
  if (mode == EI_FX_VALUES) return op->n_out == 1 && ei_check_tensor(m, op, 1, EI_DT_I32, k);
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

/* ---- FXSVM: x (int8 / int16 features) -> label (i32), scores (i32); or a regressor's value (i32 1).
 * attrs {kind (0 linear, 1 poly, 2 rbf, 3 sigmoid), classifier, F, L (vectors; linear: 0), K (classes; 1 for a
 *        regressor), ovo, break_ties, degree, kernel_frac, vec_bits (8, 16, 32), vectors (L x F, vec_bits), coef
 *        (i16 (K-1) x L, or 1 x L), rho (i64 P), vector_bias (i64 L), vector_shift (i32 L), kernel_table (257:
 *        i32 for rbf, i16 for sigmoid), dist_mult (i64 G), dist_shift (i32 G), dist_cap (i64 G), out_shift (i32 P),
 *        power_shift (i32 degree - 1), class_start (i32 K + 1), pair_of (i32 K (K - 1)), weights (i16 P x F),
 *        bias (i64 P), dist_group (i32 F: the group of each feature), G} (27 words), P = K (K - 1) / 2 pairs (1 for
 *        a regressor); tables a kind does not use are EI_NONE_OFF.
 * The IR reference's arithmetic (ir/ops/fixed_point.py FxSVM): exact integer kernel values, int64 pair sums,
 * rounded shifts to int32 decisions, libsvm's vote. The sums run in uint64 (wrapping, so a hostile file cannot
 * reach a signed overflow; a valid model's sums stay below 2^62 and are exact) and every shift is bounded. */
enum { EI_FXSVM_WORDS = 27, EI_FXSVM_LINEAR = 0, EI_FXSVM_POLY = 1, EI_FXSVM_RBF = 2, EI_FXSVM_SIGMOID = 3 };
#define EI_EXP_FRAC 24
#define EI_EXP_CUT ((int64_t)31 << EI_EXP_FRAC)

static int64_t ei_fx_rshift_(uint64_t x, int32_t s)
{
  /* (x + 2^s / 2) >> s on the int64 value, the addition wrapping in uint64 */
  return (int64_t)(x + (((uint64_t)1 << s) >> 1)) >> s;
}

static int32_t ei_fx_clamp32_(int64_t v)
{
  return v > 2147483647 ? 2147483647 : (v < -2147483647 ? -2147483647 : (int32_t)v);
}

static int ei_fx_shifts_ok_(const ei_model_t *m, uint32_t off, uint32_t n)
{
  const int32_t *t;
  uint32_t i;
  if (!ei_check_span(m, off, n, 4)) return 0;
  t = (const int32_t *)ei_data_at(m, off);
  for (i = 0; i < n; ++i) {
    if (t[i] < 0 || t[i] > 62) return 0;
  }
  return 1;
}

ei_status_t ei_prepare_fxsvm(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint32_t kind, F, L, K, P, i;
  if (op->attr_words != EI_FXSVM_WORDS || a[0] > 3 || a[1] > 1 || a[2] == 0 || a[2] > 0x10000u || a[5] > 1 ||
      a[6] > 1 || a[7] > 64 || a[8] > 62 || (a[9] != 8u && a[9] != 16u && a[9] != 32u)) {
    return EI_ERR_OP_INVALID;
  }
  kind = a[0];
  F = a[2];
  L = a[3];
  K = a[4];
  if ((a[1] ? (K < 2 || K > 256) : K != 1) || (kind != EI_FXSVM_LINEAR && (L == 0 || L > 0x100000u))) {
    return EI_ERR_OP_INVALID;
  }
  P = a[1] ? K * (K - 1u) / 2u : 1u;
  if (!ei_fx_input_ok_(m, op, F) || !ei_fx_shifts_ok_(m, a[19], P) ||
      (a[1] ? (op->n_out != 2 || !ei_check_tensor(m, op, 1, EI_DT_I32, 1) ||
               !ei_check_tensor(m, op, 2, EI_DT_I32, K == 2 ? 1u : (a[5] ? P : K)))
            : (op->n_out != 1 || !ei_check_tensor(m, op, 1, EI_DT_I32, 1)))) {
    return EI_ERR_OP_INVALID;
  }
  if (kind == EI_FXSVM_LINEAR) {
    if ((uint64_t)P * F > 0x3FFFFFFFu || !ei_check_span(m, a[23], P * F, 2) || !ei_check_span(m, a[24], P, 8)) {
      return EI_ERR_OP_INVALID;
    }
  } else {
    const uint32_t vb = a[9] / 8u;
    if ((uint64_t)L * F > 0x3FFFFFFFu || !ei_check_span(m, a[10], L * F, vb) ||
        !ei_check_span(m, a[11], (a[1] ? K - 1u : 1u) * L, 2) || !ei_check_span(m, a[12], P, 8)) {
      return EI_ERR_OP_INVALID;
    }
    if (a[1]) {
      const int32_t *st, *po;
      if (!ei_check_span(m, a[21], K + 1u, 4) || !ei_check_span(m, a[22], K * (K - 1u), 4)) return EI_ERR_OP_INVALID;
      st = (const int32_t *)ei_data_at(m, a[21]);
      po = (const int32_t *)ei_data_at(m, a[22]);
      if (st[0] != 0 || (uint32_t)st[K] != L) return EI_ERR_OP_INVALID;
      for (i = 0; i < K; ++i) {
        if (st[i + 1] < st[i]) return EI_ERR_OP_INVALID;
      }
      for (i = 0; i < K * (K - 1u); ++i) {
        if (po[i] < 0 || (uint32_t)po[i] >= P) return EI_ERR_OP_INVALID;
      }
    }
    if (kind == EI_FXSVM_RBF) {
      const uint32_t G = a[26];
      const int64_t *mu, *cap;
      const int32_t *grp;
      if (G == 0 || G > F || !ei_check_span(m, a[15], EI_FX_LUT, 4) || !ei_check_span(m, a[16], G, 8) ||
          !ei_fx_shifts_ok_(m, a[17], G) || !ei_check_span(m, a[18], G, 8) || !ei_check_span(m, a[25], F, 4)) {
        return EI_ERR_OP_INVALID;
      }
      mu = (const int64_t *)ei_data_at(m, a[16]);
      cap = (const int64_t *)ei_data_at(m, a[18]);
      grp = (const int32_t *)ei_data_at(m, a[25]);
      for (i = 0; i < F; ++i) {
        if (grp[i] < 0 || (uint32_t)grp[i] >= G) return EI_ERR_OP_INVALID;
      }
      for (i = 0; i < G; ++i) {
        /* min(d^2, cap) * mult + rounding stays below 2^62 */
        if (mu[i] < 0 || cap[i] < 0 || (mu[i] > 0 && cap[i] > ((int64_t)1 << 62) / mu[i])) return EI_ERR_OP_INVALID;
      }
      for (i = 0; i < L * F; ++i) {
        /* |v| <= 2^20, so |x - v| < 2^21 and (x - v)^2 < 2^42 */
        int64_t v = a[9] == 8u ? ((const int8_t *)ei_data_at(m, a[10]))[i]
                    : a[9] == 16u ? ((const int16_t *)ei_data_at(m, a[10]))[i]
                                  : ((const int32_t *)ei_data_at(m, a[10]))[i];
        if (v > ((int64_t)1 << 20) || v < -((int64_t)1 << 20)) return EI_ERR_OP_INVALID;
      }
    } else {
      if (a[9] != 16u || !ei_check_span(m, a[13], L, 8) || !ei_fx_shifts_ok_(m, a[14], L) ||
          (kind == EI_FXSVM_SIGMOID && !ei_check_span(m, a[15], EI_FX_LUT, 2)) ||
          (kind == EI_FXSVM_POLY && a[7] > 1u && !ei_fx_shifts_ok_(m, a[20], a[7] - 1u))) {
        return EI_ERR_OP_INVALID;
      }
    }
  }
  return 12u * P + 16u * K + 8u * (kind == EI_FXSVM_RBF ? a[26] : 0u) > m->hdr->scratch_bytes ? EI_ERR_ARENA : EI_OK;
}

/* the integer kernel value of x with vector l (ir/ops/fixed_point.py fx_kernel); sq: G int64 of scratch */
static int64_t ei_fxsvm_kernel_(const ei_model_t *m, const uint32_t *a, const void *x, uint32_t dt, uint32_t l,
                                int64_t *sq)
{
  const uint32_t F = a[2];
  uint32_t j;
  if (a[0] == EI_FXSVM_RBF) {
    const int64_t *mu = (const int64_t *)ei_data_at(m, a[16]), *cap = (const int64_t *)ei_data_at(m, a[18]);
    const int32_t *sh = (const int32_t *)ei_data_at(m, a[17]), *tab = (const int32_t *)ei_data_at(m, a[15]);
    const int32_t *grp = (const int32_t *)ei_data_at(m, a[25]);
    uint64_t t = 0;
    int64_t tt, e;
    int32_t n, f, i;
    for (j = 0; j < a[26]; ++j) sq[j] = 0;
    /* exact per-group sums of squared code distances (|d| < 2^21, so each square is below 2^42) */
    for (j = 0; j < F; ++j) {
      const uint32_t at = l * F + j;
      const int64_t v = a[9] == 8u ? ((const int8_t *)ei_data_at(m, a[10]))[at]
                        : a[9] == 16u ? ((const int16_t *)ei_data_at(m, a[10]))[at]
                                      : ((const int32_t *)ei_data_at(m, a[10]))[at];
      const int64_t d = (int64_t)ei_fx_x_(x, dt, j) - v;
      sq[grp[j]] += d * d;
    }
    for (j = 0; j < a[26]; ++j) {
      const int64_t q = sq[j] > cap[j] ? cap[j] : sq[j];
      t += (uint64_t)((q * mu[j] + (((int64_t)1 << sh[j]) >> 1)) >> sh[j]);
    }
    tt = t > (uint64_t)EI_EXP_CUT ? EI_EXP_CUT : (int64_t)t;
    n = (int32_t)(tt >> EI_EXP_FRAC);
    f = (int32_t)(tt & ((1 << EI_EXP_FRAC) - 1));
    i = f >> (EI_EXP_FRAC - 8);
    e = tab[i] + ((((int64_t)tab[i + 1] - tab[i]) * (f & ((1 << (EI_EXP_FRAC - 8)) - 1))) >> (EI_EXP_FRAC - 8));
    return e >> n;
  }
  {
    const int16_t *v = (const int16_t *)ei_data_at(m, a[10]) + (size_t)l * F;
    uint64_t acc = (uint64_t)((const int64_t *)ei_data_at(m, a[13]))[l];
    int64_t s, r;
    uint32_t p;
    for (j = 0; j < F; ++j) acc += (uint64_t)(int64_t)((int32_t)v[j] * ei_fx_x_(x, dt, j));
    s = ei_fx_rshift_(acc, ((const int32_t *)ei_data_at(m, a[14]))[l]);
    if (a[0] == EI_FXSVM_SIGMOID) {
      const int16_t *lut = (const int16_t *)ei_data_at(m, a[15]);
      const int32_t u = (int32_t)(s < -32768 ? -32768 : (s > 32767 ? 32767 : s)) + 32768, i = u >> 8;
      const int32_t i1 = i < (int32_t)EI_FX_LUT - 1 ? i + 1 : i;
      return lut[i] + (((lut[i1] - lut[i]) * (u & 255)) >> 8);
    }
    if (a[7] == 0) return (int64_t)1 << a[8];
    s = ei_fx_clamp32_(s);
    r = s;
    for (p = 0; p + 1u < a[7]; ++p) {
      r = ei_fx_clamp32_(ei_fx_rshift_((uint64_t)(r * s), ((const int32_t *)ei_data_at(m, a[20]))[p]));
    }
    return r;
  }
}

void ei_eval_fxsvm(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t F = a[2], L = a[3], K = a[4], P = a[1] ? K * (K - 1u) / 2u : 1u;
  const uint32_t dt = m->tensors[op->t[0]].dtype;
  const void *x = ei_slot(m, op, 0, in, out);
  const int32_t *osh = (const int32_t *)ei_data_at(m, a[19]);
  uint64_t *acc = (uint64_t *)(void *)ei_scratch(m);
  int64_t *conf = (int64_t *)(void *)(acc + P), *sq = conf + K;
  int32_t *dec = (int32_t *)(void *)(sq + (a[0] == EI_FXSVM_RBF ? a[26] : 0u)), *votes = dec + P, *ov = votes + K;
  uint32_t p, c, l, r, i, j;
  if (a[0] == EI_FXSVM_LINEAR) {
    const int16_t *w = (const int16_t *)ei_data_at(m, a[23]);
    const int64_t *b = (const int64_t *)ei_data_at(m, a[24]);
    for (p = 0; p < P; ++p) {
      acc[p] = (uint64_t)b[p];
      for (j = 0; j < F; ++j) acc[p] += (uint64_t)(int64_t)((int32_t)w[p * F + j] * ei_fx_x_(x, dt, j));
    }
  } else {
    const int64_t *rho = (const int64_t *)ei_data_at(m, a[12]);
    const int16_t *coef = (const int16_t *)ei_data_at(m, a[11]);
    for (p = 0; p < P; ++p) acc[p] = 0u - (uint64_t)rho[p];
    if (!a[1]) {
      for (l = 0; l < L; ++l) acc[0] += (uint64_t)coef[l] * (uint64_t)ei_fxsvm_kernel_(m, a, x, dt, l, sq);
    } else {
      const int32_t *st = (const int32_t *)ei_data_at(m, a[21]), *po = (const int32_t *)ei_data_at(m, a[22]);
      for (c = 0; c < K; ++c) {
        for (l = (uint32_t)st[c]; l < (uint32_t)st[c + 1]; ++l) {
          const uint64_t k = (uint64_t)ei_fxsvm_kernel_(m, a, x, dt, l, sq);
          for (r = 0; r + 1u < K; ++r) acc[po[c * (K - 1u) + r]] += (uint64_t)(int64_t)coef[r * L + l] * k;
        }
      }
    }
  }
  for (p = 0; p < P; ++p) dec[p] = ei_fx_clamp32_(ei_fx_rshift_(acc[p], osh[p]));
  if (!a[1]) {
    *(int32_t *)ei_slot(m, op, 1, in, out) = dec[0];
    return;
  }
  {
    int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out), *scores = (int32_t *)ei_slot(m, op, 2, in, out);
    uint32_t best = 0;
    for (c = 0; c < K; ++c) { votes[c] = 0; ov[c] = 0; conf[c] = 0; }
    for (i = 0, p = 0; i < K; ++i) {
      for (j = i + 1u; j < K; ++j, ++p) {
        const int64_t s = (int64_t)acc[p];
        if (s > 0) ++votes[i]; else ++votes[j];     /* libsvm: a decision > 0 votes for the first class */
        if (s >= 0) ++ov[i]; else ++ov[j];          /* scikit-learn's ovr votes: >= 0 */
        conf[i] += dec[p];
        conf[j] -= dec[p];
      }
    }
    for (c = 1; c < K; ++c) {
      if (votes[c] > votes[best]) best = c;
    }
    if (K == 2) {
      scores[0] = (int32_t)(0u - (uint32_t)dec[0]);
    } else if (a[5]) {
      for (p = 0; p < P; ++p) scores[p] = dec[p];
    } else {
      uint32_t bits = 0;
      int32_t w, half;
      for (c = K - 1u; c; c >>= 1) ++bits;
      w = (int32_t)1 << (30u - bits);
      half = w / 2 - 1;
      for (c = 0; c < K; ++c) {
        const int64_t cc = conf[c] > half ? half : (conf[c] < -half ? -half : conf[c]);
        scores[c] = ov[c] * w + (int32_t)cc;
      }
      if (a[6]) {
        best = 0;
        for (c = 1; c < K; ++c) {
          if (scores[c] > scores[best]) best = c;
        }
      }
    }
    *label = (int32_t)best;
  }
}
