"""The static memory planner: no two live tensors overlap; in-place reuse; peak <= naive."""

import numpy as np

from edgeinfer.ir import Graph, run
from edgeinfer.passes.memory import plan_memory


def _chain(n: int, width: int) -> Graph:
    g = Graph("chain")
    g.add_input("x", (1, width))
    prev = "x"
    for i in range(n):
        g.add_node("Identity", [prev], [f"a{i}"])
        prev = f"a{i}"
    g.add_node("Relu", [prev], ["y"])
    g.outputs.append("y")
    return g.validate()


def _live_ranges(g: Graph) -> dict[str, tuple[int, int]]:
    r: dict[str, tuple[int, int]] = {}
    for i, n in enumerate(g.nodes):
        for o in n.outputs:
            r.setdefault(o, (i, i))
        for x in n.inputs:
            if x in r:
                r[x] = (r[x][0], i)
    return r


def test_no_overlap_between_live_tensors():
    g = Graph("branches")
    g.add_input("x", (1, 10))
    g.add_node("Identity", ["x"], ["a"])
    g.add_node("Identity", ["x"], ["b"])
    g.add_node("Relu", ["a"], ["c"])
    g.add_node("Relu", ["b"], ["d"])
    g.add_node("ArgMax", ["c"], ["y"], axis=1)
    g.add_node("ArgMax", ["d"], ["z"], axis=1)
    g.outputs += ["y", "z"]
    p = plan_memory(g.validate(), inplace=False)
    rng = _live_ranges(p)
    arena = [t for t in rng if p.tensors[t].offset is not None]
    for i, s in enumerate(arena):
        for t in arena[i + 1:]:
            (f1, l1), (f2, l2) = rng[s], rng[t]
            if l1 < f2 or l2 < f1:
                continue
            a0, a1 = p.tensors[s].offset, p.tensors[s].offset + p.tensors[s].nbytes()
            b0, b1 = p.tensors[t].offset, p.tensors[t].offset + p.tensors[t].nbytes()
            assert a1 <= b0 or b1 <= a0, (s, t)
    assert p.metadata["arena_bytes"] <= p.metadata["arena_naive_bytes"]


def test_chain_reuses_two_buffers_or_fewer():
    g = _chain(6, 100)
    p = plan_memory(g, inplace=False)
    assert p.metadata["arena_bytes"] == 2 * 400
    assert p.metadata["arena_naive_bytes"] == 6 * 400
    pi = plan_memory(g, inplace=True)
    assert pi.metadata["arena_bytes"] == 400  # every Identity writes in place


def test_planning_keeps_semantics_and_input_graph():
    g = _chain(3, 8)
    p = plan_memory(g)
    assert all(t.offset is None for t in g.tensors.values())
    x = np.random.default_rng(0).normal(size=(1, 8)).astype(np.float32)
    np.testing.assert_array_equal(run(p, x)["y"], np.maximum(x, 0))
