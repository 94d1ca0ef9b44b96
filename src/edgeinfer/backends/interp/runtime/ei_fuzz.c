/* ei_fuzz.c: libFuzzer target for ei_model_load + ei_model_invoke (host only, not shipped).
 *
 * The first input byte picks whether the CRC-32 is patched to match the mutated bytes, so
 * mutations reach the deeper checks (tensors, ops) instead of dying at the checksum.
 * Build: clang -fsanitize=fuzzer,address,undefined -I<kernels> ei_fuzz.c <runtime + kernels> -lm */
#include <stdlib.h>
#include <string.h>
#include "ei_interp.h"

#define EI_FUZZ_ARENA (64u * 1024u)
#define EI_FUZZ_IO (64u * 1024u)

static uint64_t ei_fuzz_buf[(1u << 20) / 8u];
static uint64_t ei_fuzz_arena[EI_FUZZ_ARENA / 8u];
static uint64_t ei_fuzz_io[16][EI_FUZZ_IO / 8u];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *buf = (uint8_t *)ei_fuzz_buf;
  ei_model_t m;
  const void *in[8];
  void *out[8];
  uint32_t i;
  int fix;
  if (size < 1 || size - 1 > sizeof ei_fuzz_buf) return 0;
  fix = data[0] & 1;
  size -= 1;
  memcpy(buf, data + 1, size);
  if (fix && size >= 16) {
    uint32_t crc = ei_crc32(buf + 16, size - 16);
    memcpy(buf + 12, &crc, 4);
  }
  if (ei_model_load(&m, buf, size, ei_fuzz_arena, sizeof ei_fuzz_arena) != EI_OK) return 0;
  if (ei_model_n_inputs(&m) > 8 || ei_model_n_outputs(&m) > 8) return 0;
  for (i = 0; i < ei_model_n_inputs(&m); ++i) {
    if (ei_model_input_bytes(&m, i) > EI_FUZZ_IO) return 0;
    memset(ei_fuzz_io[i], 0, ei_model_input_bytes(&m, i));
    in[i] = ei_fuzz_io[i];
  }
  for (i = 0; i < ei_model_n_outputs(&m); ++i) {
    if (ei_model_output_bytes(&m, i) > EI_FUZZ_IO) return 0;
    out[i] = ei_fuzz_io[8 + i];
  }
  ei_model_invoke(&m, in, out);
  return 0;
}
