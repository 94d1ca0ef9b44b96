/* ei_ops_tensor.c: the generic-loop ops of the interpreter, each the loop nest the C backend generates for
 * the same node (backends/c/ops/shape.py, vector_math.py, nn.py), in the same order, so float results
 * round as the generated C's do: interpolating Resize, reductions, LogSoftmax, N-d pooling (3-D, integer,
 * with indices), 3-D ConvTranspose, batched MatMul and the general Gemm. */
#include <math.h>
#include "ei_interp_ops.h"

#define EI_T_DIMS 6u
#define EI_T_GEOM_MAX 32767u

static int ei_prod_ok_(const uint32_t *dims, uint32_t nd, uint64_t *n)
{
  uint32_t d;
  *n = 1;
  for (d = 0; d < nd; ++d) {
    *n *= dims[d];
    if (dims[d] == 0 || *n > 0x7FFFFFFFu) return 0;
  }
  return 1;
}

/* ---- RESIZE (linear / cubic, float32): attrs {ndim (1-6), extrapolation value (f32), reserved, dims[6] (of y),
 * taps[6], src[6], w[6], mask[6]}: per output axis d, taps[d] (offset, weight) pairs per output index (src
 * int32 offsets into x with the axis stride folded in, w float32), and an optional uint8 mask (1 = outside the
 * crop: write the extrapolation value). y[i] = sum over the tap product of (w_0 * w_1 * ...) * x[sum src]. ---- */
#define EI_RESIZE_WORDS (3u + 5u * EI_T_DIMS)

ei_status_t ei_prepare_resize(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t *dims = a + 3, *taps = a + 9, *src = a + 15, *w = a + 21, *mask = a + 27;
  uint64_t n, src_max = 0, work = 1;
  uint32_t d, i;
  if (op->attr_words != EI_RESIZE_WORDS || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[0] > EI_T_DIMS ||
      !ei_prod_ok_(dims, a[0], &n) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)n)) {
    return EI_ERR_OP_INVALID;
  }
  for (d = 0; d < a[0]; ++d) {
    const uint64_t cnt = (uint64_t)dims[d] * taps[d];
    const int32_t *s;
    int32_t mx = 0;
    work *= taps[d];
    if (taps[d] == 0 || taps[d] > 4096u || cnt > 0x7FFFFFFFu || work > 4096u ||
        !ei_check_span(m, src[d], (uint32_t)cnt, 4) || !ei_check_span(m, w[d], (uint32_t)cnt, 4) ||
        (mask[d] != EI_NONE_OFF && !ei_check_span(m, mask[d], dims[d], 1))) {
      return EI_ERR_OP_INVALID;
    }
    s = (const int32_t *)ei_data_at(m, src[d]);
    for (i = 0; i < cnt; ++i) {
      if (s[i] < 0) return EI_ERR_OP_INVALID;
      mx = s[i] > mx ? s[i] : mx;
    }
    src_max += (uint64_t)mx;
  }
  if (!ei_check_tensor(m, op, 0, EI_DT_F32, 0) || src_max >= ei_numel(&m->tensors[op->t[0]])) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_resize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t nd = a[0], *dims = a + 3, *taps = a + 9;
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  const float ev = ei_word_f32(a[1]);
  const int32_t *src[EI_T_DIMS];
  const float *w[EI_T_DIMS];
  const uint8_t *mask[EI_T_DIMS];
  uint32_t idx[EI_T_DIMS] = {0, 0, 0, 0, 0, 0}, t[EI_T_DIMS], d, o, n = 1;
  for (d = 0; d < nd; ++d) {
    src[d] = (const int32_t *)ei_data_at(m, a[15 + d]);
    w[d] = (const float *)ei_data_at(m, a[21 + d]);
    mask[d] = (const uint8_t *)ei_data_at(m, a[27 + d]);
    n *= dims[d];
  }
  for (o = 0; o < n; ++o) {
    float acc = 0.0f;
    int outside = 0;
    for (d = 0; d < nd; ++d) {
      if (mask[d] && mask[d][idx[d]]) outside = 1;
      t[d] = 0;
    }
    if (outside) {
      y[o] = ev;
    } else {
      for (;;) {
        float wt = w[0][idx[0] * taps[0] + t[0]];
        uint32_t off = (uint32_t)src[0][idx[0] * taps[0] + t[0]];
        for (d = 1; d < nd; ++d) {
          wt = wt * w[d][idx[d] * taps[d] + t[d]];
          off += (uint32_t)src[d][idx[d] * taps[d] + t[d]];
        }
        acc += wt * x[off];
        for (d = nd; d-- > 0;) {
          if (++t[d] < taps[d]) break;
          t[d] = 0;
        }
        if (d == (uint32_t)-1) break;
      }
      y[o] = acc;
    }
    for (d = nd; d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

/* ---- REDUCE: attrs {kind (0 sum, 1 mean, 2 max), ndim (1-6), count (f32, mean's divisor), dims[6] of x,
 * ostr[6] (y strides, 0 along reduced axes)}: y = init, then x in row-major order folded into y[sum i ostr];
 * float32, or any integer type for sum and max (wrapping to the element type, as the generated C's casts). */
#define EI_REDUCE_WORDS (3u + 2u * EI_T_DIMS)

ei_status_t ei_prepare_reduce(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x, *y;
  uint64_t n, last = 0;
  uint32_t d;
  if (op->attr_words != EI_REDUCE_WORDS || op->n_in != 1 || op->n_out != 1 || a[0] > 2 || a[1] == 0 ||
      a[1] > EI_T_DIMS || !ei_prod_ok_(a + 3, a[1], &n)) {
    return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, -1, (uint32_t)n);
  y = ei_check_tensor(m, op, 1, -1, 0);
  if (!x || !y || x->dtype != y->dtype || x->dtype == EI_DT_F64 || (a[0] == 1 && x->dtype != EI_DT_F32)) {
    return EI_ERR_OP_INVALID;
  }
  for (d = 0; d < a[1]; ++d) {
    if (a[9 + d] > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
    last += (uint64_t)(a[3 + d] - 1u) * a[9 + d];
  }
  return last < ei_numel(y) ? EI_OK : EI_ERR_OP_INVALID;
}

static int64_t ei_int_lowest_(uint32_t dt)
{
  switch (dt) {
  case EI_DT_I8: return -128;
  case EI_DT_I16: return -32768;
  case EI_DT_I32: return -2147483647 - 1;
  case EI_DT_I64: return INT64_MIN;
  default: return 0;
  }
}

void ei_eval_reduce(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t kind = a[0], nd = a[1], *dims = a + 3, *ost = a + 9, dt = m->tensors[op->t[0]].dtype;
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  const uint32_t ny = ei_numel(&m->tensors[op->t[1]]);
  uint32_t idx[EI_T_DIMS] = {0, 0, 0, 0, 0, 0}, d, i, n = 1, o = 0;
  for (d = 0; d < nd; ++d) n *= dims[d];
  if (dt == EI_DT_F32) {
    const float *xf = (const float *)x;
    float *yf = (float *)y;
    for (i = 0; i < ny; ++i) yf[i] = kind == 2 ? -INFINITY : 0.0f;
    for (i = 0; i < n; ++i) {
      if (kind == 2) {
        if (xf[i] > yf[o]) yf[o] = xf[i];
      } else {
        yf[o] = (float)(yf[o] + xf[i]);
      }
      for (d = nd; d-- > 0;) {
        o += ost[d];
        if (++idx[d] < dims[d]) break;
        o -= ost[d] * dims[d];
        idx[d] = 0;
      }
    }
    if (kind == 1) {
      const float cnt = ei_word_f32(a[2]);
      for (i = 0; i < ny; ++i) yf[i] /= cnt;
    }
    return;
  }
  for (i = 0; i < ny; ++i) ei_st_int(y, dt, i, kind == 2 ? ei_int_lowest_(dt) : 0);
  for (i = 0; i < n; ++i) {
    const int64_t v = ei_ld_int(x, dt, i), cur = ei_ld_int(y, dt, o);
    if (kind == 2) {
      if (v > cur) ei_st_int(y, dt, o, v);
    } else {
      ei_st_int(y, dt, o, (int64_t)((uint64_t)cur + (uint64_t)v));
    }
    for (d = nd; d-- > 0;) {
      o += ost[d];
      if (++idx[d] < dims[d]) break;
      o -= ost[d] * dims[d];
      idx[d] = 0;
    }
  }
}

/* ---- LOGSOFTMAX over the middle axis of (outer, n, inner), float32: attrs {outer, n, inner} ---- */
ei_status_t ei_prepare_logsoftmax(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t n;
  if (op->attr_words != 3 || op->n_in != 1 || op->n_out != 1 || !ei_prod_ok_(a, 3, &n) ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)n) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)n)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_logsoftmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t n = a[1], inner = a[2];
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  float *y = (float *)ei_slot(m, op, 1, in, out);
  uint32_t o, i, j;
  for (o = 0; o < a[0]; ++o) {
    for (i = 0; i < inner; ++i) {
      const float *z = x + (size_t)o * n * inner + i;
      float *yo = y + (size_t)o * n * inner + i;
      float mx = z[0], s = 0.0f;
      for (j = 1; j < n; ++j) {
        if (z[j * inner] > mx) mx = z[j * inner];
      }
      for (j = 0; j < n; ++j) s += expf(z[j * inner] - mx);
      for (j = 0; j < n; ++j) yo[j * inner] = z[j * inner] - mx - logf(s);
    }
  }
}

/* ---- NPOOL: pooling over up to 3 spatial axes (leading ones padded with size 1), the generated C's loops for
 * 3-D inputs, integer element types (max) and MaxPool's int64 Indices output:
 * attrs {is_max, nc (images x channels), include_pad, storage_order, sp[3], out[3], k[3], s[3], d[3],
 * pad_begin[3], pad_end[3]}; x -> y [, indices (i64)]. Average pools are float32; max pools any type. ---- */
#define EI_NPOOL_WORDS 25u

ei_status_t ei_prepare_npool(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x, *y;
  uint64_t xn, yn, win = 1;
  uint32_t i;
  if (op->attr_words != EI_NPOOL_WORDS || op->n_in != 1 || (op->n_out != 1 && op->n_out != 2) || a[0] > 1 ||
      a[1] == 0 || a[1] > 0x7FFFFFFFu || a[2] > 1 || a[3] > 1) {
    return EI_ERR_OP_INVALID;
  }
  for (i = 4; i < EI_NPOOL_WORDS; ++i) {
    if (a[i] > EI_T_GEOM_MAX || (i < 19 && a[i] == 0)) return EI_ERR_OP_INVALID;
  }
  for (i = 0; i < 3; ++i) win *= a[10 + i];
  xn = (uint64_t)a[1] * a[4] * a[5] * a[6];
  yn = (uint64_t)a[1] * a[7] * a[8] * a[9];
  if (xn > 0x7FFFFFFFu || yn > 0x7FFFFFFFu || win > 0x7FFFFFu) return EI_ERR_OP_INVALID;
  x = ei_check_tensor(m, op, 0, -1, (uint32_t)xn);
  y = ei_check_tensor(m, op, 1, -1, (uint32_t)yn);
  if (!x || !y || x->dtype != y->dtype || (!a[0] && x->dtype != EI_DT_F32) ||
      (op->n_out == 2 && (!a[0] || !ei_check_tensor(m, op, 2, EI_DT_I64, (uint32_t)yn)))) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_npool(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)a;
  const int32_t *sp = g + 4, *on = g + 7, *k = g + 10, *s = g + 13, *dl = g + 16, *pb = g + 19, *pe = g + 22;
  const uint32_t dt = m->tensors[op->t[0]].dtype, is_max = a[0];
  const void *x = ei_slot(m, op, 0, in, out);
  void *y = ei_slot(m, op, 1, in, out);
  int64_t *ind = op->n_out == 2 ? (int64_t *)ei_slot(m, op, 2, in, out) : (int64_t *)0;
  const int32_t ist[3] = {sp[1] * sp[2], sp[2], 1};
  const int32_t ast[3] = {a[3] ? 1 : ist[0], a[3] ? sp[0] : ist[1], a[3] ? sp[0] * sp[1] : 1};
  const int32_t plane = sp[0] * sp[1] * sp[2], oplane = on[0] * on[1] * on[2];
  int32_t c, o0, o1, o2, k0, k1, k2;
  for (c = 0; c < (int32_t)a[1]; ++c) {
    const uint32_t xc = (uint32_t)c * (uint32_t)plane;
    for (o0 = 0; o0 < on[0]; ++o0) {
      for (o1 = 0; o1 < on[1]; ++o1) {
        for (o2 = 0; o2 < on[2]; ++o2) {
          const uint32_t yo = (uint32_t)c * (uint32_t)oplane + (uint32_t)((o0 * on[1] + o1) * on[2] + o2);
          float accf = 0.0f;
          double accd = 0.0;
          int64_t acci = 0;
          int32_t n = 0, arg = -1;
          for (k0 = 0; k0 < k[0]; ++k0) {
            const int32_t j0 = o0 * s[0] + k0 * dl[0] - pb[0];
            if (j0 >= sp[0] + pe[0]) break;
            for (k1 = 0; k1 < k[1]; ++k1) {
              const int32_t j1 = o1 * s[1] + k1 * dl[1] - pb[1];
              if (j1 >= sp[1] + pe[1]) break;
              for (k2 = 0; k2 < k[2]; ++k2) {
                const int32_t j2 = o2 * s[2] + k2 * dl[2] - pb[2];
                uint32_t at;
                if (j2 >= sp[2] + pe[2]) break;
                if (j0 < 0 || j0 >= sp[0] || j1 < 0 || j1 >= sp[1] || j2 < 0 || j2 >= sp[2]) {
                  n += (int32_t)a[2];
                  continue;
                }
                at = xc + (uint32_t)(j0 * ist[0] + j1 * ist[1] + j2);
                if (dt == EI_DT_F32) {
                  const float v = ((const float *)x)[at];
                  if (!is_max) accf += v;
                  else if (arg < 0 || v > accf) { accf = v; arg = j0 * ast[0] + j1 * ast[1] + j2 * ast[2]; }
                } else if (dt == EI_DT_F64) {
                  const double v = ((const double *)x)[at];
                  if (arg < 0 || v > accd) { accd = v; arg = j0 * ast[0] + j1 * ast[1] + j2 * ast[2]; }
                } else {
                  const int64_t v = ei_ld_int(x, dt, at);
                  if (arg < 0 || v > acci) { acci = v; arg = j0 * ast[0] + j1 * ast[1] + j2 * ast[2]; }
                }
                ++n;
              }
            }
          }
          if (dt == EI_DT_F64) ((double *)y)[yo] = accd;
          else if (dt != EI_DT_F32) ei_st_int(y, dt, yo, acci);
          else ((float *)y)[yo] = is_max ? accf : (n > 0 ? accf / (float)n : 0.0f);
          if (ind) ind[yo] = (int64_t)c * plane + arg;
        }
      }
    }
  }
}

/* ---- NCONVT: ConvTranspose over 3 spatial axes (the generated C's loops for 3-D inputs), float32:
 * attrs {n, c_in, c_out, group, sp[3], out[3], k[3], s[3], d[3], pads[3] (int32), lo, hi};
 * x, W (c_in, c_out/group, k...), b? -> y; every input element scatters into the outputs its kernel reaches. */
#define EI_NCONVT_WORDS 24u

ei_status_t ei_prepare_nconvt(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *p = (const int32_t *)(const void *)(a + 19);
  uint64_t xn, yn, wn, kn;
  uint32_t i;
  if (op->attr_words != EI_NCONVT_WORDS || op->n_in != 3 || op->n_out != 1) return EI_ERR_OP_INVALID;
  for (i = 0; i < 19; ++i) {
    if (a[i] == 0 || a[i] > EI_T_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  for (i = 0; i < 3; ++i) {
    if (p[i] < -(int32_t)EI_T_GEOM_MAX || p[i] > (int32_t)EI_T_GEOM_MAX) return EI_ERR_OP_INVALID;
  }
  if (a[1] % a[3] || a[2] % a[3]) return EI_ERR_OP_INVALID;
  kn = (uint64_t)a[10] * a[11] * a[12];
  xn = (uint64_t)a[0] * a[1] * a[4] * a[5] * a[6];
  yn = (uint64_t)a[0] * a[2] * a[7] * a[8] * a[9];
  wn = (uint64_t)a[1] * (a[2] / a[3]) * kn;
  if (xn > 0x7FFFFFFFu || yn > 0x7FFFFFFFu || wn > 0x7FFFFFFFu || xn * kn * (a[2] / a[3]) > 0xFFFFFFFFFFull ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)xn) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)wn) ||
      (op->t[2] != EI_NO_TENSOR && !ei_check_tensor(m, op, 2, EI_DT_F32, a[2])) ||
      !ei_check_tensor(m, op, 3, EI_DT_F32, (uint32_t)yn)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_nconvt(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const int32_t *g = (const int32_t *)(const void *)a;
  const int32_t *sp = g + 4, *on = g + 7, *k = g + 10, *s = g + 13, *dl = g + 16, *p = g + 19;
  const float *x = (const float *)ei_slot(m, op, 0, in, out);
  const float *w = (const float *)ei_slot(m, op, 1, in, out);
  const float *b = (const float *)ei_slot(m, op, 2, in, out);
  float *y = (float *)ei_slot(m, op, 3, in, out);
  const float lo = ei_word_f32(a[22]), hi = ei_word_f32(a[23]);
  const int32_t cin = g[1], cout = g[2], cg = cin / g[3], mg = cout / g[3];
  const int32_t plane = sp[0] * sp[1] * sp[2], oplane = on[0] * on[1] * on[2], kplane = k[0] * k[1] * k[2];
  int32_t n, c, mm, e, i0, i1, i2, k0, k1, k2;
  for (n = 0; n < g[0]; ++n) {
    for (mm = 0; mm < cout; ++mm) {
      const float bias = b ? b[mm] : 0.0f;
      for (e = 0; e < oplane; ++e) y[((size_t)n * cout + mm) * oplane + e] = bias;
    }
    for (c = 0; c < cin; ++c) {
      const float *xc = x + ((size_t)n * cin + c) * plane;
      for (mm = 0; mm < mg; ++mm) {
        float *ym = y + ((size_t)n * cout + (c / cg) * mg + mm) * oplane;
        const float *wc = w + ((size_t)c * mg + mm) * kplane;
        for (i0 = 0; i0 < sp[0]; ++i0) {
          for (i1 = 0; i1 < sp[1]; ++i1) {
            for (i2 = 0; i2 < sp[2]; ++i2) {
              for (k0 = 0; k0 < k[0]; ++k0) {
                const int32_t j0 = i0 * s[0] + k0 * dl[0] - p[0];
                if (j0 < 0 || j0 >= on[0]) continue;
                for (k1 = 0; k1 < k[1]; ++k1) {
                  const int32_t j1 = i1 * s[1] + k1 * dl[1] - p[1];
                  if (j1 < 0 || j1 >= on[1]) continue;
                  for (k2 = 0; k2 < k[2]; ++k2) {
                    const int32_t j2 = i2 * s[2] + k2 * dl[2] - p[2];
                    if (j2 < 0 || j2 >= on[2]) continue;
                    ym[(j0 * on[1] + j1) * on[2] + j2] += wc[(k0 * k[1] + k1) * k[2] + k2] *
                                                          xc[(i0 * sp[1] + i1) * sp[2] + i2];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  for (e = 0; e < g[0] * cout * oplane; ++e) {
    if (y[e] < lo) y[e] = lo;
    if (y[e] > hi) y[e] = hi;
  }
}

/* ---- MATMUL (float32, operands from the arena, inputs or constants): attrs {nl, m, k, n, a_off, b_off}:
 * for each of nl leading blocks, y_l (m, n) = a[a_off[l]:] (m, k) x b[b_off[l]:] (k, n); a_off / b_off are int32
 * tables of nl element offsets (broadcast leading dims), or EI_NONE_OFF for offset 0 (then nl is 1). ---- */
static int ei_mm_offsets_ok_(const ei_model_t *m, uint32_t off, uint32_t nl, uint64_t block, uint32_t numel)
{
  const int32_t *t;
  uint32_t l;
  if (off == EI_NONE_OFF) return nl == 1 && block <= numel;
  if (!ei_check_span(m, off, nl, 4)) return 0;
  t = (const int32_t *)ei_data_at(m, off);
  for (l = 0; l < nl; ++l) {
    if (t[l] < 0 || (uint64_t)t[l] + block > numel) return 0;
  }
  return 1;
}

ei_status_t ei_prepare_matmul(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *ta, *tb;
  uint64_t n;
  if (op->attr_words != 6 || op->n_in != 2 || op->n_out != 1 || !ei_prod_ok_(a, 4, &n)) return EI_ERR_OP_INVALID;
  n = (uint64_t)a[0] * a[1] * a[3];
  ta = ei_check_tensor(m, op, 0, EI_DT_F32, 0);
  tb = ei_check_tensor(m, op, 1, EI_DT_F32, 0);
  if (n > 0x7FFFFFFFu || !ta || !tb || !ei_check_tensor(m, op, 2, EI_DT_F32, (uint32_t)n) ||
      !ei_mm_offsets_ok_(m, a[4], a[0], (uint64_t)a[1] * a[2], ei_numel(ta)) ||
      !ei_mm_offsets_ok_(m, a[5], a[0], (uint64_t)a[2] * a[3], ei_numel(tb))) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_matmul(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t rows = a[1], k = a[2], n = a[3];
  const float *A = (const float *)ei_slot(m, op, 0, in, out), *B = (const float *)ei_slot(m, op, 1, in, out);
  const int32_t *ao = (const int32_t *)ei_data_at(m, a[4]), *bo = (const int32_t *)ei_data_at(m, a[5]);
  float *y = (float *)ei_slot(m, op, 2, in, out);
  uint32_t l, r, c, kk;
  for (l = 0; l < a[0]; ++l) {
    const float *x = A + (ao ? ao[l] : 0), *b = B + (bo ? bo[l] : 0);
    float *yl = y + (size_t)l * rows * n;
    for (r = 0; r < rows; ++r) {
      for (c = 0; c < n; ++c) yl[r * n + c] = 0.0f;
      for (kk = 0; kk < k; ++kk) {
        const float av = x[r * k + kk];
        for (c = 0; c < n; ++c) yl[r * n + c] += av * b[kk * n + c];
      }
    }
  }
}

/* ---- GEMM (the general case: transposed A, B from the arena, a bias per element), float32:
 * attrs {m, k, n, trans_a, b_layout (0 (n, k), 1 (k, n)), scaled, alpha (f32), bias (0 none, 1 per column,
 * 2 per element), act, lo, hi}; a, B, bias? -> y. acc = sum_kk a * b, then acc * alpha (when scaled) + bias,
 * clamped to [lo, hi] when act (a fused Relu / Clip). ---- */
ei_status_t ei_prepare_gemm(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  uint64_t n, mk, kn, mn;
  if (op->attr_words != 11 || op->n_in != 3 || op->n_out != 1 || !ei_prod_ok_(a, 3, &n) || a[3] > 1 || a[4] > 1 ||
      a[5] > 1 || a[7] > 2 || a[8] > 1 || (a[7] == 0) != (op->t[2] == EI_NO_TENSOR)) {
    return EI_ERR_OP_INVALID;
  }
  mk = (uint64_t)a[0] * a[1];
  kn = (uint64_t)a[1] * a[2];
  mn = (uint64_t)a[0] * a[2];
  if (mk > 0x7FFFFFFFu || kn > 0x7FFFFFFFu || mn > 0x7FFFFFFFu ||
      !ei_check_tensor(m, op, 0, EI_DT_F32, (uint32_t)mk) || !ei_check_tensor(m, op, 1, EI_DT_F32, (uint32_t)kn) ||
      (a[7] && !ei_check_tensor(m, op, 2, EI_DT_F32, a[7] == 1 ? a[2] : (uint32_t)mn)) ||
      !ei_check_tensor(m, op, 3, EI_DT_F32, (uint32_t)mn)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_gemm(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint32_t rows = a[0], k = a[1], n = a[2];
  const float *x = (const float *)ei_slot(m, op, 0, in, out), *bw = (const float *)ei_slot(m, op, 1, in, out);
  const float *bias = (const float *)ei_slot(m, op, 2, in, out);
  float *y = (float *)ei_slot(m, op, 3, in, out);
  const float alpha = ei_word_f32(a[6]), lo = ei_word_f32(a[9]), hi = ei_word_f32(a[10]);
  uint32_t r, c, kk;
  for (r = 0; r < rows; ++r) {
    for (c = 0; c < n; ++c) {
      float acc = 0.0f;
      for (kk = 0; kk < k; ++kk) {
        acc += (a[3] ? x[kk * rows + r] : x[r * k + kk]) * (a[4] ? bw[kk * n + c] : bw[c * k + kk]);
      }
      if (a[5]) acc = acc * alpha;
      acc = acc + (a[7] == 0 ? 0.0f : a[7] == 1 ? bias[c] : bias[r * n + c]);
      if (a[8]) {
        acc = acc < lo ? lo : acc;
        acc = acc > hi ? hi : acc;
      }
      y[r * n + c] = acc;
    }
  }
}
