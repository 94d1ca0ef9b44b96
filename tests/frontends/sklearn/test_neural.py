"""MLPs: IR reference == scikit-learn, generated C == IR reference, on every row."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, make_classification
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import UnsupportedModelError
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


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("data", ["iris", "digits", "cancer", "mc200"])
def test_mlp_classifier_matches_sklearn(activation, data):
    X, y = _data(data)
    est = _fit(MLPClassifier((16, 8), activation=activation, max_iter=60, random_state=0), X, y)
    X32 = X.astype(np.float32)
    g = from_sklearn(est)
    ref = run(g, X32)
    label, proba = ref[g.outputs[0]], ref[g.outputs[1]]
    np.testing.assert_array_equal(np.asarray(g.metadata["classes"])[label], est.predict(X32))
    np.testing.assert_allclose(proba, est.predict_proba(X32), atol=1e-5)
    m = CModel(g, f"mlp_{activation}")
    out = m.run(X32)
    np.testing.assert_array_equal(out[g.outputs[0]], label)
    np.testing.assert_allclose(out[g.outputs[1]], proba, atol=1e-5)
    np.testing.assert_array_equal(m.predict(X32), est.predict(X32))


def test_mlp_string_labels_binary():
    X, y = _data("cancer")
    est = _fit(MLPClassifier((10,), max_iter=50, random_state=1), X, np.where(y == 1, "benign", "malignant"))
    m = CModel(from_sklearn(est), "mlp_str")
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(m.predict(X32), est.predict(X32))
    np.testing.assert_allclose(m.predict_proba(X32), est.predict_proba(X32), atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_regressor_matches_sklearn(activation):
    X, y = load_diabetes(return_X_y=True)
    est = _fit(MLPRegressor(hidden_layer_sizes=(16,), activation=activation, max_iter=200, random_state=0), X, y)
    X32 = X.astype(np.float32)
    g = from_sklearn(est)
    ref = run(g, X32)[g.outputs[0]][:, 0]
    np.testing.assert_allclose(ref, est.predict(X32), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(CModel(g, f"mlpreg_{activation}").predict(X32), ref, rtol=1e-4, atol=1e-4)


def test_mlp_multi_target_regressor():
    X, y = load_diabetes(return_X_y=True)
    Y = np.stack([y / 100, np.sin(y)], axis=1)
    est = _fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, random_state=0), X, Y)
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(CModel(from_sklearn(est), "mlpreg_multi").predict(X32), est.predict(X32),
                               rtol=1e-4, atol=1e-4)


def test_multilabel_is_refused_clearly():
    X, y = _data("iris")
    Y = np.stack([y == 0, y == 1], axis=1).astype(int)
    est = _fit(MLPClassifier((4,), max_iter=20), X, Y)
    with pytest.raises(UnsupportedModelError, match="multi-label"):
        from_sklearn(est)
