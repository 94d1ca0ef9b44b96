"""The interpreter's certified classical ops and int8 ops against scikit-learn, the IR reference and the
generated C, and the load-time validation of each new op's attributes.

Labels must equal scikit-learn's (the certified float32 pass falls back to libsvm's / scikit-learn's
double order where a margin is inside its error bound); int8 outputs must be the IR reference's bytes,
which ``tests/quant`` shows equal to TFLite Micro's and the generated C's.
"""

from __future__ import annotations

import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, NuSVC

import edgeinfer
from edgeinfer.backends.interp import format as fmt
from edgeinfer.backends.interp.model import invoke, read_io
from edgeinfer.errors import ModelFileError
from edgeinfer.ir import run
from edgeinfer.ir.graph import Graph


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = {"iris": load_iris, "digits": load_digits, "cancer": load_breast_cancer}[name](return_X_y=True)
    return X.astype(np.float32), y


MODELS = {
    "svc_rbf_iris": ("iris", lambda: SVC()),
    "svc_poly_ovo_iris": ("iris", lambda: SVC(kernel="poly", degree=3, decision_function_shape="ovo")),
    "svc_break_ties_iris": ("iris", lambda: SVC(break_ties=True)),
    "nusvc_sigmoid_iris": ("iris", lambda: NuSVC(kernel="sigmoid", gamma=0.01)),
    "svc_rbf_digits": ("digits", lambda: SVC(gamma=0.001)),
    "svc_linear_cancer": ("cancer", lambda: SVC(kernel="linear")),
    "svc_scaled_cancer": ("cancer", lambda: make_pipeline(StandardScaler(), SVC())),
    "gnb_iris": ("iris", lambda: GaussianNB()),
    "gnb_digits": ("digits", lambda: GaussianNB()),
    "gnb_cancer": ("cancer", lambda: GaussianNB()),
    "kmeans_digits": ("digits", lambda: KMeans(8, n_init=2, random_state=0)),
    "kmeans_iris": ("iris", lambda: KMeans(3, n_init=2, random_state=0)),
    "centroid_cancer": ("cancer", lambda: NearestCentroid()),
    "pca_lr_digits": ("digits", lambda: make_pipeline(PCA(10, random_state=0), LogisticRegression(max_iter=500))),
    "pca_gnb_cancer": ("cancer", lambda: make_pipeline(StandardScaler(), PCA(5), GaussianNB())),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_labels_equal_sklearn_and_scores_the_reference(name: str) -> None:
    data, make = MODELS[name]
    X, y = _data(data)
    X = X[:600]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make()
        est.fit(X, None if "kmeans" in name else y[:600])
    m = edgeinfer.convert(est, backend="interp", name=name.replace("-", "_"))
    np.testing.assert_array_equal(m.predict(X), est.predict(X))
    ref, mine = run(m.graph, X), m.run(X)
    np.testing.assert_array_equal(mine[m.graph.outputs[0]], ref[m.graph.outputs[0]])
    if len(m.graph.outputs) > 1:
        np.testing.assert_allclose(mine[m.graph.outputs[1]], ref[m.graph.outputs[1]], rtol=1e-4, atol=1e-4)


def test_svr_and_pca_values_follow_the_reference() -> None:
    X, _ = _data("iris")
    svr = SVR(kernel="rbf").fit(X[:, :3], X[:, 3])
    m = edgeinfer.convert(svr, backend="interp", name="svr")
    np.testing.assert_allclose(m.predict(X[:, :3]).ravel(), svr.predict(X[:, :3]), rtol=1e-5, atol=1e-5)
    pca = PCA(3).fit(X)
    m = edgeinfer.convert(pca, backend="interp", name="pca")
    np.testing.assert_allclose(m.predict(X), pca.transform(X), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- int8
@pytest.fixture(scope="module")
def tflite_models():
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    tf = pytest.importorskip("tensorflow", reason="tensorflow is not installed")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "quant"))
    import tflite_models as tm  # the same cached models as tests/quant

    return tm.build_all(tf)


def _int8_inputs(shape: tuple, n: int = 30) -> np.ndarray:
    return np.random.default_rng(7).integers(-128, 128, size=(n, *shape)).astype(np.int8)


@pytest.mark.parametrize("name", ["conv_net", "residual", "gap_net"])
def test_int8_tflite_bytes_equal_reference_and_c(tflite_models, name: str) -> None:
    from edgeinfer.frontends.tflite import from_tflite

    path, shape = tflite_models[name]
    x = _int8_inputs(shape)
    g = from_tflite(path)
    want = run(g, x)[g.outputs[0]]
    got = edgeinfer.convert(g, backend="interp", name=name).predict(x)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)
    c = edgeinfer.convert(g, name=name + "_c").predict(x)
    np.testing.assert_array_equal(np.asarray(c).reshape(want.shape), want)


def _gates(tflite_models) -> Graph:
    """mlp_gates up to its QMul (FC, tanh, logistic, mul): the gating ops alone, for the corruption tests below
    (the whole model, Concat included, runs in test_interp_coverage.py)."""
    from edgeinfer.frontends.tflite import from_tflite

    g = from_tflite(tflite_models["mlp_gates"][0])
    mul = [n for n in g.nodes if n.op == "QMul"][0]
    g.nodes = g.nodes[:g.nodes.index(mul) + 1]
    g.outputs = [mul.outputs[0]]
    return g


def test_int8_gates_bytes_equal_reference(tflite_models) -> None:
    g = _gates(tflite_models)
    x = _int8_inputs(tflite_models["mlp_gates"][1])
    want = run(g, x)[g.outputs[0]]
    got = edgeinfer.convert(g, backend="interp", name="gates").predict(x)
    np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)


def _requant_graph() -> Graph:
    g = Graph("rq")
    g.add_input("x", (None, 2, 3, 4))
    g.add_node("QQuantize", ["x"], ["q"], scale=0.05, zp=3, to="int8")
    g.add_node("QRequantize", ["q"], ["r"], in_scale=0.05, in_zp=3, out_scale=0.08, out_zp=-5)
    g.add_node("QMean", ["r"], ["m"], axes=[1, 2], in_scale=0.08, in_zp=-5, out_scale=0.03, out_zp=1, keepdims=0)
    g.add_node("QDequantize", ["m"], ["y"], scale=0.03, zp=1)
    g.outputs.append("y")
    return g


def test_quantize_requantize_mean_dequantize() -> None:
    g = _requant_graph()
    x = np.random.default_rng(1).normal(0, 3, size=(40, 2, 3, 4)).astype(np.float32)
    m = edgeinfer.convert(g, backend="interp", name="rq")
    np.testing.assert_array_equal(m.predict(x), run(g, x)["y"])
    np.testing.assert_array_equal(m.predict(x), edgeinfer.convert(g, name="rq_c").predict(x))


# ---------------------------------------------------------------- validation of the new ops' attributes
def _ops(data: bytes) -> list[tuple[int, int, int]]:
    """(opcode, attr_off in the file, attr_words) of every op record."""
    h = fmt.HEADER.unpack_from(data)
    out = []
    for i in range(h[5]):
        rec = fmt.OP_HEAD.unpack_from(data, h[9] + i * fmt.OP_HEAD.size)
        out.append((rec[0], h[11] + rec[11], rec[12]))
    return out


def _patched(data: bytes, code: int, word: int, value: int, table: bool = False) -> bytes:
    """The file with attribute ``word`` of the first ``code`` op (or, with ``table``, the first int32 of the
    data-section table that word references) set to ``value``, its CRC fixed so that only the op check sees it."""
    h = fmt.HEADER.unpack_from(data)
    off = [o for c, o, _ in _ops(data) if c == code][0] + 4 * word
    if table:
        off = h[11] + struct.unpack_from("<I", data, off)[0]
    buf = bytearray(data)
    buf[off:off + 4] = struct.pack("<I", value & 0xFFFFFFFF)
    buf[12:16] = struct.pack("<I", zlib.crc32(bytes(buf[16:])) & 0xFFFFFFFF)
    return bytes(buf)


def _load_status(data: bytes) -> str:
    ins, outs = read_io(data)
    x = np.zeros((1, *ins[0][0]), ins[0][1])
    try:
        invoke(data, [x], outs, arena_bytes=fmt.HEADER.unpack_from(data)[13])
    except ModelFileError as e:
        return str(e)
    return "ok"


def _blob(est, X, y=None) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return edgeinfer.convert(est, backend="interp", name="v").data


@pytest.fixture(scope="module")
def classic_blobs() -> dict[str, bytes]:
    X, y = _data("iris")
    return {"nb": _blob(GaussianNB(), X, y), "centroid": _blob(NearestCentroid(), X, y),
            "svm": _blob(SVC(), X, y), "svr": _blob(SVR(), X, X[:, 0])}


CLASSIC_CORRUPTIONS = [
    ("nb", fmt.OP_NB, 0, 0, False),            # no classes
    ("nb", fmt.OP_NB, 1, 5, False),            # feature count disagrees with x
    ("nb", fmt.OP_NB, 5, 9, False),            # unknown table type
    ("nb", fmt.OP_NB, 6, 0x7FFFFFF0, False),   # theta outside the data section
    ("centroid", fmt.OP_CENTROID, 8, 5, False),
    ("centroid", fmt.OP_CENTROID, 0, 4, False),  # scores tensor has 3 values, not 4
    ("svm", fmt.OP_SVM, 1, 4, False),          # unknown kernel
    ("svm", fmt.OP_SVM, 2, 10_000, False),     # more support vectors than stored
    ("svm", fmt.OP_SVM, 9, 100, False),        # absurd degree
    ("svm", fmt.OP_SVM, 33, 7, True),          # class start table not starting at 0
    ("svm", fmt.OP_SVM, 34, 3, True),          # pair index out of range (3 pairs)
    ("svr", fmt.OP_SVM, 4, 2, False),          # a regressor with classes
]


@pytest.mark.parametrize("case", CLASSIC_CORRUPTIONS, ids=lambda c: f"{c[0]}-w{c[2]}")
def test_corrupt_classic_attributes_refused(classic_blobs, case) -> None:
    kind, code, word, value, table = case
    data = classic_blobs[kind]
    assert _load_status(data) == "ok"
    assert "invalid op (code 10)" in _load_status(_patched(data, code, word, value, table))


@pytest.fixture(scope="module")
def int8_blobs(tflite_models) -> dict[str, bytes]:
    from edgeinfer.frontends.tflite import from_tflite

    out = {n: edgeinfer.convert(from_tflite(tflite_models[n][0]), backend="interp", name=n).data
           for n in ("conv_net", "residual", "gap_net")}
    out["gates"] = edgeinfer.convert(_gates(tflite_models), backend="interp", name="gates").data
    out["rq"] = edgeinfer.convert(_requant_graph(), backend="interp", name="rq").data
    return out


QC_IN_ZP = 1 + 14
INT8_CORRUPTIONS = [
    ("conv_net", fmt.OP_QCONV, 0, 2, False),           # kind
    ("conv_net", fmt.OP_QCONV, QC_IN_ZP, 300, False),  # zero point outside int8
    ("conv_net", fmt.OP_QCONV, 1 + 18, 0, False),      # zero groups
    ("conv_net", fmt.OP_QCONV, 1 + 2, 5, False),       # channels disagree with x
    ("conv_net", fmt.OP_QCONV, 20, -1, True),          # a negative multiplier
    ("conv_net", fmt.OP_QCONV, 21, 40, True),          # shift of 40 (UB in the rounding shift)
    ("conv_net", fmt.OP_QFC, 3, 2, False),             # n_mult neither 1 nor n_out
    ("conv_net", fmt.OP_QPOOL, 1 + 11, 200, False),    # act_min outside int8
    ("conv_net", fmt.OP_QSOFTMAX, 3, 40, False),       # left shift
    ("residual", fmt.OP_QBINARY, 0, 3, False),         # kind
    ("gates", fmt.OP_QACT, 0, 2, False),               # neither logistic nor tanh
    ("gates", fmt.OP_QBINARY, 1, 1000, False),         # n disagrees with y
    ("gap_net", fmt.OP_QMEAN, 1, 3, False),            # reduced count disagrees with x
    ("rq", fmt.OP_QQUANTIZE, 1, 0, False),             # zero scale
    ("rq", fmt.OP_QREQUANTIZE, 3, 32, False),          # shift
    ("rq", fmt.OP_QDEQUANTIZE, 2, 200, False),         # zero point
]


@pytest.mark.parametrize("case", INT8_CORRUPTIONS, ids=lambda c: f"{c[0]}-{fmt.OP_NAMES[c[1]]}-w{c[2]}")
def test_corrupt_int8_attributes_refused(int8_blobs, case) -> None:
    kind, code, word, value, table = case
    data = int8_blobs[kind]
    assert _load_status(data) == "ok"
    assert "invalid op (code 10)" in _load_status(_patched(data, code, word, value, table))


def test_int8_bias_outside_accumulator_bound_refused(int8_blobs) -> None:
    """A bias that could overflow the int32 accumulator is refused (the kernels' sums stay defined)."""
    data = int8_blobs["conv_net"]
    h = fmt.HEADER.unpack_from(data)
    op = fmt.OP_HEAD.unpack_from(data, h[9])  # the first op is the first conv
    assert op[0] == fmt.OP_QCONV
    t = fmt.TENSOR.unpack_from(data, h[8] + op[3 + 2] * fmt.TENSOR.size)
    buf = bytearray(data)
    struct.pack_into("<i", buf, h[11] + t[8], 0x7FFFFFF0)
    buf[12:16] = struct.pack("<I", zlib.crc32(bytes(buf[16:])) & 0xFFFFFFFF)
    assert "invalid op (code 10)" in _load_status(bytes(buf))
