"""Fixed-point classical models (trees, logistic regression, MLPs) on digits: the generated C equals
the integer IR reference on every row, agrees with the float model, and links no soft-float helper
when built for a Cortex-M0+ (no FPU)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from m0_soft_float import soft_float_helpers
from sklearn.datasets import load_digits
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import edgeinfer
from edgeinfer.ir import run
from edgeinfer.ir.ops.fixed_point import quantize_features
from edgeinfer.passes.quantize_classical import quantize_threshold

N_TRAIN = 1300


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def _models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "rf": RandomForestClassifier(20, max_depth=8, random_state=0),
            "gb_binary": GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0),
            "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            "lr_binary": LogisticRegression(max_iter=2000),
            "mlp_relu": MLPClassifier((32,), max_iter=300, random_state=0),
            "mlp_tanh": MLPClassifier((16, 12), activation="tanh", max_iter=300, random_state=0),
        }


def _fit(name, model, X, y):
    yy = y % 2 if name.endswith("binary") else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[:N_TRAIN], yy[:N_TRAIN])
    return model, yy


@pytest.mark.parametrize("scheme", ["int16", "int8"])
@pytest.mark.parametrize("name", list(_models()))
def test_c_equals_ir_and_agrees_with_float(digits, name, scheme):
    X, y = digits
    model, yy = _fit(name, _models()[name], X, y)
    q = edgeinfer.quantize(model, calibration=X[:N_TRAIN], scheme=scheme)
    assert q.tensors[q.inputs[0]].dtype == scheme
    assert {n.op for n in q.nodes} <= {"FxTreeEnsemble", "FxDense"}
    iq = q.metadata["input_quantization"]
    Xq = quantize_features(X, iq)
    ir = run(q, Xq)
    m = edgeinfer.convert(q, name=f"fx_{name}_{scheme}")
    out = m.run(Xq)
    for o in q.outputs:
        np.testing.assert_array_equal(out[o], ir[o])
    np.testing.assert_array_equal(m.predict(X), model.classes_[ir["label"]])  # float X quantized at the edge
    cal = edgeinfer.compare(edgeinfer.load_graph(model), q, X[:N_TRAIN], yy[:N_TRAIN])
    test = edgeinfer.compare(edgeinfer.load_graph(model), m, X[N_TRAIN:], yy[N_TRAIN:])
    print(f"{name} {scheme}: agreement calibration {cal['top1_agreement']:.4f}, held out {test['top1_agreement']:.4f}"
          f", accuracy {test['float_accuracy']:.4f} -> {test['quantized_accuracy']:.4f}")
    if name in ("rf", "gb_binary"):
        assert q.metadata["fixed_point"]["split_conflicts"] == 0
        assert cal["top1_agreement"] == 1.0  # every calibration decision kept, by construction
    else:
        assert cal["top1_agreement"] >= 0.99
    assert test["top1_agreement"] >= 0.98


@pytest.mark.parametrize("dtype", ["int16", "int8"])
def test_threshold_choice_keeps_every_calibration_decision(dtype):
    """int16 codes separate 400 normal samples everywhere; int8 ones may not, and then say so."""
    from edgeinfer.passes.quantize_classical import input_quantization

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 1)).astype(np.float32)
    iq = input_quantization(x, dtype)
    vals = np.unique(x[:, 0])
    codes = quantize_features(vals[:, None], iq)[:, 0].astype(np.int64)
    conflicts = 0
    for t in rng.normal(size=200).astype(np.float32):
        qt = int(quantize_features(np.array([[t]]), iq)[0, 0])
        tq, conflict = quantize_threshold(float(t), vals, codes, qt)
        same = (codes <= tq) == (vals <= t)
        assert same.all() or conflict
        conflicts += conflict
    assert conflicts == 0 if dtype == "int16" else conflicts < 200



@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("name", ["rf", "lr", "mlp_tanh"])
def test_cortex_m0plus_build_links_no_soft_float(digits, name, tmp_path):
    X, y = digits
    model, _ = _fit(name, _models()[name], X, y)
    q = edgeinfer.quantize(model, calibration=X[:N_TRAIN], scheme="int16")
    m = edgeinfer.convert(q, name=f"m0_{name}")
    m.save(tmp_path)
    helpers = soft_float_helpers(sorted(tmp_path.glob("*.c")), tmp_path)
    assert helpers == [], f"soft-float helpers referenced: {helpers}"
    text = (tmp_path / f"m0_{name}.c").read_text()
    assert "float" not in text.replace("#include <math.h>", "") and "double" not in text.split("arena;")[-1]
