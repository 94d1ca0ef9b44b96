"""C for ArgMax over the last axis of one sample."""

from __future__ import annotations

from edgeinfer.backends.c.registry import c_op
from edgeinfer.errors import UnsupportedModelError


@c_op("ArgMax")
def argmax(ctx, node) -> str:
    t = ctx.graph.tensors[node.inputs[0]]
    axis = node.attr("axis", 1) % len(t.shape)
    if axis != len(t.shape) - 1:
        raise UnsupportedModelError("the C backend computes ArgMax over the last axis only")
    n = t.shape[-1]
    rows = t.numel(1) // n
    x, y = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    ct = ctx.ctype_of(node.inputs[0])
    return (f"const {ct} *x = {x}; int32_t *y = {y}; int32_t r, i;\n"
            f"for (r = 0; r < {rows}; ++r) {{\n"
            f"  const {ct} *v = x + r * {n}; int32_t best = 0;\n"
            f"  for (i = 1; i < {n}; ++i) if (v[i] > v[best]) best = i;\n"
            f"  y[r] = best;\n}}")
