/* ei_ops_certified.c: classical ops whose labels scikit-learn decides in float64 (Gaussian naive
 * Bayes, nearest centroid, kernel SVM), run as the generated C runs them: a float32 pass with a
 * certified rounding-error bound, and the double pass in scikit-learn's / libsvm's order only for a
 * sample whose margin is inside the bound (see backends/c/ops/naive_bayes.py, distance.py, svm.py,
 * whose bound constants the writer evaluates into the attribute words).
 *
 * Parameter tables are "split tables" (backends/c/float_split.py): three words {type, hi, lo}, type
 * 0 float32 (+ float32 low part at lo, or EI_NONE_OFF), 1 uint8, 2 int8, 3 uint16, 4 int16 (exact). */
#include <math.h>
#include "ei_interp_ops.h"

#define EI_U32 0x1p-24f
#define EI_ABS_SLACK 2.4e-38f

static const uint8_t ei_split_size_[5] = {4, 1, 1, 2, 2};

static int ei_split_ok_(const ei_model_t *m, const uint32_t *t, uint32_t count)
{
  return t[0] <= 4u && ei_check_span(m, t[1], count, ei_split_size_[t[0]]) &&
         (t[2] == EI_NONE_OFF || (t[0] == 0u && ei_check_span(m, t[2], count, 4)));
}

static float ei_sf_(const ei_model_t *m, const uint32_t *t, uint32_t i)
{
  const void *p = m->data + t[1];
  switch (t[0]) {
  case 0: return ((const float *)p)[i];
  case 1: return (float)((const uint8_t *)p)[i];
  case 2: return (float)((const int8_t *)p)[i];
  case 3: return (float)((const uint16_t *)p)[i];
  default: return (float)((const int16_t *)p)[i];
  }
}

static double ei_sd_(const ei_model_t *m, const uint32_t *t, uint32_t i)
{
  const double hi = (double)ei_sf_(m, t, i);
  return t[2] == EI_NONE_OFF ? hi : hi + (double)((const float *)(const void *)(m->data + t[2]))[i];
}

/* ---- GAUSSIAN_NB: x -> label (i32), proba (f32 K);
 * attrs {K, F, exact, nu, saturated_nats, theta[3], var[3], log_prior[3], log_norm[3], theta_err (f32 K or none)} */
ei_status_t ei_prepare_nb(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t kf;
  if (op->attr_words != 18 || op->n_in != 1 || op->n_out != 2 || a[0] == 0 || a[0] > 0x10000u || a[1] == 0 ||
      a[2] > 1) {
    return EI_ERR_OP_INVALID;
  }
  kf = (uint64_t)a[0] * a[1];
  if (kf > 0x0FFFFFFFu || !ei_split_ok_(m, a + 5, (uint32_t)kf) || !ei_split_ok_(m, a + 8, (uint32_t)kf) ||
      !ei_split_ok_(m, a + 11, a[0]) || !ei_split_ok_(m, a + 14, a[0]) ||
      (a[17] != EI_NONE_OFF && !ei_check_span(m, a[17], a[0], 4)) ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, a[1]) || !ei_check_tensor(m, op, 1, EI_DT_I32, 1) ||
      !ei_check_tensor(m, op, 2, EI_DT_F32, a[0])) {
    return EI_ERR_OP_INVALID;
  }
  return 16u * a[0] > m->hdr->scratch_bytes ? EI_ERR_ARENA : EI_OK;
}

void ei_eval_nb(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t K = a[0], F = a[1];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out);
  float *proba = (float *)ei_slot(m, op, 2, in, out);
  const float nu = ei_word_f32(a[3]), sat = ei_word_f32(a[4]);
  const float *rt = (const float *)ei_data_at(m, a[17]);
  double *jd = (double *)(void *)ei_scratch(m);
  float *jll = (float *)(void *)(jd + K), *e = jll + K, sum = 0.0f;
  uint32_t i, k, o, best = 0;
  int certain = 1;
  for (k = 0, o = 0; k < K; ++k, o += F) {
    float s = 0.0f;
    const float lpk = ei_sf_(m, a + 11, k), lnk = ei_sf_(m, a + 14, k);
    if (a[5] == 0 && a[8] == 0) {  /* float32 theta and var (the common case): no per-element type switch */
      const float *th = (const float *)(const void *)(m->data + a[6]) + o;
      const float *va = (const float *)(const void *)(m->data + a[9]) + o;
      for (i = 0; i < F; ++i) { const float d = x[i] - th[i]; s += d * d / va[i]; }
    } else {
      for (i = 0; i < F; ++i) {
        const float d = x[i] - ei_sf_(m, a + 5, o + i);
        s += d * d / ei_sf_(m, a + 8, o + i);
      }
    }
    jll[k] = lpk + (lnk - 0.5f * s);
    e[k] = 0.5f * (nu * s + (rt ? rt[k] * sqrtf(s) : 0.0f)) + 3.0f * EI_U32 * (fabsf(lpk) + fabsf(lnk) + 0.5f * s);
    if (jll[k] > jll[best]) best = k;
  }
  if (a[2]) {
    for (k = 0; k < K; ++k) {
      if (k != best && !(jll[best] - jll[k] - 2.0f * (e[best] + e[k]) > sat)) certain = 0;
    }
  }
  if (certain) {
    for (k = 0; k < K; ++k) { proba[k] = expf(jll[k] - jll[best]); sum += proba[k]; }
    for (k = 0; k < K; ++k) proba[k] /= sum;
    *label = (int32_t)best;
    return;
  }
  {
    /* double pass in GaussianNB._joint_log_likelihood's order; softmax by logsumexp */
    double dsum = 0.0, lse;
    best = 0;
    for (k = 0, o = 0; k < K; ++k, o += F) {
      double s = 0.0;
      for (i = 0; i < F; ++i) {
        const double d = (double)x[i] - ei_sd_(m, a + 5, o + i);
        s += (d * d) / ei_sd_(m, a + 8, o + i);
      }
      jd[k] = ei_sd_(m, a + 11, k) + (ei_sd_(m, a + 14, k) - 0.5 * s);
      if (jd[k] > jd[best]) best = k;
    }
    for (k = 0; k < K; ++k) dsum += exp(jd[k] - jd[best]);
    lse = jd[best] + log(dsum);
    for (k = 0; k < K; ++k) proba[k] = (float)exp(jd[k] - lse);
    *label = (int32_t)best;
  }
}

/* ---- CENTROID: x -> label (i32), scores (f32 K, negated distances);
 * attrs {K, F, exact, nu, rv, rv2, sk, v2, centroids[3]} */
ei_status_t ei_prepare_centroid(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t kf;
  if (op->attr_words != 11 || op->n_in != 1 || op->n_out != 2 || a[0] == 0 || a[0] > 0x10000u || a[1] == 0 ||
      a[2] > 1) {
    return EI_ERR_OP_INVALID;
  }
  kf = (uint64_t)a[0] * a[1];
  if (kf > 0x0FFFFFFFu || !ei_split_ok_(m, a + 8, (uint32_t)kf) || !ei_check_tensor(m, op, 0, EI_DT_F32, a[1]) ||
      !ei_check_tensor(m, op, 1, EI_DT_I32, 1) || !ei_check_tensor(m, op, 2, EI_DT_F32, a[0])) {
    return EI_ERR_OP_INVALID;
  }
  return 8u * a[0] > m->hdr->scratch_bytes ? EI_ERR_ARENA : EI_OK;
}

void ei_eval_centroid(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t K = a[0], F = a[1];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out);
  float *scores = (float *)ei_slot(m, op, 2, in, out);
  const float nu = ei_word_f32(a[3]), rv = ei_word_f32(a[4]), rv2 = ei_word_f32(a[5]);
  float *s = (float *)(void *)ei_scratch(m), *e = s + K, xs = 0.0f, esk;
  uint32_t i, k, o, best = 0;
  for (i = 0; i < F; ++i) xs += x[i] * x[i];
  esk = ei_word_f32(a[6]) * (xs + ei_word_f32(a[7]));
  for (k = 0, o = 0; k < K; ++k, o += F) {
    float acc = 0.0f;
    for (i = 0; i < F; ++i) {
      const float d = x[i] - ei_sf_(m, a + 8, o + i);
      acc += d * d;
    }
    s[k] = acc;
    e[k] = nu * acc + rv * sqrtf(acc) + rv2 + esk;
    scores[k] = -sqrtf(acc);
    if (acc < s[best]) best = k;
  }
  *label = (int32_t)best;
  if (!a[2]) return;
  for (k = 0; k < K; ++k) {
    if (k != best && !(s[k] - s[best] > 2.0f * (e[k] + e[best]))) break;
  }
  if (k == K) return;
  {
    /* double nearest centroid: first strict minimum, as scikit-learn */
    double best_s = 0.0;
    for (k = 0, o = 0; k < K; ++k, o += F) {
      double acc = 0.0;
      for (i = 0; i < F; ++i) {
        const double d = (double)x[i] - ei_sd_(m, a + 8, o + i);
        acc += d * d;
      }
      scores[k] = (float)(-sqrt(acc));
      if (k == 0 || acc < best_s) { best_s = acc; *label = (int32_t)k; }
    }
  }
}

/* ---- SVM: classifier x -> label (i32), scores (f32: 1 for K = 2, K(K-1)/2 for ovo, K for ovr);
 * regressor x -> y (f32 1).
 * attrs {classifier, kernel (0 linear 1 poly 2 rbf 3 sigmoid), n_sv, F, K, ovo, break_ties, exact, all_double,
 *        degree, gamma f32, coef0 f32, gamma f64 [2], coef0 f64 [2], |gamma|, |coef0|, nu_rbf, rv, rv2, dot_err,
 *        mu, 2 deg u, sv[3], coef[3] ((K-1) x n_sv), rho[3] (K(K-1)/2), start (i32 K+1), pair (i32 K (K-1))}
 * Slots: [0] x, [1] label or y, [2] scores. */
enum { EI_SVM_WORDS = 35 };

ei_status_t ei_prepare_svm(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint32_t K, np_, i, nsc;
  uint64_t nf;
  const int32_t *start, *pair;
  if (op->attr_words != EI_SVM_WORDS || a[0] > 1 || a[1] > 3 || a[2] == 0 || a[3] == 0 || a[4] == 0 ||
      a[4] > 256 || a[5] > 1 || a[6] > 1 || a[7] > 1 || a[8] > 1 || a[9] > 64 || op->n_in != 1 ||
      op->n_out != 1u + a[0] || (a[0] && a[4] < 2) || (!a[0] && (a[4] != 1 || a[7])) || a[2] > 0x1000000u) {
    return EI_ERR_OP_INVALID;
  }
  K = a[4];
  np_ = K * (K - 1u) / 2u;
  nf = (uint64_t)a[2] * a[3];
  if (nf > 0x0FFFFFFFu || !ei_split_ok_(m, a + 24, (uint32_t)nf) ||
      !ei_split_ok_(m, a + 27, a[0] ? (K - 1u) * a[2] : a[2]) || !ei_split_ok_(m, a + 30, np_ ? np_ : 1u) ||
      !ei_check_span(m, a[33], K + 1u, 4) || !ei_check_span(m, a[34], a[0] ? K * (K - 1u) : 1u, 4) ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, a[3])) {
    return EI_ERR_OP_INVALID;
  }
  start = (const int32_t *)ei_data_at(m, a[33]);
  pair = (const int32_t *)ei_data_at(m, a[34]);
  if (start[0] != 0 || (uint32_t)start[K] != a[2]) return EI_ERR_OP_INVALID;
  for (i = 0; i < K; ++i) {
    if (start[i + 1] < start[i]) return EI_ERR_OP_INVALID;
  }
  for (i = 0; a[0] && i < K * (K - 1u); ++i) {
    if (pair[i] < 0 || (uint32_t)pair[i] >= np_) return EI_ERR_OP_INVALID;
  }
  if (!a[0]) {
    return ei_check_tensor(m, op, 1, EI_DT_F32, 1) ? EI_OK : EI_ERR_OP_INVALID;
  }
  nsc = K == 2 ? 1u : (a[5] ? np_ : K);
  if (!ei_check_tensor(m, op, 1, EI_DT_I32, 1) || !ei_check_tensor(m, op, 2, EI_DT_F32, nsc) || (a[6] && a[5])) {
    return EI_ERR_OP_INVALID;
  }
  return 8u * (np_ + 2u * K) + 4u * (2u * np_ + 3u * K) > m->hdr->scratch_bytes ? EI_ERR_ARENA : EI_OK;
}

/* libsvm's powi (square and multiply), float and double */
static float ei_powif_(float base, int32_t times)
{
  float tmp = base, ret = 1.0f;
  int32_t t;
  for (t = times; t > 0; t /= 2) { if (t % 2 == 1) ret *= tmp; tmp = tmp * tmp; }
  return ret;
}

static double ei_powi_(double base, int32_t times)
{
  double tmp = base, ret = 1.0;
  int32_t t;
  for (t = times; t > 0; t /= 2) { if (t % 2 == 1) ret *= tmp; tmp = tmp * tmp; }
  return ret;
}

static double ei_f64_(const uint32_t *w)
{
  double d;
  memcpy(&d, w, sizeof d);
  return d;
}

/* s0..s3 += (x - v)^2 (rbf) or x v over the F features of support vector row o of table type T */
#define EI_SVM_SUM4_(T)                                                                                 \
  {                                                                                                     \
    const T *sv = (const T *)(const void *)(m->data + a[25]) + o;                                       \
    if (kind == 2) {                                                                                    \
      for (i = 0; a[0] && i + 3 < F; i += 4) {                                                          \
        const float d0 = x[i] - (float)sv[i], d1 = x[i + 1] - (float)sv[i + 1];                         \
        const float d2 = x[i + 2] - (float)sv[i + 2], d3 = x[i + 3] - (float)sv[i + 3];                 \
        s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;                                     \
      }                                                                                                 \
      for (; i < F; ++i) { const float d = x[i] - (float)sv[i]; s0 += d * d; }                          \
    } else {                                                                                            \
      for (i = 0; a[0] && i + 3 < F; i += 4) {                                                          \
        s0 += x[i] * (float)sv[i]; s1 += x[i + 1] * (float)sv[i + 1];                                   \
        s2 += x[i + 2] * (float)sv[i + 2]; s3 += x[i + 3] * (float)sv[i + 3];                           \
      }                                                                                                 \
      for (; i < F; ++i) s0 += x[i] * (float)sv[i];                                                     \
    }                                                                                                   \
  }

/* float32 kernel value of x with SV j (offset o) and, when bound, its error bound *e */
static float ei_svm_kf_(const ei_model_t *m, const uint32_t *a, const float *x, uint32_t o, float ed, float *e)
{
  const uint32_t F = a[3], kind = a[1];
  const float G = ei_word_f32(a[10]), C0 = ei_word_f32(a[11]);
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s, k;
  uint32_t i;
  /* four interleaved partial sums, as the generated C (the bound holds for any order); the table's element
   * type is resolved once per support vector, not per feature (a switch per element was measurably slower) */
  switch (a[24]) {
  case 0: EI_SVM_SUM4_(float) break;
  case 1: EI_SVM_SUM4_(uint8_t) break;
  case 2: EI_SVM_SUM4_(int8_t) break;
  case 3: EI_SVM_SUM4_(uint16_t) break;
  default: EI_SVM_SUM4_(int16_t) break;
  }
  s = (s0 + s1) + (s2 + s3);
  if (kind == 2) {
    const float t = G * s;
    float er;
    k = expf(-t);
    er = G * (ei_word_f32(a[18]) * s + ei_word_f32(a[19]) * sqrtf(s) + ei_word_f32(a[20])) + 2.0f * EI_U32 * t;
    if (er > 0.5f) er = 1e30f; /* bound no longer first order: force the fallback */
    *e = k * (er * (1.0f + er) + 4.0f * EI_U32);
    return k;
  }
  if (kind == 0) {
    *e = ed;
    return s;
  }
  {
    const float t = G * s + C0;
    const float dt = ei_word_f32(a[16]) * ed + 3.0f * EI_U32 * (fabsf(G * s) + ei_word_f32(a[17]));
    if (kind == 1) {
      const float pw = ei_powif_(fabsf(t) + dt, (int32_t)a[9]);
      k = ei_powif_(t, (int32_t)a[9]);
      *e = (pw - fabsf(k)) + ei_word_f32(a[23]) * pw;
    } else {
      k = tanhf(t);
      *e = dt + 4.0f * EI_U32 * fabsf(k);
    }
  }
  return k;
}

/* the vote: dec > 0 votes for the pair's first class; ties to the lower class */
static uint32_t ei_svm_vote_(const double *dec, int32_t *votes, uint32_t K)
{
  uint32_t c, x, y, p, best = 0;
  for (c = 0; c < K; ++c) votes[c] = 0;
  for (x = 0, p = 0; x < K; ++x) {
    for (y = x + 1; y < K; ++y, ++p) {
      if (dec[p] > 0) ++votes[x];
      else ++votes[y];
    }
  }
  for (c = 1; c < K; ++c) {
    if (votes[c] > votes[best]) best = c;
  }
  return best;
}

/* decision_function scores; with break_ties the ovr argmax (-1 when err is given and does not certify it) */
static int32_t ei_svm_finish_(const uint32_t *a, const double *dec, const float *err, int32_t label, float *scores,
                              double *conf, double *val, float *esc, int32_t *votes)
{
  const uint32_t K = a[4], np_ = K * (K - 1u) / 2u;
  uint32_t x, y, c, p;
  if (K == 2) {
    scores[0] = (float)(-dec[0]);
    return label;
  }
  if (a[5]) {
    for (p = 0; p < np_; ++p) scores[p] = (float)dec[p];
    return label;
  }
  for (c = 0; c < K; ++c) { conf[c] = 0.0; votes[c] = 0; }
  /* sklearn's _ovr_decision_function(dec < 0, -dec, K), same order */
  for (x = 0, p = 0; x < K; ++x) {
    for (y = x + 1; y < K; ++y, ++p) {
      conf[x] -= -dec[p];
      conf[y] += -dec[p];
      if (dec[p] < 0) ++votes[y];
      else ++votes[x];
    }
  }
  for (c = 0; c < K; ++c) {
    val[c] = (double)votes[c] + conf[c] / (3.0 * (fabs(conf[c]) + 1.0));
    scores[c] = (float)val[c];
  }
  if (!a[6]) return label;
  label = 0;
  for (c = 1; c < K; ++c) {
    if (val[c] > val[label]) label = (int32_t)c;
  }
  if (err) {
    /* the transformed confidence c / (3 (|c| + 1)) is 1/3-Lipschitz in c */
    for (c = 0; c < K; ++c) esc[c] = 0.0f;
    for (x = 0, p = 0; x < K; ++x) {
      for (y = x + 1; y < K; ++y, ++p) { esc[x] += err[p]; esc[y] += err[p]; }
    }
    for (c = 0; c < K; ++c) {
      if (c != (uint32_t)label && !(val[label] - val[c] > 0.34 * ((double)esc[label] + (double)esc[c]))) return -1;
    }
  }
  return label;
}

void ei_eval_svm(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t nsv = a[2], F = a[3], K = a[4], np_ = K * (K - 1u) / 2u, kind = a[1];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const int32_t *start = (const int32_t *)ei_data_at(m, a[33]);
  const int32_t *pair = (const int32_t *)ei_data_at(m, a[34]);
  float ed = 0.0f;
  uint32_t i, j, o, c, q;
  if (kind != 2) {
    float xs = 0.0f;
    for (i = 0; i < F; ++i) xs += x[i] * x[i];
    ed = ei_word_f32(a[21]) * sqrtf(xs) * 1.01f;
  }
  if (!a[0]) {
    float acc = 0.0f, e;
    for (j = 0, o = 0; j < nsv; ++j, o += F) acc += ei_sf_(m, a + 27, j) * ei_svm_kf_(m, a, x, o, ed, &e);
    *(float *)ei_slot(m, op, 1, in, out) = acc - ei_sf_(m, a + 30, 0);
    return;
  }
  {
    int32_t *label = (int32_t *)ei_slot(m, op, 1, in, out);
    float *scores = (float *)ei_slot(m, op, 2, in, out);
    double *dec = (double *)(void *)ei_scratch(m), *conf = dec + np_, *val = conf + K;
    float *acc = (float *)(void *)(val + K), *err = acc + np_, *esc = err + np_;
    int32_t *votes = (int32_t *)(void *)(esc + K), lab = 0;
    const float mu = ei_word_f32(a[22]);
    int certain = 1;
    for (q = 0; q < np_; ++q) { acc[q] = 0.0f; err[q] = 0.0f; }
    for (j = 0, o = 0, c = 0; j < nsv; ++j, o += F) {
      float e, k;
      while ((int32_t)j >= start[c + 1]) ++c;
      k = ei_svm_kf_(m, a, x, o, ed, &e);
      e += mu * fabsf(k) + EI_ABS_SLACK;
      for (i = 0; i < K - 1u; ++i) {
        const float cf = ei_sf_(m, a + 27, i * nsv + j);
        const int32_t p = pair[c * (K - 1u) + i];
        acc[p] += cf * k;
        err[p] += fabsf(cf) * e;
      }
    }
    for (q = 0; q < np_; ++q) {
      const float rho = ei_sf_(m, a + 30, q), sum = acc[q] - rho;
      err[q] = 2.0f * (err[q] + 2.0f * EI_U32 * fabsf(rho) + EI_U32 * fabsf(sum)) + EI_ABS_SLACK;
      dec[q] = (double)sum;
      if (a[7] && (a[8] || !(fabs(dec[q]) > err[q]))) certain = 0;
    }
    if (certain) {
      lab = ei_svm_finish_(a, dec, err, (int32_t)ei_svm_vote_(dec, votes, K), scores, conf, val, esc, votes);
    }
    if (!certain || lab < 0) {
      /* double pass in libsvm's order: per pair, SVs of the first class then of the second; sum -= rho */
      const double G = ei_f64_(a + 12), C0 = ei_f64_(a + 14);
      for (q = 0; q < np_; ++q) dec[q] = 0.0;
      for (j = 0, o = 0, c = 0; j < nsv; ++j, o += F) {
        double s = 0.0, k;
        while ((int32_t)j >= start[c + 1]) ++c;
        if (kind == 2) {
          for (i = 0; i < F; ++i) { const double d = (double)x[i] - ei_sd_(m, a + 24, o + i); s += d * d; }
          k = exp(-G * s);
        } else {
          for (i = 0; i < F; ++i) s += (double)x[i] * ei_sd_(m, a + 24, o + i);
          k = kind == 0 ? s : kind == 1 ? ei_powi_(G * s + C0, (int32_t)a[9]) : tanh(G * s + C0);
        }
        for (i = 0; i < K - 1u; ++i) dec[pair[c * (K - 1u) + i]] += ei_sd_(m, a + 27, i * nsv + j) * k;
      }
      for (q = 0; q < np_; ++q) dec[q] -= ei_sd_(m, a + 30, q);
      lab = ei_svm_finish_(a, dec, (const float *)0, (int32_t)ei_svm_vote_(dec, votes, K), scores, conf, val, esc,
                           votes);
    }
    *label = lab;
  }
}
