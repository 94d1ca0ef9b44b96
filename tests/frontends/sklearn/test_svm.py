"""SVC / NuSVC / SVR / NuSVR: IR reference == scikit-learn, generated C == IR, labels exact."""

import shutil
import subprocess

import numpy as np
import pytest
from sklearn import datasets, svm

from edgeinfer.backends.c.emit import generate
from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run


def _data(name: str, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    if name == "mc200":
        X, y = datasets.make_classification(n_samples=n, n_features=200, n_informative=12, n_classes=3,
                                            random_state=0)
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(X))[:n]
    return X[idx].astype(np.float32), y[idx]


def _check_classifier(est, X: np.ndarray, name: str, score_tol: float = 1e-4, options=None) -> CModel:
    """Labels exact on every row (reference and C); scores within score_tol (relative above 1).

    Scores come from the float32 pass unless a vote needed the double one: 1e-4 covers
    float32 kernel rounding; ``options={"float64": True}`` gives libsvm's accuracy.
    """
    g = from_sklearn(est)
    X64 = X.astype(np.float64)  # the float32 values themselves, as scikit-learn sees them
    want = est.predict(X64)
    ref = run(g, X)
    np.testing.assert_array_equal(np.asarray(g.metadata["classes"])[ref["label"]], want)
    m = CModel(g, name, options)
    out = m.run(X)
    np.testing.assert_array_equal(out["label"], ref["label"])
    np.testing.assert_array_equal(m.predict(X), want)
    df = est.decision_function(X64).reshape(len(X), -1)
    err = np.abs(out["scores"] - df) / np.maximum(1.0, np.abs(df))
    assert err.max() <= score_tol, err.max()
    return m


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
@pytest.mark.parametrize("data", ["iris", "digits", "mc200"])
def test_svc_kernels_exact(kernel, data):
    X, y = _data(data)
    est = svm.SVC(kernel=kernel, gamma="scale", C=3.0).fit(X[::2], y[::2])
    _check_classifier(est, X, f"svc_{kernel}_{data}")


def test_float64_option_gives_libsvm_accurate_scores():
    X, y = _data("iris", 150)
    est = svm.SVC(kernel="linear", C=3.0).fit(X[::2], y[::2])
    _check_classifier(est, X, "svc_f64", score_tol=1e-6, options={"float64": True})


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_svc_binary_breast_cancer(kernel):
    X, y = _data("breast_cancer")
    est = svm.SVC(kernel=kernel).fit(X[::2], y[::2])
    m = _check_classifier(est, X, f"svc_bc_{kernel}")
    assert m.output_shape == (1,)


@pytest.mark.parametrize("shape,break_ties", [("ovo", False), ("ovr", True)])
def test_svc_decision_shape_and_break_ties(shape, break_ties):
    X, y = _data("digits", 250)
    est = svm.SVC(gamma=0.002, decision_function_shape=shape, break_ties=break_ties).fit(X[::2], y[::2])
    _check_classifier(est, X, f"svc_{shape}_{int(break_ties)}")


@pytest.mark.parametrize("gamma", [1e-3, 0.1, 1.0])
def test_nusvc_gamma_sweep_with_string_labels(gamma):
    X, y = _data("wine", 178)
    X = (X - X.mean(0)) / X.std(0)
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    est = svm.NuSVC(nu=0.3, gamma=gamma).fit(X[::2], labels[::2])
    _check_classifier(est, X.astype(np.float32), f"nusvc_{int(gamma * 1000)}")


def test_sparse_integer_labels_and_near_ties_take_the_exact_path():
    X, y = _data("iris", 150)
    y = np.array([3, 17, 42])[y]
    est = svm.SVC(kernel="linear", C=10).fit(X, y)
    # points on the 3-vs-17 boundary: decision values ~ 0, decided by the double fallback
    w, b = est.coef_[0].astype(np.float64), float(est.intercept_[0])
    P = X.astype(np.float64)[:60]
    P = P - ((P @ w + b) / (w @ w))[:, None] * w
    near = np.concatenate([P.astype(np.float32), X])
    m = _check_classifier(est, near, "svc_ties", score_tol=1e-3)
    assert set(m.predict(near)) <= {3, 17, 42}
    # without the fallback, float32 alone is allowed to flip such near-ties (it is the point of the design)
    loose = CModel(from_sklearn(est), "svc_ties_f32", {"exact": False})
    assert loose.predict(near).shape == (len(near),)


@pytest.mark.parametrize("est", [svm.SVR(C=10.0), svm.SVR(kernel="poly", degree=2, C=10.0),
                                 svm.NuSVR(kernel="linear", C=5.0), svm.SVR(kernel="sigmoid", gamma=0.5)])
def test_svr_diabetes(est):
    X, y = _data("diabetes", 200)
    est.fit(X[::2], y[::2])
    g = from_sklearn(est)
    want = est.predict(X.astype(np.float64))
    ref = run(g, X)["value"][:, 0]
    np.testing.assert_allclose(ref, want, rtol=1e-5, atol=1e-4)
    got = CModel(g, "svr").predict(X)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_integer_support_vectors_are_stored_as_bytes():
    X, y = _data("digits", 200)
    est = svm.SVC(gamma=0.001).fit(X, y)
    src = generate(from_sklearn(est), "digits_svc")
    c = src.files["digits_svc.c"]
    assert "static const uint8_t digits_svc_svc_sv[" in c and "_sv_lo" not in c
    assert src.const_bytes < est.support_vectors_.size * 2 + est.dual_coef_.size * 8 + 4096


def test_unsupported_svms_are_refused_clearly():
    X, y = _data("iris", 90)
    with pytest.raises(UnsupportedModelError, match="precomputed"):
        from_sklearn(svm.SVC(kernel="precomputed").fit(X @ X.T, y))
    from scipy import sparse
    with pytest.raises(UnsupportedModelError, match="sparse"):
        from_sklearn(svm.SVC().fit(sparse.csr_matrix(X), y))
    with pytest.raises(UnsupportedModelError, match="break_ties"):
        from_sklearn(svm.SVC(break_ties=True, decision_function_shape="ovo").fit(X, y))


def test_svc_compiles_for_cortex_m4(tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    X, y = _data("iris", 90)
    for i, est in enumerate([svm.SVC(kernel="poly").fit(X, y), svm.SVR().fit(X, y.astype(float))]):
        src = generate(from_sklearn(est), f"m4svm{i}")
        src.write(tmp_path)
        r = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4",
                            "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-c", f"m4svm{i}.c"],
                           cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
