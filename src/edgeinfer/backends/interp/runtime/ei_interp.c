/* ei_interp.c: loading (validation) and invocation of .eim models (see ei_interp.h). */
#include "ei_interp_ops.h"

const uint8_t ei_dtype_size[EI_DT_COUNT] = {4, 8, 4, 2, 1, 1, 8, 2, 4, 1};

uint32_t ei_crc32(const uint8_t *p, size_t n)
{
  /* a nibble at a time: 64 bytes of table in flash, ~4x the bitwise speed (load runs once per model) */
  static const uint32_t t[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
  uint32_t c = 0xFFFFFFFFu;
  size_t i;
  for (i = 0; i < n; ++i) {
    c ^= p[i];
    c = (c >> 4) ^ t[c & 15u];
    c = (c >> 4) ^ t[c & 15u];
  }
  return c ^ 0xFFFFFFFFu;
}

const char *ei_status_str(ei_status_t s)
{
  switch (s) {
  case EI_OK: return "ok";
  case EI_ERR_ARG: return "bad argument (NULL, or buffer / arena not 8-byte aligned)";
  case EI_ERR_TRUNCATED: return "buffer truncated (shorter than the length its header declares)";
  case EI_ERR_LENGTH: return "buffer longer than the length its header declares";
  case EI_ERR_MAGIC: return "not an .eim model (bad magic)";
  case EI_ERR_VERSION: return "unsupported .eim format version";
  case EI_ERR_CHECKSUM: return "checksum mismatch (corrupted model)";
  case EI_ERR_HEADER: return "inconsistent header (section outside the buffer or bad counts)";
  case EI_ERR_TENSOR: return "invalid tensor entry (dtype, shape or offset)";
  case EI_ERR_OP_UNKNOWN: return "op not registered in the resolver";
  case EI_ERR_OP_INVALID: return "op inconsistent with its tensors or attributes";
  case EI_ERR_ARENA: return "arena too small for this model";
  case EI_ERR_NOT_LOADED: return "model not loaded";
  }
  return "unknown status";
}

uint32_t ei_numel(const ei_tensor_rec_t *t)
{
  uint32_t n = 1, i;
  for (i = 0; i < EI_MAX_DIMS; ++i) {
    n *= t->dims[i];
  }
  return n;
}

/* 1 when [off, off + count * elem) lies inside [0, limit) and off is aligned to elem. */
static int ei_in_region(uint64_t off, uint64_t count, uint64_t elem, uint64_t limit)
{
  return elem > 0 && off % elem == 0 && count <= limit && off + count * elem <= limit;
}

/* 1 when count records of elem bytes from off lie inside [0, limit) (no alignment asked). */
static int ei_fits(uint64_t off, uint64_t count, uint64_t elem, uint64_t limit)
{
  return count <= limit && off + count * elem <= limit;
}

int ei_arena_apart(const ei_model_t *m, uint32_t ti, uint64_t off, uint64_t bytes)
{
  const ei_tensor_rec_t *t;
  uint64_t lo;
  if (ti == EI_NO_TENSOR) return 1;
  t = &m->tensors[ti];
  if (t->kind != EI_TK_ARENA) return 1;
  lo = t->offset;
  return lo + (uint64_t)ei_numel(t) * ei_dtype_size[t->dtype] <= off || off + bytes <= lo;
}

int ei_check_span(const ei_model_t *m, uint32_t off, uint32_t count, uint32_t elem)
{
  return ei_in_region(off, count, elem, m->hdr->data_len);
}

const ei_tensor_rec_t *ei_check_tensor(const ei_model_t *m, const ei_op_rec_t *op, uint32_t slot,
                                       int want_dtype, uint32_t want_numel)
{
  const ei_tensor_rec_t *t;
  if (slot >= (uint32_t)(op->n_in + op->n_out) || op->t[slot] == EI_NO_TENSOR) {
    return (const ei_tensor_rec_t *)0;
  }
  t = &m->tensors[op->t[slot]];
  if ((want_dtype >= 0 && t->dtype != (uint8_t)want_dtype) || (want_numel != 0 && ei_numel(t) != want_numel)) {
    return (const ei_tensor_rec_t *)0;
  }
  return t;
}

void *ei_tensor_data(const ei_model_t *m, uint32_t ti, const void *const *in, void *const *out)
{
  const ei_tensor_rec_t *t = &m->tensors[ti];
  switch (t->kind) {
  case EI_TK_ARENA: return m->arena + t->offset;
  case EI_TK_CONST: return (void *)(uintptr_t)(m->data + t->offset); /* never written: load refuses it as an output */
  case EI_TK_INPUT: return (void *)(uintptr_t)in[t->offset];
  default: return out[t->offset];
  }
}

static const ei_op_reg_t *ei_find_op(const ei_resolver_t *r, uint16_t code)
{
  uint32_t i;
  /* a resolver listing ops in op-code order (ei_resolver_all) is indexed directly */
  if (code >= 1u && code <= r->n_ops && r->ops[code - 1u].opcode == code) {
    return &r->ops[code - 1u];
  }
  for (i = 0; i < r->n_ops; ++i) {
    if (r->ops[i].opcode == code) {
      return &r->ops[i];
    }
  }
  return (const ei_op_reg_t *)0;
}

static ei_status_t ei_check_tensors(const ei_model_t *m)
{
  const ei_header_t *h = m->hdr;
  uint32_t i, d;
  for (i = 0; i < h->n_tensors; ++i) {
    const ei_tensor_rec_t *t = &m->tensors[i];
    uint64_t n = 1, size;
    if (t->dtype >= EI_DT_COUNT || t->kind > EI_TK_OUTPUT || t->ndim > EI_MAX_DIMS) {
      return EI_ERR_TENSOR;
    }
    for (d = 0; d < EI_MAX_DIMS; ++d) {
      if (t->dims[d] == 0 || (d >= t->ndim && t->dims[d] != 1)) {
        return EI_ERR_TENSOR;
      }
      n *= t->dims[d];
      if (n > 0x7FFFFFFFu) {
        return EI_ERR_TENSOR;
      }
    }
    size = ei_dtype_size[t->dtype];
    if (n * size > 0x7FFFFFFFu) {
      return EI_ERR_TENSOR;
    }
    switch (t->kind) {
    case EI_TK_ARENA:
      if (!ei_in_region(t->offset, n, size, h->arena_bytes) || t->offset % 8u != 0) return EI_ERR_TENSOR;
      break;
    case EI_TK_CONST:
      if (!ei_in_region(t->offset, n, size, h->data_len)) return EI_ERR_TENSOR;
      break;
    case EI_TK_INPUT:
      if (t->offset >= h->n_inputs || m->io[t->offset] != i) return EI_ERR_TENSOR;
      break;
    default:
      if (t->offset >= h->n_outputs || m->io[h->n_inputs + t->offset] != i) return EI_ERR_TENSOR;
      break;
    }
  }
  for (i = 0; i < h->n_inputs + h->n_outputs; ++i) {
    const uint32_t want = i < h->n_inputs ? EI_TK_INPUT : EI_TK_OUTPUT;
    const uint32_t idx = i < h->n_inputs ? i : i - h->n_inputs;
    if (m->io[i] >= h->n_tensors || m->tensors[m->io[i]].kind != want || m->tensors[m->io[i]].offset != idx) {
      return EI_ERR_TENSOR;
    }
  }
  return EI_OK;
}

static ei_status_t ei_check_ops(const ei_model_t *m)
{
  const ei_header_t *h = m->hdr;
  uint32_t i, s;
  for (i = 0; i < h->n_ops; ++i) {
    const ei_op_rec_t *op = &m->ops[i];
    const ei_op_reg_t *reg;
    ei_status_t st;
    if (op->n_in + op->n_out > EI_MAX_OP_TENSORS || op->n_out == 0) {
      return EI_ERR_OP_INVALID;
    }
    for (s = 0; s < (uint32_t)(op->n_in + op->n_out); ++s) {
      const uint16_t t = op->t[s];
      if (t == EI_NO_TENSOR) continue;
      if (t >= h->n_tensors) return EI_ERR_OP_INVALID;
      /* outputs go to the arena or the caller's buffers, never into the (read-only) model or inputs */
      if (s >= op->n_in && m->tensors[t].kind != EI_TK_ARENA && m->tensors[t].kind != EI_TK_OUTPUT) {
        return EI_ERR_OP_INVALID;
      }
    }
    if (!ei_in_region(op->attr_off, op->attr_words, 4, h->data_len)) {
      return EI_ERR_OP_INVALID;
    }
    reg = ei_find_op(m->resolver, op->opcode);
    if (!reg) {
      return EI_ERR_OP_UNKNOWN;
    }
    st = reg->prepare(m, op);
    if (st != EI_OK) {
      return st;
    }
  }
  return EI_OK;
}

ei_status_t ei_model_load_with(ei_model_t *m, const ei_resolver_t *resolver, const void *buf, size_t len,
                               void *arena, size_t arena_len)
{
  const uint8_t *b = (const uint8_t *)buf;
  const ei_header_t *h;
  uint64_t io_n;
  ei_status_t st;
  if (!m) {
    return EI_ERR_ARG;
  }
  memset(m, 0, sizeof *m);
  if (!b || !resolver || ((uintptr_t)b & 7u) != 0 || (arena && ((uintptr_t)arena & 7u) != 0)) {
    return EI_ERR_ARG;
  }
  if (len < sizeof(ei_header_t)) {
    return EI_ERR_TRUNCATED;
  }
  h = (const ei_header_t *)buf;
  if (h->magic != EI_FORMAT_MAGIC) return EI_ERR_MAGIC;
  if (h->version != EI_FORMAT_VERSION) return EI_ERR_VERSION;
  if (h->total_len > len) return EI_ERR_TRUNCATED;
  if (h->total_len < len) return EI_ERR_LENGTH;
  if (ei_crc32(b + 16, len - 16) != h->crc32) return EI_ERR_CHECKSUM;
  io_n = (uint64_t)h->n_inputs + h->n_outputs;
  if (h->n_inputs == 0 || h->n_outputs == 0 || h->n_tensors > EI_NO_TENSOR || io_n > h->n_tensors ||
      h->data_off % 8u != 0 ||
      !ei_fits(h->tensors_off, h->n_tensors, sizeof(ei_tensor_rec_t), len) || h->tensors_off % 4u ||
      !ei_fits(h->ops_off, h->n_ops, sizeof(ei_op_rec_t), len) || h->ops_off % 4u ||
      !ei_fits(h->io_off, io_n, 2, len) || h->io_off % 2u ||
      !ei_fits(h->data_off, h->data_len, 1, len) ||
      !ei_fits(h->scratch_off, h->scratch_bytes, 1, h->arena_bytes) || h->scratch_off % 8u) {
    return EI_ERR_HEADER;
  }
  if (h->arena_bytes > arena_len || (h->arena_bytes > 0 && !arena)) {
    return EI_ERR_ARENA;
  }
  m->buf = b;
  m->hdr = h;
  m->tensors = (const ei_tensor_rec_t *)(const void *)(b + h->tensors_off);
  m->ops = (const ei_op_rec_t *)(const void *)(b + h->ops_off);
  m->io = (const uint16_t *)(const void *)(b + h->io_off);
  m->data = b + h->data_off;
  m->arena = (uint8_t *)arena;
  m->resolver = resolver;
  st = ei_check_tensors(m);
  if (st == EI_OK) {
    st = ei_check_ops(m);
  }
  if (st != EI_OK) {
    memset(m, 0, sizeof *m);
    return st;
  }
  m->loaded = 1;
  return EI_OK;
}

ei_status_t ei_model_invoke(const ei_model_t *m, const void *const *inputs, void *const *outputs)
{
  uint32_t i;
  if (!m || !m->loaded) {
    return EI_ERR_NOT_LOADED;
  }
  if (!inputs || !outputs) {
    return EI_ERR_ARG;
  }
  for (i = 0; i < m->hdr->n_inputs; ++i) {
    if (!inputs[i]) return EI_ERR_ARG;
  }
  for (i = 0; i < m->hdr->n_outputs; ++i) {
    if (!outputs[i]) return EI_ERR_ARG;
  }
  for (i = 0; i < m->hdr->n_ops; ++i) {
    const ei_op_rec_t *op = &m->ops[i];
    ei_find_op(m->resolver, op->opcode)->eval(m, op, inputs, outputs);
  }
  return EI_OK;
}

uint32_t ei_model_n_inputs(const ei_model_t *m)
{
  return m && m->loaded ? m->hdr->n_inputs : 0u;
}

uint32_t ei_model_n_outputs(const ei_model_t *m)
{
  return m && m->loaded ? m->hdr->n_outputs : 0u;
}

static uint32_t ei_io_bytes(const ei_model_t *m, uint32_t i)
{
  const ei_tensor_rec_t *t = &m->tensors[m->io[i]];
  return ei_numel(t) * ei_dtype_size[t->dtype];
}

uint32_t ei_model_input_bytes(const ei_model_t *m, uint32_t i)
{
  return m && m->loaded && i < m->hdr->n_inputs ? ei_io_bytes(m, i) : 0u;
}

uint32_t ei_model_output_bytes(const ei_model_t *m, uint32_t i)
{
  return m && m->loaded && i < m->hdr->n_outputs ? ei_io_bytes(m, m->hdr->n_inputs + i) : 0u;
}

uint32_t ei_model_arena_bytes(const ei_model_t *m)
{
  return m && m->loaded ? m->hdr->arena_bytes : 0u;
}
