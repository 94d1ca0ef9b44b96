"""C for convolution, pooling and normalisation: calls into ei_conv.c / ei_pool.c (see ei_nn.h).

1-D layers run as 2-D ones of height 1. The geometry of each layer goes in a small
``static const int32_t`` table, resolved here once with the same code as the IR
reference (``conv_geometry``), so C and reference cannot disagree on padding.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import c_float
from edgeinfer.backends.c.ops.shape import c_op_unless_defined, dims, require_float32
from edgeinfer.backends.c.ops.vector_math import act_bounds
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.ops.nn import conv_geometry, convtranspose_geometry


def _as_2d(node, shape: list[int]) -> list[int]:
    if len(shape) == 3:
        return [shape[0], shape[1], 1, shape[2]]
    if len(shape) == 4:
        return shape
    raise UnsupportedModelError(f"the C backend has {node.op} for 1-D and 2-D inputs only, not {shape}")


def _geo2d(geo: dict, nd: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """(strides, dilations, begin pads, end pads) as 2-D lists."""
    s, d, p = geo["strides"], geo["dilations"], geo["pads"]
    if nd == 1:
        return [1, s[0]], [1, d[0]], [0, p[0]], [0, p[1]]
    return list(s), list(d), p[:2], p[2:]


def _per_image(ctx, node, call: str) -> str:
    """Run ``call`` (using @X@ and @Y@) once per image of the leading dimension (1 for a model's own batch)."""
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    n, xs, ys = x[0], int(np.prod(x[1:])), int(np.prod(y[1:]))
    xr, yr = ctx.ref(node.inputs[0]), ctx.ref(node.outputs[0])
    if n == 1:
        return call.replace("@X@", xr).replace("@Y@", yr)
    return (f"int32_t n;\nfor (n = 0; n < {n}; ++n) {{\n  "
            + call.replace("@X@", f"{xr} + n * {xs}").replace("@Y@", f"{yr} + n * {ys}") + "\n}")


def _table(ctx, node, values: list[int]) -> str:
    return ctx.const_array(node.name + "_geom", np.asarray(values, dtype=np.int32), "int32")


def _weights_bias(ctx, node) -> tuple[str, str]:
    if ctx.graph.const(node.inputs[1]) is None:
        raise UnsupportedModelError(f"the C backend needs {node.op} weights to be constant")
    w = ctx.ref(node.inputs[1])
    b = ctx.ref(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else "(const float *)0"
    return w, b


#: im2col slice budget: rows of output are gathered until the slice would pass this many bytes
#: (at least one GEMM tile of 16 pixels, at most the whole plane). Only for the convs the band does not
#: take (a stride above 4, more than 64 taps, a strided 1x1 conv).
IM2COL_BUDGET = 8 * 1024
#: band budget: ei_conv2d_gemm_f32 computes from a band of zero-padded input rows, as many output rows
#: at a time as fit in its scratch; the scratch is sized for as many rows as fit in this many bytes
#: (at least one, at most the whole plane). More rows copy less (each chunk copies kh - 1 rows twice)
#: and waste fewer lanes at the end of a chunk; 16 KiB keeps every zoo model's arena where it was.
BAND_BUDGET = 16 * 1024
GEMM_MR, GEMM_NR = 8, 16
#: ei_gemm.c's EI_BAND_MAXSTRIDE, EI_BAND_MAXTAPS and EI_BAND_SLACK
BAND_MAXSTRIDE, BAND_MAXTAPS, BAND_SLACK = 4, 64, 16


def _conv_kind(graph, node) -> str:
    """Which float kernel runs ``node``: "pointwise", "gemm", "depthwise" or "direct" (the generic one)."""
    if node.op != "Conv" or graph.tensors[node.outputs[0]].dtype != "float32" or graph.const(node.inputs[1]) is None:
        return "none"
    x, wshape = graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape
    if len(x) not in (3, 4) or any(d is None for d in x[1:]):
        return "none"
    grp = node.attr("group", 1)
    geo = conv_geometry(node, list(x[2:]), list(wshape[2:]))
    if grp == 1:
        if all(k == 1 for k in wshape[2:]) and all(s == 1 for s in geo["strides"]) and not any(geo["pads"]):
            return "pointwise"
        return "gemm"
    if grp == x[1] == wshape[0]:
        return "depthwise"
    return "direct"


def _geom_values(graph, node) -> list[int]:
    x = [1 if d is None else int(d) for d in graph.tensors[node.inputs[0]].shape]
    y = [1 if d is None else int(d) for d in graph.tensors[node.outputs[0]].shape]
    wshape = list(graph.tensors[node.inputs[1]].shape)
    nd = len(x) - 2
    x2, y2, k2 = _as_2d(node, x), _as_2d(node, y), _as_2d(node, wshape)
    s, d, pb, _ = _geo2d(conv_geometry(node, x[2:], wshape[2:]), nd)
    return [x2[1], x2[2], x2[3], y2[1], y2[2], y2[3], k2[2], k2[3], *s, *d, *pb, node.attr("group", 1)]


def _band(geom: list[int]) -> tuple[int, int] | None:
    """ei_gemm.c's band for one input channel: (floats for 0 output rows, floats per output row), or None
    when the layer does not suit it (the kernel then runs im2col)."""
    _c, _h, _w, _co, _oh, ow, kh, kw, sh, sw, dh, dw, _pt, _pl, _g = geom
    if sh > BAND_MAXSTRIDE or sw > BAND_MAXSTRIDE or kh * kw > BAND_MAXTAPS or kh * kw == 1:
        return None
    rows = len({ky * dh % sh for ky in range(kh)})
    if ow % 8:  # a column plane per kernel column, at the output's pitch
        cols, wq = kw, ow
    else:  # a column plane per column stride phase, wq = ow + (kw - 1) * dw / sw
        cols, wq = len({kx * dw % sw for kx in range(kw)}), ow + (kw - 1) * dw // sw
    return rows * cols * ((kh - 1) * dh // sh) * wq, rows * cols * wq


def _band_rows(geom: list[int], chunk: int) -> int:
    """Output rows per band in the scratch of ``chunk`` im2col rows, as ei_conv2d_gemm_f32 computes them
    (before evening them out over the plane; 0: no band fits, the kernel runs im2col)."""
    band = _band(geom)
    if band is None:
        return 0
    cin, ow, oh = geom[0], geom[5], geom[4]
    avail = cin * geom[6] * geom[7] * (-(-chunk * ow // GEMM_NR) * GEMM_NR) - BAND_SLACK
    return max(0, min(oh, (avail // cin - band[0]) // band[1]))


def _chunk_rows(geom: list[int]) -> int:
    """The kernel's ``chunk_rows``: its scratch is c_in * kh * kw * roundup(chunk_rows * ow, 16) floats (an
    im2col slice of that many output rows), which the band uses for as many rows as fit (see BAND_BUDGET)."""
    k, oh, ow = geom[0] * geom[6] * geom[7], geom[4], geom[5]
    band = _band(geom)
    if band is None:
        rows = max(-(-GEMM_NR // ow), IM2COL_BUDGET // (4 * k * ow))
        return max(1, min(oh, rows))
    cin = geom[0]
    want = max(1, min(oh, ((BAND_BUDGET // 4 - BAND_SLACK) // cin - band[0]) // band[1]))
    chunk = 1
    while chunk < oh and _band_rows(geom, chunk) < want:
        chunk += 1
    return chunk


def _dw_scratch_floats(geom: list[int]) -> int:
    """Floats of the depthwise kernel's scratch, as ``ei_dwconv_padded`` computes them."""
    _c, h, w, _co, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, _g = geom
    if (kh, kw, sh, sw, dh, dw, pt, pl) == (3, 3, 1, 1, 1, 1, 1, 1) and (oh, ow) == (h, w) and ow < 16:
        return 3 * h * w + 2 * w + 2
    return ((oh - 1) * sh + (kh - 1) * dh + 1) * ((ow - 1) * sw + (kw - 1) * dw + 1)


def conv_alias_ok(graph, node) -> bool:
    """Memory-planner hook: a depthwise or pointwise conv may write its output over its input (batch 1)."""
    kind = _conv_kind(graph, node)
    if kind not in ("pointwise", "depthwise") or graph.tensors[node.inputs[0]].shape[0] not in (None, 1):
        return False
    geom = _geom_values(graph, node)
    return geom[4] * geom[5] <= geom[1] * geom[2]


def conv_accumulate_ok(graph, node) -> bool:
    """Memory-planner hook: a group-1 conv without fused activation can add into a residual's buffer."""
    return (_conv_kind(graph, node) in ("pointwise", "gemm") and not node.attr("activation")
            and graph.tensors[node.inputs[0]].shape[0] in (None, 1))


def conv_scratch_bytes(graph, node, inplace: bool) -> int:
    """Memory-planner hook: working memory of the kernel that runs ``node`` (see ei_nn.h)."""
    kind = _conv_kind(graph, node)
    if kind == "none" or kind == "direct":
        return 0
    geom = _geom_values(graph, node)
    if kind == "pointwise":
        return 4 * (geom[3] + geom[0]) * GEMM_NR
    if kind == "gemm":
        return 4 * geom[0] * geom[6] * geom[7] * (-(-_chunk_rows(geom) * geom[5] // GEMM_NR) * GEMM_NR)
    return 4 * _dw_scratch_floats(geom)


def _packed(ctx, node) -> tuple[str, str]:
    """Weights packed [ceil(M/8)][K][8] and bias padded to a multiple of 8, as ei_gemm_f32 reads them."""
    w = ctx.graph.const(node.inputs[1]).astype(np.float32)
    m = w.shape[0]
    w = w.reshape(m, -1)
    mp = -(-m // GEMM_MR) * GEMM_MR
    wpad = np.zeros((mp, w.shape[1]), np.float32)
    wpad[:m] = w
    wp = wpad.reshape(mp // GEMM_MR, GEMM_MR, -1).transpose(0, 2, 1)
    b = np.zeros(mp, np.float32)
    if len(node.inputs) > 2 and node.inputs[2]:
        b[:m] = ctx.graph.const(node.inputs[2]).astype(np.float32)
    return ctx.const_array(node.name + "_wpack", wp), ctx.const_array(node.name + "_bpack", b)


@c_op_unless_defined("Conv")
def conv(ctx, node) -> str:
    require_float32(ctx, node)
    values = _geom_values(ctx.graph, node)
    md = ctx.graph.metadata
    kind = _conv_kind(ctx.graph, node)
    scratch = md.get("scratch", {}).get(node.name)
    lo, hi = act_bounds(node)
    acc = 1 if node.name in md.get("accumulate", {}) else 0
    sref = f"(float *)({ctx.name}_arena.b + {scratch[0]})" if scratch else "(float *)0"
    if kind in ("pointwise", "gemm", "depthwise") and (scratch or kind == "pointwise"):
        geom = _table(ctx, node, values)
        ctx.use_kernel("ei_gemm")
        if kind == "depthwise":
            w, b = _weights_bias(ctx, node)
            return _per_image(ctx, node, f"ei_dwconv2d_f32({geom}, @X@, {w}, {b}, {lo}, {hi}, {sref}, @Y@);")
        wp, bp = _packed(ctx, node)
        if kind == "pointwise":
            return _per_image(ctx, node, f"ei_conv1x1_f32({geom}, @X@, {wp}, {bp}, {lo}, {hi}, {acc}, {sref}, @Y@);")
        return _per_image(ctx, node, f"ei_conv2d_gemm_f32({geom}, @X@, {wp}, {bp}, {lo}, {hi}, {acc}, "
                                     f"{_chunk_rows(values)}, {sref}, @Y@);")
    if acc:
        raise RuntimeError(f"{node.name}: planned to accumulate into a residual but has no GEMM kernel")
    geom = _table(ctx, node, values)
    w, b = _weights_bias(ctx, node)
    ctx.use_kernel("ei_conv")
    return _per_image(ctx, node, f"ei_conv2d_f32({geom}, @X@, {w}, {b}, {lo}, {hi}, @Y@);")


def _conv_transpose_nd(ctx, node) -> str:
    """ConvTranspose of any rank as generated loops (3-D inputs): every input element scatters
    into the outputs its kernel reaches, as ei_convtranspose2d_f32 does in 2-D."""
    x, y, wshape = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0]), dims(ctx, node.inputs[1])
    nd = len(x) - 2
    geo = convtranspose_geometry(node, x[2:], wshape[2:])
    s, d, p = geo["strides"], geo["dilations"], geo["pads"]
    sp, out, k = x[2:], y[2:], wshape[2:]
    grp = node.attr("group", 1)
    cin, cout = x[1], y[1]
    cg, mg = cin // grp, cout // grp
    plane, oplane, kplane = int(np.prod(sp)), int(np.prod(out)), int(np.prod(k))
    w, b = _weights_bias(ctx, node)
    lo, hi = act_bounds(node)
    i, kk, j = [f"i{a}" for a in range(nd)], [f"k{a}" for a in range(nd)], [f"j{a}" for a in range(nd)]
    lines = [f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])};",
             f"int32_t n, c, m, e, {', '.join(i + kk)};",
             f"for (n = 0; n < {x[0]}; ++n) {{",
             f"  for (m = 0; m < {cout}; ++m) {{",
             f"    const float bias = {'0.0f' if b.startswith('(') else b + '[m]'};",
             f"    for (e = 0; e < {oplane}; ++e) y[(n * {cout} + m) * {oplane} + e] = bias;",
             "  }",
             f"  for (c = 0; c < {cin}; ++c) {{",
             f"    const float *xc = x + (n * {cin} + c) * {plane};",
             f"    for (m = 0; m < {mg}; ++m) {{",
             f"      float *ym = y + (n * {cout} + (c / {cg}) * {mg} + m) * {oplane};",
             f"      const float *wc = {w} + (c * {mg} + m) * {kplane};"]
    ind = "      "
    for a in range(nd):
        lines.append(ind + "  " * a + f"for ({i[a]} = 0; {i[a]} < {sp[a]}; ++{i[a]}) {{")
    ind2 = ind + "  " * nd
    for a in range(nd):
        pad = ind2 + "  " * a
        lines.append(f"{pad}for ({kk[a]} = 0; {kk[a]} < {k[a]}; ++{kk[a]}) {{")
        lines.append(f"{pad}  const int32_t {j[a]} = {i[a]} * {s[a]} + {kk[a]} * {d[a]} - {p[a]};")
        lines.append(f"{pad}  if ({j[a]} < 0 || {j[a]} >= {out[a]}) continue;")
    inner = ind2 + "  " * nd
    st = lambda shape, a: int(np.prod(shape[a + 1:]))  # noqa: E731
    yo = " + ".join(f"{j[a]} * {st(out, a)}" for a in range(nd))
    xo = " + ".join(f"{i[a]} * {st(sp, a)}" for a in range(nd))
    wo = " + ".join(f"{kk[a]} * {st(k, a)}" for a in range(nd))
    lines.append(f"{inner}ym[{yo}] += wc[{wo}] * xc[{xo}];")
    for a in reversed(range(2 * nd)):
        lines.append(ind + "  " * a + "}")
    lines += ["    }", "  }", "}",
              f"for (e = 0; e < {x[0] * cout * oplane}; ++e) {{",
              f"  if (y[e] < {lo}) y[e] = {lo};",
              f"  if (y[e] > {hi}) y[e] = {hi};",
              "}"]
    return "\n".join(lines)


@c_op_unless_defined("ConvTranspose")
def conv_transpose(ctx, node) -> str:
    require_float32(ctx, node)
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    wshape = dims(ctx, node.inputs[1])
    nd = len(x) - 2
    if nd not in (1, 2):
        return _conv_transpose_nd(ctx, node)
    x2, y2, k2 = _as_2d(node, x), _as_2d(node, y), _as_2d(node, wshape)
    s, d, pb, _ = _geo2d(convtranspose_geometry(node, x[2:], wshape[2:]), nd)
    geom = _table(ctx, node, [x2[1], x2[2], x2[3], y2[1], y2[2], y2[3], k2[2], k2[3], *s, *d, *pb,
                              node.attr("group", 1)])
    w, b = _weights_bias(ctx, node)
    lo, hi = act_bounds(node)
    ctx.use_kernel("ei_conv")
    return _per_image(ctx, node, f"ei_convtranspose2d_f32({geom}, @X@, {w}, {b}, {lo}, {hi}, @Y@);")


def _pool_nd(ctx, node) -> str:
    """Any-rank pooling as generated loops (3-D inputs, integer element types, MaxPool's Indices):
    the same window rules as ei_pool.c's 2-D kernel, one loop per spatial dim."""
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    t = ctx.ctype_of(node.inputs[0])
    is_max = node.op == "MaxPool"
    if not is_max and t != "float":
        raise UnsupportedModelError(f"the C backend computes AveragePool in float32 only, not {t}")
    k = [int(v) for v in node.attr("kernel_shape")]
    nd = len(x) - 2
    geo = conv_geometry(node, x[2:], k, pool=True)
    s, d, p, sp, out = geo["strides"], geo["dilations"], geo["pads"], x[2:], y[2:]
    ist = [int(np.prod(sp[i + 1:])) for i in range(nd)]
    ost = [int(np.prod(out[i + 1:])) for i in range(nd)]
    arg_st = [int(np.prod(sp[:i])) for i in range(nd)] if node.attr("storage_order", 0) else ist
    plane, oplane = int(np.prod(sp)), int(np.prod(out))
    want_idx = len(node.outputs) > 1 and bool(node.outputs[1])
    o, kk, j = [f"o{i}" for i in range(nd)], [f"k{i}" for i in range(nd)], [f"j{i}" for i in range(nd)]
    lines = [f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])};",
             f"int32_t c, {', '.join(o + kk)};"]
    if want_idx:
        lines.append(f"int64_t *ind = {ctx.ref(node.outputs[1])};")
    lines.append(f"for (c = 0; c < {x[0] * x[1]}; ++c) {{")
    lines.append(f"  const {t} *xc = x + c * {plane};")
    for i in range(nd):
        lines.append("  " * (i + 1) + f"for ({o[i]} = 0; {o[i]} < {out[i]}; ++{o[i]}) {{")
    ind = "  " * (nd + 1)
    acc_t = t if is_max else "float"
    lines.append(f"{ind}{acc_t} acc = {'0' if is_max else '0.0f'}; int32_t n = 0, arg = -1;")
    for i in range(nd):
        pad = ind + "  " * i
        lines.append(f"{pad}for ({kk[i]} = 0; {kk[i]} < {k[i]}; ++{kk[i]}) {{")
        lines.append(f"{pad}  const int32_t {j[i]} = {o[i]} * {s[i]} + {kk[i]} * {d[i]} - {p[i]};")
        lines.append(f"{pad}  if ({j[i]} >= {sp[i] + p[i + nd]}) break;")
    inner = ind + "  " * nd
    outside = " || ".join(f"{j[i]} < 0 || {j[i]} >= {sp[i]}" for i in range(nd))
    incl = int(node.attr("count_include_pad", 0))
    lines.append(f"{inner}if ({outside}) {{ n += {incl}; continue; }}")
    src = " + ".join(f"{j[i]} * {ist[i]}" for i in range(nd))
    lines.append(f"{inner}{{ const {t} v = xc[{src}];")
    if is_max:
        flat = " + ".join(f"{j[i]} * {arg_st[i]}" for i in range(nd))
        lines.append(f"{inner}  if (arg < 0 || v > acc) {{ acc = v; arg = {flat}; }}")
    else:
        lines.append(f"{inner}  acc += v;")
    lines.append(f"{inner}  ++n; }}")
    for i in reversed(range(nd)):
        lines.append(ind + "  " * i + "}")
    oidx = "c * " + str(oplane) + " + " + " + ".join(f"{o[i]} * {ost[i]}" for i in range(nd))
    if is_max:
        lines.append(f"{ind}(void)n; y[{oidx}] = acc;")
        if want_idx:
            lines.append(f"{ind}ind[{oidx}] = (int64_t)c * {plane} + arg;")
        else:
            lines.append(f"{ind}(void)arg;")
    else:
        lines.append(f"{ind}(void)arg; y[{oidx}] = n > 0 ? acc / (float)n : 0.0f;")
    for i in reversed(range(nd + 1)):
        lines.append("  " * i + "}")
    return "\n".join(lines)


@c_op_unless_defined("MaxPool", "AveragePool")
def pool(ctx, node) -> str:
    x = dims(ctx, node.inputs[0])
    if len(x) not in (3, 4) or ctx.ctype_of(node.inputs[0]) != "float" or len(node.outputs) > 1:
        return _pool_nd(ctx, node)
    require_float32(ctx, node)
    x, y = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    k = list(node.attr("kernel_shape"))
    nd = len(x) - 2
    x2, y2 = _as_2d(node, x), _as_2d(node, y)
    k2 = [1, k[0]] if nd == 1 else k
    s, d, pb, pe = _geo2d(conv_geometry(node, x[2:], k, pool=True), nd)
    incl = int(node.attr("count_include_pad", 0))
    geom = _table(ctx, node, [x2[1], x2[2], x2[3], y2[2], y2[3], *k2, *s, *d, *pb, *pe, incl])
    fn = "ei_maxpool2d_f32" if node.op == "MaxPool" else "ei_avgpool2d_f32"
    ctx.use_kernel("ei_pool")
    return _per_image(ctx, node, f"{fn}({geom}, @X@, @Y@);")


@c_op_unless_defined("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx, node) -> str:
    require_float32(ctx, node)
    x = dims(ctx, node.inputs[0])
    c, hw = x[0] * x[1], int(np.prod(x[2:]))
    if node.op == "GlobalMaxPool":
        body = "float m = xc[0];\n  for (i = 1; i < {hw}; ++i) if (xc[i] > m) m = xc[i];\n  y[c] = m;"
    else:
        body = "float s = 0.0f;\n  for (i = 0; i < {hw}; ++i) s += xc[i];\n  y[c] = s / {n};"
    return (f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t c, i;\n"
            f"for (c = 0; c < {c}; ++c) {{\n  const float *xc = x + c * {hw};\n  "
            + body.format(hw=hw, n=c_float(hw)) + "\n}")


@c_op_unless_defined("BatchNormalization")
def batchnorm(ctx, node) -> str:
    require_float32(ctx, node)
    vals = [ctx.graph.const(i) for i in node.inputs[1:5]]
    if any(v is None for v in vals):
        raise UnsupportedModelError("the C backend needs BatchNormalization's statistics to be constant")
    scale, b, mean, var = (v.astype(np.float64) for v in vals)
    k = scale / np.sqrt(var + node.attr("epsilon", 1e-5))
    shift = b - mean * k
    x = dims(ctx, node.inputs[0])
    c, inner, n = x[1], int(np.prod(x[2:])), x[0]
    kk = ctx.const_array(node.name + "_scale", k.astype(np.float32))
    ss = ctx.const_array(node.name + "_shift", shift.astype(np.float32))
    return (f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t c, i;\n"
            f"for (c = 0; c < {n * c}; ++c) {{\n"
            f"  for (i = 0; i < {inner}; ++i) y[c * {inner} + i] = x[c * {inner} + i] * {kk}[c % {c}] + {ss}[c % {c}];"
            "\n}")
