"""C for the ops of ``ir/ops/quantized_act.py``: calls into ``ei_act_s8.c`` (see ``ei_act_s8.h``).

As in ``quantized.py``, the fixed-point multipliers come from the very functions the IR
reference uses and land in flash as ``static const int32_t`` tables; Max / Min / Cast are
plain loops over the element type.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.ops.quantized import _broadcast_index, _i32
from edgeinfer.backends.c.ops.shape import c_op_unless_defined, dims, loop_nest, strides_of
from edgeinfer.backends.c.registry import c_op
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.ops.quantized_act import (
    hard_swish_params,
    leaky_relu_params,
    prelu_params,
    relu_params,
    requantize_u8_params,
    sub_params,
)


def _unary(ctx, node, fn: str, q: list[int]) -> str:
    ctx.use_kernel("ei_act_s8")
    return (f"{fn}({ctx.ref(node.inputs[0])}, {_i32(ctx, node, 'q', q)}, {ctx.numel(node.outputs[0])}, "
            f"{ctx.ref(node.outputs[0])});")


@c_op("QRelu")
def qrelu(ctx, node) -> str:
    m, s = relu_params(node)
    return _unary(ctx, node, "ei_relu_s8", [node.attr("in_zp"), node.attr("out_zp"), m, s,
                                            node.attr("act_min", -128), node.attr("act_max", 127)])


@c_op("QLeakyRelu")
def qleaky_relu(ctx, node) -> str:
    return _unary(ctx, node, "ei_leaky_relu_s8", [node.attr("in_zp"), node.attr("out_zp"), *leaky_relu_params(node)])


@c_op("QHardSwish")
def qhard_swish(ctx, node) -> str:
    p = hard_swish_params(node)
    if p["out_exp"] > 0:
        raise UnsupportedModelError(f"QHardSwish node {node.name!r}: output scale below in_scale / 128 "
                                    "(TFLite requires the output multiplier's exponent <= 0)")
    return _unary(ctx, node, "ei_hard_swish_s8", [node.attr("in_zp"), node.attr("out_zp"), p["out_mult"],
                                                  p["out_exp"], p["relu_mult"], p["relu_exp"]])


@c_op("QPRelu")
def qprelu(ctx, node) -> str:
    q = [node.attr("in_zp"), node.attr("alpha_zp"), node.attr("out_zp"), *prelu_params(node)]
    ctx.use_kernel("ei_act_s8")
    return (f"ei_prelu_s8({ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_broadcast_index(ctx, node, 0)}, "
            f"{_broadcast_index(ctx, node, 1)}, {_i32(ctx, node, 'q', q)}, {ctx.numel(node.outputs[0])}, "
            f"{ctx.ref(node.outputs[0])});")


@c_op("QSub")
def qsub(ctx, node) -> str:
    p = sub_params(node)
    q = [node.attr("a_zp"), node.attr("b_zp"), node.attr("out_zp"), node.attr("act_min", -128),
         node.attr("act_max", 127), p["left_shift"], p["m1"], p["s1"], p["m2"], p["s2"], p["mo"], p["so"]]
    ctx.use_kernel("ei_act_s8")
    return (f"ei_sub_s8({ctx.ref(node.inputs[0])}, {ctx.ref(node.inputs[1])}, {_broadcast_index(ctx, node, 0)}, "
            f"{_broadcast_index(ctx, node, 1)}, {_i32(ctx, node, 'q', q)}, {ctx.numel(node.outputs[0])}, "
            f"{ctx.ref(node.outputs[0])});")


@c_op("QRequantizeU8")
def qrequantize_u8(ctx, node) -> str:
    src, dst = ctx.graph.tensors[node.inputs[0]].dtype, node.attr("to", "int8")
    m, s = requantize_u8_params(node)
    q = [node.attr("in_zp"), node.attr("out_zp"), m, s]
    if (src, dst) == ("uint8", "int8"):
        return _unary(ctx, node, "ei_requantize_u8_s8", q)
    if (src, dst) == ("int8", "uint8"):
        return _unary(ctx, node, "ei_requantize_s8_u8", q)
    raise UnsupportedModelError(f"QRequantizeU8 node {node.name!r}: no C kernel from {src} to {dst}")


def _bcast_strides(shape: list[int], out: list[int]) -> list[int]:
    """Strides of ``shape`` read at the indices of ``out`` (0 where it is broadcast)."""
    full = [1] * (len(out) - len(shape)) + list(shape)
    st = strides_of(full)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(full, out, st, strict=True)]


@c_op_unless_defined("Max", "Min")
def max_min(ctx, node) -> str:
    """Elementwise max / min of the raw values (any integer or float element type), broadcasting."""
    out = dims(ctx, node.outputs[0])
    t = ctx.ctype_of(node.outputs[0])
    cmp = ">" if node.op == "Max" else "<"
    names = [f"X{i}" for i in range(len(node.inputs))]
    lines = [f"const {t} *{n} = {ctx.ref(i)};" for n, i in zip(names, node.inputs, strict=True)]
    lines.append(f"{t} *Y = {ctx.ref(node.outputs[0])};")
    body = [f"{t} v = {names[0]}[s0];"]
    for k in range(1, len(names)):
        body.append(f"if ({names[k]}[s{k}] {cmp} v) v = {names[k]}[s{k}];")
    body.append("Y[o] = v;")
    offsets = {"o": (0, strides_of(out))}
    offsets.update({f"s{k}": (0, _bcast_strides(dims(ctx, i), out)) for k, i in enumerate(node.inputs)})
    return "\n".join(lines) + "\n{\n" + loop_nest(out, offsets, " ".join(body)) + "\n}"


@c_op_unless_defined("Cast")
def cast(ctx, node) -> str:
    src, dst = ctx.ctype_of(node.inputs[0]), ctx.ctype_of(node.outputs[0])
    if src != dst and {src, dst} & {"float", "double"}:
        raise UnsupportedModelError(f"Cast node {node.name!r}: the C backend casts between integer types only")
    n = int(np.prod(dims(ctx, node.outputs[0])))
    return (f"const {src} *x = {ctx.ref(node.inputs[0])}; {dst} *y = {ctx.ref(node.outputs[0])}; int32_t i;\n"
            f"for (i = 0; i < {n}; ++i) y[i] = ({dst})x[i];")
