"""int8 .tflite models quantized by TensorFlow: edgeinfer's IR and generated C give TFLite Micro's bytes.

LiteRT (without default delegates, and with XNNPACK) is compared too; its agreement is
reported (``-rA`` shows the prints), not required: its optimized kernels round differently.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.tflite import from_tflite
from edgeinfer.ir import run

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed: pip install 'edgeinfer[tflite]'")

import tflite_models as tm  # noqa: E402  (on sys.path through conftest)

N = 40


def _inputs(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(N, *shape)).astype(np.int8)


@pytest.mark.parametrize("name", tm.MODEL_NAMES)
def test_ir_and_c_bytes_equal_tflite_micro(tflite_models, name):
    path, shape = tflite_models[name]
    x = _inputs(shape, 7)
    want = tm.run_tflm(path, x)
    g = from_tflite(path)
    ir = run(g, x)[g.outputs[0]]
    assert ir.dtype == np.int8
    np.testing.assert_array_equal(ir.reshape(want.shape), want)
    m = edgeinfer.convert(str(path), name=name)
    c = m.predict(x)
    assert c.dtype == np.int8
    np.testing.assert_array_equal(c, ir)
    lr = tm.run_litert(path, x).reshape(want.shape)
    diff = np.abs(lr.astype(int) - want)
    print(f"{name}: IR == C == TFLM on {want.size} bytes; LiteRT (no delegates) equal on "
          f"{(diff == 0).mean():.1%}, max {diff.max()} LSB")


def test_ops_covered(tflite_models):
    ops = set()
    for path, _ in tflite_models.values():
        ops |= set(from_tflite(path).ops())
    assert {"QConv2D", "QDepthwiseConv2D", "QFullyConnected", "QAveragePool2D", "QMaxPool2D", "QAdd", "QMul",
            "QSoftmax", "QLogistic", "QTanh", "QMean", "Pad", "Concat", "Reshape"} <= ops


def test_litert_with_xnnpack_reported(tflite_models):
    path, shape = tflite_models["conv_net"]
    x = _inputs(shape, 3)
    want = tm.run_tflm(path, x)
    got = tm.run_litert(path, x, xnnpack=True).reshape(want.shape)
    diff = np.abs(got.astype(int) - want)
    print(f"conv_net: LiteRT with XNNPACK equal on {(diff == 0).mean():.1%}, max {diff.max()} LSB")
    assert diff.max() <= 127  # reported, not judged: only that it ran on the same model


def test_unsupported_builtin_is_named(tflite_models, tmp_path):
    tf = pytest.importorskip("tensorflow")
    x = tf.keras.Input((4, 4, 2), batch_size=1)
    model = tf.keras.Model(x, tf.keras.layers.Lambda(tf.abs)(x))
    path = tm.cache_dir() / "abs_only.tflite"
    if not path.exists():
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        data = np.random.default_rng(0).normal(size=(8, 4, 4, 2)).astype(np.float32)
        conv.representative_dataset = lambda: ([data[i:i + 1]] for i in range(8))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        path.write_bytes(conv.convert())
    with pytest.raises(UnsupportedModelError, match="ABS.*supported: ADD"):
        from_tflite(path)
