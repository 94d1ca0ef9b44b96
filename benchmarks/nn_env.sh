#!/usr/bin/env bash
# Create the neural-network benchmark's own environment: edgeinfer (editable) beside the runtimes it
# is compared with (ONNX Runtime, LiteRT, the tflite-micro Python interpreter) and TensorFlow, which
# builds the Keras twins of the zoo models that the TFLite runtimes need. TensorFlow is heavy and
# pins its own numpy, so it lives here, never in the project venv (`make test` does not need it).
# Usage: bash benchmarks/nn_env.sh            (creates benchmarks/.venv-nn)
#        NN_VENV=/some/dir bash benchmarks/nn_env.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${NN_VENV:-$here/.venv-nn}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The CPU build of torch first: anything asking for plain `torch` later is then already satisfied.
"$venv/bin/python" -m pip install --quiet torch==2.13.0
"$venv/bin/python" -m pip install --quiet tensorflow-cpu ai-edge-litert tflite-micro onnx onnxruntime
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
"$venv/bin/python" - <<'PY'
import importlib
for m in ("edgeinfer", "numpy", "torch", "onnx", "onnxruntime", "tensorflow", "ai_edge_litert", "tflite_micro"):
    mod = importlib.import_module(m)
    print(f"{m:16s} {getattr(mod, '__version__', '?')}")
PY
echo "nn benchmark environment ready: $venv/bin/python benchmarks/nn_float.py"
