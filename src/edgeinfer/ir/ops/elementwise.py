"""Elementwise unary ops (ONNX semantics)."""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register


class _Unary(OpDef):
    @staticmethod
    def infer(node, inputs):
        return [(inputs[0].shape, inputs[0].dtype)]


@register
class Relu(_Unary):
    name = "Relu"

    @staticmethod
    def reference(node, x):
        return (np.maximum(x, 0).astype(x.dtype),)


@register
class Identity(_Unary):
    name = "Identity"

    @staticmethod
    def reference(node, x):
        return (x.copy(),)


@register
class Sigmoid(_Unary):
    name = "Sigmoid"

    @staticmethod
    def reference(node, x):
        with np.errstate(over="ignore"):
            return ((1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype),)


@register
class Tanh(_Unary):
    name = "Tanh"

    @staticmethod
    def reference(node, x):
        return (np.tanh(x),)


@register
class Exp(_Unary):
    name = "Exp"

    @staticmethod
    def reference(node, x):
        return (np.exp(x),)


@register
class Softmax(_Unary):
    """Softmax over ``axis`` (ONNX opset 13 semantics, default the last axis)."""

    name = "Softmax"

    @staticmethod
    def reference(node, x):
        axis = node.attr("axis", -1)
        e = np.exp(x.astype(np.float64) - x.max(axis=axis, keepdims=True))
        return ((e / e.sum(axis=axis, keepdims=True)).astype(x.dtype),)
