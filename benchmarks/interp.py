"""Code generation vs the .eim interpreter (vs TFLite Micro where installed) on the zoo models, in one run.

Per model: model-file size (.eim) vs the float32 ``.tflite`` of a Keras twin with the same layers
(needs TensorFlow), arena bytes, and host latency of the generated C and of the interpreter
(gcc -O2, one sample per call, best of several passes, side by side in one process). Once: the
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
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "interp.json"
#: TFLite Micro's documented core-runtime size on Cortex-M3 ("fits in 16 KB"), kernels excluded
TFLM_CORE_BYTES = 16 * 1024
ZOO_OPS = ["EI_REG_DENSE", "EI_REG_CONV", "EI_REG_GLOBAL_AVGPOOL", "EI_REG_BINARY", "EI_REG_UNARY",
           "EI_REG_SOFTMAX", "EI_REG_COPY"]


def tflite_size(name: str) -> int | None:
    """Bytes of a float32 .tflite of a Keras model with the zoo model's layers (None without TensorFlow)."""
    try:
        import tensorflow as tf
    except Exception:
        return None
    k = tf.keras
    L = k.layers
    if name == "fc_autoencoder":
        x = inp = k.Input((640,))
        for n in [128] * 4 + [8] + [128] * 4:
            x = L.ReLU()(L.BatchNormalization()(L.Dense(n)(x)))
        out = L.Dense(640)(x)
    elif name == "ds_cnn":
        x = inp = k.Input((49, 10, 1))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, (10, 4), 2, padding="same")(x)))
        for _ in range(4):
            x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same")(x)))
            x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, 1)(x)))
        out = L.Softmax()(L.Dense(12)(L.GlobalAveragePooling2D()(x)))
    elif name == "resnet8":
        x = inp = k.Input((32, 32, 3))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(x)))
        for o, s in ((16, 1), (32, 2), (64, 2)):
            y = L.ReLU()(L.BatchNormalization()(L.Conv2D(o, 3, s, padding="same")(x)))
            y = L.BatchNormalization()(L.Conv2D(o, 3, padding="same")(y))
            skip = x if s == 1 and x.shape[-1] == o else L.Conv2D(o, 1, s)(x)
            x = L.ReLU()(L.Add()([y, skip]))
        out = L.Softmax()(L.Dense(10)(L.GlobalAveragePooling2D()(x)))
    else:
        x = inp = k.Input((96, 96, 3))
        x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 3, 2, padding="same")(x)))
        cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
        for o, s in cfg:
            x = L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3, s, padding="same")(x)))
            x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(max(8, o // 4), 1)(x)))
        out = L.Softmax()(L.Dense(2)(L.GlobalAveragePooling2D()(x)))
    conv = tf.lite.TFLiteConverter.from_keras_model(k.Model(inp, out))
    return len(conv.convert())


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


def bench_model(name: str) -> dict:
    import edgeinfer
    from edgeinfer import zoo
    from edgeinfer.backends.c.model import CModel
    from edgeinfer.backends.interp.model import InterpModel

    g = edgeinfer.load_graph(getattr(zoo, name)(), zoo.example_input(name))
    c, it = CModel(g, name), InterpModel(g, name)
    x = np.random.default_rng(0).standard_normal((1, *it.input_shape)).astype(np.float32)
    ref = c.run(x)[g.outputs[0]]
    assert np.allclose(it.run(x)[g.outputs[0]], ref, rtol=1e-4, atol=1e-6)
    rows = 16  # the interpreter validates (CRC over the whole file) once per batch call: amortised over rows
    arr = [np.ascontiguousarray(np.repeat(x, rows, axis=0))]
    t_c, t_i = [], []
    for _ in range(3):  # alternate, so both see the same machine load
        t_c.append(latency_ns(lambda: c._run(arr)) / rows)
        t_i.append(latency_ns(lambda: it._run(arr)) / rows)
    return {"model": name, "eim_bytes": len(it.data), "tflite_bytes": tflite_size(name),
            "arena_bytes_interp": it.blob.arena_bytes, "arena_bytes_c": c.sources.arena_bytes,
            "latency_ns_c": min(t_c), "latency_ns_interp": min(t_i), "latency_ratio": min(t_i) / min(t_c)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two small models")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    names = ["fc_autoencoder", "ds_cnn"] if a.quick else ["fc_autoencoder", "ds_cnn", "resnet8", "mobilenet_v1"]
    rows = [bench_model(n) for n in names]
    arm = arm_runtime_size()
    print(f"{'model':<16}{'.eim B':>10}{'.tflite B':>11}{'arena B':>10}{'C ns':>12}{'interp ns':>12}{'ratio':>7}")
    for r in rows:
        print(f"{r['model']:<16}{r['eim_bytes']:>10}{str(r['tflite_bytes']):>11}{r['arena_bytes_interp']:>10}"
              f"{r['latency_ns_c']:>12.0f}{r['latency_ns_interp']:>12.0f}{r['latency_ratio']:>7.2f}")
    if arm:
        print(f"runtime code on cortex-m4 (zoo ops registered, -Os, gc-sections): {arm['runtime_code_bytes']} B; "
              f"TFLite Micro core runtime alone (documented): {TFLM_CORE_BYTES} B; "
              f"ratio <= {arm['runtime_code_bytes'] / TFLM_CORE_BYTES:.2f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"models": rows, "cortex_m4": arm, "tflm_core_bytes_documented": TFLM_CORE_BYTES,
                               "note": "host latency, one sample per call, gcc -O2, min of alternating passes"},
                              indent=2))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    _ = ctypes  # ctypes is used through the models' libraries
    raise SystemExit(main())
