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
models, e.g. an MLP fitted on float32 data; no double bias table either when the float32 bias
is exact); option ``exact=False`` drops the residuals and the fallback (pure float32).

Speed: the generated C stores weights input-major (``w[i][k]``, outputs padded to 4, the last
layer to 2) and runs the outputs of a layer as independent lanes, four inputs per step, with
max|x| taken in the same loop; ``<name>_predict`` skips the softmax. Measured on digits (gcc
-O2, same run, shared host, best of 20): LogisticRegression 935 -> ~180-220 ns/sample (m2cgen
~390-750), 32-unit MLP ~1,700 -> ~420-460 ns (emlearn ~2,400-3,500). Cortex-M4 flash:
LogisticRegression 5,896 -> 5,044 B, MLP(32, float32 weights) 15,456 -> 13,128 B (emlearn
12,980 B: the gap is soft-double add/mul for the double path), LinearSVC 6,448 -> 6,580 B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeinfer.backends.c.context import EmitContext, c_float

U = 2.0 ** -24
#: (Lipschitz constant, absolute rounding error of the float32 kernel) per activation.
ACTIVATION_ERROR = {"relu": (1.0, 0.0), "identity": (1.0, 0.0), "tanh": (1.0, 8 * U), "logistic": (0.25, 8 * U)}
KERNEL = {"relu": "ei_relu", "tanh": "ei_tanh", "logistic": "ei_sigmoid", "softmax": "ei_softmax"}
#: outputs of a layer are padded to a multiple of this (zero weights): the inner loop is then one
#: whole SSE / NEON vector wide, which gcc -O2 vectorises without a scalar remainder.
LANES = 4
#: the last layer is padded to a multiple of 2 only: its logits go straight into the caller's
#: score buffer when no padding is needed (10 classes: 8-byte vectors, no wasted flash).
LANES_LAST = 2


@dataclass
class Layer:
    """One dense layer's C tables (input-major: ``w[i * n_pad + k]``) and certification constants."""

    w: str          # float32 weights, transposed and padded (n_in, n_pad)
    b: str          # float32 bias (n_pad)
    n_in: int
    n_out: int
    n_pad: int
    input_major: bool = False
    b64: str = ""       # double bias (exact path; none when the float32 bias is exact)
    r: str = ""         # int16 residual, same layout as w (exact path)
    rs: str = ""        # float32 residual scale per output
    k1: float = 0.0     # c_n * A
    k0: float = 0.0     # c_n * B
    a: float = 0.0      # A


def _up(v: float) -> float:
    """Round a positive bound up to the next float32 (so the float constant never shrinks it)."""
    f = np.float32(v)
    return float(np.nextafter(f, np.float32(np.inf)) if float(f) < v else f)


def _pad_t(m: np.ndarray, n_pad: int, input_major: bool = True) -> np.ndarray:
    """(n_out, n_in) -> (n_in, n_pad): transposed, extra outputs zero (as is when not ``input_major``)."""
    if not input_major:
        return m
    out = np.zeros((m.shape[1], n_pad), dtype=m.dtype)
    out[:, :m.shape[0]] = m.T
    return out


def _pad(v: np.ndarray, n_pad: int) -> np.ndarray:
    out = np.zeros(n_pad, dtype=v.dtype)
    out[:v.shape[0]] = v
    return out


def make_layers(ctx: EmitContext, hint: str, params: list[tuple[np.ndarray, np.ndarray]], exact: bool,
                input_major: bool = False) -> list[Layer]:
    """Declare the tables of every layer and compute its error-bound constants.

    ``input_major`` (the generated C): weights transposed and outputs padded, as ``Layer`` says;
    otherwise row-major ``(n_out, n_in)`` unpadded tables (the interpreter's ``.eim`` layout).
    """
    layers = []
    for i, (w, b) in enumerate(params):
        lanes = (LANES_LAST if i == len(params) - 1 else LANES) if input_major else 1
        w = np.asarray(w)
        b = np.asarray(b)
        w32, b32 = w.astype(np.float32), b.astype(np.float32)
        n_out, n_in = w.shape
        n_pad = -(-n_out // lanes) * lanes
        lay = Layer(ctx.const_array(f"{hint}_W{i}", _pad_t(w32, n_pad, input_major)),
                    ctx.const_array(f"{hint}_b{i}", _pad(b32, n_pad)), n_in, n_out, n_pad, input_major)
        single = w.dtype == np.float32
        c = ((n_in + 2) * U + U) * 1.01 * (2 if single else 1)
        lay.a = _up(float(np.abs(w32).astype(np.float64).sum(axis=1).max()) * (1 + 4 * U) * 1.01)
        lay.k1 = _up(c * lay.a)
        lay.k0 = _up(c * float(np.abs(b32).max(initial=0.0)) * 1.01 + 1e-12)
        if exact:
            if not np.array_equal(b32.astype(np.float64), b.astype(np.float64)):  # else the float32 bias is exact
                lay.b64 = ctx.const_array(f"{hint}_b{i}_f64", _pad(b.astype(np.float64), n_pad), "float64")
            if not single:
                res = w.astype(np.float64) - w32.astype(np.float64)
                scale = (np.abs(res).max(axis=1) / 32767).astype(np.float32).astype(np.float64)
                q = np.where(scale[:, None] > 0, np.rint(res / np.where(scale > 0, scale, 1)[:, None]), 0)
                q = q.clip(-32767, 32767).astype(np.int16)
                if q.any():
                    lay.r = ctx.const_array(f"{hint}_W{i}_res", _pad_t(q, n_pad, input_major), "int16")
                    lay.rs = ctx.const_array(f"{hint}_W{i}_rscale", _pad(scale.astype(np.float32), n_pad))
        layers.append(lay)
    return layers


def _buffers(layers: list[Layer], ctype: str, last: bool = True) -> list[str]:
    """Declarations of the ping-pong buffers ``ha`` / ``hb`` (hidden layers) and ``zz`` (last layer)."""
    pads = [lay.n_pad for lay in layers]
    out = [f"{ctype} zz[{pads[-1]}];"] if last else []
    if len(pads) > 1:
        out.append(f"{ctype} ha[{max(pads[:-1][0::2])}];")
    if len(pads) > 2:
        out.append(f"{ctype} hb[{max(pads[:-1][1::2])}];")
    return out


def forward(ctx: EmitContext, x: str, layers: list[Layer], act: str, certify: bool, out: str = "zz") -> list[str]:
    """C statements: the float32 forward pass into ``out`` (n_pad floats; default a local ``zz``),
    the pre-activation of the last layer.

    Each layer is ``dst[k] = b[k]; dst[k] += src[i] * w[i][k]`` with the input-major, padded
    table: the inner loop runs over outputs, so every output accumulates independently (vector
    lanes, no serial dependency) in the compiler's own order-preserving code. With ``certify``
    the float ``e`` ends as a bound on |zz - scikit-learn's value|; ``s`` = max|input| is taken
    in the same loop (the bound holds for any summation order).
    """
    lines = [*_buffers(layers, "float", out == "zz"), "int32_t i, k;"]
    if certify:
        lines.append("float e, s;")
    lip, eps = ACTIVATION_ERROR[act]
    cur = x
    for li, lay in enumerate(layers):
        last = li == len(layers) - 1
        dst = out if last else ("ha" if li % 2 == 0 else "hb")
        lines.append(_layer_f32(lay, cur, dst, certify))
        if certify:
            grow = f" + {c_float(lay.a)} * e" if li else ""
            lines.append(f"e = {c_float(lay.k1)} * s + {c_float(lay.k0)}{grow};")
        if not last:
            if act != "identity":
                ctx.use_kernel("ei_activation")
                lines.append(f"{KERNEL[act]}_f32({dst}, {lay.n_out});")
            if certify and (lip != 1.0 or eps):
                lines.append(f"e = {c_float(lip)} * e + {c_float(_up(eps * 1.01))};")
        cur = dst
    return lines


def _layer_f32(lay: Layer, src: str, dst: str, certify: bool) -> str:
    """C for one float32 layer, four inputs per step: ``dst[k] += (x0 w0 + x1 w1) + (x2 w2 + x3 w3)``
    halves twice the chain of dependent additions per output (the error bound holds for any
    summation tree of n + 1 terms); with ``certify`` it also keeps ``s`` = max |src[i]|."""
    p = lay.n_pad
    # input 0 is folded into the bias copy (a plain copy loop becomes a memcpy call on -Os)
    out = [f"for (k = 0; k < {p}; ++k) {dst}[k] = {lay.b}[k] + {src}[0] * {lay.w}[k];"]
    if certify:
        out.append(f"s = fabsf({src}[0]);")
    out.append("i = 1;")
    if lay.n_in >= 5:
        out.append(f"for (; i + 3 < {lay.n_in}; i += 4) {{")
        out.append(f"  const float x0 = {src}[i], x1 = {src}[i + 1], x2 = {src}[i + 2], x3 = {src}[i + 3];")
        if certify:
            out += ["  const float a0 = fabsf(x0) > fabsf(x1) ? fabsf(x0) : fabsf(x1);",
                    "  const float a1 = fabsf(x2) > fabsf(x3) ? fabsf(x2) : fabsf(x3);",
                    "  const float a2 = a0 > a1 ? a0 : a1;", "  s = a2 > s ? a2 : s;"]
        out += [f"  const float *w_ = {lay.w} + i * {p};",
                f"  for (k = 0; k < {p}; ++k)",
                f"    {dst}[k] += (x0 * w_[k] + x1 * w_[{p} + k]) + (x2 * w_[{2 * p} + k] + x3 * w_[{3 * p} + k]);",
                "}"]
    if (lay.n_in - 1) % 4 or lay.n_in < 5:
        out += [f"for (; i < {lay.n_in}; ++i) {{", f"  const float xi = {src}[i];"]
        if certify:
            out.append("  s = fabsf(xi) > s ? fabsf(xi) : s;")
        out += [f"  for (k = 0; k < {p}; ++k) {dst}[k] += xi * {lay.w}[i * {p} + k];", "}"]
    return "\n".join(out)


def exact_helper(ctx: EmitContext, node_name: str, layers: list[Layer], act: str, decide: str) -> str:
    """Declare ``static int32_t <sym>(const float *x)``: the label recomputed in double; returns its name.

    ``decide`` is C computing ``return ...;`` from the double logits ``zz``. Weights are the
    float32 table plus int16 residual times the output's scale (about 39 bits).
    """
    fn = ctx.sym(f"{node_name}_exact")
    body = [*_buffers(layers, "double"), "int32_t i, k;"]
    cur = "x"
    for li, lay in enumerate(layers):
        last = li == len(layers) - 1
        dst = "zz" if last else ("ha" if li % 2 == 0 else "hb")
        wk = f"(double){lay.w}[i * {lay.n_pad} + k]"
        b64 = lay.b64 or f"(double){lay.b}"
        if lay.r:
            wk = f"({wk} + (double){lay.r}[i * {lay.n_pad} + k] * (double){lay.rs}[k])"
        body.append(f"for (k = 0, i = 0; k < {lay.n_pad}; ++k) {dst}[k] = {b64}[k] + (double){cur}[0] * {wk};\n"
                    f"for (i = 1; i < {lay.n_in}; ++i) {{\n  const double xi = (double){cur}[i];\n"
                    f"  for (k = 0; k < {lay.n_pad}; ++k) {dst}[k] += xi * {wk};\n}}")
        if not last and act != "identity":
            ctx.use_kernel("ei_activation_f64")
            body.append(f"{KERNEL[act]}_f64({dst}, {lay.n_out});")
        cur = dst
    body.append(decide.strip())
    text = "\n".join(body).replace("\n", "\n  ")
    ctx.helper(fn, "/* The label recomputed in double, as scikit-learn computes it: only for samples whose\n"
                   "   float32 margin is within the certified rounding-error bound. */\n"
                   f"static int32_t {fn}(const float *x)\n{{\n  {text}\n}}\n")
    return fn


def certified_label(ctx: EmitContext, k: int, exact_fn: str | None) -> list[str]:
    """C statements returning the label from the float logits ``z`` (k values; k == 1: binary, z > 0)."""
    if k == 1:
        if exact_fn is None:
            return ["return z[0] > 0.0f;"]
        return ["if (z[0] > e) return 1;", "if (z[0] < -e) return 0;", f"return {exact_fn}(x);"]
    ctx.use_kernel("ei_reduce")
    if exact_fn is None:
        return [f"return ei_argmax_f32(z, {k});"]
    return ["{", "  float gap;", f"  const int32_t best = ei_top2_f32(z, {k}, &gap);",
            f"  return gap > 2.0f * e ? best : {exact_fn}(x);", "}"]


def core_helper(ctx: EmitContext, node, layers: list[Layer], act: str, k: int, exact_fn: str | None) -> str:
    """Declare ``static int32_t <sym>_core(const float *x, float *z)``: logits into ``z`` (n_pad of the
    last layer values), returns the certified label; and, when the node is the whole graph, a
    label-only ``<name>_predict`` (no probabilities: argmax needs none). Returns the core's name."""
    fn = ctx.sym(f"{node.name}_core")
    body = forward(ctx, "x", layers, act, certify=exact_fn is not None, out="z")
    body += certified_label(ctx, k, exact_fn)
    text = "\n".join(body).replace("\n", "\n  ")
    ctx.helper(fn, "/* float32 forward pass: logits into z; the label, certified or recomputed in double. */\n"
                   f"static int32_t {fn}(const float *x, float *z)\n{{\n  {text}\n}}\n")
    if len(ctx.graph.nodes) == 1 and node.inputs[0] in ctx.graph.inputs:
        lab = ctx.sym(f"{node.name}_predict_label")
        ctx.helper(lab, f"static int32_t {lab}(const float *x)\n{{\n"
                        f"  float z[{layers[-1].n_pad}];\n  return {fn}(x, z);\n}}\n")
        ctx.label_fn = lab
    return fn


def call_core(core: str, x: str, label: str, scores: str, k: int, n_pad: int) -> list[str]:
    """C calling the core: logits into ``scores`` directly when it is large enough, else into a local
    ``z`` (binary: ``z[0]``; padded: copied)."""
    if k > 1 and n_pad == k:
        return [f"*{label} = {core}({x}, {scores});"]
    lines = [f"float z[{n_pad}];", f"*{label} = {core}({x}, z);"]
    if k > 1:
        lines.append(f"{{ int32_t k_; for (k_ = 0; k_ < {k}; ++k_) {scores}[k_] = z[k_]; }}")
    return lines


def fast_path(ctx: EmitContext, x: str, layers: list[Layer], act: str, out: str, certify: bool) -> list[str]:
    """C statements: the float32 forward pass into ``out`` (n_out values of the last layer).

    Row-major layers (``make_layers`` without ``input_major``) go through the ``ei_dense_f32``
    kernel, one call per layer (least code: PCA projections and the like)."""
    if layers[0].input_major:
        lines = forward(ctx, x, layers, act, certify)
        lines.append(f"for (k = 0; k < {layers[-1].n_out}; ++k) {out}[k] = zz[k];")
        return lines
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


def regress(ctx: EmitContext, x: str, layers: list[Layer], act: str, out: str) -> str:
    """C block: the float32 forward pass of a regressor into ``out`` (no certificate)."""
    return "\n".join(fast_path(ctx, x, layers, act, out, certify=False))
