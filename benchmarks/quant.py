"""Quantization benchmark: the four MLPerf Tiny zoo models and scikit-learn classical models, float vs int8
vs 16-bit, edgeinfer's C vs LiteRT and TFLite Micro, in one run.

    .venv/bin/python benchmarks/quant.py [--quick] [--part all|zoo|classical] [--out FILE]
                                         [--zoo-models ds_cnn,...] [--datasets wine,...] [--classical-models lr,...]

A partial run (``--part``) keeps the other part's results from ``--out`` when that file exists.

**Zoo part.** Per model (random weights, no labelled data exists for them, so quality is agreement with
the float model on 100 held-out inputs: top-1 agreement for the classifiers, relative RMS error for the
autoencoder; 256 calibration inputs, as min/max ranges from fewer clip held-out inputs: with 64, the
autoencoder's error was 0.21 for int8 and 16x8 alike, TensorFlow's too). The random network is made
input-dependent first: inputs are smooth random fields (i.i.d. noise averages out under global
pooling), every BatchNorm keeps nn_float's random scale and shift but takes its statistics from the
calibration inputs (so each layer passes a normalised signal on instead of shrinking it to its biases),
and a classifier's last Linear is rescaled so that its logits have zero mean and standard deviation 2
on those inputs (neither a flat nor a saturated softmax). Without this every output was the same for
every input and top-1 agreement was 0 or 1 by the luck of one near-tie. These random networks amplify
small perturbations: ``float@int8 input`` is the float model's
own agreement when only its input is rounded to the int8 grid, the floor to read the others against.

* float: edgeinfer's float C of the torch model.
* edgeinfer int8 / 16x8: ``edgeinfer.quantize(..., scheme="int8" | "int16x8")`` of the same model (min/max,
  per-channel weights); quality from the IR reference, the C checked against it.
* TFLite int8 / 16x8: the Keras twin (same weights, nn_float.keras_twin) quantized by TensorFlow's
  converter (``TFLITE_BUILTINS_INT8`` / ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``,
  integer input and output) on the same calibration inputs; run by TFLite Micro's Python interpreter
  (reference kernels), by LiteRT without delegates, and by edgeinfer's C after ``.tflite`` import (the
  fraction of output bytes equal to TFLM's). Where edgeinfer has no 16-bit form of an op yet, the
  column says n/a and the JSON keeps the refusal message.

**Classical part.** digits, breast_cancer, wine (``train_test_split(test_size=0.3, random_state=0,
stratify=y)``); RandomForest (20 trees, depth 8), GradientBoosting (15 rounds, depth 3), StandardScaler +
LogisticRegression, StandardScaler + MLP (32 relu), StandardScaler + SVC (rbf): accuracy on the held-out
split of the float model (edgeinfer's float C, whose labels are checked against scikit-learn's) and of
its fixed-point forms ``edgeinfer.quantize(est, X_train, scheme="int16" | "int8")`` (integer features,
no float in the C), their agreement with the float labels, flash on Cortex-M4 and Cortex-M0+ (no FPU:
the float model links soft-float), arena, host latency per row.

Flash: the model built for the board (``edgeinfer.targets.build``: the board's arm-none-eabi-gcc flags,
-Os, -ffunction-sections, linked with --gc-sections) minus the same build with a stub model of the same
signature, so the figure is the model's own code, constants, and the compiler-runtime / libc code it
pulls in (soft-float on the M0+, none of it shared with the harness). The per-object sum before linking
(the figure of earlier runs) is in the JSON as ``objects``. Arena: edgeinfer's planned arena
(intermediates), and that plus input and output against TFLM's arena from its allocation report (it
holds inputs, outputs and bookkeeping). Latency: batch 1, one thread, best of rounds; the C is timed
inside one ctypes call over many inputs (no Python overhead per inference).
Writes benchmarks/results/quant.json and prints the README tables.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nn_float as nf  # noqa: E402  (shared twin builder, peer runners and command-line driver)

PARTS = ("zoo", "classical")
DATASETS = ("digits", "breast_cancer", "wine")
CLASSICAL_MODELS = ("rf", "gb", "lr", "mlp", "svc")
BOARDS = ("cortex-m4", "cortex-m0plus")
LOGIT_STD = 2.0


# --- measuring -----------------------------------------------------------------------------------
def time_c(m: Any, x: np.ndarray, reps: int, rounds: int) -> tuple[float, np.ndarray]:
    """Best per-inference microseconds of a converted model's C over ``reps`` copies of ``x[:1]``, and
    its output for ``x[:1]``."""
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


def time_rows(m: Any, X: np.ndarray, min_rows: int, rounds: int) -> float:
    """Best nanoseconds per row of a classical model's C over its test rows (repeated to ``min_rows``),
    every output buffered (labels and scores), one ctypes call per pass."""
    reps = max(1, -(-min_rows // len(X)))
    xs = np.ascontiguousarray(np.tile(X, (reps, 1)))
    outs = [np.zeros((len(xs), *[d or 1 for d in (m.graph.tensors[o].shape or ())[1:]]), m.graph.tensors[o].dtype)
            for o in m.graph.outputs]
    fn = m._fn()
    ptrs = [ctypes.c_void_p(xs.ctypes.data)] + [ctypes.c_void_p(o.ctypes.data) for o in outs]
    fn(ctypes.c_int32(len(xs)), *ptrs)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn(ctypes.c_int32(len(xs)), *ptrs)
        best = min(best, (time.perf_counter() - t) / len(xs))
    return best * 1e9


def _stub_sources(src: Any) -> Any:
    """The same header and signature with an empty ``<name>_infer``: the harness-only baseline image."""
    from edgeinfer.backends.c.emit import CSources

    args = [p.replace("*", " ").split()[-1] for p in src.signature["params"]]
    body = "".join(f"  (void){a};\n" for a in args)
    c = (f'#include "{src.name}.h"\n\nvoid {src.name}_infer({", ".join(src.signature["params"])})\n'
         f"{{\n{body}}}\n")
    return CSources(name=src.name, files={f"{src.name}.h": src.files[f"{src.name}.h"], f"{src.name}.c": c},
                    signature=src.signature)


_LIB = re.compile(r"(lib\w+\.a)\(([^)]+)\)")
# libgcc's floating-point members (addsf3.o, _arm_muldf3.o, fixsfsi.o, floatsisf.o, extendsfdf2.o, ...)
_SOFT_FLOAT = re.compile(r"libgcc\.a\(\w*(sf|df)\w*\.o\)")
_BASELINES: dict[tuple[str, str], dict[str, Any]] = {}


def _board_image(src: Any, board: str, work: Path, kernels: str = "reference") -> dict[str, Any]:
    """Linked flash of ``src`` on ``board``, its pre-link object sum, and the library members it pulled in."""
    from edgeinfer.targets import build
    from edgeinfer.targets.sizes import map_object_sizes

    out = Path(tempfile.mkdtemp(prefix=f"{src.name}_{board}_", dir=work))
    r = build(src, board, out, kernels=kernels)
    map_text = (out / f"{src.name}.map").read_text(errors="replace")
    body = map_text[map_text.find("Linker script and memory map"):]
    members = sorted({f"{a}({m})" for a, m in _LIB.findall(body)})
    lib_flash = {m: map_object_sizes(out / f"{src.name}.map", {m})["flash"] for m in members}
    objs = [k[:-2] + ".o" for k in src.files if k.endswith(".c")]
    size = subprocess.run(["arm-none-eabi-size", "-B", *objs], cwd=out, capture_output=True, text=True, check=True)
    objects = sum(int(ln.split()[0]) + int(ln.split()[1]) for ln in size.stdout.splitlines()[1:])
    shutil.rmtree(out, ignore_errors=True)
    return {"flash": int(r["flash_bytes"]), "objects": objects, "libs": {m: b for m, b in lib_flash.items() if b}}


def flash(src: Any, board: str, work: Path, kernels: str = "reference") -> dict[str, Any]:
    """The model's own flash on ``board``: linked image minus a stub-model image (see the docstring);
    ``kernels="optimized"`` links the board's optimised kernel twins (``backends/kernels/opt``)."""
    from edgeinfer.errors import EdgeInferError

    if shutil.which("arm-none-eabi-gcc") is None:
        return {"bytes": None, "reason": "arm-none-eabi-gcc is not installed"}
    try:
        img = _board_image(src, board, work, kernels)
        key = (board, json.dumps(src.signature, sort_keys=True))
        if key not in _BASELINES:
            _BASELINES[key] = _board_image(_stub_sources(src), board, work)
    except EdgeInferError as err:
        return {"bytes": None, "reason": str(err)[-300:]}
    base = _BASELINES[key]
    libs = {m: b for m, b in img["libs"].items() if m not in base["libs"]}
    soft = sum(b for m, b in libs.items() if m.startswith("libm.") or _SOFT_FLOAT.search(m))
    return {"bytes": img["flash"] - base["flash"], "objects": img["objects"], "runtime_lib_bytes": sum(libs.values()),
            "soft_float_bytes": soft, "runtime_libs": libs}


def quality(ref: np.ndarray, got: np.ndarray, classifier: bool) -> float:
    """Top-1 agreement with the float model, or (autoencoder) relative RMS error."""
    ref, got = ref.reshape(len(ref), -1), got.reshape(len(got), -1).astype(np.float64)
    if classifier:
        return float((ref.argmax(1) == got.argmax(1)).mean())
    return float(np.sqrt(np.mean((ref - got) ** 2)) / np.sqrt(np.mean(ref ** 2)))


def _na(err: BaseException) -> dict[str, Any]:
    return {"status": "n/a", "reason": f"{type(err).__name__}: {str(err).strip()[:400]}"}


# --- zoo models ----------------------------------------------------------------------------------
def synthetic_inputs(shape: tuple[int, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """Normal vectors for the autoencoder; for images and spectrograms, a smooth random field (noise on
    a 4x coarser grid, bilinear upsampling) plus fine noise and a per-sample, per-channel offset, so that
    globally pooled features differ from one input to the next."""
    import torch

    if len(shape) == 2:
        return rng.standard_normal((n, shape[1])).astype(np.float32)
    c, h, w = shape[1:]
    coarse = torch.from_numpy(rng.standard_normal((n, c, h // 4 + 2, w // 4 + 2)).astype(np.float32))
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True).numpy()
    return (smooth + 0.3 * rng.standard_normal((n, c, h, w)) + rng.standard_normal((n, c, 1, 1))).astype(np.float32)


def fit_statistics(module: Any, cal: np.ndarray) -> None:
    """BatchNorm statistics from ``cal`` (scale and shift stay random), then a classifier's last Linear
    rescaled to zero-mean logits of standard deviation LOGIT_STD on ``cal``."""
    import torch
    from torch import nn

    x = torch.from_numpy(cal)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: one pass gives the statistics of all of cal
    module.train()
    with torch.no_grad():
        module(x)
    module.eval()
    if not isinstance(list(module.children())[-1], nn.Softmax):
        return
    last = [m for m in module.modules() if isinstance(m, nn.Linear)][-1]
    seen: list[Any] = []
    hook = last.register_forward_hook(lambda _m, _i, o: seen.append(o))
    with torch.no_grad():
        module(x)
    hook.remove()
    z = seen[0]
    k = LOGIT_STD / z.std(0).clamp_min(1e-12)
    with torch.no_grad():
        last.weight.mul_(k[:, None])
        last.bias.sub_(z.mean(0)).mul_(k)


def tf_quantized(twin: Any, cal_nhwc: np.ndarray, scheme: str) -> bytes:
    """TensorFlow's full-integer PTQ of the twin on the same calibration inputs: int8, or 16x8 (int16
    activations, int8 weights) with int16 input and output."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(twin)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([cal_nhwc[i:i + 1]] for i in range(len(cal_nhwc)))
    if scheme == "int8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    return conv.convert()


def edgeinfer_quantized(module: Any, cal: np.ndarray, test: np.ndarray, ref: np.ndarray, scheme: str, name: str,
                        classifier: bool, reps: int, rounds: int, work: Path) -> dict[str, Any]:
    """edgeinfer's PTQ of the torch model: quality (IR reference), C == IR, flash, arena, latency."""
    import torch

    import edgeinfer
    from edgeinfer.errors import EdgeInferError
    from edgeinfer.ir import run as ir_run

    try:
        q = edgeinfer.quantize(module, calibration=cal, example_input=torch.from_numpy(cal[:1]), scheme=scheme)
        qout = ir_run(q, test)[q.outputs[0]]
        row: dict[str, Any] = {"status": "ok", "quality": quality(ref, qout, classifier)}
        m = edgeinfer.convert(q, name=f"{name}_ei{'8' if scheme == 'int8' else '16'}")
        n = min(len(test), 8)
        row["c_equals_ir"] = float((m.run(test[:n])[q.outputs[0]].reshape(n, -1) == qout[:n].reshape(n, -1)).mean())
        row["latency_us"] = time_c(m, test, reps, rounds)[0]
    except EdgeInferError as err:  # an op with no quantized form or no C kernel yet: a result, not a crash
        return _na(err)
    fl = flash(m.sources, "cortex-m4", work)
    row.update({"flash_m4_bytes": fl["bytes"], "flash_m4": fl, "arena_bytes": m.sources.arena_bytes,
                "flash_m4_optimized_kernels_bytes": flash(m.sources, "cortex-m4", work, "optimized")["bytes"]})
    return row


def tflite_quantized(tfl: bytes, name: str, test_nhwc: np.ndarray, ref: np.ndarray, classifier: bool, reps: int,
                     rounds: int, work: Path) -> dict[str, Any]:
    """One TensorFlow-quantized model run by TFLM, LiteRT and edgeinfer's C (imported from ``.tflite``)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.python.tflite_micro import runtime

    import edgeinfer
    from edgeinfer.errors import EdgeInferError

    it = Interpreter(model_content=tfl, num_threads=1,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    di, do = it.get_input_details()[0], it.get_output_details()[0]
    s_in, z_in = di["quantization"]
    s_out, z_out = do["quantization"]
    info = np.iinfo(di["dtype"])
    xq = np.clip(np.round(test_nhwc / s_in) + z_in, info.min, info.max).astype(di["dtype"])
    tm = runtime.Interpreter.from_bytes(tfl, arena_size=8 << 20)
    tflm_out = []
    for i in range(len(xq)):
        tm.set_input(xq[i:i + 1], 0)
        tm.invoke()
        tflm_out.append(np.array(tm.get_output(0)).copy())
    tflm = np.concatenate(tflm_out)
    deq = (tflm.astype(np.float64) - z_out) * s_out
    row: dict[str, Any] = {"status": "ok", "quality": quality(ref, deq, classifier), "tflite_bytes": len(tfl),
                           "input_scale": float(s_in), "input_zero_point": int(z_in)}
    tflm_r = nf.tflm_run(tfl, xq[:1], max(reps // 20, 3), rounds)
    row["tflm"] = {"latency_us": tflm_r["latency_us"], "arena_bytes": tflm_r["arena_bytes"]}

    def litert_call(x1: np.ndarray = xq[:1], it: Any = it, idx: int = di["index"]) -> None:
        it.set_tensor(idx, x1)
        it.invoke()

    try:
        lr = []
        for i in range(len(xq)):
            litert_call(xq[i:i + 1])
            lr.append(it.get_tensor(do["index"]).copy())
        row["litert"] = {"latency_us": nf.best_of(litert_call, reps, rounds),
                         "max_lsb_vs_tflm": int(np.abs(np.concatenate(lr).astype(np.int64)
                                                       - tflm.reshape(-1, *lr[0].shape[1:])).max())}
    except (RuntimeError, ValueError) as err:
        row["litert"] = _na(err)
    path = work / f"{name}_{np.dtype(di['dtype']).name}.tflite"
    path.write_bytes(tfl)
    try:
        mt = edgeinfer.convert(str(path), name=f"{name}_tfl{np.dtype(di['dtype']).itemsize * 8}")
        c_out = np.asarray(mt.predict(xq)).reshape(tflm.shape).astype(tflm.dtype)
        fl = flash(mt.sources, "cortex-m4", work)
        row["edgeinfer_c"] = {
            "status": "ok", "latency_us": time_c(mt, xq, reps, rounds)[0], "arena_bytes": mt.sources.arena_bytes,
            "arena_plus_io_bytes": mt.sources.arena_bytes + xq[:1].nbytes + tflm[:1].nbytes,
            "flash_m4_bytes": fl["bytes"], "flash_m4": fl,
            "flash_m4_optimized_kernels_bytes": flash(mt.sources, "cortex-m4", work, "optimized")["bytes"],
            "bytes_equal_tflm": float((c_out.view(np.uint8) == tflm.view(np.uint8)).mean())}
    except EdgeInferError as err:
        row["edgeinfer_c"] = _na(err)
    return row


def run_zoo(quick: bool, work: Path, log: Callable[[str], None], names: list[str] | None = None) -> dict[str, Any]:
    """Every zoo model: float, edgeinfer int8 / 16x8, TensorFlow int8 / 16x8 (see the docstring)."""
    import torch

    import edgeinfer
    from edgeinfer import zoo
    from edgeinfer.errors import ToolchainError

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rounds = 3 if quick else 5
    n_cal, n_test = (16, 32) if quick else (256, 100)
    out: dict[str, Any] = {}
    names = names or list(nf.MODELS)
    unknown = [n for n in names if n not in nf.MODELS]
    if unknown:
        raise SystemExit(f"unknown zoo model {unknown}; zoo models: {', '.join(nf.MODELS)}")
    for name in names:
        module = zoo.MODELS[name]()
        nf.randomise_batchnorm(module, 1)
        shape = zoo.INPUTS[name]
        X = synthetic_inputs(shape, n_cal + n_test, np.random.default_rng(0))
        cal, test = X[:n_cal], X[n_cal:]
        fit_statistics(module, cal)
        nhwc = (lambda a: a) if len(shape) == 2 else (lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)))
        with torch.no_grad():
            ref = module(torch.from_numpy(test)).numpy()
        classifier = name != "fc_autoencoder"
        reps = 2000 if name == "fc_autoencoder" else 100
        if quick:
            reps //= 10
        flat = ref.reshape(len(ref), -1)
        row: dict[str, Any] = {"float_outputs": {
            "distinct_top1": int(len(np.unique(flat.argmax(1)))) if classifier else None,
            "std_across_inputs": float(flat.std(0).mean())}}

        mf = edgeinfer.convert(module, torch.from_numpy(X[:1]), name=f"{name}_f32")
        fl = flash(mf.sources, "cortex-m4", work)
        row["float"] = {"flash_m4_bytes": fl["bytes"], "flash_m4": fl, "arena_bytes": mf.sources.arena_bytes}
        try:
            row["float"]["latency_us"] = time_c(mf, test, reps, rounds)[0]
        except ToolchainError as err:  # the float kernels fail to build on the host: sizes still stand
            row["float"]["latency_us"], row["float"]["host_build_error"] = None, str(err)[-300:]
        for scheme, key in (("int8", "edgeinfer_int8"), ("int16x8", "edgeinfer_int16x8")):
            row[key] = edgeinfer_quantized(module, cal, test, ref, scheme, name, classifier, reps, rounds, work)
            log(f"{name}: {key} {row[key].get('quality', row[key].get('reason', ''))}")

        twin = nf.keras_twin(name, module)
        for scheme, key in (("int8", "tflite_int8"), ("int16x8", "tflite_int16x8")):
            try:
                tfl = tf_quantized(twin, nhwc(cal), scheme)
            except Exception as err:  # noqa: BLE001 - TensorFlow's converter refusing is a result
                row[key] = _na(err)
                continue
            row[key] = tflite_quantized(tfl, name, nhwc(test), ref, classifier, reps, rounds, work)
        t8 = row["tflite_int8"]
        # the reference point: the float model with nothing but its input rounded to the int8 grid
        s, z = t8["input_scale"], t8["input_zero_point"]
        x8 = (np.clip(np.round(test / s) + z, -128, 127) - z) * s
        with torch.no_grad():
            row["float_on_int8_input_quality"] = quality(ref, module(torch.from_numpy(x8.astype(np.float32))).numpy(),
                                                         classifier)
        e8, f = row["edgeinfer_int8"], row["float"]
        ec = t8.get("edgeinfer_c", {})
        row["bars"] = {
            "arena_le_tflm": (ec["arena_plus_io_bytes"] <= t8["tflm"]["arena_bytes"]) if "arena_plus_io_bytes" in ec
            else None,
            "flash_int8_over_float": (e8.get("flash_m4_bytes") or 0) / (f["flash_m4_bytes"] or 1),
            "flash_int8_over_float_optimized_kernels": (e8.get("flash_m4_optimized_kernels_bytes") or 0)
            / (f["flash_m4_bytes"] or 1),
            "latency_over_tflm": ec["latency_us"] / t8["tflm"]["latency_us"] if "latency_us" in ec else None,
            "latency_over_litert": ec["latency_us"] / t8["litert"]["latency_us"]
            if "latency_us" in ec and "latency_us" in t8["litert"] else None}
        out[name] = row
        log(f"{name}: done")
    return out


# --- classical models ----------------------------------------------------------------------------
def classical_estimator(name: str) -> Any:
    """The unfitted estimator of one classical benchmark model (random_state 0 where it applies)."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {"rf": lambda: RandomForestClassifier(20, max_depth=8, random_state=0),
            "gb": lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
            "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=1000, random_state=0)),
            "svc": lambda: make_pipeline(StandardScaler(), SVC(kernel="rbf", random_state=0))}[name]()


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, X_test, y_train, y_test of a scikit-learn data set (float32, stratified 70/30 split)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)


def classical_variant(m: Any, X_test: np.ndarray, y_test: np.ndarray, float_pred: np.ndarray | None, quick: bool,
                      work: Path) -> tuple[dict[str, Any], np.ndarray]:
    """Accuracy, agreement with the float labels, flash per board, arena and host latency of one model's C,
    and its labels."""
    pred = np.asarray(m.predict(X_test))
    row: dict[str, Any] = {"status": "ok", "accuracy": float((pred == y_test).mean()),
                           "arena_bytes": m.sources.arena_bytes}
    if float_pred is not None:
        row["agreement"] = float((pred == float_pred).mean())
    iq = m.graph.metadata.get("input_quantization")
    if iq is not None:
        from edgeinfer.ir.ops.fixed_point import quantize_features

        x_in = quantize_features(X_test, iq)
    else:
        x_in = np.ascontiguousarray(X_test, np.float32)
    row["latency_ns_per_row"] = time_rows(m, x_in, 2000 if quick else 20000, 2 if quick else 5)
    row["flash"] = {b: flash(m.sources, b, work) for b in BOARDS}
    return row, pred


def run_classical(quick: bool, work: Path, log: Callable[[str], None], datasets: list[str] | None = None,
                  models: list[str] | None = None) -> dict[str, Any]:
    """Every (data set, model): float C and its int16 and int8 fixed-point forms (see the docstring).

    >>> # run_classical(False, Path("/tmp/w"), print, ["wine"], ["lr"])["wine/lr"]["int8"]["accuracy"]
    """
    import edgeinfer
    from edgeinfer.errors import EdgeInferError

    datasets = datasets or (["wine"] if quick else list(DATASETS))
    models = models or list(CLASSICAL_MODELS)
    unknown = [d for d in datasets if d not in DATASETS] + [m for m in models if m not in CLASSICAL_MODELS]
    if unknown:
        raise SystemExit(f"unknown data set / model {unknown}; data sets: {', '.join(DATASETS)}; "
                         f"models: {', '.join(CLASSICAL_MODELS)}")
    out: dict[str, Any] = {}
    for ds in datasets:
        X_train, X_test, y_train, y_test = load_dataset(ds)
        for mname in models:
            est = classical_estimator(mname)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X_train, y_train)
            sk = est.predict(X_test)
            row: dict[str, Any] = {"n_train": int(len(X_train)), "n_test": int(len(X_test)),
                                   "n_features": int(X_train.shape[1]),
                                   "sklearn_accuracy": float((sk == y_test).mean())}
            cname = f"{ds}_{mname}"
            try:
                mf = edgeinfer.convert(est, name=f"{cname}_f32")
                row["float"], fpred = classical_variant(mf, X_test, y_test, None, quick, work)
                row["float"]["mismatches_vs_sklearn"] = int((fpred != sk).sum())
            except EdgeInferError as err:
                row["float"], fpred = _na(err), sk
            for scheme in ("int16", "int8"):
                try:
                    q = edgeinfer.quantize(est, X_train, scheme=scheme)
                    mq = edgeinfer.convert(q, name=f"{cname}_{scheme}")
                    row[scheme], _ = classical_variant(mq, X_test, y_test, fpred, quick, work)
                    row[scheme]["split_conflicts"] = q.metadata.get("fixed_point", {}).get("split_conflicts")
                except EdgeInferError as err:  # no fixed-point form (yet) for this model
                    row[scheme] = _na(err)
            out[f"{ds}/{mname}"] = row
            log(f"{ds}/{mname}: float {row['float'].get('accuracy')}, int16 {row['int16'].get('accuracy')}, "
                f"int8 {row['int8'].get('accuracy')}")
    return out


# --- the run and its tables ----------------------------------------------------------------------
def run(quick: bool, parts: tuple[str, ...] = PARTS, datasets: list[str] | None = None,
        models: list[str] | None = None, zoo_models: list[str] | None = None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Both parts (or the ones named) as one JSON-ready dict."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    import sklearn

    res: dict[str, Any] = {"machine": f"{platform.machine()} {os.cpu_count()} cpus",
                           "load_average_at_start": list(os.getloadavg()),
                           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
                           "method": "batch 1, 1 thread, best of rounds; flash = linked image minus a stub-model image "
                                     "(arm-none-eabi-gcc, the board's -Os flags, --gc-sections)"}
    work = Path(tempfile.mkdtemp(prefix="ei_quant_"))
    try:
        if "zoo" in parts:
            res["models"] = run_zoo(quick, work, log, zoo_models)
        if "classical" in parts:
            res["classical"] = run_classical(quick, work, log, datasets, models)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return res


def _n(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def _q(r: dict[str, Any], key: str = "quality") -> str:
    if r.get("status") == "n/a":
        return f"n/a ({r['reason'][:60]})"
    return f"{r[key]:.3f}"


def _c(r: dict[str, Any]) -> dict[str, Any]:
    """The edgeinfer-C sub-result of a TFLite row, or an n/a record."""
    if r.get("status") == "n/a":
        return r
    return r.get("edgeinfer_c", {"status": "n/a", "reason": "not run"})


def _get(r: dict[str, Any], key: str, fmt: str = "{:,.0f}") -> str:
    if r.get("status") == "n/a":
        return "n/a"
    v = r.get(key)
    return "-" if v is None else fmt.format(v)


def zoo_tables(models: dict[str, Any]) -> str:
    """Quality and sizes, then latency and exactness, one row per zoo model."""
    cols = ["model", "metric", "float @ int8 input", "ei int8", "ei 16x8", "TF int8", "TF 16x8", "flash f32 B",
            "flash ei int8 B", "int8/f32", "same, opt. kernels B", "int8/f32", "flash ei 16x8 B", "C int8 arena+io B",
            "TFLM int8 arena B"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, r in models.items():
        e8, e16, t8, t16, f = (r["edgeinfer_int8"], r["edgeinfer_int16x8"], r["tflite_int8"], r["tflite_int16x8"],
                               r["float"])
        ec8 = _c(t8)
        metric = "rel. RMS err" if name == "fc_autoencoder" else "top-1 agree"
        vals = [f"{nf.SHORT[name]} ({name})", metric, f"{r['float_on_int8_input_quality']:.3f}", _q(e8), _q(e16),
                _q(t8), _q(t16), _n(f["flash_m4_bytes"]), _get(e8, "flash_m4_bytes"),
                f"{r['bars']['flash_int8_over_float']:.3f}", _get(e8, "flash_m4_optimized_kernels_bytes"),
                f"{r['bars']['flash_int8_over_float_optimized_kernels']:.3f}", _get(e16, "flash_m4_bytes"),
                _get(ec8, "arena_plus_io_bytes"), _n(t8.get("tflm", {}).get("arena_bytes"))]
        lines.append("| " + " | ".join(vals) + " |")
    cols2 = ["model", "float C us", "ei int8 C us", "ei 16x8 C us", "TF int8: C us", "LiteRT us", "TFLM us", "C/TFLM",
             "C/LiteRT", "C == TFLM bytes", "TF 16x8: C us", "LiteRT us", "TFLM us", "C == TFLM bytes"]
    lines += ["", "| " + " | ".join(cols2) + " |", "|" + "---|" * len(cols2)]
    for name, r in models.items():
        t8, t16 = r["tflite_int8"], r["tflite_int16x8"]
        ec8, ec16, b = _c(t8), _c(t16), r["bars"]
        vals = [f"{nf.SHORT[name]} ({name})", _get(r["float"], "latency_us"), _get(r["edgeinfer_int8"], "latency_us"),
                _get(r["edgeinfer_int16x8"], "latency_us"), _get(ec8, "latency_us"),
                _get(t8.get("litert", {}), "latency_us"), _get(t8.get("tflm", {}), "latency_us"),
                "-" if b["latency_over_tflm"] is None else f"{b['latency_over_tflm']:.3f}",
                "-" if b["latency_over_litert"] is None else f"{b['latency_over_litert']:.2f}",
                _get(ec8, "bytes_equal_tflm", "{:.1%}"), _get(ec16, "latency_us"),
                _get(t16.get("litert", {}), "latency_us") if t16.get("status") == "ok" else "n/a",
                _get(t16.get("tflm", {}), "latency_us") if t16.get("status") == "ok" else "n/a",
                _get(ec16, "bytes_equal_tflm", "{:.1%}") if ec16.get("status") == "ok"
                else f"n/a ({ec16.get('reason', '')[:70]})"]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def _fl(r: dict[str, Any], board: str) -> str:
    if r.get("status") == "n/a":
        return "n/a"
    f = r["flash"][board]
    if f["bytes"] is None:
        return "-"
    lib = f.get("soft_float_bytes") or 0
    return f"{f['bytes']:,}" + (f" ({lib:,})" if board == "cortex-m0plus" else "")


def classical_table(rows: dict[str, Any]) -> str:
    """One row per (data set, model): accuracy, agreement, flash, arena, latency, float / int16 / int8."""
    cols = ["data set / model", "float acc.", "int16 acc. (agree)", "int8 acc. (agree)", "M4 flash f32 / i16 / i8 B",
            "M0+ flash f32 / i16 / i8 B (soft-float B)", "arena f32 / i16 / i8 B", "host ns/row f32 / i16 / i8"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, r in rows.items():
        v = [r["float"], r["int16"], r["int8"]]

        def acc(x: dict[str, Any]) -> str:
            if x.get("status") == "n/a":
                return f"n/a ({x['reason'][:70]})"
            return f"{x['accuracy']:.4f} ({x['agreement']:.4f})"

        vals = [key, _get(v[0], "accuracy", "{:.4f}"), acc(v[1]), acc(v[2]),
                " / ".join(_fl(x, "cortex-m4") for x in v), " / ".join(_fl(x, "cortex-m0plus") for x in v),
                " / ".join(_get(x, "arena_bytes") for x in v), " / ".join(_get(x, "latency_ns_per_row") for x in v)]
        lines.append("| " + " | ".join(vals) + " |")
    return "\n".join(lines)


def table(res: dict[str, Any]) -> str:
    """The README tables of whatever parts ``res`` holds."""
    out = []
    if res.get("models"):
        out.append(zoo_tables(res["models"]))
    if res.get("classical"):
        out.append(classical_table(res["classical"]))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """nn_float's command line (``--quick``, ``--out``) plus the part, data set and model choice."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--part", choices=("all", *PARTS), default="all")
    ap.add_argument("--datasets", help=f"classical data sets, comma list from: {', '.join(DATASETS)}")
    ap.add_argument("--classical-models", help=f"classical models, comma list from: {', '.join(CLASSICAL_MODELS)}")
    ap.add_argument("--zoo-models", help=f"zoo models, comma list from: {', '.join(nf.MODELS)}")
    ap.add_argument("--out", default=str(HERE / "results" / "quant.json"))
    own, rest = ap.parse_known_args(argv)
    parts = PARTS if own.part == "all" else (own.part,)
    split = lambda s: s.split(",") if s else None  # noqa: E731

    def run_parts(quick: bool) -> dict[str, Any]:
        res = run(quick, parts, split(own.datasets), split(own.classical_models), split(own.zoo_models))
        old = Path(own.out)
        if parts != PARTS and old.exists():  # a partial run keeps the other part's last results
            prev = json.loads(old.read_text())
            for key in ("models", "classical"):
                if key not in res and key in prev:
                    res[key] = prev[key]
        return res

    return nf.bench_main([*rest, "--out", own.out], __doc__, run_parts, table, "quant.json",
                         "fewer inputs and repeats, wine only in the classical part (a smoke run)")


if __name__ == "__main__":
    raise SystemExit(main())
