"""Quantization benchmark: the four MLPerf Tiny zoo models, float vs int8, edgeinfer's C vs LiteRT and TFLite Micro.

    .venv/bin/python benchmarks/quant.py [--quick]

Per model (random weights with non-trivial BatchNorm, as in nn_float.py; no labelled data exists for
them, so quality is agreement with the float model on held-out random inputs: top-1 agreement for
the classifiers, relative RMS error for the autoencoder):

* float: edgeinfer's float C of the torch model.
* edgeinfer int8: ``edgeinfer.quantize`` (min/max, per-channel weights) of the same model.
* TFLite int8: the Keras twin (same weights, nn_float.keras_twin) quantized by TensorFlow's converter
  with the same calibration inputs; run by TFLite Micro's Python interpreter (reference kernels), by
  LiteRT without delegates, and by edgeinfer's C after ``.tflite`` import (bytes checked equal to TFLM).

Sizes: flash = weights + code for Cortex-M4 (arm-none-eabi-gcc -Os); arena = edgeinfer's planned
arena (intermediates only) and that plus input and output, against TFLM's arena from its allocation
report (it holds inputs, outputs and bookkeeping). Latency: batch 1, one thread, best of rounds; the C
is timed inside one ctypes call over many inputs (no Python overhead per inference).
Writes benchmarks/results/quant.json and prints the README table.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nn_float as nf  # noqa: E402  (shared twin builder and peer runners)


def time_c(m: Any, x: np.ndarray, reps: int, rounds: int) -> tuple[float, np.ndarray]:
    """Best per-inference microseconds of a converted model's C, and its output for ``x[:1]``."""
    g = m.graph
    t_out = g.tensors[g.outputs[0]]
    out_shape = [d or 1 for d in t_out.shape]
    fn = m._fn()
    xs = np.ascontiguousarray(np.repeat(x[:1], reps, axis=0))
    ys = np.zeros((reps, *out_shape[1:]), t_out.dtype)
    y1 = np.zeros(out_shape, t_out.dtype)
    fn(ctypes.c_int32(1), ctypes.c_void_p(np.ascontiguousarray(x[:1]).ctypes.data), ctypes.c_void_p(y1.ctypes.data))
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn(ctypes.c_int32(reps), ctypes.c_void_p(xs.ctypes.data), ctypes.c_void_p(ys.ctypes.data))
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1e6, y1


def flash_m4(m: Any) -> int | None:
    from edgeinfer.backends.c.build import object_sizes

    if not shutil.which("arm-none-eabi-gcc"):
        return None
    from edgeinfer.errors import ToolchainError

    try:
        s = object_sizes(m.sources, cc="arm-none-eabi-gcc", flags=nf.M4_FLAGS)
    except ToolchainError:
        return None
    return int(s["text"] + s["data"])


def tf_int8(twin: Any, cal_nhwc: np.ndarray) -> bytes:
    """TensorFlow's full-integer PTQ of the twin (int8 in and out) on the same calibration inputs."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(twin)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([cal_nhwc[i:i + 1]] for i in range(len(cal_nhwc)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def quality(ref: np.ndarray, got: np.ndarray, classifier: bool) -> float:
    """Top-1 agreement with the float model, or (autoencoder) relative RMS error."""
    ref, got = ref.reshape(len(ref), -1), got.reshape(len(got), -1)
    if classifier:
        return float((ref.argmax(1) == got.argmax(1)).mean())
    return float(np.sqrt(np.mean((ref - got) ** 2)) / np.sqrt(np.mean(ref ** 2)))


def run(quick: bool) -> dict[str, Any]:
    import torch
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.python.tflite_micro import runtime

    import edgeinfer
    from edgeinfer import zoo
    from edgeinfer.errors import ToolchainError
    from edgeinfer.ir import run as ir_run

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rounds = 3 if quick else 5
    n_cal, n_test = (16, 32) if quick else (64, 100)
    res: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cpus",
                           "method": "batch 1, 1 thread, best of rounds; quality vs the float model on random inputs",
                           "models": {}}
    work = Path(tempfile.mkdtemp(prefix="ei_quant_"))
    for name in nf.MODELS:
        module = zoo.MODELS[name]()
        nf.randomise_batchnorm(module, 1)
        shape = zoo.INPUTS[name]
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n_cal + n_test, *shape[1:])).astype(np.float32)
        cal, test = X[:n_cal], X[n_cal:]
        nhwc = (lambda a: a) if len(shape) == 2 else (lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)))
        with torch.no_grad():
            ref = module(torch.from_numpy(test)).numpy()
        classifier = name != "fc_autoencoder"
        reps = 2000 if name == "fc_autoencoder" else 100
        if quick:
            reps //= 10
        row: dict[str, Any] = {}

        mf = edgeinfer.convert(module, torch.from_numpy(X[:1]), name=f"{name}_f32")
        row["float"] = {"flash_m4_bytes": flash_m4(mf), "arena_bytes": mf.sources.arena_bytes}
        try:
            row["float"]["latency_us"] = time_c(mf, test, reps, rounds)[0]
        except ToolchainError as err:  # the float kernels fail to build on the host: sizes still stand
            row["float"]["latency_us"], row["float"]["host_build_error"] = None, str(err)[-300:]

        q = edgeinfer.quantize(module, calibration=cal, example_input=torch.from_numpy(X[:1]))
        qout = ir_run(q, test)[q.outputs[0]]
        mq = edgeinfer.convert(q, name=f"{name}_ei8")
        lat_q, _ = time_c(mq, test, reps, rounds)
        row["edgeinfer_int8"] = {"quality": quality(ref, qout, classifier), "flash_m4_bytes": flash_m4(mq),
                                 "arena_bytes": mq.sources.arena_bytes, "latency_us": lat_q}

        twin = nf.keras_twin(name, module)
        tfl = tf_int8(twin, nhwc(cal))
        path = work / f"{name}_int8.tflite"
        path.write_bytes(tfl)
        it = Interpreter(model_content=tfl, num_threads=1,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        di, do = it.get_input_details()[0], it.get_output_details()[0]
        s_in, z_in = di["quantization"]
        s_out, z_out = do["quantization"]
        xq = np.clip(np.round(nhwc(test) / s_in) + z_in, -128, 127).astype(np.int8)
        tm = runtime.Interpreter.from_bytes(tfl, arena_size=4 << 20)
        tflm_out = []
        for i in range(len(xq)):
            tm.set_input(xq[i:i + 1], 0)
            tm.invoke()
            tflm_out.append(np.array(tm.get_output(0)).copy())
        tflm_out = np.concatenate(tflm_out)
        deq = (tflm_out.astype(np.float32) - z_out) * s_out
        mt = edgeinfer.convert(str(path), name=f"{name}_tfl8")
        c_out = mt.predict(xq)
        lat_t, _ = time_c(mt, xq, reps, rounds)

        def litert_call(x1: np.ndarray = xq[:1], it: Any = it, idx: int = di["index"]) -> None:
            it.set_tensor(idx, x1)
            it.invoke()

        litert_call()
        lr = np.concatenate([(litert_call(xq[i:i + 1]), it.get_tensor(do["index"]).copy())[1] for i in range(len(xq))])
        tflm_r = nf.tflm_run(tfl, xq[:1], max(reps // 20, 3), rounds)
        row["tflite_int8"] = {
            "quality": quality(ref, deq, classifier), "tflite_bytes": len(tfl),
            "edgeinfer_c": {"latency_us": lat_t, "arena_bytes": mt.sources.arena_bytes,
                            "arena_plus_io_bytes": mt.sources.arena_bytes + xq[:1].nbytes + tflm_out[:1].nbytes,
                            "flash_m4_bytes": flash_m4(mt),
                            "bytes_equal_tflm": float((c_out.reshape(tflm_out.shape) == tflm_out).mean())},
            "litert": {"latency_us": nf.best_of(litert_call, reps, rounds),
                       "max_lsb_vs_tflm": int(np.abs(lr.astype(int) - tflm_out.reshape(lr.shape)).max())},
            "tflm": {"latency_us": tflm_r["latency_us"], "arena_bytes": tflm_r["arena_bytes"]}}
        e, t = row["tflite_int8"]["edgeinfer_c"], row["tflite_int8"]
        row["bars"] = {
            "arena_le_tflm": e["arena_plus_io_bytes"] <= t["tflm"]["arena_bytes"],
            "flash_int8_over_float": (row["edgeinfer_int8"]["flash_m4_bytes"] or 0) / (row["float"]["flash_m4_bytes"]
                                                                                      or 1),
            "latency_over_tflm": e["latency_us"] / t["tflm"]["latency_us"],
            "latency_over_litert": e["latency_us"] / t["litert"]["latency_us"]}
        res["models"][name] = row
        print(f"{name}: done", file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return res


def _n(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def table(res: dict[str, Any]) -> str:
    cols = ["model", "quality float->ei int8", "quality float->TF int8", "flash f32 B", "flash ei int8 B",
            "int8/f32 flash", "C int8 arena+io B", "TFLM arena B", "C int8 us", "LiteRT int8 us", "TFLM us",
            "C/TFLM", "C/LiteRT", "C == TFLM bytes"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, r in res["models"].items():
        t, e, b = r["tflite_int8"], r["tflite_int8"]["edgeinfer_c"], r["bars"]
        qlab = "agree" if name != "fc_autoencoder" else "rel. RMS err"
        vals = [f"{nf.SHORT[name]} ({name})", f"{r['edgeinfer_int8']['quality']:.3f} {qlab}",
                f"{t['quality']:.3f}", _n(r["float"]["flash_m4_bytes"]), _n(r["edgeinfer_int8"]["flash_m4_bytes"]),
                f"{b['flash_int8_over_float']:.2f}", f"{e['arena_plus_io_bytes']:,}", f"{t['tflm']['arena_bytes']:,}",
                f"{e['latency_us']:.0f}", f"{t['litert']['latency_us']:.0f}", f"{t['tflm']['latency_us']:.0f}",
                f"{b['latency_over_tflm']:.3f}", f"{b['latency_over_litert']:.2f}", f"{e['bytes_equal_tflm']:.1%}"]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return nf.bench_main(argv, __doc__, run, table, "quant.json", "fewer inputs and repeats (a smoke run)")


if __name__ == "__main__":
    raise SystemExit(main())
