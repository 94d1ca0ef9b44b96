"""Feature preprocessing: per-feature scaling and linear projection (PCA).

* ``Scaler(X, p0, p1, ...)``: per-feature arithmetic steps applied in order, attr
  ``steps`` (e.g. ``["sub", "div"]``; one constant (n,) input per step: ``sub``, ``add``,
  ``mul``, ``div``), attr ``precision`` (``float32`` or ``float64``) and optional attr
  ``clip`` = ``[lo, hi]``. Each step is rounded to float32, as scikit-learn's in-place
  ``X -= p`` on a float32 X is: StandardScaler casts its parameters to float32 first
  (``precision="float32"``); MinMaxScaler, MaxAbsScaler and RobustScaler keep them float64
  (``precision="float64"``: the step is computed in double, then rounded). The reference
  therefore equals scikit-learn's ``transform`` bit for bit.
* ``Projection(X, components (k, n), offset (k,), scale (k,))``: ``(X @ C.T - offset) / scale``
  in float64, rounded to float32 (PCA's ``transform``: offset = mean @ C.T, scale =
  sqrt(explained variance) when whitening, else omitted). scikit-learn keeps this result
  in float64; the graph carries float32, which is the one place a pipeline rounds
  (documented in ``frontends/sklearn/preprocessing.py``).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require

STEPS = ("sub", "add", "mul", "div")


def apply_step(x: np.ndarray, step: str, p: np.ndarray) -> np.ndarray:
    """One in-place-style step: computed in ``p``'s dtype, rounded to ``x``'s (float32)."""
    if step == "sub":
        y = x - p
    elif step == "add":
        y = x + p
    elif step == "mul":
        y = x * p
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = x / p
    return y.astype(x.dtype)


@register
class Scaler(OpDef):
    """Per-feature affine steps (see module docstring)."""

    name = "Scaler"

    @staticmethod
    def infer(node, inputs):
        x = inputs[0]
        steps = list(node.attr("steps", []))
        require(all(s in STEPS for s in steps), node, f"steps must be among {STEPS}")
        require(len(inputs) == 1 + len(steps), node, "expects one parameter per step")
        require(node.attr("precision", "float32") in ("float32", "float64"), node, "precision is float32 or float64")
        for p in inputs[1:]:
            require(p is not None and p.is_const and tuple(p.shape) == (x.shape[-1],), node,
                    f"each parameter must be a constant of shape ({x.shape[-1]},)")
        return [(x.shape, "float32")]

    @staticmethod
    def reference(node, x, *params):
        prec = np.dtype(node.attr("precision", "float32"))
        y = np.asarray(x, dtype=np.float32).copy()
        for step, p in zip(node.attr("steps", []), params, strict=True):
            y = apply_step(y, step, np.asarray(p).astype(prec))
        clip = node.attr("clip")
        if clip is not None:
            y = np.clip(y, np.float32(clip[0]), np.float32(clip[1]))
        return (y,)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": len(node.attr("steps", [])) * inputs[0].numel(1), "comparisons": 0}


@register
class Projection(OpDef):
    """``(X @ components.T - offset) / scale`` (see module docstring)."""

    name = "Projection"

    @staticmethod
    def infer(node, inputs):
        x, c = inputs[0], inputs[1]
        require(c is not None and c.is_const and len(c.shape) == 2 and c.shape[1] == x.shape[-1], node,
                f"components must be a constant (k, {x.shape[-1]}) matrix")
        for t in inputs[2:]:
            require(t is None or (t.is_const and tuple(t.shape) == (c.shape[0],)), node,
                    f"offset and scale must be constants of shape ({c.shape[0]},)")
        return [((x.shape[0], c.shape[0]), "float32")]

    @staticmethod
    def reference(node, x, components, offset=None, scale=None):
        y = np.asarray(x, dtype=np.float64) @ np.asarray(components, dtype=np.float64).T
        if offset is not None:
            y = y - np.asarray(offset, dtype=np.float64)
        if scale is not None:
            y = y / np.asarray(scale, dtype=np.float64)
        return (y.astype(np.float32),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": int(np.prod(inputs[1].shape)), "comparisons": 0}
