"""Gaussian naive Bayes, with scikit-learn's joint log likelihood term for term.

Inputs: ``x`` (N, F) float32; float64 constants ``theta`` (K, F), ``var`` (K, F),
``log_prior`` (K,) = ``log(class_prior_)`` and ``log_norm`` (K,) =
``-0.5 * sum(log(2 pi var))``. For class k scikit-learn computes
``log_prior[k] + (log_norm[k] - 0.5 * sum((x - theta[k]) ** 2 / var[k]))``; the reference
does the same numpy operations, so its labels are scikit-learn's bit for bit.
Outputs: label index int32 (N,), class probabilities float32 (N, K).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require


def joint_log_likelihood(x: np.ndarray, theta: np.ndarray, var: np.ndarray, log_prior: np.ndarray,
                         log_norm: np.ndarray) -> np.ndarray:
    """(N, K) float64, in ``GaussianNB._joint_log_likelihood``'s operation order."""
    x = x.astype(np.float64)
    cols = [log_prior[k] + (log_norm[k] - 0.5 * np.sum(((x - theta[k, :]) ** 2) / var[k, :], axis=1))
            for k in range(len(theta))]
    return np.stack(cols).T


@register
class GaussianNaiveBayes(OpDef):
    """Label = first argmax of the joint log likelihood; probabilities = its softmax."""

    name = "GaussianNaiveBayes"

    @staticmethod
    def infer(node, inputs):
        x, theta, var, lp, ln = inputs[:5]
        require(len(theta.shape) == 2 and tuple(var.shape) == tuple(theta.shape), node,
                "theta and var must both be (K, F)")
        require(x.shape[-1] == theta.shape[1], node, f"input has {x.shape[-1]} features, theta {theta.shape[1]}")
        require(tuple(lp.shape) == (theta.shape[0],) and tuple(ln.shape) == (theta.shape[0],), node,
                "log_prior and log_norm must be (K,)")
        return [((x.shape[0],), "int32"), ((x.shape[0], theta.shape[0]), "float32")]

    @staticmethod
    def reference(node, x, theta, var, log_prior, log_norm):
        jll = joint_log_likelihood(x, theta, var, log_prior, log_norm)
        m = jll.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(jll - m).sum(axis=1, keepdims=True))
        return np.argmax(jll, axis=1).astype(np.int32), np.exp(jll - lse).astype(np.float32)

    @staticmethod
    def cost(node, inputs, outputs):
        k, f = inputs[1].shape
        return {"macs": int(2 * k * f), "comparisons": int(k)}
