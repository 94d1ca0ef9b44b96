"""scikit-learn linear models -> LinearClassifier / LinearRegressor.

Every one of these predicts from ``X @ coef_.T + intercept_`` computed in float64; the
IR ops keep the float64 coefficients so that their reference is scikit-learn's number
and the C backend can certify its float32 labels against it (see
``backends/c/ops/dense.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph

#: classifiers whose predict is argmax of the decision function (binary: d > 0).
DECISION_CLASSIFIERS = ("LogisticRegression", "LogisticRegressionCV", "SGDClassifier", "Perceptron",
                        "LinearSVC", "RidgeClassifier", "RidgeClassifierCV", "PassiveAggressiveClassifier")
#: regressors whose predict is X @ coef_.T + intercept_.
LINEAR_REGRESSORS = ("LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV",
                     "SGDRegressor", "LinearSVR", "Lars", "LassoLars", "BayesianRidge", "ARDRegression",
                     "HuberRegressor", "OrthogonalMatchingPursuit", "TheilSenRegressor", "PassiveAggressiveRegressor")


def coef_and_intercept(est: Any) -> tuple[np.ndarray, np.ndarray]:
    """``coef_`` as a (K, n) matrix and ``intercept_`` as a (K,) vector, in the model's precision.

    float32 stays float32 (a model fitted on float32 data computes in float32), anything
    else becomes float64.
    """
    raw = est.coef_.toarray() if hasattr(est.coef_, "toarray") else np.asarray(est.coef_)
    dt = np.float32 if raw.dtype == np.float32 else np.float64
    coef = np.atleast_2d(raw.astype(dt))
    intercept = np.broadcast_to(np.asarray(getattr(est, "intercept_", 0.0), dtype=dt), (coef.shape[0],)).copy()
    return coef, intercept


def class_list(est: Any) -> list:
    """The estimator's labels as plain Python values (strings stay strings)."""
    return [c.item() if hasattr(c, "item") else c for c in np.asarray(est.classes_)]


def _post_transform(est: Any) -> tuple[str, bool]:
    cls = type(est).__name__
    if cls in ("LogisticRegression", "LogisticRegressionCV"):
        if getattr(est, "multi_class", "auto") == "ovr" and len(est.classes_) > 2:
            return "LOGISTIC_NORM", True
        return ("LOGISTIC" if len(est.classes_) <= 2 else "SOFTMAX"), True
    if cls == "SGDClassifier" and est.loss == "log_loss":
        return ("LOGISTIC" if len(est.classes_) <= 2 else "LOGISTIC_NORM"), True
    return "NONE", False


@sk_converter(*DECISION_CLASSIFIERS)
def convert_linear_classifier(est: Any, graph: Graph, x: str) -> Converted:
    """Binary models have one coefficient row: label ``z > 0``, scores ``[-z, z]`` or ``[1 - p, p]``."""
    coef, intercept = coef_and_intercept(est)
    classes = class_list(est)
    if np.ndim(est.classes_) != 1 or (coef.shape[0] != len(classes) and not (coef.shape[0] == 1
                                                                            and len(classes) == 2)):
        raise UnsupportedModelError(f"{type(est).__name__} with {coef.shape[0]} coefficient rows for "
                                    f"{len(classes)} classes is not supported (multi-label?); fit it on one "
                                    "label column")
    post, has_proba = _post_transform(est)
    w = graph.add_const("coef", coef)
    b = graph.add_const("intercept", intercept)
    label, scores = graph.fresh_name("label"), graph.fresh_name("probabilities" if has_proba else "scores")
    graph.add_node("LinearClassifier", [x, w, b], [label, scores], post_transform=post)
    return Converted([label, scores], {"task": "classification", "classes": classes, "has_proba": has_proba})


@sk_converter(*LINEAR_REGRESSORS)
def convert_linear_regressor(est: Any, graph: Graph, x: str) -> Converted:
    """Single- or multi-target: output (None, T)."""
    coef, intercept = coef_and_intercept(est)
    w = graph.add_const("coef", coef)
    b = graph.add_const("intercept", intercept)
    y = graph.fresh_name("values")
    graph.add_node("LinearRegressor", [x, w, b], [y])
    return Converted([y], {"task": "regression", "n_targets": int(coef.shape[0])})
