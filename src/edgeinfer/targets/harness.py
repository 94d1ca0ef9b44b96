"""The measuring harness: a ``main`` that runs ``<name>_infer`` on baked-in inputs.

Each inference is bracketed by calls to ``ei_begin`` / ``ei_end`` so an instruction
trace can be cut into inferences exactly; one empty bracket first measures the
bracket's own cost, which is subtracted. Outputs go to the console as hex bytes, so
the comparison with the IR reference is bit-exact, with no float formatting on the
target. The stack is painted before the runs and scanned after them for its high-water
mark (on boards whose runtime knows the stack bounds).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import ctype

HARNESS_FILE = "ei_harness.c"
INPUTS_FILE = "ei_inputs.c"


def _c_literal(v: float | int, dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.floating):
        # hex floats are exact: what the target computes on is what the reference saw
        return float(v).hex() + ("f" if dtype == np.float32 else "")
    return str(int(v))


def inputs_c(signature: dict, inputs: list[np.ndarray]) -> str:
    """``const`` input tables (so they sit in flash), one per model input, rows back to back."""
    lines = ["/* ei_inputs.c: inputs baked in by edgeinfer for measurement. */", "#include <stdint.h>", ""]
    n_rows = len(inputs[0])
    for i, ((_, dt, numel), arr) in enumerate(zip(signature["inputs"], inputs, strict=True)):
        dtype = np.dtype(dt)
        flat = np.ascontiguousarray(arr, dtype=dtype).reshape(-1)
        body = ",\n".join("  " + ", ".join(_c_literal(v, dtype) for v in flat[k:k + 8])
                          for k in range(0, len(flat), 8))
        decl = f"const {ctype(dt)} ei_in{i}[{n_rows * numel}]"
        lines += [f"extern {decl};", f"{decl} = {{\n{body}\n}};", ""]
    return "\n".join(lines)


def harness_c(name: str, signature: dict, n_rows: int) -> str:
    """``main``: stack paint, calibration bracket, one bracket per input row, report."""
    ins, outs = signature["inputs"], signature["outputs"]
    ext = [f"extern const {ctype(dt)} ei_in{i}[{n_rows * n}];" for i, (_, dt, n) in enumerate(ins)]
    bufs = [f"static {ctype(dt)} ei_out{i}[{n}];" for i, (_, dt, n) in enumerate(outs)]
    args = [f"ei_in{i} + (long)r * {n}" for i, (_, _, n) in enumerate(ins)]
    args += [f"ei_out{i}" for i in range(len(outs))]
    reports = [f"    ei_report(r, {i}, ei_out{i}, sizeof ei_out{i});" for i in range(len(outs))]
    return "\n".join([
        f"/* {HARNESS_FILE}: runs {name}_infer on baked-in inputs and reports outputs (hex bytes). */",
        "#include <stdint.h>", "#include <stddef.h>", "",
        '#include "ei_platform.h"', f'#include "{name}.h"', "",
        f"#define EI_N_ROWS {n_rows}",
        "#define EI_PAINT 0x5AA5C33Cu", "",
        *ext, "", *bufs, "",
        "void ei_begin(void);", "void ei_end(void);", "int main(void);", "",
        "/* Trace markers: never inlined, so their addresses cut the instruction trace. */",
        "__attribute__((noinline)) void ei_begin(void)", "{", '  __asm__ volatile("" ::: "memory");', "}", "",
        "__attribute__((noinline)) void ei_end(void)", "{", '  __asm__ volatile("" ::: "memory");', "}", "",
        "static char ei_hex(unsigned v)", "{", "  return (char)(v < 10 ? '0' + v : 'a' + v - 10);", "}", "",
        "static void ei_put_uint(char *p, unsigned long v)", "{",
        "  char tmp[24];", "  int n = 0;",
        "  do {", "    tmp[n++] = (char)('0' + v % 10);", "    v /= 10;", "  } while (v != 0);",
        "  while (n > 0) {", "    *p++ = tmp[--n];", "  }", "  *p = '\\0';", "}", "",
        "/* One line per output: EI_OUT <row> <output> <hex bytes>. */",
        "static void ei_report(int row, int out, const void *data, size_t n)", "{",
        "  static char line[64];", "  const uint8_t *b = (const uint8_t *)data;", "  size_t i, k = 0;",
        '  ei_put("EI_OUT ");', "  ei_put_uint(line, (unsigned long)row);", "  ei_put(line);",
        '  ei_put(" ");', "  ei_put_uint(line, (unsigned long)out);", "  ei_put(line);", '  ei_put(" ");',
        "  for (i = 0; i < n; ++i) {",
        "    line[k++] = ei_hex(b[i] >> 4);", "    line[k++] = ei_hex(b[i] & 15u);",
        "    if (k >= sizeof line - 2) {", "      line[k] = '\\0';", "      ei_put(line);", "      k = 0;",
        "    }", "  }", "  line[k++] = '\\n';", "  line[k] = '\\0';", "  ei_put(line);", "}", "",
        "static void ei_stack_paint(void)", "{",
        "  volatile uint32_t here = 0;", "  uintptr_t p = (ei_stack_lo() + 3u) & ~(uintptr_t)3u;",
        "  uintptr_t top = ((uintptr_t)&here - 256u) & ~(uintptr_t)3u;",
        "  if (ei_stack_lo() == 0) {", "    return;", "  }",
        "  for (; p < top; p += 4) {", "    *(volatile uint32_t *)p = EI_PAINT;", "  }", "}", "",
        "static unsigned long ei_stack_used(void)", "{",
        "  uintptr_t p = (ei_stack_lo() + 3u) & ~(uintptr_t)3u;",
        "  if (ei_stack_lo() == 0) {", "    return 0;", "  }",
        "  while (p < ei_stack_hi() && *(volatile uint32_t *)p == EI_PAINT) {", "    p += 4;", "  }",
        "  return (unsigned long)(ei_stack_hi() - p);", "}", "",
        "int main(void)", "{",
        "  static char num[24];", "  long r;",
        "  ei_stack_paint();",
        "  ei_begin();", "  ei_end();",
        "  for (r = 0; r < EI_N_ROWS; ++r) {",
        "    ei_begin();", f"    {name}_infer({', '.join(args)});", "    ei_end();",
        *reports,
        "  }",
        '  ei_put("EI_STACK ");', "  ei_put_uint(num, ei_stack_used());", "  ei_put(num);",
        '  ei_put("\\nEI_DONE\\n");',
        "  return 0;", "}", ""])
