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
  EI_OP_QQUANTIZE = 23, EI_OP_QDEQUANTIZE = 24, EI_OP_QREQUANTIZE = 25, EI_OP_QMEAN = 26
};

#define EI_NONE_OFF 0xFFFFFFFFu

/* ---- used by prepare (checked) ---- */
/* Tensor in slot s of op (NULL if the slot is empty or absent); dtype and element count checked
 * when want_dtype >= 0 / want_numel != 0. */
const ei_tensor_rec_t *ei_check_tensor(const ei_model_t *m, const ei_op_rec_t *op, uint32_t slot,
                                       int want_dtype, uint32_t want_numel);
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

#endif /* EI_INTERP_OPS_H */
