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
