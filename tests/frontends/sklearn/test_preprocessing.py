"""Scalers and PCA: bit-exact transforms, and pipelines of them in front of any estimator."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from edgeinfer.backends.c.model import CModel
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run

SCALERS = {
    "standard": lambda: StandardScaler(),
    "standard_nomean": lambda: StandardScaler(with_mean=False),
    "minmax": lambda: MinMaxScaler(),
    "minmax_clip": lambda: MinMaxScaler(feature_range=(-1, 2), clip=True),
    "maxabs": lambda: MaxAbsScaler(),
    "robust": lambda: RobustScaler(),
    "robust_nocenter": lambda: RobustScaler(with_centering=False),
}


def _cancer32():
    X, y = load_breast_cancer(return_X_y=True)
    return X.astype(np.float32), y


@pytest.mark.parametrize("kind", sorted(SCALERS))
def test_scaler_is_bit_exact(kind):
    X, _ = _cancer32()
    s = SCALERS[kind]().fit(X[:300].astype(np.float64))
    X_new = X * np.float32(1.3)  # rows outside the fitted range exercise clip
    g = from_sklearn(s)
    ref = run(g, X_new)[g.outputs[0]]
    np.testing.assert_array_equal(ref, s.transform(X_new))
    np.testing.assert_array_equal(CModel(g, f"sc_{kind}").run(X_new)[g.outputs[0]], ref)


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_sklearn(whiten):
    X, _ = load_digits(return_X_y=True)
    X32 = X.astype(np.float32)
    p = PCA(12, whiten=whiten, random_state=0).fit(X)
    g = from_sklearn(p)
    ref = run(g, X32)[g.outputs[0]]
    np.testing.assert_allclose(ref, p.transform(X32), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(CModel(g, f"pca_{int(whiten)}").run(X32)[g.outputs[0]], ref, rtol=1e-4, atol=1e-4)


FINALS = {
    "logreg": lambda: LogisticRegression(max_iter=500),
    "mlp": lambda: MLPClassifier((12,), max_iter=80, random_state=0),
    "tree": lambda: DecisionTreeClassifier(max_depth=6, random_state=0),
}


@pytest.mark.parametrize("final", ["logreg", "mlp", "tree"])
@pytest.mark.parametrize("front", ["standard", "minmax", "maxabs", "robust", "pca", "standard+pca"])
def test_pipeline_matches_sklearn(front, final):
    X, y = load_iris(return_X_y=True) if final == "tree" else load_digits(return_X_y=True)
    steps = [SCALERS[s]() if s != "pca" else PCA(min(8, X.shape[1] - 1), whiten=True, random_state=0)
             for s in front.split("+")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(*steps, FINALS[final]()).fit(X, y)
    X32 = X.astype(np.float32)
    g = from_sklearn(pipe)
    ref = run(g, X32)
    np.testing.assert_array_equal(np.asarray(g.metadata["classes"])[ref[g.outputs[0]]], pipe.predict(X32))
    np.testing.assert_allclose(ref[g.outputs[1]], pipe.predict_proba(X32), atol=1e-5)
    m = CModel(g, f"pipe_{final}")
    out = m.run(X32)
    np.testing.assert_array_equal(out[g.outputs[0]], ref[g.outputs[0]])
    np.testing.assert_allclose(out[g.outputs[1]], ref[g.outputs[1]], atol=1e-5)
    np.testing.assert_array_equal(m.predict(X32), pipe.predict(X32))
