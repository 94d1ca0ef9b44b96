"""Per-layer latency of the float convolutions of the MLPerf Tiny zoo models: where a model's time goes.

Two tables, both from the host build's flags (``backends/c/build.py``: -O3 -march=native):

* one layer alone: each distinct conv shape of ds_cnn, resnet8 and mobilenet_v1 becomes a one-layer
  torch model (Conv2d + the activation the full model fuses into it), converted by edgeinfer and run
  from a small C main; the figure is the fastest of many calls.
* inside the model: the model's generated ``<name>.c`` with a clock read around every node's block,
  run whole; the figure per node is its fastest call (a node's input comes hot from the node before
  it and the other layers' weights compete for the caches, so this is the figure that adds up to the
  model's latency). Beside it, ONNX Runtime's own per-node profile of the same model (one thread,
  fastest call of each node; ORT fuses a conv's activation into it, so the conv row carries it).

Fastest calls, not means: the benchmark machine is shared, and a preempted call says nothing about
the kernel. The sum of per-node minimums is a lower bound of the model's latency.

    .venv/bin/python benchmarks/conv_layers.py [--model resnet8] [--reps 2000] [--alone | --in-model]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ["ds_cnn", "resnet8", "mobilenet_v1"]

PROFILE_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "@NAME@.h"
double ei_prof_best[@N@], ei_prof_t[@N@];
static const char *ei_prof_names[@N@] = {@NAMES@};
double ei_prof_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}
int main(void)
{
  static float x[@NIN@], y[@NOUT@];
  int i, r;
  double t0, best = 1e30, sum = 0.0;
  for (i = 0; i < @NIN@; ++i) x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
  for (r = 0; r < 20; ++r) @NAME@_infer(x, y);
  for (i = 0; i < @N@; ++i) ei_prof_best[i] = 1e30;
  for (r = 0; r < @REPS@; ++r) {
    t0 = ei_prof_now();
    @NAME@_infer(x, y);
    t0 = ei_prof_now() - t0;
    if (t0 < best) best = t0;
    for (i = 0; i < @N@; ++i) if (ei_prof_t[i] < ei_prof_best[i]) ei_prof_best[i] = ei_prof_t[i];
  }
  for (i = 0; i < @N@; ++i) {
    printf("%s\t%.2f\n", ei_prof_names[i], ei_prof_best[i] / 1e3);
    sum += ei_prof_best[i];
  }
  printf("(whole)\t%.2f\n", best / 1e3);
  return y[0] != y[0];
}
"""


def instrument(src: str, name: str) -> tuple[str, list[str]]:
    """``<name>.c`` with a clock read around every node's block of ``<name>_infer``; the node names."""
    import re

    out: list[str] = []
    labels: list[str] = []
    lines, i, inside = src.splitlines(), 0, False
    while i < len(lines):
        line = lines[i]
        if line.startswith(f"void {name}_infer("):
            inside = True
            out.append("extern double ei_prof_t[]; double ei_prof_now(void);")
        mt = re.match(r"^  /\* (.+): (\w+) \*/$", line) if inside else None
        if mt and i + 1 < len(lines) and lines[i + 1] == "  {":
            k = len(labels)
            labels.append(mt.group(1))
            out += [line, "  { double ei_t0 = ei_prof_now();", "  {"]
            i += 2
            while lines[i] != "  }":
                out.append(lines[i])
                i += 1
            out += ["  }", f"  ei_prof_t[{k}] = ei_prof_now() - ei_t0; }}"]
            i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n", labels


def c_node_times(module: Any, example: np.ndarray, name: str, reps: int) -> dict[str, float]:
    """{node: fastest us} of ``module`` converted by edgeinfer and run whole, plus ``"(whole)"``."""
    import torch

    import edgeinfer
    from edgeinfer.backends.c.build import HOST_OPT, _host_arch, host_cc, host_kernel_files

    m = edgeinfer.convert(module, torch.from_numpy(example), name=name)
    files = host_kernel_files(m.sources)
    files[f"{name}.c"], labels = instrument(files[f"{name}.c"], name)
    nin = int(np.prod([d or 1 for d in m.graph.tensors[m.graph.inputs[0]].shape]))
    nout = int(np.prod([d or 1 for d in m.graph.tensors[m.graph.outputs[0]].shape]))
    subs = {"@NAME@": name, "@N@": str(len(labels)), "@NIN@": str(nin), "@NOUT@": str(nout), "@REPS@": str(reps),
            "@NAMES@": ", ".join('"' + s.replace('"', "") + '"' for s in labels)}
    main = PROFILE_MAIN
    for k, v in subs.items():
        main = main.replace(k, v)
    files["prof_main.c"] = main
    with tempfile.TemporaryDirectory(prefix="edgeinfer_prof_") as tmp:
        for k, v in files.items():
            Path(tmp, k).write_text(v)
        cfiles = [k for k in files if k.endswith(".c")]
        cmd = [host_cc(), "-std=gnu99", HOST_OPT, *_host_arch(), "-o", "prof", *cfiles, "-lm"]
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, text=True)
        r = subprocess.run(["./prof"], cwd=tmp, check=True, capture_output=True, text=True)
    return {a: float(b) for a, b in (line.split("\t") for line in r.stdout.strip().splitlines())}


def ort_node_times(module: Any, example: np.ndarray, reps: int) -> dict[str, float]:
    """{node: fastest us} from ONNX Runtime's profiler (one thread), plus ``"(whole)"`` (fastest run).

    ORT fuses a conv's activation (and a residual Add) into the conv and, on AVX hosts, renames the node
    after its output in the blocked NCHWc layout; each ORT node is reported under the first ONNX node of
    the chain it fused (the conv), by following the output tensor names back."""
    import onnx
    import onnxruntime as ort
    import torch

    buf = io.BytesIO()
    torch.onnx.export(module, torch.from_numpy(example), buf, dynamo=False, input_names=["x"])
    proto = onnx.load_from_string(buf.getvalue())
    producer = {o: n for n in proto.graph.node for o in n.output}
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.enable_profiling = True
    with tempfile.TemporaryDirectory(prefix="edgeinfer_ort_") as tmp:
        so.profile_file_prefix = str(Path(tmp, "ort"))
        sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        for _ in range(reps):
            sess.run(None, {"x": example})
        events = json.loads(Path(sess.end_profiling()).read_text())
    best: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = e["name"][: -len("_kernel_time")]
            if key.endswith("_nchwc"):
                key = key[: -len("_nchwc")]
            node = producer.get(key)
            # back from a fused activation / Add to the conv that starts the chain
            while node is not None and node.op_type in ("Relu", "Clip", "Add") and node.input[0] in producer:
                node = producer[node.input[0]]
            if node is not None:
                key = node.name
        elif e.get("cat") == "Session" and e["name"] == "model_run":
            key = "(whole)"
        else:
            continue
        best[key] = min(best.get(key, float("inf")), float(e["dur"]))
    return best


def _ort_for(node: str, ort_times: dict[str, float]) -> float | None:
    """ORT's time for our node, if ORT ran it as a node of its own."""
    return ort_times.get(node)


def conv_layers(name: str) -> list[dict[str, Any]]:
    """The conv layers of zoo model ``name``: node, geometry table, activation, kernel kind."""
    import edgeinfer
    from edgeinfer import zoo
    from edgeinfer.backends.c.ops.nn import _conv_kind, _geom_values

    m = edgeinfer.convert(zoo.MODELS[name](), zoo.example_input(name), name=name)
    return [{"name": n.name, "geom": _geom_values(m.graph, n), "act": n.attr("activation"),
             "kind": _conv_kind(m.graph, n)} for n in m.graph.nodes if n.op == "Conv"]


def one_layer(geom: list[int], act: Any, seed: int = 0) -> Any:
    """A torch Conv2d (+ ReLU / ReLU6) with the geometry table's shape (symmetric padding, as in the zoo)."""
    import torch
    from torch import nn

    cin, _h, _w, cout, _oh, _ow, kh, kw, sh, sw, dh, dw, pt, pl, grp = geom
    torch.manual_seed(seed)
    layers: list[Any] = [nn.Conv2d(cin, cout, (kh, kw), (sh, sw), (pt, pl), (dh, dw), grp)]
    if act == "Relu":
        layers.append(nn.ReLU())
    elif act == "Clip":
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers).eval()


def _shape(g: list[int]) -> tuple[str, str, str]:
    kind_geo = f"{g[0]},{g[1]},{g[2]} -> {g[3]},{g[4]},{g[5]}"
    return kind_geo, f"{g[6]}x{g[7]} / {g[8]} / {g[12]},{g[13]}", "" if g[14] == 1 else f" g{g[14]}"


def alone_table(models: list[str], reps: int) -> str:
    """One-layer graphs, one per distinct conv shape: C and ORT fastest call."""
    rows = ["| model | layer | cin,h,w -> cout,oh,ow | k / s / pad | kernel | n in model | C us | ORT us |",
            "|---|---|---|---|---|---|---|---|"]
    for name in models:
        seen: dict[tuple, list[Any]] = {}
        for layer in conv_layers(name):
            key = (*layer["geom"], str(layer["act"]))
            if key in seen:
                seen[key][1] += 1
            else:
                seen[key] = [layer, 1]
        for layer, count in seen.values():
            g = layer["geom"]
            x = np.random.default_rng(0).standard_normal((1, g[0], g[1], g[2])).astype(np.float32)
            mod = one_layer(g, layer["act"])
            c = c_node_times(mod, x, "layer", reps)["(whole)"]
            o = ort_node_times(mod, x, reps)
            o_us = _ort_for("/0/Conv", o)
            geo, ksp, grp = _shape(g)
            rows.append(f"| {name} | {layer['name']} | {geo} | {ksp} | {layer['kind']}{grp} | {count} | {c:.1f} | "
                        f"{'-' if o_us is None else f'{o_us:.1f}'} |")
        print(f"{name}: alone done", file=sys.stderr, flush=True)
    return "\n".join(rows)


def in_model_table(models: list[str], reps: int) -> str:
    """Every node of the whole models that takes time: C and ORT fastest call, and the totals."""
    from edgeinfer import zoo
    from nn_float import randomise_batchnorm

    rows = ["| model | node | cin,h,w -> cout,oh,ow | k / s / pad | kernel | C us | ORT us |",
            "|---|---|---|---|---|---|---|"]
    for name in models:
        module = zoo.MODELS[name]()
        randomise_batchnorm(module, 1)
        x = np.random.default_rng(0).standard_normal(zoo.INPUTS[name]).astype(np.float32)
        c = c_node_times(module, x, name, reps)
        o = ort_node_times(module, x, reps)
        layers = {la["name"]: la for la in conv_layers(name)}
        for node, t in c.items():
            if node == "(whole)":
                continue
            o_us = _ort_for(node, o)
            if node in layers:
                la = layers[node]
                geo, ksp, grp = _shape(la["geom"])
                kind = la["kind"] + grp
            elif t < 1.0:
                continue
            else:
                geo = ksp = kind = ""
            rows.append(f"| {name} | {node} | {geo} | {ksp} | {kind} | {t:.1f} | "
                        f"{'-' if o_us is None else f'{o_us:.1f}'} |")
        c_sum = sum(v for k, v in c.items() if k != "(whole)")
        o_sum = sum(v for k, v in o.items() if k != "(whole)")
        rows.append(f"| {name} | sum of nodes; whole run | | | | {c_sum:.1f}; {c['(whole)']:.1f} | "
                    f"{o_sum:.1f}; {o.get('(whole)', float('nan')):.1f} |")
        print(f"{name}: in-model done", file=sys.stderr, flush=True)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", choices=MODELS, help="only this model (repeatable)")
    ap.add_argument("--reps", type=int, default=2000, help="calls per figure (the fastest is kept)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--alone", action="store_true", help="only the one-layer table")
    which.add_argument("--in-model", action="store_true", help="only the in-model table")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    models = args.model or MODELS
    if not args.in_model:
        print(alone_table(models, args.reps))
    if not args.alone:
        print(in_model_table(models, args.reps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
