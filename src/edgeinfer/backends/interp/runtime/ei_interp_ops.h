/* ei_interp_ops.h: what op implementations of the interpreter see (internal to the runtime).
 *
 * prepare() runs at load and may use the checked accessors (ei_check_*); eval() runs only
 * on a model whose every record passed, so it reads the buffer without checks. */
#ifndef EI_INTERP_OPS_H
#define EI_INTERP_OPS_H

#include <string.h>
#include "ei_interp.h"

enum {
  EI_OP_DENSE = 1, EI_OP_CONV = 2, EI_OP_POOL = 3, EI_OP_GLOBAL_AVGPOOL = 4, EI_OP_BINARY = 5,
  EI_OP_UNARY = 6, EI_OP_SOFTMAX = 7, EI_OP_COPY = 8, EI_OP_ARGMAX = 9, EI_OP_SCALER = 10,
  EI_OP_STACK = 11, EI_OP_TREES = 12, EI_OP_AFFINE = 13, EI_OP_NB = 14, EI_OP_CENTROID = 15, EI_OP_SVM = 16,
  EI_OP_QCONV = 17, EI_OP_QFC = 18, EI_OP_QPOOL = 19, EI_OP_QBINARY = 20, EI_OP_QSOFTMAX = 21, EI_OP_QACT = 22,
  EI_OP_QQUANTIZE = 23, EI_OP_QDEQUANTIZE = 24, EI_OP_QREQUANTIZE = 25, EI_OP_QMEAN = 26, EI_OP_MOVE = 27,
  EI_OP_GATHER = 28, EI_OP_RESIZE = 29, EI_OP_REDUCE = 30, EI_OP_LOGSOFTMAX = 31, EI_OP_NPOOL = 32, EI_OP_NCONVT = 33,
  EI_OP_MATMUL = 34, EI_OP_GEMM = 35, EI_OP_FXTREES = 36, EI_OP_FXDENSE = 37, EI_OP_MAXMIN = 38, EI_OP_CAST = 39,
  EI_OP_FXSVM = 40
};

#define EI_NONE_OFF 0xFFFFFFFFu

/* Bytes per element of each dtype (ei_interp.c). */
extern const uint8_t ei_dtype_size[EI_DT_COUNT];

/* ---- element access by dtype, for the ops that run on any element type (layout ops, integer arithmetic).
 * Integers load widened to int64 (signed types sign-extended, unsigned ones zero-extended) and store
 * truncated to their width, as the generated C's casts do. */
static inline int64_t ei_ld_int(const void *p, uint32_t dt, uint32_t i)
{
  switch (dt) {
  case EI_DT_I8: return ((const int8_t *)p)[i];
  case EI_DT_U8: case EI_DT_BOOL: return ((const uint8_t *)p)[i];
  case EI_DT_I16: return ((const int16_t *)p)[i];
  case EI_DT_U16: return ((const uint16_t *)p)[i];
  case EI_DT_I32: return ((const int32_t *)p)[i];
  case EI_DT_U32: return (int64_t)((const uint32_t *)p)[i];
  case EI_DT_I64: return ((const int64_t *)p)[i];
  default: return 0; /* float types never take this path (prepare checks the dtype) */
  }
}

static inline void ei_st_int(void *p, uint32_t dt, uint32_t i, int64_t v)
{
  /* through the unsigned type: the wrap is defined, and equals the signed cast of gcc / clang / armcc */
  switch (dt) {
  case EI_DT_I8: case EI_DT_U8: case EI_DT_BOOL: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v; break;
  case EI_DT_I16: case EI_DT_U16: ((uint16_t *)p)[i] = (uint16_t)(uint64_t)v; break;
  case EI_DT_I32: case EI_DT_U32: ((uint32_t *)p)[i] = (uint32_t)(uint64_t)v; break;
  default: ((uint64_t *)p)[i] = (uint64_t)v; break;
  }
}

static inline int ei_is_int_dtype(uint32_t dt)
{
  return dt != EI_DT_F32 && dt != EI_DT_F64 && dt < EI_DT_COUNT;
}

/* ---- used by prepare (checked) ---- */
/* Tensor in slot s of op (NULL if the slot is empty or absent); dtype and element count checked
 * when want_dtype >= 0 / want_numel != 0. */
const ei_tensor_rec_t *ei_check_tensor(const ei_model_t *m, const ei_op_rec_t *op, uint32_t slot,
                                       int want_dtype, uint32_t want_numel);
/* 1 when tensor t (an index valid at load) is not in the arena or its bytes lie outside [off, off + bytes). */
int ei_arena_apart(const ei_model_t *m, uint32_t t, uint64_t off, uint64_t bytes);
/* Element count of a tensor record (validated at load: fits in int32 bytes). */
uint32_t ei_numel(const ei_tensor_rec_t *t);
/* 1 when count elements of elem bytes from data offset off lie inside the data section, aligned. */
int ei_check_span(const ei_model_t *m, uint32_t off, uint32_t count, uint32_t elem);
/* The op's attribute words (attr_words of them, validated at load). */
static inline const uint32_t *ei_attrs(const ei_model_t *m, const ei_op_rec_t *op)
{
  return (const uint32_t *)(const void *)(m->data + op->attr_off);
}
static inline float ei_word_f32(uint32_t w)
{
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}

/* ---- used by eval ---- */
void *ei_tensor_data(const ei_model_t *m, uint32_t t, const void *const *in, void *const *out);
static inline void *ei_slot(const ei_model_t *m, const ei_op_rec_t *op, uint32_t s, const void *const *in,
                            void *const *out)
{
  return s < (uint32_t)(op->n_in + op->n_out) && op->t[s] != EI_NO_TENSOR ? ei_tensor_data(m, op->t[s], in, out)
                                                                         : (void *)0;
}
static inline const void *ei_data_at(const ei_model_t *m, uint32_t off)
{
  return off == EI_NONE_OFF ? (const void *)0 : (const void *)(m->data + off);
}
static inline uint8_t *ei_scratch(const ei_model_t *m)
{
  return m->arena + m->hdr->scratch_off;
}

/* Op registrations (one per file, so a resolver links only what it lists). */
ei_status_t ei_prepare_dense(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_dense(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_conv(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_conv(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_pool(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_pool(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_gap(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_gap(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_binary(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_binary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_unary(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_unary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_softmax(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_softmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_copy(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_copy(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_argmax(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_argmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_scaler(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_scaler(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_stack(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_stack(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_trees(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_trees(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);

ei_status_t ei_prepare_affine(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_affine(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_nb(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_nb(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_centroid(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_centroid(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_svm(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_svm(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qconv(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qconv(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qfc(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qfc(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qpool(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qpool(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qbinary(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qbinary(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qsoftmax(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qsoftmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qact(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qact(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qquantize(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qquantize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qdequantize(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qdequantize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qrequantize(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qrequantize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_qmean(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_qmean(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);

ei_status_t ei_prepare_move(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_move(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_gather(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_gather(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_resize(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_resize(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_reduce(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_reduce(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_logsoftmax(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_logsoftmax(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_npool(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_npool(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_nconvt(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_nconvt(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_matmul(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_matmul(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_gemm(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_gemm(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_maxmin(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_maxmin(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_cast(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_cast(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_fxsvm(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_fxsvm(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_fxtrees(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_fxtrees(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
ei_status_t ei_prepare_fxdense(const ei_model_t *m, const ei_op_rec_t *op);
void ei_eval_fxdense(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);

#define EI_REG_DENSE {EI_OP_DENSE, ei_prepare_dense, ei_eval_dense}
#define EI_REG_CONV {EI_OP_CONV, ei_prepare_conv, ei_eval_conv}
#define EI_REG_POOL {EI_OP_POOL, ei_prepare_pool, ei_eval_pool}
#define EI_REG_GLOBAL_AVGPOOL {EI_OP_GLOBAL_AVGPOOL, ei_prepare_gap, ei_eval_gap}
#define EI_REG_BINARY {EI_OP_BINARY, ei_prepare_binary, ei_eval_binary}
#define EI_REG_UNARY {EI_OP_UNARY, ei_prepare_unary, ei_eval_unary}
#define EI_REG_SOFTMAX {EI_OP_SOFTMAX, ei_prepare_softmax, ei_eval_softmax}
#define EI_REG_COPY {EI_OP_COPY, ei_prepare_copy, ei_eval_copy}
#define EI_REG_ARGMAX {EI_OP_ARGMAX, ei_prepare_argmax, ei_eval_argmax}
#define EI_REG_SCALER {EI_OP_SCALER, ei_prepare_scaler, ei_eval_scaler}
#define EI_REG_STACK {EI_OP_STACK, ei_prepare_stack, ei_eval_stack}
#define EI_REG_TREES {EI_OP_TREES, ei_prepare_trees, ei_eval_trees}
#define EI_REG_AFFINE {EI_OP_AFFINE, ei_prepare_affine, ei_eval_affine}
#define EI_REG_NB {EI_OP_NB, ei_prepare_nb, ei_eval_nb}
#define EI_REG_CENTROID {EI_OP_CENTROID, ei_prepare_centroid, ei_eval_centroid}
#define EI_REG_SVM {EI_OP_SVM, ei_prepare_svm, ei_eval_svm}
#define EI_REG_QCONV {EI_OP_QCONV, ei_prepare_qconv, ei_eval_qconv}
#define EI_REG_QFC {EI_OP_QFC, ei_prepare_qfc, ei_eval_qfc}
#define EI_REG_QPOOL {EI_OP_QPOOL, ei_prepare_qpool, ei_eval_qpool}
#define EI_REG_QBINARY {EI_OP_QBINARY, ei_prepare_qbinary, ei_eval_qbinary}
#define EI_REG_QSOFTMAX {EI_OP_QSOFTMAX, ei_prepare_qsoftmax, ei_eval_qsoftmax}
#define EI_REG_QACT {EI_OP_QACT, ei_prepare_qact, ei_eval_qact}
#define EI_REG_QQUANTIZE {EI_OP_QQUANTIZE, ei_prepare_qquantize, ei_eval_qquantize}
#define EI_REG_QDEQUANTIZE {EI_OP_QDEQUANTIZE, ei_prepare_qdequantize, ei_eval_qdequantize}
#define EI_REG_QREQUANTIZE {EI_OP_QREQUANTIZE, ei_prepare_qrequantize, ei_eval_qrequantize}
#define EI_REG_QMEAN {EI_OP_QMEAN, ei_prepare_qmean, ei_eval_qmean}
#define EI_REG_MOVE {EI_OP_MOVE, ei_prepare_move, ei_eval_move}
#define EI_REG_GATHER {EI_OP_GATHER, ei_prepare_gather, ei_eval_gather}
#define EI_REG_RESIZE {EI_OP_RESIZE, ei_prepare_resize, ei_eval_resize}
#define EI_REG_REDUCE {EI_OP_REDUCE, ei_prepare_reduce, ei_eval_reduce}
#define EI_REG_LOGSOFTMAX {EI_OP_LOGSOFTMAX, ei_prepare_logsoftmax, ei_eval_logsoftmax}
#define EI_REG_NPOOL {EI_OP_NPOOL, ei_prepare_npool, ei_eval_npool}
#define EI_REG_NCONVT {EI_OP_NCONVT, ei_prepare_nconvt, ei_eval_nconvt}
#define EI_REG_MATMUL {EI_OP_MATMUL, ei_prepare_matmul, ei_eval_matmul}
#define EI_REG_GEMM {EI_OP_GEMM, ei_prepare_gemm, ei_eval_gemm}
#define EI_REG_FXTREES {EI_OP_FXTREES, ei_prepare_fxtrees, ei_eval_fxtrees}
#define EI_REG_FXDENSE {EI_OP_FXDENSE, ei_prepare_fxdense, ei_eval_fxdense}
#define EI_REG_MAXMIN {EI_OP_MAXMIN, ei_prepare_maxmin, ei_eval_maxmin}
#define EI_REG_CAST {EI_OP_CAST, ei_prepare_cast, ei_eval_cast}
#define EI_REG_FXSVM {EI_OP_FXSVM, ei_prepare_fxsvm, ei_eval_fxsvm}

#endif /* EI_INTERP_OPS_H */
