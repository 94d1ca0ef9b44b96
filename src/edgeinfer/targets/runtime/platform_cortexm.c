/* platform_cortexm.c: bare-metal start-up for Cortex-M under QEMU (MPS2 boards).
 * Vector table, reset (copy .data, zero .bss, enable the FPU when built for one),
 * console and exit through ARM semihosting (BKPT 0xAB). No C library start-up. */
#include <stdint.h>

#include "ei_platform.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sstack, _estack;
extern int main(void);

void ei_reset(void);
void ei_fault(void);

#define EI_SYS_WRITE0 0x04
#define EI_SYS_EXIT 0x18
#define EI_ADP_APPLICATION_EXIT 0x20026
#define EI_ADP_RUNTIME_ERROR 0x20023

/* Initial stack pointer, reset, NMI, the fault vectors, then unused slots. */
__attribute__((section(".isr_vector"), used))
const uintptr_t ei_vectors[16] = {
  (uintptr_t)&_estack, (uintptr_t)&ei_reset, (uintptr_t)&ei_fault, (uintptr_t)&ei_fault,
  (uintptr_t)&ei_fault, (uintptr_t)&ei_fault, (uintptr_t)&ei_fault, 0, 0, 0, 0,
  (uintptr_t)&ei_fault, (uintptr_t)&ei_fault, 0, (uintptr_t)&ei_fault, (uintptr_t)&ei_fault
};

static uint32_t ei_semihost(uint32_t op, uintptr_t arg)
{
  register uint32_t r0 __asm__("r0") = op;
  register uintptr_t r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void ei_put(const char *s)
{
  ei_semihost(EI_SYS_WRITE0, (uintptr_t)s);
}

uintptr_t ei_stack_lo(void)
{
  return (uintptr_t)&_sstack;
}

uintptr_t ei_stack_hi(void)
{
  return (uintptr_t)&_estack;
}

static void ei_exit(int ok)
{
  ei_semihost(EI_SYS_EXIT, ok ? EI_ADP_APPLICATION_EXIT : EI_ADP_RUNTIME_ERROR);
  for (;;) {
  }
}

/* A fault ends the run with an error instead of hanging the emulator. */
void ei_fault(void)
{
  ei_put("EI_FAULT\n");
  ei_exit(0);
}

void ei_reset(void)
{
  uint32_t *src = &_sidata;
  uint32_t *dst;
  for (dst = &_sdata; dst < &_edata; ++dst) {
    *dst = *src++;
  }
  for (dst = &_sbss; dst < &_ebss; ++dst) {
    *dst = 0;
  }
#if defined(__ARM_FP)
  /* CPACR: full access to coprocessors 10 and 11 (the FPU) before any float instruction. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  ei_exit(main() == 0);
}
