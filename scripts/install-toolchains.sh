#!/usr/bin/env bash
# Install the system toolchains edgeinfer builds and runs artifacts with, when missing.
# Prints what it installs. Needs root (or sudo) for apt-get; skips politely otherwise.
set -euo pipefail

declare -A NEED=(
  [gcc]=gcc
  [arm-none-eabi-gcc]="gcc-arm-none-eabi libnewlib-arm-none-eabi"
  [qemu-system-arm]=qemu-system-arm
  [qemu-system-riscv32]=qemu-system-misc
  [riscv64-unknown-elf-gcc]="gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"
  [aarch64-linux-gnu-gcc]=gcc-aarch64-linux-gnu
  [qemu-aarch64]=qemu-user
  [clang]="clang libclang-rt-14-dev"
)
# Files (not commands) that a toolchain needs besides its compiler: C library headers.
declare -A NEED_FILE=(
  [/usr/aarch64-linux-gnu/include/stdio.h]=libc6-dev-arm64-cross
  [/usr/lib/arm-none-eabi/include/stdio.h]=libnewlib-arm-none-eabi
  [/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs]=picolibc-riscv64-unknown-elf
)
missing=()
for tool in "${!NEED[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=(${NEED[$tool]})
done
for f in "${!NEED_FILE[@]}"; do
  [ -e "$f" ] || missing+=(${NEED_FILE[$f]})
done
# one package may be needed by several tools: install it once
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')
if [ ${#missing[@]} -eq 0 ]; then
  echo "toolchains: all present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "toolchains: missing ${missing[*]} and not root: install them with apt-get" >&2; exit 0; fi
fi
echo "toolchains: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "toolchains: installed ${missing[*]}"
