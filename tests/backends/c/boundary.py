"""Rows on a classifier's decision boundaries: where float32 arithmetic flips labels."""

from __future__ import annotations

import numpy as np


def boundary_rows(est, X: np.ndarray, n: int, seed: int = 0, steps: int = 40) -> np.ndarray:
    """``n`` float32 rows within float32 rounding of a boundary of ``est`` (bisection between
    pairs of rows that ``est`` labels differently, in float64, then rounded to float32)."""
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)
    labels = est.predict(X)
    a = X[rng.integers(0, len(X), 4 * n)]
    b = X[rng.integers(0, len(X), 4 * n)]
    keep = est.predict(a) != est.predict(b)
    a, b = a[keep][:n], b[keep][:n]
    del labels
    lo, hi = np.zeros(len(a)), np.ones(len(a))
    la = est.predict(a)
    for _ in range(steps):
        mid = (lo + hi) / 2
        same = est.predict(a + mid[:, None] * (b - a)) == la
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return (a + hi[:, None] * (b - a)).astype(np.float32)
