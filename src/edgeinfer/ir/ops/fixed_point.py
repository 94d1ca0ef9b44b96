"""Fixed-point classical models: integer-only trees and dense stacks for targets without an FPU.

Both ops take integer features (int8 or int16), produced from the float features by a
per-feature affine quantization chosen from calibration data (:func:`quantize_features`,
parameters in the graph's ``metadata["input_quantization"]`` so firmware can quantize
its sensor values the same way), and never compute in floating point, so their C needs
no soft-float helper on a Cortex-M0+.

* ``FxTreeEnsemble(X)`` -> ``label`` int32 (N,), ``scores`` int32 (N, C). Flat node
  tables over all trees (attrs ``feature`` (-1 marks a leaf), ``threshold``, ``left``
  (taken when ``x <= threshold``; on a leaf, its row in ``leaf_values``), ``right``),
  ``roots`` (first node of each tree), ``leaf_values`` int16 (n_leaves, K), ``base``
  int32 (K,). Scores are int32 sums, base first, in units of ``metadata["score_scale"]``.
  ``label_mode`` ``argmax`` (first index on ties) or ``positive`` / ``nonnegative``
  (one raw score s, binary: label ``s > 0`` / ``s >= 0``, scores ``[-s, s]``).
* ``FxDense(X, W0, b0, m0, s0, W1, ...)`` -> ``label``, ``scores`` int32: a stack of dense
  layers (a linear model is one layer). ``W_l`` int8/int16 (n_out, n_in) with one scale per
  output row, ``b_l`` int64 (zero points and bias folded in), ``m_l``/``s_l`` int32 the
  per-row requantization multiplier and shift, applied to the exact integer accumulator
  as TFLite's int64 ``MultiplyByQuantizedMultiplier`` (:func:`quant_math.mbqm64`: the
  multiplier rounded to 16 bits, one rounding shift). attrs ``activations`` (per layer:
  ``relu`` exact, ``identity``, ``tanh``/``logistic`` through ``luts[l]``, a 257-entry
  table over the layer's integer pre-activation range read with linear interpolation),
  ``act_dtype`` of hidden activations, ``label_mode`` as above. The last layer's
  requantized values, clamped to +-(2**31 - 1), are the int32 scores (one common scale, so
  argmax is the label).

>>> quantize_features(np.array([[0.5]]), {"scale": [0.25], "zero_point": [1], "dtype": "int8"}).tolist()
[[3]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.registry import OpDef, register, require

LABEL_MODES = ("argmax", "positive", "nonnegative")
FX_ACTIVATIONS = ("relu", "identity", "tanh", "logistic")
LUT_SIZE = 257


def quantize_features(x: Any, params: dict) -> np.ndarray:
    """``q = clamp(floor(x / scale + 0.5) + zero_point)`` per feature (halves up), in float64.

    The one definition of the input quantization: calibration, threshold choice and
    ``predict`` on float X all call it, so a tree decision seen at calibration is the
    decision the integer model takes."""
    dt = np.dtype(params["dtype"])
    info = np.iinfo(dt)
    v = np.asarray(x, np.float64) / np.asarray(params["scale"], np.float64)
    q = np.floor(v + 0.5) + np.asarray(params["zero_point"], np.float64)
    return np.clip(q, info.min, info.max).astype(dt)


def _labels(node, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mode = node.attr("label_mode", "argmax")
    if mode == "argmax":
        return np.argmax(scores, axis=1).astype(np.int32), scores.astype(np.int32)
    s = scores[:, 0]
    label = (s > 0) | ((s == 0) & (mode == "nonnegative"))
    return label.astype(np.int32), np.stack([-s, s], axis=1).astype(np.int32)


def _int_input(node, t) -> None:
    require(t is not None and len(t.shape) == 2, node, "input must be (batch, n_features)")
    require(t.dtype in ("int8", "int16"), node, f"input must be int8 or int16 features, got {t.dtype}")


def _n_scores(node, k: int) -> int:
    return k if node.attr("label_mode", "argmax") == "argmax" else 2


@register
class FxTreeEnsemble(OpDef):
    """Integer tree ensemble: integer thresholds, int16 leaves, int32 sums (see module docstring)."""

    name = "FxTreeEnsemble"

    @staticmethod
    def infer(node, inputs):
        _int_input(node, inputs[0])
        feat = np.asarray(node.attr("feature"))
        n = len(feat)
        require(all(len(node.attr(k)) == n for k in ("threshold", "left", "right")), node,
                "feature, threshold, left and right must have one entry per node")
        require(feat.max(initial=-1) < inputs[0].shape[1], node, "a node reads a feature the input lacks")
        require(node.attr("label_mode", "argmax") in LABEL_MODES, node, f"label_mode: one of {LABEL_MODES}")
        k = np.asarray(node.attr("leaf_values")).shape[1]
        batch = inputs[0].shape[0]
        return [((batch,), "int32"), ((batch, _n_scores(node, k)), "int32")]

    @staticmethod
    def reference(node, x):
        feat = np.asarray(node.attr("feature"), np.int64)
        thr = np.asarray(node.attr("threshold"), np.int64)
        left = np.asarray(node.attr("left"), np.int64)
        right = np.asarray(node.attr("right"), np.int64)
        leaves = np.asarray(node.attr("leaf_values"), np.int64)
        x = np.asarray(x).astype(np.int64)
        idx = np.tile(np.asarray(node.attr("roots"), np.int64), (len(x), 1))
        rows = np.arange(len(x))[:, None]
        while True:
            f = feat[idx]
            inner = f >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(f, 0)] <= thr[idx]
            idx = np.where(inner, np.where(go_left, left[idx], right[idx]), idx)
        scores = np.asarray(node.attr("base"), np.int64) + leaves[left[idx]].sum(axis=1)
        return _labels(node, scores)

    @staticmethod
    def cost(node, inputs, outputs):
        feat = np.asarray(node.attr("feature"))
        leaves = np.asarray(node.attr("leaf_values"))
        inner = int((feat >= 0).sum())
        # threshold int16 + feature u8/u16 + two u16 children per branch; int16 leaf values
        return {"macs": 0, "comparisons": inner // max(len(node.attr("roots")), 1) + 1,
                "param_bytes": inner * 8 + leaves.size * 2}


def lut_lookup(pre: np.ndarray, lut: np.ndarray, bits: int) -> np.ndarray:
    """Table ``lut`` (257 entries over [qmin, qmax] of a ``bits``-bit pre-activation), linearly
    interpolated between entries (step ``2**(bits - 8)``); floor shifts, as C's on the targets."""
    u = np.asarray(pre, np.int64) + (1 << (bits - 1))
    sh = bits - 8
    i = u >> sh
    f = u & ((1 << sh) - 1)
    lut = np.asarray(lut, np.int64)
    return lut[i] + (((lut[np.minimum(i + 1, LUT_SIZE - 1)] - lut[i]) * f) >> sh)


def dense_layers(node) -> int:
    return (len(node.inputs) - 1) // 4


@register
class FxDense(OpDef):
    """Integer dense stack with per-row requantization (see module docstring)."""

    name = "FxDense"

    @staticmethod
    def infer(node, inputs):
        _int_input(node, inputs[0])
        require((len(inputs) - 1) % 4 == 0 and len(inputs) > 1, node, "expects (W, b, mult, shift) per layer")
        acts = list(node.attr("activations"))
        n_layers = (len(inputs) - 1) // 4
        require(len(acts) == n_layers and all(a in FX_ACTIVATIONS for a in acts), node,
                f"activations: one of {FX_ACTIVATIONS} per layer")
        require(node.attr("act_dtype", "int16") in ("int8", "int16"), node, "act_dtype: int8 or int16")
        n = inputs[0].shape[1]
        for i in range(n_layers):
            w, b, m, s = inputs[1 + 4 * i:5 + 4 * i]
            require(w is not None and w.is_const and w.dtype in ("int8", "int16") and w.shape[1] == n, node,
                    f"layer {i}: weights must be a constant int8/int16 (n_out, {n}) matrix")
            for t, dt in ((b, "int64"), (m, "int32"), (s, "int32")):
                require(t is not None and t.is_const and t.dtype == dt and tuple(t.shape) == (w.shape[0],), node,
                        f"layer {i}: bias (int64), multiplier and shift (int32) need one entry per row")
            n = w.shape[0]
        batch = inputs[0].shape[0]
        return [((batch,), "int32"), ((batch, _n_scores(node, n)), "int32")]

    @staticmethod
    def reference(node, x, *params):
        bits = 16 if node.attr("act_dtype", "int16") == "int16" else 8
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        acts = node.attr("activations")
        luts = node.attr("luts") or [None] * len(acts)
        h = np.asarray(x).astype(np.int64)
        for i, act in enumerate(acts):
            w, b, m, s = (np.asarray(p, np.int64) for p in params[4 * i:4 * i + 4])
            y = qm.mbqm64(h @ w.T + b, m, s)
            if i == len(acts) - 1:
                h = np.clip(y, -qm.I32_MAX, qm.I32_MAX)  # symmetric, so the binary [-s, s] cannot overflow
            elif act == "relu":
                h = np.clip(y, 0, hi)
            elif act == "identity":
                h = np.clip(y, lo, hi)
            else:
                h = lut_lookup(np.clip(y, lo, hi), luts[i], bits)
        return _labels(node, h)

    @staticmethod
    def cost(node, inputs, outputs):
        macs = sum(int(np.prod(t.shape)) for t in inputs[1::4])
        return {"macs": macs, "comparisons": int(inputs[-4].shape[0]),
                "param_bytes": sum(t.nbytes() for t in inputs[1:] if t is not None and t.is_const)}
