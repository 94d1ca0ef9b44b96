"""scikit-learn MLPClassifier / MLPRegressor -> one MLP op.

Weights are stored transposed (n_out, n_in), the row-major layout of the dense kernel,
and in the dtype the estimator holds (float64 unless it was fitted on float32 data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn.linear import class_list
from edgeinfer.frontends.sklearn.registry import Converted, sk_converter
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.ops.mlp import HIDDEN_ACTIVATIONS, OUT_ACTIVATIONS


def _layers(est: Any, graph: Graph) -> list[str]:
    if est.out_activation_ not in OUT_ACTIVATIONS or est.activation not in HIDDEN_ACTIVATIONS:
        raise UnsupportedModelError(f"{type(est).__name__} with activation={est.activation!r} and output "
                                    f"activation {est.out_activation_!r} is not supported; hidden activations: "
                                    f"{', '.join(HIDDEN_ACTIVATIONS)}; outputs: {', '.join(OUT_ACTIVATIONS)} "
                                    "(use loss='squared_error')")
    names = []
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_, strict=True)):
        names.append(graph.add_const(f"W{i}", np.ascontiguousarray(np.asarray(w).T)))
        names.append(graph.add_const(f"b{i}", np.asarray(b)))
    return names


@sk_converter("MLPClassifier")
def convert_mlp_classifier(est: Any, graph: Graph, x: str) -> Converted:
    """Binary: one logistic unit, label ``p > 0.5``; multiclass: softmax, label argmax."""
    y_type = getattr(getattr(est, "_label_binarizer", None), "y_type_", "multiclass")
    if y_type == "multilabel-indicator":
        raise UnsupportedModelError("multi-label MLPClassifier is not supported; train one MLPClassifier per "
                                    "label or use a multiclass target")
    label, proba = graph.fresh_name("label"), graph.fresh_name("probabilities")
    graph.add_node("MLP", [x, *_layers(est, graph)], [label, proba], activation=est.activation,
                   out_activation=est.out_activation_, task="classifier")
    return Converted([label, proba], {"task": "classification", "classes": class_list(est), "has_proba": True})


@sk_converter("MLPRegressor")
def convert_mlp_regressor(est: Any, graph: Graph, x: str) -> Converted:
    """Identity output layer; (None, T) values."""
    y = graph.fresh_name("values")
    graph.add_node("MLP", [x, *_layers(est, graph)], [y], activation=est.activation,
                   out_activation=est.out_activation_, task="regressor")
    return Converted([y], {"task": "regression", "n_targets": int(est.n_outputs_)})
