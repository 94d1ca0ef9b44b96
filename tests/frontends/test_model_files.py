"""Model files: .skops loads safely, pickles only when trusted, corrupt files give one clear error."""

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import edgeinfer
from edgeinfer.errors import ModelFileError
from edgeinfer.frontends.model_files import load_pickle, load_skops


@pytest.fixture(scope="module")
def iris_tree():
    X, y = load_iris(return_X_y=True)
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(X.astype(np.float32), y), X.astype(np.float32)


def test_skops_round_trip_converts(tmp_path, iris_tree):
    clf, X = iris_tree
    sio.dump(clf, tmp_path / "m.skops")
    est = load_skops(tmp_path / "m.skops")
    np.testing.assert_array_equal(est.predict(X), clf.predict(X))
    m = edgeinfer.convert(str(tmp_path / "m.skops"))
    assert m.name == "m"
    np.testing.assert_array_equal(m.predict(X), clf.predict(X))


def test_pickle_needs_trust(tmp_path, iris_tree):
    clf, X = iris_tree
    joblib.dump(clf, tmp_path / "m.joblib")
    with pytest.raises(ModelFileError, match="trust_pickle=True"):
        edgeinfer.convert(str(tmp_path / "m.joblib"))
    m = edgeinfer.convert(str(tmp_path / "m.joblib"), trust_pickle=True)
    np.testing.assert_array_equal(m.predict(X), clf.predict(X))
    assert load_pickle(tmp_path / "m.joblib", trust=True).get_params() == clf.get_params()


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04" + b"\0" * 40])
def test_corrupt_skops_is_one_clear_error(tmp_path, content):
    p = tmp_path / "bad.skops"
    p.write_bytes(content)
    with pytest.raises(ModelFileError, match="bad.skops"):
        edgeinfer.convert(str(p))


def test_truncated_skops(tmp_path, iris_tree):
    sio.dump(iris_tree[0], tmp_path / "m.skops")
    data = (tmp_path / "m.skops").read_bytes()
    (tmp_path / "cut.skops").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        edgeinfer.convert(str(tmp_path / "cut.skops"))


def test_corrupt_pickle(tmp_path):
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelFileError, match="could not be unpickled"):
        load_pickle(tmp_path / "bad.pkl", trust=True)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        edgeinfer.convert(str(tmp_path / "nope.skops"))
    (tmp_path / "m.xyz").write_text("x")
    with pytest.raises(ModelFileError, match="unknown model file type"):
        edgeinfer.convert(str(tmp_path / "m.xyz"))
