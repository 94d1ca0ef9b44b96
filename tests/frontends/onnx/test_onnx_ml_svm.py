"""ONNX-ML SVMClassifier / SVMRegressor (and Normalizer, ArgMax) imported onto the IR, checked against ONNX Runtime.

The ONNX models are written with onnx.helper from fitted scikit-learn SVC / SVR attributes, with the
coefficients in libsvm's own sign (the layout ONNX Runtime votes on: ``dec > 0`` picks the first class
of a pair), so both a binary and a 3-class model exercise the exact vote and the score layout.
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
svm = pytest.importorskip("sklearn.svm")
N_FEAT = 4
KERNELS = {"LINEAR": "linear", "POLY": "poly", "RBF": "rbf", "SIGMOID": "sigmoid"}


def _data(n_cls: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n_cls)
    x = rng.standard_normal((60, N_FEAT)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (n_cls > 2) * (x[:, 2] > 0.5)


def _model(node, outputs) -> bytes:
    g = helper.make_graph([node], "svm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N_FEAT])],
                          outputs)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                               helper.make_opsetid("ai.onnx.ml", 3)]).SerializeToString()


def _ir_and_c(model: bytes, x: np.ndarray, name: str) -> tuple[list, list]:
    g = from_onnx(model)
    out = ir.run(g, x)
    ref = [out[o] for o in g.outputs] if isinstance(out, dict) else list(out)
    return ref, list(CModel(g, name)._run([x]))


def _kernel_attrs(m) -> dict:
    gamma = float(m._gamma)
    return {"kernel_type": m.kernel.upper(), "kernel_params": [gamma, float(m.coef0), float(m.degree)],
            "support_vectors": m.support_vectors_.ravel().tolist()}


def _classifier(m, **extra) -> bytes:
    """SVMClassifier from an SVC in libsvm's sign: ``_dual_coef_`` and ``_intercept_`` (= -rho)."""
    n_cls = len(m.classes_)
    node = helper.make_node("SVMClassifier", ["X"], ["L", "S"], domain="ai.onnx.ml",
                            vectors_per_class=m.n_support_.tolist(), coefficients=m._dual_coef_.ravel().tolist(),
                            rho=m._intercept_.tolist(), classlabels_ints=[int(c) * 10 for c in m.classes_],
                            **_kernel_attrs(m), **extra)
    width = 2 if n_cls == 2 else n_cls * (n_cls - 1) // 2
    return _model(node, [helper.make_tensor_value_info("L", TensorProto.INT64, [None]),
                         helper.make_tensor_value_info("S", TensorProto.FLOAT, [None, width])])


@pytest.mark.parametrize("n_cls", [2, 3])
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_svm_classifier_matches_onnxruntime(kernel, n_cls):
    x, y = _data(n_cls)
    m = svm.SVC(kernel=KERNELS[kernel], gamma=0.3, coef0=0.5, degree=3, C=1.0).fit(x, y)
    model = _classifier(m)
    want_l, want_s = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    np.testing.assert_array_equal(want_l, m.predict(x) * 10)  # libsvm-sign coefficients: ORT agrees with sklearn
    ref, c = _ir_and_c(model, x, f"svc_{kernel.lower()}_{n_cls}")
    for got in (ref, c):
        np.testing.assert_array_equal(np.asarray(got[0]).reshape(-1), want_l)
        np.testing.assert_allclose(np.asarray(got[1]).reshape(want_s.shape), want_s, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_svm_regressor_matches_onnxruntime(kernel):
    x, _ = _data(2)
    y = x[:, 0] - 0.5 * x[:, 1] ** 2
    m = svm.SVR(kernel=KERNELS[kernel], gamma=0.3, coef0=0.5, degree=2).fit(x, y)
    node = helper.make_node("SVMRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_supports=len(m.support_),
                            coefficients=m.dual_coef_.ravel().tolist(), rho=m.intercept_.tolist(), **_kernel_attrs(m))
    model = _model(node, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])])
    (want,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    np.testing.assert_allclose(want.reshape(-1), m.predict(x), rtol=1e-4, atol=1e-4)
    ref, c = _ir_and_c(model, x, f"svr_{kernel.lower()}")
    for got in (ref, c):
        np.testing.assert_allclose(np.asarray(got[0]).reshape(want.shape), want, rtol=1e-5, atol=1e-5)


def test_svm_classifier_with_probabilities_is_refused_by_name():
    x, y = _data(2)
    model = _classifier(svm.SVC(kernel="rbf").fit(x, y), prob_a=[-1.0], prob_b=[0.1])
    with pytest.raises(UnsupportedModelError, match="prob_a"):
        from_onnx(model)


@pytest.mark.parametrize("norm", ["MAX", "L2"])
def test_normalizer_then_argmax_matches_onnxruntime(norm):
    x = np.random.default_rng(5).uniform(0.1, 2.0, (20, N_FEAT)).astype(np.float32)
    nodes = [helper.make_node("Normalizer", ["X"], ["N"], domain="ai.onnx.ml", norm=norm),
             helper.make_node("ArgMax", ["N"], ["A"], axis=1, keepdims=0)]
    g = helper.make_graph(nodes, "norm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N_FEAT])],
                          [helper.make_tensor_value_info("N", TensorProto.FLOAT, [None, N_FEAT]),
                           helper.make_tensor_value_info("A", TensorProto.INT64, [None])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("ai.onnx.ml", 3)]).SerializeToString()
    want_n, want_a = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"X": x})
    ref, c = _ir_and_c(model, x, f"norm_{norm.lower()}")
    for got in (ref, c):
        np.testing.assert_allclose(got[0], want_n, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(got[1]).reshape(-1), want_a)
