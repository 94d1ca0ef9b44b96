"""The public API's contract at the edge: clear errors for what a user can get wrong."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import edgeinfer
from edgeinfer.errors import EdgeInferError, InputError, NotFittedError, UnsupportedModelError


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), y


def test_unfitted_model_is_refused(iris):
    with pytest.raises(NotFittedError, match="not fitted"):
        edgeinfer.convert(DecisionTreeClassifier())


def test_unsupported_estimator_names_it_and_lists_supported(iris):
    X, _ = iris
    with pytest.raises(UnsupportedModelError, match="DBSCAN.*Supported estimators:.*DecisionTreeClassifier"):
        edgeinfer.convert(DBSCAN().fit(X))


def test_unsupported_object_type():
    with pytest.raises(UnsupportedModelError, match="cannot convert"):
        edgeinfer.convert(object())


def test_wrong_feature_count_and_nan(iris):
    X, y = iris
    m = edgeinfer.convert(DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y), name="iris_api")
    with pytest.raises(InputError, match=r"shape \(4,\)"):
        m.predict(X[:, :3])
    bad = X[:5].copy()
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match="row 2, feature 1"):
        m.predict(bad)
    with pytest.raises(InputError, match="numeric"):
        m.predict(np.array([["a", "b", "c", "d"]]))
    # one sample without the batch dimension works and agrees with a batch of one
    assert m.predict(X[0]).tolist() == m.predict(X[:1]).tolist()


def test_io_description_and_labels(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, labels)
    m = edgeinfer.convert(clf, name="iris_str")
    assert m.input_shape == (4,) and m.input_dtype == np.float32
    assert m.output_shape == (3,) and m.output_dtype == np.float32
    np.testing.assert_array_equal(m.predict(X), clf.predict(X))


def test_regressor_has_no_proba(iris):
    X, y = iris
    m = edgeinfer.convert(DecisionTreeRegressor(max_depth=3).fit(X, y.astype(float)), name="iris_reg")
    with pytest.raises(EdgeInferError, match="no class probabilities"):
        m.predict_proba(X)


def test_bad_name_and_backend(iris):
    X, y = iris
    clf = DecisionTreeClassifier(max_depth=2).fit(X, y)
    with pytest.raises(EdgeInferError, match="C identifier"):
        edgeinfer.convert(clf, name="my-model")
    with pytest.raises(EdgeInferError, match="unknown backend"):
        edgeinfer.convert(clf, backend="fpga9000")


def test_footprint_keys(iris):
    X, y = iris
    fp = edgeinfer.convert(DecisionTreeClassifier(max_depth=3).fit(X, y), name="iris_fp").footprint()
    assert {"flash_bytes", "ram_bytes", "arena_bytes", "stack_bytes"} <= set(fp)
    assert fp["flash_bytes"] > 0
