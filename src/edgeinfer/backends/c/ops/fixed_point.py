"""C for the fixed-point classical ops (``ir/ops/fixed_point.py``): integer code only.

No float type, literal or conversion appears, so a Cortex-M0+ build (``-mfloat-abi=soft``)
links no soft-float helper (``__aeabi_f*``/``__aeabi_d*``); the tests check that with
``arm-none-eabi-nm -u``. Tables are the smallest integer types that hold them; dense
accumulators are int32 where the worst case provably fits, int64 otherwise.

FxSVM runs one support vector at a time: its integer kernel value is added, times its
int16 dual coefficient, into the int64 sum of each class pair it belongs to (libsvm's
layout, looked up in a small pair table), so no kernel row is stored; then the sums are
shifted to the int32 decisions and voted on. All products that can pass 2**31 are
64-bit (``__aeabi_lmul`` on a Cortex-M0+: an integer helper).
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import ctype, smallest_int_dtype
from edgeinfer.backends.c.registry import c_op
from edgeinfer.ir.ops.fixed_point import EXP_CUT, EXP_FRAC, LUT_SIZE, class_pairs, ovr_vote_weight

_MBQM64 = """/* TFLite's MultiplyByQuantizedMultiplier(int64_t x, ...): multiplier rounded to 16 bits, one
 * rounding right shift by 15 - shift (as quant_math.mbqm64). */
static int64_t ei_fx_mbqm64(int64_t x, int32_t multiplier, int32_t shift)
{
  const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int32_t total = 15 - shift;
  return (x * reduced + ((int64_t)1 << (total - 1))) >> total;
}
"""


def _table(ctx, node, suffix: str, values, lo: int | None = None, hi: int | None = None) -> tuple[str, str]:
    arr = np.asarray(values).astype(np.int64)
    lo = int(arr.min(initial=0)) if lo is None else lo
    hi = int(arr.max(initial=0)) if hi is None else hi
    dt = smallest_int_dtype(lo, hi)
    return ctx.const_array(f"{node.name}_{suffix}", arr, dt), ctype(dt)


def _labels(node, k: int, acc: str) -> list[str]:
    """Label and scores (or a regressor's values) from the int32 sums ``acc[k]``."""
    if node.attr("label_mode", "argmax") == "values":
        return [f"{{ int32_t c_; for (c_ = 0; c_ < {k}; ++c_) OUT0[c_] = {acc}[c_]; }}"]
    if node.attr("label_mode", "argmax") == "argmax":
        return ["{ int32_t c_, best_ = 0;",
                f"  for (c_ = 0; c_ < {k}; ++c_) {{ OUT1[c_] = {acc}[c_]; if ({acc}[c_] > {acc}[best_]) best_ = c_; }}",
                "  OUT0[0] = best_; }"]
    cmp = ">=" if node.attr("label_mode") == "nonnegative" else ">"
    return [f"OUT1[0] = -{acc}[0]; OUT1[1] = {acc}[0]; OUT0[0] = {acc}[0] {cmp} 0 ? 1 : 0;"]


def _finish(ctx, node, lines: list[str]) -> str:
    code = "\n".join(lines)
    for i, o in enumerate(node.outputs):
        code = code.replace(f"OUT{i}", ctx.ref(o))
    return code


@c_op("FxTreeEnsemble")
def fx_trees(ctx, node) -> str:
    """Walk each tree on integer compares, add its int16 leaf row into int32 sums."""
    feat = np.asarray(node.attr("feature"))
    leaves = np.asarray(node.attr("leaf_values"))
    n_leaf, k = leaves.shape
    xdt = ctx.graph.tensors[node.inputs[0]].dtype
    info = np.iinfo(np.dtype(xdt))
    f_t, f_c = _table(ctx, node, "feature", feat, -1)
    t_t, _ = _table(ctx, node, "threshold", node.attr("threshold"), int(info.min), int(info.max))
    top = max(len(feat), n_leaf)
    l_t, i_c = _table(ctx, node, "left", node.attr("left"), 0, top)
    r_t, _ = _table(ctx, node, "right", node.attr("right"), 0, top)
    roots = np.asarray(node.attr("roots"))
    ro_t, _ = _table(ctx, node, "roots", roots, 0, top)
    lv_t = ctx.const_array(f"{node.name}_leaves", leaves, "int16")
    base = ctx.const_array(f"{node.name}_base", np.asarray(node.attr("base")), "int32")
    x = ctx.ref(node.inputs[0])
    lines = [f"int32_t acc_[{k}];", "int32_t t_, c_;",
             f"for (c_ = 0; c_ < {k}; ++c_) acc_[c_] = {base}[c_];",
             f"for (t_ = 0; t_ < {len(roots)}; ++t_) {{",
             f"  {i_c} i_ = {ro_t}[t_];",
             "  const int16_t *lv_;",
             f"  while ({f_t}[i_] >= 0) {{",
             f"    i_ = {x}[{f_t}[i_]] <= {t_t}[i_] ? {l_t}[i_] : {r_t}[i_];", "  }",
             f"  lv_ = {lv_t} + (int32_t){l_t}[i_] * {k};",
             f"  for (c_ = 0; c_ < {k}; ++c_) acc_[c_] += lv_[c_];", "}"]
    if f_c.startswith("uint"):
        raise AssertionError("feature table needs a signed type for the leaf marker")
    return _finish(ctx, node, lines + _labels(node, k, "acc_"))


@c_op("FxDense")
def fx_dense(ctx, node) -> str:
    """Dense layers row by row: exact integer dot product, per-row requantization, activation."""
    ctx.helper("ei_fx_mbqm64", _MBQM64)
    g = ctx.graph
    acts = node.attr("activations")
    luts = node.attr("luts") or [None] * len(acts)
    adt = node.attr("act_dtype", "int16")
    bits = 16 if adt == "int16" else 8
    amax = (1 << (bits - 1)) - 1
    a_c = ctype(adt)
    widths = [g.tensors[node.inputs[1 + 4 * i]].shape[0] for i in range(len(acts))]
    hidden = max(widths[:-1], default=1)
    lines = ([f"{a_c} h0_[{hidden}];"] if len(acts) > 1 else []) + ([f"{a_c} h1_[{hidden}];"] if len(acts) > 2 else [])
    lines += [f"int32_t z_[{widths[-1]}];", "int32_t r_, j_;", "int64_t v_;"]
    src = ctx.ref(node.inputs[0])
    x_max = int(np.iinfo(np.dtype(g.tensors[node.inputs[0]].dtype)).max) + 1
    for li, act in enumerate(acts):
        wn, bn, mn, sn = node.inputs[1 + 4 * li:5 + 4 * li]
        w, b = g.const(wn), g.const(bn)
        n_out, n_in = w.shape
        last = li == len(acts) - 1
        bound = n_in * int(np.abs(w.astype(np.int64)).max(initial=0)) * x_max + int(np.abs(b).max(initial=0))
        wide = bound >= (1 << 31) - 1
        acc_c = "int64_t" if wide else "int32_t"
        b_t = ctx.const_array(f"{node.name}_b{li}", b, "int64" if wide else "int32")
        w_t, m_t, s_t = ctx.ref(wn), ctx.ref(mn), ctx.ref(sn)
        dst = "z_" if last else f"h{li % 2}_"
        lines += [f"/* layer {li}: {n_in} -> {n_out}, {act} */",
                  f"for (r_ = 0; r_ < {n_out}; ++r_) {{",
                  f"  const {ctx.ctype_of(wn)} *w_ = {w_t} + r_ * {n_in};",
                  f"  {acc_c} acc_ = {b_t}[r_];",
                  f"  for (j_ = 0; j_ < {n_in}; ++j_) acc_ += ({acc_c})((int32_t)w_[j_] * (int32_t){src}[j_]);",
                  f"  v_ = ei_fx_mbqm64((int64_t)acc_, {m_t}[r_], {s_t}[r_]);"]
        if last:
            lines.append("  v_ = v_ > 2147483647 ? 2147483647 : (v_ < -2147483647 ? -2147483647 : v_);")
        elif act == "relu":
            lines.append(f"  v_ = v_ < 0 ? 0 : (v_ > {amax} ? {amax} : v_);")
        else:
            lines.append(f"  v_ = v_ < {-amax - 1} ? {-amax - 1} : (v_ > {amax} ? {amax} : v_);")
            if act in ("tanh", "logistic"):
                lut = ctx.const_array(f"{node.name}_lut{li}", np.asarray(luts[li]), "int16" if bits == 16 else "int8")
                sh = bits - 8
                lines += ["  {", f"    const int32_t u_ = (int32_t)v_ + {amax + 1}, i_ = u_ >> {sh};",
                          f"    const int32_t a_ = {lut}[i_], d_ = {lut}[i_ < {LUT_SIZE - 1} ? i_ + 1 : i_] - a_;",
                          f"    v_ = a_ + ((d_ * (u_ & {(1 << sh) - 1})) >> {sh});", "  }"]
        lines += [f"  {dst}[r_] = ({'int32_t' if last else a_c})v_;", "}"]
        src = dst
    return _finish(ctx, node, lines + _labels(node, widths[-1], "z_"))


_RSHIFT = """/* x / 2**s rounded half up (s >= 0), as rshift_round in ir/ops/fixed_point.py */
static int64_t ei_fx_rshift(int64_t x, int32_t s)
{
  return (x + (((int64_t)1 << s) >> 1)) >> s;
}

static int32_t ei_fx_clamp32(int64_t v)
{
  return v > 2147483647 ? 2147483647 : (v < -2147483647 ? -2147483647 : (int32_t)v);
}
"""


def _rbf_kernel(ctx, node, n_feat: int, x: str) -> list[str]:
    """Exact per-group sums of squared code distances, one 64-bit multiply and shift per group, then
    the 2**-f table. With up to 32 groups the vectors' columns are stored group by group and each
    group sums in a register: uint32 squares (one MULS on a Cortex-M0+) when every |x - v| < 2**16,
    a uint32 sum when the group's worst case fits (int8 features), and no cap test where the sum
    cannot reach the cap."""
    g = ctx.graph
    groups = np.asarray(node.attr("dist_group"), np.int64)
    mult, shift, cap = (list(node.attr(a)) for a in ("dist_mult", "dist_shift", "dist_cap"))
    n_grp = len(mult)
    xi = np.iinfo(np.dtype(g.tensors[node.inputs[0]].dtype))
    vv = g.const(node.inputs[1]).astype(np.int64)
    reach = max(int(xi.max) - int(vv.min(initial=0)), int(vv.max(initial=0)) - int(xi.min))
    narrow = reach < 1 << 16
    square = ("const uint32_t a_ = (uint32_t)(d_ < 0 ? -d_ : d_); SQ += a_ * a_;" if narrow
              else "SQ += (int64_t)d_ * d_;")
    vt = ctx.ctype_of(node.inputs[1])
    tab = ctx.const_array(f"{node.name}_exp2", np.asarray(node.attr("kernel_table")), "int32")
    lines = ["  int64_t t_ = 0, e_;", "  int32_t n_, f_, i_;"]
    if n_grp <= 32:
        order = np.argsort(groups, kind="stable")
        if np.array_equal(order, np.arange(n_feat)):
            v, xs = ctx.ref(node.inputs[1]), f"{x}[j_]"
        else:
            v = ctx.const_array(f"{node.name}_vectors_by_group", vv[:, order], g.tensors[node.inputs[1]].dtype)
            perm, _ = _table(ctx, node, "feature_of", order)
            xs = f"{x}[{perm}[j_]]"
        lines.append(f"  const {vt} *v_ = {v} + l_ * {n_feat};")
        start = 0
        for gi, (m, sh, cp) in enumerate(zip(mult, shift, cap, strict=True)):
            stop = start + int((groups == gi).sum())
            worst = (stop - start) * reach * reach
            acc = "uint32_t" if narrow and worst < 1 << 32 else ("uint64_t" if narrow else "int64_t")
            lines += ["  {", f"    {acc} s_ = 0;", f"    for (j_ = {start}; j_ < {stop}; ++j_) {{",
                      f"      const int32_t d_ = (int32_t){xs} - (int32_t)v_[j_];",
                      "      " + square.replace("SQ", "s_"), "    }"]
            if m:  # constant multiplier, shift and cap: the compiler shifts 64-bit values inline
                q = f"(s_ > {cp}LL ? (int64_t){cp}LL : (int64_t)s_)" if worst > cp else "(int64_t)s_"
                lines.append(f"    t_ += ({q} * {m} + {(1 << sh) >> 1}LL) >> {sh};")
            else:
                lines.append("    (void)s_;")
            lines.append("  }")
            start = stop
    else:
        grp_t, _ = _table(ctx, node, "dist_group", groups)
        m_t, _ = _table(ctx, node, "dist_mult", mult)
        sh_t, _ = _table(ctx, node, "dist_shift", shift)
        cap_t = ctx.const_array(f"{node.name}_dist_cap", np.asarray(cap), "int64")
        lines += [f"  const {vt} *v_ = {ctx.ref(node.inputs[1])} + l_ * {n_feat};",
                  f"  int64_t s_[{n_grp}];", f"  for (j_ = 0; j_ < {n_grp}; ++j_) s_[j_] = 0;",
                  f"  for (j_ = 0; j_ < {n_feat}; ++j_) {{",
                  f"    const int32_t d_ = (int32_t){x}[j_] - (int32_t)v_[j_];",
                  "    " + square.replace("SQ", f"s_[{grp_t}[j_]]"), "  }",
                  f"  for (j_ = 0; j_ < {n_grp}; ++j_) {{",
                  f"    const int64_t q_ = s_[j_] > {cap_t}[j_] ? {cap_t}[j_] : s_[j_];",
                  f"    t_ += (q_ * {m_t}[j_] + (((int64_t)1 << {sh_t}[j_]) >> 1)) >> {sh_t}[j_];", "  }"]
    lo = (1 << (EXP_FRAC - 8)) - 1
    return lines + [f"  if (t_ > {EXP_CUT}LL) t_ = {EXP_CUT}LL;",
                    f"  n_ = (int32_t)(t_ >> {EXP_FRAC});",
                    f"  f_ = (int32_t)(t_ & {(1 << EXP_FRAC) - 1});",
                    f"  i_ = f_ >> {EXP_FRAC - 8};",
                    f"  e_ = {tab}[i_] + ((((int64_t){tab}[i_ + 1] - {tab}[i_]) * (f_ & {lo})) >> {EXP_FRAC - 8});",
                    "  k_ = e_ >> n_;"]


def _svm_kernel(ctx, node, n_feat: int, x: str) -> list[str]:
    """Lines computing ``k_`` (int64) for vector ``l_`` of the node's kernel."""
    kind = node.attr("kernel_type")
    if kind == "RBF":
        return _rbf_kernel(ctx, node, n_feat, x)
    v = ctx.ref(node.inputs[1])
    vb, vs = ctx.ref(node.inputs[4]), ctx.ref(node.inputs[5])
    lines = [f"  const int16_t *v_ = {v} + l_ * {n_feat};", f"  int64_t a_ = {vb}[l_];",
             f"  for (j_ = 0; j_ < {n_feat}; ++j_) a_ += (int32_t)v_[j_] * (int32_t){x}[j_];",
             f"  a_ = ei_fx_rshift(a_, {vs}[l_]);"]
    if kind == "SIGMOID":
        lut = ctx.const_array(f"{node.name}_tanh", np.asarray(node.attr("kernel_table")), "int16")
        nxt = f"{lut}[i_ < {LUT_SIZE - 1} ? i_ + 1 : i_]"
        return lines + ["  {", "    const int32_t u_ = (int32_t)(a_ < -32768 ? -32768 : (a_ > 32767 ? 32767 : a_))"
                        " + 32768;", "    const int32_t i_ = u_ >> 8;",
                        f"    k_ = {lut}[i_] + ((({nxt} - {lut}[i_]) * (u_ & 255)) >> 8);", "  }"]
    if int(node.attr("degree", 3)) == 0:
        return lines + [f"  k_ = (int64_t)1 << {int(node.attr('kernel_frac'))}; (void)a_;"]
    lines.append("  a_ = ei_fx_clamp32(a_);")
    lines.append("  k_ = a_;")
    for s in node.attr("power_shift", []):
        lines.append(f"  k_ = ei_fx_clamp32(ei_fx_rshift(k_ * a_, {int(s)}));")
    return lines


@c_op("FxSVM")
def fx_svm(ctx, node) -> str:
    """Kernel (or collapsed linear) decision sums in int64, shifted to int32 decisions, libsvm's vote."""
    ctx.helper("ei_fx_rshift", _RSHIFT)
    g = ctx.graph
    kind = node.attr("kernel_type")
    regressor = node.attr("task", "classifier") == "regressor"
    shifts = [int(s) for s in node.attr("out_shift")]
    n_pairs = len(shifts)
    n_feat = g.tensors[node.inputs[0]].shape[1]
    x = ctx.ref(node.inputs[0])
    sh_t, _ = _table(ctx, node, "out_shift", shifts)
    lines = [f"int64_t acc_[{n_pairs}];", f"int32_t dec_[{n_pairs}];", "int32_t p_, j_;"]
    if kind == "LINEAR":
        w, b = ctx.ref(node.inputs[1]), ctx.ref(node.inputs[2])
        lines += [f"for (p_ = 0; p_ < {n_pairs}; ++p_) {{",
                  f"  const int16_t *w_ = {w} + p_ * {n_feat};", f"  int64_t a_ = {b}[p_];",
                  f"  for (j_ = 0; j_ < {n_feat}; ++j_) a_ += (int32_t)w_[j_] * (int32_t){x}[j_];",
                  "  acc_[p_] = a_;", "}"]
    else:
        coef_t, rho = ctx.ref(node.inputs[2]), ctx.ref(node.inputs[3])
        n_sv = g.tensors[node.inputs[1]].shape[0]
        lines += [f"for (p_ = 0; p_ < {n_pairs}; ++p_) acc_[p_] = -{rho}[p_];"]
        body = ["  int64_t k_;", *_svm_kernel(ctx, node, n_feat, x)]
        if regressor:
            lines += ["{", "  int32_t l_;", f"  for (l_ = 0; l_ < {n_sv}; ++l_) {{",
                      *["  " + s for s in body], f"    acc_[0] += (int64_t){coef_t}[l_] * k_;", "  }", "}"]
        else:
            counts = list(node.attr("vectors_per_class"))
            k = len(counts)
            start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            index = {pq: i for i, pq in enumerate(class_pairs(k))}
            # the pair that coefficient row r of a class-c vector feeds (libsvm's layout)
            pair_of = [index[(r, c) if r < c else (c, r + 1)] for c in range(k) for r in range(k - 1)]
            st_t, _ = _table(ctx, node, "class_start", start)
            po_t, _ = _table(ctx, node, "pair_of", pair_of)
            lines += ["{", "  int32_t c_, l_, r_;", f"  for (c_ = 0; c_ < {k}; ++c_) {{",
                      f"    for (l_ = {st_t}[c_]; l_ < {st_t}[c_ + 1]; ++l_) {{",
                      *["    " + s for s in body],
                      f"      for (r_ = 0; r_ < {k - 1}; ++r_)",
                      f"        acc_[{po_t}[c_ * {k - 1} + r_]] += (int64_t){coef_t}[r_ * {n_sv} + l_] * k_;",
                      "    }", "  }", "}"]
    lines.append(f"for (p_ = 0; p_ < {n_pairs}; ++p_) dec_[p_] = ei_fx_clamp32(ei_fx_rshift(acc_[p_], {sh_t}[p_]));")
    if regressor:
        return _finish(ctx, node, lines + ["OUT0[0] = dec_[0];"])
    k = len(node.attr("vectors_per_class"))
    lines += [f"{{ int32_t votes_[{k}], i_, j2_, best_ = 0;", f"  for (i_ = 0; i_ < {k}; ++i_) votes_[i_] = 0;",
              "  p_ = 0;",
              f"  for (i_ = 0; i_ < {k}; ++i_) for (j2_ = i_ + 1; j2_ < {k}; ++j2_, ++p_) {{",
              "    if (acc_[p_] > 0) ++votes_[i_]; else ++votes_[j2_];  /* libsvm: dec > 0 votes for i */", "  }",
              f"  for (i_ = 1; i_ < {k}; ++i_) if (votes_[i_] > votes_[best_]) best_ = i_;"]
    if k == 2:
        lines += ["  OUT1[0] = -dec_[0];"]
    elif node.attr("decision_shape", "ovr") == "ovo":
        lines += [f"  for (p_ = 0; p_ < {n_pairs}; ++p_) OUT1[p_] = dec_[p_];"]
    else:
        w = ovr_vote_weight(k)
        half = w // 2 - 1
        lines += [f"  {{ int64_t conf_[{k}]; int32_t ov_[{k}];",
                  f"    for (i_ = 0; i_ < {k}; ++i_) {{ conf_[i_] = 0; ov_[i_] = 0; }}", "    p_ = 0;",
                  f"    for (i_ = 0; i_ < {k}; ++i_) for (j2_ = i_ + 1; j2_ < {k}; ++j2_, ++p_) {{",
                  "      if (acc_[p_] >= 0) ++ov_[i_]; else ++ov_[j2_];  /* scikit-learn's ovr votes: dec >= 0 */",
                  "      conf_[i_] += dec_[p_]; conf_[j2_] -= dec_[p_];", "    }",
                  f"    for (i_ = 0; i_ < {k}; ++i_) {{",
                  f"      const int64_t cc_ = conf_[i_] > {half} ? {half} : (conf_[i_] < -{half} ? -{half} "
                  ": conf_[i_]);",
                  f"      OUT1[i_] = ov_[i_] * {w} + (int32_t)cc_;", "    }", "  }"]
        if node.attr("break_ties", 0):
            lines += ["  best_ = 0;", f"  for (i_ = 1; i_ < {k}; ++i_) if (OUT1[i_] > OUT1[best_]) best_ = i_;"]
    lines += ["  OUT0[0] = best_; }"]
    return _finish(ctx, node, lines)
