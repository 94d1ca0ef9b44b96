"""``make demo``: the main job on the bundled default model, start to finish.

Loads the bundled model (a RandomForest trained on scikit-learn's digits, stored as
.skops), converts it to C, checks the C against scikit-learn on the held-out rows,
saves the firmware files, reports the host footprint and latency, and — when the
Cortex-M toolchain and emulator are installed — builds it for a Cortex-M4 board, runs
it under emulation and reports flash, RAM, cycles, latency and energy there.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_MODEL = DATA / "digits_rf.skops"


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fixed digits split the bundled model was trained on (float32 features)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=0, stratify=y))  # type: ignore[return-value]


def train_default_model():
    """The bundled model, retrained deterministically (used to make the .skops file)."""
    from sklearn.ensemble import RandomForestClassifier

    Xtr, _, ytr, _ = digits_split()
    return RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0, n_jobs=1).fit(Xtr, ytr)


def load_default_model():
    try:
        from edgeinfer.frontends.model_files import load_skops

        return load_skops(DEFAULT_MODEL), f"bundled {DEFAULT_MODEL.name}"
    except Exception as e:  # a skops file from another scikit-learn version may not load
        print(f"note: bundled model not loadable here ({e}); retraining it deterministically", file=sys.stderr)
        return train_default_model(), "retrained RandomForest(20, depth 10)"


def host_latency_ns(m, X: np.ndarray, repeats: int = 5) -> float:
    """Best-of-N per-sample latency of the generated C's batch loop (the host build of backends/c/build.py)."""
    fn = m._fn()
    n = len(X)
    outs = [np.zeros((n, max(1, m.graph.tensors[o].numel(1))), dtype=m.graph.tensors[o].dtype)
            for o in m.graph.outputs]
    ptrs = [ctypes.c_void_p(X.ctypes.data)] + [ctypes.c_void_p(o.ctypes.data) for o in outs]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn(ctypes.c_int32(n), *ptrs)
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    import edgeinfer

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="demo_out")
    ap.add_argument("--target", default="cortex-m4")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    est, origin = load_default_model()
    _, Xte, _, yte = digits_split()
    print(f"== model: {type(est).__name__} ({origin}), {est.n_features_in_} features, {len(est.classes_)} classes")
    m = edgeinfer.convert(est, name="digits")
    total = next(line for line in m.graph.summary().splitlines() if line.strip().startswith("total:"))
    print(f"== graph: ops {', '.join(m.graph.ops())}; {total.strip()}")
    pred = m.predict(Xte)
    ref = est.predict(Xte)
    proba_err = float(np.abs(m.predict_proba(Xte) - est.predict_proba(Xte)).max())
    mismatches = int((pred != ref).sum())
    acc = float((pred == yte).mean())
    print(f"== verified: generated C vs scikit-learn on {len(Xte)} held-out rows: "
          f"{mismatches} label mismatches, max |proba diff| {proba_err:.2e}, accuracy {acc:.4f}")
    paths = m.save(out / "c")
    print("== firmware files: " + ", ".join(str(p) for p in paths))
    fp = m.footprint()
    lat = host_latency_ns(m, np.ascontiguousarray(Xte))
    print(f"== host: {lat:.0f} ns/sample (host build); footprint estimate: flash {fp['flash_bytes']} B, "
          f"RAM {fp['ram_bytes']} B (arena {fp['arena_bytes']} B, stack {fp['stack_bytes']} B)")
    results = {"model": type(est).__name__, "origin": origin, "rows": len(Xte), "mismatches": mismatches,
               "max_proba_diff": proba_err, "accuracy": acc, "host_ns_per_sample": lat, "footprint_host": fp}
    try:
        from edgeinfer.targets import measure

        print(f"== building for {a.target} and running under emulation ...")
        r = measure(m, target=a.target, inputs=Xte[:4])
        est_names = set(r.get("estimated", []))
        keys = ("flash_bytes", "ram_bytes", "instructions", "cycles", "latency_ms", "energy_uj", "outputs_match")
        print("== " + a.target + ": " + ", ".join(
            f"{k}={_fmt(r[k])}{' (estimate)' if k in est_names else ''}" for k in keys if k in r))
        results["target"] = {k: v for k, v in r.items() if k != "symbols"}
    except Exception as e:  # the host result above stands on its own
        print(f"== {a.target}: skipped ({e})")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"== results written to {out / 'results.json'}")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
