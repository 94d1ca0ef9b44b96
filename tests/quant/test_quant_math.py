"""Fixed-point primitives against values worked out by hand from TFLite's definitions."""

from __future__ import annotations

import numpy as np

from edgeinfer.ir import quant_math as qm


def test_quantize_multiplier_round_trips():
    for m in (0.5, 0.0123, 1.75, 3e-5, 0.999999999):
        q, s = qm.quantize_multiplier(m)
        assert (1 << 30) <= q < (1 << 31)
        assert abs(q * 2.0 ** (s - 31) - m) <= m * 2 ** -30


def test_rounding_divide_by_pot_rounds_halves_away_from_zero():
    x = np.array([5, -5, 6, -6, 7, -7])
    np.testing.assert_array_equal(qm.rdbpot(x, 1), [3, -3, 3, -3, 4, -4])


def test_srdhm_saturates_the_one_overflow():
    assert int(qm.srdhm(np.array([qm.I32_MIN]), qm.I32_MIN)[0]) == qm.I32_MAX


def test_mbqm_single_and_double_rounding_agree_away_from_ties():
    x = np.arange(-20000, 20000, 37)
    m, s = qm.quantize_multiplier(0.37)
    a, b = qm.mbqm(x, m, s), qm.mbqm(x, m, s, single_rounding=True)
    assert np.abs(a - b).max() <= 1
    np.testing.assert_allclose(a, x * 0.37, atol=1)


def test_softmax_logistic_tanh_close_to_float():
    x = np.arange(-128, 128, dtype=np.int64)
    np.testing.assert_allclose(qm.logistic_s8(x, 0.05, 3), 256 / (1 + np.exp(-(x - 3) * 0.05)) - 128, atol=1)
    np.testing.assert_allclose(qm.tanh_s8(x, 0.05, 0), np.clip(128 * np.tanh(x * 0.05), -128, 127), atol=1)
    rows = np.random.default_rng(0).integers(-128, 128, size=(20, 10))
    p = np.exp(rows * 0.1)
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(qm.softmax_s8(rows, 1.0, 0.1).astype(int) + 128, np.clip(p * 256, 0, 255), atol=1)
