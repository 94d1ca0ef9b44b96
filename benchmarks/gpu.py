"""Rows per second of tensor-program conversions on CPU (and CUDA when present), one run, side by side.

Models (fitted on scikit-learn's digits, 1,797 rows, 64 features): RandomForest with 10 and 100
trees of depth <= 12, GradientBoosting with 500 trees (binary target digit < 5, so 500 trees, not
500 per class), LogisticRegression and an MLP with one hidden layer of 32. Test batches are digits
rows drawn with replacement plus Gaussian noise (sd 0.5), float32: "digits-derived" data of any size.

Tools, each at batch 1, 100, 10k, 100k (and 1M with ``--full``), one thread each (torch, ONNX Runtime
and scikit-learn are all pinned to ``--threads``):

* ``edgeinfer-torch/<strategy>``: ``edgeinfer.convert(m, backend="torch", strategy=...)``
  (``auto`` plus each tree strategy for tree models);
* ``edgeinfer-ort``: ``backend="onnxruntime"`` (the exported program in ONNX Runtime);
* ``hummingbird/<strategy>``: hummingbird-ml's torch backend with each tree implementation;
* ``sklearn``: the source model's ``predict``; ``onnxruntime``: skl2onnx's ONNX-ML model in ONNX Runtime.

Every tool's predictions are compared with scikit-learn's on every row of every batch (``exact``).
Throughput is the best of ``--repeats`` timed calls of one ``predict`` on the whole batch. A tool
whose call would take longer than ``--budget`` seconds (measured on the previous batch size, or a
dense GEMM larger than 2^28 cells) is skipped at larger batches and marked so.

Run in its own environment (``bash benchmarks/gpu_env.sh``), where torch is the CPU build:
``benchmarks/.venv-gpu/bin/python benchmarks/gpu.py [--full] [--models rf10,lr] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
BATCHES = [1, 100, 10_000, 100_000]
TREE_STRATEGIES = ["gemm", "tree_traversal", "perfect_tree_traversal"]
HB_STRATEGIES = {"gemm": "gemm", "tree_trav": "tree_traversal", "perf_tree_trav": "perfect_tree_traversal"}


def models() -> dict[str, Callable[[], Any]]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    return {
        "rf10": lambda: RandomForestClassifier(10, max_depth=12, random_state=0),
        "rf100": lambda: RandomForestClassifier(100, max_depth=12, random_state=0),
        "gb500": lambda: GradientBoostingClassifier(n_estimators=500, random_state=0),
        "lr": lambda: LogisticRegression(max_iter=2000),
        "mlp32": lambda: MLPClassifier((32,), max_iter=500, random_state=0),
    }


def data(n: int, seed: int = 0) -> np.ndarray:
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    return (X[rng.integers(0, len(X), n)] + rng.normal(0, 0.5, (n, X.shape[1]))).astype(np.float32)


def fit(name: str) -> Any:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    if name == "gb500":
        y = (y < 5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return models()[name]().fit(X.astype(np.float32), y)


def tools(est: Any, threads: int) -> dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]]:
    """Tool name -> builder of a predict function (built lazily: a missing package skips one tool)."""
    import edgeinfer

    is_tree = hasattr(est, "estimators_")
    out: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]] = {}
    for s in ["auto"] + (TREE_STRATEGIES if is_tree else []):
        out[f"edgeinfer-torch/{s}"] = lambda s=s: edgeinfer.convert(est, backend="torch", strategy=s,
                                                                    threads=threads).predict
    out["edgeinfer-ort"] = lambda: edgeinfer.convert(est, backend="onnxruntime", threads=threads).predict
    for hb, s in (HB_STRATEGIES.items() if is_tree else [("default", "default")]):
        out[f"hummingbird/{s}"] = lambda hb=hb: _hummingbird(est, hb)
    out["sklearn"] = lambda: est.predict
    out["onnxruntime"] = lambda: _ort(est, threads)
    return out


def _hummingbird(est: Any, impl: str) -> Callable[[np.ndarray], np.ndarray]:
    from hummingbird.ml import convert

    cfg = {} if impl == "default" else {"tree_implementation": impl}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = convert(est, "torch", extra_config=cfg)
    return m.predict


def _ort(est: Any, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort
    from skl2onnx import to_onnx

    onx = to_onnx(est, np.zeros((1, est.n_features_in_), np.float32), options={id(est): {"zipmap": False}}
                  if hasattr(est, "classes_") else None, target_opset={"": 17, "ai.onnx.ml": 3})
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(onx.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    classes = np.asarray(est.classes_)

    def predict(X: np.ndarray) -> np.ndarray:
        lab = sess.run(None, {name: X})[0]
        return lab if lab.dtype == classes.dtype else classes[lab]
    return predict


def time_call(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray, repeats: int) -> tuple[float, np.ndarray]:
    out = fn(X)  # warm-up (and the predictions checked)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(X)
        best = min(best, time.perf_counter() - t)
    return best, out


def _gemm_cells(est: Any, tool: str, n: int) -> int:
    if not tool.endswith("/gemm") or not hasattr(est, "estimators_"):
        return 0
    trees = [e.tree_ for e in np.ravel(est.estimators_)]
    return n * len(trees) * max(t.node_count for t in trees)


def run(names: list[str], batches: list[int], threads: int, repeats: int, budget: float) -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_limits

    # scikit-learn's numpy BLAS (and any OpenMP pool) gets the same thread count as torch and ONNX Runtime
    with threadpool_limits(limits=threads):
        return _run(names, batches, threads, repeats, budget)


def _run(names: list[str], batches: list[int], threads: int, repeats: int, budget: float) -> list[dict[str, Any]]:
    import torch

    torch.set_num_threads(threads)
    rows: list[dict[str, Any]] = []
    for name in names:
        est = fit(name)
        skip: dict[str, str] = {}
        built: dict[str, Any] = {}
        for n in batches:
            X = data(n, seed=n)
            ref = est.predict(X)
            for tool, make in tools(est, threads).items():
                row = {"model": name, "tool": tool, "batch": n}
                if tool in skip or _gemm_cells(est, tool, n) > 2 ** 28:
                    rows.append({**row, "skipped": skip.get(tool, "dense GEMM too large")})
                    continue
                try:
                    if tool not in built:
                        built[tool] = make()
                    # torch's thread count is process-global and hummingbird-ml's convert resets it:
                    # pin it again before every timing so every torch tool runs on --threads
                    torch.set_num_threads(threads)
                    secs, pred = time_call(built[tool], X, repeats if n < 100_000 else 1)
                except Exception as e:  # a missing package or a refusal: recorded, the run goes on
                    skip[tool] = f"{type(e).__name__}: {str(e)[:120]}"
                    rows.append({**row, "skipped": skip[tool]})
                    continue
                exact = bool(np.array_equal(np.asarray(pred).reshape(-1), ref))
                rows.append({**row, "rows_per_s": n / secs, "exact": exact})
                print(f"{name:6s} {tool:40s} {n:>8d} {n / secs:>14,.0f} rows/s  exact={exact}", flush=True)
                if secs * 10 > budget:
                    skip[tool] = f"over the {budget:.0f} s budget at the next batch size"
    return rows


def table(rows: list[dict[str, Any]], batch: int = 10_000) -> str:
    """Markdown table of rows/s at one batch size, with the bars: best peer, 2x best hummingbird."""
    lines = [f"| model | tool | rows/s at batch {batch:,} | exact |", "|---|---|---:|---|"]
    for m in dict.fromkeys(r["model"] for r in rows):
        sel = [r for r in rows if r["model"] == m and r["batch"] == batch]
        for r in sel:
            v = f"{r['rows_per_s']:,.0f}" if "rows_per_s" in r else f"skipped ({r['skipped'][:40]})"
            lines.append(f"| {m} | {r['tool']} | {v} | {r.get('exact', '')} |")
        ours = max((r["rows_per_s"] for r in sel if r["tool"].startswith("edgeinfer") and "rows_per_s" in r),
                   default=0.0)
        peers = max((r["rows_per_s"] for r in sel if not r["tool"].startswith("edgeinfer") and "rows_per_s" in r),
                    default=0.0)
        hb = max((r["rows_per_s"] for r in sel if r["tool"].startswith("hummingbird") and "rows_per_s" in r),
                 default=0.0)
        lines.append(f"| {m} | **bars** | best edgeinfer {ours:,.0f} vs best peer {peers:,.0f} "
                     f"({'met' if ours >= peers else 'NOT met'}); vs 2x hummingbird {2 * hb:,.0f} "
                     f"({'met' if ours >= 2 * hb else 'NOT met'}) | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="also batch 1,000,000")
    ap.add_argument("--models", default=",".join(models()))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds one call may take")
    ap.add_argument("--out", default=str(HERE / "results" / "gpu.json"))
    a = ap.parse_args()
    batches = BATCHES + ([1_000_000] if a.full else [])
    load_before = os.getloadavg()  # other work on the machine shifts every figure: recorded with them
    rows = run(a.models.split(","), batches, a.threads, a.repeats, a.budget)
    print(table(rows))
    import torch

    meta = {"threads": a.threads, "batches": batches, "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "cpus": os.cpu_count(), "load_avg_1_5_15_before": [round(v, 2) for v in load_before],
            "load_avg_1_5_15_after": [round(v, 2) for v in os.getloadavg()]}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
