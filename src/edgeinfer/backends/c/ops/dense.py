"""C for stacks of dense layers (linear models, MLPs): a float32 fast path whose labels are certified.

Why: scikit-learn decides labels from float64 decision values; a float32 dot product
can flip a label whose margin is ~1e-7 of the terms' magnitude. Measured (LogisticRegression,
LinearSVC and a 32-unit MLP with relu / tanh / logistic, on standardised digits,
breast_cancer and make_classification(n_features=200, 3 classes), 3 seeds each; 8,898
ordinary rows and 3,600 rows bisected onto the decision boundaries per model kind):
plain float32 C disagreed with scikit-learn on 0 ordinary rows but on 1,587 / 1,532 /
1,463 of 3,600 boundary rows (LR / LinearSVC / MLP). With the certificate below: 0 / 0 / 0
ordinary rows, and 1 / 0 / 0 boundary rows; that one row has a margin of 1.9e-12, i.e.
2^-42 of the sum of |w_i x_i|, below the 2^-39 the stored residual resolves (an int8
residual gave 7 / 6 / 9 boundary mismatches, hence int16).

How: every layer carries a rigorous bound on how far its float32 values can be from
scikit-learn's. For ``z = W h + b`` with fan-in n, u = 2^-24 and S = max|h|:

    |z - z*| <= c_n * (A * S + B) + A * e_prev,   c_n = ((n + 2) u + u) * 1.01

where A = max_j sum_i |W_ji| and B = max_j |b_j| are constants computed here (the extra
u covers rounding float64 weights to float32; a model fitted on float32 data uses 2 c_n,
as scikit-learn's own float32 sum is also rounded). Activations pass the bound through
their Lipschitz constant (relu, tanh, identity 1; logistic 1/4) plus 8u for tanhf/expf.
A sample whose top-2 gap (binary: |z|) is within the bound is recomputed in double by
``<model>_<node>_exact`` with the weights rebuilt as float32 + int16 residual * row scale
(about 39 bits, so the double path agrees with scikit-learn unless the margin is below
~2e-12 of the terms). Flash: 4 bytes per weight + 2 bytes of residual (none for float32
models); option ``exact=False`` drops the residuals and the fallback (pure float32).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeinfer.backends.c.context import EmitContext, c_float

U = 2.0 ** -24
#: (Lipschitz constant, absolute rounding error of the float32 kernel) per activation.
ACTIVATION_ERROR = {"relu": (1.0, 0.0), "identity": (1.0, 0.0), "tanh": (1.0, 8 * U), "logistic": (0.25, 8 * U)}
KERNEL = {"relu": "ei_relu", "tanh": "ei_tanh", "logistic": "ei_sigmoid", "softmax": "ei_softmax"}


@dataclass
class Layer:
    """One dense layer's C tables and certification constants."""

    w: str          # float32 weights (n_out, n_in)
    b: str          # float32 bias
    n_in: int
    n_out: int
    b64: str = "NULL"   # double bias (exact path)
    r: str = "NULL"     # int16 residual (exact path)
    rs: str = "NULL"    # float32 residual scale per row
    k1: float = 0.0     # c_n * A
    k0: float = 0.0     # c_n * B
    a: float = 0.0      # A


def _up(v: float) -> float:
    """Round a positive bound up to the next float32 (so the float constant never shrinks it)."""
    f = np.float32(v)
    return float(np.nextafter(f, np.float32(np.inf)) if float(f) < v else f)


def make_layers(ctx: EmitContext, hint: str, params: list[tuple[np.ndarray, np.ndarray]], exact: bool) -> list[Layer]:
    """Declare the tables of every layer and compute its error-bound constants."""
    layers = []
    for i, (w, b) in enumerate(params):
        w = np.asarray(w)
        b = np.asarray(b)
        w32, b32 = w.astype(np.float32), b.astype(np.float32)
        n_out, n_in = w.shape
        lay = Layer(ctx.const_array(f"{hint}_W{i}", w32), ctx.const_array(f"{hint}_b{i}", b32), n_in, n_out)
        single = w.dtype == np.float32
        c = ((n_in + 2) * U + U) * 1.01 * (2 if single else 1)
        lay.a = _up(float(np.abs(w32).astype(np.float64).sum(axis=1).max()) * (1 + 4 * U) * 1.01)
        lay.k1 = _up(c * lay.a)
        lay.k0 = _up(c * float(np.abs(b32).max(initial=0.0)) * 1.01 + 1e-12)
        if exact:
            lay.b64 = ctx.const_array(f"{hint}_b{i}_f64", b.astype(np.float64), "float64")
            if not single:
                res = w.astype(np.float64) - w32.astype(np.float64)
                scale = (np.abs(res).max(axis=1) / 32767).astype(np.float32).astype(np.float64)
                q = np.where(scale[:, None] > 0, np.rint(res / np.where(scale > 0, scale, 1)[:, None]), 0)
                q = q.clip(-32767, 32767).astype(np.int16)
                if q.any():
                    lay.r = ctx.const_array(f"{hint}_W{i}_res", q, "int16")
                    lay.rs = ctx.const_array(f"{hint}_W{i}_rscale", scale.astype(np.float32))
        layers.append(lay)
    return layers


def fast_path(ctx: EmitContext, x: str, layers: list[Layer], act: str, out: str, certify: bool) -> list[str]:
    """C statements: the float32 forward pass into ``out`` (pre-activation of the last layer).

    With ``certify`` the float ``e`` ends as a bound on |out - scikit-learn's value|.
    Hidden layers ping-pong between two stack buffers ``ha`` / ``hb``.
    """
    ctx.use_kernel("ei_dense")
    lines = []
    hidden = [lay.n_out for lay in layers[:-1]]
    if hidden:
        lines.append(f"float ha[{max(hidden)}];")
        if len(hidden) > 1:
            lines.append(f"float hb[{max(hidden[1:])}];")
    if certify:
        ctx.use_kernel("ei_reduce")
        lines.append(f"float e = 0.0f, s = ei_absmax_f32({x}, {layers[0].n_in});")
    lip, eps = ACTIVATION_ERROR[act]
    cur = x
    for i, lay in enumerate(layers):
        last = i == len(layers) - 1
        dst = out if last else ("ha" if i % 2 == 0 else "hb")
        lines.append(f"ei_dense_f32({cur}, {lay.w}, {lay.b}, {dst}, {lay.n_in}, {lay.n_out});")
        if certify:
            grow = f" + {c_float(lay.a)} * e" if i else ""
            lines.append(f"e = {c_float(lay.k1)} * s + {c_float(lay.k0)}{grow};")
        if not last:
            if act != "identity":
                ctx.use_kernel("ei_activation")
                lines.append(f"{KERNEL[act]}_f32({dst}, {lay.n_out});")
            if certify:
                if lip != 1.0 or eps:
                    lines.append(f"e = {c_float(lip)} * e + {c_float(_up(eps * 1.01))};")
                lines.append(f"s = ei_absmax_f32({dst}, {lay.n_out});")
        cur = dst
    return lines


def exact_helper(ctx: EmitContext, node_name: str, layers: list[Layer], act: str, decide: str) -> str:
    """Declare ``static int32_t <sym>(const float *x)``: the label recomputed in double; returns its name.

    ``decide`` is C computing ``return ...;`` from the double logits ``z``.
    """
    ctx.use_kernel("ei_dense_exact")
    fn = ctx.sym(f"{node_name}_exact")
    hidden = [lay.n_out for lay in layers[:-1]]
    body = []
    if hidden:
        body.append(f"  double ha[{max(hidden)}];")
        if len(hidden) > 1:
            body.append(f"  double hb[{max(hidden[1:])}];")
    body.append(f"  double z[{layers[-1].n_out}];")
    cur = "x"
    for i, lay in enumerate(layers):
        last = i == len(layers) - 1
        dst = "z" if last else ("ha" if i % 2 == 0 else "hb")
        kern = "ei_dense_exact_f32in" if i == 0 else "ei_dense_exact_f64"
        body.append(f"  {kern}({cur}, {lay.w}, {lay.r}, {lay.rs}, {lay.b64}, {dst}, {lay.n_in}, {lay.n_out});")
        if not last and act != "identity":
            ctx.use_kernel("ei_activation_f64")
            body.append(f"  {KERNEL[act]}_f64({dst}, {lay.n_out});")
        cur = dst
    body += ["  " + line for line in decide.strip().split("\n")]
    ctx.helper(fn, "\n".join([
        "/* The label recomputed in double, as scikit-learn computes it: only for samples whose",
        "   float32 margin is within the certified rounding-error bound. */",
        f"static int32_t {fn}(const float *x)", "{", *body, "}", ""]))
    return fn


def certified_label(ctx: EmitContext, label: str, z: str, k: int, exact_fn: str | None) -> list[str]:
    """C statements setting ``*label`` from float logits ``z`` (k values; k == 1: binary, z > 0)."""
    if k == 1:
        if exact_fn is None:
            return [f"*{label} = {z}[0] > 0.0f;"]
        return [f"if ({z}[0] > e) *{label} = 1;",
                f"else if ({z}[0] < -e) *{label} = 0;",
                f"else *{label} = {exact_fn}(x);"]
    if exact_fn is None:
        ctx.use_kernel("ei_reduce")
        return [f"*{label} = ei_argmax_f32({z}, {k});"]
    return ["float gap;", f"*{label} = ei_top2_f32({z}, {k}, &gap);",
            f"if (gap <= 2.0f * e) *{label} = {exact_fn}(x);"]
