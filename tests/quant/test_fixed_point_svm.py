"""Fixed-point SVMs and regressors: the integer IR reference agrees with scikit-learn's float models, the
generated C equals the integer reference on every row, and a Cortex-M0+ build links no soft-float helper.

The agreement floors below come from measurements (70/30 split, seed 0; the figures are in the pass's
report): held-out agreement was 1.0 for every kernel and scheme on digits, iris and breast_cancer and
>= 0.96 on wine (54 held-out rows, so one label is 1.9%), and the calibration agreement >= 0.99. The
floors leave one or two held-out labels of margin; int16 rbf on digits, the brief's example, is held to
0.99 on its 540 rows.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from m0_soft_float import soft_float_helpers
from sklearn import datasets
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC

import edgeinfer
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import run
from edgeinfer.ir.ops.fixed_point import quantize_features

KERNELS = ("linear", "poly", "rbf", "sigmoid")
HELD_OUT_FLOOR = {"digits": 0.98, "iris": 0.95, "wine": 0.94, "breast_cancer": 0.97}


def _split(name: str):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(X))
    X, y = X[idx].astype(np.float32), y[idx]
    n = int(0.7 * len(X))
    return X[:n], y[:n], X[n:], y[n:]


def _svc(name: str, kernel: str, **kw):
    """Raw features where they share one scale (digits, iris); a StandardScaler in front otherwise."""
    est = SVC(kernel=kernel, **kw)
    return est if name in ("digits", "iris") else make_pipeline(StandardScaler(), est)


def _labels(q, model, X):
    return model.classes_[run(q, quantize_features(X, q.metadata["input_quantization"]))["label"]]


def _c_equals_ir(q, X, name: str):
    """The compiled C's outputs equal the integer reference on every row; returns the C model."""
    Xq = quantize_features(X, q.metadata["input_quantization"])
    ir = run(q, Xq)
    m = edgeinfer.convert(q, name=name)
    out = m.run(Xq)
    for o in q.outputs:
        np.testing.assert_array_equal(out[o], ir[o])
    return m


@pytest.mark.parametrize("scheme", ["int16", "int8"])
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("name", list(HELD_OUT_FLOOR))
def test_svc_agrees_with_scikit_learn(name, kernel, scheme):
    Xtr, ytr, Xte, _ = _split(name)
    model = _svc(name, kernel).fit(Xtr, ytr)
    q = edgeinfer.quantize(model, Xtr, scheme=scheme)
    assert [n.op for n in q.nodes] == ["FxSVM"] and q.tensors[q.inputs[0]].dtype == scheme
    cal = float((_labels(q, model, Xtr) == model.predict(Xtr)).mean())
    held = float((_labels(q, model, Xte) == model.predict(Xte)).mean())
    assert q.metadata["fixed_point"]["calibration_agreement"] == pytest.approx(cal)
    assert cal >= 0.99
    assert held >= (0.99 if (name, kernel, scheme) == ("digits", "rbf", "int16") else HELD_OUT_FLOOR[name])


@pytest.mark.parametrize("scheme", ["int16", "int8"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_svc_c_equals_ir_on_digits(kernel, scheme):
    Xtr, ytr, Xte, _ = _split("digits")
    model = SVC(kernel=kernel).fit(Xtr, ytr)
    q = edgeinfer.quantize(model, Xtr, scheme=scheme)
    if kernel == "rbf":  # the support vectors are feature codes, as narrow as the features
        assert q.tensors["svm_vectors"].dtype == scheme
    m = _c_equals_ir(q, np.concatenate([Xtr[:200], Xte]), f"fxsvm_{kernel}_{scheme}")
    np.testing.assert_array_equal(m.predict(Xte), _labels(q, model, Xte))  # float X quantized at the edge


@pytest.mark.parametrize("variant", ["ovo", "break_ties", "binary", "nusvc_minmax", "poly_coef0", "linear_svc"])
def test_svc_score_layouts_and_pipelines(variant):
    """ovo and ovr scores, break_ties, two classes, NuSVC behind a MinMaxScaler, LinearSVC (a linear
    classifier, so FxDense): C == IR on every row, and the integer scores order the classes as
    scikit-learn's float decision_function does."""
    X, y = datasets.load_iris(return_X_y=True)
    X = X.astype(np.float32)
    if variant == "binary":
        y = (y == 1).astype(int)
    model = {"ovo": SVC(decision_function_shape="ovo"), "break_ties": SVC(break_ties=True, C=0.05),
             "binary": SVC(gamma=2.0), "nusvc_minmax": make_pipeline(MinMaxScaler(), NuSVC(nu=0.3)),
             "poly_coef0": make_pipeline(StandardScaler(), SVC(kernel="poly", degree=4, coef0=1.0, gamma=0.3)),
             "linear_svc": make_pipeline(StandardScaler(), LinearSVC()),
             }[variant].fit(X, y)
    q = edgeinfer.quantize(model, X, scheme="int16")
    Xq = quantize_features(X, q.metadata["input_quantization"])
    ir = run(q, Xq)
    assert (model.classes_[ir["label"]] == model.predict(X)).mean() >= 0.99
    ref = model.decision_function(X).reshape(len(X), -1)
    if variant == "ovo":
        # the int32 decisions times score_scale are scikit-learn's ovo decisions
        np.testing.assert_allclose(ir["scores"] * q.metadata["score_scale"], ref, atol=2e-3 * np.abs(ref).max())
    elif variant == "binary":
        assert ((ir["scores"][:, 0] > 0) == (ref[:, 0] > 0)).mean() >= 0.99
    else:
        assert (ir["scores"].argmax(axis=1) == ref.argmax(axis=1)).mean() >= 0.99
    _c_equals_ir(q, X, f"fxsvm_{variant}")


def _regressors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"svr_rbf": SVR(C=100), "svr_poly_std": make_pipeline(StandardScaler(), SVR(kernel="poly", C=10)),
                "svr_linear": SVR(kernel="linear", C=100), "linear": LinearRegression(),
                "linear_svr": make_pipeline(StandardScaler(), LinearSVR(C=10, max_iter=20000, random_state=0)),
                "gbr": GradientBoostingRegressor(n_estimators=50, random_state=0),
                "mlp": make_pipeline(StandardScaler(),
                                     MLPRegressor(hidden_layer_sizes=(16,), max_iter=3000, random_state=0))}


@pytest.mark.parametrize("scheme", ["int16", "int8"])
@pytest.mark.parametrize("name", list(_regressors()))
def test_regressors_on_diabetes(name, scheme):
    """R^2 of the fixed-point model within 0.01 (int16) / 0.03 (int8) of the float one on held-out rows;
    on the calibration rows int16 stays within 1e-3 of the target range. Measured (int16): largest
    calibration error 1e-5..6e-5 of the range, held-out R^2 moves by < 0.001 for the SVRs."""
    Xtr, ytr, Xte, yte = _split("diabetes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _regressors()[name].fit(Xtr, ytr)
    q = edgeinfer.quantize(model, Xtr, scheme=scheme)
    assert q.outputs == ["values"]
    scale = q.metadata["score_scale"]
    span = float(ytr.max() - ytr.min())
    for X, y, tol in ((Xtr, ytr, 0.01 if scheme == "int16" else 0.03), (Xte, yte, 0.01 if scheme == "int16" else 0.03)):
        fx = run(q, quantize_features(X, q.metadata["input_quantization"]))["values"][:, 0] * scale
        assert r2_score(y, fx) >= r2_score(y, model.predict(X)) - tol
    err = q.metadata["fixed_point"]["calibration_max_abs_error"]
    if scheme == "int16":
        assert err <= 1e-3 * span
    if scheme == "int16" and name in ("svr_rbf", "gbr", "linear"):
        _c_equals_ir(q, np.concatenate([Xtr[:100], Xte]), f"fxreg_{name}")


def test_refusals():
    X, y = datasets.load_wine(return_X_y=True)
    pre = SVC(kernel="precomputed").fit(X @ X.T, y)
    with pytest.raises(UnsupportedModelError, match="precomputed"):
        edgeinfer.quantize(pre, X @ X.T, scheme="int16")
    # unscaled wine (proline ~1e3) in a degree-2 kernel: kernel sums ~1e12 against decisions ~1
    wild = SVC(kernel="poly", gamma=0.68, degree=2, coef0=2.0).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="StandardScaler"):
        edgeinfer.quantize(wild, X, scheme="int16")
    with pytest.raises(UnsupportedModelError, match="int8 or int16"):
        edgeinfer.quantize(SVC().fit(X, y), X, scheme="int4")



@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("kernel", ["rbf", "poly", "sigmoid", "svr"])
def test_cortex_m0plus_build_links_no_soft_float(kernel, tmp_path):
    """As tests/quant/test_fixed_point.py checks trees and dense stacks."""
    X, y, _, _ = _split("iris")
    model = SVR().fit(X, y.astype(float)) if kernel == "svr" else SVC(kernel=kernel).fit(X, y)
    q = edgeinfer.quantize(model, X, scheme="int16")
    m = edgeinfer.convert(q, name=f"m0svm_{kernel}")
    m.save(tmp_path)
    helpers = soft_float_helpers(sorted(tmp_path.glob("*.c")), tmp_path)
    assert helpers == [], f"soft-float helpers referenced: {helpers}"
    text = (tmp_path / f"m0svm_{kernel}.c").read_text()
    assert "float" not in text.replace("#include <math.h>", "") and "double" not in text.split("arena;")[-1]


def report() -> None:
    """The agreement table behind the floors above: ``.venv/bin/python tests/quant/test_fixed_point_svm.py``."""
    for name in HELD_OUT_FLOOR:
        Xtr, ytr, Xte, _ = _split(name)
        for kernel in KERNELS:
            model = _svc(name, kernel).fit(Xtr, ytr)
            for scheme in ("int16", "int8"):
                q = edgeinfer.quantize(model, Xtr, scheme=scheme)
                held = float((_labels(q, model, Xte) == model.predict(Xte)).mean())
                fp = q.metadata["fixed_point"]
                print(f"{name:13s} {kernel:7s} {scheme:5s} calibration {fp['calibration_agreement']:.4f} "
                      f"held-out {held:.4f} ({len(Xte)} rows) decision error {fp['calibration_decision_error']:.1e}")
    Xtr, ytr, Xte, yte = _split("diabetes")
    span = float(ytr.max() - ytr.min())
    for name, model in _regressors().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(Xtr, ytr)
        for scheme in ("int16", "int8"):
            q = edgeinfer.quantize(model, Xtr, scheme=scheme)
            r2 = []
            for X, y in ((Xtr, ytr), (Xte, yte)):
                fx = run(q, quantize_features(X, q.metadata["input_quantization"]))["values"][:, 0]
                r2 += [r2_score(y, model.predict(X)), r2_score(y, fx * q.metadata["score_scale"])]
            err = q.metadata["fixed_point"]["calibration_max_abs_error"] / span
            print(f"diabetes {name:12s} {scheme:5s} R^2 calibration {r2[0]:.4f} -> {r2[1]:.4f}, held-out "
                  f"{r2[2]:.4f} -> {r2[3]:.4f}; max |error| on calibration {err:.1e} of the target range")


if __name__ == "__main__":
    report()
