"""PTQ activation ranges where TFLite calibrates an op's own output: the global average pool (MEAN) and an
Add whose Relu is folded into its clamp.

The expected scales are computed by hand with numpy from the float activations (torch forward hooks),
not from edgeinfer's calibration: a mean's output scale is its own range / 255 (not its input's), and a
residual Add followed by a Relu is quantized over [0, max] of the post-Relu values (its negative
pre-Relu minimum takes no int8 levels). The quantized graphs are compiled to C and checked against the
IR reference byte for byte, and against torch within a few int8 steps on calibration inputs (inside the
calibrated ranges: nothing saturates).
"""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer

torch = pytest.importorskip("torch")


def _inputs(shape: tuple[int, ...], n: int) -> np.ndarray:
    """Inputs with a per-sample, per-channel offset, so that pooled features vary between samples."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *shape)) + 2.0 * rng.standard_normal((n, shape[0], 1, 1))
    return x.astype(np.float32)


def _step(lo: float, hi: float) -> float:
    """The asymmetric int8 step covering [lo, hi] and 0, by hand."""
    return (max(hi, 0.0) - min(lo, 0.0)) / 255.0


def _node(q, op: str):
    nodes = [n for n in q.nodes if n.op == op]
    assert len(nodes) == 1, f"expected one {op}, got {[n.op for n in q.nodes]}"
    return nodes[0]


def _c_equals_ir_and_close_to_torch(net, q, x: np.ndarray, name: str, out_step: float) -> None:
    m = edgeinfer.convert(q, name=name)
    ref = edgeinfer.ir.run(q, x)[q.outputs[0]]
    np.testing.assert_array_equal(m.run(x)[q.outputs[0]], ref)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ref, want, atol=6 * out_step)


def test_mean_output_has_its_own_scale():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(6, 3)).eval()
    cal = _inputs((2, 8, 8), 64)
    with torch.no_grad():
        act = torch.relu(net[0](torch.from_numpy(cal))).numpy().astype(np.float64)
        logits = net(torch.from_numpy(cal)).numpy()
    pooled = act.mean(axis=(2, 3))
    q = edgeinfer.quantize(net, calibration=cal, example_input=torch.from_numpy(cal[:1]))
    mean = _node(q, "QMean")
    want = _step(pooled.min(), pooled.max())
    assert mean.attr("out_scale") == pytest.approx(want, rel=1e-4)
    # the input keeps the conv's (wider) range: a pool keeping it would waste most of the int8 levels
    assert mean.attr("in_scale") == pytest.approx(_step(act.min(), act.max()), rel=1e-4)
    assert mean.attr("in_scale") > 1.5 * mean.attr("out_scale")
    _c_equals_ir_and_close_to_torch(net, q, cal[:16], "ptq_mean_scale",
                                    _step(logits.min(), logits.max()))


class _Residual(torch.nn.Module):
    """conv (no activation: negative values) -> relu(conv(h) + h)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.b = torch.nn.Conv2d(4, 4, 3, padding=1)

    def pre_relu(self, x):
        h = self.a(x)
        return self.b(h) + h

    def forward(self, x):
        return torch.relu(self.pre_relu(x))


def test_add_before_relu_is_calibrated_after_the_relu():
    torch.manual_seed(1)
    net = _Residual().eval()
    cal = _inputs((2, 6, 6), 64)
    with torch.no_grad():
        pre = net.pre_relu(torch.from_numpy(cal)).numpy().astype(np.float64)
    post = np.maximum(pre, 0.0)
    assert pre.min() < -0.5 * post.max()          # the pre-Relu range would cost many levels
    q = edgeinfer.quantize(net, calibration=cal, example_input=torch.from_numpy(cal[:1]))
    add = _node(q, "QAdd")
    s, zp = add.attr("out_scale"), add.attr("out_zp")
    assert s == pytest.approx(post.max() / 255.0, rel=1e-4)
    # the representable range [(-128 - zp) s, (127 - zp) s] is [0, max]: covers every post-Relu value, and
    # spends nothing below 0
    assert zp == -128
    assert (127 - zp) * s >= post.max() * (1 - 1e-4)
    _c_equals_ir_and_close_to_torch(net, q, cal[:16], "ptq_add_relu_range", s)
