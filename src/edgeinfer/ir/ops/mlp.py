"""MLP: a stack of dense layers as one op, so that its label can be certified end to end.

``MLP(X, W0, b0, W1, b1, ...)`` with ``W_l`` of shape (n_out, n_in) (row-major, the
transpose of scikit-learn's ``coefs_[l]``) and ``b_l`` of shape (n_out,).
attrs: ``activation`` of the hidden layers (``relu``, ``tanh``, ``logistic``,
``identity``), ``out_activation`` (``softmax``, ``logistic``, ``identity``) and
``task`` (``classifier`` -> outputs ``label`` int32 (N,) and ``proba`` float32 (N, C);
``regressor`` -> ``Y`` float32 (N, T)).

The reference replays scikit-learn's ``_forward_pass_fast`` in the weights' precision: a binary
classifier (one logistic output unit) predicts ``p > 0.5`` and reports ``[1 - p, p]``;
a multiclass one predicts the argmax of its softmax probabilities. It is one op rather
than Gemm/activation nodes because the C backend computes it in float32 and must bound
the rounding error of the whole stack to know when to recompute a sample in double.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.ops.linear import expit, softmax
from edgeinfer.ir.registry import OpDef, register, require

HIDDEN_ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
OUT_ACTIVATIONS = ("softmax", "logistic", "identity")


def activate(h: np.ndarray, kind: str) -> np.ndarray:
    """Hidden or output activation in h's precision, as scikit-learn's ACTIVATIONS table."""
    if kind == "relu":
        return np.maximum(h, 0)
    if kind == "tanh":
        return np.tanh(h)
    if kind == "logistic":
        return expit(h)
    if kind == "softmax":
        return softmax(h)
    return h


def forward(node, x: np.ndarray, params: tuple[np.ndarray, ...]) -> np.ndarray:
    """Output-layer activations in the weights' precision (float64 unless fitted on float32)."""
    dt = np.result_type(params[0].dtype, np.float32)
    h = np.asarray(x, dtype=dt)
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ np.asarray(params[2 * i], dtype=dt).T + np.asarray(params[2 * i + 1], dtype=dt)
        last = i == n_layers - 1
        h = activate(h, node.attr("out_activation", "identity") if last else node.attr("activation", "relu"))
    return h


@register
class MLP(OpDef):
    """Dense layers with activations (see module docstring)."""

    name = "MLP"

    @staticmethod
    def infer(node, inputs):
        x, params = inputs[0], inputs[1:]
        require(len(params) >= 2 and len(params) % 2 == 0, node, "expects (W, b) pairs after X")
        require(node.attr("activation", "relu") in HIDDEN_ACTIVATIONS, node,
                f"activation must be one of {HIDDEN_ACTIVATIONS}")
        require(node.attr("out_activation", "identity") in OUT_ACTIVATIONS, node,
                f"out_activation must be one of {OUT_ACTIVATIONS}")
        n = x.shape[1]
        for i in range(0, len(params), 2):
            w, b = params[i], params[i + 1]
            require(w is not None and w.is_const and len(w.shape) == 2 and w.shape[1] == n, node,
                    f"layer {i // 2}: weights must be a constant (n_out, {n}) matrix")
            require(b is not None and b.is_const and tuple(b.shape) == (w.shape[0],), node,
                    f"layer {i // 2}: bias must be a constant of shape ({w.shape[0]},)")
            n = w.shape[0]
        batch = x.shape[0]
        if node.attr("task", "classifier") == "classifier":
            return [((batch,), "int32"), ((batch, max(n, 2)), "float32")]
        return [((batch, n), "float32")]

    @staticmethod
    def reference(node, x, *params):
        out = forward(node, x, params)
        if node.attr("task", "classifier") != "classifier":
            return (out.astype(np.float32),)
        if out.shape[1] == 1:
            p = out[:, 0]
            return (p > 0.5).astype(np.int32), np.stack([1 - p, p], axis=1).astype(np.float32)
        return np.argmax(out, axis=1).astype(np.int32), out.astype(np.float32)

    @staticmethod
    def cost(node, inputs, outputs):
        macs = sum(int(np.prod(t.shape)) for t in inputs[1::2])
        return {"macs": macs, "comparisons": int(inputs[-1].shape[0])}
