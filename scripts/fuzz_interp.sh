#!/usr/bin/env bash
# Fuzz the .eim interpreter (ei_model_load + ei_model_invoke) with libFuzzer, ASan and UBSan,
# seeded with valid model files. Usage: bash scripts/fuzz_interp.sh [seconds, default 600] [work dir]
# A crash, hang or sanitizer report leaves its input in the work dir and a non-zero exit status.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-600}"
work="${2:-$root/build/fuzz_interp}"
python="${PYTHON:-$root/.venv/bin/python}"
cd "$root"
exec "$python" -m edgeinfer.backends.interp.fuzz --seconds "$seconds" --work "$work"
