"""C for the fixed-point classical ops (``ir/ops/fixed_point.py``): integer code only.

No float type, literal or conversion appears, so a Cortex-M0+ build (``-mfloat-abi=soft``)
links no soft-float helper (``__aeabi_f*``/``__aeabi_d*``); the tests check that with
``arm-none-eabi-nm -u``. Tables are the smallest integer types that hold them; dense
accumulators are int32 where the worst case provably fits, int64 otherwise.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import ctype, smallest_int_dtype
from edgeinfer.backends.c.registry import c_op
from edgeinfer.ir.ops.fixed_point import LUT_SIZE

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
    """Label and scores from the int32 sums ``acc[k]`` (outputs out-pointers of the node)."""
    lab, sc = node.outputs
    if node.attr("label_mode", "argmax") == "argmax":
        return ["{ int32_t c_, best_ = 0;",
                f"  for (c_ = 0; c_ < {k}; ++c_) {{ OUT1[c_] = {acc}[c_]; if ({acc}[c_] > {acc}[best_]) best_ = c_; }}",
                "  OUT0[0] = best_; }"]
    cmp = ">=" if node.attr("label_mode") == "nonnegative" else ">"
    return [f"OUT1[0] = -{acc}[0]; OUT1[1] = {acc}[0]; OUT0[0] = {acc}[0] {cmp} 0 ? 1 : 0;"]


def _finish(ctx, node, lines: list[str]) -> str:
    code = "\n".join(lines)
    return code.replace("OUT0", ctx.ref(node.outputs[0])).replace("OUT1", ctx.ref(node.outputs[1]))


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
