"""Generated C for the GEMM / depthwise conv kernels and the planner's in-place and residual sharing.

Each layer shape picks one kernel path (pointwise GEMM with a partial last block, im2col GEMM with
strides / dilations / padding, depthwise flat and padded-plane paths, residual accumulation); the C
output must match torch (the source framework) within float tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import edgeinfer  # noqa: E402


def _check(module, shape: tuple[int, ...], name: str) -> object:
    module.eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    m = edgeinfer.convert(module, torch.from_numpy(x), name=name)
    np.testing.assert_allclose(m.predict(x), ref, rtol=1e-4, atol=1e-4)
    return m


@pytest.mark.parametrize("cin,cout,k,s,p,d,hw", [
    (3, 16, 3, 1, 1, 1, (32, 32)), (16, 13, 3, 2, 1, 1, (15, 9)), (1, 64, (10, 4), 2, (5, 1), 1, (49, 10)),
    (5, 9, 1, 1, 0, 1, (7, 5)), (4, 24, 1, 2, 0, 1, (8, 8)), (6, 10, 3, 1, 2, 2, (11, 12)),
    (7, 17, 5, 3, 0, 1, (20, 17)),
])
def test_group1_conv(cin, cout, k, s, p, d, hw):
    mod = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, k, s, p, d), torch.nn.ReLU())
    _check(mod, (1, cin, *hw), "g1conv")


@pytest.mark.parametrize("c,k,s,p,hw", [(64, 3, 1, 1, (25, 5)), (8, 3, 2, 1, (48, 48)), (16, 3, 1, 1, (20, 20)),
                                         (6, 5, 1, 2, (9, 7)), (5, 3, 2, 0, (11, 10))])
def test_depthwise_in_place(c, k, s, p, hw):
    mod = torch.nn.Sequential(torch.nn.Conv2d(c, c, 1), torch.nn.Conv2d(c, c, k, s, p, groups=c), torch.nn.ReLU6(),
                              torch.nn.Conv2d(c, c + 3, 1), torch.nn.ReLU())
    m = _check(mod, (1, c, *hw), "dw")
    assert m.graph.metadata.get("arena_bytes", 0) >= 0


class _Res(torch.nn.Module):
    def __init__(self, c: int, stride: int) -> None:
        super().__init__()
        self.a = torch.nn.Conv2d(c, 2 * c if stride > 1 else c, 3, stride, 1)
        self.b = torch.nn.Conv2d(self.a.out_channels, self.a.out_channels, 3, 1, 1)
        self.skip = torch.nn.Conv2d(c, self.a.out_channels, 1, stride) if stride > 1 else None

    def forward(self, x):
        y = self.b(torch.relu(self.a(x)))
        return torch.relu(y + (self.skip(x) if self.skip is not None else x))


@pytest.mark.parametrize("stride", [1, 2])
def test_residual_accumulates_into_skip(stride):
    mod = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1), torch.nn.ReLU(), _Res(8, stride), _Res(8 * stride, 1))
    _check(mod, (1, 3, 16, 16), "res")


def test_planner_hooks_share_buffers():
    from edgeinfer.backends.c.ops.nn import conv_accumulate_ok, conv_alias_ok, conv_scratch_bytes
    from edgeinfer.passes.memory import plan_memory

    mod = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1), torch.nn.ReLU(), _Res(8, 1),
                              torch.nn.Conv2d(8, 8, 3, 1, 1, groups=8), torch.nn.Conv2d(8, 8, 1))
    g = edgeinfer.convert(mod.eval(), torch.zeros(1, 3, 8, 8), name="hooks").graph
    plain = plan_memory(g)
    hooked = plan_memory(g, alias_ok=conv_alias_ok, scratch=conv_scratch_bytes, accumulate=conv_accumulate_ok)
    assert len(hooked.metadata["accumulate"]) == 1
    assert len(hooked.metadata["inplace_nodes"]) == 1  # the depthwise conv; the last conv writes the output
    assert set(hooked.metadata["scratch"]) <= {n.name for n in g.nodes}
    assert "scratch" not in plain.metadata
    # the residual conv writes where its skip input lives
    conv = next(n for n in hooked.nodes if n.name in hooked.metadata["accumulate"])
    add = next(n for n in hooked.nodes if n.name == hooked.metadata["accumulate"][conv.name])
    offs = {hooked.tensors[t].offset for t in add.inputs + add.outputs}
    assert len(offs) == 1
