"""scikit-learn scalers and PCA -> Scaler / Projection (pipeline steps).

Scalers replay scikit-learn's float32 arithmetic exactly (StandardScaler in float32,
the others in float64 rounded per step), so a scaled pipeline loses nothing. PCA is the
one exception: scikit-learn keeps its output in float64 while the graph carries float32,
so a label downstream of a PCA can differ from scikit-learn's when its margin is within
float32 rounding of the projected features (none seen in the tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph


def _scaler(graph: Graph, x: str, steps: list[tuple[str, Any]], precision: str,
            clip: tuple[float, float] | None = None) -> Converted:
    n = graph.tensors[x].shape[-1]
    steps = [(s, p) for s, p in steps if p is not None]
    y = graph.fresh_name("scaled")
    if not steps and clip is None:
        graph.add_node("Identity", [x], [y])
        return Converted([y])
    params = [graph.add_const(f"{s}_param", np.broadcast_to(np.asarray(p, dtype=np.float64), (n,)).copy())
              for s, p in steps]
    attrs: dict[str, Any] = {"steps": [s for s, _ in steps], "precision": precision}
    if clip is not None:
        attrs["clip"] = [float(clip[0]), float(clip[1])]
    graph.add_node("Scaler", [x, *params], [y], **attrs)
    return Converted([y])


def _dense_only(est: Any) -> None:
    for attr in ("mean_", "scale_", "center_", "min_"):
        if hasattr(getattr(est, attr, None), "toarray"):
            raise UnsupportedModelError(f"{type(est).__name__} with sparse {attr} is not supported")


@sk_converter("StandardScaler", transformer=True)
def convert_standard_scaler(est: Any, graph: Graph, x: str) -> Converted:
    """``(x - mean) / scale`` in float32, as scikit-learn casts both to X's dtype."""
    _dense_only(est)
    return _scaler(graph, x, [("sub", est.mean_ if est.with_mean else None),
                              ("div", est.scale_ if est.with_std else None)], "float32")


@sk_converter("MinMaxScaler", transformer=True)
def convert_minmax_scaler(est: Any, graph: Graph, x: str) -> Converted:
    """``x * scale + min`` in float64 per step, then the optional clip to feature_range."""
    clip = tuple(est.feature_range) if getattr(est, "clip", False) else None
    return _scaler(graph, x, [("mul", est.scale_), ("add", est.min_)], "float64", clip)


@sk_converter("MaxAbsScaler", transformer=True)
def convert_maxabs_scaler(est: Any, graph: Graph, x: str) -> Converted:
    """``x / max_abs`` in float64 (clip to [-1, 1] when asked)."""
    clip = (-1.0, 1.0) if getattr(est, "clip", False) else None
    return _scaler(graph, x, [("div", est.scale_)], "float64", clip)


@sk_converter("RobustScaler", transformer=True)
def convert_robust_scaler(est: Any, graph: Graph, x: str) -> Converted:
    """``(x - center) / scale`` in float64 per step."""
    return _scaler(graph, x, [("sub", est.center_), ("div", est.scale_)], "float64")


@sk_converter("PCA", transformer=True)
def convert_pca(est: Any, graph: Graph, x: str) -> Converted:
    """``(x @ C.T - mean @ C.T) / sqrt(explained_variance)`` (the division only when whitening)."""
    comp = np.asarray(est.components_, dtype=np.float64)
    offset = np.asarray(est.mean_, dtype=np.float64).reshape(1, -1) @ comp.T
    inputs = [x, graph.add_const("components", comp), graph.add_const("pca_offset", offset.reshape(-1))]
    if est.whiten:
        scale = np.sqrt(np.asarray(est.explained_variance_, dtype=np.float64))
        scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
        inputs.append(graph.add_const("pca_scale", scale))
    y = graph.fresh_name("projected")
    graph.add_node("Projection", inputs, [y])
    return Converted([y])
