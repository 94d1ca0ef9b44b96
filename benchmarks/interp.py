"""Code generation vs the .eim interpreter (vs TFLite Micro where installed) on the zoo models, in one run.

Per model: model-file size (.eim) vs the float32 ``.tflite`` of a Keras twin with the same layers
of ``nn_float.py``'s Keras twin with the same weights (needs TensorFlow), arena bytes, and host
latency of the generated C, of the interpreter (both gcc -O3 -march=native, the model loaded
once, best of alternating passes in one process) and of the tflite-micro Python interpreter. Once: the
interpreter runtime's code size on cortex-m4 (arm-none-eabi-gcc -Os, linked with --gc-sections
and a resolver registering the zoo models' ops) against TFLite Micro's published figure for its
core runtime alone (no kernels), a lower bound on TFLM's size for the same kernel set.

    .venv/bin/python benchmarks/interp.py [--quick]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "interp.json"
#: TFLite Micro's documented core-runtime size on Cortex-M3 ("fits in 16 KB"), kernels excluded
TFLM_CORE_BYTES = 16 * 1024
ZOO_OPS = ["EI_REG_DENSE", "EI_REG_CONV", "EI_REG_GLOBAL_AVGPOOL", "EI_REG_BINARY", "EI_REG_UNARY",
           "EI_REG_SOFTMAX", "EI_REG_COPY"]


def _nn_float() -> Any:
    """benchmarks/nn_float.py: its Keras twins carry the torch zoo model's very weights (BN folded)."""
    sys.path.insert(0, str(HERE))
    import nn_float

    return nn_float


def tflite_twin(name: str, module: Any) -> bytes | None:
    """The float32 .tflite of the Keras twin of ``module`` (same layers, same weights); None without TensorFlow."""
    try:
        import tensorflow  # noqa: F401
    except Exception:
        return None
    nf = _nn_float()
    return nf.to_tflite(nf.keras_twin(name, module))


def tflm_latency_ns(tfl: bytes, x: np.ndarray, reps: int) -> dict | None:
    """The tflite-micro Python interpreter on the .tflite twin (None when the package is missing or fails)."""
    try:
        res = _nn_float().tflm_run(tfl, x if x.ndim == 2 else np.ascontiguousarray(x.transpose(0, 2, 3, 1)), reps, 3)
    except Exception as e:  # noqa: BLE001 - reported, not fatal: the other columns still stand
        print(f"tflite-micro: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    return {"latency_ns": res["latency_us"] * 1e3, "arena_bytes": res["arena_bytes"]}


def arm_runtime_size() -> dict[str, int] | None:
    """text+data of the runtime + kernels on cortex-m4, zoo ops registered, minus an empty program."""
    from edgeinfer.backends.interp.model import runtime_sources

    cc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not cc or not size:
        return None
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99",
             "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", "-specs=nano.specs", "-specs=nosys.specs"]
    main = ("#include \"ei_interp_ops.h\"\nstatic const ei_op_reg_t ops[] = {" + ", ".join(ZOO_OPS) + "};\n"
            "static const ei_resolver_t res = {ops, sizeof ops / sizeof ops[0]};\n"
            "extern const uint8_t *volatile g_buf; const uint8_t *volatile g_buf;\n"
            "static uint64_t arena[1024];\nint main(void) { ei_model_t m; const void *in[1] = {arena};"
            " void *out[1] = {arena};\n if (ei_model_load_with(&m, &res, g_buf, 64, arena, sizeof arena) == EI_OK)"
            " ei_model_invoke(&m, in, out);\n return 0; }\n")
    empty = "int main(void) { return 0; }\n"
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, v in runtime_sources().items():
            Path(tmp, k).write_text(v)
        Path(tmp, "main.c").write_text(main)
        Path(tmp, "empty.c").write_text(empty)
        srcs = [k for k in runtime_sources() if k.endswith(".c") and k != "ei_ops_all.c"]
        for tag, files in (("full", ["main.c", *srcs]), ("empty", ["empty.c"])):
            subprocess.run([cc, *flags, "-o", f"{tag}.elf", *files, "-lm"], cwd=tmp, check=True, capture_output=True)
            out = subprocess.run([size, f"{tag}.elf"], cwd=tmp, capture_output=True, text=True, check=True).stdout
            t, d, _ = (int(v) for v in out.splitlines()[1].split()[:3])
            res[tag] = t + d
    return {"runtime_code_bytes": res["full"] - res["empty"]}


def latency_ns(fn, n_min: float = 0.3, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < n_min:
            fn()
            reps += 1
        best = min(best, (time.perf_counter() - t0) / reps * 1e9)
    return best


def bench_model(name: str, quick: bool) -> dict:
    import torch

    import edgeinfer
    from edgeinfer import zoo
    from edgeinfer.backends.c.model import CModel
    from edgeinfer.backends.interp.model import InterpModel

    torch.manual_seed(0)
    module = zoo.MODELS[name]()
    _nn_float().randomise_batchnorm(module, 1)
    x = np.random.default_rng(0).standard_normal(zoo.INPUTS[name]).astype(np.float32)
    g = edgeinfer.load_graph(module, torch.from_numpy(x))
    c, it = CModel(g, name), InterpModel(g, name)
    ref = c.run(x)[g.outputs[0]]
    assert np.allclose(it.run(x)[g.outputs[0]], ref, rtol=1e-4, atol=1e-6)
    rows = 16 if name == "fc_autoencoder" else 4  # one ctypes call per batch, the same for both
    arr = [np.ascontiguousarray(np.repeat(x, rows, axis=0))]
    t_c, t_i = [], []
    for _ in range(3):  # alternate, so both see the same machine load
        t_c.append(latency_ns(lambda: c._run(arr)) / rows)
        t_i.append(latency_ns(lambda: it._run(arr)) / rows)
    invoke_ns = min(it.loaded().bench_ns(arr, 200 if name == "fc_autoencoder" else 10) for _ in range(3))
    tfl = tflite_twin(name, module)
    tflm = tflm_latency_ns(tfl, x, 20 if name == "fc_autoencoder" else 3) if tfl and not quick else None
    return {"model": name, "eim_bytes": len(it.data), "tflite_bytes": len(tfl) if tfl else None,
            "eim_over_tflite": len(it.data) / len(tfl) if tfl else None,
            "arena_bytes_interp": it.blob.arena_bytes, "arena_bytes_c": c.sources.arena_bytes,
            "latency_ns_c": min(t_c), "latency_ns_interp": min(t_i), "latency_ratio": min(t_i) / min(t_c),
            "invoke_ns_interp_timed_in_c": invoke_ns,
            "latency_ns_tflm_python": tflm["latency_ns"] if tflm else None,
            "arena_bytes_tflm": tflm["arena_bytes"] if tflm else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two small models")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    names = ["fc_autoencoder", "ds_cnn"] if a.quick else ["fc_autoencoder", "ds_cnn", "resnet8", "mobilenet_v1"]
    rows = [bench_model(n, a.quick) for n in names]
    arm = arm_runtime_size()
    print(f"{'model':<16}{'.eim B':>10}{'.tflite B':>11}{'arena B':>10}{'C ns':>12}{'interp ns':>12}{'ratio':>7}"
          f"{'TFLM ns':>12}")
    for r in rows:
        tflm = f"{r['latency_ns_tflm_python']:.0f}" if r["latency_ns_tflm_python"] else "-"
        print(f"{r['model']:<16}{r['eim_bytes']:>10}{str(r['tflite_bytes']):>11}{r['arena_bytes_interp']:>10}"
              f"{r['latency_ns_c']:>12.0f}{r['latency_ns_interp']:>12.0f}{r['latency_ratio']:>7.2f}{tflm:>12}")
    if arm:
        print(f"runtime code on cortex-m4 (zoo ops registered, -Os, gc-sections): {arm['runtime_code_bytes']} B; "
              f"TFLite Micro core runtime alone (documented): {TFLM_CORE_BYTES} B; "
              f"ratio <= {arm['runtime_code_bytes'] / TFLM_CORE_BYTES:.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"models": rows, "cortex_m4": arm, "tflm_core_bytes_documented": TFLM_CORE_BYTES,
                               "note": "host latency per sample (rows per ctypes call, same for C and interp), "
                                       "gcc -O3 -march=native for both, min of alternating passes; .tflite = Keras "
                                       "twin with the same weights (nn_float.py); TFLM = tflite-micro Python "
                                       "interpreter (x86 host build of TFLM)"},
                              indent=2))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    _ = ctypes  # ctypes is used through the models' libraries
    raise SystemExit(main())
