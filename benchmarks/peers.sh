#!/usr/bin/env bash
# Create the benchmark's own environment: edgeinfer (editable) beside its C-generating peers.
# The peers live here, not in the project venv, so the project never depends on them.
# Usage: bash benchmarks/peers.sh            (creates benchmarks/.venv-peers)
#        PEERS_VENV=/some/dir bash benchmarks/peers.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${PEERS_VENV:-$here/.venv-peers}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# Versions that read scikit-learn 1.9 models (see benchmarks/README.md); torch is never pulled in.
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-peers.txt"
"$venv/bin/python" -m pip install --quiet --no-deps -e "$root"
"$venv/bin/python" - <<'PY'
import importlib
for m in ("edgeinfer", "sklearn", "emlearn", "m2cgen", "micromlgen", "treelite", "tl2cgen"):
    mod = importlib.import_module(m)
    print(f"{m:12s} {getattr(mod, '__version__', '?')}")
PY
echo "peers environment ready: $venv/bin/python benchmarks/classical_c.py"
