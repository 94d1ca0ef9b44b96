/* ei_interp.h: the edgeinfer model interpreter (C99, no heap, no recursion).
 *
 * A model is an .eim buffer (see docs/eim_format.md) used in place, e.g. straight from
 * flash: nothing is copied out of it. ei_model_load validates the whole buffer once
 * (magic, version, CRC-32, every offset, size and count, every op known to the resolver
 * and its tensors consistent with it, arena large enough); after EI_OK, invoke trusts it,
 * so the buffer must not change between load and invoke.
 *
 *   ei_model_t model; static union { double d; uint8_t b[EI_KWS_ARENA_BYTES]; } arena;
 *   if (ei_model_load(&model, kws_eim, kws_eim_len, arena.b, sizeof arena.b) != EI_OK) { ... }
 *   const void *in[1] = { x }; void *out[2] = { &label, scores };
 *   ei_model_invoke(&model, in, out);
 *
 * ei_model_load registers every op (ei_ops_all.c). Firmware that wants only some kernels
 * linked calls ei_model_load_with and a resolver listing the ops it registers.
 */
#ifndef EI_INTERP_H
#define EI_INTERP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EI_FORMAT_MAGIC 0x314D4945u /* "EIM1" little-endian */
#define EI_FORMAT_VERSION 2u

typedef enum {
  EI_OK = 0,
  EI_ERR_ARG,          /* NULL pointer or misaligned buffer / arena */
  EI_ERR_TRUNCATED,    /* buffer shorter than its header or than the length it declares */
  EI_ERR_LENGTH,       /* buffer longer than the length it declares (trailing bytes) */
  EI_ERR_MAGIC,        /* not an .eim buffer */
  EI_ERR_VERSION,      /* format version this runtime does not read */
  EI_ERR_CHECKSUM,     /* CRC-32 mismatch: corrupted */
  EI_ERR_HEADER,       /* header fields inconsistent (section offsets, counts) */
  EI_ERR_TENSOR,       /* a tensor entry is invalid (dtype, rank, shape, offset outside its region) */
  EI_ERR_OP_UNKNOWN,   /* an op code the resolver does not register */
  EI_ERR_OP_INVALID,   /* an op's tensors or attributes are inconsistent with the op */
  EI_ERR_ARENA,        /* arena given is smaller than the model needs */
  EI_ERR_NOT_LOADED    /* invoke on a model that did not load */
} ei_status_t;

typedef enum { EI_DT_F32 = 0, EI_DT_F64 = 1, EI_DT_I32 = 2, EI_DT_I16 = 3, EI_DT_I8 = 4, EI_DT_U8 = 5,
               EI_DT_I64 = 6, EI_DT_U16 = 7, EI_DT_U32 = 8, EI_DT_BOOL = 9, EI_DT_COUNT } ei_dtype_t;
typedef enum { EI_TK_ARENA = 0, EI_TK_CONST = 1, EI_TK_INPUT = 2, EI_TK_OUTPUT = 3 } ei_tensor_kind_t;

#define EI_MAX_DIMS 4
#define EI_MAX_OP_TENSORS 8
#define EI_NO_TENSOR 0xFFFFu

/* On-buffer records (all little-endian, 4-byte fields; read in place). */
typedef struct {
  uint32_t magic, version, total_len, crc32;       /* crc32 covers bytes [16, total_len) */
  uint32_t n_tensors, n_ops, n_inputs, n_outputs;
  uint32_t tensors_off, ops_off, io_off, data_off, data_len;
  uint32_t arena_bytes, scratch_off, scratch_bytes;
} ei_header_t;                                    /* 64 bytes */

typedef struct {
  uint8_t dtype, kind, ndim, reserved;
  uint32_t dims[EI_MAX_DIMS];                       /* unused dims are 1 */
  uint32_t offset;                                  /* arena byte offset, data byte offset, or io index */
  float scale;                                      /* quantization (1.0 / 0 when not quantized) */
  int32_t zero_point;
} ei_tensor_rec_t;                                  /* 32 bytes */

typedef struct {
  uint16_t opcode;
  uint8_t n_in, n_out;
  uint16_t t[EI_MAX_OP_TENSORS];                     /* inputs then outputs; EI_NO_TENSOR: omitted */
  uint32_t attr_off, attr_words;                     /* uint32 words in the data section */
} ei_op_rec_t;                                       /* 28 bytes */

typedef struct ei_model ei_model_t;

/* An op: check its record once at load (return EI_OK or EI_ERR_OP_INVALID), run it at invoke. */
typedef struct {
  uint16_t opcode;
  ei_status_t (*prepare)(const ei_model_t *m, const ei_op_rec_t *op);
  void (*eval)(const ei_model_t *m, const ei_op_rec_t *op, const void *const *in, void *const *out);
} ei_op_reg_t;

typedef struct {
  const ei_op_reg_t *ops;
  uint32_t n_ops;
} ei_resolver_t;

struct ei_model {
  const uint8_t *buf;
  const ei_header_t *hdr;
  const ei_tensor_rec_t *tensors;
  const ei_op_rec_t *ops;
  const uint16_t *io;          /* tensor index of each input, then of each output */
  const uint8_t *data;
  uint8_t *arena;
  const ei_resolver_t *resolver;
  int loaded;
};

/* Validate buf (len bytes, 8-byte aligned) with every op registered. */
ei_status_t ei_model_load(ei_model_t *m, const void *buf, size_t len, void *arena, size_t arena_len);
ei_status_t ei_model_load_with(ei_model_t *m, const ei_resolver_t *resolver, const void *buf, size_t len,
                               void *arena, size_t arena_len);
/* Run one sample: inputs[i] / outputs[i] point to each graph input / output (sizes below). */
ei_status_t ei_model_invoke(const ei_model_t *m, const void *const *inputs, void *const *outputs);
const char *ei_status_str(ei_status_t s);
/* CRC-32 (zlib / IEEE 802.3) of n bytes: what the header's crc32 holds for bytes [16, total_len). */
uint32_t ei_crc32(const uint8_t *p, size_t n);

uint32_t ei_model_n_inputs(const ei_model_t *m);
uint32_t ei_model_n_outputs(const ei_model_t *m);
uint32_t ei_model_input_bytes(const ei_model_t *m, uint32_t i);
uint32_t ei_model_output_bytes(const ei_model_t *m, uint32_t i);
uint32_t ei_model_arena_bytes(const ei_model_t *m);

/* The resolver with every op of this runtime (ei_ops_all.c). */
extern const ei_resolver_t ei_resolver_all;

#ifdef __cplusplus
}
#endif

#endif /* EI_INTERP_H */
