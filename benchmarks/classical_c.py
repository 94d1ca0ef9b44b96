"""edgeinfer against the other C generators for classical models, side by side, in one run.

Why a separate script: the peers (emlearn, m2cgen, micromlgen, tl2cgen/treelite) are not
dependencies of edgeinfer; they live in the benchmark's own environment
(``bash benchmarks/peers.sh``). Every tool's generated C goes through the same path, so the
numbers compare code generators and nothing else:

* mismatches: the generated C, compiled into one small host harness (gcc -O2), predicts the
  540 digits test rows; each prediction is compared with scikit-learn's ``predict``;
* latency: the same harness loops the predict call over all test rows until a pass lasts at
  least ``--min-time`` seconds, best of ``--repeats`` passes taken in turns across the tools of
  one model, in ns per sample;
* Cortex-M4 flash and RAM: the same C, cross-compiled with arm-none-eabi-gcc -Os and linked
  with a tiny main that calls predict once (--gc-sections, nano + nosys specs); the sizes of
  an identical link with a one-line stub predict are subtracted, so the figures are the
  model's own cost (code, constants, the libc/libm pieces it pulls in).

A tool that cannot take a model shows "n/a" and the reason. Usage::

    benchmarks/.venv-peers/bin/python benchmarks/classical_c.py            # everything
    benchmarks/.venv-peers/bin/python benchmarks/classical_c.py --quick    # two small models
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "classical_c.json"

HOST_CC, HOST_CXX = "gcc", "g++"
HOST_FLAGS = ["-O2"]
ARM_CC, ARM_CXX, ARM_SIZE = "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size"
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
             "-ffunction-sections", "-fdata-sections"]
ARM_CXX_FLAGS = ["-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"]
ARM_LINK = ["-Wl,--gc-sections", "-specs=nano.specs", "-specs=nosys.specs"]


class NotApplicable(Exception):
    """A tool cannot take this model; the message is the reason shown in the table."""


# --------------------------------------------------------------------------- models

@dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: how to build it and which family it belongs to."""

    name: str
    family: str  # "tree" or "other": tree layouts and tree-only peer forms apply to "tree"
    make: Callable[[], Any]
    description: str


def _model_specs() -> dict[str, ModelSpec]:
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    specs = [
        ModelSpec("dt", "tree", lambda: DecisionTreeClassifier(random_state=0), "DecisionTree (unbounded depth)"),
        ModelSpec("rf10", "tree", lambda: RandomForestClassifier(10, max_depth=8, random_state=0),
                  "RandomForest 10 trees, depth 8"),
        ModelSpec("rf100", "tree", lambda: RandomForestClassifier(100, max_depth=12, random_state=0),
                  "RandomForest 100 trees, depth 12"),
        ModelSpec("et30", "tree", lambda: ExtraTreesClassifier(30, max_depth=10, random_state=0),
                  "ExtraTrees 30 trees, depth 10"),
        ModelSpec("gbm50", "tree", lambda: GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0),
                  "GradientBoosting 50 rounds x 10 classes, depth 3"),
        ModelSpec("logreg", "other", lambda: LogisticRegression(max_iter=5000), "LogisticRegression (lbfgs)"),
        ModelSpec("linsvc", "other", lambda: LinearSVC(random_state=0, max_iter=20000), "LinearSVC (one-vs-rest)"),
        # gamma explicit: micromlgen refuses gamma="scale"; 0.001 is the usual value for digits
        ModelSpec("svc_rbf", "other", lambda: SVC(kernel="rbf", gamma=0.001, random_state=0),
                  "SVC rbf, gamma 0.001 (one-vs-one)"),
        ModelSpec("gnb", "other", lambda: GaussianNB(), "GaussianNB"),
        ModelSpec("mlp32", "other", lambda: MLPClassifier((32,), max_iter=1000, random_state=0),
                  "MLP 64-32-10, relu"),
    ]
    return {s.name: s for s in specs}


QUICK_MODELS = ["dt", "rf10"]


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits (ships with scikit-learn, no download), float32, the fixed 70/30 split: 540 test rows."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0)


# --------------------------------------------------------------------------- tools

@dataclass
class Artifact:
    """What a tool produced, ready for the harness.

    ``files`` are written into the build folder; every ``.c``/``.cpp`` among them is compiled.
    ``adapter`` defines ``int32_t bench_predict(const float *x)`` (C linkage) returning the class
    index: it does what a user of that tool must do around the generated call (convert the
    input type, argmax the scores), and nothing more.
    """

    files: dict[str, str]
    adapter: str
    cxx: bool = False
    include_dirs: list[str] = field(default_factory=list)
    notes: str = ""


def _is_tree(spec: ModelSpec) -> bool:
    return spec.family == "tree"


def _argmax_c(n: int, var: str) -> str:
    """First maximum, as numpy's argmax (and so scikit-learn) breaks ties."""
    return (f"  {{ int32_t i, best = 0;\n    for (i = 1; i < {n}; ++i) if ({var}[i] > {var}[best]) best = i;\n"
            f"    return best; }}\n")


def tool_edgeinfer(est: Any, spec: ModelSpec, layout: str | None) -> Artifact:
    """edgeinfer's public API: convert, save, call ``<name>_predict``."""
    import edgeinfer

    if layout == "table" and not _is_tree(spec):
        raise NotApplicable("tree layout applies to tree models only")
    opts = {"tree_layout": layout} if _is_tree(spec) and layout else {}
    try:
        m = edgeinfer.convert(est, name="eimodel", **opts)
        with tempfile.TemporaryDirectory() as d:
            m.save(d)
            files = {p.name: p.read_text() for p in Path(d).iterdir() if p.is_file()}
    except Exception as e:  # an unsupported model is a result of the benchmark, not a crash
        raise NotApplicable(f"{type(e).__name__}: {e}") from None
    adapter = '#include <stdint.h>\n#include "eimodel.h"\n' \
              "int32_t bench_predict(const float *x) { return eimodel_predict(x); }\n"
    return Artifact(files, adapter)


def tool_emlearn(est: Any, spec: ModelSpec, form: str) -> Artifact:
    """emlearn: default (inline, int16 features for trees), inline float, or loadable (int16)."""
    import emlearn

    if form != "default" and not _is_tree(spec):
        raise NotApplicable(f"emlearn's {form} form is for tree models only")
    kwargs: dict[str, Any] = {}
    if form == "float":
        kwargs = {"method": "inline", "dtype": "float"}
    elif form == "loadable":
        kwargs = {"method": "loadable"}
    try:
        wrapper = emlearn.convert(est, **kwargs)
        code = wrapper.save(name="emlmodel")
    except Exception as e:
        raise NotApplicable(f"{type(e).__name__}: {e}") from None
    dtype = getattr(wrapper, "dtype", "float") if _is_tree(spec) else "float"
    n = est.n_features_in_
    # emlearn's C is a header with definitions: one translation unit with the adapter, as its docs use it
    adapter = (f'#include <stdint.h>\n#include "emlmodel.h"\n'
               f"int32_t bench_predict(const float *x)\n{{\n  {dtype} f[{n}]; int32_t i;\n"
               f"  for (i = 0; i < {n}; ++i) f[i] = ({dtype})x[i];\n"
               f"  return (int32_t)emlmodel_predict(f, {n});\n}}\n")
    note = f"features as {dtype}" + ("; trees vote on leaf classes" if _is_tree(spec) else "")
    return Artifact({"emlmodel.h": code}, adapter, include_dirs=[emlearn.includedir], notes=note)


def tool_m2cgen(est: Any, spec: ModelSpec) -> Artifact:
    """m2cgen: ``export_to_c`` (double precision ``score``)."""
    import m2cgen

    try:
        code = m2cgen.export_to_c(est)
    except Exception as e:
        raise NotApplicable(f"{type(e).__name__}: {str(e)[:200]}") from None
    n, k = est.n_features_in_, len(est.classes_)
    if re.search(r"\bvoid score\(", code):
        body = (f"  double in[{n}], out[{k}]; int32_t i;\n  for (i = 0; i < {n}; ++i) in[i] = x[i];\n"
                f"  for (i = 0; i < {k}; ++i) out[i] = 0.0;\n  score(in, out);\n" + _argmax_c(k, "out"))
        decl = "void score(double *input, double *output);"
    else:  # binary models return one value
        body = (f"  double in[{n}]; int32_t i;\n  for (i = 0; i < {n}; ++i) in[i] = x[i];\n"
                "  return score(in) > 0.5 ? 1 : 0;\n")
        decl = "double score(double *input);"
    adapter = f"#include <stdint.h>\n{decl}\nint32_t bench_predict(const float *x)\n{{\n{body}}}\n"
    return Artifact({"m2cmodel.c": code}, adapter, notes="double precision")


def tool_micromlgen(est: Any, spec: ModelSpec) -> Artifact:
    """micromlgen: ``port`` writes an Arduino-style C++ class; compiled with g++."""
    import copy

    import micromlgen

    if type(est).__name__ == "GaussianNB" and not hasattr(est, "sigma_"):
        est = copy.copy(est)
        est.sigma_ = est.var_  # scikit-learn 1.2 renamed sigma_ to var_; micromlgen 1.1.28 reads the old name
    try:
        code = micromlgen.port(est)
    except Exception as e:
        raise NotApplicable(f"{type(e).__name__}: {str(e)[:200]}") from None
    # <cstdarg> is unused by the generated class and absent from a bare arm-none-eabi C++ install
    code = code.replace("#include <cstdarg>", "#include <stdarg.h>")
    m = re.search(r"class (\w+)", code)
    if not m:
        raise NotApplicable("micromlgen output has no class")
    adapter = ("#include <stdint.h>\n#include <string.h>\n#include <math.h>\n#include \"mmlmodel.h\"\n"
               f"static Eloquent::ML::Port::{m.group(1)} bench_clf;\n"
               'extern "C" int32_t bench_predict(const float *x);\n'
               "int32_t bench_predict(const float *x) { return bench_clf.predict(const_cast<float *>(x)); }\n")
    return Artifact({"mmlmodel.h": code}, adapter, cxx=True, notes="C++ (g++)")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """tl2cgen's C++ core logs version notes to fds 1 and 2; keep the table on stdout clean."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            for fd, old in zip((1, 2), saved, strict=True):
                os.dup2(old, fd)
                os.close(old)


def tool_tl2cgen(est: Any, spec: ModelSpec, quantize: bool) -> Artifact:
    """treelite imports the sklearn model, tl2cgen writes C; ``quantize`` bins thresholds to ints."""
    import tl2cgen
    import treelite

    try:
        tm = treelite.sklearn.import_model(est)
        with tempfile.TemporaryDirectory() as d, _quiet_stderr():
            # parallel_comp splits the trees over several files: tl2cgen's own advice for large
            # ensembles, without which gcc needs many minutes and gigabytes for one function
            params: dict[str, Any] = {"parallel_comp": 8}
            if quantize:
                params["quantize"] = 1
            tl2cgen.generate_c_code(tm, d, params=params)
            files = {p.name: p.read_text() for p in Path(d).iterdir() if p.suffix in (".c", ".h")}
    except Exception as e:
        raise NotApplicable(f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:200]}") from None
    n = est.n_features_in_
    # pred_margin=1: raw scores; their argmax is the class, so the softmax is skipped (the fastest use)
    adapter = ('#include "header.h"\n'
               "int32_t bench_predict(const float *x)\n{\n"
               f"  union Entry d[{n}]; double r[N_TARGET * MAX_N_CLASS]; int32_t i;\n"
               f"  for (i = 0; i < {n}; ++i) d[i].fvalue = x[i];\n"
               "  for (i = 0; i < N_TARGET * MAX_N_CLASS; ++i) r[i] = 0.0;\n"
               "  predict(d, 1, r);\n" + _argmax_c(len(est.classes_), "r") + "}\n")
    return Artifact(files, adapter, notes="parallel_comp 8" + (", quantized thresholds" if quantize else ""))


TOOLS: dict[str, Callable[[Any, ModelSpec], Artifact]] = {
    "edgeinfer": lambda e, s: tool_edgeinfer(e, s, "inline"),
    "edgeinfer-table": lambda e, s: tool_edgeinfer(e, s, "table"),
    "emlearn": lambda e, s: tool_emlearn(e, s, "default"),
    "emlearn-float": lambda e, s: tool_emlearn(e, s, "float"),
    "emlearn-loadable": lambda e, s: tool_emlearn(e, s, "loadable"),
    "m2cgen": tool_m2cgen,
    "micromlgen": tool_micromlgen,
    "tl2cgen": lambda e, s: tool_tl2cgen(e, s, False),
    "tl2cgen-quant": lambda e, s: tool_tl2cgen(e, s, True),
}
TOOL_MODULES = {"edgeinfer": "edgeinfer", "emlearn": "emlearn", "m2cgen": "m2cgen", "micromlgen": "micromlgen",
                "tl2cgen": "tl2cgen"}


def is_edgeinfer(tool: str) -> bool:
    return tool.startswith("edgeinfer")


# --------------------------------------------------------------------------- harness C

HOST_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int32_t bench_predict(const float *x);

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* bench ROWS.bin N_ROWS N_FEATURES PREDS.bin MIN_SECONDS REPEATS -> prints ns/sample */
int main(int argc, char **argv)
{
  long n, d, r, k, reps = 1;
  int i, repeats;
  double min_s, best = 1e30, t;
  float *x;
  int32_t *pred;
  volatile int32_t sink = 0;
  FILE *f;
  if (argc != 7) { fprintf(stderr, "usage: bench rows n d preds min_s repeats\n"); return 2; }
  n = atol(argv[2]); d = atol(argv[3]); min_s = atof(argv[5]); repeats = atoi(argv[6]);
  x = malloc(sizeof(float) * (size_t)(n * d));
  pred = malloc(sizeof(int32_t) * (size_t)n);
  f = fopen(argv[1], "rb");
  if (!f || fread(x, sizeof(float), (size_t)(n * d), f) != (size_t)(n * d)) { fprintf(stderr, "bad rows\n"); return 3; }
  fclose(f);
  for (r = 0; r < n; ++r) pred[r] = bench_predict(x + r * d);
  f = fopen(argv[4], "wb");
  if (!f || fwrite(pred, sizeof(int32_t), (size_t)n, f) != (size_t)n) { fprintf(stderr, "bad preds\n"); return 4; }
  fclose(f);
  /* grow the pass until it lasts min_s, then keep the best of `repeats` such passes */
  for (;;) {
    t = now_s();
    for (k = 0; k < reps; ++k)
      for (r = 0; r < n; ++r) sink += bench_predict(x + r * d);
    t = now_s() - t;
    if (t >= min_s) break;
    reps = t > 1e-3 ? (long)(reps * 1.2 * min_s / t) + 1 : reps * 10;
  }
  best = t;
  for (i = 1; i < repeats; ++i) {
    t = now_s();
    for (k = 0; k < reps; ++k)
      for (r = 0; r < n; ++r) sink += bench_predict(x + r * d);
    t = now_s() - t;
    if (t < best) best = t;
  }
  printf("%.3f %ld\n", best * 1e9 / ((double)reps * (double)n), reps);
  free(x); free(pred);
  return sink == 12345 ? 1 : 0;
}
"""

M4_MAIN = r"""
#include <stdint.h>
int32_t bench_predict(const float *x);
float bench_x[%d];
volatile int32_t bench_out;
int main(void)
{
  bench_out = bench_predict(bench_x);
  for (;;) { }
}
"""

M4_STUB = "#include <stdint.h>\nint32_t bench_predict(const float *x) { return (int32_t)x[0]; }\n"


def _run(cmd: list[str], cwd: Path, timeout: float) -> None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise NotApplicable(f"{Path(cmd[0]).name} timed out after {timeout:.0f} s") from None
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip().splitlines()
        err = next((ln for ln in msg if "error" in ln), msg[-1] if msg else "?")
        raise NotApplicable(f"{Path(cmd[0]).name} failed: {err[:300]}")


def _sources(art: Artifact) -> list[str]:
    return sorted(k for k in art.files if k.endswith((".c", ".cpp", ".cc")))


def build(art: Artifact, folder: Path, main_src: str, cc: str, cxx: str, flags: list[str],
          link: list[str], timeout: float, cxx_flags: list[str] | None = None, link_cxx: bool = True) -> Path:
    """Compile the tool's files, its adapter and ``main_src`` into one executable; the same for every tool."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, v in art.files.items():
        (folder / k).write_text(v)
    adapter = "bench_adapter.cpp" if art.cxx else "bench_adapter.c"
    (folder / adapter).write_text(art.adapter)
    (folder / "bench_main.c").write_text(main_src)
    inc = [f"-I{d}" for d in [".", *art.include_dirs]]
    objs = []
    for src in [*_sources(art), adapter, "bench_main.c"]:
        is_cxx = src.endswith((".cpp", ".cc"))
        cmd = [cxx if is_cxx else cc, *flags, *((cxx_flags or []) if is_cxx else ["-std=gnu99"]), *inc,
               "-c", src, "-o", src + ".o"]
        _run(cmd, folder, timeout)
        objs.append(src + ".o")
    exe = folder / "bench.elf"
    # the C driver links C++ objects too when no C++ runtime is needed (-fno-exceptions -fno-rtti on the M4)
    linker = cxx if art.cxx and link_cxx else cc
    _run([linker, *flags, *objs, "-o", exe.name, *link, "-lm"], folder, timeout)
    return exe


def run_host(exe: Path, X: np.ndarray, min_time: float, repeats: int) -> tuple[np.ndarray, float]:
    """Predictions of every test row, and the best ns/sample."""
    rows, preds = exe.parent / "rows.bin", exe.parent / "preds.bin"
    np.ascontiguousarray(X, dtype=np.float32).tofile(rows)
    cmd = [str(exe), rows.name, str(len(X)), str(X.shape[1]), preds.name, str(min_time), str(repeats)]
    r = subprocess.run(cmd, cwd=exe.parent, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise NotApplicable(f"harness exited {r.returncode}: {r.stderr.strip()[:200]}")
    return np.fromfile(preds, dtype=np.int32), float(r.stdout.split()[0])


def arm_size(exe: Path) -> dict[str, int]:
    out = subprocess.run([ARM_SIZE, "-B", exe.name], cwd=exe.parent, capture_output=True,
                         text=True, check=True).stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in out[:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}


_M4_BASELINE: dict[int, dict[str, int]] = {}


def m4_footprint(art: Artifact, folder: Path, n_features: int, timeout: float) -> dict[str, Any]:
    """Net flash/RAM on Cortex-M4: the linked image minus the same image with a stub predict."""
    main = M4_MAIN % n_features
    cxx_flags = ["-std=gnu++11", *ARM_CXX_FLAGS]
    if n_features not in _M4_BASELINE:
        stub = Artifact({}, M4_STUB)
        _M4_BASELINE[n_features] = arm_size(build(stub, folder.parent / f"m4_baseline_{n_features}", main,
                                                  ARM_CC, ARM_CXX, ARM_FLAGS, ARM_LINK, timeout))
    base = _M4_BASELINE[n_features]
    sizes = arm_size(build(art, folder, main, ARM_CC, ARM_CXX, ARM_FLAGS, ARM_LINK, timeout, cxx_flags,
                        link_cxx=False))
    return {"flash": sizes["flash"] - base["flash"], "ram": sizes["ram"] - base["ram"],
            "linked": sizes, "baseline": base}


# --------------------------------------------------------------------------- the run

@dataclass
class Row:
    """One model x tool result; None where not measured."""

    model: str
    tool: str
    status: str = "ok"  # "ok" or "n/a"
    reason: str = ""
    notes: str = ""
    mismatches: int | None = None
    ns_per_sample: float | None = None
    ratio_to_best_exact_peer: float | None = None
    m4_flash: int | None = None
    m4_ram: int | None = None
    m4_reason: str = ""
    m4_detail: dict[str, Any] = field(default_factory=dict)
    gen_s: float | None = None
    build_s: float | None = None


def _call_with_big_stack(fn: Callable[[], Any]) -> Any:
    """Peers walk large trees recursively in Python; give them room instead of crashing."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["v"] = fn()
        except BaseException as e:  # re-raised in the caller's thread
            box["e"] = e

    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)
    old_size = threading.stack_size(512 * 1024 * 1024)
    try:
        t = threading.Thread(target=target)
        t.start()
        t.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    if "e" in box:
        raise box["e"]
    return box["v"]


def _tool_available(tool: str) -> str | None:
    import importlib.util

    mod = TOOL_MODULES[tool.split("-")[0]]
    if importlib.util.find_spec(mod) is None:
        return f"{mod} not installed (bash benchmarks/peers.sh)"
    return None


def prepare(tool: str, est: Any, spec: ModelSpec, X_test: np.ndarray, ref_idx: np.ndarray, work: Path,
            timeout: float, with_m4: bool) -> tuple[Row, Path | None]:
    """Generate, build for the host, check every prediction, build for the M4; timing comes later.

    Returns the row and the host executable (None when the tool cannot take the model).
    """
    row = Row(spec.name, tool)
    missing = _tool_available(tool)
    if missing:
        row.status, row.reason = "n/a", missing
        return row, None
    try:
        t0 = time.perf_counter()
        art = _call_with_big_stack(lambda: TOOLS[tool](est, spec))
        row.gen_s = round(time.perf_counter() - t0, 3)
        row.notes = art.notes
        t0 = time.perf_counter()
        exe = build(art, work / "host", HOST_MAIN, HOST_CC, HOST_CXX, HOST_FLAGS, [], timeout, ["-std=gnu++11"])
        row.build_s = round(time.perf_counter() - t0, 3)
        preds, _ = run_host(exe, X_test, 0.0, 1)
        row.mismatches = int(np.sum(preds != ref_idx))
    except NotApplicable as e:
        row.status, row.reason = "n/a", str(e)
        return row, None
    if not with_m4:
        row.m4_reason = "not measured"
    elif shutil.which(ARM_CC) is None:
        row.m4_reason = f"n/a ({ARM_CC} missing)"
    else:
        try:
            fp = m4_footprint(art, work / "m4", X_test.shape[1], timeout)
            row.m4_flash, row.m4_ram, row.m4_detail = fp["flash"], fp["ram"], fp
        except NotApplicable as e:
            row.m4_reason = f"n/a ({e})"
    return row, exe


def time_round_robin(built: list[tuple[Row, Path]], X_test: np.ndarray, min_time: float, repeats: int) -> None:
    """Best of ``repeats`` timed passes per tool, taken in turns, so a load spike on a shared
    machine hits every tool of a model alike instead of whichever ran at that moment."""
    for _ in range(repeats):
        for row, exe in built:
            try:
                _, ns = run_host(exe, X_test, min_time, 1)
            except NotApplicable as e:
                row.status, row.reason = "n/a", str(e)
                continue
            row.ns_per_sample = ns if row.ns_per_sample is None else min(row.ns_per_sample, ns)


def fill_ratios(rows: list[Row]) -> None:
    """Ratio of each row's latency to the fastest peer (not edgeinfer) with zero mismatches on that model."""
    for model in {r.model for r in rows}:
        exact = [r.ns_per_sample for r in rows if r.model == model and not is_edgeinfer(r.tool)
                 and r.mismatches == 0 and r.ns_per_sample]
        if not exact:
            continue
        best = min(exact)
        for r in rows:
            if r.model == model and r.ns_per_sample is not None:
                r.ratio_to_best_exact_peer = round(r.ns_per_sample / best, 3)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("edgeinfer", "scikit-learn", "numpy", "emlearn", "m2cgen", "micromlgen", "treelite", "tl2cgen"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "not installed"
    for cc in (HOST_CC, ARM_CC):
        try:
            out[cc] = subprocess.run([cc, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
        except OSError:
            out[cc] = "missing"
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(models: list[str], tools: list[str], *, min_time: float = 0.2, repeats: int = 5, timeout: float = 900.0,
        with_m4: bool = True, workdir: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit every model, run every tool on it, return the JSON-ready result.

    >>> # res = run(["dt"], ["edgeinfer"], min_time=0.01, repeats=1); res["rows"][0]["mismatches"]
    """
    specs = _model_specs()
    unknown = [m for m in models if m not in specs] + [t for t in tools if t not in TOOLS]
    if unknown:
        raise SystemExit(f"unknown model/tool {unknown}; models: {', '.join(specs)}; tools: {', '.join(TOOLS)}")
    X_train, X_test, y_train, y_test = load_data()
    rows: list[Row] = []
    model_info = {}
    tmp = tempfile.TemporaryDirectory(prefix="edgeinfer_bench_") if workdir is None else None
    base = Path(tmp.name) if tmp else workdir
    try:
        for mname in models:
            spec = specs[mname]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                est = spec.make().fit(X_train, y_train)
                fit_s = time.perf_counter() - t0
            ref = est.predict(X_test)
            ref_idx = np.searchsorted(est.classes_, ref).astype(np.int32)
            model_info[mname] = {"description": spec.description, "family": spec.family,
                                 "sklearn_accuracy": round(float(np.mean(ref == y_test)), 4), "fit_s": round(fit_s, 2)}
            log(f"== {mname}: {spec.description}, sklearn accuracy {model_info[mname]['sklearn_accuracy']:.4f}")
            built = []
            for tool in tools:
                row, exe = prepare(tool, est, spec, X_test, ref_idx, base / mname / tool, timeout, with_m4)
                rows.append(row)
                if exe is not None:
                    built.append((row, exe))
                log(f"   {tool:17s} " + (f"mismatches {row.mismatches}, M4 flash/RAM {row.m4_flash}/{row.m4_ram} B "
                                         f"{row.m4_reason}" if row.status == "ok" else f"n/a: {row.reason[:150]}"))
            time_round_robin(built, X_test, min_time, repeats)
            log("   ns/sample: " + ", ".join(f"{r.tool} {r.ns_per_sample:.1f}" for r, _ in built
                                              if r.ns_per_sample is not None))
            shutil.rmtree(base / mname, ignore_errors=True)
    finally:
        if tmp:
            tmp.cleanup()
    fill_ratios(rows)
    return {
        "benchmark": "classical_c",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/classical_c.py " + " ".join(sys.argv[1:]),
        "data": {"set": "sklearn digits", "split": "train_test_split(test_size=0.3, random_state=0)",
                 "n_test": int(len(X_test)), "n_features": int(X_test.shape[1]), "dtype": "float32"},
        "host": {"cpu": _cpu(), "cc": HOST_CC, "flags": HOST_FLAGS, "min_time_s": min_time, "repeats": repeats},
        "m4": {"cc": ARM_CC, "flags": ARM_FLAGS, "link": ARM_LINK,
               "method": "linked image with a main calling predict once, minus the same image with a stub predict; "
                         "flash = text + data, RAM = data + bss (stack not included)"},
        "versions": _versions(),
        "models": model_info,
        "rows": [asdict(r) for r in rows],
    }


# --------------------------------------------------------------------------- output

COLUMNS = ["model", "tool", "mismatches", "ns/sample", "x fastest exact peer", "M4 flash B", "M4 RAM B", "note"]


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in result["rows"]:
        if r["status"] != "ok":
            out.append([r["model"], r["tool"], "n/a", "n/a", "n/a", "n/a", "n/a", r["reason"][:90]])
            continue
        ratio = r["ratio_to_best_exact_peer"]
        m4 = r["m4_flash"] is not None
        note = "; ".join(x for x in (r["notes"], "" if m4 else f"M4 {r['m4_reason']}") if x)
        out.append([r["model"], r["tool"], str(r["mismatches"]), f"{r['ns_per_sample']:.1f}",
                    "-" if ratio is None else f"{ratio:.2f}",
                    str(r["m4_flash"]) if m4 else "n/a", str(r["m4_ram"]) if m4 else "n/a", note[:110]])
    return out


def format_table(result: dict[str, Any], markdown: bool = False) -> str:
    """The stdout table (aligned text) or the README one (markdown)."""
    rows = table_rows(result)
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    widths[-1] = len(COLUMNS[-1])
    fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
    return "\n".join([fmt(COLUMNS), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    specs = _model_specs()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_MODELS)}")
    p.add_argument("--models", help=f"comma list from: {', '.join(specs)}")
    p.add_argument("--tools", help=f"comma list from: {', '.join(TOOLS)}")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result path")
    p.add_argument("--min-time", type=float, default=0.2, help="seconds one timed pass lasts at least")
    p.add_argument("--repeats", type=int, default=5, help="timed passes; the best is kept")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for one compile")
    p.add_argument("--no-m4", action="store_true", help="skip the Cortex-M4 footprint")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown (for the README)")
    p.add_argument("--table-from", type=Path, help="print the table of an earlier JSON result and stop")
    a = p.parse_args(argv)
    if a.table_from:
        print(format_table(json.loads(a.table_from.read_text()), markdown=a.markdown))
        return 0
    models = a.models.split(",") if a.models else (QUICK_MODELS if a.quick else list(specs))
    tools = a.tools.split(",") if a.tools else list(TOOLS)
    result = run(models, tools, min_time=a.min_time, repeats=a.repeats, timeout=a.timeout, with_m4=not a.no_m4,
                 log=lambda s: print(s, file=sys.stderr, flush=True))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(format_table(result, markdown=a.markdown))
    print(f"\nJSON: {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
