"""C for LinearClassifier and LinearRegressor (float32 fast path; see ``dense.py`` for exactness)."""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.ops.dense import call_core, core_helper, exact_helper, make_layers, regress
from edgeinfer.backends.c.registry import c_op


def _params(ctx, node):
    w = ctx.graph.const(node.inputs[1])
    b = ctx.graph.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    if b is None:
        b = np.zeros(w.shape[0], w.dtype)
    return w, b


@c_op("LinearClassifier")
def linear_classifier(ctx, node) -> str:
    w, b = _params(ctx, node)
    k = w.shape[0]
    exact = bool(ctx.options.get("exact", True))
    layers = make_layers(ctx, node.name, [(w, b)], exact, input_major=True)
    x, label, scores = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0]), ctx.ref(node.outputs[1])
    post = node.attr("post_transform", "NONE")
    decide = "return zz[0] > 0.0;" if k == 1 else f"return ei_argmax_f64(zz, {k});"
    if exact and k > 1:
        ctx.use_kernel("ei_reduce")
    fn = exact_helper(ctx, node.name, layers, "identity", decide) if exact else None
    core = core_helper(ctx, node, layers, "identity", k, fn)
    lines = [f"float *sc = {scores};", *call_core(core, x, label, "sc", k, layers[-1].n_pad)]
    lines += _post(ctx, post, k, w.dtype.name == "float64")
    return "\n".join(lines)


def _post(ctx, post: str, k: int, wide: bool) -> list[str]:
    """Scores from the logits (``z[0]`` for binary, already in ``sc`` otherwise)."""
    if k == 1:
        if post == "NONE":
            return ["sc[0] = -z[0];", "sc[1] = z[0];"]
        arg = "-2.0f * z[0]" if post == "SOFTMAX" else "-z[0]"
        return [f"sc[1] = 1.0f / (1.0f + expf({arg}));", "sc[0] = 1.0f - sc[1];"]
    if post == "NONE":
        return []
    ctx.use_kernel("ei_activation")
    if post == "SOFTMAX":
        return [f"ei_softmax_f32(sc, {k});"]
    if post == "LOGISTIC":
        return [f"ei_sigmoid_f32(sc, {k});"]
    # LOGISTIC_NORM: normalised sigmoids. When every logit is very negative they all
    # underflow in float32 although scikit-learn's float64 ones do not; there sigmoid(z)
    # is exp(z) to 2e-9, so the normalised values are the softmax.
    lines = ["{", "  int32_t i; float tot = 0.0f, mx = sc[0];",
             f"  for (i = 1; i < {k}; ++i) mx = sc[i] > mx ? sc[i] : mx;"]
    if wide:
        lines += [f"  if (mx < -745.0f) {{ for (i = 0; i < {k}; ++i) sc[i] = {1.0 / k!r}f; }}",
                  f"  else if (mx < -20.0f) ei_softmax_f32(sc, {k});", "  else {"]
    else:
        lines += ["  {"]
    lines += [f"    ei_sigmoid_f32(sc, {k});",
              f"    for (i = 0; i < {k}; ++i) tot += sc[i];",
              f"    for (i = 0; i < {k}; ++i) sc[i] = tot > 0.0f ? sc[i] / tot : {1.0 / k!r}f;",
              "  }", "}"]
    return lines


@c_op("LinearRegressor")
def linear_regressor(ctx, node) -> str:
    w, b = _params(ctx, node)
    layers = make_layers(ctx, node.name, [(w, b)], exact=False, input_major=True)
    return regress(ctx, ctx.ref(node.inputs[0]), layers, "identity", ctx.ref(node.outputs[0]))
