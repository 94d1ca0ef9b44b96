"""Whole models through the ONNX and torch frontends: IR reference == ONNX Runtime == generated C."""

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx_c import run_c

import edgeinfer
from edgeinfer.errors import ModelFileError, UnsupportedModelError
from edgeinfer.frontends.onnx import from_onnx
from edgeinfer.ir.reference import run

torch = pytest.importorskip("torch")


def _export(model, x) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), buf, dynamo=False, opset_version=13, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "b"}, "y": {0: "b"}})
    return buf.getvalue()


class SmallCNN(torch.nn.Module):
    """Conv+BN+ReLU, depthwise+ReLU6, pointwise, pools, upsample, concat, dense, softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(8)
        self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = torch.nn.Conv2d(8, 8, 1)
        self.up = torch.nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fc = torch.nn.Linear(8 * 4 * 4 + 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.c1(x)))
        x = torch.nn.functional.relu6(self.dw(x))
        x = torch.nn.functional.hardswish(self.pw(x))
        a = torch.nn.functional.avg_pool2d(x, 2)
        u = torch.sigmoid(self.up(a)).mean(dim=(2, 3))
        z = torch.cat([torch.flatten(a, 1), u], dim=1)
        return torch.log_softmax(self.fc(torch.nn.functional.leaky_relu(z, 0.1)), -1)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    m = SmallCNN().eval()
    with torch.no_grad():
        m.bn.running_mean.normal_()
        m.bn.running_var.uniform_(0.5, 2.0)
    return m


def test_cnn_reference_onnxruntime_and_c_agree(cnn):
    x = np.random.default_rng(0).normal(size=(4, 3, 16, 16)).astype(np.float32)
    data = _export(cnn, torch.from_numpy(x[:1]))
    g = from_onnx(data)
    assert g.tensors[g.inputs[0]].shape == (None, 3, 16, 16)
    assert "BatchNormalization" not in g.ops() and "Relu" not in g.ops()  # folded and fused
    want = ort.InferenceSession(data).run(None, {"x": x})[0]
    ref = run(g, x)["y"]
    np.testing.assert_allclose(ref, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(run_c(g, [x], "cnn")[0], ref, rtol=1e-4, atol=1e-5)


def test_convert_torch_module_predicts_through_c(cnn):
    x = np.random.default_rng(1).normal(size=(3, 3, 16, 16)).astype(np.float32)
    m = edgeinfer.convert(cnn, torch.zeros(1, 3, 16, 16), name="cnn_t")
    with torch.no_grad():
        want = cnn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m.predict(x), want, rtol=1e-4, atol=1e-5)


def test_shape_subgraph_is_folded_at_import():
    class Flat(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x.reshape(x.shape[0], -1)) * 2.0

    data = _export(Flat(), torch.zeros(1, 2, 3))
    g = from_onnx(data)
    assert "Shape" not in g.ops() and "Gather" not in g.ops()
    x = np.random.default_rng(2).normal(size=(5, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(run(g, x)["y"], np.maximum(x.reshape(5, -1), 0) * 2, rtol=1e-6)


def _model(nodes, opset=17):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_every_unsupported_node_is_listed():
    m = _model([helper.make_node("Celu", ["x"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"]),
                helper.make_node("Mish", ["b"], ["y"], name="second")])
    with pytest.raises(UnsupportedModelError) as e:
        from_onnx(m)
    msg = str(e.value)
    assert "Celu" in msg and "'first'" in msg and "Mish" in msg and "'second'" in msg


def test_corrupt_file_is_a_model_file_error(tmp_path):
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"\x08\x07garbage that is not protobuf \xff\xff\xff")
    with pytest.raises(ModelFileError):
        edgeinfer.convert(str(p))


def test_opset_out_of_range_is_refused():
    with pytest.raises(UnsupportedModelError, match="opset"):
        from_onnx(_model([helper.make_node("Relu", ["x"], ["y"])], opset=23))


def test_onnx_file_path_converts(tmp_path):
    p = tmp_path / "relu.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"])]), p)
    m = edgeinfer.convert(str(p))
    x = np.array([[-1, 2, -3, 4]], np.float32)
    np.testing.assert_array_equal(m.predict(x), np.maximum(x, 0))
