"""Arithmetic and activation ops of neural networks (ONNX semantics).

Binary ops broadcast as numpy (ONNX multidirectional broadcasting); activations are
elementwise; Gemm/MatMul are the dense layers. Several of these names may also be
defined by the linear-model ops: :func:`register_unless_defined` keeps the first
definition, so whichever module loads first wins and both agree on ONNX semantics.
"""

from __future__ import annotations

import math

import numpy as np

from edgeinfer.ir import registry
from edgeinfer.ir.registry import OpDef, require

_erf = np.vectorize(math.erf, otypes=[np.float64])


def register_unless_defined(cls: type[OpDef]) -> type[OpDef]:
    """Register ``cls`` unless an op of that name already exists (it then stays the one used)."""
    if cls.name not in registry._OPS:
        registry.register(cls)
    return cls


def broadcast_shapes(*shapes: tuple) -> tuple:
    """numpy broadcasting where ``None`` (symbolic batch) broadcasts like an unknown size."""
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes], strict=True):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast")
        if known:
            out.append(known.pop())
        elif None in dims:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


# fused activation (set by passes.fuse_activations on Conv / Gemm / ConvTranspose)
def apply_activation(node, y: np.ndarray) -> np.ndarray:
    """Apply a node's fused ``activation`` attribute ("Relu" or "Clip" with min/max)."""
    act = node.attr("activation", "")
    if not act:
        return y
    lo, hi = node.attr("activation_params", [0.0, float("inf")])
    return np.clip(y, np.float32(lo), np.float32(hi)).astype(y.dtype)


# ---------------------------------------------------------------- binary
class _Binary(OpDef):
    fn = staticmethod(np.add)

    @classmethod
    def infer(cls, node, inputs):
        a, b = inputs
        return [(broadcast_shapes(a.shape, b.shape), a.dtype)]

    @classmethod
    def reference(cls, node, a, b):
        return (np.asarray(cls.fn(a, b)).astype(a.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1), "comparisons": 0}


@register_unless_defined
class Add(_Binary):
    name = "Add"
    fn = staticmethod(np.add)


@register_unless_defined
class Sub(_Binary):
    name = "Sub"
    fn = staticmethod(np.subtract)


@register_unless_defined
class Mul(_Binary):
    name = "Mul"
    fn = staticmethod(np.multiply)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float division, or integer division truncating toward zero as C (and ONNX) does.

    An integer division by zero, undefined in C (a crash on most CPUs), is defined here as 0, and
    the generated C and the interpreter test for it, so a zero divisor in the data never traps."""
    a, b = np.asarray(a), np.asarray(b)
    if not np.issubdtype(a.dtype, np.integer):
        return np.divide(a, b)
    bs = np.where(b == 0, 1, b).astype(b.dtype)
    with np.errstate(all="ignore"):  # INT_MIN / -1 wraps, as the C computes it
        q = np.floor_divide(a, bs)
        r = a - q * bs
        q = q + ((r != 0) & ((a < 0) != (bs < 0))).astype(q.dtype)
    return np.where(b == 0, 0, q).astype(a.dtype)


@register_unless_defined
class Div(_Binary):
    name = "Div"
    fn = staticmethod(_div)


@register_unless_defined
class Pow(_Binary):
    """X ** Y; the result has X's dtype (Y may be another numeric type)."""

    name = "Pow"

    @staticmethod
    def fn(a, b):
        return np.power(a.astype(np.float64), b.astype(np.float64))


# ---------------------------------------------------------------- unary
class _Unary(OpDef):
    @staticmethod
    def infer(node, inputs):
        return [(inputs[0].shape, inputs[0].dtype)]

    @classmethod
    def reference(cls, node, x):
        return (np.asarray(cls.fn(node, x.astype(np.float64))).astype(x.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": outputs[0].numel(1), "comparisons": 0}


@register_unless_defined
class Sigmoid(_Unary):
    name = "Sigmoid"

    @staticmethod
    def fn(node, x):
        return 1.0 / (1.0 + np.exp(-x))


@register_unless_defined
class Tanh(_Unary):
    name = "Tanh"

    @staticmethod
    def fn(node, x):
        return np.tanh(x)


@register_unless_defined
class Exp(_Unary):
    name = "Exp"

    @staticmethod
    def fn(node, x):
        return np.exp(x)


@register_unless_defined
class Sqrt(_Unary):
    name = "Sqrt"

    @staticmethod
    def fn(node, x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)


@register_unless_defined
class Erf(_Unary):
    name = "Erf"

    @staticmethod
    def fn(node, x):
        return _erf(x) if x.size else x


@register_unless_defined
class LeakyRelu(_Unary):
    """attrs: alpha (default 0.01)."""

    name = "LeakyRelu"

    @staticmethod
    def fn(node, x):
        return np.where(x >= 0, x, x * np.float32(node.attr("alpha", 0.01)))


@register_unless_defined
class Clip(_Unary):
    """Clamp to [min, max]; here min/max are attributes (the frontend reads ONNX's constant inputs)."""

    name = "Clip"

    @classmethod
    def reference(cls, node, x):
        lo, hi = node.attr("min", None), node.attr("max", None)
        y = x
        if lo is not None:
            y = np.maximum(y, np.asarray(lo).astype(x.dtype))
        if hi is not None:
            y = np.minimum(y, np.asarray(hi).astype(x.dtype))
        return (np.asarray(y).astype(x.dtype),)


@register_unless_defined
class HardSigmoid(_Unary):
    """max(0, min(1, alpha * x + beta)); attrs alpha (0.2), beta (0.5)."""

    name = "HardSigmoid"

    @staticmethod
    def fn(node, x):
        a, b = np.float32(node.attr("alpha", 0.2)), np.float32(node.attr("beta", 0.5))
        return np.clip(x.astype(np.float32) * a + b, 0, 1)


@register_unless_defined
class HardSwish(_Unary):
    """x * HardSigmoid(x) with alpha 1/6, beta 0.5."""

    name = "HardSwish"

    @staticmethod
    def fn(node, x):
        return x * np.clip(x / 6.0 + 0.5, 0, 1)


class _SoftmaxBase(_Unary):
    """attrs: axis (default -1, opset-13 semantics: normalise along one axis)."""

    log = False

    @classmethod
    def reference(cls, node, x):
        axis = node.attr("axis", -1)
        x64 = x.astype(np.float64)
        z = x64 - np.max(x64, axis=axis, keepdims=True)
        s = np.sum(np.exp(z), axis=axis, keepdims=True)
        y = z - np.log(s) if cls.log else np.exp(z) / s
        return (y.astype(x.dtype),)


@register_unless_defined
class Softmax(_SoftmaxBase):
    name = "Softmax"


@register_unless_defined
class LogSoftmax(_SoftmaxBase):
    name = "LogSoftmax"
    log = True


# ---------------------------------------------------------------- dense layers
@register_unless_defined
class Gemm(OpDef):
    """Y = alpha * op(A) @ op(B) + beta * C; attrs alpha, beta, transA, transB (+ fused activation)."""

    name = "Gemm"
    fused_activation = True

    @staticmethod
    def infer(node, inputs):
        a, b = inputs[0].shape, inputs[1].shape
        require(len(a) == 2 and len(b) == 2, node, f"Gemm needs 2-D A and B, got {a} and {b}")
        m = a[1] if node.attr("transA", 0) else a[0]
        ka = a[0] if node.attr("transA", 0) else a[1]
        kb = b[1] if node.attr("transB", 0) else b[0]
        n = b[0] if node.attr("transB", 0) else b[1]
        require(ka == kb, node, f"inner dimensions differ: A {a}, B {b}")
        return [((m, n), inputs[0].dtype)]

    @staticmethod
    def reference(node, a, b, c=None):
        a2 = a.T if node.attr("transA", 0) else a
        b2 = b.T if node.attr("transB", 0) else b
        y = node.attr("alpha", 1.0) * (a2.astype(np.float64) @ b2.astype(np.float64))
        if c is not None:
            y = y + node.attr("beta", 1.0) * c.astype(np.float64)
        return (apply_activation(node, y.astype(a.dtype)),)

    @staticmethod
    def cost(node, inputs, outputs):
        k = inputs[0].shape[0 if node.attr("transA", 0) else 1]
        return {"macs": outputs[0].numel(1) * int(k), "comparisons": 0}


@register_unless_defined
class MatMul(OpDef):
    """numpy matmul semantics (batched, broadcasting leading dims)."""

    name = "MatMul"

    @staticmethod
    def infer(node, inputs):
        a, b = list(inputs[0].shape), list(inputs[1].shape)
        require(len(a) >= 1 and len(b) >= 1, node, "MatMul of scalars")
        va, vb = len(a) == 1, len(b) == 1
        if va:
            a = [1] + a
        if vb:
            b = b + [1]
        require(a[-1] == b[-2] or None in (a[-1], b[-2]), node, f"inner dimensions differ: {a} and {b}")
        lead = broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
        out = list(lead) + [a[-2], b[-1]]
        if vb:
            out.pop(-1)
        if va:
            out.pop(-2 if not vb else -1)
        return [(tuple(out), inputs[0].dtype)]

    @staticmethod
    def reference(node, a, b):
        return (np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        k = inputs[0].shape[-1] or 1
        return {"macs": outputs[0].numel(1) * int(k), "comparisons": 0}


# ---------------------------------------------------------------- reductions
def reduce_axes(node, rank: int) -> list[int]:
    """The reduced axes (attr ``axes``; none given = all, unless noop_with_empty_axes)."""
    axes = node.attr("axes", None)
    if axes is None or len(axes) == 0:
        return [] if node.attr("noop_with_empty_axes", 0) else list(range(rank))
    return sorted(int(a) % rank for a in axes)


class _Reduce(OpDef):
    fn = staticmethod(np.sum)

    @classmethod
    def infer(cls, node, inputs):
        shape = list(inputs[0].shape)
        axes = reduce_axes(node, len(shape))
        if node.attr("keepdims", 1):
            out = [1 if i in axes else d for i, d in enumerate(shape)]
        else:
            out = [d for i, d in enumerate(shape) if i not in axes]
        return [(tuple(out), inputs[0].dtype)]

    @classmethod
    def reference(cls, node, x):
        axes = reduce_axes(node, x.ndim)
        if not axes:
            return (x.copy(),)
        y = cls.fn(x.astype(np.float64) if cls.name != "ReduceMax" else x, axis=tuple(axes),
                   keepdims=bool(node.attr("keepdims", 1)))
        return (np.asarray(y).astype(x.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": inputs[0].numel(1), "comparisons": 0}


@register_unless_defined
class ReduceSum(_Reduce):
    name = "ReduceSum"
    fn = staticmethod(np.sum)


@register_unless_defined
class ReduceMean(_Reduce):
    name = "ReduceMean"
    fn = staticmethod(np.mean)


@register_unless_defined
class ReduceMax(_Reduce):
    name = "ReduceMax"
    fn = staticmethod(np.max)
