"""Graph building, validation, shape inference, the reference interpreter and the cost model."""

import numpy as np
import pytest

from edgeinfer.errors import GraphError, InputError
from edgeinfer.ir import Graph, graph_cost, run


def _relu_argmax() -> Graph:
    g = Graph("t")
    g.add_input("x", (None, 4))
    g.add_node("Relu", ["x"], ["h"])
    g.add_node("ArgMax", ["h"], ["label"], axis=1)
    g.outputs += ["label", "h"]
    return g


def test_infer_and_run_match_numpy():
    g = _relu_argmax().validate()
    assert g.tensors["label"].shape == (None,) and g.tensors["label"].dtype == "int32"
    x = np.array([[-1, 2, 3, -4], [5, -6, 0, 1]], np.float32)
    out = run(g, x)
    np.testing.assert_array_equal(out["h"], np.maximum(x, 0))
    np.testing.assert_array_equal(out["label"], [2, 0])


def test_run_accepts_single_sample_and_rejects_wrong_shape():
    g = _relu_argmax().validate()
    assert run(g, np.ones(4, np.float32))["label"].shape == (1,)
    with pytest.raises(InputError, match="expected"):
        run(g, np.ones((2, 5), np.float32))


def test_validate_reports_every_problem():
    g = Graph("bad")
    g.add_input("x", (None, 4))
    g.add_node("Relu", ["nowhere"], ["h"])
    g.add_node("NoSuchOp", ["x"], ["k"])
    g.outputs += ["missing"]
    with pytest.raises(GraphError) as e:
        g.validate()
    msg = str(e.value)
    assert "nowhere" in msg and "NoSuchOp" in msg and "missing" in msg


def test_validate_rejects_non_topological_order():
    g = Graph("order")
    g.add_input("x", (None, 2))
    g.add_node("Relu", ["h"], ["y"])
    g.add_node("Relu", ["x"], ["h"])
    g.outputs.append("y")
    with pytest.raises(GraphError, match="before it is produced"):
        g.validate()


def test_validate_rejects_double_definition_and_bad_constant():
    g = Graph("dup")
    g.add_input("x", (None, 2))
    g.add_node("Relu", ["x"], ["y"])
    g.add_node("Relu", ["x"], ["y"])
    g.outputs.append("y")
    with pytest.raises(GraphError, match="produced twice"):
        g.validate()
    g2 = Graph("c")
    g2.add_input("x", (None, 2))
    c = g2.add_const("w", np.zeros(3, np.float32))
    g2.tensors[c].shape = (4,)
    g2.add_node("Relu", ["x"], ["y"])
    g2.outputs.append("y")
    with pytest.raises(GraphError, match="data shape"):
        g2.validate()


def test_cost_counts_constants_once_and_comparisons():
    g = _relu_argmax().validate()
    c = graph_cost(g)
    assert c["comparisons"] == 4  # ArgMax over 4 values
    assert c["param_bytes"] == 0
    assert c["activation_bytes"] == 4 * 4 + 4
