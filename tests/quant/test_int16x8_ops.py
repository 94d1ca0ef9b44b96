"""16x8 ops beyond conv / fully connected / pools / add: softmax, logistic, tanh, mul, mean, pad,
concatenation, reshape, squeeze and quantize / dequantize / requantize to and from int16.

The judge is TFLite Micro's Python interpreter (its reference kernels): on models converted by
TensorFlow's 16x8 mode, and on flatbuffers written field by field for parameters the converter never
picks (power-of-two scales, softmax beta, int8 <-> int16 QUANTIZE), every output byte of the IR
reference and of the generated C must equal TFLM's, on a few hundred inputs spanning the whole int16
range (extremes included). Each op reads the model input directly, so its input range is the input's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import quant_math as qm

tf = pytest.importorskip("tensorflow", reason="TensorFlow (tensorflow-cpu) converts the 16x8 test models")
pytest.importorskip("tflite_micro", reason="tflite-micro's interpreter is the judge")

import tflite_models as tm  # noqa: E402  (on sys.path through conftest)

KERNELS = Path(edgeinfer.__file__).parent / "backends" / "kernels"
N = 300


@pytest.fixture(scope="module")
def models():
    return tm.build_16x8(tf)


def _int16_rows(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """N samples over the whole int16 range; a third shrunk towards 0 (the ops' unsaturated middle) and
    the last rows at the extremes."""
    x = rng.integers(-32768, 32768, size=(N, *shape))
    third = N // 3
    x[:third] //= rng.integers(1, 600, size=(third,) + (1,) * len(shape))
    x[-1], x[-2], x[-3] = 32767, -32768, 0
    x[-4] = np.where(np.arange(int(np.prod(shape))).reshape(shape) % 2, 32767, -32768)
    return x.astype(np.int16)


def _assert_all_equal(g, path: Path, xs: list[np.ndarray], name: str) -> None:
    """IR reference and generated C, every output, byte for byte against TFLite Micro."""
    want = tm.run_tflm_all(path, xs)
    ir = edgeinfer.ir.run(g, xs)
    c = CModel(g, name)._run(xs)
    producer = {o: n.op for n in g.nodes for o in n.outputs}
    for i, out in enumerate(g.outputs):
        w = want[i]
        np.testing.assert_array_equal(ir[out].reshape(w.shape), w, err_msg=f"IR {producer[out]} -> {out}")
        np.testing.assert_array_equal(c[i].reshape(w.shape), w, err_msg=f"C {producer[out]} -> {out}")


def _int16_ops(g) -> set[str]:
    return {n.op for n in g.nodes if g.tensors[n.outputs[0]].dtype == "int16"}


EXPECTED = {"unary": {"QSoftmax", "QLogistic", "QTanh", "QMean", "QMul", "Reshape"},
            "spatial": {"QMean", "Pad", "Reshape"},
            "binary": {"QMul", "QRequantize", "Concat"},
            "float_io": {"QQuantize", "QFullyConnected", "QTanh", "QSoftmax"}}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tf_16x8_ops_ir_and_c_equal_tflm(models, name):
    path, shapes = models[name]
    g = edgeinfer.load_graph(path)
    assert EXPECTED[name] <= _int16_ops(g)
    rng = np.random.default_rng(sorted(EXPECTED).index(name))
    if name == "float_io":
        qz = next(n for n in g.nodes if n.op == "QQuantize")
        assert qz.attr("to") == "int16" and qz.attr("zp") == 0
        s = np.float32(qz.attr("scale"))
        # past both ends of int16 (saturation), and exact half steps (round half away from zero)
        x = (rng.uniform(-1.3, 1.3, size=(N, *shapes[0])) * 32768 * s).astype(np.float32)
        x[:20] = ((rng.integers(-32768, 32767, size=(20, *shapes[0])) + np.float32(0.5)) * s).astype(np.float32)
        assert any(n.op == "QDequantize" for n in g.nodes)
        xs = [x]
    else:
        xs = [_int16_rows(rng, s) for s in shapes]
    _assert_all_equal(g, path, xs, f"i16_{name}")


def _handmade(path: Path) -> Path:
    """Inputs: xa int16 at 2**-12 (logistic's and tanh's power-of-two path), xb at 2**-11 (tanh's other one),
    xc at 2.0 (a multiplier above 16 bits), xd int8, xe int16 (1, 4, 1, 16) for SQUEEZE."""
    row, cube, sig = (1, 64), (1, 4, 1, 16), 2.0 ** -15
    tensors = [(row, "int16", 2.0 ** -12, 0, None), (row, "int16", 2.0 ** -11, 0, None),   # 0 xa, 1 xb
               (row, "int16", 2.0, 0, None), (row, "int8", 0.05, -3, None),            # 2 xc, 3 xd
               (cube, "int16", 3e-4, 0, None),                                          # 4 xe
               *[(row, "int16", sig, 0, None)] * 6, (cube, "int16", sig, 0, None),    # 5-11 logistic / tanh
               (row, "int16", 1 / 32768, 0, None),                                      # 12 softmax
               (row, "int16", 1.5e-4, 0, None), (row, "int8", 0.03, 5, None),          # 13 int8 -> int16, 14 back
               (row, "int16", 3.3e-4, 0, None), ((1, 4, 16), "int16", 3e-4, 0, None)]  # 15 int16 -> int16, 16
    ops = [("LOGISTIC", [0], [5], None), ("TANH", [0], [6], None), ("TANH", [1], [7], None),
           ("LOGISTIC", [1], [8], None), ("LOGISTIC", [2], [9], None), ("TANH", [2], [10], None),
           ("TANH", [4], [11], None), ("SOFTMAX", [2], [12], {"beta": 0.37}), ("QUANTIZE", [3], [13], None),
           ("QUANTIZE", [0], [14], None), ("QUANTIZE", [1], [15], None), ("SQUEEZE", [4], [16], {"squeezeDims": [2]})]
    return tm.write_tflite(path, tensors, ops, [0, 1, 2, 3, 4], list(range(5, 17)))


def test_handmade_16x8_params_ir_and_c_equal_tflm(tmp_path):
    path = _handmade(tmp_path / "i16_handmade.tflite")
    g = edgeinfer.load_graph(path)
    assert {"QLogistic", "QTanh", "QSoftmax", "QRequantize", "Reshape"} <= _int16_ops(g)
    assert next(n for n in g.nodes if n.op == "QSoftmax").attr("beta") == pytest.approx(0.37)
    # the power-of-two scales take the kernels' own 3 << shift multiplier
    assert qm.sigmoid_tanh_s16_params(2.0 ** -12, tanh=False) == (3, 0)
    assert qm.sigmoid_tanh_s16_params(2.0 ** -11, tanh=True) == (6, 0)
    rng = np.random.default_rng(5)
    xs = [_int16_rows(rng, (64,)) for _ in range(3)]
    xs.append(rng.integers(-128, 128, size=(N, 64)).astype(np.int8))
    xs.append(_int16_rows(rng, (4, 1, 16)))
    _assert_all_equal(g, path, xs, "i16_handmade")


def _c_table(src: str, name: str) -> np.ndarray:
    body = re.search(rf"{name}\[\d+\] = \{{([^}}]*)\}}", src).group(1)
    return np.array([int(v) for v in body.replace("\n", " ").split(",") if v.strip()])


def test_c_tables_are_tflm_prepare_tables():
    """The C kernel's exp and 1 / (1 + x) tables are gen_lut's (float32, as TFLM's Prepare), and its
    sigmoid table is quant_math's; with libm reachable, ``expf`` itself gives the same exp table."""
    src = (KERNELS / "ei_softmax_s16.c").read_text()
    exp_lut, recip_lut = qm.softmax_s16_luts()
    np.testing.assert_array_equal(_c_table(src, "ei_exp_lut_s16"), exp_lut)
    np.testing.assert_array_equal(_c_table(src, "ei_recip_lut_s16"), recip_lut)
    np.testing.assert_array_equal(_c_table(src, "ei_sigmoid_table_u16"), qm.SIGMOID_TABLE_U16)
    assert (exp_lut[0], exp_lut[-1], recip_lut[0], recip_lut[-1]) == (2, 32767, 32767, 16384)
    try:
        import ctypes

        libm = ctypes.CDLL("libm.so.6")
    except OSError:
        return
    libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]
    expf = np.vectorize(lambda v: np.float32(libm.expf(float(v))), otypes=[np.float32])
    np.testing.assert_array_equal(qm.gen_lut_s16(expf, -10.0, 0.0, -1.0, 1.0), exp_lut)


def test_16x8_ptq_softmax_sigmoid_tanh_stay_int16(models):
    """edgeinfer's 16x8 PTQ of a torch MLP keeps sigmoid, tanh and softmax int16 at the output parameters
    TensorFlow's 16x8 converter fixes for them, and the generated C equals the IR on every element."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = torch.nn.Linear(6, 8), torch.nn.Linear(8, 8), torch.nn.Linear(8, 5)

        def forward(self, x):
            return torch.softmax(self.c(torch.tanh(self.b(torch.sigmoid(self.a(x))))), dim=-1)

    torch.manual_seed(0)
    X = (np.random.default_rng(0).standard_normal((160, 6)) * 2).astype(np.float32)
    q = edgeinfer.quantize(edgeinfer.load_graph(Net().eval(), torch.from_numpy(X[:1])), calibration=X[:100],
                           scheme="int16x8")
    assert {"QLogistic", "QTanh", "QSoftmax"} <= _int16_ops(q)
    tf_model = edgeinfer.load_graph(models["unary"][0])
    for op in ("QLogistic", "QTanh", "QSoftmax"):
        mine = q.tensors[next(n for n in q.nodes if n.op == op).outputs[0]].quant
        theirs = tf_model.tensors[next(n for n in tf_model.nodes if n.op == op).outputs[0]].quant
        assert (float(mine.scale[0]), int(mine.zero_point[0])) == (float(theirs.scale[0]), 0), op
    want = edgeinfer.ir.run(q, X[100:])[q.outputs[0]]
    np.testing.assert_array_equal(edgeinfer.convert(q, name="ptq16_act").predict(X[100:]), want)


@pytest.mark.parametrize("case", ["logistic_scale", "mul_zero_point"])
def test_16x8_unsupported_parameters_are_refused_by_name(tmp_path, case):
    """TFLM refuses these int16 parameters; so does the import, naming them, instead of computing wrong."""
    row = (1, 8)
    if case == "logistic_scale":
        tensors = [(row, "int16", 1e-3, 0, None), (row, "int16", 1 / 256, 0, None)]
        ops, ins, match = [("LOGISTIC", [0], [1], None)], [0], "output scale"
    else:
        tensors = [(row, "int16", 1e-3, 2, None), (row, "int16", 1e-3, 0, None), (row, "int16", 1e-3, 0, None)]
        ops, ins, match = [("MUL", [0, 1], [2], {"fusedActivationFunction": 0})], [0, 1], "zero points 0"
    path = tm.write_tflite(tmp_path / f"{case}.tflite", tensors, ops, ins, [len(tensors) - 1])
    with pytest.raises(UnsupportedModelError, match=match):
        edgeinfer.load_graph(path)


@pytest.mark.parametrize("kernel", ["ei_softmax_s16.c", "ei_elementwise_s16.c"])
def test_int16_kernels_cross_compile_warning_free(tmp_path, kernel):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    subprocess.run([cc, "-mcpu=cortex-m0plus", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-O2", "-c", str(KERNELS / kernel), "-o", str(tmp_path / "k.o")], check=True)
