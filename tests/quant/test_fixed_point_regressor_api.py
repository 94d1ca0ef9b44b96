"""A fixed-point regressor's predict and compare speak in target units, not raw int32 codes."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor

import edgeinfer


def test_fixed_point_regressor_predicts_target_units_and_compare_reports_mae():
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    est = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X[:300], y[:300])
    q = edgeinfer.convert(edgeinfer.quantize(est, calibration=X[:300], scheme="int16"))
    got = q.predict(X[300:])
    want = est.predict(X[300:])
    assert got.dtype == np.float64
    span = float(y.max() - y.min())
    # int16 codes of each feature: held-out values move by at most a fraction of a percent of the range
    assert np.abs(got - want).max() < 0.01 * span
    rep = edgeinfer.compare(edgeinfer.convert(est), q, X[300:], y[300:])
    assert rep["max_abs_diff"] < 0.01 * span
    assert np.isclose(rep["float_mae"], np.abs(want - y[300:]).mean(), rtol=1e-5)
    assert np.isclose(rep["quantized_mae"], np.abs(got - y[300:]).mean(), rtol=1e-9)
