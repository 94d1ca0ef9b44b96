"""ArgMax (ONNX semantics, int32 result so that C returns a plain int32_t)."""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require


@register
class ArgMax(OpDef):
    """Index of the largest value along ``axis``; ties go to the first index (as numpy/sklearn).

    attrs: axis (int, default 1), keepdims (0/1, default 0).
    """

    name = "ArgMax"

    @staticmethod
    def infer(node, inputs):
        shape = list(inputs[0].shape)
        axis = node.attr("axis", 1) % len(shape)
        require(axis > 0, node, "ArgMax over the batch axis is not supported")
        if node.attr("keepdims", 0):
            shape[axis] = 1
        else:
            del shape[axis]
        return [(tuple(shape), "int32")]

    @staticmethod
    def reference(node, x):
        axis = node.attr("axis", 1)
        r = np.argmax(x, axis=axis).astype(np.int32)
        return (np.expand_dims(r, axis) if node.attr("keepdims", 0) else r,)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": 0, "comparisons": inputs[0].numel(1)}
