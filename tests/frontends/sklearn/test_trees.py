"""Tree, forest and boosting converters: the IR reference equals scikit-learn (float64 raw sums bit for bit)."""

import warnings

import numpy as np
import pytest
from sklearn import ensemble, tree
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, make_classification

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.frontends.sklearn.trees import threshold_f32
from edgeinfer.ir import run
from edgeinfer.ir.ops.trees import raw_scores


def _data(name):
    if name == "make200":
        X, y = make_classification(300, n_features=200, n_informative=10, n_classes=3, random_state=0)
    else:
        X, y = {"iris": load_iris, "digits": load_digits, "breast_cancer": load_breast_cancer}[name](return_X_y=True)
    return X.astype(np.float32), y


CLASSIFIERS = [
    lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0),
    lambda: ensemble.RandomForestClassifier(8, max_depth=6, random_state=0),
    lambda: ensemble.ExtraTreesClassifier(8, max_depth=6, random_state=0),
    lambda: ensemble.GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0),
    lambda: ensemble.GradientBoostingClassifier(n_estimators=4, max_depth=2, init="zero", random_state=0),
    lambda: ensemble.HistGradientBoostingClassifier(max_iter=6, random_state=0),
]
REGRESSORS = [
    lambda: tree.DecisionTreeRegressor(max_depth=6, random_state=0),
    lambda: ensemble.RandomForestRegressor(8, max_depth=6, random_state=0),
    lambda: ensemble.ExtraTreesRegressor(8, max_depth=6, random_state=0),
    lambda: ensemble.GradientBoostingRegressor(n_estimators=10, random_state=0),
    lambda: ensemble.HistGradientBoostingRegressor(max_iter=10, random_state=0),
]


def _sk_raw(est, X):
    if hasattr(est, "_raw_predict"):
        return est._raw_predict(X)
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


@pytest.mark.parametrize("data", ["iris", "digits", "breast_cancer", "make200"])
@pytest.mark.parametrize("make", CLASSIFIERS, ids=[f"{type(f()).__name__}_{i}" for i, f in enumerate(CLASSIFIERS)])
def test_classifier_reference_equals_sklearn(make, data):
    X, y = _data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make().fit(X, y)
    g = from_sklearn(est)
    out = run(g, X)
    np.testing.assert_array_equal(np.asarray(g.metadata["classes"])[out[g.outputs[0]]], est.predict(X))
    np.testing.assert_allclose(out[g.outputs[1]], est.predict_proba(X), atol=1e-5)
    raw = raw_scores(g.nodes[0], X)
    want = _sk_raw(est, X)
    np.testing.assert_array_equal(raw.reshape(want.shape), want)  # float64, bit for bit


@pytest.mark.parametrize("make", REGRESSORS, ids=lambda f: type(f()).__name__)
def test_regressor_reference_equals_sklearn(make):
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    est = make().fit(X, y)
    g = from_sklearn(est)
    got = run(g, X)[g.outputs[0]][:, 0]
    np.testing.assert_allclose(got, est.predict(X), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(raw_scores(g.nodes[0], X).reshape(-1), est.predict(X))


def test_multi_output_regressor():
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    Y = np.stack([y, -2 * y], axis=1)
    est = ensemble.RandomForestRegressor(4, max_depth=4, random_state=0).fit(X, Y)
    g = from_sklearn(est)
    np.testing.assert_allclose(run(g, X)[g.outputs[0]], est.predict(X), rtol=1e-5)


@pytest.mark.parametrize("labels", [np.array(["setosa", "versicolor", "virginica"]), np.array([-7, 3, 1000])])
def test_string_and_sparse_integer_labels(labels):
    X, y = _data("iris")
    est = ensemble.RandomForestClassifier(5, max_depth=4, random_state=0).fit(X, labels[y])
    g = from_sklearn(est)
    assert g.metadata["classes"] == est.classes_.tolist()
    got = np.asarray(g.metadata["classes"])[run(g, X)[g.outputs[0]]]
    np.testing.assert_array_equal(got, est.predict(X))


def test_thresholds_round_down_and_compare_like_float64():
    thr = np.array([0.1, 1 / 3, 2.5, -0.7, 1e-40, 3.5e38, -3.5e38])
    t32 = threshold_f32(thr)
    assert np.all(t32.astype(np.float64) <= thr)
    with np.errstate(over="ignore"):
        xs = np.concatenate([t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))])
    for t64, t in zip(thr, t32, strict=True):
        np.testing.assert_array_equal(xs <= t, xs.astype(np.float64) <= t64)


def test_refusals_are_clear():
    X, y = _data("iris")
    with pytest.raises(UnsupportedModelError, match="categorical"):
        Xc = X.copy()
        Xc[:, 0] = np.round(Xc[:, 0])
        from_sklearn(ensemble.HistGradientBoostingClassifier(max_iter=2, categorical_features=[0]).fit(Xc, y))
    with pytest.raises(UnsupportedModelError, match="init"):
        from_sklearn(ensemble.GradientBoostingRegressor(n_estimators=2, init=tree.DecisionTreeRegressor()).fit(X, y))
    with pytest.raises(UnsupportedModelError, match="link"):
        from_sklearn(ensemble.HistGradientBoostingRegressor(max_iter=2, loss="poisson").fit(X, y + 1))
