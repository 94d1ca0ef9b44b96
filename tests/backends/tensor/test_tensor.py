"""Tensor backend: labels equal scikit-learn's on every row, every tree strategy; other outputs equal the
IR reference; the saved ONNX runs in ONNX Runtime and matches the reference; no GPU needed."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

pytest.importorskip("torch")

import edgeinfer  # noqa: E402
from edgeinfer.backends.tensor.trees import STRATEGIES, choose_strategy  # noqa: E402
from edgeinfer.ir import Graph, run  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    Xt = (X[rng.integers(0, len(X), 600)] + rng.normal(0, 0.5, (600, 64))).astype(np.float32)
    return X.astype(np.float32), y, np.vstack([Xt, X[:200].astype(np.float32)])


def _trees():
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier

    return [RandomForestClassifier(8, max_depth=12, random_state=0),
            ExtraTreesClassifier(5, max_depth=6, random_state=0),
            GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0)]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("i", range(3))
def test_tree_strategies_match_sklearn(digits, strategy, i):
    X, y, Xt = digits
    est = _trees()[i].fit(X, y)
    t = edgeinfer.convert(est, backend="torch", strategy=strategy)
    np.testing.assert_array_equal(t.predict(Xt), est.predict(Xt))
    np.testing.assert_allclose(t.predict_proba(Xt), est.predict_proba(Xt), atol=1e-6)


def test_binary_boosting_and_regressor(digits):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor

    X, y, Xt = digits
    gb = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y < 5)
    rf = RandomForestRegressor(4, max_depth=8, random_state=0).fit(X, y)
    for s in STRATEGIES:
        np.testing.assert_array_equal(edgeinfer.convert(gb, backend="torch", strategy=s).predict(Xt), gb.predict(Xt))
        np.testing.assert_allclose(edgeinfer.convert(rf, backend="torch", strategy=s).predict(Xt), rf.predict(Xt),
                                   rtol=1e-5)
    # the binary tie rule once broke ONNX export (tensor & bool in the trace)
    np.testing.assert_array_equal(edgeinfer.convert(gb, backend="onnxruntime").predict(Xt), gb.predict(Xt))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_forest_ties_get_sklearns_label_in_program(digits, strategy):
    """Pure leaves make exact vote ties; the program itself sums those rows in the reference's order
    and returns scikit-learn's label (no row left for the reference); exported programs flag them."""
    import torch
    from sklearn.ensemble import RandomForestClassifier

    X, y, Xt = digits
    est = RandomForestClassifier(2, random_state=1).fit(X, y)
    proba = est.predict_proba(Xt)
    top2 = np.sort(proba, axis=1)[:, -2:]
    assert (top2[:, 0] == top2[:, 1]).any()  # ties present
    t = edgeinfer.convert(est, backend="torch", strategy=strategy)
    label, _, flag = t.program(torch.from_numpy(Xt))
    assert not flag.any()
    np.testing.assert_array_equal(est.classes_[label.numpy()], est.predict(Xt))
    np.testing.assert_array_equal(t.predict(Xt), est.predict(Xt))


def test_classical_models_match_sklearn(digits):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y, Xt = digits
    X, y, Xt = X[:500] / 16, y[:500], Xt[:300] / 16  # small fits keep the test fast
    models = [LogisticRegression(max_iter=500), GaussianNB(), SVC(gamma=0.5), SVC(kernel="poly", degree=2),
              make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=60, random_state=0)),
              KMeans(8, n_init=2, random_state=0)]
    for est in models:
        est.fit(X, y)
        t = edgeinfer.convert(est, backend="torch")
        np.testing.assert_array_equal(t.predict(Xt), est.predict(Xt), err_msg=type(est).__name__)


def test_nn_ops_match_reference():
    rng = np.random.default_rng(0)
    g = Graph("cnn")
    g.add_input("x", (None, 2, 9, 9))
    g.add_node("Conv", ["x", g.add_const("w", rng.normal(size=(4, 2, 3, 3)).astype(np.float32)),
                        g.add_const("b", rng.normal(size=4).astype(np.float32))], ["c"], pads=[1, 0, 1, 2],
               strides=[2, 1])
    g.add_node("Relu", ["c"], ["r"])
    g.add_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], ceil_mode=1, strides=[2, 2])
    g.add_node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1)
    g.add_node("Flatten", ["a"], ["f"])
    g.add_node("Gemm", ["f", g.add_const("w2", rng.normal(size=(3, 60)).astype(np.float32))], ["y0"], transB=1)
    g.add_node("Softmax", ["y0"], ["y"])
    g.outputs.append("y")
    g.infer_shapes()
    X = rng.normal(size=(5, 2, 9, 9)).astype(np.float32)
    t = edgeinfer.convert(g, backend="torch", name="cnn")
    np.testing.assert_allclose(t.predict(X), run(g, X)["y"], rtol=1e-5, atol=1e-6)


def test_save_torchscript_and_onnx_standard_ops(digits, tmp_path):
    import onnx
    import torch
    from sklearn.ensemble import RandomForestClassifier

    X, y, Xt = digits
    est = RandomForestClassifier(5, max_depth=10, random_state=0).fit(X, y)
    t = edgeinfer.convert(est, backend="torch", name="rf")
    pt, onx = t.save(tmp_path)
    model = onnx.load(str(onx))
    assert {op.domain for op in model.graph.node} <= {"", "ai.onnx"}
    sess = ort.InferenceSession(str(onx), providers=["CPUExecutionProvider"])
    label, scores, _ = sess.run(None, {"x": Xt})
    ref = run(t.graph, Xt)
    np.testing.assert_allclose(scores, ref[t.graph.outputs[1]], atol=1e-6)
    assert (label == ref[t.graph.outputs[0]]).mean() > 0.99  # exact ties aside (flagged in the last output)
    ts = torch.jit.load(str(pt))
    np.testing.assert_allclose(ts(torch.from_numpy(Xt))[1].numpy(), ref[t.graph.outputs[1]], atol=1e-6)


def test_engine_path_reports_provider(digits):
    from sklearn.linear_model import LogisticRegression

    X, y, Xt = digits
    est = LogisticRegression(max_iter=300).fit(X[:500] / 16, y[:500])
    Xt = Xt / 16
    e = edgeinfer.convert(est, backend="onnxruntime")
    assert e.provider in ort.get_available_providers()
    np.testing.assert_array_equal(e.predict(Xt), est.predict(Xt))


def test_cuda_falls_back_to_cpu_with_a_notice(digits, capsys):
    import torch
    from sklearn.tree import DecisionTreeClassifier

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, y, Xt = digits
    est = DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, y)
    t = edgeinfer.convert(est, backend="torch", device="cuda")
    assert t.device == "cpu" and "running on cpu" in capsys.readouterr().out
    np.testing.assert_array_equal(t.predict(Xt), est.predict(Xt))


def test_heuristic():
    assert choose_strategy(3, 500, 10_000) == "perfect_tree_traversal"
    assert choose_strategy(8, 10, 1) == "gemm"
    assert choose_strategy(12, 100, 10_000) == "perfect_tree_traversal"
    assert choose_strategy(20, 100, 10_000) == "tree_traversal"
    with pytest.raises(edgeinfer.errors.EdgeInferError):
        edgeinfer.convert(Graph("g"), backend="torch", strategy="nope")
