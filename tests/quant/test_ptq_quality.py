"""PTQ quality on a Keras digits CNN: edgeinfer's PTQ of the float .tflite against TensorFlow's PTQ of
the same model, calibration search, bias correction, mixed precision, 16x8 (IR == TFLite Micro).

The float model is imported from TensorFlow's float conversion (so both quantizers start from the
same weights); accuracies are top-1 on held-out digits; TensorFlow's int8 model runs in LiteRT
without delegates.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer

tf = pytest.importorskip("tensorflow", reason="TensorFlow (tensorflow-cpu) builds the digits CNN")
litert = pytest.importorskip("ai_edge_litert.interpreter")

import digits_keras as dk  # noqa: E402
import tflite_models as tm  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    paths = dk.build(tf)
    X, y = dk.digits()
    return paths, X, y


def _litert(path, X: np.ndarray) -> np.ndarray:
    it = litert.Interpreter(model_path=str(path),
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for row in X:
        it.set_tensor(i, row[None])
        it.invoke()
        out.append(it.get_tensor(o).copy())
    return np.concatenate(out)


def test_float_tflite_import_matches_litert(digits):
    paths, X, _ = digits
    g = edgeinfer.load_graph(paths["float"])
    want = _litert(paths["float"], X[1300:1400])
    np.testing.assert_allclose(edgeinfer.ir.run(g, X[1300:1400])[g.outputs[0]], want, atol=1e-4)
    np.testing.assert_allclose(edgeinfer.convert(g, name="digits_f32").predict(X[1300:1400]), want, atol=1e-4)


@pytest.mark.parametrize("observer", ["minmax", "mse", "entropy"])
def test_ptq_matches_tensorflow_ptq(digits, observer):
    paths, X, y = digits
    g = edgeinfer.load_graph(paths["float"])
    Xt, yt = X[dk.N_TRAIN:], y[dk.N_TRAIN:]
    q = edgeinfer.quantize(g, calibration=X[:dk.N_CAL], observer=observer, bias_correction=True)
    r = edgeinfer.compare(g, q, Xt, yt)
    tf_acc = float((_litert(paths["int8"], Xt).argmax(1) == yt).mean())
    print(f"digits CNN ({observer}): float {r['float_accuracy']:.4f}, edgeinfer int8 {r['quantized_accuracy']:.4f}, "
          f"TF int8 {tf_acc:.4f}")
    assert r["float_accuracy"] > 0.9
    assert r["accuracy_drop"] <= 0.01
    assert r["quantized_accuracy"] >= tf_acc - 0.005
    m = edgeinfer.convert(q, name=f"digits_{observer}")
    np.testing.assert_array_equal(m.predict(Xt[:60]), edgeinfer.ir.run(q, Xt[:60])[q.outputs[0]])


def test_search_observers_clip_outliers():
    """On heavy-tailed values the searching observers clip the tail; min/max keeps it."""
    from edgeinfer.passes.quantize import search_range

    v = np.concatenate([np.random.default_rng(0).normal(size=20000), [60.0]])
    assert search_range(v, "minmax")[1] == 60.0
    assert search_range(v, "mse")[1] < 60.0 and search_range(v, "entropy")[1] < 60.0


def test_keep_float_and_threshold_run_in_c(digits):
    paths, X, y = digits
    g = edgeinfer.load_graph(paths["float"])
    conv = next(n.name for n in g.nodes if n.op == "Conv")
    q = edgeinfer.quantize(g, calibration=X[:100], keep_float=[conv])
    assert "Conv" in q.ops() and "QDequantize" in q.ops() and "QQuantize" in q.ops()
    assert edgeinfer.compare(g, q, X[1300:], y[1300:])["accuracy_drop"] <= 0.01
    m = edgeinfer.convert(q, name="digits_mixed")
    np.testing.assert_array_equal(m.predict(X[1300:1360]), edgeinfer.ir.run(q, X[1300:1360])[q.outputs[0]])
    # threshold 0: every layer that adds error of its own stays float
    mixed = edgeinfer.quantize(g, calibration=X[:100], float_threshold=0.0)
    assert {"Conv", "Gemm"} <= set(mixed.ops())
    # the last layer is float here: C and numpy float sums differ in the last bits only
    np.testing.assert_allclose(edgeinfer.convert(mixed, name="digits_auto").predict(X[1300:1340]),
                               edgeinfer.ir.run(mixed, X[1300:1340])[mixed.outputs[0]], atol=1e-4)
    with pytest.raises(edgeinfer.errors.EdgeInferError, match="keep_float"):
        edgeinfer.quantize(g, calibration=X[:10], keep_float=["no_such_layer"])


def test_int16x8_import_ir_equals_tflm(digits):
    """TensorFlow's 16x8 model: the IR reference (int64 bias, 16-bit reduced multiplier) == TFLite Micro."""
    paths, X, _ = digits
    g = edgeinfer.load_graph(paths["int16x8"])
    assert any(g.tensors[n.outputs[0]].dtype == "int16" for n in g.nodes if n.op == "QConv2D")
    np.testing.assert_array_equal(edgeinfer.ir.run(g, X[1300:1380])[g.outputs[0]], tm.run_tflm(paths["int16x8"],
                                                                                              X[1300:1380]))


def test_int16x8_ptq_accuracy(digits):
    paths, X, y = digits
    g = edgeinfer.load_graph(paths["float"])
    q = edgeinfer.quantize(g, calibration=X[:dk.N_CAL], scheme="int16x8")
    assert any(t.dtype == "int16" for t in q.tensors.values())
    r = edgeinfer.compare(g, q, X[dk.N_TRAIN:], y[dk.N_TRAIN:])
    assert r["accuracy_drop"] <= 0.005 and r["top1_agreement"] >= 0.99


def test_float_tflite_ops_match_litert():
    """PAD, CONV (RELU6), DEPTHWISE, pools, ADD, MUL, LOGISTIC, TANH, CONCATENATION, MEAN, FC, SOFTMAX."""
    path = dk.build_float_ops(tf)
    g = edgeinfer.load_graph(path)
    X = np.random.default_rng(0).normal(size=(20, 7, 6, 3)).astype(np.float32)
    want = _litert(path, X)
    np.testing.assert_allclose(edgeinfer.ir.run(g, X)[g.outputs[0]], want, atol=1e-4)
