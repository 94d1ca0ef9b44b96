"""ONNX-ML classical ops (ai.onnx.ml) imported onto the IR's own ops, checked against ONNX Runtime.

Models are written with onnx.helper, the way skl2onnx lays them out (binary classifiers carry
two rows [-w, w]), so the test needs no exporter installed.
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
RNG = np.random.default_rng(3)
N_FEAT = 5


def _model(nodes: list, outputs: list) -> bytes:
    g = helper.make_graph(nodes, "ml", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N_FEAT])],
                          outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    return m.SerializeToString()


def _ort(model: bytes, x: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": x})


def _x() -> np.ndarray:
    return RNG.standard_normal((40, N_FEAT)).astype(np.float32)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize("labels", [[0, 1, 2], [3, 7, 9], [0, 1]])
def test_linear_classifier_matches_onnxruntime(post, labels):
    k = len(labels)
    coef = RNG.standard_normal((k, N_FEAT)).astype(np.float32)
    if k == 2:
        coef[0] = -coef[1]  # skl2onnx's binary layout
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=coef.reshape(-1).tolist(), intercepts=RNG.standard_normal(k).tolist(),
                            classlabels_ints=labels, post_transform=post)
    model = _model([node], [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, k])])
    x = _x()
    want_label, want_scores = _ort(model, x)
    g = from_onnx(model)
    out = ir.run(g, x)
    label, scores = (out[o] for o in g.outputs) if isinstance(out, dict) else out
    np.testing.assert_array_equal(np.asarray(label).reshape(-1), want_label)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-6)
    c_label, c_scores = CModel(g, "mlclf")._run([x])
    np.testing.assert_array_equal(np.asarray(c_label).reshape(-1), want_label)
    np.testing.assert_allclose(c_scores, want_scores, rtol=1e-5, atol=1e-6)


def test_scaler_then_regressor_and_zipmap_free_path_match_onnxruntime():
    off, sc = RNG.standard_normal(N_FEAT), RNG.random(N_FEAT) + 0.5
    coef = RNG.standard_normal((2, N_FEAT))
    nodes = [helper.make_node("Scaler", ["X"], ["Xs"], domain="ai.onnx.ml", offset=off.tolist(), scale=sc.tolist()),
             helper.make_node("LinearRegressor", ["Xs"], ["Y"], domain="ai.onnx.ml", targets=2,
                              coefficients=coef.reshape(-1).tolist(), intercepts=[0.5, -1.0])]
    model = _model(nodes, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])])
    x = _x()
    (want,) = _ort(model, x)
    g = from_onnx(model)
    out = ir.run(g, x)
    np.testing.assert_allclose(out[g.outputs[0]] if isinstance(out, dict) else out[0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(CModel(g, "mlreg")._run([x])[0], want, rtol=1e-5, atol=1e-5)


def test_unsupported_post_transform_is_refused_by_name():
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=[0.0] * (3 * N_FEAT), classlabels_ints=[0, 1, 2], post_transform="PROBIT")
    model = _model([node], [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 3])])
    with pytest.raises(UnsupportedModelError, match="PROBIT"):
        from_onnx(model)
