"""The ``edgeinfer`` command: thin argument parsing over the Python API.

Every edgeinfer error is printed as one line (``error: ...``) with exit status 2;
a traceback means a bug in edgeinfer, not in the user's input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.errors import EdgeInferError


def _progress(msg: str) -> None:
    print(f"[edgeinfer] {msg}", file=sys.stderr, flush=True)


def _load_array(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise EdgeInferError(f"data file {path!r} does not exist")
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            return z[z.files[0]]
    if p.suffix in (".csv", ".txt"):
        return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
    raise EdgeInferError(f"unknown data file type {p.suffix!r}; use .npy, .npz or .csv")


def cmd_convert(a: argparse.Namespace) -> int:
    import edgeinfer

    options: dict[str, Any] = {}
    if a.tree_layout:
        options["tree_layout"] = a.tree_layout
    t0 = time.perf_counter()
    _progress(f"loading {a.model}")
    graph = edgeinfer.load_graph(a.model, trust_pickle=a.trust_pickle)
    if a.quantize:
        from edgeinfer.api import quantize

        if not a.calibration:
            raise EdgeInferError("--quantize needs --calibration DATA.npy (representative inputs)")
        _progress(f"quantizing to {a.quantize} with {a.calibration}")
        graph = quantize(graph, calibration=_load_array(a.calibration), scheme=a.quantize)
    name = a.name or edgeinfer.api._default_name(a.model, graph)
    _progress(f"generating {a.backend} code for {name!r} ({len(graph.nodes)} nodes)")
    m = edgeinfer.convert(graph, name=name, backend=a.backend, **options)
    paths = m.save(a.out)
    for p in paths:
        print(f"wrote {p}")
    if a.target and a.target != "host":
        from edgeinfer.targets import build

        _progress(f"building for {a.target}")
        res = build(m.sources, a.target, Path(a.out) / a.target)
        print(json.dumps({k: v for k, v in res.items() if k != "symbols"}, indent=2, default=str))
        if not res.get("fits", True):
            return 1
    else:
        fp = m.footprint()
        print("footprint (host estimate): " + ", ".join(f"{k}={v}" for k, v in fp.items()))
    _progress(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    import edgeinfer
    from edgeinfer.passes.memory import plan_memory

    graph = edgeinfer.load_graph(a.model, trust_pickle=a.trust_pickle)
    graph.validate()
    try:
        graph = plan_memory(graph)
    except EdgeInferError:
        pass
    print(graph.summary())
    md = {k: v for k, v in graph.metadata.items() if k not in ("arena_bytes", "arena_naive_bytes")}
    if "classes" in md and len(md["classes"]) > 20:
        md["classes"] = [*md["classes"][:20], "..."]
    print("metadata: " + json.dumps(md, default=str))
    return 0


def cmd_targets(a: argparse.Namespace) -> int:
    from edgeinfer.targets import format_targets_table

    print(format_targets_table())
    return 0


def cmd_measure(a: argparse.Namespace) -> int:
    from edgeinfer.targets import measure_dir

    res = measure_dir(a.out_dir, target=a.target, n_inputs=a.n)
    print(json.dumps(res, indent=2, default=str))
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from edgeinfer.backends.interp.model import run_file

    x = _load_array(a.input)
    out = run_file(a.model_file, x)
    np.set_printoptions(threshold=50, linewidth=120)
    for k, v in out.items():
        print(f"{k}: {v}")
    return 0


def cmd_quantize(a: argparse.Namespace) -> int:
    import edgeinfer
    from edgeinfer.api import quantize

    graph = edgeinfer.load_graph(a.model)
    q = quantize(graph, calibration=_load_array(a.calibration), scheme=a.scheme)
    from edgeinfer.frontends.onnx_export import save_onnx

    save_onnx(q, a.output)
    print(f"wrote {a.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgeinfer", description="Deliver trained models onto embedded targets.")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("convert", help="convert a model file to C (or another backend)")
    c.add_argument("model", help="model file: .skops, .onnx, .tflite (.joblib/.pkl with --trust-pickle)")
    c.add_argument("-o", "--out", required=True, help="output directory")
    c.add_argument("--name", help="C symbol prefix (default: from the file name)")
    c.add_argument("--backend", default="c", choices=["c", "interp"], help="code generation or interpreter")
    c.add_argument("--target", help="board to build for (see `edgeinfer targets`)")
    c.add_argument("--tree-layout", choices=["auto", "inline", "table"], help="tree code form")
    c.add_argument("--quantize", choices=["int8", "int16x8"], help="post-training quantization")
    c.add_argument("--calibration", help="calibration inputs (.npy) for --quantize")
    c.add_argument("--trust-pickle", action="store_true", help="allow .joblib/.pkl (pickle runs code!)")
    c.set_defaults(fn=cmd_convert)

    i = sub.add_parser("inspect", help="show a model's graph, ops, parameters, MACs and arena")
    i.add_argument("model")
    i.add_argument("--trust-pickle", action="store_true")
    i.set_defaults(fn=cmd_inspect)

    t = sub.add_parser("targets", help="list the boards edgeinfer builds for")
    t.set_defaults(fn=cmd_targets)

    m = sub.add_parser("measure", help="build, run under emulation and measure a converted model")
    m.add_argument("out_dir")
    m.add_argument("--target", default="cortex-m4")
    m.add_argument("-n", type=int, default=4, help="number of test inputs")
    m.set_defaults(fn=cmd_measure)

    r = sub.add_parser("run", help="run a model file (.eim) with the C interpreter on the host")
    r.add_argument("model_file")
    r.add_argument("--input", required=True, help="inputs (.npy)")
    r.set_defaults(fn=cmd_run)

    q = sub.add_parser("quantize", help="post-training quantization to a QDQ ONNX file")
    q.add_argument("model")
    q.add_argument("--calibration", required=True)
    q.add_argument("--scheme", default="int8", choices=["int8", "int16x8"])
    q.add_argument("-o", "--output", required=True)
    q.set_defaults(fn=cmd_quantize)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except EdgeInferError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ModuleNotFoundError, ImportError) as e:
        print(f"error: this feature needs a package that is not installed: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
