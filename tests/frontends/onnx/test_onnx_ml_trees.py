"""ONNX-ML TreeEnsembleClassifier / Regressor imported onto the IR's tree ops, checked against ONNX Runtime.

Random complete trees are written with onnx.helper in every ordering mode (BRANCH_LEQ / LT /
GTE / GT), with thresholds placed on input values so that ties (x == threshold) are exercised:
the mode mapping is only exact if ties go the way ONNX Runtime sends them.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from edgeinfer import ir
from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.onnx import from_onnx

ort = pytest.importorskip("onnxruntime")
N_FEAT, DEPTH, N_TREES = 4, 3, 3
MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"]


def _x(rng) -> np.ndarray:
    # few distinct values: thresholds drawn from them make ties common
    return rng.choice(np.linspace(-1, 1, 9, dtype=np.float32), size=(60, N_FEAT))


def _trees(rng, modes: list[str]) -> tuple[dict, list[tuple[int, int]]]:
    """nodes_* attributes of N_TREES complete trees, and their (tree, leaf node) pairs."""
    a: dict[str, list] = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                                          "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids")}
    leaves = []
    n_inner = 2 ** DEPTH - 1
    for t in range(N_TREES):
        for n in range(2 ** (DEPTH + 1) - 1):
            inner = n < n_inner
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(n)
            a["nodes_featureids"].append(int(rng.integers(N_FEAT)) if inner else 0)
            a["nodes_values"].append(float(rng.choice(np.linspace(-1, 1, 9))) if inner else 0.0)
            a["nodes_modes"].append(str(rng.choice(modes)) if inner else "LEAF")
            a["nodes_truenodeids"].append(2 * n + 1 if inner else 0)
            a["nodes_falsenodeids"].append(2 * n + 2 if inner else 0)
            if not inner:
                leaves.append((t, n))
    return a, leaves


def _run(model: bytes, x: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": x})


def _model(node, outputs) -> bytes:
    g = helper.make_graph([node], "trees", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N_FEAT])],
                          outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                               helper.make_opsetid("ai.onnx.ml", 3)]).SerializeToString()


def _ir_and_c(model: bytes, x: np.ndarray, name: str) -> tuple[list, list]:
    g = from_onnx(model)
    out = ir.run(g, x)
    ref = [out[o] for o in g.outputs] if isinstance(out, dict) else list(out)
    return ref, list(CModel(g, name)._run([x]))


@pytest.mark.parametrize("agg", ["SUM", "AVERAGE"])
def test_tree_regressor_every_mode_matches_onnxruntime(agg):
    rng = np.random.default_rng(11)
    a, leaves = _trees(rng, MODES)
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=2,
                            target_treeids=[t for t, _ in leaves for _ in range(2)],
                            target_nodeids=[n for _, n in leaves for _ in range(2)],
                            target_ids=[j for _ in leaves for j in range(2)],
                            target_weights=rng.standard_normal(2 * len(leaves)).astype(np.float32).tolist(),
                            base_values=[0.25, -0.5], aggregate_function=agg, **a)
    model = _model(node, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])])
    x = _x(rng)
    (want,) = _run(model, x)
    ref, c = _ir_and_c(model, x, "treereg")
    np.testing.assert_allclose(ref[0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(c[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("labels", "post"), [([0, 1, 2], "NONE"), ([3, 5, 8], "SOFTMAX"), ([0, 1], "LOGISTIC")])
def test_tree_classifier_every_mode_matches_onnxruntime(labels, post):
    rng = np.random.default_rng(len(labels) + len(post))
    a, leaves = _trees(rng, MODES)
    k = 1 if post == "LOGISTIC" else len(labels)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            class_treeids=[t for t, _ in leaves for _ in range(k)],
                            class_nodeids=[n for _, n in leaves for _ in range(k)],
                            class_ids=[j for _ in leaves for j in range(k)],
                            class_weights=rng.standard_normal(k * len(leaves)).astype(np.float32).tolist(),
                            classlabels_int64s=labels, post_transform=post, **a)
    model = _model(node, [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                          helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, len(labels)])])
    x = _x(rng)
    want_label, want_scores = _run(model, x)
    ref, c = _ir_and_c(model, x, "treeclf")
    for label, scores in (ref, c):
        np.testing.assert_array_equal(np.asarray(label).reshape(-1), want_label)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)


def test_tree_equality_mode_is_refused_by_name():
    rng = np.random.default_rng(0)
    a, leaves = _trees(rng, ["BRANCH_EQ"])
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1,
                            target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                            target_ids=[0] * len(leaves), target_weights=[1.0] * len(leaves), **a)
    with pytest.raises(UnsupportedModelError, match="BRANCH_EQ"):
        from_onnx(_model(node, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])]))
