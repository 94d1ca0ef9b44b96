"""Optimised int8 kernels (backends/kernels/opt): bit-exact twins of the reference kernels.

A small int8 model exercising every twin (conv with padding, stride, a non-square kernel
and odd channel / column counts; depthwise; pointwise; max and average pooling; fully
connected with a short last row block) runs under QEMU with both kernel sets, on the
Cortex-M4 (DSP SIMD path) and the Cortex-M0+ (portable path): the bytes must equal the
IR reference, and the optimised set must execute fewer instructions. The host build of
the optimised files (portable path) is compared too, without an emulator.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import edgeinfer
from edgeinfer.backends.c.emit import CSources
from edgeinfer.targets.crossbuild import kernel_files

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_int8():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(6, 6, 3, padding=1, stride=2, groups=6), torch.nn.ReLU(),
        torch.nn.Conv2d(6, 9, 1), torch.nn.ReLU(),
        torch.nn.Conv2d(9, 8, (3, 2), padding=(1, 0)), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(2, padding=1, count_include_pad=False), torch.nn.Flatten(),
        torch.nn.LazyLinear(7), torch.nn.ReLU(), torch.nn.Linear(7, 5)).eval()
    net(torch.zeros(1, 3, 9, 7))
    X = np.random.default_rng(0).normal(size=(20, 3, 9, 7)).astype(np.float32)
    q = edgeinfer.quantize(edgeinfer.load_graph(net, torch.from_numpy(X[:1])), calibration=X)
    assert {"QConv2D", "QDepthwiseConv2D", "QFullyConnected", "QMaxPool2D", "QAveragePool2D"} <= set(q.ops())
    return edgeinfer.convert(q, name="tiny_int8"), X


@pytest.fixture(scope="module")
def wide_int8():
    """Shapes that take the other paths of the DSP kernels: a receptive field above the im2col
    buffer (3x3x80 > EI_OPT_COL_K: direct path), 4-tap group counts odd and even, pointwise on a
    padded input, a dilated depthwise, a residual Add (the same-shape add loop) and an FC whose
    last row block is two rows long."""

    class Residual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(12, 12, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.conv(x) + x)

    torch.manual_seed(1)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(4, 80, 1), torch.nn.ReLU(),
        torch.nn.Conv2d(80, 5, 3, padding=1), torch.nn.ReLU(),          # klen 720: direct path
        torch.nn.Conv2d(5, 12, 3, padding=1, stride=2), torch.nn.ReLU(),  # klen 45: odd tail
        torch.nn.Conv2d(12, 12, 3, padding=2, dilation=2, groups=12), torch.nn.ReLU(), Residual(),
        torch.nn.Conv2d(12, 8, 2, padding=1), torch.nn.ReLU(),           # klen 48: even groups
        torch.nn.Flatten(), torch.nn.LazyLinear(6)).eval()
    net(torch.zeros(1, 4, 20, 22))
    X = np.random.default_rng(1).normal(size=(20, 4, 20, 22)).astype(np.float32)
    q = edgeinfer.quantize(edgeinfer.load_graph(net, torch.from_numpy(X[:1])), calibration=X)
    return edgeinfer.convert(q, name="wide_int8"), X


def test_optimized_wide_shapes_bit_exact_on_cortex_m4(wide_int8):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (scripts/install-toolchains.sh installs it)")
    m, X = wide_int8
    assert "QAdd" in m.graph.ops()
    opt = m.measure(target="cortex-m4", inputs=X[:1], kernels="optimized")
    assert opt["outputs_match"]


def test_optimized_twins_replace_reference_files(tiny_int8):
    m, _ = tiny_int8
    files = kernel_files(m.sources, "optimized")
    for k in ("ei_conv_s8.c", "ei_fc_s8.c", "ei_pool_s8.c"):
        assert files[k] != m.sources.files[k] and "optimised twin" in files[k]
    assert "ei_int8_opt.h" in files
    assert kernel_files(m.sources, "reference") == m.sources.files


def test_optimized_portable_path_on_host(tiny_int8):
    """The portable (non-DSP) twins built for the host answer like the IR reference."""
    from edgeinfer.backends.c.model import CModel

    m, X = tiny_int8
    src = m.sources
    opt = CSources(name=src.name, files=kernel_files(src, "optimized"), arena_bytes=src.arena_bytes,
                   const_bytes=src.const_bytes, kernels=src.kernels, signature=src.signature)
    m2 = CModel.__new__(CModel)
    m2.__dict__.update(m.__dict__)
    m2.sources, m2._lib = opt, None
    Xc = m.check_input(X)
    ref = edgeinfer.ir.run(m.graph, Xc)
    got = m2._run([Xc])
    for o, g in zip(m.graph.outputs, got, strict=True):
        np.testing.assert_array_equal(g.reshape(len(Xc), -1), np.asarray(ref[o]).reshape(len(Xc), -1))


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
def test_optimized_kernels_bit_exact_under_emulation(tiny_int8, target):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (scripts/install-toolchains.sh installs it)")
    m, X = tiny_int8
    ref = m.measure(target=target, inputs=X[:1], kernels="reference")
    opt = m.measure(target=target, inputs=X[:1], kernels="optimized")
    assert ref["outputs_match"] and opt["outputs_match"]
    for a, b in zip(ref["outputs"], opt["outputs"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert opt["kernels"] == "optimized"
    assert opt["instructions"] < ref["instructions"]


def test_unknown_kernel_set_is_a_clear_error(tiny_int8):
    m, X = tiny_int8
    with pytest.raises(edgeinfer.errors.EdgeInferError, match="kernels="):
        m.measure(target="cortex-m4", inputs=X[:1], kernels="fastest")
