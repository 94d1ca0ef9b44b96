"""Decision trees, forests and gradient boosting -> TreeEnsembleClassifier / TreeEnsembleRegressor.

Every converter copies the fitted tables so that the IR reference reproduces the
estimator bit for bit: float64 leaf values in the estimator's summation order, and float32
thresholds rounded down (scikit-learn compares a float32 or float64 sample with a float64
threshold; ``x <= down(thr)`` gives the same answer for every float32 ``x``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph


def threshold_f32(thr: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold, so float32 comparisons equal float64 ones.

    >>> threshold_f32(np.array([0.1]))[0] <= 0.1
    True
    """
    thr = np.asarray(thr, np.float64)
    with np.errstate(over="ignore"):
        t32 = thr.astype(np.float32)
    up = t32.astype(np.float64) > thr
    t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
    return t32


class _Tables:
    """Accumulates ONNX-ML style node and leaf-weight arrays, one tree at a time."""

    def __init__(self) -> None:
        self.nodes: dict[str, list[np.ndarray]] = {k: [] for k in
                                                   ("treeids", "nodeids", "featureids", "values", "modes",
                                                    "truenodeids", "falsenodeids")}
        self.weights: dict[str, list[np.ndarray]] = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
        self.n_trees = 0

    def add(self, feature: np.ndarray, threshold: np.ndarray, left: np.ndarray, right: np.ndarray,
            leaf_values: np.ndarray, column: int = 0) -> None:
        """One tree: children -1 under leaves; ``leaf_values`` (n_nodes, width) go to columns column.."""
        t = self.n_trees
        self.n_trees += 1
        n = len(left)
        leaf = np.asarray(left) < 0
        self.nodes["treeids"].append(np.full(n, t, np.int64))
        self.nodes["nodeids"].append(np.arange(n, dtype=np.int64))
        self.nodes["featureids"].append(np.where(leaf, 0, feature).astype(np.int64))
        self.nodes["values"].append(np.where(leaf, np.float32(0), threshold_f32(np.where(leaf, 0.0, threshold))))
        self.nodes["modes"].append(np.where(leaf, "LEAF", "BRANCH_LEQ"))
        self.nodes["truenodeids"].append(np.where(leaf, 0, left).astype(np.int64))
        self.nodes["falsenodeids"].append(np.where(leaf, 0, right).astype(np.int64))
        vals = np.asarray(leaf_values, np.float64).reshape(n, -1)
        li, ci = np.nonzero(leaf[:, None] & (vals != 0))
        self.weights["treeids"].append(np.full(len(li), t, np.int64))
        self.weights["nodeids"].append(li.astype(np.int64))
        self.weights["ids"].append((ci + column).astype(np.int64))
        self.weights["weights"].append(vals[li, ci])

    def attrs(self, prefix: str) -> dict[str, Any]:
        a = {f"nodes_{k}": np.concatenate(v) for k, v in self.nodes.items()}
        a.update({f"{prefix}_{k}": np.concatenate(v) for k, v in self.weights.items()})
        return a


def _sk_tree(tables: _Tables, tree: Any, values: np.ndarray, column: int = 0) -> None:
    tables.add(tree.feature, tree.threshold, tree.children_left, tree.children_right, values, column)


def _classifier(est: Any, graph: Graph, x: str, tables: _Tables, **attrs: Any) -> Converted:
    k = len(est.classes_)
    node = graph.add_node("TreeEnsembleClassifier", [x], [graph.fresh_name("label"), graph.fresh_name("scores")],
                          **tables.attrs("class"), classlabels_int64s=np.arange(k, dtype=np.int64), **attrs)
    return Converted(node.outputs, {"task": "classification", "classes": est.classes_.tolist(), "has_proba": True})


def _regressor(est: Any, graph: Graph, x: str, tables: _Tables, n_targets: int, **attrs: Any) -> Converted:
    node = graph.add_node("TreeEnsembleRegressor", [x], [graph.fresh_name("values")],
                          **tables.attrs("target"), n_targets=n_targets, **attrs)
    return Converted(node.outputs, {"task": "regression"})


def _single_output(est: Any) -> None:
    if getattr(est, "n_outputs_", 1) != 1:
        raise UnsupportedModelError(f"{type(est).__name__} with {est.n_outputs_} outputs (multi-output "
                                    "classification) is not supported; train one classifier per output")


@sk_converter("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier")
def forest_classifier(est: Any, graph: Graph, x: str) -> Converted:
    """Average of per-tree class fractions (``tree_.value``), as ``predict_proba``; a tree is a forest of one."""
    _single_output(est)
    trees = getattr(est, "estimators_", [est])
    tables = _Tables()
    for e in trees:
        _single_output(e)
        _sk_tree(tables, e.tree_, e.tree_.value[:, 0, :len(est.classes_)])
    return _classifier(est, graph, x, tables, aggregate_function="AVERAGE" if len(trees) > 1 else "SUM",
                       post_transform="NONE")


@sk_converter("DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor")
def forest_regressor(est: Any, graph: Graph, x: str) -> Converted:
    """Average of per-tree leaf values; multi-output trees give one column per output."""
    trees = getattr(est, "estimators_", [est])
    tables = _Tables()
    for e in trees:
        _sk_tree(tables, e.tree_, e.tree_.value[:, :, 0])
    return _regressor(est, graph, x, tables, int(est.n_outputs_),
                      aggregate_function="AVERAGE" if len(trees) > 1 else "SUM")


def _gb_init(est: Any) -> np.ndarray:
    if est.init not in (None, "zero"):
        raise UnsupportedModelError(f"{type(est).__name__} with a custom init estimator is not supported; "
                                    "use init=None (the default) or init='zero'")
    # the init estimator ignores X (a constant prior / mean), so one dummy row gives its raw prediction
    return np.asarray(est._raw_predict_init(np.zeros((1, est.n_features_in_), np.float32))[0], np.float64)


def _gb_tables(est: Any) -> _Tables:
    """Stage by stage, class by class: sklearn adds ``learning_rate * leaf`` in this order."""
    tables = _Tables()
    lr = float(est.learning_rate)
    for stage in est.estimators_:
        for k, e in enumerate(stage):
            _sk_tree(tables, e.tree_, lr * e.tree_.value[:, 0, 0], column=k)
    return tables


@sk_converter("GradientBoostingClassifier")
def gb_classifier(est: Any, graph: Graph, x: str) -> Converted:
    """Raw score = init + sum of scaled leaves; sigmoid (binary, label ``raw >= 0``) or softmax."""
    if est.loss != "log_loss":
        raise UnsupportedModelError(f"GradientBoostingClassifier(loss={est.loss!r}) is not supported; "
                                    "use loss='log_loss' (the default)")
    binary = len(est.classes_) == 2
    return _classifier(est, graph, x, _gb_tables(est), base_values=_gb_init(est), aggregate_function="SUM",
                       post_transform="LOGISTIC" if binary else "SOFTMAX", binary_tie_class=1)


@sk_converter("GradientBoostingRegressor")
def gb_regressor(est: Any, graph: Graph, x: str) -> Converted:
    """Raw score = init + sum of scaled leaves (every loss predicts the raw score)."""
    return _regressor(est, graph, x, _gb_tables(est), 1, base_values=_gb_init(est), aggregate_function="SUM")


def _hgb_tables(est: Any) -> _Tables:
    cat = getattr(est, "is_categorical_", None)
    if cat is not None and np.any(cat):
        raise UnsupportedModelError(
            f"{type(est).__name__} with categorical features (categorical_features=...) is not supported; "
            "one-hot or ordinal-encode those features and refit with categorical_features=None")
    tables = _Tables()
    for stage in est._predictors:
        for k, p in enumerate(stage):
            nd = p.nodes
            leaf = nd["is_leaf"].astype(bool)
            left = np.where(leaf, -1, nd["left"].astype(np.int64))
            right = np.where(leaf, -1, nd["right"].astype(np.int64))
            # leaf values are already multiplied by the learning rate
            tables.add(nd["feature_idx"].astype(np.int64), nd["num_threshold"], left, right, nd["value"], column=k)
    return tables


@sk_converter("HistGradientBoostingClassifier")
def hgb_classifier(est: Any, graph: Graph, x: str) -> Converted:
    """Raw score = baseline + sum of leaves; sigmoid (binary, label ``raw > 0``) or softmax."""
    binary = len(est.classes_) == 2
    base = np.asarray(est._baseline_prediction, np.float64).reshape(-1)
    return _classifier(est, graph, x, _hgb_tables(est), base_values=base, aggregate_function="SUM",
                       post_transform="LOGISTIC" if binary else "SOFTMAX", binary_tie_class=0)


@sk_converter("HistGradientBoostingRegressor")
def hgb_regressor(est: Any, graph: Graph, x: str) -> Converted:
    """Raw score = baseline + sum of leaves; losses with a non-identity link are refused."""
    link = type(est._loss.link).__name__
    if link != "IdentityLink":
        raise UnsupportedModelError(f"HistGradientBoostingRegressor(loss={est.loss!r}) predicts through a "
                                    f"{link}; only losses with an identity link (squared_error, absolute_error, "
                                    "quantile) are supported")
    base = np.asarray(est._baseline_prediction, np.float64).reshape(-1)
    return _regressor(est, graph, x, _hgb_tables(est), 1, base_values=base, aggregate_function="SUM")
