"""C for elementwise unary ops."""

from __future__ import annotations

from edgeinfer.backends.c.ops.shape import copy_block
from edgeinfer.backends.c.registry import c_op


@c_op("Relu")
def relu(ctx, node) -> str:
    x, y = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    n = ctx.numel(node.outputs[0])
    return (f"const float *x = {x}; float *y = {y}; int32_t i;\n"
            f"for (i = 0; i < {n}; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;")


@c_op("Identity")
def identity(ctx, node) -> str:
    return copy_block(ctx, node, node.inputs[0], node.outputs[0])


def _kernel_unary(kernel: str):
    def emit(ctx, node) -> str:
        ctx.use_kernel("ei_activation")
        y, n = ctx.ref(node.outputs[0]), ctx.numel(node.outputs[0])
        return copy_block(ctx, node, node.inputs[0], node.outputs[0]) + f"\n{kernel}({y}, {n});"
    return emit


c_op("Sigmoid")(_kernel_unary("ei_sigmoid_f32"))
c_op("Tanh")(_kernel_unary("ei_tanh_f32"))


@c_op("Exp")
def exp(ctx, node) -> str:
    x, y = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    n = ctx.numel(node.outputs[0])
    return f"const float *x = {x}; float *y = {y}; int32_t i;\nfor (i = 0; i < {n}; ++i) y[i] = expf(x[i]);"


@c_op("Softmax")
def softmax(ctx, node) -> str:
    """Softmax over the last axis, one row at a time."""
    t = ctx.graph.tensors[node.inputs[0]]
    if node.attr("axis", -1) % len(t.shape) != len(t.shape) - 1:
        from edgeinfer.errors import UnsupportedModelError

        raise UnsupportedModelError("the C backend computes Softmax over the last axis only")
    ctx.use_kernel("ei_activation")
    y = ctx.ref(node.outputs[0])
    n, last = ctx.numel(node.outputs[0]), t.shape[-1]
    return ("int32_t r;\n" + copy_block(ctx, node, node.inputs[0], node.outputs[0]) + "\n"
            + f"for (r = 0; r < {n // last}; ++r) ei_softmax_f32({y} + r * {last}, {last});")
