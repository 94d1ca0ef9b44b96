"""C for SVMClassifier / SVMRegressor: float32 fast path, certified, with a double fallback.

libsvm (inside scikit-learn) decides each one-vs-one vote by the sign of a float64
decision value. The generated C computes every kernel value and decision value in
float32 together with a rigorous first-order bound on its distance from the exact real
value (see ``_kernel_fast``; the bound is doubled to cover second-order terms, the bound's
own rounding and libsvm's float64 error, which is 2**29 times smaller). When every pair's
``|dec| > bound`` (and, with ``break_ties``, the winning ovr score beats the others by
more than their bounds), the float32 vote *is* libsvm's vote. Otherwise the sample is
recomputed in double, in libsvm's operation order (sequential sums, SVs of the first
class then of the second, ``sum -= rho``, libsvm's ``powi``); only libsvm's BLAS ``ddot``
order cannot be replayed portably, so a label can differ from scikit-learn's only when a
decision value is within ~1e-15 (relative) of zero.

Measured (float32 inputs; iris, digits, breast_cancer, 200-feature make_classification;
kernels linear/poly/rbf/sigmoid; ovr/ovo/break_ties; NuSVC gamma 1e-3..1; points placed on
a decision boundary): 0 label mismatches against scikit-learn. Share of samples that take
the double path: 0-4% (iris), 2% rbf / 6% linear / 14% sigmoid (digits), 100% for a
linear SVC on unscaled breast_cancer (huge, cancelling kernel values). Scores come from
the float32 pass (within ~1e-4 relative); ``options={"float64": True}`` sends every
sample through the double path for libsvm-accurate scores, ``{"exact": False}`` drops it.

Memory: support vectors are stored once, as uint8/int16 when they are small integers
(digits), else float32 (+ a float32 low part only when float32 is not exact); decision
accumulators live on the stack (K(K-1)/2 floats and doubles), no kernel-row buffer.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import c_float
from edgeinfer.backends.c.float_split import U32, SplitTable, c_double, store
from edgeinfer.backends.c.float_split import base_name as _base
from edgeinfer.backends.c.registry import c_op

#: absolute slack per kernel value: covers float32 underflow (expf/tanhf below FLT_MIN).
ABS_SLACK = 2.4e-38


def _kernel_fast(node, sv: SplitTable, n_feat: int, v_norm: float, sym: str,
                 bound: bool = True) -> tuple[str, str]:
    """(per-sample prologue, per-SV body) computing float ``k`` and its error bound ``e``.

    Error model (u = 2**-24, F features, V = max support-vector norm, r = 1 when the
    stored float32 SVs are rounded, else 0):
      rbf:  s = sum (x - v)^2 has |ds| <= (F+4) u s + r (2.01 u V sqrt(s) + 1.01 u^2 V^2);
            t = gamma s, |dt| <= gamma |ds| + 2 u t; k = expf(-t), |dk| <= k (dt (1 + dt) + 4u).
      dot:  |d<x, v>| <= (F + 2 + r) u ||x|| V.   linear: dk = d<x, v>.
      poly: t = gamma <x,v> + coef0, dt <= |gamma| d<x,v> + 3u (|gamma <x,v>| + |coef0|);
            |dk| <= (|t| + dt)^deg - |t|^deg + 2 deg u (|t| + dt)^deg.
      sigmoid: |dk| <= dt + 4u |k| (tanh is 1-Lipschitz).
    """
    kind = node.attr("kernel_type")
    g, c0, deg = node.attr("gamma", 1.0), node.attr("coef0", 0.0), int(node.attr("degree", 3))
    rep = 0 if sv.lo is None else 1
    u = U32
    G, C0 = c_float(g), c_float(c0)
    if not bound:  # regression: no certificate needed, float32 is within ~1e-6 relative
        dot = f"for (i = 0; i < {n_feat}; ++i) s += x[i] * {sv.f32('o + i')};\n"
        if kind == "RBF":
            return "", (f"float s = 0.0f;\n"
                        f"for (i = 0; i < {n_feat}; ++i) {{ const float d = x[i] - {sv.f32('o + i')}; s += d * d; }}\n"
                        f"k = expf(-{G} * s);")
        k_expr = {"LINEAR": "s", "POLY": f"{sym}_powif({G} * s + {C0}, {deg})", "SIGMOID": f"tanhf({G} * s + {C0})"}
        return "", f"float s = 0.0f;\n{dot}k = {k_expr[kind]};"
    if kind == "RBF":
        nu = c_float((n_feat + 4) * u * 1.01)
        rv, rv2 = c_float(rep * 2.01 * u * v_norm), c_float(rep * 1.01 * (u * v_norm) ** 2)
        body = (f"float s, t;\n{_sum4(n_feat, sv, 'rbf')}"
                f"t = {G} * s;\n"
                f"k = expf(-t);\n"
                f"e = {G} * ({nu} * s{f' + {rv} * sqrtf(s) + {rv2}' if rep else ''}) + {c_float(2 * u)} * t;\n"
                f"if (e > 0.5f) e = 1e30f; /* bound no longer first order: force the fallback */\n"
                f"e = k * (e * (1.0f + e) + {c_float(4 * u)});")
        return "", body
    dot_err = c_float((n_feat + 2 + rep) * u * v_norm * 1.01)
    pro = (f"float xs = 0.0f, ed;\n"
           f"for (i = 0; i < {n_feat}; ++i) xs += x[i] * x[i];\n"
           f"ed = {dot_err} * sqrtf(xs) * 1.01f;")
    dot = f"float s;\n{_sum4(n_feat, sv, 'dot')}"
    if kind == "LINEAR":
        return pro, dot + "k = s;\ne = ed;"
    if kind == "POLY":
        return pro, dot + (
            f"{{\n  const float t = {G} * s + {C0};\n"
            f"  const float dt = {c_float(abs(g))} * ed + {c_float(3 * u)} * (fabsf({G} * s) + {c_float(abs(c0))});\n"
            f"  const float pw = {sym}_powif(fabsf(t) + dt, {deg});\n"
            f"  k = {sym}_powif(t, {deg});\n"
            f"  e = (pw - fabsf(k)) + {c_float(2 * deg * u)} * pw;\n}}")
    return pro, dot + (
        f"{{\n  const float t = {G} * s + {C0};\n"
        f"  const float dt = {c_float(abs(g))} * ed + {c_float(3 * u)} * (fabsf({G} * s) + {c_float(abs(c0))});\n"
        f"  k = tanhf(t);\n"
        f"  e = dt + {c_float(4 * u)} * fabsf(k);\n}}")


def _sum4(n_feat: int, sv: SplitTable, kind: str) -> str:
    """Float32 sum over features in four interleaved partial sums (so the compiler can use SIMD);
    the error bound holds for any summation order."""
    term = ("{ const float d = x[i + J] - " + sv.f32("o + i + J") + "; sJ += d * d; }" if kind == "rbf"
            else "sJ += x[i + J] * " + sv.f32("o + i + J") + ";")
    unrolled = " ".join(term.replace("J", str(j)) for j in range(4))
    tail = term.replace("i + J", "i").replace("sJ", "s0")
    return (f"float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;\n"
            f"for (i = 0; i + 3 < {n_feat}; i += 4) {{ {unrolled} }}\n"
            f"for (; i < {n_feat}; ++i) {tail}\n"
            f"s = (s0 + s1) + (s2 + s3);\n")


def _kernel_slow(node, sv: SplitTable, n_feat: int, sym: str) -> str:
    """Per-SV double body computing ``k`` in libsvm's order (``exp(-gamma*sum)``, ``powi``)."""
    kind = node.attr("kernel_type")
    g, c0, deg = node.attr("gamma", 1.0), node.attr("coef0", 0.0), int(node.attr("degree", 3))
    G, C0 = c_double(g), c_double(c0)
    if kind == "RBF":
        return (f"double s = 0.0;\n"
                f"for (i = 0; i < {n_feat}; ++i) {{ const double d = (double)x[i] - {sv.f64('o + i')}; "
                f"s += d * d; }}\n"
                f"k = exp(-{G} * s);")
    dot = (f"double s = 0.0;\n"
           f"for (i = 0; i < {n_feat}; ++i) s += (double)x[i] * {sv.f64('o + i')};\n")
    if kind == "LINEAR":
        return dot + "k = s;"
    if kind == "POLY":
        return dot + f"k = {sym}_powi({G} * s + {C0}, {deg});"
    return dot + f"k = tanh({G} * s + {C0});"


def _powi_helpers(ctx, node, sym: str, slow: bool) -> None:
    if node.attr("kernel_type") != "POLY":
        return
    ctx.helper(sym + "_powif", (
        f"/* libsvm's powi (square and multiply) in float, for the fast path. */\n"
        f"static float {sym}_powif(float base, int32_t times)\n{{\n"
        f"  float tmp = base, ret = 1.0f;\n  int32_t t;\n"
        f"  for (t = times; t > 0; t /= 2) {{ if (t % 2 == 1) ret *= tmp; tmp = tmp * tmp; }}\n"
        f"  return ret;\n}}\n"))
    if slow:
        ctx.helper(sym + "_powi", (
            f"/* libsvm's powi, same operation order. */\n"
            f"static double {sym}_powi(double base, int32_t times)\n{{\n"
            f"  double tmp = base, ret = 1.0;\n  int32_t t;\n"
            f"  for (t = times; t > 0; t /= 2) {{ if (t % 2 == 1) ret *= tmp; tmp = tmp * tmp; }}\n"
            f"  return ret;\n}}\n"))


def _tables(ctx, node, sym: str, low: bool = True):
    g = ctx.graph
    sv = np.asarray(g.const(node.inputs[1]), dtype=np.float64)
    coef = np.asarray(g.const(node.inputs[2]), dtype=np.float64)
    rho = np.asarray(g.const(node.inputs[3]), dtype=np.float64)
    t_sv = store(ctx, _base(ctx, sym) + "_sv", sv, low=low)
    t_coef = store(ctx, _base(ctx, sym) + "_coef", coef, allow_int=False, low=low)
    t_rho = store(ctx, _base(ctx, sym) + "_rho", rho, allow_int=False, low=low)
    v_norm = float(np.sqrt((sv ** 2).sum(axis=1)).max()) if sv.size else 0.0
    return sv.shape, t_sv, t_coef, t_rho, v_norm


@c_op("SVMRegressor")
def svm_regressor(ctx, node) -> str:
    sym = ctx.sym(node.name or "svr")
    (n_sv, n_feat), t_sv, t_coef, t_rho, v_norm = _tables(ctx, node, sym, low=False)
    _powi_helpers(ctx, node, sym, slow=False)
    _, body = _kernel_fast(node, t_sv, n_feat, v_norm, sym, bound=False)
    x, y = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    return (f"const float *x = {x};\nint32_t i, j, o;\nfloat acc = 0.0f;\n"
            f"for (j = 0, o = 0; j < {n_sv}; ++j, o += {n_feat}) {{\n"
            f"  float k;\n{_indent(body, 2)}\n"
            f"  acc += {t_coef.f32('j')} * k;\n}}\n"
            f"{y}[0] = acc - {t_rho.f32('0')};")


@c_op("SVMClassifier")
def svm_classifier(ctx, node) -> str:
    exact = bool(ctx.options.get("exact", True))
    sym = ctx.sym(node.name or "svc")
    (n_sv, n_feat), t_sv, t_coef, t_rho, v_norm = _tables(ctx, node, sym, low=exact)
    counts = [int(c) for c in node.attr("vectors_per_class")]
    k_cls = len(counts)
    n_pairs = k_cls * (k_cls - 1) // 2
    shape = node.attr("decision_shape", "ovr")
    break_ties = bool(node.attr("break_ties", 0)) and k_cls > 2 and shape == "ovr"
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    pbase = np.array([sum(k_cls - a - 1 for a in range(c)) for c in range(k_cls)], dtype=np.int64)
    starts = ctx.const_array(_base(ctx, sym) + "_start", start, "int32")
    _powi_helpers(ctx, node, sym, slow=exact)
    u = U32
    mu = c_float((n_sv + 3) * u * 1.01)
    pro, kbody = _kernel_fast(node, t_sv, n_feat, v_norm, sym)
    pidx = np.array([[pbase[m] + c - m - 1 if m < c else pbase[c] + m - c for m in range(k_cls - 1)]
                     for c in range(k_cls)], dtype=np.int64).reshape(-1)
    pidxs = ctx.const_array(_base(ctx, sym) + "_pair", pidx, "uint8" if n_pairs < 256 else "int32")
    pair_of_m = f"p = {pidxs}[c * {k_cls - 1} + m];"
    vote = (f"for (c = 0; c < {k_cls}; ++c) votes[c] = 0;\n"
            f"for (a = 0, p = 0; a < {k_cls}; ++a)\n"
            f"  for (b = a + 1; b < {k_cls}; ++b, ++p) {{ if (dec[p] > 0) ++votes[a]; else ++votes[b]; }}\n"
            f"best = 0;\n"
            f"for (c = 1; c < {k_cls}; ++c) if (votes[c] > votes[best]) best = c;\n")
    # float64=True: every sample takes the double path (scores as accurate as libsvm's, slower)
    check = ("  return -1;\n" if ctx.options.get("float64") else
             "  if (!(fabs(dec[p]) > err[p])) return -1;\n") if exact else ""
    fast = (
        f"/* float32 pass: votes, decisions and their certified error bounds; -1 if a vote is uncertain. */\n"
        f"static int32_t {sym}_fast(const float *x, double *dec, float *err)\n{{\n"
        f"  float acc[{n_pairs}];\n  int32_t votes[{k_cls}];\n"
        f"  int32_t i, j, o, m, c, a, b, p, best;\n"
        f"{_indent(pro, 2)}\n"
        f"  for (p = 0; p < {n_pairs}; ++p) {{ acc[p] = 0.0f; err[p] = 0.0f; }}\n"
        f"  for (j = 0, o = 0, c = 0; j < {n_sv}; ++j, o += {n_feat}) {{\n"
        f"    float k, e;\n"
        f"    while (j >= {starts}[c + 1]) ++c;\n"
        f"{_indent(kbody, 4)}\n"
        f"    e += {mu} * fabsf(k) + {c_float(ABS_SLACK)};\n"
        f"    for (m = 0; m < {k_cls - 1}; ++m) {{\n"
        f"      const float cf = {t_coef.f32(f'm * {n_sv} + j')};\n"
        f"      {pair_of_m}\n"
        f"      acc[p] += cf * k;\n"
        f"      err[p] += fabsf(cf) * e;\n"
        f"    }}\n  }}\n"
        f"  for (p = 0; p < {n_pairs}; ++p) {{\n"
        f"    const float rho = {t_rho.f32('p')};\n"
        f"    const float sum = acc[p] - rho;\n"
        f"    err[p] = 2.0f * (err[p] + {c_float(2 * u)} * fabsf(rho) + {c_float(u)} * fabsf(sum)) "
        f"+ {c_float(ABS_SLACK)};\n"
        f"    dec[p] = (double)sum;\n"
        f"{check}"
        f"  }}\n"
        f"{_indent(vote, 2)}\n"
        f"  return best;\n}}\n")
    ctx.helper(sym + "_fast", fast)
    if exact:
        slow = (
            f"/* double pass in libsvm's order, for samples whose float32 vote is not certain. */\n"
            f"static int32_t {sym}_slow(const float *x, double *dec)\n{{\n"
            f"  int32_t votes[{k_cls}];\n"
            f"  int32_t i, j, o, m, c, a, b, p, best;\n"
            f"  for (p = 0; p < {n_pairs}; ++p) dec[p] = 0.0;\n"
            f"  for (j = 0, o = 0, c = 0; j < {n_sv}; ++j, o += {n_feat}) {{\n"
            f"    double k;\n"
            f"    while (j >= {starts}[c + 1]) ++c;\n"
            f"{_indent(_kernel_slow(node, t_sv, n_feat, sym), 4)}\n"
            f"    /* SV j adds to each pair it belongs to: for a pair, first-class SVs come first, as libsvm */\n"
            f"    for (m = 0; m < {k_cls - 1}; ++m) {{\n"
            f"      {pair_of_m}\n"
            f"      dec[p] += {t_coef.f64(f'm * {n_sv} + j')} * k;\n"
            f"    }}\n  }}\n"
            f"  for (p = 0; p < {n_pairs}; ++p) dec[p] -= {t_rho.f64('p')};\n"
            f"{_indent(vote, 2)}\n"
            f"  return best;\n}}\n")
        ctx.helper(sym + "_slow", slow)
    ctx.helper(sym + "_finish", _finish(sym, k_cls, n_pairs, shape, break_ties, exact))
    x, lab, sc = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0]), ctx.ref(node.outputs[1])
    code = (f"double dec[{n_pairs}];\nfloat err[{n_pairs}];\n"
            f"int32_t label = {sym}_fast({x}, dec, err);\n"
            f"if (label >= 0) label = {sym}_finish(dec, err, label, {sc});\n")
    if exact:
        code += (f"if (label < 0) {{\n"
                 f"  label = {sym}_slow({x}, dec);\n"
                 f"  label = {sym}_finish(dec, 0, label, {sc});\n}}\n")
    return code + f"{lab}[0] = label;"


def _finish(sym: str, k_cls: int, n_pairs: int, shape: str, break_ties: bool, exact: bool) -> str:
    """Scores in sklearn's decision_function layout; with break_ties, the ovr argmax (certified if err)."""
    head = (f"/* decision_function scores from the pair decisions; err (or 0) certifies a break_ties argmax. */\n"
            f"static int32_t {sym}_finish(const double *dec, const float *err, int32_t label, float *scores)\n{{\n")
    if k_cls == 2:
        return head + "  (void)err;\n  scores[0] = (float)(-dec[0]);\n  return label;\n}\n"
    if shape == "ovo":
        return head + (f"  int32_t p;\n  (void)err;\n"
                       f"  for (p = 0; p < {n_pairs}; ++p) scores[p] = (float)dec[p];\n  return label;\n}}\n")
    body = (f"  double conf[{k_cls}], val[{k_cls}];\n  int32_t votes[{k_cls}];\n"
            f"  int32_t a, b, c, p;\n"
            f"  for (c = 0; c < {k_cls}; ++c) {{ conf[c] = 0.0; votes[c] = 0; }}\n"
            f"  /* sklearn's _ovr_decision_function(dec < 0, -dec, K), same order */\n"
            f"  for (a = 0, p = 0; a < {k_cls}; ++a)\n"
            f"    for (b = a + 1; b < {k_cls}; ++b, ++p) {{\n"
            f"      conf[a] -= -dec[p];\n      conf[b] += -dec[p];\n"
            f"      if (dec[p] < 0) ++votes[b]; else ++votes[a];\n    }}\n"
            f"  for (c = 0; c < {k_cls}; ++c) {{\n"
            f"    val[c] = (double)votes[c] + conf[c] / (3.0 * (fabs(conf[c]) + 1.0));\n"
            f"    scores[c] = (float)val[c];\n  }}\n")
    if not break_ties:
        return head + body + "  (void)err;\n  return label;\n}\n"
    body += (f"  label = 0;\n"
             f"  for (c = 1; c < {k_cls}; ++c) if (val[c] > val[label]) label = c;\n")
    if exact:
        # the transformed confidence c / (3 (|c| + 1)) is 1/3-Lipschitz in c
        body += (f"  if (err) {{\n"
                 f"    float esc[{k_cls}];\n"
                 f"    for (c = 0; c < {k_cls}; ++c) esc[c] = 0.0f;\n"
                 f"    for (a = 0, p = 0; a < {k_cls}; ++a)\n"
                 f"      for (b = a + 1; b < {k_cls}; ++b, ++p) {{ esc[a] += err[p]; esc[b] += err[p]; }}\n"
                 f"    for (c = 0; c < {k_cls}; ++c)\n"
                 f"      if (c != label && !(val[label] - val[c] > 0.34 * ((double)esc[label] + (double)esc[c])))\n"
                 f"        return -1;\n  }}\n")
    else:
        body += "  (void)err;\n"
    return head + body + "  return label;\n}\n"


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else line for line in text.split("\n"))
