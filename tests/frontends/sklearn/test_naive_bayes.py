"""GaussianNB: labels exact, predict_proba within 1e-5, generated C == IR reference."""

import shutil
import subprocess

import numpy as np
import pytest
from sklearn import datasets
from sklearn.naive_bayes import GaussianNB

from edgeinfer.backends.c.emit import generate
from edgeinfer.backends.c.model import CModel
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "mc200":
        X, y = datasets.make_classification(n_samples=400, n_features=200, n_informative=15, n_classes=4,
                                            random_state=1)
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X.astype(np.float32), y


def _check(est, X: np.ndarray, name: str, options=None) -> CModel:
    g = from_sklearn(est)
    X64 = X.astype(np.float64)
    want, proba = est.predict(X64), est.predict_proba(X64)
    ref = run(g, X)
    np.testing.assert_array_equal(est.classes_[ref["label"]], want)
    np.testing.assert_allclose(ref["probabilities"], proba, atol=1e-6)
    m = CModel(g, name, options)
    out = m.run(X)
    np.testing.assert_array_equal(out["label"], ref["label"])
    np.testing.assert_array_equal(m.predict(X), want)
    np.testing.assert_allclose(m.predict_proba(X), proba, atol=1e-5)
    return m


@pytest.mark.parametrize("data", ["iris", "wine", "digits", "breast_cancer", "mc200"])
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_gaussian_nb_exact(data, fit_dtype):
    X, y = _data(data)
    est = GaussianNB().fit(X[::2].astype(fit_dtype), y[::2])
    _check(est, X, f"gnb_{data}")


def test_string_and_sparse_labels_priors_and_smoothing():
    X, y = _data("iris")
    est = GaussianNB(priors=[0.2, 0.5, 0.3], var_smoothing=1e-3).fit(X, np.array(["a", "bb", "c"])[y])
    assert set(_check(est, X, "gnb_str").predict(X)) <= {"a", "bb", "c"}
    est = GaussianNB().fit(X, np.array([-5, 40, 1000])[y])
    _check(est, X, "gnb_sparse")


def test_near_ties_use_the_double_path():
    # two classes with nearly identical statistics: every decision is a near tie
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    y = (rng.random(400) > 0.5).astype(int)
    est = GaussianNB().fit(X, y)
    _check(est, X, "gnb_ties")
    _check(est, X, "gnb_ties64", options={"float64": True})


def test_gaussian_nb_compiles_for_cortex_m4(tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    X, y = _data("digits")
    src = generate(from_sklearn(GaussianNB().fit(X, y)), "m4gnb")
    src.write(tmp_path)
    r = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4", "-mthumb",
                        "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-c", "m4gnb.c"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
