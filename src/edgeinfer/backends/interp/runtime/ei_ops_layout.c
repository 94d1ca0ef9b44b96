/* ei_ops_layout.c: data-movement ops on any element type (1, 2, 4 or 8 bytes), keyed by element size only.
 *
 * MOVE is every movement whose source index is a sum of one term per output axis: Transpose, Slice,
 * Concat (one MOVE per input), Split (one per output), Pad (any mode), nearest Resize and Gather with
 * constant indices. The writer stores per output axis d a table T_d of source offsets (element
 * units, strides folded in; -1 = outside the input, write the fill value) and a destination stride,
 * so the runtime has one loop nest for all of them. GATHER reads its indices at run time. */
#include "ei_interp_ops.h"

#define EI_MOVE_DIMS 6u
#define EI_MOVE_WORDS (5u + 5u * EI_MOVE_DIMS)

static void ei_put_(uint8_t *y, const uint8_t *x, uint32_t es)
{
  /* fixed-size memmove: one load and one store, whatever the buffers' alignment (and defined even where a
   * hostile file makes x and y overlap) */
  switch (es) {
  case 1: *y = *x; break;
  case 2: memmove(y, x, 2); break;
  case 4: memmove(y, x, 4); break;
  default: memmove(y, x, 8); break;
  }
}

/* source offset T_d[i] of axis d: its table, or start + i * step for an affine axis */
static int32_t ei_move_src_(const ei_model_t *m, const uint32_t *a, uint32_t d, uint32_t i)
{
  const uint32_t tab = a[5 + 2u * EI_MOVE_DIMS + d];
  if (tab != EI_NONE_OFF) return ((const int32_t *)ei_data_at(m, tab))[i];
  return (int32_t)a[5 + 3u * EI_MOVE_DIMS + d] + (int32_t)i * (int32_t)a[5 + 4u * EI_MOVE_DIMS + d];
}

/* ---- MOVE: y[dbase + sum_d i_d ds_d] = x[sum_d T_d[i_d]] for i < dims (the fill value where a T_d[i_d] is -1);
 * attrs {ndim (1-6), fill (0/1), fill bytes (2 words, little-endian), dbase, dims[6], ds[6], tab[6], start[6],
 * step[6]}: T_d is the int32 table of dims[d] entries at data offset tab[d], or, with tab[d] = EI_NONE_OFF, the
 * affine start[d] + i * step[d] (int32; step may be negative). An innermost axis with step 1 and ds 1 runs as
 * block copies. */
ei_status_t ei_prepare_move(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x, *y;
  uint64_t n = 1, src_max = 0, dst_max;
  uint32_t d, i;
  int reads = 1;
  if (op->attr_words != EI_MOVE_WORDS || op->n_in != 1 || op->n_out != 1 || a[0] == 0 || a[0] > EI_MOVE_DIMS ||
      a[1] > 1) {
    return EI_ERR_OP_INVALID;
  }
  x = ei_check_tensor(m, op, 0, -1, 0);
  y = ei_check_tensor(m, op, 1, -1, 0);
  if (!x || !y || x->dtype != y->dtype) return EI_ERR_OP_INVALID;
  dst_max = a[4];
  for (d = 0; d < a[0]; ++d) {
    const uint32_t dim = a[5 + d], ds = a[5 + EI_MOVE_DIMS + d], tab = a[5 + 2u * EI_MOVE_DIMS + d];
    int64_t lo, hi;
    n *= dim;
    if (dim == 0 || n > 0x7FFFFFFFu || ds > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
    if (tab != EI_NONE_OFF) {
      const int32_t *t;
      if (!ei_check_span(m, tab, dim, 4)) return EI_ERR_OP_INVALID;
      t = (const int32_t *)ei_data_at(m, tab);
      hi = -1;
      for (i = 0; i < dim; ++i) {
        if (t[i] < 0 && (t[i] != -1 || !a[1])) return EI_ERR_OP_INVALID;
        hi = t[i] > hi ? t[i] : hi;
      }
      if (hi < 0) reads = 0; /* every position of this axis is the fill value: the move never reads x */
      hi = hi < 0 ? 0 : hi;
    } else {
      const int64_t start = (int32_t)a[5 + 3u * EI_MOVE_DIMS + d], step = (int32_t)a[5 + 4u * EI_MOVE_DIMS + d];
      const int64_t end = start + (int64_t)(dim - 1u) * step;
      lo = start < end ? start : end;
      hi = start < end ? end : start;
      if (lo < 0) return EI_ERR_OP_INVALID;
    }
    src_max += (uint64_t)hi;
    dst_max += (uint64_t)(dim - 1u) * ds;
  }
  if ((reads && src_max >= ei_numel(x)) || dst_max >= ei_numel(y)) return EI_ERR_OP_INVALID;
  return EI_OK;
}

void ei_eval_move(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint8_t *x = (const uint8_t *)ei_slot(m, op, 0, in, out);
  uint8_t *y = (uint8_t *)ei_slot(m, op, 1, in, out);
  const uint32_t es = ei_dtype_size[m->tensors[op->t[0]].dtype];
  const uint32_t nd = a[0], last = nd - 1u, *dims = a + 5, *ds = a + 5 + EI_MOVE_DIMS, nl = dims[last];
  const uint32_t dl = ds[last];
  const int block = a[5 + 2u * EI_MOVE_DIMS + last] == EI_NONE_OFF && a[5 + 4u * EI_MOVE_DIMS + last] == 1u && dl == 1u;
  uint32_t idx[EI_MOVE_DIMS] = {0, 0, 0, 0, 0, 0};
  uint8_t fill[8];
  uint32_t d, i, o, outer = 1;
  int uniform = 1; /* every byte of the fill value alike: a run outside the input is one memset */
  memcpy(fill, a + 2, 8);
  for (i = 1; i < es; ++i) uniform &= fill[i] == fill[0];
  for (d = 0; d < last; ++d) outer *= dims[d];
  for (o = 0; o < outer; ++o) {
    uint32_t src = 0, dst = a[4];
    int outside = 0;
    for (d = 0; d < last; ++d) {
      const int32_t v = ei_move_src_(m, a, d, idx[d]);
      if (v < 0) outside = 1;
      else src += (uint32_t)v;
      dst += idx[d] * ds[d];
    }
    if (block && !outside) {
      memmove(y + (size_t)dst * es, x + (size_t)(src + (uint32_t)ei_move_src_(m, a, last, 0)) * es, (size_t)nl * es);
    } else if (block && uniform) {
      memset(y + (size_t)dst * es, fill[0], (size_t)nl * es);
    } else {
      for (i = 0; i < nl; ++i, dst += dl) {
        const int32_t v = outside ? -1 : ei_move_src_(m, a, last, i);
        ei_put_(y + (size_t)dst * es, v < 0 ? fill : x + (size_t)(src + (uint32_t)v) * es, es);
      }
    }
    for (d = last; d-- > 0;) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

/* ---- GATHER: x (outer, n_axis, inner), indices (i32 or i64, n_idx) -> y (outer, n_idx, inner);
 * attrs {outer, n_axis, inner, n_idx}. A negative index counts from the end, as ONNX's; an index outside
 * the axis (only possible in run-time data) gives a row of zeros instead of a read out of bounds. ---- */
ei_status_t ei_prepare_gather(const ei_model_t *m, const ei_op_rec_t *op)
{
  const uint32_t *a = ei_attrs(m, op);
  const ei_tensor_rec_t *x, *ix, *y;
  uint64_t xn, yn;
  if (op->attr_words != 4 || op->n_in != 2 || op->n_out != 1 || a[0] == 0 || a[1] == 0 || a[1] > 0x7FFFFFFFu ||
      a[2] == 0 || a[3] == 0) {
    return EI_ERR_OP_INVALID;
  }
  xn = (uint64_t)a[0] * a[1] * a[2];
  yn = (uint64_t)a[0] * a[3] * a[2];
  if (xn > 0x7FFFFFFFu || yn > 0x7FFFFFFFu) return EI_ERR_OP_INVALID;
  x = ei_check_tensor(m, op, 0, -1, (uint32_t)xn);
  ix = ei_check_tensor(m, op, 1, -1, a[3]);
  y = ei_check_tensor(m, op, 2, -1, (uint32_t)yn);
  if (!x || !ix || !y || x->dtype != y->dtype || (ix->dtype != EI_DT_I32 && ix->dtype != EI_DT_I64)) {
    return EI_ERR_OP_INVALID;
  }
  return EI_OK;
}

void ei_eval_gather(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out)
{
  const uint32_t *a = ei_attrs(m, op);
  const uint8_t *x = (const uint8_t *)ei_slot(m, op, 0, in, out);
  const void *ix = ei_slot(m, op, 1, in, out);
  uint8_t *y = (uint8_t *)ei_slot(m, op, 2, in, out);
  const uint32_t idt = m->tensors[op->t[1]].dtype;
  const size_t row = (size_t)a[2] * ei_dtype_size[m->tensors[op->t[0]].dtype];
  uint32_t o, j;
  for (o = 0; o < a[0]; ++o) {
    for (j = 0; j < a[3]; ++j) {
      int64_t k = ei_ld_int(ix, idt, j);
      uint8_t *dst = y + ((size_t)o * a[3] + j) * row;
      if (k < 0) k += (int64_t)a[1];
      if (k < 0 || k >= (int64_t)a[1]) memset(dst, 0, row);
      else memmove(dst, x + ((size_t)o * a[1] + (size_t)k) * row, row);
    }
  }
}
