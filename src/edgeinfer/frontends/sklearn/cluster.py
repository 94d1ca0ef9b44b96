"""scikit-learn KMeans and NearestCentroid -> CentroidClassifier.

KMeans is a classifier of its clusters here: classes are ``range(n_clusters)``, scores
the negated distances ``-KMeans.transform(x)``. NearestCentroid keeps its own labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph


def _centroids(g: Graph, x: str, centroids: np.ndarray, classes: list, source_bits: int) -> Converted:
    c = g.add_const("centroids", np.asarray(centroids, dtype=np.float64))
    label, scores = g.fresh_name("label"), g.fresh_name("neg_distances")
    g.add_node("CentroidClassifier", [x, c], [label, scores], name="nearest_centroid", source_bits=source_bits)
    return Converted([label, scores], {"task": "classification", "classes": classes, "has_proba": False,
                                       "scores": "negative_distance"})


@sk_converter("KMeans", "MiniBatchKMeans")
def convert_kmeans(est: Any, g: Graph, x: str) -> Converted:
    """KMeans.predict: index of the nearest cluster center.

    >>> # from_sklearn(KMeans(8, n_init=1).fit(X))
    """
    centers = np.asarray(est.cluster_centers_)
    bits = 32 if centers.dtype == np.float32 else 64
    return _centroids(g, x, centers, list(range(len(centers))), bits)


@sk_converter("NearestCentroid")
def convert_nearest_centroid(est: Any, g: Graph, x: str) -> Converted:
    """NearestCentroid.predict (Euclidean metric, uniform priors).

    >>> # from_sklearn(NearestCentroid().fit(X, y))
    """
    if est.metric != "euclidean":
        raise UnsupportedModelError(f"NearestCentroid(metric={est.metric!r}) is not supported; "
                                    "use metric='euclidean'")
    if not np.isclose(est.class_prior_, 1 / len(est.classes_)).all():
        raise UnsupportedModelError("NearestCentroid with non-uniform priors predicts from normalised "
                                    "discriminant scores, which are not supported; use priors='uniform'")
    return _centroids(g, x, est.centroids_, list(est.classes_), 64)
