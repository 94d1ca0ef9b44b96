"""The interpreter's network ops against the IR reference: every conv kernel the C backend picks,
ConvTranspose, BatchNormalization, GlobalMaxPool, broadcasting binary ops; the model loaded once;
the runtime's CRC-32 against zlib; and the runtime linked for cortex-m4 with -Werror."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgeinfer.backends.interp.format import OP_CONV, write_eim
from edgeinfer.backends.interp.model import InterpModel, _lib, runtime_sources
from edgeinfer.ir import run
from edgeinfer.ir.graph import Graph


def _conv_graph() -> Graph:
    """Pointwise, depthwise, gemm conv with a residual Add fused by the planner, transpose, BN, broadcast, max pool."""
    rng = np.random.default_rng(3)
    g = Graph("ops")
    g.add_input("x", (None, 4, 7, 6))

    def c(name: str, shape: tuple, pos: bool = False) -> str:
        v = rng.standard_normal(shape)
        return g.add_const(name, (np.abs(v) + 0.5 if pos else v).astype(np.float32))

    g.add_node("Conv", ["x", c("pw", (8, 4, 1, 1)), c("pb", (8,))], ["a"], kernel_shape=[1, 1])
    g.add_node("Conv", ["a", c("dw", (8, 1, 3, 3))], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8,
               activation="Clip", activation_params=[0.0, 6.0])
    g.add_node("Conv", ["b", c("gw", (8, 8, 3, 3))], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.add_node("Add", ["d", "a"], ["e"])
    g.add_node("Conv", ["e", c("sw", (5, 8, 3, 2))], ["s"], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1])
    g.add_node("ConvTranspose", ["s", c("tw", (5, 3, 2, 2)), c("tb", (3,))], ["t"], kernel_shape=[2, 2],
               strides=[2, 2])
    g.add_node("BatchNormalization", ["t", c("g", (3,)), c("beta", (3,)), c("mu", (3,)), c("var", (3,), True)], ["n"])
    g.add_node("Mul", ["n", c("ch", (1, 3, 1, 1))], ["u"])
    g.add_node("Sub", ["u", c("row", (1, 1, 1, 12))], ["v"])
    g.add_node("GlobalMaxPool", ["v"], ["y"])
    g.outputs.append("y")
    return g.validate()


def test_conv_kernels_and_new_ops_match_reference() -> None:
    g = _conv_graph()
    m = InterpModel(g, "ops")
    X = np.random.default_rng(4).standard_normal((5, 4, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(m.run(X)["y"], run(g, X)["y"], rtol=1e-5, atol=1e-5)
    # every conv kernel kind is exercised (0 direct is the strided one, 4 the transpose) and the Add is fused
    assert sorted(m.blob.opcodes).count(OP_CONV) == 5 and len(m.blob.opcodes) == 9


@pytest.mark.parametrize("a, b", [((2, 3, 4), (4,)), ((2, 3, 4), (3, 1)), ((2, 1, 4), (1, 3, 1)),
                                  ((1, 2, 3, 4), (1,)), ((5,), (5,))])
def test_binary_broadcasting_matches_reference(a, b) -> None:
    rng = np.random.default_rng(5)
    g = Graph("bc")
    g.add_input("x", (None, *a))
    k = g.add_const("k", (rng.standard_normal(b) + 3).astype(np.float32))
    g.add_node("Div", ["x", k], ["y"])
    g.outputs.append("y")
    g.validate()
    X = rng.standard_normal((3, *a)).astype(np.float32)
    np.testing.assert_allclose(InterpModel(g, "bc").run(X)["y"], run(g, X)["y"], rtol=1e-6)


def test_model_loaded_once_and_reused() -> None:
    g = _conv_graph()
    m = InterpModel(g, "ops")
    X = np.random.default_rng(6).standard_normal((2, 4, 7, 6)).astype(np.float32)
    first = m.run(X)["y"]
    lm = m.loaded()
    np.testing.assert_array_equal(m.run(X)["y"], first)
    assert m.loaded() is lm


def test_crc32_matches_zlib() -> None:
    lib = _lib()
    lib.ei_crc32.restype = ctypes.c_uint32
    data = np.random.default_rng(7).integers(0, 256, 4099, dtype=np.uint8)
    for n in (0, 1, 3, 4096, 4099):
        got = lib.ei_crc32(ctypes.c_void_p(data.ctypes.data), ctypes.c_size_t(n))
        assert got == zlib.crc32(data[:n].tobytes()) & 0xFFFFFFFF


def test_file_header_is_version_2() -> None:
    data = write_eim(_conv_graph()).data
    assert data[:4] == b"EIM1" and int.from_bytes(data[4:8], "little") == 2


def test_runtime_links_for_cortex_m4_warning_free(tmp_path: Path) -> None:
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    for k, v in runtime_sources().items():
        (tmp_path / k).write_text(v)
    (tmp_path / "main.c").write_text(
        '#include "ei_interp.h"\nextern const uint8_t *volatile g_buf; const uint8_t *volatile g_buf;\n'
        "static uint64_t arena[256];\n"
        "int main(void) { ei_model_t m; const void *in[1] = {arena}; void *out[1] = {arena};\n"
        "  if (ei_model_load(&m, g_buf, 64, arena, sizeof arena) == EI_OK) ei_model_invoke(&m, in, out);\n"
        "  return 0; }\n")
    srcs = [k for k in runtime_sources() if k.endswith(".c")]
    cmd = [cc, "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99", "-Wall",
           "-Wextra", "-Werror", "-pedantic", "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections",
           "-specs=nano.specs", "-specs=nosys.specs", "-o", "m4.elf", "main.c", *srcs, "-lm"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
