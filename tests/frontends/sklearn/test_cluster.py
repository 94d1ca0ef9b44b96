"""KMeans and NearestCentroid: nearest-centroid labels exact, scores = negated distances."""

import shutil
import subprocess

import numpy as np
import pytest
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestCentroid

from edgeinfer.backends.c.emit import generate
from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "mc200":
        X, y = datasets.make_classification(n_samples=400, n_features=200, n_informative=15, n_classes=4,
                                            random_state=2)
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X.astype(np.float32), y


def _check(est, X: np.ndarray, name: str, X_sk: np.ndarray) -> CModel:
    g = from_sklearn(est)
    want = est.predict(X_sk)
    ref = run(g, X)
    np.testing.assert_array_equal(np.asarray(g.metadata["classes"])[ref["label"]], want)
    m = CModel(g, name)
    out = m.run(X)
    np.testing.assert_array_equal(out["label"], ref["label"])
    np.testing.assert_array_equal(m.predict(X), want)
    np.testing.assert_allclose(out["neg_distances"], ref["neg_distances"], rtol=1e-5, atol=1e-5)
    return m


@pytest.mark.parametrize("data", ["iris", "digits", "breast_cancer", "mc200"])
@pytest.mark.parametrize("k", [3, 8])
def test_kmeans_exact(data, k):
    X, _ = _data(data)
    X64 = X.astype(np.float64)
    est = KMeans(k, n_init=1, random_state=0).fit(X64)
    m = _check(est, X, f"km_{data}_{k}", X64)
    assert m.graph.metadata["classes"] == list(range(k))
    np.testing.assert_allclose(-m.decision_function(X), est.transform(X64), rtol=1e-5, atol=1e-4)


def test_kmeans_fitted_in_float32():
    X, _ = _data("digits")
    est = KMeans(10, n_init=1, random_state=1).fit(X)
    _check(est, X, "km32", X)


def test_kmeans_near_ties():
    X, _ = _data("digits")
    est = KMeans(6, n_init=1, random_state=0).fit(X.astype(np.float64))
    c = est.cluster_centers_
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 6, size=(300, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    t = 0.5 + rng.normal(size=(len(pairs), 1)) * 1e-6
    P = (c[pairs[:, 0]] * t + c[pairs[:, 1]] * (1 - t)).astype(np.float32)
    _check(est, P, "km_ties", P.astype(np.float64))


@pytest.mark.parametrize("data", ["iris", "digits", "breast_cancer", "mc200"])
def test_nearest_centroid_exact(data):
    X, y = _data(data)
    est = NearestCentroid().fit(X[::2].astype(np.float64), y[::2])
    _check(est, X, f"nc_{data}", X.astype(np.float64))


def test_nearest_centroid_labels_and_refusals():
    X, y = _data("wine")
    est = NearestCentroid().fit(X, np.array(["x", "y", "z"])[y])
    assert set(_check(est, X, "nc_str", X.astype(np.float64)).predict(X)) <= {"x", "y", "z"}
    est = NearestCentroid().fit(X, np.array([7, 70, 700])[y])
    _check(est, X, "nc_sparse", X.astype(np.float64))
    with pytest.raises(UnsupportedModelError, match="manhattan"):
        from_sklearn(NearestCentroid(metric="manhattan").fit(X, y))
    with pytest.raises(UnsupportedModelError, match="priors"):
        from_sklearn(NearestCentroid(priors="empirical").fit(X, y))


def test_centroids_compile_for_cortex_m4(tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    X, _ = _data("iris")
    src = generate(from_sklearn(KMeans(4, n_init=1, random_state=0).fit(X.astype(np.float64))), "m4km")
    src.write(tmp_path)
    r = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4", "-mthumb",
                        "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-c", "m4km.c"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
