"""Run-time data cannot crash the generated C or the interpreter: integer division by zero gives 0
(hand-computed), an integer INT_MIN / -1 wraps, and a Gather index outside the axis gives zeros, in the
IR reference, the generated C and the interpreter alike."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx_c import run_c

import edgeinfer
from edgeinfer.frontends.onnx import from_onnx
from edgeinfer.ir import run


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_integer_division_by_zero_is_zero_and_int_min_wraps(tmp_path):
    b = np.array([0, 1, -1, 2, -2, 0, 3, -1], np.int32)
    m = _model([helper.make_node("Div", ["x", "b"], ["y"])],
               [helper.make_tensor_value_info("x", TensorProto.INT32, [None, 8])],
               [helper.make_tensor_value_info("y", TensorProto.INT32, [None, 8])],
               [numpy_helper.from_array(b, "b")])
    g = from_onnx(m)
    x = np.array([[7, -7, -2**31, -7, 7, -5, 2**31 - 1, 5], [0, 9, 5, 9, -9, 1, -10, 2**31 - 1]], np.int32)
    want = np.array([[0, -7, -2**31, -3, -3, 0, 715827882, -5],
                     [0, 9, -5, 4, 4, 0, -3, -(2**31 - 1)]], np.int32)  # truncation toward zero, /0 -> 0
    assert np.array_equal(run(g, x)[g.outputs[0]], want)
    assert np.array_equal(run_c(g, [x])[0], want)
    path = tmp_path / "div.onnx"
    onnx.save(m, path)
    assert np.array_equal(edgeinfer.convert(str(path), backend="interp").run(x)["y"], want)


def test_gather_index_outside_axis_reads_zeros(tmp_path):
    table = np.arange(1, 13, dtype=np.float32).reshape(4, 3)
    m = _model([helper.make_node("Gather", ["t", "i"], ["y"], axis=0)],
               [helper.make_tensor_value_info("i", TensorProto.INT64, [None, 3])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3, 3])],
               [numpy_helper.from_array(table, "t")])
    g = from_onnx(m)
    idx = np.array([[0, -1, 4], [99, -5, 2]], np.int64)
    want = np.zeros((2, 3, 3), np.float32)
    want[0, 0], want[0, 1], want[1, 2] = table[0], table[3], table[2]
    assert np.array_equal(run(g, idx)[g.outputs[0]], want)
    assert np.array_equal(run_c(g, [idx])[0], want)
    path = tmp_path / "gather.onnx"
    onnx.save(m, path)
    assert np.array_equal(edgeinfer.convert(str(path), backend="interp").run(idx)["y"], want)


def test_integer_clip_bounds_at_type_limits_and_crossed_follow_the_ir():
    """int8 Clip with a bound at the type's limit compiles under -Werror; crossed bounds give min(max(v, lo), hi)."""
    from edgeinfer.ir.graph import Graph

    x = np.arange(-128, 128, dtype=np.int8)[None]
    for lo, hi in [(-128, 127), (-5, 127), (-128, 9), (10, -10), (-3, 4)]:
        g = Graph(f"clip_{lo}_{hi}".replace("-", "m"))
        g.add_input("x", (None, 256), "int8")
        g.add_node("Clip", ["x"], ["y"], name="clip", min=lo, max=hi)
        g.outputs.append("y")
        g.infer_shapes()
        want = np.minimum(np.maximum(x.astype(np.int64), lo), hi).astype(np.int8)  # hand rule: max, then min
        assert np.array_equal(run(g, x)["y"], want)
        assert np.array_equal(run_c(g, [x])[0], want)
