"""ONNX QDQ export of edgeinfer's int8 graphs and import of ONNX Runtime-quantized models (QDQ and QOperator).

ONNX Runtime requantizes in float, edgeinfer with TFLite's fixed-point multiplier, so the
two agree within a few int8 steps of the output (not bytes); a round trip through the
exported file is exact, and the C of an imported model equals its IR reference.
"""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    """A small trained digits CNN (conv, depthwise, pools, flatten, two FC) as a float ONNX file."""
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    torch.set_num_threads(1)
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1, groups=8),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(40):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(X[:1000])), torch.from_numpy(d.target[:1000])).backward()
        opt.step()
    net.eval()
    path = tmp_path_factory.mktemp("qdq") / "digits.onnx"
    torch.onnx.export(net, torch.from_numpy(X[:1]), str(path), dynamo=False, opset_version=13, input_names=["input"],
                      dynamic_axes={"input": {0: "N"}})
    return path, X


def _ort(path, x):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def _close(a, b, out_scale, steps=4, agree=0.97):
    assert np.abs(a - b).max() <= steps * out_scale + 1e-6
    assert (a.argmax(1) == b.argmax(1)).mean() >= agree


def test_export_runs_in_onnxruntime_and_round_trips(cnn, tmp_path):
    from edgeinfer.frontends.onnx_export import save_onnx

    path, X = cnn
    q = edgeinfer.quantize(edgeinfer.load_graph(path), calibration=X[:100])
    out = save_onnx(q, tmp_path / "digits_int8.onnx")
    ref = edgeinfer.ir.run(q, X[1400:1700])[q.outputs[0]]
    out_scale = q.nodes[-1].attr("scale")
    _close(_ort(out, X[1400:1700]), ref, out_scale)
    back = edgeinfer.load_graph(out)
    assert "QConv2D" in back.ops()
    np.testing.assert_array_equal(edgeinfer.ir.run(back, X[1400:1500])[back.outputs[0]], ref[:100])


def test_cli_quantize_writes_qdq_onnx(cnn, tmp_path):
    from edgeinfer.cli import main

    path, X = cnn
    np.save(tmp_path / "cal.npy", X[:100])
    out = tmp_path / "m_int8.onnx"
    assert main(["quantize", str(path), "--calibration", str(tmp_path / "cal.npy"), "-o", str(out)]) == 0
    import onnx

    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    assert (_ort(out, X[1400:1700]).argmax(1) == _ort(path, X[1400:1700]).argmax(1)).mean() >= 0.95


@pytest.mark.parametrize("fmt,act", [("QDQ", "QInt8"), ("QOperator", "QUInt8")])
def test_import_onnxruntime_quantized(cnn, tmp_path, fmt, act):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    path, X = cnn

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{"input": X[i:i + 1]} for i in range(64)])

        def get_next(self):
            return next(self.it, None)

    qpath = tmp_path / f"ort_{fmt}.onnx"
    quantize_static(str(path), str(qpath), Reader(), quant_format=getattr(QuantFormat, fmt),
                    activation_type=getattr(QuantType, act), weight_type=QuantType.QInt8, per_channel=True)
    g = edgeinfer.load_graph(qpath)
    assert {"QConv2D", "QDepthwiseConv2D", "QFullyConnected"} <= set(g.ops())
    ref = edgeinfer.ir.run(g, X[1400:1700])[g.outputs[0]]
    deq = next(n for n in g.nodes if n.op == "QDequantize")
    _close(_ort(qpath, X[1400:1700]), ref, deq.attr("scale"))
    m = edgeinfer.convert(g, name=f"ortq_{fmt.lower()}")
    np.testing.assert_array_equal(m.predict(X[1400:1464]), ref[:64])
