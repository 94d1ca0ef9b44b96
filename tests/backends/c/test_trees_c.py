"""Generated C for tree ensembles: both layouts equal the IR reference on every row, labels exactly."""

import ctypes
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from sklearn import ensemble, tree
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, make_classification

from edgeinfer.backends.c.emit import generate
from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.frontends.sklearn import from_sklearn
from edgeinfer.ir import run


def _data(name):
    if name == "make200":
        X, y = make_classification(300, n_features=200, n_informative=10, n_classes=3, random_state=0)
    else:
        X, y = {"iris": load_iris, "digits": load_digits, "breast_cancer": load_breast_cancer}[name](return_X_y=True)
    return X.astype(np.float32), y


CLASSIFIERS = {
    "dt": lambda: tree.DecisionTreeClassifier(max_depth=5, random_state=0),
    "rf": lambda: ensemble.RandomForestClassifier(6, max_depth=5, random_state=0),
    "et": lambda: ensemble.ExtraTreesClassifier(6, max_depth=5, random_state=0),
    "gb": lambda: ensemble.GradientBoostingClassifier(n_estimators=4, max_depth=2, random_state=0),
    "hgb": lambda: ensemble.HistGradientBoostingClassifier(max_iter=4, max_leaf_nodes=8, random_state=0),
}
REGRESSORS = {
    "dt": lambda: tree.DecisionTreeRegressor(max_depth=5, random_state=0),
    "rf": lambda: ensemble.RandomForestRegressor(6, max_depth=5, random_state=0),
    "et": lambda: ensemble.ExtraTreesRegressor(6, max_depth=5, random_state=0),
    "gb": lambda: ensemble.GradientBoostingRegressor(n_estimators=8, random_state=0),
    "hgb": lambda: ensemble.HistGradientBoostingRegressor(max_iter=8, random_state=0),
}


def _predict_rows(m, X):
    """Labels from the exported label-only ``<name>_predict``, one call per row (its own fast path)."""
    m.run(X[:1])  # builds and loads the library
    fn = getattr(m._lib, f"{m.name}_predict")
    fn.restype = ctypes.c_int32
    X = np.ascontiguousarray(X, np.float32)
    return np.array([fn(ctypes.c_void_p(X[i].ctypes.data)) for i in range(len(X))])


def _check_classifier(est, X, name):
    g = from_sklearn(est)
    ref = run(g, X)
    for layout in ("inline", "table"):
        m = CModel(g, f"{name}_{layout}", {"tree_layout": layout})
        out = m.run(X)
        np.testing.assert_array_equal(out[g.outputs[0]], ref[g.outputs[0]])
        np.testing.assert_allclose(out[g.outputs[1]], ref[g.outputs[1]], atol=2e-6)
        np.testing.assert_array_equal(m.predict(X), est.predict(X))
        np.testing.assert_array_equal(est.classes_[_predict_rows(m, X)], est.predict(X))
        np.testing.assert_allclose(m.predict_proba(X), est.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("data", ["iris", "digits", "breast_cancer", "make200"])
@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_classifier_c_equals_reference(kind, data):
    X, y = _data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CLASSIFIERS[kind]().fit(X, y)
    _check_classifier(est, X, f"{kind}_{data}")


@pytest.mark.parametrize("kind", sorted(REGRESSORS))
def test_regressor_c_equals_reference(kind):
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    est = REGRESSORS[kind]().fit(X, y)
    g = from_sklearn(est)
    ref = run(g, X)[g.outputs[0]]
    for layout in ("inline", "table"):
        m = CModel(g, f"reg_{kind}_{layout}", {"tree_layout": layout})
        np.testing.assert_allclose(m.run(X)[g.outputs[0]], ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(m.predict(X), est.predict(X), rtol=1e-5, atol=1e-4)


def test_multi_output_regressor_c():
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    est = ensemble.ExtraTreesRegressor(3, max_depth=4, random_state=0).fit(X, np.stack([y, y / 7], axis=1))
    for layout in ("inline", "table"):
        m = CModel(from_sklearn(est), f"mo_{layout}", {"tree_layout": layout})
        np.testing.assert_allclose(m.predict(X), est.predict(X), rtol=1e-5)


def test_string_and_sparse_integer_labels_in_c():
    X, y = _data("iris")
    for labels in (np.array(["setosa", "versicolor", "virginica"]), np.array([-7, 3, 1000])):
        est = ensemble.RandomForestClassifier(4, max_depth=3, random_state=0).fit(X, labels[y])
        np.testing.assert_array_equal(CModel(from_sklearn(est), "lab").predict(X), est.predict(X))


def test_ties_take_the_float64_path_and_match_sklearn():
    # two-tree forests tie often (one vote each); the label must still be sklearn's on every row
    X, y = _data("digits")
    for seed in range(3):
        est = ensemble.RandomForestClassifier(2, max_depth=3, random_state=seed).fit(X, y)
        _check_classifier(est, X, f"tie{seed}")


def test_bad_layout_is_refused():
    X, y = _data("iris")
    g = from_sklearn(tree.DecisionTreeClassifier(max_depth=2).fit(X, y))
    with pytest.raises(UnsupportedModelError, match="tree_layout"):
        generate(g, "bad", {"tree_layout": "fast"})


@pytest.mark.parametrize("layout", ["inline", "table"])
def test_compiles_for_cortex_m4(tmp_path, layout):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    X, y = _data("digits")
    for name, est in (("gbm4", ensemble.GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0)),
                      ("rf4", ensemble.RandomForestClassifier(5, max_depth=4, random_state=0))):
        generate(from_sklearn(est.fit(X, y)), name, {"tree_layout": layout}).write(tmp_path)
        r = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4",
                            "-mthumb", "-Os", "-c", f"{name}.c"], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
