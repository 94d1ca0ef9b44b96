"""Float32 neural-network benchmark: the four MLPerf Tiny zoo models through edgeinfer's generated C
against ONNX Runtime, LiteRT (with and without XNNPACK) and the tflite-micro Python interpreter.

Run in the benchmark's own environment (TensorFlow is needed only here, to build the TFLite models):

    bash benchmarks/nn_env.sh && benchmarks/.venv-nn/bin/python benchmarks/nn_float.py [--quick]

Why the models are built twice: there is no converter from torch/ONNX to TFLite that installs beside
this project's onnx, so each zoo model gets a Keras twin with the very same weights (BatchNorm folded
into the conv/dense before it, which is what the TFLite converter does anyway), converted with
``tf.lite.TFLiteConverter``. edgeinfer and ONNX Runtime run the torch model's ONNX export; the TFLite
runtimes run the twin; the script checks that all outputs agree before timing anything. Where torch's
symmetric padding differs from TensorFlow's 'same' (DS-CNN's first conv, every stride-2 3x3 conv) the
twin has an explicit ZeroPadding2D, so TFLite gets a PAD op there.

Latency: batch 1, one thread, best of 21 rounds (3 with ``--quick``) of a timed loop: on a shared machine the
best of fewer rounds still often carried another process's burst, for one runtime and not the other.
edgeinfer's C (the host build of backends/c/build.py: gcc -O3 -march=native) is timed inside C: one
ctypes call runs ``<name>_infer`` over many copies of the input, so the figure carries no Python overhead.
RAM: edgeinfer's planned arena (intermediate tensors;
input and output are the caller's buffers) and that plus input and output, against TFLM's arena as its
own allocation report gives it (it holds inputs, outputs and its bookkeeping). Flash: edgeinfer's
weights + code for Cortex-M4 (arm-none-eabi-gcc -Os, hard float), against the .tflite file size
(TFLM's interpreter code comes on top of that and is not counted).
Writes benchmarks/results/nn_float.json and prints the table that benchmarks/README.md shows.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = ["fc_autoencoder", "ds_cnn", "resnet8", "mobilenet_v1"]
SHORT = {"fc_autoencoder": "AD", "ds_cnn": "KWS", "resnet8": "IC", "mobilenet_v1": "VWW"}
M4_FLAGS = ["-Os", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


# --- the models ----------------------------------------------------------------------------------
def randomise_batchnorm(module: Any, seed: int) -> None:
    """Give every BatchNorm non-trivial statistics so that folding is exercised, not an identity."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for mod in module.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = mod.num_features
            mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            mod.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            mod.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def _fold(conv: Any, bn: Any | None) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) of a torch conv/linear with the following BatchNorm folded in (float64)."""
    w = conv.weight.detach().double().numpy()
    b = conv.bias.detach().double().numpy() if conv.bias is not None else np.zeros(w.shape[0])
    if bn is not None:
        k = bn.weight.detach().double().numpy() / np.sqrt(bn.running_var.double().numpy() + bn.eps)
        w = w * k.reshape(-1, *([1] * (w.ndim - 1)))
        b = (b - bn.running_mean.double().numpy()) * k + bn.bias.detach().double().numpy()
    return w, b


def _layers(seq: Any) -> list[tuple[Any, Any | None, str | None]]:
    """Flatten a torch Sequential into (conv-or-linear, batchnorm, activation) triples."""
    from torch import nn

    out: list[list[Any]] = []
    for mod in seq:
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            out.append([mod, None, None])
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            out[-1][1] = mod
        elif isinstance(mod, (nn.ReLU, nn.ReLU6)):
            out[-1][2] = "relu6" if isinstance(mod, nn.ReLU6) else "relu"
        elif isinstance(mod, nn.Softmax):
            out[-1][2] = "softmax"
    return [tuple(x) for x in out]  # type: ignore[misc]


def _same_matches(n: int, k: int, st: int, p: int) -> bool:
    """Whether TensorFlow's 'same' (ceil(n/st) outputs, total pad // 2 before) equals torch's pad p."""
    out = -(-n // st)
    return (n + 2 * p - k) // st + 1 == out and max((out - 1) * st + k - n, 0) // 2 == p


def _keras_conv(tf: Any, x: Any, conv: Any, bn: Any, act: str | None) -> Any:
    """A Keras conv (or depthwise conv) equal to torch's ``conv`` + ``bn`` + ``act`` on NHWC ``x``."""
    w, b = _fold(conv, bn)
    kh, kw = conv.kernel_size
    s = conv.stride
    ph, pw = conv.padding
    h, wd = int(x.shape[1]), int(x.shape[2])
    same = all(_same_matches(n, k, st, p) for n, k, st, p in ((h, kh, s[0], ph), (wd, kw, s[1], pw)))
    padding = "same" if same else "valid"
    if not same and (ph or pw):
        x = tf.keras.layers.ZeroPadding2D(((ph, ph), (pw, pw)))(x)
    activation = {"relu": "relu", "relu6": tf.nn.relu6, None: None}[act]
    if conv.groups > 1:
        layer = tf.keras.layers.DepthwiseConv2D((kh, kw), s, padding, activation=activation)
        y = layer(x)
        layer.set_weights([w.transpose(2, 3, 0, 1).astype(np.float32), b.astype(np.float32)])
    else:
        layer = tf.keras.layers.Conv2D(conv.out_channels, (kh, kw), s, padding, activation=activation)
        y = layer(x)
        layer.set_weights([w.transpose(2, 3, 1, 0).astype(np.float32), b.astype(np.float32)])
    return y


def _keras_dense(tf: Any, x: Any, lin: Any, bn: Any, act: str | None) -> Any:
    w, b = _fold(lin, bn)
    layer = tf.keras.layers.Dense(lin.out_features, activation={"relu": "relu", "softmax": "softmax", None: None}[act])
    y = layer(x)
    layer.set_weights([w.T.astype(np.float32), b.astype(np.float32)])
    return y


def keras_twin(name: str, module: Any) -> Any:
    """The Keras model computing what the torch zoo model computes (NHWC input, same weights)."""
    import tensorflow as tf
    from torch import nn

    from edgeinfer import zoo

    shape = zoo.INPUTS[name][1:]
    if name == "fc_autoencoder":
        inp = tf.keras.Input(shape, batch_size=1)
        x = inp
        for lin, bn, act in _layers(module):
            x = _keras_dense(tf, x, lin, bn, act)
        return tf.keras.Model(inp, x)
    c, h, w = shape
    inp = tf.keras.Input((h, w, c), batch_size=1)
    x = inp

    def run_seq(x: Any, seq: Any) -> Any:
        for layer, bn, act in _layers(seq):
            if isinstance(layer, nn.Linear):
                x = _keras_dense(tf, x, layer, bn, act)
            else:
                x = _keras_conv(tf, x, layer, bn, act)
        return x

    mods = list(module)
    for mod in mods:
        if isinstance(mod, nn.AdaptiveAvgPool2d):
            x = tf.keras.layers.GlobalAveragePooling2D()(x)
        elif isinstance(mod, nn.Flatten):
            pass
        elif hasattr(mod, "skip"):  # a ResNet block: relu(a(x) + skip(x))
            y = run_seq(x, mod.a)
            sk = x if isinstance(mod.skip, nn.Identity) else _keras_conv(tf, x, mod.skip, None, None)
            x = tf.keras.layers.ReLU()(tf.keras.layers.Add()([y, sk]))
        elif isinstance(mod, (nn.Conv2d, nn.Linear)):
            pass  # handled with its BatchNorm/activation below
        else:
            continue
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            idx = mods.index(mod)
            group = [mod]
            for nxt in mods[idx + 1:]:
                if isinstance(nxt, (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Softmax)):
                    group.append(nxt)
                else:
                    break
            x = run_seq(x, group)
    return tf.keras.Model(inp, x)


def to_tflite(model: Any) -> bytes:
    """Float TFLite flatbuffer of a Keras model, weights frozen into constants (no variable ops)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec(model.inputs[0].shape, tf.float32)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(fn)
    return tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()


# --- timing --------------------------------------------------------------------------------------
def best_of(fn: Callable[[], Any], reps: int, rounds: int) -> float:
    """Best per-call time in microseconds over ``rounds`` loops of ``reps`` calls."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1e6


def edgeinfer_c(name: str, module: Any, x: np.ndarray, reps: int, rounds: int) -> dict[str, Any]:
    import edgeinfer
    from edgeinfer.backends.c.build import object_sizes

    m = edgeinfer.convert(module, _torch(x), name=name)
    fn = m._fn()
    out_shape = [d or 1 for d in m.graph.tensors[m.graph.outputs[0]].shape]
    xs = np.ascontiguousarray(np.repeat(x, reps, axis=0))
    ys = np.zeros((reps, *out_shape[1:]), np.float32)
    y1 = np.zeros(out_shape, np.float32)
    fn(ctypes.c_int32(1), ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y1.ctypes.data))
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn(ctypes.c_int32(reps), ctypes.c_void_p(xs.ctypes.data), ctypes.c_void_p(ys.ctypes.data))
        best = min(best, (time.perf_counter() - t) / reps)
    flash = None
    if shutil.which("arm-none-eabi-gcc"):
        s = object_sizes(m.sources, cc="arm-none-eabi-gcc", flags=M4_FLAGS)
        flash = s["text"] + s["data"]
    io_bytes = x.nbytes + y1.nbytes
    return {"latency_us": best * 1e6, "output": y1, "arena_bytes": m.sources.arena_bytes,
            "arena_plus_io_bytes": m.sources.arena_bytes + io_bytes,
            "arena_naive_bytes": m.graph.metadata.get("arena_naive_bytes"), "flash_m4_bytes": flash,
            "const_bytes": m.sources.const_bytes}


def _torch(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(x)


def onnxruntime_run(module: Any, x: np.ndarray, reps: int, rounds: int) -> dict[str, Any]:
    import onnxruntime as ort
    import torch

    buf = io.BytesIO()
    torch.onnx.export(module, _torch(x), buf, dynamo=False, input_names=["x"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"x": x})[0]
    return {"latency_us": best_of(lambda: sess.run(None, {"x": x}), reps, rounds), "output": out}


def litert_run(tfl: bytes, x: np.ndarray, xnnpack: bool, reps: int, rounds: int) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tfl, num_threads=1, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def call() -> None:
        it.set_tensor(i, x)
        it.invoke()

    call()
    out = it.get_tensor(o).copy()
    return {"latency_us": best_of(call, reps, rounds), "output": out}


def _capture_fd1(fn: Callable[[], Any]) -> str:
    """What C++ code prints on file descriptor 1 while ``fn`` runs."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            fn()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def tflm_run(tfl: bytes, x: np.ndarray, reps: int, rounds: int) -> dict[str, Any]:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(tfl, arena_size=4 << 20)

    def call() -> None:
        it.set_input(x, 0)
        it.invoke()

    call()
    out = np.array(it.get_output(0)).copy()
    report = _capture_fd1(it.print_allocations)
    arena = _tflm_arena(report)
    if arena is None:  # no report: the smallest arena that still allocates, by bisection
        lo, hi = 1024, 4 << 20
        while hi - lo > 64:
            mid = (lo + hi) // 2
            try:
                t = runtime.Interpreter.from_bytes(tfl, arena_size=mid)
                t.set_input(x, 0)
                t.invoke()
                hi = mid
            except Exception:  # noqa: BLE001 - any failure to allocate means too small
                lo = mid
        arena = hi
    return {"latency_us": best_of(call, reps, rounds), "output": out, "arena_bytes": arena, "report": report}


def _tflm_arena(report: str) -> int | None:
    m = re.search(r"[Tt]otal[^\n]*?(\d+)\s*bytes", report) or re.search(r"arena_used_bytes[^\d]*(\d+)", report)
    return int(m.group(1)) if m else None


# --- the run -------------------------------------------------------------------------------------
def run(quick: bool) -> dict[str, Any]:
    import torch

    from edgeinfer import zoo

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rounds = 3 if quick else 21
    results: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cpus",
                               "method": "batch 1, 1 thread, float32, best of rounds", "models": {}}
    for name in MODELS:
        module = zoo.MODELS[name]()
        randomise_batchnorm(module, 1)
        x = np.random.default_rng(0).standard_normal(zoo.INPUTS[name]).astype(np.float32)
        with torch.no_grad():
            ref = module(_torch(x)).numpy()
        twin = keras_twin(name, module)
        x_tf = x if x.ndim == 2 else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        tfl = to_tflite(twin)
        reps = 2000 if name == "fc_autoencoder" else 100
        if quick:
            reps //= 10
        r: dict[str, Any] = {}
        r["edgeinfer"] = edgeinfer_c(name, module, x, reps, rounds)
        r["onnxruntime"] = onnxruntime_run(module, x, reps, rounds)
        r["litert"] = litert_run(tfl, x_tf, False, reps, rounds)
        r["litert_xnnpack"] = litert_run(tfl, x_tf, True, reps, rounds)
        r["tflm"] = tflm_run(tfl, x_tf, max(reps // 20, 3), rounds)
        row: dict[str, Any] = {"tflite_bytes": len(tfl)}
        for k, v in r.items():
            err = float(np.max(np.abs(np.asarray(v.pop("output"), np.float32).reshape(ref.shape) - ref)))
            v.pop("report", None)
            v["max_abs_diff_vs_torch"] = err
            row[k] = v
        e, t = row["edgeinfer"], row["tflm"]
        row["arena_ratio_vs_tflm"] = e["arena_bytes"] / t["arena_bytes"]
        row["latency_ratio_vs_ort"] = e["latency_us"] / row["onnxruntime"]["latency_us"]
        row["latency_ratio_vs_litert"] = e["latency_us"] / row["litert"]["latency_us"]
        results["models"][name] = row
        print(f"{name}: done", file=sys.stderr, flush=True)
    return results


def table(res: dict[str, Any]) -> str:
    cols = ["model", "edgeinfer C us", "ORT us", "LiteRT us", "LiteRT+XNNPACK us", "TFLM us",
            "edgeinfer arena B", "+ in/out B", "TFLM arena B", "arena ratio", "M4 flash B", ".tflite B",
            "C/ORT", "C/LiteRT", "max |diff|"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, r in res["models"].items():
        e = r["edgeinfer"]
        diff = max(v["max_abs_diff_vs_torch"] for k, v in r.items() if isinstance(v, dict))
        vals = [f"{SHORT[name]} ({name})", f"{e['latency_us']:.0f}", f"{r['onnxruntime']['latency_us']:.0f}",
                f"{r['litert']['latency_us']:.0f}", f"{r['litert_xnnpack']['latency_us']:.0f}",
                f"{r['tflm']['latency_us']:.0f}", f"{e['arena_bytes']:,}", f"{e['arena_plus_io_bytes']:,}",
                f"{r['tflm']['arena_bytes']:,}", f"{r['arena_ratio_vs_tflm']:.2f}",
                f"{e['flash_m4_bytes']:,}" if e["flash_m4_bytes"] else "-", f"{r['tflite_bytes']:,}",
                f"{r['latency_ratio_vs_ort']:.2f}", f"{r['latency_ratio_vs_litert']:.2f}", f"{diff:.1e}"]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def bench_main(argv: list[str] | None, doc: str, run_fn: Any, table_fn: Any, out_name: str,
               quick_help: str) -> int:
    """The command line every zoo benchmark shares: run, print the table, write it with the results as JSON."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--out", default=str(HERE / "results" / out_name))
    args = ap.parse_args(argv)
    res = run_fn(args.quick)
    text = table_fn(res)
    print(text)
    res["table"] = text
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench_main(argv, __doc__, run, table, "nn_float.json", "fewer repeats (a smoke run, not for the README)")


if __name__ == "__main__":
    raise SystemExit(main())
