"""Certified labels: rows on the decision boundary get scikit-learn's label; kernels cross-compile."""

import shutil
import subprocess
import warnings

import numpy as np
import pytest
from boundary import boundary_rows
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from edgeinfer.backends.c.emit import generate
from edgeinfer.backends.c.model import CModel
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run


def _data(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "cancer":
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = make_classification(400, n_features=200, n_informative=20, n_classes=3, random_state=1)
    return StandardScaler().fit_transform(X), y


MODELS = {
    "logreg": lambda: LogisticRegression(max_iter=300),
    "linearsvc": lambda: LinearSVC(random_state=0),
    "mlp": lambda: MLPClassifier((16,), activation="tanh", max_iter=80, random_state=0),
}


@pytest.mark.parametrize("data", ["digits", "cancer", "mc200"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_boundary_rows_get_sklearns_label(kind, data):
    X, y = _data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MODELS[kind]().fit(X, y)
    B = boundary_rows(est, X, 150, seed=3)
    g = from_sklearn(est)
    want = est.predict(B)
    np.testing.assert_array_equal(np.asarray(g.metadata["classes"])[run(g, B)[g.outputs[0]]], want)
    exact = CModel(g, f"cert_{kind}")
    np.testing.assert_array_equal(exact.predict(B), want)
    # the float32 path alone does flip some of them: the certificate is what makes them right
    fast = CModel(g, f"fast_{kind}", {"exact": False})
    assert (fast.predict(B) != want).sum() > 0


def test_exact_false_drops_residuals_and_fallback():
    X, y = _data("digits")
    g = from_sklearn(LogisticRegression(max_iter=200).fit(X, y))
    on, off = generate(g, "on"), generate(g, "off", {"exact": False})
    assert "_exact(" in on.files["on.c"] and "_exact(" not in off.files["off.c"]
    assert off.const_bytes < on.const_bytes


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_cortex_m4_compile_werror(kind, tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    X, y = _data("cancer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MODELS[kind]().fit(X, y)
    src = generate(from_sklearn(est), "m4")
    src.write(tmp_path)
    cfiles = [f for f in src.files if f.endswith(".c")]
    r = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4", "-mthumb",
                        "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-c", *cfiles],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
