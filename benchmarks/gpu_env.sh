#!/usr/bin/env bash
# Create the GPU/tensor benchmark's own environment: edgeinfer (editable) beside hummingbird-ml, the
# conversion tool it is compared with. torch is installed FIRST and pinned to the project's CPU build,
# so that hummingbird's plain `torch` requirement is already satisfied and pip never pulls a CUDA build.
# Usage: bash benchmarks/gpu_env.sh            (creates benchmarks/.venv-gpu)
#        GPU_VENV=/some/dir bash benchmarks/gpu_env.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${GPU_VENV:-$here/.venv-gpu}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet torch==2.13.0
"$venv/bin/python" -m pip install --quiet torch==2.13.0 hummingbird-ml scikit-learn onnx onnxruntime skl2onnx
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
"$venv/bin/python" - <<'PY'
import importlib
for m in ("edgeinfer", "numpy", "torch", "sklearn", "onnxruntime", "hummingbird"):
    mod = importlib.import_module(m)
    print(f"{m:12s} {getattr(mod, '__version__', '?')}")
PY
echo "gpu benchmark environment ready: $venv/bin/python benchmarks/gpu.py"
