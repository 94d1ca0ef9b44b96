"""Nearest centroid by Euclidean distance (KMeans.predict, NearestCentroid.predict).

Inputs: ``x`` (N, F) float32 and ``centroids`` (K, F) float64. Outputs: the index of the
nearest centroid, int32 (N,) (ties to the lower index, as scikit-learn's strict ``<``
scan and numpy's argmin), and the negated Euclidean distances, float32 (N, K), so that
larger is better as for every other classifier's scores (``-KMeans.transform(x)``).
attr ``source_bits`` (64 or 32): the precision scikit-learn computes distances in (a
KMeans fitted on float32 data works in float32), which the C certificate accounts for.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require


def squared_distances(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(N, K) float64 squared Euclidean distances, computed directly (no ||x||^2 - 2xc expansion)."""
    x = x.astype(np.float64)
    return ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)


@register
class CentroidClassifier(OpDef):
    """Nearest of K centroids; scores are negated distances."""

    name = "CentroidClassifier"

    @staticmethod
    def infer(node, inputs):
        x, c = inputs[:2]
        require(c.shape is not None and len(c.shape) == 2, node, "centroids must be (K, F)")
        require(x.shape[-1] == c.shape[1], node, f"input has {x.shape[-1]} features, centroids {c.shape[1]}")
        require(node.attr("source_bits", 64) in (32, 64), node, "source_bits must be 32 or 64")
        return [((x.shape[0],), "int32"), ((x.shape[0], c.shape[0]), "float32")]

    @staticmethod
    def reference(node, x, centroids):
        d2 = squared_distances(x, centroids)
        return np.argmin(d2, axis=1).astype(np.int32), (-np.sqrt(d2)).astype(np.float32)

    @staticmethod
    def cost(node, inputs, outputs):
        k, f = inputs[1].shape
        return {"macs": int(k * f), "comparisons": int(k)}
