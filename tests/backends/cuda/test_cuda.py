"""CUDA C backend: the generated source builds with nvcc (compile-only where there is no GPU), and
predict says clearly when there is no GPU; on a GPU it equals scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

import edgeinfer
from edgeinfer.backends.cuda.model import gpu_present, nvcc
from edgeinfer.errors import EdgeInferError, UnsupportedModelError


def _models():
    from sklearn.datasets import load_digits
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:400].astype(np.float32) / 16
    y = y[:400]
    return X, [RandomForestClassifier(4, max_depth=6, random_state=0).fit(X, y),
               GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, y < 5),
               MLPClassifier((16,), max_iter=30, random_state=0).fit(X, y)]


@pytest.fixture(scope="module")
def models():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _models()


def test_save_writes_cu_and_header(models, tmp_path):
    _, ms = models
    for i, m in enumerate(ms):
        c = edgeinfer.convert(m, backend="cuda", name=f"m{i}")
        cu, h = c.save(tmp_path)
        assert f"int m{i}_predict(const float *x, int n, int32_t *label, float *scores)" in h.read_text()
        assert "__global__" in cu.read_text() and "malloc" not in cu.read_text().replace("cudaMalloc", "")


@pytest.mark.skipif(nvcc() is None, reason="nvcc is not installed")
def test_nvcc_compiles(models, tmp_path):
    _, ms = models
    for i, m in [(0, ms[0]), (2, ms[2])]:  # a forest and an MLP (nvcc is slow)
        c = edgeinfer.convert(m, backend="cuda", name=f"m{i}")
        try:
            obj = c.compile_object(tmp_path)
        except EdgeInferError as e:
            if "cuda_runtime.h" in str(e) or "cannot find" in str(e):
                pytest.skip(f"nvcc cannot compile here: {str(e)[:200]}")
            raise
        assert obj.stat().st_size > 0


def test_predict_without_gpu_is_a_clear_error(models):
    X, ms = models
    c = edgeinfer.convert(ms[0], backend="cuda", name="rf")
    if gpu_present() and nvcc():
        np.testing.assert_array_equal(c.predict(X), ms[0].predict(X))
    else:
        with pytest.raises(EdgeInferError, match="GPU|nvcc"):
            c.predict(X)


def test_unsupported_graph_is_refused():
    from sklearn.svm import SVC

    X = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(UnsupportedModelError, match="CUDA C"):
        edgeinfer.convert(SVC().fit(X, X[:, 0] > 0), backend="cuda")
