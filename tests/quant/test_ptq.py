"""edgeinfer's post-training quantization on a small digits CNN trained in the test (torch).

The quantized graph's C equals its IR reference on every byte, and the top-1 accuracy
drops by at most one point against the float model on held-out digits.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer
from edgeinfer.errors import UnsupportedModelError

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def digits_cnn():
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny model: threads only contend on a shared machine
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    xt, yt = torch.from_numpy(X[:1400]), torch.from_numpy(y[:1400])
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    net.eval()
    graph = edgeinfer.load_graph(net, torch.from_numpy(X[:1]))
    return graph, X, y


def test_ptq_accuracy_and_c_bytes(digits_cnn):
    graph, X, y = digits_cnn
    q = edgeinfer.quantize(graph, calibration=X[:100])
    assert {"QConv2D", "QDepthwiseConv2D", "QFullyConnected", "QMaxPool2D", "QAveragePool2D"} <= set(q.ops())
    r = edgeinfer.compare(graph, q, X[1400:1700], y[1400:1700])
    print(f"digits CNN: float {r['float_accuracy']:.3f}, int8 {r['quantized_accuracy']:.3f}, "
          f"top-1 agreement {r['top1_agreement']:.3f}, params {r['float_param_bytes']} -> "
          f"{r['quantized_param_bytes']} B")
    assert r["float_accuracy"] > 0.9
    assert r["accuracy_drop"] <= 0.01
    assert r["quantized_param_bytes"] <= 0.3 * r["float_param_bytes"]
    m = edgeinfer.convert(q, name="digits_int8")
    ref = edgeinfer.ir.run(q, X[1400:1480])[q.outputs[0]]
    np.testing.assert_array_equal(m.predict(X[1400:1480]), ref)


def test_percentile_observer_runs(digits_cnn):
    graph, X, y = digits_cnn
    q = edgeinfer.quantize(graph, calibration=X[:50], observer="percentile")
    assert edgeinfer.compare(graph, q, X[1400:1700], y[1400:1700])["accuracy_drop"] <= 0.03


def test_unsupported_scheme_and_op(digits_cnn):
    graph, X, _ = digits_cnn
    with pytest.raises(UnsupportedModelError, match="int4"):
        edgeinfer.quantize(graph, calibration=X[:10], scheme="int4")
    from sklearn.naive_bayes import GaussianNB

    # trees, linear models, MLPs and SVMs have a fixed-point form (tests/quant/test_fixed_point*.py); naive Bayes
    # has none
    nb = GaussianNB().fit(X[:50].reshape(50, -1), np.arange(50) % 3)
    with pytest.raises(UnsupportedModelError, match="cannot quantize ops"):
        edgeinfer.quantize(nb, calibration=X[:10].reshape(10, -1))


def test_relu_after_add_is_folded_into_the_add():
    """A residual block's Relu after the Add (not fusable by the float passes) becomes QAdd's clamp."""
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Conv2d(2, 4, 1)
            self.fc = torch.nn.Linear(4 * 6 * 6, 3)

        def forward(self, x):
            return self.fc(torch.relu(self.a(x) + self.b(x)).flatten(1))

    torch.manual_seed(1)
    net = Block().eval()
    X = np.random.default_rng(0).standard_normal((40, 2, 6, 6)).astype(np.float32)
    graph = edgeinfer.load_graph(net, torch.from_numpy(X[:1]))
    q = edgeinfer.quantize(graph, calibration=X[:30])
    add = next(n for n in q.nodes if n.op == "QAdd")
    assert add.attr("act_min") == add.attr("out_zp")
    r = edgeinfer.compare(graph, q, X[30:])
    assert r["top1_agreement"] >= 0.9
    np.testing.assert_array_equal(edgeinfer.convert(q, name="relu_add").predict(X[30:]),
                                  edgeinfer.ir.run(q, X[30:])[q.outputs[0]])
