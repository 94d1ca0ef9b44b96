"""The interpreter runs everything the code-generation backend runs, on the corpora the C backend is tested on.

* every op the C backend registers has an interpreter lowering, and for every IR element type, every
  (op, dtype) the C emitters accept is one the interpreter runs, equal to the IR reference: the C side
  is read from the emitters themselves (``generate`` on a small graph per op and dtype); where the two
  disagree, compiling the C decides whether the C backend really runs it;
* ONNX's node tests of every op the ONNX frontend claims (the C backend's conformance corpus), including
  the shape and layout ops (Transpose, Slice, Concat, Split, Pad, Gather, Resize) on every element type
  they come in;
* the int8 ``.tflite`` models of ``tests/quant/tflite_models.py`` end to end through
  ``edgeinfer.convert(path, backend="interp")`` (``pad_strided`` and ``mlp_gates`` included), the 16x8
  models (TensorFlow's, the digits CNN and a hand-written flatbuffer with the parameters no converter
  picks): TFLite Micro's bytes;
* the fixed-point classical models of ``tests/quant/test_fixed_point.py`` (re-created here), every output
  element equal to the integer IR reference, and their runtime op file linking no soft-float helper for a
  Cortex-M0+.

Integer outputs must be equal; float outputs within the C conformance tolerance (rtol 1e-4), since the
kernels sum in their own order.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import edgeinfer
from edgeinfer.backends.c.registry import supported_ops as c_supported_ops
from edgeinfer.backends.interp import format as fmt
from edgeinfer.backends.interp.model import RUNTIME_DIR, InterpModel
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import run
from edgeinfer.ir.graph import Graph

TESTS = Path(__file__).resolve().parents[2]
RTOL, ATOL = 1e-4, 1e-5


def _interp(g: Graph, xs: list[np.ndarray]) -> dict[str, np.ndarray]:
    outs = InterpModel(g, "cov")._run([np.asarray(x, g.tensors[t].dtype) for x, t in zip(xs, g.inputs, strict=True)])
    return dict(zip(g.outputs, outs, strict=True))


def _assert_matches(got: np.ndarray, want: np.ndarray, what: str) -> None:
    got = np.asarray(got).reshape(np.shape(want))
    if np.issubdtype(np.asarray(want).dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# ---------------------------------------------------------------- op and dtype coverage, read from the C emitters
def test_every_c_op_has_an_interpreter_lowering() -> None:
    missing = sorted(set(c_supported_ops()) - set(fmt.supported_ops()))
    assert not missing, f"ops the C backend runs and the interpreter does not: {missing}"


DTYPES = ["float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "bool"]


def _data(dtype: str, shape: tuple, rng: np.random.Generator, positive: bool = False) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.startswith("float"):
        v = rng.standard_normal(shape) * 2
        return (np.abs(v) + 0.1 if positive else v).astype(dtype)
    lo = 1 if positive or dtype.startswith("uint") else -5
    return rng.integers(lo, 6, size=shape).astype(dtype)


def _graph(op: str, dtype: str, shape: tuple = (2, 3, 4), n_out: int = 1, inputs: list | None = None,
           **attrs) -> Graph:
    """x (None, *shape) of dtype through one ``op``; ``inputs`` after x: constants (arrays) or "x" again."""
    g = Graph("probe")
    g.add_input("x", (None, *shape), dtype)
    names = ["x"] + [i if isinstance(i, str) else g.add_const(f"c{k}", i) for k, i in enumerate(inputs or [])]
    outs = [f"y{k}" for k in range(n_out)]
    g.add_node(op, names, outs, **attrs)
    g.outputs += outs
    return g.validate()


def _probes(dtype: str) -> dict[str, Graph]:
    """One small graph per dtype-generic op (the float-only and quantized ops are covered by the corpora)."""
    rng = np.random.default_rng(0)
    spatial = (2, 4, 4)
    small = (1, 1, 4)
    p = {op: _graph(op, dtype) for op in ("Relu", "Sigmoid", "Tanh", "Exp", "Erf", "HardSwish", "Identity")}
    p["Sqrt"] = _graph("Sqrt", dtype)
    p["LeakyRelu"] = _graph("LeakyRelu", dtype, alpha=0.1)
    p["HardSigmoid"] = _graph("HardSigmoid", dtype, alpha=0.3, beta=0.4)
    p["Clip"] = _graph("Clip", dtype, min=-2, max=3)
    p["Softmax"] = _graph("Softmax", dtype, axis=-1)
    p["LogSoftmax"] = _graph("LogSoftmax", dtype, axis=2)
    p["Flatten"] = _graph("Flatten", dtype, axis=1)
    p["Reshape"] = _graph("Reshape", dtype, inputs=[np.array([0, 4, 6], np.int64)])
    p["Squeeze"] = _graph("Squeeze", dtype, shape=(2, 1, 4), axes=[2])
    p["Unsqueeze"] = _graph("Unsqueeze", dtype, axes=[2])
    p["Transpose"] = _graph("Transpose", dtype, perm=[0, 3, 1, 2])
    p["Concat"] = _graph("Concat", dtype, inputs=["x"], axis=2)
    p["Split"] = _graph("Split", dtype, n_out=2, axis=3, split=[1, 3])
    p["Slice"] = _graph("Slice", dtype, starts=[1, 3], ends=[3, 0], axes=[2, 3], steps=[1, -2])
    p["Gather"] = _graph("Gather", dtype, inputs=[np.array([2, -1, 0, 2], np.int64)], axis=2)
    p["Pad"] = _graph("Pad", dtype, pads=[0, 0, 1, -1, 0, 1, 2, 1], mode="constant", value=1)
    for op in ("ReduceSum", "ReduceMax", "ReduceMean"):
        p[op] = _graph(op, dtype, axes=[1, 3], keepdims=0)
    p["ArgMax"] = _graph("ArgMax", dtype, axis=-1)
    p["MaxPool"] = _graph("MaxPool", dtype, shape=spatial, kernel_shape=[2, 2], strides=[1, 2])
    p["AveragePool"] = _graph("AveragePool", dtype, shape=spatial, kernel_shape=[2, 2])
    p["GlobalMaxPool"] = _graph("GlobalMaxPool", dtype, shape=spatial)
    p["GlobalAveragePool"] = _graph("GlobalAveragePool", dtype, shape=spatial)
    for mode in ("nearest", "linear"):
        p[f"Resize-{mode}"] = _graph("Resize", dtype, shape=spatial, scales=[1.0, 1.0, 2.0, 1.5],
                                     sizes=[1, 2, 8, 6], mode=mode, coordinate_transformation_mode="asymmetric",
                                     nearest_mode="floor")
    for op in ("Add", "Sub", "Mul", "Div"):
        p[op] = _graph(op, dtype, inputs=[_data(dtype, small, rng, positive=True)])
    p["Pow"] = _graph("Pow", dtype, inputs=[rng.integers(0, 3, size=small).astype(np.int32)])
    for op in ("Max", "Min"):
        p[op] = _graph(op, dtype, inputs=[_data(dtype, small, rng), "x"])
    for to in ("int32", "uint8", "bool"):
        p[f"Cast-{to}"] = _graph("Cast", dtype, to=to)
    p["Pow-same"] = _graph("Pow", dtype, inputs=[_data(dtype, small, rng, positive=True)])
    return p


def _c_generates(g: Graph) -> bool:
    """Whether the C backend's emitters produce code for ``g`` (the C backend's own claim)."""
    from edgeinfer.backends.c.emit import generate

    try:
        generate(g.copy(), "probe")
    except Exception:  # noqa: BLE001 (any refusal or emitter error: the C backend does not run it)
        return False
    return True


def _c_runs(g: Graph, xs: list[np.ndarray], want: dict[str, np.ndarray]) -> bool:
    """Whether the generated C compiles (-Werror), runs and gives the IR reference's outputs: decides a
    disagreement between the backends (some emitters produce code for types it does not compile for)."""
    from edgeinfer.backends.c.model import CModel

    try:
        outs = CModel(g.copy(), "probe")._run(xs)
        for o, got in zip(g.outputs, outs, strict=True):
            _assert_matches(got, want[o], o)
    except Exception:  # noqa: BLE001
        return False
    return True


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_the_c_emitters_accept_runs_in_the_interpreter(dtype: str) -> None:
    rng = np.random.default_rng(1)
    checked, refused = [], []
    for key, g in _probes(dtype).items():
        x = np.stack([_data(dtype, tuple(g.tensors["x"].shape[1:]), rng, positive=key == "Sqrt") for _ in range(3)])
        try:
            want = run(g, x)
        except Exception:  # noqa: BLE001 (not a combination the IR defines)
            continue
        if not _c_generates(g):
            continue
        try:
            got = _interp(g, [x])
        except UnsupportedModelError:
            if _c_runs(g, [x], want):
                refused.append(key)
            continue
        for o in g.outputs:
            _assert_matches(got[o], want[o], f"{key} {dtype} -> {o}")
        checked.append(key)
    assert not refused, f"the C backend runs these on {dtype} and the interpreter refuses them: {refused}"
    assert checked or dtype in ("float64", "bool")


# ---------------------------------------------------------------- ONNX node tests (the C backend's conformance corpus)
sys.path.insert(0, str(TESTS / "frontends" / "onnx"))


def _onnx_cases() -> dict[str, dict]:
    import conformance

    return {c["name"]: c for c in conformance.load_cases() if conformance.case_op(c)}


def _onnx_case(case: dict) -> str:
    """'pass', or 'outside' for a case the ONNX frontend refuses on purpose (the C backend never sees it)."""
    import conformance
    import onnx

    from edgeinfer.frontends.onnx import from_onnx

    model = onnx.load_from_string(case["model"])
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset > conformance.MAX_OPSET and not conformance._retarget_opset(model):
        return "outside"
    inputs, _ = case["data"][0]
    names = [vi.name for vi in model.graph.input if vi.name not in {t.name for t in model.graph.initializer}]
    feeds = dict(zip(names, inputs, strict=False))
    model = conformance._bake_params(model, feeds)
    try:
        g = from_onnx(model)
    except UnsupportedModelError as e:
        assert conformance.narrowed(str(e)), f"{case['name']}: refused outside the documented narrowings: {e}"
        return "outside"
    xs = [feeds[n] for n in g.inputs]
    want = run(g, {n: feeds[n] for n in g.inputs})
    outs = list(g.outputs)
    if any(g.tensors[n].shape and g.tensors[n].shape[0] not in (None, 1) for n in g.inputs):
        g, xs = conformance.batch_as_one_sample(g), [np.asarray(x)[None] for x in xs]
    got = InterpModel(g, "case")._run([np.asarray(x, g.tensors[t].dtype) for x, t in zip(xs, g.inputs, strict=True)])
    for name, arr in zip(outs, got, strict=True):
        _assert_matches(arr, want[name], f"{case['name']} -> {name}")
    return "pass"


@pytest.fixture(scope="module")
def onnx_cases() -> dict[str, dict]:
    pytest.importorskip("onnx")
    return _onnx_cases()


def test_onnx_node_cases_equal_reference(onnx_cases) -> None:
    import conformance

    results: dict[str, dict[str, int]] = {}
    for case in onnx_cases.values():
        status = _onnx_case(case)
        results.setdefault(conformance.case_op(case), {}).setdefault(status, 0)
        results[conformance.case_op(case)][status] += 1
    passed = sum(r.get("pass", 0) for r in results.values())
    # every claimed op has cases, and each runs (layout ops on every element type ONNX tests them with);
    # Constant's only case is a graph without inputs, which the frontend refuses
    assert set(results) == set(conformance.OPS)
    assert all(r.get("pass", 0) for op, r in results.items() if op != "Constant"), results
    print(f"ONNX node cases through the interpreter: {passed} equal the IR reference, "
          f"{sum(r.get('outside', 0) for r in results.values())} refused by the frontend")


# ---------------------------------------------------------------- TFLite int8 and 16x8
sys.path.insert(0, str(TESTS / "quant"))


@pytest.fixture(scope="module")
def tf():
    pytest.importorskip("tflite_micro", reason="tflite-micro's interpreter is the judge")
    return pytest.importorskip("tensorflow", reason="TensorFlow builds the .tflite test models")


@pytest.fixture(scope="module")
def tm(tf):
    import tflite_models

    return tflite_models


@pytest.mark.parametrize("name", ["conv_net", "residual", "pad_strided", "mlp_gates", "gap_net"])
def test_int8_tflite_end_to_end_equals_tflm(tf, tm, name: str) -> None:
    from edgeinfer.frontends.tflite import from_tflite

    path, shape = tm.build_all(tf)[name]
    x = np.random.default_rng(7).integers(-128, 128, size=(30, *shape)).astype(np.int8)
    got = edgeinfer.convert(str(path), backend="interp", name=name).predict(x)
    g = from_tflite(path)
    want = run(g, x)[g.outputs[0]]
    assert got.dtype == np.int8
    np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)
    np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), tm.run_tflm(path, x).reshape(want.shape))


def test_more_int8_tflite_models_equal_tflm(tf, tm) -> None:
    """tests/quant/tflite_more_models.py: standalone int8 activations, PReLU, SUB, MAXIMUM / MINIMUM, REDUCE_MAX,
    layout ops, nearest resizes, ARG_MAX (int32 and, through Cast, int64), uint8 model edges."""
    import tflite_more_models as mm

    models = mm.build_all(lambda: tf)
    ops: set[str] = set()
    for name in (*mm.TFLM_MODELS, *mm.LITERT_ONLY):  # the judges tests/quant uses (LiteRT: ops TFLM lacks)
        path, shape = models[name]
        dt = np.dtype(mm._litert(path).get_input_details()[0]["dtype"])
        info = np.iinfo(dt)
        x = np.random.default_rng(11).integers(info.min, info.max + 1, size=(40, *shape)).astype(dt)
        x[0], x[1] = info.min, info.max
        g = edgeinfer.load_graph(path)
        ops |= set(g.ops())
        want = mm.run_tflm_all(path, x) if name in mm.TFLM_MODELS else mm.run_litert_all(path, x)
        got = edgeinfer.convert(str(path), backend="interp", name="more").run(x)
        for k, o in enumerate(g.outputs):
            np.testing.assert_array_equal(got[o].reshape(want[k].shape), want[k], err_msg=f"{name} output {k}")
    assert {"QRelu", "QLeakyRelu", "QHardSwish", "QPRelu", "QSub", "QRequantizeU8", "Max", "Min", "Cast"} <= ops


def _int16_rows(rng: np.random.Generator, shape: tuple, n: int = 80) -> np.ndarray:
    """The whole int16 range, a third shrunk towards 0, and the extremes."""
    x = rng.integers(-32768, 32768, size=(n, *shape))
    x[: n // 3] //= rng.integers(1, 600, size=(n // 3,) + (1,) * len(shape))
    x[-1], x[-2], x[-3] = 32767, -32768, 0
    return x.astype(np.int16)


def _tflm_equal(tm, g: Graph, path: Path, xs: list[np.ndarray]) -> set[str]:
    want = tm.run_tflm_all(path, xs)
    ir = run(g, xs)
    got = _interp(g, xs)
    for i, o in enumerate(g.outputs):
        np.testing.assert_array_equal(ir[o].reshape(want[i].shape), want[i], err_msg=f"IR -> {o}")
        np.testing.assert_array_equal(got[o].reshape(want[i].shape), want[i], err_msg=f"interpreter -> {o}")
    return {n.op for n in g.nodes if g.tensors[n.outputs[0]].dtype == "int16"}


@pytest.mark.parametrize("name", ["unary", "spatial", "binary", "float_io"])
def test_16x8_tflite_equals_tflm(tf, tm, name: str) -> None:
    path, shapes = tm.build_16x8(tf)[name]
    g = edgeinfer.load_graph(path)
    rng = np.random.default_rng(3)
    if name == "float_io":
        xs = [(rng.standard_normal((80, *s)) * 3).astype(np.float32) for s in shapes]
    else:
        xs = [_int16_rows(rng, s) for s in shapes]
    ops = _tflm_equal(tm, g, path, xs)
    assert ops & {"QSoftmax", "QMul", "QMean", "QFullyConnected", "Pad", "Concat"}


def test_16x8_digits_cnn_equals_tflm(tf, tm) -> None:
    import digits_keras as dk

    path = dk.build(tf)["int16x8"]
    g = edgeinfer.load_graph(path)
    x = dk.digits()[0][1300:1360]
    ops = _tflm_equal(tm, g, path, [x])
    assert {"QConv2D", "QDepthwiseConv2D", "QMaxPool2D", "QAveragePool2D", "QFullyConnected"} <= ops


def test_16x8_handwritten_parameters_equal_tflm(tm, tmp_path) -> None:
    """Parameters no converter picks: power-of-two int16 scales (the logistic / tanh kernels' own multiplier),
    a softmax beta, int8 -> int16 and int16 -> int8 QUANTIZE, an int16 ADD with broadcasting."""
    row, sig = (1, 32), 2.0 ** -15
    tensors = [(row, "int16", 2.0 ** -12, 0, None), (row, "int16", 2.0, 0, None), (row, "int8", 0.05, -3, None),
               (row, "int16", sig, 0, None), (row, "int16", sig, 0, None), (row, "int16", 1 / 32768, 0, None),
               (row, "int16", 1.5e-4, 0, None), (row, "int8", 0.03, 5, None),
               ((1, 1), "int16", 2.0 ** -12, 0, np.array([[1234]], np.int16)), (row, "int16", 3e-3, 0, None)]
    ops = [("LOGISTIC", [0], [3], None), ("TANH", [0], [4], None), ("SOFTMAX", [1], [5], {"beta": 0.37}),
           ("QUANTIZE", [2], [6], None), ("QUANTIZE", [0], [7], None),
           ("ADD", [0, 8], [9], {"fusedActivationFunction": 0})]
    path = tm.write_tflite(tmp_path / "i16_hand.tflite", tensors, ops, [0, 1, 2], [3, 4, 5, 6, 7, 9])
    g = edgeinfer.load_graph(path)
    rng = np.random.default_rng(5)
    xs = [_int16_rows(rng, (32,)), _int16_rows(rng, (32,)), rng.integers(-128, 128, size=(80, 32)).astype(np.int8)]
    assert {"QLogistic", "QTanh", "QSoftmax", "QRequantize", "QAdd"} <= _tflm_equal(tm, g, path, xs)


# ---------------------------------------------------------------- fixed-point classical models
FX_TRAIN = 1300


def _fx_models() -> dict:
    """The models of tests/quant/test_fixed_point.py."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {"rf": RandomForestClassifier(20, max_depth=8, random_state=0),
            "gb_binary": GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
            "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            "lr_binary": LogisticRegression(max_iter=2000),
            "mlp_relu": MLPClassifier((32,), max_iter=300, random_state=0),
            "mlp_tanh": MLPClassifier((16, 12), activation="tanh", max_iter=300, random_state=0)}


@pytest.fixture(scope="module")
def fx_fitted() -> tuple[np.ndarray, dict]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    fitted = {}
    for name, model in _fx_models().items():
        yy = y % 2 if name.endswith("binary") else y
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[name] = model.fit(X[:FX_TRAIN], yy[:FX_TRAIN])
    return X, fitted


@pytest.mark.parametrize("scheme", ["int16", "int8"])
@pytest.mark.parametrize("name", list(_fx_models()))
def test_fixed_point_models_equal_integer_reference(fx_fitted, name: str, scheme: str) -> None:
    from edgeinfer.ir.ops.fixed_point import quantize_features

    X, fitted = fx_fitted
    model = fitted[name]
    q = edgeinfer.quantize(model, calibration=X[:FX_TRAIN], scheme=scheme)
    assert {n.op for n in q.nodes} <= {"FxTreeEnsemble", "FxDense"}
    Xq = quantize_features(X, q.metadata["input_quantization"])
    want = run(q, Xq)
    m = edgeinfer.convert(q, backend="interp", name=f"fx_{name}")
    got = m.run(Xq)
    for o in q.outputs:
        np.testing.assert_array_equal(got[o], want[o], err_msg=o)
    np.testing.assert_array_equal(m.predict(X), model.classes_[want["label"]])  # float X quantized at the edge


def _fx_svm_models() -> dict:
    """Kernel SVMs, score layouts and fixed-point regressors as tests/quant/test_fixed_point_svm.py fits them."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC, SVR, NuSVC

    return {"svc_linear": ("iris", SVC(kernel="linear")), "svc_poly": ("iris", SVC(kernel="poly")),
            "svc_rbf": ("iris", SVC()), "svc_sigmoid": ("iris", SVC(kernel="sigmoid")),
            "svc_ovo": ("iris", SVC(decision_function_shape="ovo")),
            "svc_break_ties": ("iris", SVC(break_ties=True, C=0.05)), "svc_binary": ("iris2", SVC(gamma=2.0)),
            "nusvc_minmax": ("iris", make_pipeline(MinMaxScaler(), NuSVC(nu=0.3))),
            "svc_poly_coef0": ("iris", make_pipeline(StandardScaler(), SVC(kernel="poly", degree=4, coef0=1.0,
                                                                          gamma=0.3))),
            "svr_rbf": ("diabetes", SVR(C=100)), "svr_linear": ("diabetes", SVR(kernel="linear", C=100)),
            "svr_poly": ("diabetes", make_pipeline(StandardScaler(), SVR(kernel="poly", C=10))),
            "linear_regression": ("diabetes", LinearRegression()),
            "gbr": ("diabetes", GradientBoostingRegressor(n_estimators=20, random_state=0)),
            "mlp_regressor": ("diabetes", make_pipeline(
                StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), max_iter=500, random_state=0)))}


@pytest.mark.parametrize("scheme", ["int16", "int8"])
@pytest.mark.parametrize("name", list(_fx_svm_models()))
def test_fixed_point_svms_and_regressors_equal_integer_reference(name: str, scheme: str) -> None:
    from sklearn import datasets

    from edgeinfer.ir.ops.fixed_point import quantize_features

    data, model = _fx_svm_models()[name]
    X, y = getattr(datasets, f"load_{data.rstrip('2')}")(return_X_y=True)
    X = X.astype(np.float32)
    y = (y == 1).astype(int) if data == "iris2" else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    q = edgeinfer.quantize(model, X, scheme=scheme)
    Xq = quantize_features(X, q.metadata["input_quantization"])
    want = run(q, Xq)
    got = edgeinfer.convert(q, backend="interp", name="fxsvm").run(Xq)
    for o in q.outputs:
        np.testing.assert_array_equal(got[o], want[o], err_msg=o)


_FX_RESOLVER = """#include "ei_interp_ops.h"
static const ei_op_reg_t fx_ops[] = {EI_REG_FXTREES, EI_REG_FXDENSE, EI_REG_FXSVM};
static const ei_resolver_t fx_resolver = {fx_ops, 3};
int fx_load(ei_model_t *m, const void *buf, size_t len, void *arena, size_t n);
int fx_load(ei_model_t *m, const void *buf, size_t len, void *arena, size_t n)
{
  return (int)ei_model_load_with(m, &fx_resolver, buf, len, arena, n);
}
"""


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_fixed_point_runtime_links_no_soft_float_on_cortex_m0plus(tmp_path: Path) -> None:
    """Firmware registering only the fixed-point ops (ei_model_load_with) needs no float support: the loader
    and ei_ops_fixed.c reference no soft-float helper when built for a core without an FPU."""
    from edgeinfer.backends.c.emit import KERNEL_DIR

    (tmp_path / "fx_resolver.c").write_text(_FX_RESOLVER)
    from m0_soft_float import soft_float_helpers  # tests/quant is on sys.path (above)

    helpers = soft_float_helpers([RUNTIME_DIR / "ei_interp.c", RUNTIME_DIR / "ei_ops_fixed.c",
                                  tmp_path / "fx_resolver.c"], tmp_path, include=[RUNTIME_DIR, KERNEL_DIR])
    assert helpers == [], f"soft-float helpers referenced: {helpers}"
    assert "float" not in (RUNTIME_DIR / "ei_ops_fixed.c").read_text().split("*/", 1)[1]


# ---------------------------------------------------------------- hand-set TFLite-scheme graphs (int8 and 16x8)
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_every_quantized_op_with_hand_set_scales_equals_reference(dtype: str) -> None:
    from edgeinfer.backends.interp.fuzz import quantized_graph

    g = quantized_graph(dtype)
    g.outputs = ["c", "d", "p", "a", "s", "m", "mean", "f"]  # every int8 / int16 intermediate
    x = (np.random.default_rng(0).standard_normal((40, 6, 6, 2)) * 3).astype(np.float32)
    want, got = run(g, x), _interp(g, [x])
    for o in g.outputs:
        assert want[o].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got[o].reshape(want[o].shape), want[o], err_msg=o)
    g = quantized_graph(dtype)  # the activations, softmax and requantize, dequantized
    want, got = run(g, x), _interp(g, [x])
    for o in g.outputs:
        np.testing.assert_array_equal(got[o].reshape(want[o].shape), want[o], err_msg=o)


def test_runtime_gather_index_outside_the_axis_gives_zeros() -> None:
    g = Graph("gidx")
    g.add_input("i", (None, 4), "int64")
    g.add_node("Gather", [g.add_const("t", np.arange(12, dtype=np.float32).reshape(3, 4)), "i"], ["y"], axis=0)
    g.outputs.append("y")
    got = _interp(g.validate(), [np.array([[0, -1, 2, 7]], np.int64)])["y"]
    np.testing.assert_array_equal(got[0], [[0, 1, 2, 3], [8, 9, 10, 11], [8, 9, 10, 11], [0, 0, 0, 0]])


# ---------------------------------------------------------------- load-time validation of the new ops
def _op_words(data: bytes, code: int) -> int:
    """File offset of the attribute words of the first op with ``code``."""
    h = fmt.HEADER.unpack_from(data)
    for i in range(h[5]):
        rec = fmt.OP_HEAD.unpack_from(data, h[9] + i * fmt.OP_HEAD.size)
        if rec[0] == code:
            return h[11] + rec[11]
    raise AssertionError(f"no op {fmt.OP_NAMES[code]}")


def _patch(data: bytes, code: int, word: int, value: int, table_elem: int | None = None) -> bytes:
    """Attribute ``word`` of the first ``code`` op set to ``value`` (or, with ``table_elem``, int32 element
    ``table_elem`` of the table that word references), the CRC fixed so that only the op checks see it."""
    import struct
    import zlib

    off = _op_words(data, code) + 4 * word
    if table_elem is not None:
        off = fmt.HEADER.unpack_from(data)[11] + struct.unpack_from("<I", data, off)[0] + 4 * table_elem
    buf = bytearray(data)
    buf[off:off + 4] = struct.pack("<I", value & 0xFFFFFFFF)
    buf[12:16] = struct.pack("<I", zlib.crc32(bytes(buf[16:])) & 0xFFFFFFFF)
    return bytes(buf)


def _status(data: bytes) -> str:
    from edgeinfer.backends.interp.model import invoke, read_io
    from edgeinfer.errors import ModelFileError

    ins, outs = read_io(data)
    try:
        invoke(data, [np.zeros((1, *ins[0][0]), ins[0][1])], outs, arena_bytes=fmt.HEADER.unpack_from(data)[13])
    except ModelFileError as e:
        return str(e)
    return "ok"


@pytest.fixture(scope="module")
def seed_files() -> dict[str, bytes]:
    from edgeinfer.backends.interp import fuzz

    return fuzz.seed_models()


MOVE_TAB, MOVE_START, MOVE_STEP = 5 + 12, 5 + 18, 5 + 24
NEW_OP_CORRUPTIONS = [
    ("layout", fmt.OP_MOVE, 0, 7, None),                  # more than 6 axes
    ("layout", fmt.OP_MOVE, 5, 1000, None),               # an axis longer than the output
    ("layout", fmt.OP_MOVE, MOVE_START, -1, None),        # an affine axis starting before the input
    ("layout", fmt.OP_MOVE, MOVE_STEP, 100, None),        # ... or running past its end
    ("layout", fmt.OP_MOVE, MOVE_TAB, 0x7FFFFFF0, None),  # a table outside the data section
    ("layout", fmt.OP_GATHER, 1, 0, None),                # an empty axis
    ("layout", fmt.OP_RESIZE, 9, 0, None),                # no taps
    ("layout", fmt.OP_RESIZE, 15, 1 << 20, 0),            # a tap offset outside x
    ("layout", fmt.OP_REDUCE, 0, 3, None),                # unknown reduction
    ("layout", fmt.OP_REDUCE, 9, 1 << 20, None),          # an output stride past y
    ("layout", fmt.OP_LOGSOFTMAX, 1, 5, None),            # counts disagree with x
    ("layout", fmt.OP_MATMUL, 4, 1 << 20, 0),             # a block offset outside a (table element 0)
    ("gemm", fmt.OP_GEMM, 7, 0, None),                    # bias mode 0 with a bias tensor
    ("nd", fmt.OP_NPOOL, 10, 0, None),                    # an empty window
    ("nd", fmt.OP_NCONVT, 3, 2, None),                    # group not dividing c_in
    ("ints", fmt.OP_BINARY, 0, 5, None),                  # unknown arithmetic
    ("ints", fmt.OP_UNARY, 0, 4, None),                   # integer exp
    ("fxrf", fmt.OP_FXTREES, 0, 1000, None),              # features disagree with x
    ("fxrf", fmt.OP_FXTREES, 6, 0, 2),                    # a child pointing back to its parent
    ("fxrf", fmt.OP_FXTREES, 6, 64, 1),                   # a feature past x
    ("fxmlp", fmt.OP_FXDENSE, 4 + 7, 20, 0),              # a requantization shift beyond 14
    ("fxmlp", fmt.OP_FXDENSE, 4 + 2, 7, None),            # unknown activation
    ("fxmlp", fmt.OP_FXDENSE, 4 + 8, fmt.NONE_OFF, None),  # a tanh layer without its table
    ("qall16", fmt.OP_QCONV, 1 + 14, 40000, None),        # int16 zero point outside int16
    ("qall16", fmt.OP_QFC, 5, 15, 0),                     # an int16 requantization shift beyond 14
    ("qall16", fmt.OP_QBINARY, 9, 16, None),              # int16 add with 16 bits of headroom (int32 overflow)
    ("qall16", fmt.OP_QSOFTMAX, 4, 3, None),              # int16 softmax with a diff_min
    ("qall8", fmt.OP_QSOFTMAX, 4, -255, None),            # diff << left_shift past int32 (found by the fuzz target)
    ("qall16", fmt.OP_QACT, 4, 40, None),                 # int16 logistic shift beyond 31
]


@pytest.mark.parametrize("case", NEW_OP_CORRUPTIONS, ids=lambda c: f"{c[0]}-{fmt.OP_NAMES[c[1]]}-w{c[2]}")
def test_corrupt_new_op_attributes_refused(seed_files, case) -> None:
    name, code, word, value, elem = case
    data = seed_files[name]
    assert _status(data) == "ok"
    assert "invalid op (code 10)" in _status(_patch(data, code, word, value, elem))


def test_conv_scratch_overlapping_its_input_refused(seed_files) -> None:
    """Found by the fuzz target: a depthwise conv whose kernel scratch (placed by the file) overlaps x made the
    kernel memcpy overlapping memory. Load now refuses scratch that overlaps x or y."""
    import struct

    data = seed_files["nn2"]
    h = fmt.HEADER.unpack_from(data)
    for i in range(h[5]):
        rec = fmt.OP_HEAD.unpack_from(data, h[9] + i * fmt.OP_HEAD.size)
        words = struct.unpack_from(f"<{rec[12]}I", data, h[11] + rec[11])
        if rec[0] == fmt.OP_CONV and words[18] == fmt.CONV_DEPTHWISE:
            x_off = fmt.TENSOR.unpack_from(data, h[8] + rec[3] * fmt.TENSOR.size)[8]
            break
    else:
        raise AssertionError("no depthwise conv in the seed")
    assert _status(data) == "ok"
    buf = bytearray(data)
    struct.pack_into("<I", buf, h[11] + rec[11] + 4 * 20, x_off)  # scratch_off onto x
    import zlib

    buf[12:16] = struct.pack("<I", zlib.crc32(bytes(buf[16:])) & 0xFFFFFFFF)
    assert "invalid op (code 10)" in _status(bytes(buf))
