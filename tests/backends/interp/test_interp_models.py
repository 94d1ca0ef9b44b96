"""The interpreter against scikit-learn and the IR reference: labels exact, values to float32 rounding."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import edgeinfer
from edgeinfer.backends.interp.format import write_eim
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import run
from edgeinfer.ir.graph import Graph


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X.astype(np.float32), y


CLASSIFIERS = {
    "rf": lambda: RandomForestClassifier(10, max_depth=6, random_state=0),
    "gb_multi": lambda: GradientBoostingClassifier(n_estimators=5, random_state=0),
    "lr_scaled": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
    "lr_minmax": lambda: make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=300)),
    "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=200, random_state=0)),
}


@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_classifier_labels_equal_sklearn(kind: str, digits) -> None:
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CLASSIFIERS[kind]().fit(X[:600], y[:600])
    m = edgeinfer.convert(est, backend="interp", name=kind)
    np.testing.assert_array_equal(m.predict(X), est.predict(X))
    ref, mine = run(m.graph, X), m.run(X)
    np.testing.assert_array_equal(mine[m.graph.outputs[0]], ref[m.graph.outputs[0]])
    np.testing.assert_allclose(mine[m.graph.outputs[1]], ref[m.graph.outputs[1]], rtol=1e-4, atol=1e-5)


def test_binary_models_and_boundary_rows(cancer) -> None:
    """Binary boosting (LOGISTIC), a tanh MLP and rows bisected onto a linear model's boundary."""
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gb = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
        mlp = MLPClassifier((8, 8), activation="tanh", max_iter=200, random_state=0).fit(X, y)
        # fitted on float64 as the C backend's certificate assumes (a float32 fit's own float32
        # rounding is not replicated: the same rows differ there for the generated C too)
        lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X.astype(np.float64), y)
    for est in (gb, mlp, lr):
        m = edgeinfer.convert(est, backend="interp")
        np.testing.assert_array_equal(m.predict(X), est.predict(X))
    # rows on the boundary: where float32 alone would mislabel, the certified path must not
    a, b = X[y == 0][:20], X[y == 1][:20]
    lo, hi = np.zeros(20), np.ones(20)
    for _ in range(40):
        mid = (lo + hi) / 2
        rows = (a + (b - a) * mid[:, None]).astype(np.float32)
        side = lr.predict(rows) == lr.predict(a)
        lo, hi = np.where(side, mid, lo), np.where(side, hi, mid)
    rows = (a + (b - a) * lo[:, None]).astype(np.float32)
    m = edgeinfer.convert(lr, backend="interp")
    np.testing.assert_array_equal(m.predict(rows), lr.predict(rows))


def test_regressors(digits) -> None:
    X, y = digits
    for est in (RandomForestRegressor(5, max_depth=5, random_state=0), Ridge()):
        est.fit(X, y.astype(float))
        m = edgeinfer.convert(est, backend="interp")
        ref = run(m.graph, X)[m.graph.outputs[0]].reshape(-1)
        np.testing.assert_allclose(m.predict(X), ref, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(m.predict(X), est.predict(X), rtol=1e-5, atol=1e-4)


def _nn_graph() -> Graph:
    rng = np.random.default_rng(1)
    g = Graph("nn")
    g.add_input("x", (None, 2, 7, 6))
    w = g.add_const("w", rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    bias = g.add_const("b", rng.standard_normal(4).astype(np.float32))
    g.add_node("Conv", ["x", w, bias], ["c"], kernel_shape=[3, 3], pads=[1, 0, 1, 2], strides=[2, 1],
               activation="Clip", activation_params=[0.0, 6.0])
    dw = g.add_const("dw", rng.standard_normal((4, 1, 3, 3)).astype(np.float32))
    g.add_node("Conv", ["c", dw], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4)
    g.add_node("AveragePool", ["d"], ["p"], kernel_shape=[2, 2], strides=[1, 2], pads=[0, 0, 1, 1])
    g.add_node("MaxPool", ["p"], ["q"], kernel_shape=[2, 2])
    g.add_node("Mul", ["q", g.add_const("s", np.float32([0.5]))], ["r"])
    g.add_node("Relu", ["r"], ["r2"])
    g.add_node("Tanh", ["r2"], ["t"])
    g.add_node("Flatten", ["t"], ["f"], axis=1)
    g.infer_shapes()
    n = g.tensors["f"].shape[1]
    g.add_node("MatMul", ["f", g.add_const("mw", rng.standard_normal((n, 5)).astype(np.float32))], ["mm"])
    g.add_node("Sub", ["mm", g.add_const("o", rng.standard_normal((1, 5)).astype(np.float32))], ["mo"])
    g.add_node("Softmax", ["mo"], ["y"], axis=1)
    g.outputs.append("y")
    return g.validate()


def test_nn_ops_match_reference_and_c() -> None:
    g = _nn_graph()
    X = np.random.default_rng(2).standard_normal((4, 2, 7, 6)).astype(np.float32)
    mi = edgeinfer.backends.interp.model.InterpModel(g, "nn")
    ref = run(g, X)["y"]
    np.testing.assert_allclose(mi.run(X)["y"], ref, rtol=1e-5, atol=1e-6)


def test_zoo_ds_cnn_matches_reference() -> None:
    pytest.importorskip("torch")
    from edgeinfer import zoo

    g = edgeinfer.load_graph(zoo.ds_cnn(), zoo.example_input("ds_cnn"))
    m = edgeinfer.convert(g, backend="interp", name="kws")
    X = np.random.default_rng(0).standard_normal((2, 1, 49, 10)).astype(np.float32)
    np.testing.assert_allclose(m.run(X)[g.outputs[0]], run(m.graph, X)[g.outputs[0]], rtol=1e-4, atol=1e-6)


def test_unsupported_op_named_at_convert(monkeypatch) -> None:
    """An op without a lowering (here one taken away: the interpreter lowers every op the C backend runs) is
    refused at convert time, by name."""
    from edgeinfer.backends.interp import format as fmt

    monkeypatch.delitem(fmt.LOWERINGS, "Transpose")
    g = Graph("tr")
    g.add_input("x", (None, 2, 3))
    g.add_node("Transpose", ["x"], ["y"], perm=[0, 2, 1])
    g.outputs.append("y")
    with pytest.raises(UnsupportedModelError, match="Transpose"):
        write_eim(g)


def test_save_writes_model_header_and_runtime(tmp_path, digits) -> None:
    X, y = digits
    est = LogisticRegression(max_iter=200).fit(X[:300], y[:300])
    m = edgeinfer.convert(est, backend="interp", name="digits_lr")
    paths = {p.name for p in m.save(tmp_path)}
    assert {"digits_lr.eim", "digits_lr_eim.h", "ei_interp.c", "ei_interp.h", "ei_dense.c"} <= paths
    assert (tmp_path / "digits_lr.eim").read_bytes() == m.data
    header = (tmp_path / "digits_lr_eim.h").read_text()
    assert f"#define EI_DIGITS_LR_ARENA_BYTES {max(m.blob.arena_bytes, 1)}" in header
    from edgeinfer.backends.interp.model import run_file

    out = run_file(tmp_path / "digits_lr.eim", X[:50])
    np.testing.assert_array_equal(np.asarray(est.classes_)[out["output0"]], est.predict(X[:50]))
    fp = m.footprint()
    assert fp["model_bytes"] == len(m.data) and fp["runtime_code_bytes"] > 0


def test_write_is_deterministic(digits) -> None:
    X, y = digits
    g = edgeinfer.load_graph(RandomForestClassifier(3, max_depth=3, random_state=0).fit(X, y))
    assert write_eim(g).data == write_eim(g).data
