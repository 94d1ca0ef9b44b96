/* ei_platform.h: what the measuring harness needs from a board's runtime.
 * One implementation per family: bare-metal Cortex-M (own startup, semihosting) and
 * stdio-based (picolibc semihosting on RISC-V, Linux for aarch64 and the host). */
#ifndef EI_PLATFORM_H
#define EI_PLATFORM_H

#include <stdint.h>

/* Write a NUL-terminated string to the console the emulator shows. */
void ei_put(const char *s);
/* Lowest and highest address of the stack, or 0 when the platform does not know them. */
uintptr_t ei_stack_lo(void);
uintptr_t ei_stack_hi(void);

#endif /* EI_PLATFORM_H */
