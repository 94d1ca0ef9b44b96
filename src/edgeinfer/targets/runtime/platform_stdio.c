/* platform_stdio.c: the harness console through the C library's stdout.
 * RISC-V: picolibc with its semihosting crt0 and stdio (exit status reaches QEMU);
 * Linux (aarch64 under qemu-user, the host): plain stdout. */
#include <stdint.h>
#include <stdio.h>

#include "ei_platform.h"

void ei_put(const char *s)
{
  fputs(s, stdout);
}

#if defined(__riscv) && !defined(__linux__)
/* picolibc.ld: the stack sits between the heap's end and __stack. */
extern uint8_t __heap_end[], __stack[];

uintptr_t ei_stack_lo(void)
{
  return (uintptr_t)__heap_end;
}

uintptr_t ei_stack_hi(void)
{
  return (uintptr_t)__stack;
}
#else
uintptr_t ei_stack_lo(void)
{
  return 0;
}

uintptr_t ei_stack_hi(void)
{
  return 0;
}
#endif
