"""Exactness sweep: every supported scikit-learn estimator x data sets x seeds, through the generated C.

Counts label mismatches (classifiers) and the worst probability / regression error against the
fitted estimator itself, on held-out rows. It is the wide net behind the test suite's per-family
tests: models and data sets here are varied on purpose (string labels, sparse integer labels,
200 features, tiny and deep forests, several seeds) so a rounding shortcut that flips a near-tie
shows up as a non-zero count.

    python benchmarks/exactness.py [--quick] [--out benchmarks/results/exactness.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import cluster, datasets, ensemble, linear_model, naive_bayes, neighbors, neural_network, svm, tree
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

import edgeinfer


def _data() -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    out: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    for name, loader in (("iris", datasets.load_iris), ("wine", datasets.load_wine),
                         ("breast_cancer", datasets.load_breast_cancer), ("digits", datasets.load_digits)):
        X, y = loader(return_X_y=True)
        out[name] = (X.astype(np.float32), y, "clf")
    X, y = datasets.make_classification(n_samples=600, n_features=200, n_informative=20, n_classes=3,
                                        random_state=3)
    out["mc200"] = (X.astype(np.float32), y, "clf")
    X, y = datasets.load_iris(return_X_y=True)
    out["iris_str"] = (X.astype(np.float32), np.array(["setosa", "versicolor", "virginica"])[y], "clf")
    X, y = datasets.load_wine(return_X_y=True)
    out["wine_sparse"] = (X.astype(np.float32), np.array([3, 17, 42])[y], "clf")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    out["bc_pm1"] = (X.astype(np.float32), np.where(y == 1, 1, -1), "clf")
    X, y = datasets.load_diabetes(return_X_y=True)
    out["diabetes"] = (X.astype(np.float32), y, "reg")
    X, y = datasets.make_regression(n_samples=500, n_features=30, noise=5.0, random_state=1)
    out["mreg30"] = (X.astype(np.float32), y, "reg")
    return out


def _classifiers(seed: int) -> dict[str, Callable[[], Any]]:
    return {
        "DecisionTree": lambda: tree.DecisionTreeClassifier(random_state=seed),
        "RF3": lambda: ensemble.RandomForestClassifier(3, max_depth=6, random_state=seed),
        "RF10d8": lambda: ensemble.RandomForestClassifier(10, max_depth=8, random_state=seed),
        "RF50": lambda: ensemble.RandomForestClassifier(50, random_state=seed),
        "ExtraTrees10": lambda: ensemble.ExtraTreesClassifier(10, random_state=seed),
        "GB20": lambda: ensemble.GradientBoostingClassifier(n_estimators=20, random_state=seed),
        "HGB20": lambda: ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=seed),
        "LogReg": lambda: make_pipeline(StandardScaler(), linear_model.LogisticRegression(max_iter=300)),
        "LogRegRaw": lambda: linear_model.LogisticRegression(max_iter=50),
        "SGD": lambda: make_pipeline(MinMaxScaler(), linear_model.SGDClassifier(random_state=seed)),
        "SGDlog": lambda: make_pipeline(StandardScaler(), linear_model.SGDClassifier(loss="log_loss",
                                                                                     random_state=seed)),
        "Perceptron": lambda: make_pipeline(MaxAbsScaler(), linear_model.Perceptron(random_state=seed)),
        "LinearSVC": lambda: make_pipeline(StandardScaler(), svm.LinearSVC(random_state=seed)),
        "SVC_rbf": lambda: make_pipeline(StandardScaler(), svm.SVC()),
        "SVC_poly": lambda: make_pipeline(StandardScaler(), svm.SVC(kernel="poly", degree=3)),
        "SVC_sig": lambda: make_pipeline(StandardScaler(), svm.SVC(kernel="sigmoid")),
        "SVC_lin": lambda: make_pipeline(StandardScaler(), svm.SVC(kernel="linear")),
        "NuSVC": lambda: make_pipeline(StandardScaler(), svm.NuSVC(nu=0.1)),
        "GaussianNB": lambda: naive_bayes.GaussianNB(),
        "NearestCentroid": lambda: neighbors.NearestCentroid(),
        "KMeans": lambda: cluster.KMeans(4, n_init=3, random_state=seed),
        "MLP": lambda: make_pipeline(StandardScaler(), neural_network.MLPClassifier(
            hidden_layer_sizes=(16,), max_iter=200, random_state=seed)),
        "MLPtanh": lambda: make_pipeline(RobustScaler(), neural_network.MLPClassifier(
            hidden_layer_sizes=(8, 8), activation="tanh", max_iter=200, random_state=seed)),
        "PCA+RF": lambda: make_pipeline(PCA(0.9, random_state=seed), ensemble.RandomForestClassifier(
            5, random_state=seed)),
    }


def _regressors(seed: int) -> dict[str, Callable[[], Any]]:
    return {
        "DecisionTreeR": lambda: tree.DecisionTreeRegressor(max_depth=8, random_state=seed),
        "RFR10": lambda: ensemble.RandomForestRegressor(10, max_depth=8, random_state=seed),
        "ETR10": lambda: ensemble.ExtraTreesRegressor(10, max_depth=8, random_state=seed),
        "GBR50": lambda: ensemble.GradientBoostingRegressor(n_estimators=50, random_state=seed),
        "HGBR20": lambda: ensemble.HistGradientBoostingRegressor(max_iter=20, random_state=seed),
        "Linear": lambda: linear_model.LinearRegression(),
        "Ridge": lambda: linear_model.Ridge(),
        "Lasso": lambda: linear_model.Lasso(alpha=0.1),
        "ElasticNet": lambda: linear_model.ElasticNet(alpha=0.1),
        "SGDR": lambda: make_pipeline(StandardScaler(), linear_model.SGDRegressor(random_state=seed)),
        "LinearSVR": lambda: make_pipeline(StandardScaler(), svm.LinearSVR(random_state=seed, max_iter=5000)),
        "SVR": lambda: make_pipeline(StandardScaler(), svm.SVR()),
        "MLPR": lambda: make_pipeline(StandardScaler(), neural_network.MLPRegressor(
            hidden_layer_sizes=(16,), max_iter=300, random_state=seed)),
    }


def _one(make: Callable[[], Any], X: np.ndarray, y: np.ndarray, kind: str, seed: int,
         layout: str | None) -> dict[str, Any]:
    import warnings

    strat = y if kind == "clf" else None
    Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=0.4, random_state=seed, stratify=strat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make().fit(Xtr, ytr)
    opts = {"tree_layout": layout} if layout else {}
    m = edgeinfer.convert(est, name="sweep", **opts)
    row: dict[str, Any] = {"rows": len(Xte)}
    if kind == "clf":
        got, ref = m.predict(Xte), est.predict(Xte)
        row["mismatches"] = int((got != ref).sum())
        if hasattr(est, "predict_proba") and m.graph.metadata.get("has_proba"):
            try:
                row["max_proba_err"] = float(np.abs(m.predict_proba(Xte) - est.predict_proba(Xte)).max())
            except AttributeError:
                pass
    else:
        got, ref = m.predict(Xte), est.predict(Xte)
        err = np.abs(got - ref) / np.maximum(1.0, np.abs(ref))
        row["max_rel_err"] = float(err.max())
        row["mismatches"] = int((err > 1e-4).sum())
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one seed, fewer data sets")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--only", help="comma-separated model keys")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "exactness.json"))
    a = ap.parse_args(argv)
    data = _data()
    seeds = [0] if a.quick else list(range(a.seeds))
    rows: list[dict[str, Any]] = []
    total_bad = 0
    t0 = time.perf_counter()
    for seed in seeds:
        for kind, makers in (("clf", _classifiers(seed)), ("reg", _regressors(seed))):
            for mname, make in makers.items():
                if a.only and mname not in a.only.split(","):
                    continue
                is_tree = any(k in mname for k in ("Tree", "RF", "GB", "Extra", "ETR"))
                for layout in (("inline", "table") if is_tree else (None,)):
                    for dname, (X, y, dkind) in data.items():
                        if dkind != kind or (a.quick and dname in ("wine", "bc_pm1", "mreg30")):
                            continue
                        key = {"model": mname, "layout": layout or "-", "data": dname, "seed": seed}
                        try:
                            r = _one(make, X, y, kind, seed, layout)
                        except edgeinfer.EdgeInferError as e:
                            r = {"error": f"{type(e).__name__}: {str(e)[:160]}"}
                        rows.append({**key, **r})
                        bad = r.get("mismatches", 0)
                        total_bad += bad
                        flag = "  <-- MISMATCH" if bad else ""
                        extra = r.get("error") or ", ".join(f"{k}={v:.2e}" if isinstance(v, float) else f"{k}={v}"
                                                            for k, v in r.items())
                        print(f"{mname:<14} {layout or '-':<7} {dname:<14} seed {seed}: {extra}{flag}", flush=True)
    errors = sum(1 for r in rows if "error" in r)
    print(f"\n{len(rows)} runs, {total_bad} mismatching rows, {errors} errors, {time.perf_counter() - t0:.0f} s")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"runs": rows, "mismatching_rows": total_bad, "errors": errors}, indent=1))
    return 1 if total_bad or errors else 0


if __name__ == "__main__":
    sys.exit(main())
