"""16x8 C kernels (int16 activations, int8 weights, int64 bias): the generated C gives the IR reference's
bytes, which are TFLite Micro's, on TensorFlow's 16x8 digits CNN (conv, depthwise, max / average pool,
fully connected) and on edgeinfer's own 16x8 PTQ of the same float model."""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer

tf = pytest.importorskip("tensorflow", reason="TensorFlow (tensorflow-cpu) builds the digits CNN")

import digits_keras as dk  # noqa: E402  (on sys.path through conftest)


@pytest.fixture(scope="module")
def digits():
    return dk.build(tf), dk.digits()[0]


def _int16_ops(g) -> set[str]:
    return {n.op for n in g.nodes if g.tensors[n.outputs[0]].dtype == "int16"}


def test_tf_16x8_model_c_equals_ir_equals_tflm(digits):
    paths, X = digits
    g = edgeinfer.load_graph(paths["int16x8"])
    assert {"QConv2D", "QDepthwiseConv2D", "QMaxPool2D", "QAveragePool2D", "QFullyConnected"} <= _int16_ops(g)
    x = X[1300:1380]
    want = edgeinfer.ir.run(g, x)
    m = edgeinfer.convert(g, name="digits_16x8")
    got = m.run(x)
    for o in g.outputs:
        np.testing.assert_array_equal(got[o], want[o])
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    import tflite_models as tm

    np.testing.assert_array_equal(got[g.outputs[0]], tm.run_tflm(paths["int16x8"], x))


def test_int16_intermediates_equal_ir(digits):
    """Every int16 tensor of the C equals the IR's, not only the dequantized output: cut the graph after
    each int16 layer and compare."""
    paths, X = digits
    g = edgeinfer.load_graph(paths["int16x8"])
    x = X[1300:1340]
    for node in g.nodes:
        t = node.outputs[0]
        if g.tensors[t].dtype != "int16":
            continue
        cut = g.copy()
        cut.outputs = [t]
        cut.nodes = cut.nodes[:g.nodes.index(node) + 1]
        want = edgeinfer.ir.run(cut, x)[t]
        got = edgeinfer.convert(cut, name="cut16").run(x)[t]
        assert want.dtype == np.int16
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{node.op} {node.name}")


def test_edgeinfer_16x8_ptq_c_equals_ir(digits):
    paths, X = digits
    g = edgeinfer.load_graph(paths["float"])
    q = edgeinfer.quantize(g, calibration=X[:dk.N_CAL], scheme="int16x8")
    assert "QConv2D" in _int16_ops(q)
    x = X[1300:1360]
    want = edgeinfer.ir.run(q, x)[q.outputs[0]]
    np.testing.assert_array_equal(edgeinfer.convert(q, name="digits_ptq16").predict(x), want)


def test_16x8_residual_add_c_equals_ir():
    """ei_add_s16 (15 bits of headroom, TFLM add.cc) on a residual block quantized 16x8 by edgeinfer."""
    torch = pytest.importorskip("torch")

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Conv2d(2, 4, 1)
            self.fc = torch.nn.Linear(4 * 6 * 6, 3)

        def forward(self, x):
            return self.fc(torch.relu(self.a(x) + self.b(x)).flatten(1))

    torch.manual_seed(1)
    X = np.random.default_rng(0).standard_normal((40, 2, 6, 6)).astype(np.float32)
    graph = edgeinfer.load_graph(Block().eval(), torch.from_numpy(X[:1]))
    q = edgeinfer.quantize(graph, calibration=X[:30], scheme="int16x8")
    assert "QAdd" in _int16_ops(q)
    np.testing.assert_array_equal(edgeinfer.convert(q, name="add16").predict(X[30:]),
                                  edgeinfer.ir.run(q, X[30:])[q.outputs[0]])
