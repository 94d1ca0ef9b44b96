/* ei_ops_all.c: the resolver registering every op, and ei_model_load using it. Firmware that
 * wants fewer kernels linked lists its own ops (EI_REG_* from ei_interp_ops.h) and calls
 * ei_model_load_with instead; this file is then not linked. */
#include "ei_interp_ops.h"

static const ei_op_reg_t ei_all_ops_[] = {
  EI_REG_DENSE, EI_REG_CONV, EI_REG_POOL, EI_REG_GLOBAL_AVGPOOL, EI_REG_BINARY, EI_REG_UNARY,
  EI_REG_SOFTMAX, EI_REG_COPY, EI_REG_ARGMAX, EI_REG_SCALER, EI_REG_STACK, EI_REG_TREES, EI_REG_AFFINE,
  EI_REG_NB, EI_REG_CENTROID, EI_REG_SVM, EI_REG_QCONV, EI_REG_QFC, EI_REG_QPOOL, EI_REG_QBINARY,
  EI_REG_QSOFTMAX, EI_REG_QACT, EI_REG_QQUANTIZE, EI_REG_QDEQUANTIZE, EI_REG_QREQUANTIZE, EI_REG_QMEAN,
  EI_REG_MOVE, EI_REG_GATHER, EI_REG_RESIZE, EI_REG_REDUCE, EI_REG_LOGSOFTMAX, EI_REG_NPOOL, EI_REG_NCONVT,
  EI_REG_MATMUL, EI_REG_GEMM, EI_REG_FXTREES, EI_REG_FXDENSE, EI_REG_MAXMIN, EI_REG_CAST, EI_REG_FXSVM
};

const ei_resolver_t ei_resolver_all = {ei_all_ops_, sizeof ei_all_ops_ / sizeof ei_all_ops_[0]};

ei_status_t ei_model_load(ei_model_t *m, const void *buf, size_t len, void *arena, size_t arena_len)
{
  return ei_model_load_with(m, &ei_resolver_all, buf, len, arena, arena_len);
}
