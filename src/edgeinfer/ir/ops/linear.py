"""Linear models (ONNX-ML LinearClassifier / LinearRegressor semantics, weights as inputs).

The reference computes in the coefficients' dtype, as scikit-learn does: float64 for a
model fitted on float64 data (float32 X is upcast), float32 for one fitted on float32
data. So it is the very number scikit-learn compares: labels come from those decision
values, never from rounded scores.

* ``LinearClassifier(X, coef (K, n), intercept (K,))`` -> ``label`` (int32 index, (N,)),
  ``scores`` (float32, (N, C)). ``K == 1`` is a binary model: C = 2, the label is
  ``z > 0`` and the scores are ``[-z, z]`` (or ``[1 - p, p]`` under LOGISTIC), as
  ONNX-ML and scikit-learn's ``predict_proba`` do. Otherwise C = K and the label is
  ``argmax z`` (first index on ties, as numpy).
  attr ``post_transform``: ``NONE`` (decision values), ``LOGISTIC`` (sigmoid),
  ``SOFTMAX``, or ``LOGISTIC_NORM`` (sigmoid then divide by the row sum: scikit-learn's
  one-vs-rest probabilities, e.g. SGDClassifier(loss="log_loss")).
* ``LinearRegressor(X, coef (T, n), intercept (T,))`` -> ``Y`` (float32, (N, T)).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require

POST_TRANSFORMS = ("NONE", "LOGISTIC", "SOFTMAX", "LOGISTIC_NORM")


def decision(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray | None) -> np.ndarray:
    """``x @ coef.T + intercept`` in the coefficients' precision, as scikit-learn's decision_function."""
    dt = np.result_type(coef.dtype, np.float32)
    z = np.asarray(x, dtype=dt) @ np.asarray(coef, dtype=dt).T
    if intercept is not None:
        z = z + np.asarray(intercept, dtype=dt)
    return z


def expit(z: np.ndarray) -> np.ndarray:
    """The logistic function in z's precision (so float32 underflows where scipy's does)."""
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-z))).astype(z.dtype)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def label_and_scores(z: np.ndarray, post: str) -> tuple[np.ndarray, np.ndarray]:
    """Label index and scores from float64 decision values (K columns; K == 1 is binary)."""
    if z.shape[1] == 1:
        d = z[:, 0]
        label = (d > 0).astype(np.int32)
        if post in ("LOGISTIC", "LOGISTIC_NORM"):
            p = expit(d)
            scores = np.stack([1 - p, p], axis=1)
        elif post == "SOFTMAX":
            scores = softmax(np.stack([-d, d], axis=1))
        else:
            scores = np.stack([-d, d], axis=1)
        return label, scores.astype(np.float32)
    label = np.argmax(z, axis=1).astype(np.int32)
    if post == "LOGISTIC":
        scores = expit(z)
    elif post == "LOGISTIC_NORM":
        p = expit(z)
        s = p.sum(axis=1, keepdims=True)
        scores = np.where(s == 0, 1 / z.shape[1], p / np.where(s == 0, 1, s))
    elif post == "SOFTMAX":
        scores = softmax(z)
    else:
        scores = z
    return label, scores.astype(np.float32)


def _check_weights(node, inputs) -> tuple[int, int]:
    x, w = inputs[0], inputs[1]
    require(w is not None and w.is_const and len(w.shape) == 2, node, "coef must be a constant (K, n) matrix")
    require(len(x.shape) == 2 and x.shape[1] == w.shape[1], node,
            f"input has shape {x.shape}, coef expects {w.shape[1]} features")
    if len(inputs) > 2 and inputs[2] is not None:
        require(inputs[2].is_const and tuple(inputs[2].shape) == (w.shape[0],), node,
                f"intercept must be a constant of shape ({w.shape[0]},)")
    return int(w.shape[0]), int(w.shape[1])


def _dense_cost(inputs) -> dict[str, int]:
    k, n = inputs[1].shape
    return {"macs": int(k * n), "comparisons": int(k)}


@register
class LinearClassifier(OpDef):
    """Linear classifier: decision values, label, post-transformed scores (see module docstring)."""

    name = "LinearClassifier"

    @staticmethod
    def infer(node, inputs):
        k, _ = _check_weights(node, inputs)
        require(node.attr("post_transform", "NONE") in POST_TRANSFORMS, node,
                f"post_transform must be one of {POST_TRANSFORMS}")
        return [((inputs[0].shape[0],), "int32"), ((inputs[0].shape[0], max(k, 2)), "float32")]

    @staticmethod
    def reference(node, x, coef, intercept=None):
        z = decision(x, coef, intercept)
        return label_and_scores(z, node.attr("post_transform", "NONE"))

    @staticmethod
    def cost(node, inputs, outputs):
        return _dense_cost(inputs)


@register
class LinearRegressor(OpDef):
    """``Y = X @ coef.T + intercept`` (coefficient precision, float32 result)."""

    name = "LinearRegressor"

    @staticmethod
    def infer(node, inputs):
        k, _ = _check_weights(node, inputs)
        return [((inputs[0].shape[0], k), "float32")]

    @staticmethod
    def reference(node, x, coef, intercept=None):
        return (decision(x, coef, intercept).astype(np.float32),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": _dense_cost(inputs)["macs"], "comparisons": 0}
