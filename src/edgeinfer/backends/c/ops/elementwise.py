"""C for elementwise unary ops."""

from __future__ import annotations

from edgeinfer.backends.c.registry import c_op


@c_op("Relu")
def relu(ctx, node) -> str:
    x, y = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    n = ctx.numel(node.outputs[0])
    return (f"const float *x = {x}; float *y = {y}; int32_t i;\n"
            f"for (i = 0; i < {n}; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;")


@c_op("Identity")
def identity(ctx, node) -> str:
    x, y = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    n = ctx.numel(node.outputs[0])
    t = ctx.ctype_of(node.outputs[0])
    return f"if ((const void *){y} != (const void *){x}) memmove({y}, {x}, {n} * sizeof({t}));"
