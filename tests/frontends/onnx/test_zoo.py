"""The MLPerf Tiny architectures convert to C that matches ONNX Runtime on the exported model."""

import io
import warnings

import numpy as np
import pytest

import edgeinfer

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
from edgeinfer import zoo  # noqa: E402


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_zoo_model_c_matches_onnxruntime(name):
    torch.manual_seed(0)
    m = zoo.MODELS[name]()
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.normal_(0, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(0).normal(size=(2, *zoo.INPUTS[name][1:])).astype(np.float32)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, zoo.example_input(name), buf, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "b"}})
    want = np.concatenate([ort.InferenceSession(buf.getvalue()).run(None, {"x": x[i:i + 1]})[0] for i in range(2)])
    cm = edgeinfer.convert(m, zoo.example_input(name), name=name)
    got = cm.predict(x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))
