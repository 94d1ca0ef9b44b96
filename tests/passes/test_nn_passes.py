"""Each graph pass alone: same answers as before, the intended rewrite done."""

import numpy as np

from edgeinfer.ir import Graph, run
from edgeinfer.passes.dead_code import remove_dead_code
from edgeinfer.passes.fold_batchnorm import fold_batchnorm
from edgeinfer.passes.fold_constants import fold_constants
from edgeinfer.passes.fuse_activations import fuse_activations

RNG = np.random.default_rng(0)


def _conv_bn_relu() -> Graph:
    g = Graph("cbr")
    g.add_input("x", (None, 2, 5, 5))
    w = g.add_const("w", RNG.normal(size=(3, 2, 3, 3)).astype(np.float32))
    b = g.add_const("b", RNG.normal(size=3).astype(np.float32))
    stats = [g.add_const(n, v.astype(np.float32)) for n, v in
             (("s", RNG.uniform(0.5, 2, 3)), ("o", RNG.normal(size=3)), ("m", RNG.normal(size=3)),
              ("v", RNG.uniform(0.5, 2, 3)))]
    g.add_node("Conv", ["x", w, b], ["c"], pads=[1, 1, 1, 1])
    g.add_node("BatchNormalization", ["c", *stats], ["n"], epsilon=1e-3)
    g.add_node("Relu", ["n"], ["y"])
    g.outputs.append("y")
    return g.validate()


def test_fold_batchnorm_then_fuse_relu_keep_results():
    g = _conv_bn_relu()
    x = RNG.normal(size=(2, 2, 5, 5)).astype(np.float32)
    want = run(g, x)["y"]
    f = fold_batchnorm(g).validate()
    assert [n.op for n in f.nodes] == ["Conv", "Relu"]
    np.testing.assert_allclose(run(f, x)["y"], want, rtol=1e-5, atol=1e-6)
    h = fuse_activations(f).validate()
    assert [n.op for n in h.nodes] == ["Conv"] and h.nodes[0].attr("activation") == "Relu"
    np.testing.assert_allclose(run(h, x)["y"], want, rtol=1e-5, atol=1e-6)


def test_fold_constants_and_dead_code():
    g = Graph("fc")
    g.add_input("x", (None, 3))
    a = g.add_const("a", np.array([1, 2, 3], np.float32))
    g.add_node("Exp", [a], ["ea"])
    g.add_node("Add", ["x", "ea"], ["y"])
    g.add_node("Sqrt", ["x"], ["unused"])
    g.outputs.append("y")
    g.validate()
    f = fold_constants(g)
    assert f.tensors["ea"].is_const and [n.op for n in f.nodes] == ["Add", "Sqrt"]
    d = remove_dead_code(f).validate()
    assert [n.op for n in d.nodes] == ["Add"] and "unused" not in d.tensors and "a" not in d.tensors
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(run(d, x)["y"], run(g, x)["y"])
