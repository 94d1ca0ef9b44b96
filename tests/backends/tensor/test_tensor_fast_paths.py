"""The torch backend's label-only ``predict`` path (class-major products, sign-bit label and flag, the
leaner tree walks, the NaN scan in torch) against scikit-learn on every row: batch sizes 1, odd sizes,
and batches across row blocks and walk chunks; exact ties; NaN/inf refused with the usual message.
``label_flag`` and the walk's sign-bit step are also checked against plain numpy on crafted values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

torch = pytest.importorskip("torch")

import edgeinfer  # noqa: E402
from edgeinfer.backends.tensor import model as tensor_model  # noqa: E402
from edgeinfer.backends.tensor import ops_classic, trees  # noqa: E402
from edgeinfer.errors import InputError  # noqa: E402

BATCHES = (1, 7, 100, 333)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(1)
    Xt = (X[rng.integers(0, len(X), 700)] + rng.normal(0, 0.5, (700, 64))).astype(np.float32)
    return X.astype(np.float32), y, Xt


@pytest.fixture(scope="module")
def fitted(digits):
    """One of each fast path, fitted once (small fits: the test is about agreement, not accuracy)."""
    X, y, _ = digits
    # BLAS threads fighting over two cores make these small fits 100x slower; short fits do not converge
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fit_all(X, y)


def _fit_all(X, y):
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    models = {
        "lr": LogisticRegression(max_iter=300).fit(X, y),
        "lr_binary": LogisticRegression(max_iter=300).fit(X, y < 5),
        "lr_float64": LogisticRegression(max_iter=300).fit(X.astype(np.float64), y),
        "scaled_lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y),
        "mlp_relu": MLPClassifier((24,), max_iter=60, random_state=0).fit(X, y),
        "mlp_tanh": MLPClassifier((12, 8), activation="tanh", max_iter=60, random_state=0).fit(X / 16, y),
        "mlp_binary": MLPClassifier((8,), max_iter=60, random_state=0).fit(X, y % 2),
        "rf": RandomForestClassifier(6, max_depth=10, random_state=0).fit(X, y),
        "et": ExtraTreesClassifier(4, max_depth=7, random_state=0).fit(X, y),
        "gb_binary": GradientBoostingClassifier(n_estimators=8, random_state=0).fit(X, y < 5),
        "gb_multi": GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0).fit(X[:600], y[:600]),
    }
    return models


def _inputs(name, Xt):
    return Xt / 16 if name == "mlp_tanh" else Xt


@pytest.mark.parametrize("name", ["lr", "lr_binary", "lr_float64", "scaled_lr", "mlp_relu", "mlp_tanh",
                                  "mlp_binary", "rf", "et", "gb_binary", "gb_multi"])
def test_label_path_matches_sklearn_every_row(fitted, digits, name, monkeypatch):
    est, Xt = fitted[name], _inputs(name, digits[2])
    m = edgeinfer.convert(est, backend="torch")
    assert m._label_fn is not None, "this model should take the label-only path"
    for n in BATCHES:
        np.testing.assert_array_equal(m.predict(Xt[:n]), est.predict(Xt[:n]), err_msg=f"{name} batch {n}")
    # row blocks and tree-walk chunks that do not divide the batch (the last one is short)
    monkeypatch.setattr(tensor_model, "LABEL_BLOCK_ROWS", 64)
    monkeypatch.setattr(trees, "CHUNK_CELLS", 100)
    np.testing.assert_array_equal(m.predict(Xt), est.predict(Xt), err_msg=f"{name} in blocks")
    # the scores path is unchanged in meaning: its labels agree, its probabilities are scikit-learn's
    np.testing.assert_array_equal(m.classes_[m.run(Xt[:50])[m.graph.outputs[0]]], est.predict(Xt[:50]))


@pytest.mark.parametrize("strategy", trees.STRATEGIES)
def test_every_tree_walk_matches_sklearn(fitted, digits, strategy):
    Xt = digits[2]
    for name in ("rf", "gb_binary", "gb_multi"):
        est = fitted[name]
        m = edgeinfer.convert(est, backend="torch", strategy=strategy)
        for n in (1, 13, 700):
            np.testing.assert_array_equal(m.predict(Xt[:n]), est.predict(Xt[:n]), err_msg=f"{name} {strategy} {n}")
        np.testing.assert_allclose(m.predict_proba(Xt), est.predict_proba(Xt), atol=1e-6)


def test_onednn_first_layer_and_its_fallback(fitted, digits, monkeypatch):
    est, Xt = fitted["mlp_relu"], digits[2]
    for rows in (1, 10 ** 9):  # always oneDNN (where present), never
        monkeypatch.setattr(ops_classic, "ONEDNN_MIN_ROWS", rows)
        m = edgeinfer.convert(est, backend="torch")
        np.testing.assert_array_equal(m.predict(Xt), est.predict(Xt))


def test_exact_ties_take_sklearns_first_class(fitted, digits):
    """Duplicated classes tie exactly on every row where they lead: scikit-learn's argmax takes the
    first; the fast path flags those rows and the reference gives the same."""
    from sklearn.ensemble import RandomForestClassifier

    X, y, Xt = digits
    lr = fitted["lr"]
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tied = type(lr)(max_iter=300).fit(X, y)
    tied.coef_[4], tied.intercept_[4] = tied.coef_[3], tied.intercept_[3]
    top = np.argsort(tied.decision_function(Xt), axis=1)[:, -1]
    assert (top == 3).sum() > 10  # the tie decides a good number of rows
    np.testing.assert_array_equal(edgeinfer.convert(tied, backend="torch").predict(Xt), tied.predict(Xt))

    mlp = fitted["mlp_relu"]
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = type(mlp)((24,), max_iter=60, random_state=0).fit(X, y)
    twin.coefs_[-1][:, 7], twin.intercepts_[-1][7] = twin.coefs_[-1][:, 2], twin.intercepts_[-1][2]
    assert (twin.predict_proba(Xt).argmax(1) == 2).sum() > 10
    np.testing.assert_array_equal(edgeinfer.convert(twin, backend="torch").predict(Xt), twin.predict(Xt))

    # two fully grown trees: vote ties everywhere they disagree
    with threadpool_limits(1):
        rf = RandomForestClassifier(2, random_state=3).fit(X, y)
    p = rf.predict_proba(Xt)
    assert (np.sort(p, axis=1)[:, -1] == np.sort(p, axis=1)[:, -2]).sum() > 10
    np.testing.assert_array_equal(edgeinfer.convert(rf, backend="torch").predict(Xt), rf.predict(Xt))


@pytest.mark.parametrize("name", ["lr", "mlp_relu", "rf"])
def test_nan_and_inf_refused_with_the_row(fitted, digits, name):
    m = edgeinfer.convert(fitted[name], backend="torch")
    X = digits[2][:40].copy()
    for bad, row, col in ((np.nan, 5, 3), (np.inf, 39, 0), (-np.inf, 0, 63)):
        Xb = X.copy()
        Xb[row, col] = bad
        for call in (m.predict, m.predict_proba):
            with pytest.raises(InputError, match=f"NaN or infinity \\(first at row {row}, feature {col}\\)"):
                call(Xb)
    big = X.astype(np.float64)
    big[11, 7] = 1e300  # finite in float64, infinite in the model's float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(InputError, match="first at row 11, feature 7"):
            m.predict(big)
        # sums of finite values may overflow float32: the full scan finds nothing, the batch goes on
        huge = np.full((3, 64), 3e38, np.float32)
        assert m.predict(huge).shape == (3,)
    assert m.predict(X[:0]).shape == (0,)


def test_mlp_finds_non_finite_rows_through_its_logits(fitted, digits, monkeypatch):
    """An MLP whose hidden weights have both signs in every column carries NaN/inf to every logit of
    the row, so it skips the batch scan; when one column has one sign only it scans as the others."""
    from copy import deepcopy

    est, X = fitted["mlp_relu"], digits[2][:300].copy()
    m = edgeinfer.convert(est, backend="torch")
    assert m._label_fn.sees_non_finite
    monkeypatch.setattr(tensor_model, "LABEL_BLOCK_ROWS", 128)  # the bad row's block, not the batch
    for bad, row, col in ((np.nan, 200, 5), (np.inf, 131, 0), (-np.inf, 7, 63)):
        Xb = X.copy()
        Xb[row, col] = bad
        with pytest.raises(InputError, match=f"first at row {row}, feature {col}\\)"):
            m.predict(Xb)
    one_sign = deepcopy(est)
    one_sign.coefs_[0][9] = np.abs(one_sign.coefs_[0][9]) + 0.01  # feature 9: every weight > 0
    m = edgeinfer.convert(one_sign, backend="torch")
    assert not m._label_fn.sees_non_finite
    Xb = X.copy()
    Xb[3, 9] = -np.inf  # would make every hidden unit -inf, then 0 after relu: a finite, wrong row
    with pytest.raises(InputError, match="first at row 3, feature 9"):
        m.predict(Xb)
    np.testing.assert_array_equal(m.predict(X), one_sign.predict(X))


def test_label_flag_against_numpy():
    rng = np.random.default_rng(2)
    for dt in (torch.float32, torch.float64):
        for k in (2, 3, 10):
            # coarse values: many exact ties and near ties; per-column eps as well as one for all
            z = rng.integers(-4, 4, (k, 5000)) * 0.25 + rng.choice([0.0, 1e-3, 0.2], (k, 5000))
            zt = torch.from_numpy(z).to(dt)
            zz = zt.double().numpy()
            top2 = np.sort(zz, axis=0)[-2:]
            for eps in (0.01, torch.full((5000,), 0.3, dtype=dt)):
                e = eps if isinstance(eps, float) else 0.3
                label, flag = ops_classic.label_flag(zt, eps)
                margin = top2[1] - top2[0]
                assert flag.numpy()[margin <= e].all()  # never misses a close pair
                assert not flag.numpy()[margin > 1.25 * e].any()  # widened by 1/8 only
                sure = ~flag.numpy()
                np.testing.assert_array_equal(label.numpy()[sure], zz.argmax(axis=0)[sure])
    nonfinite = torch.tensor([[1.0, np.inf, np.nan, -np.inf], [0.0, np.inf, 1.0, -np.inf]])
    assert ops_classic.label_flag(nonfinite, 1e-3)[1].tolist() == [False, True, True, True]


def test_label_margin_sign_bits_equal_the_plain_ops():
    rng = np.random.default_rng(3)
    for dt in (torch.float32, torch.float64):
        z = torch.from_numpy(rng.integers(-3, 3, (10, 3000)).astype(np.float64)).to(dt)
        z[:, :5] = 0.0
        z[0, :3] = -0.0
        label, margin = ops_classic.label_margin(z)
        plain_label, plain_margin = ops_classic._label_margin_plain(z)
        assert torch.equal(margin, plain_margin)
        sure = margin > 0
        assert torch.equal(label[sure], plain_label[sure])
        assert torch.equal(label[sure].long(), z.argmax(dim=0)[sure])


def test_walk_step_is_x_le_threshold_at_the_edges():
    """The walk's subtract-and-sign step against ``x <= thr`` where it is most delicate: signed zeros,
    subnormals, the largest float, +inf thresholds (padding)."""
    f32 = np.float32
    tiny, big = np.nextafter(f32(0), f32(1)), np.finfo(f32).max
    specials = np.array([-0.0, 0.0, tiny, -tiny, 2 * tiny, -1.0, 1.0, 0.5, big, -big], f32)
    thr = np.concatenate([specials, np.array([np.inf], f32)])
    with np.errstate(over="ignore"):
        x = np.concatenate([specials, np.nextafter(specials, f32(np.inf)), np.nextafter(specials, f32(-np.inf))])
        up = torch.from_numpy(np.nextafter(thr, f32(np.inf)))
    x = x[np.isfinite(x)].astype(f32)
    # every x against every threshold: one row per x, one "tree" per threshold, feature 0
    xs = torch.from_numpy(x[:, None].copy())
    n_t = len(thr)
    step = trees._Step(xs, n_t)
    node = torch.arange(n_t, dtype=torch.int32).repeat(len(x))
    feat = torch.zeros(n_t, dtype=torch.int32)
    s = step(feat, up, node).view(len(x), n_t).numpy()
    np.testing.assert_array_equal(s == -1, x[:, None] <= thr[None, :])


def test_exported_programs_keep_plain_ops(fitted, digits, tmp_path):
    """Tracing (TorchScript / ONNX) still records comparisons, not bit tricks: ONNX Runtime runs it."""
    import onnxruntime as ort

    Xt = digits[2]
    for name in ("lr", "rf"):
        m = edgeinfer.convert(fitted[name], backend="torch", name=name)
        _, onx = m.save(tmp_path)
        sess = ort.InferenceSession(str(onx), providers=["CPUExecutionProvider"])
        label, _, flag = sess.run(None, {"x": Xt})
        sure = ~flag.astype(bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = np.searchsorted(fitted[name].classes_, fitted[name].predict(Xt))
        np.testing.assert_array_equal(label[sure], want[sure])
