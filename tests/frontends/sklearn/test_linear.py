"""Linear models: IR reference == scikit-learn, generated C == IR reference, on every row."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, make_classification
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Perceptron,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import EdgeInferError
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run


def _data(name: str):
    if name == "iris":
        X, y = load_iris(return_X_y=True)
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "cancer":
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = make_classification(300, n_features=200, n_informative=15, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


def check_classifier(est, X, name="lin"):
    """IR labels == sklearn, scores within 1e-5; C labels == IR, C scores == IR within 1e-5."""
    X32 = np.asarray(X, dtype=np.float32)
    g = from_sklearn(est)
    ref = run(g, X32)
    label, scores = ref[g.outputs[0]], ref[g.outputs[1]]
    classes = np.asarray(g.metadata["classes"])
    np.testing.assert_array_equal(classes[label], est.predict(X32))
    if g.metadata["has_proba"]:
        np.testing.assert_allclose(scores, est.predict_proba(X32), atol=1e-5)
    else:
        d = est.decision_function(X32)
        np.testing.assert_allclose(scores[:, 1] if d.ndim == 1 else scores, d, rtol=1e-5, atol=1e-5)
    m = CModel(g, name)
    out = m.run(X32)
    np.testing.assert_array_equal(out[g.outputs[0]], label)
    # probabilities within 1e-5; float32 decision values within float32 rounding of their terms
    atol = 1e-5 if g.metadata["has_proba"] else 1e-6 * max(1.0, float(np.abs(scores).max()))
    np.testing.assert_allclose(out[g.outputs[1]], scores, rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(m.predict(X32), est.predict(X32))
    return m


CLASSIFIERS = {
    "logreg": lambda: LogisticRegression(max_iter=500),
    "sgd_log": lambda: SGDClassifier(loss="log_loss", alpha=1e-3, random_state=0),
    "sgd_hinge": lambda: SGDClassifier(random_state=0),
    "perceptron": lambda: Perceptron(random_state=0),
    "linearsvc": lambda: LinearSVC(random_state=0),
    "ridgeclf": lambda: RidgeClassifier(),
}


@pytest.mark.parametrize("data", ["iris", "digits", "cancer", "mc200"])
@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_classifier_matches_sklearn(kind, data):
    X, y = _data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CLASSIFIERS[kind]().fit(X, y)
    check_classifier(est, X, f"lin_{kind}")


def test_has_proba_follows_the_estimator():
    X, y = _data("iris")
    g = from_sklearn(LinearSVC().fit(X, y))
    assert not g.metadata["has_proba"]
    with pytest.raises(EdgeInferError, match="no class probabilities"):
        CModel(g, "svc_noproba").predict_proba(X[:2])


def test_string_and_sparse_integer_labels():
    X, y = _data("iris")
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    m = check_classifier(LogisticRegression(max_iter=300).fit(X, names), X, "lin_str")
    assert m.predict(X[:1])[0] in set(names)
    check_classifier(LogisticRegression(max_iter=300).fit(X, np.array([-7, 40, 1000])[y]), X, "lin_sparse")
    Xb, yb = _data("cancer")
    check_classifier(LinearSVC().fit(Xb, np.where(yb == 1, "pos", "neg")), Xb, "lin_str_bin")


def test_float32_fitted_model():
    X, y = _data("digits")
    est = SGDClassifier(loss="log_loss", random_state=0).fit(X.astype(np.float32), y)
    assert est.coef_.dtype == np.float32
    check_classifier(est, X, "lin_f32")


REGRESSORS = {
    "linreg": lambda: LinearRegression(),
    "ridge": lambda: Ridge(alpha=0.5),
    "lasso": lambda: Lasso(alpha=0.05),
    "enet": lambda: ElasticNet(alpha=0.05),
    "sgdreg": lambda: SGDRegressor(random_state=0),
    "linearsvr": lambda: LinearSVR(random_state=0, max_iter=5000),
}


@pytest.mark.parametrize("kind", sorted(REGRESSORS))
def test_regressor_matches_sklearn(kind):
    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = REGRESSORS[kind]().fit(X, y)
    X32 = X.astype(np.float32)
    g = from_sklearn(est)
    ref = run(g, X32)[g.outputs[0]]
    want = est.predict(X32)
    np.testing.assert_allclose(ref[:, 0], want, rtol=1e-5, atol=1e-4)
    m = CModel(g, f"reg_{kind}")
    np.testing.assert_allclose(m.predict(X32), ref[:, 0], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(m.predict(X32), want, rtol=1e-4, atol=1e-4)


def test_multi_target_regressor():
    X, y = load_diabetes(return_X_y=True)
    Y = np.stack([y, -2 * y + 5], axis=1)
    est = Ridge().fit(X, Y)
    X32 = X.astype(np.float32)
    m = CModel(from_sklearn(est), "reg_multi")
    np.testing.assert_allclose(m.predict(X32), est.predict(X32), rtol=1e-4, atol=1e-4)
