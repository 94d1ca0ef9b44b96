/* ei_ops_classic.c: classical-model ops of the interpreter (scaler, linear / MLP stacks, tree
 * ensembles) with the labels of the IR reference: the dense stacks take the generated C's
 * certified float32 path with its double fallback; trees sum float64 leaves in tree order. */
#include <math.h>
#include "ei_interp_ops.h"
#include "ei_kernels.h"

/* ---- SCALER: attrs {n, n_steps, precision (0 f32, 1 f64), has_clip, lo, hi, kind[n_steps]} ----
 * inputs: x, one parameter tensor per step (f32 or f64 by precision); kinds 0 sub 1 add 2 mul 3 div. */
ei_status_t ei_prepare_scaler(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint32_t s;
  if (op->attr_words < 6 || a[1] > 6 || op->attr_words != 6 + a[1] || op->n_in != 1 + a[1] || op->n_out != 1 ||
      a[0] == 0 || a[2] > 1 || !ei_check_tensor(m, op, 0, EI_DT_F32, a[0]) ||
      !ei_check_tensor(m, op, op->n_in, EI_DT_F32, a[0])) {
    return EI_ERR_OP_INVALID;
  }
  for (s = 0; s < a[1]; ++s) {
    if (a[6 + s] > 3 || !ei_check_tensor(m, op, 1 + s, a[2] ? EI_DT_F64 : EI_DT_F32, a[0])) {
      return EI_ERR_OP_INVALID;
    }
  }
  return EI_OK;
}

void ei_eval_scaler(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, op->n_in, in, out);
  const uint32_t n = a[0];
  uint32_t i, s;
  if (x != y) {
    memmove(y, x, n * sizeof(float));
  }
  for (s = 0; s < a[1]; ++s) {
    const void *p = ei_slot(m, op, 1 + s, in, out);
    const uint32_t kind = a[6 + s];
    if (a[2]) {
      /* computed in double, rounded to float32 per step, as numpy's in-place float32 arithmetic */
      const double *q = (const double *)p;
      for (i = 0; i < n; ++i) {
        const double v = (double)y[i];
        y[i] = (float)(kind == 0 ? v - q[i] : kind == 1 ? v + q[i] : kind == 2 ? v * q[i] : v / q[i]);
      }
    } else {
      const float *q = (const float *)p;
      for (i = 0; i < n; ++i) {
        y[i] = kind == 0 ? y[i] - q[i] : kind == 1 ? y[i] + q[i] : kind == 2 ? y[i] * q[i] : y[i] / q[i];
      }
    }
  }
  if (a[3]) {
    const float lo = ei_word_f32(a[4]), hi = ei_word_f32(a[5]);
    for (i = 0; i < n; ++i) {
      y[i] = y[i] < lo ? lo : (y[i] > hi ? hi : y[i]);
    }
  }
}

/* ---- STACK: dense layers (LinearClassifier / LinearRegressor / MLP) ----
 * attrs {kind (0 regressor, 1 linear classifier, 2 MLP classifier), n_layers, act, post, exact, wide,
 *        lip, eps, max_hidden} then per layer {n_in, n_out, w, b, b64, r, rs, k1, k0, a}
 *        (offsets into the data section; EI_NONE_OFF for an absent table).
 * act: 0 identity 1 relu 2 tanh 3 logistic. post (linear): 0 none 1 logistic 2 softmax 3 logistic_norm;
 * (MLP): 1 logistic 2 softmax. Outputs: regressor y; classifiers label (int32) + scores. */
#define EI_STACK_HEAD 9u
#define EI_STACK_LAYER 10u

static uint32_t ei_stack_scratch(const uint32_t *a)
{
  const uint32_t *last = a + EI_STACK_HEAD + (a[1] - 1u) * EI_STACK_LAYER;
  const uint32_t d = last[1] > a[8] ? last[1] : a[8];
  return 16u * d + 8u * a[8];  /* double ha, hb (the exact path) then float ha, hb */
}

ei_status_t ei_prepare_stack(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint32_t l, n;
  if (op->attr_words < EI_STACK_HEAD || a[1] == 0 || a[1] > 64 ||
      op->attr_words != EI_STACK_HEAD + a[1] * EI_STACK_LAYER || a[0] > 2 || a[2] > 3 || a[3] > 3 ||
      a[4] > 1 || op->n_in != 1 || op->n_out != (a[0] ? 2 : 1) || a[8] > 0x100000u) {
    return EI_ERR_OP_INVALID;
  }
  n = a[EI_STACK_HEAD];
  if (!ei_check_tensor(m, op, 0, EI_DT_F32, n)) {
    return EI_ERR_OP_INVALID;
  }
  for (l = 0; l < a[1]; ++l) {
    const uint32_t *L = a + EI_STACK_HEAD + l * EI_STACK_LAYER;
    const uint64_t nw = (uint64_t)L[0] * L[1];
    if (L[0] != n || L[1] == 0 || L[1] > 0x100000u || nw > 0x7FFFFFFFu || (l + 1 < a[1] && L[1] > a[8]) ||
        !ei_check_span(m, L[2], (uint32_t)nw, 4) || !ei_check_span(m, L[3], L[1], 4) ||
        (a[4] && !ei_check_span(m, L[4], L[1], 8)) ||
        (L[5] != EI_NONE_OFF && (!ei_check_span(m, L[5], (uint32_t)nw, 2) || !ei_check_span(m, L[6], L[1], 4)))) {
      return EI_ERR_OP_INVALID;
    }
    n = L[1];
  }
  if (a[0] == 0) {
    if (!ei_check_tensor(m, op, 1, EI_DT_F32, n)) return EI_ERR_OP_INVALID;
  } else if (!ei_check_tensor(m, op, 1, EI_DT_I32, 1) || !ei_check_tensor(m, op, 2, EI_DT_F32, n < 2 ? 2 : n)) {
    return EI_ERR_OP_INVALID;
  }
  if (ei_stack_scratch(a) > m->hdr->scratch_bytes) {
    return EI_ERR_ARENA;
  }
  return EI_OK;
}

static void ei_act_f32_(uint32_t act, float *x, int32_t n)
{
  if (act == 1) ei_relu_f32(x, n);
  else if (act == 2) ei_tanh_f32(x, n);
  else if (act == 3) ei_sigmoid_f32(x, n);
}

static void ei_act_f64_(uint32_t act, double *x, int32_t n)
{
  if (act == 1) ei_relu_f64(x, n);
  else if (act == 2) ei_tanh_f64(x, n);
  else if (act == 3) ei_sigmoid_f64(x, n);
}

/* The label recomputed in double (weights rebuilt from float32 + int16 residual), as scikit-learn. */
static int32_t ei_stack_exact_(const ei_model_t *m, const uint32_t *a, const float *x, double *ha, double *hb)
{
  const uint32_t nl = a[1];
  double *cur = (double *)0, *dst = ha;
  uint32_t l, k = 1;
  for (l = 0; l < nl; ++l) {
    const uint32_t *L = a + EI_STACK_HEAD + l * EI_STACK_LAYER;
    const float *w = (const float *)ei_data_at(m, L[2]);
    const int16_t *r = (const int16_t *)ei_data_at(m, L[5]);
    const float *rs = r ? (const float *)ei_data_at(m, L[6]) : (const float *)0;
    const double *b64 = (const double *)ei_data_at(m, L[4]);
    dst = (l % 2 == 0) ? ha : hb;
    if (l == 0) ei_dense_exact_f32in(x, w, r, rs, b64, dst, (int32_t)L[0], (int32_t)L[1]);
    else ei_dense_exact_f64(cur, w, r, rs, b64, dst, (int32_t)L[0], (int32_t)L[1]);
    if (l + 1 < nl) ei_act_f64_(a[2], dst, (int32_t)L[1]);
    cur = dst;
    k = L[1];
  }
  if (a[0] == 2) {
    if (k == 1) {
      ei_sigmoid_f64(cur, 1);
      return cur[0] > 0.5;
    }
    ei_softmax_f64(cur, (int32_t)k);
  } else if (k == 1) {
    return cur[0] > 0.0;
  }
  return ei_argmax_f64(cur, (int32_t)k);
}

void ei_eval_stack(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t nl = a[1], mh = a[8], certify = a[0] != 0 && a[4];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const uint32_t kl = a[EI_STACK_HEAD + (nl - 1u) * EI_STACK_LAYER + 1u], d = kl > mh ? kl : mh;
  double *da = (double *)(void *)ei_scratch(m), *db = da + d;
  float *ha = (float *)(void *)(db + d), *hb = ha + mh, zbuf[1];
  float *z, *sc = (float *)0, e = 0.0f, s = 0.0f, lip = ei_word_f32(a[6]), eps = ei_word_f32(a[7]);
  const float *cur = x;
  int32_t *label = (int32_t *)0;
  uint32_t l, k = 1;
  if (a[0] == 0) {
    z = (float *)ei_slot(m, op, 1, in, out);
  } else {
    label = (int32_t *)ei_slot(m, op, 1, in, out);
    sc = (float *)ei_slot(m, op, 2, in, out);
    z = sc;
  }
  if (certify) s = ei_absmax_f32(x, (int32_t)a[EI_STACK_HEAD]);
  for (l = 0; l < nl; ++l) {
    const uint32_t *L = a + EI_STACK_HEAD + l * EI_STACK_LAYER;
    const int last = l + 1 == nl;
    float *dst;
    k = L[1];
    if (last && a[0] != 0 && k == 1) z = zbuf;
    dst = last ? z : (l % 2 == 0 ? ha : hb);
    ei_dense_f32(cur, (const float *)ei_data_at(m, L[2]), (const float *)ei_data_at(m, L[3]), dst,
                 (int32_t)L[0], (int32_t)L[1]);
    if (certify) {
      e = l ? ei_word_f32(L[7]) * s + ei_word_f32(L[8]) + ei_word_f32(L[9]) * e
            : ei_word_f32(L[7]) * s + ei_word_f32(L[8]);
    }
    if (!last) {
      ei_act_f32_(a[2], dst, (int32_t)L[1]);
      if (certify) {
        if (lip != 1.0f || eps != 0.0f) e = lip * e + eps;
        s = ei_absmax_f32(dst, (int32_t)L[1]);
      }
    }
    cur = dst;
  }
  if (a[0] == 0) {
    return;
  }
  if (k == 1) {
    if (!certify) *label = z[0] > 0.0f;
    else if (z[0] > e) *label = 1;
    else if (z[0] < -e) *label = 0;
    else *label = ei_stack_exact_(m, a, x, da, db);
  } else if (!certify) {
    *label = ei_argmax_f32(z, (int32_t)k);
  } else {
    float gap;
    *label = ei_top2_f32(z, (int32_t)k, &gap);
    if (gap <= 2.0f * e) *label = ei_stack_exact_(m, a, x, da, db);
  }
  /* scores */
  if (k == 1) {
    const uint32_t post = a[0] == 2 ? 1u : a[3];
    if (post == 0) {
      sc[0] = -z[0];
      sc[1] = z[0];
    } else {
      sc[1] = 1.0f / (1.0f + expf(post == 2 ? -2.0f * z[0] : -z[0]));
      sc[0] = 1.0f - sc[1];
    }
  } else if (a[0] == 2) {
    if (a[3] == 2) ei_softmax_f32(sc, (int32_t)k);
    else ei_sigmoid_f32(sc, (int32_t)k);
  } else if (a[3] == 1) {
    ei_sigmoid_f32(sc, (int32_t)k);
  } else if (a[3] == 2) {
    ei_softmax_f32(sc, (int32_t)k);
  } else if (a[3] == 3) {
    /* normalised sigmoids; where float32 sigmoids all underflow, the softmax (see backends/c/ops/linear.py) */
    uint32_t i;
    float tot = 0.0f, mx = sc[0];
    for (i = 1; i < k; ++i) mx = sc[i] > mx ? sc[i] : mx;
    if (a[5] && mx < -745.0f) {
      for (i = 0; i < k; ++i) sc[i] = 1.0f / (float)k;
    } else if (a[5] && mx < -20.0f) {
      ei_softmax_f32(sc, (int32_t)k);
    } else {
      ei_sigmoid_f32(sc, (int32_t)k);
      for (i = 0; i < k; ++i) tot += sc[i];
      for (i = 0; i < k; ++i) sc[i] = tot > 0.0f ? sc[i] / tot : 1.0f / (float)k;
    }
  }
}

/* ---- TREES: tree ensembles, table walk ----
 * attrs {classifier, n_features, k, n_trees, n_branches, n_vec, width, average, post (0 none,
 *        1 softmax, 2 logistic), tie_class, branches, roots, columns, vecs, base}
 * branch = {float threshold; int32 feature; int32 left (x <= threshold); int32 right}; a child or
 * root ref >= 0 is a branch index (children always after their parent, so every walk ends), < 0 the
 * leaf vector -1 - ref. Sums are float64, base value first then the trees in order. */
typedef struct {
  float thr;
  int32_t feature, left, right;
} ei_branch_t;

static int ei_ref_ok_(int32_t r, uint32_t after, uint32_t n_branches, uint32_t n_vec)
{
  return r >= 0 ? ((uint32_t)r >= after && (uint32_t)r < n_branches) : ((uint32_t)(-1 - r) < n_vec);
}

ei_status_t ei_prepare_trees(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_branch_t *br;
  const int32_t *roots, *cols;
  uint32_t i, n_scores;
  if (op->attr_words != 15 || a[0] > 1 || a[1] == 0 || a[2] == 0 || a[2] > 0x100000u || a[3] == 0 ||
      a[6] == 0 || a[6] > a[2] || a[7] > 1 || a[8] > 2 || a[9] > 1 || (a[8] == 2 && (a[2] != 1 || !a[0])) ||
      (a[8] == 1 && !a[0]) || op->n_in != 1 || op->n_out != 1u + a[0] || a[5] == 0 ||
      (uint64_t)a[4] > 0x0FFFFFFFu || !ei_check_span(m, a[10], 4u * a[4], 4) || !ei_check_span(m, a[11], a[3], 4) ||
      !ei_check_span(m, a[12], a[3], 4) || (uint64_t)a[5] * a[6] > 0x0FFFFFFFu ||
      !ei_check_span(m, a[13], a[5] * a[6], 8) || !ei_check_span(m, a[14], a[2], 8) ||
      8u * a[2] > m->hdr->scratch_bytes) {
    return EI_ERR_OP_INVALID;
  }
  n_scores = a[8] == 2 ? 2u : a[2];
  if (!ei_check_tensor(m, op, 0, EI_DT_F32, a[1]) ||
      (a[0] ? (!ei_check_tensor(m, op, 1, EI_DT_I32, 1) || !ei_check_tensor(m, op, 2, EI_DT_F32, n_scores))
            : !ei_check_tensor(m, op, 1, EI_DT_F32, a[2]))) {
    return EI_ERR_OP_INVALID;
  }
  br = (const ei_branch_t *)ei_data_at(m, a[10]);
  roots = (const int32_t *)ei_data_at(m, a[11]);
  cols = (const int32_t *)ei_data_at(m, a[12]);
  for (i = 0; i < a[4]; ++i) {
    if (br[i].feature < 0 || (uint32_t)br[i].feature >= a[1] || !ei_ref_ok_(br[i].left, i + 1, a[4], a[5]) ||
        !ei_ref_ok_(br[i].right, i + 1, a[4], a[5])) {
      return EI_ERR_OP_INVALID;
    }
  }
  for (i = 0; i < a[3]; ++i) {
    if (!ei_ref_ok_(roots[i], 0, a[4], a[5]) || cols[i] < 0 || (uint32_t)cols[i] + a[6] > a[2]) {
      return EI_ERR_OP_INVALID;
    }
  }
  return EI_OK;
}

void ei_eval_trees(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const ei_branch_t *br = (const ei_branch_t *)ei_data_at(m, a[10]);
  const int32_t *roots = (const int32_t *)ei_data_at(m, a[11]);
  const int32_t *cols = (const int32_t *)ei_data_at(m, a[12]);
  const double *vecs = (const double *)ei_data_at(m, a[13]);
  const double *base = (const double *)ei_data_at(m, a[14]);
  const uint32_t k = a[2], width = a[6];
  double *acc = (double *)(void *)ei_scratch(m);
  uint32_t t, j;
  for (j = 0; j < k; ++j) acc[j] = base[j];
  for (t = 0; t < a[3]; ++t) {
    int32_t r = roots[t];
    const double *v;
    double *dst = acc + cols[t];
    while (r >= 0) {
      const ei_branch_t *b = &br[r];
      r = x[b->feature] <= b->thr ? b->left : b->right;
    }
    v = vecs + (uint32_t)(-1 - r) * width;
    for (j = 0; j < width; ++j) dst[j] += v[j];
  }
  if (a[7]) {
    for (j = 0; j < k; ++j) acc[j] /= (double)a[3];
  }
  if (!a[0]) {
    float *y = (float *)ei_slot(m, op, 1, in, out);
    for (j = 0; j < k; ++j) y[j] = (float)acc[j];
    return;
  }
  {
    int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out);
    float *sc = (float *)ei_slot(m, op, 2, in, out);
    if (a[8] == 2) {
      const double s = acc[0], p = 1.0 / (1.0 + exp(-s));
      *label = s > 0.0 || (s == 0.0 && a[9]);
      sc[0] = (float)(1.0 - p);
      sc[1] = (float)p;
      return;
    }
    *label = ei_argmax_f64(acc, (int32_t)k);
    if (a[8] == 1) ei_softmax_f64(acc, (int32_t)k);
    for (j = 0; j < k; ++j) sc[j] = (float)acc[j];
  }
}
