"""C for data-movement ops: copies, transposes, slices, concatenation, padding, gather, resize.

Shapes are known when the C is generated, so every movement is a nest of plain loops
over constant bounds with constant strides (:func:`loop_nest`), collapsed where the
memory is contiguous; nothing is looked up at run time except Gather's indices.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c import registry
from edgeinfer.backends.c.context import c_float, smallest_int_dtype
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.ops.shape import Split, pad_widths, resize_source_index, resize_taps, slice_indices


def c_op_unless_defined(*names: str):
    """Register an emitter for the op names that have none yet (the first module loaded keeps its own)."""
    def deco(fn):
        free = [n for n in names if n not in registry._EMITTERS]
        return registry.c_op(*free)(fn) if free else fn
    return deco


def dims(ctx, tensor: str) -> list[int]:
    """Shape of one sample: a symbolic batch counts as 1."""
    return [1 if d is None else int(d) for d in ctx.graph.tensors[tensor].shape]


def strides_of(shape: list[int]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def loop_nest(shape: list[int], offsets: dict[str, tuple[int, list[int]]], body: str) -> str:
    """Nested loops over ``shape``; ``offsets[name] = (base, strides)`` defines index ``name``.

    The body refers to each index by its name. Dimensions of size 1 are dropped and
    neighbours that are contiguous for every index are merged, so a plain copy is one loop.
    """
    keep = [i for i, d in enumerate(shape) if d != 1]
    shp = [shape[i] for i in keep]
    strd = {k: [s[i] for i in keep] for k, (_, s) in offsets.items()}
    j = len(shp) - 1
    while j > 0:
        if all(strd[k][j - 1] == strd[k][j] * shp[j] for k in strd):
            shp[j - 1] *= shp[j]
            for k in strd:
                strd[k][j - 1] = strd[k][j]
                del strd[k][j]
            del shp[j]
        j -= 1
    if not shp:
        decl = " ".join(f"const int32_t {k} = {offsets[k][0]};" for k in offsets)
        return "{ " + decl + " " + body + " }"
    idx = [f"i{d}" for d in range(len(shp))]
    lines = [f"int32_t {', '.join(idx)};"]
    for d, n in enumerate(shp):
        lines.append("  " * d + f"for ({idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    pad = "  " * len(shp)
    for k, (base, _) in offsets.items():
        terms = [str(base)] if base else []
        terms += [f"{idx[d]} * {s}" if s != 1 else idx[d] for d, s in enumerate(strd[k]) if s]
        lines.append(f"{pad}const int32_t {k} = {' + '.join(terms) or '0'};")
    lines.append(pad + body)
    for d in reversed(range(len(shp))):
        lines.append("  " * d + "}")
    return "\n".join(lines)


def copy_block(ctx, node, x: str, y: str) -> str:
    """Copy a tensor's values unchanged (in place when the planner aliased the buffers)."""
    n = ctx.numel(y)
    t = ctx.ctype_of(y)
    if ctx.ref(y) == ctx.ref(x):
        return "/* in place: the planner gave output and input the same buffer */"
    return f"memmove({ctx.ref(y)}, {ctx.ref(x)}, {n} * sizeof({t}));"


@c_op_unless_defined("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout")
def reshape(ctx, node) -> str:
    return copy_block(ctx, node, node.inputs[0], node.outputs[0])


@c_op_unless_defined("Transpose")
def transpose(ctx, node) -> str:
    from edgeinfer.ir.ops.shape import Transpose

    shp = dims(ctx, node.inputs[0])
    perm = Transpose.perm(node, len(shp))
    st = strides_of(shp)
    out = [shp[p] for p in perm]
    t = ctx.ctype_of(node.outputs[0])
    return (f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])};\n"
            + loop_nest(out, {"o": (0, strides_of(out)), "s": (0, [st[p] for p in perm])}, "y[o] = x[s];"))


@c_op_unless_defined("Concat")
def concat(ctx, node) -> str:
    out = dims(ctx, node.outputs[0])
    a = node.attr("axis") % len(out)
    ost = strides_of(out)
    t = ctx.ctype_of(node.outputs[0])
    parts, off = [f"{t} *y = {ctx.ref(node.outputs[0])};"], 0
    for i, name in enumerate(node.inputs):
        shp = dims(ctx, name)
        if not np.prod(shp):
            continue
        parts.append(f"{{ const {t} *x{i} = {ctx.ref(name)};\n"
                     + loop_nest(shp, {"o": (off * ost[a], ost), "s": (0, strides_of(shp))}, f"y[o] = x{i}[s];")
                     + "\n}")
        off += shp[a]
    return "\n".join(parts)


@c_op_unless_defined("Split")
def split(ctx, node) -> str:
    shp = dims(ctx, node.inputs[0])
    a = node.attr("axis", 0) % len(shp)
    ist = strides_of(shp)
    t = ctx.ctype_of(node.inputs[0])
    parts, off = [f"const {t} *x = {ctx.ref(node.inputs[0])};"], 0
    for i, (name, size) in enumerate(zip(node.outputs, Split.sizes(node, shp[a]), strict=True)):
        out = dims(ctx, name)
        if size:
            parts.append(f"{{ {t} *y{i} = {ctx.ref(name)};\n"
                         + loop_nest(out, {"o": (0, strides_of(out)), "s": (off * ist[a], ist)}, f"y{i}[o] = x[s];")
                         + "\n}")
        off += size
    return "\n".join(parts)


@c_op_unless_defined("Slice")
def slice_(ctx, node) -> str:
    shp = dims(ctx, node.inputs[0])
    ist = strides_of(shp)
    out = dims(ctx, node.outputs[0])
    if not np.prod(out):
        return "/* empty slice */"
    base, st = 0, []
    steps = {int(a) % len(shp): int(s) for a, s in zip(node.attr("axes", None) or range(len(node.attr("starts"))),
                                                      node.attr("steps", None) or [1] * len(node.attr("starts")),
                                                      strict=True)}
    for ax, ix in enumerate(slice_indices(node, shp)):
        step = steps.get(ax, 1) if ix is not None else 1
        base += (ix[0] if ix else 0) * ist[ax]
        st.append(step * ist[ax])
    t = ctx.ctype_of(node.outputs[0])
    return (f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])};\n"
            + loop_nest(out, {"o": (0, strides_of(out)), "s": (base, st)}, "y[o] = x[s];"))


@c_op_unless_defined("Gather")
def gather(ctx, node) -> str:
    shp = dims(ctx, node.inputs[0])
    a = node.attr("axis", 0) % len(shp)
    outer, n_axis, inner = int(np.prod(shp[:a])), shp[a], int(np.prod(shp[a + 1:]))
    n_idx = ctx.numel(node.inputs[1])
    t = ctx.ctype_of(node.outputs[0])
    it = ctx.ctype_of(node.inputs[1])
    return (f"const {t} *x = {ctx.ref(node.inputs[0])}; const {it} *ind = {ctx.ref(node.inputs[1])};\n"
            f"{t} *y = {ctx.ref(node.outputs[0])}; int32_t o, j;\n"
            f"for (o = 0; o < {outer}; ++o) {{\n"
            f"  for (j = 0; j < {n_idx}; ++j) {{\n"
            f"    int32_t k = (int32_t)ind[j];\n"
            f"    if (k < 0) k += {n_axis};\n"
            f"    if (k < 0 || k >= {n_axis}) {{  /* an index outside the axis gives zeros, never a stray read */\n"
            f"      memset(y + (o * {n_idx} + j) * {inner}, 0, {inner} * sizeof({t}));\n      continue;\n    }}\n"
            f"    memcpy(y + (o * {n_idx} + j) * {inner}, x + (o * {n_axis} + k) * {inner}, "
            f"{inner} * sizeof({t}));\n  }}\n}}")


def _index_table(ctx, node, src_shape: list[int], fn) -> str:
    """y[i] = x[table[i]] with the table computed by running ``fn`` on the source indices."""
    idx = fn(np.arange(int(np.prod(src_shape)), dtype=np.int64).reshape(src_shape)).reshape(-1)
    dt = smallest_int_dtype(int(idx.min(initial=0)), int(idx.max(initial=0)))
    tab = ctx.const_array(node.name + "_index", idx, dt)
    t = ctx.ctype_of(node.outputs[0])
    return (f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])}; int32_t i;\n"
            f"for (i = 0; i < {idx.size}; ++i) y[i] = x[{tab}[i]];")


@c_op_unless_defined("Pad")
def pad(ctx, node) -> str:
    shp = dims(ctx, node.inputs[0])
    w = pad_widths(node, len(shp))
    mode = node.attr("mode", "constant")
    if mode != "constant":
        from edgeinfer.ir.ops.shape import Pad

        return _index_table(ctx, node, shp, lambda a: Pad.reference(node, a)[0])
    out = dims(ctx, node.outputs[0])
    t = ctx.ctype_of(node.outputs[0])
    ist, ost = strides_of(shp), strides_of(out)
    # the part of the input that survives negative pads, and where it lands
    region = [d + min(a, 0) + min(b, 0) for d, (a, b) in zip(shp, w, strict=True)]
    sbase = sum(-min(a, 0) * s for (a, _), s in zip(w, ist, strict=True))
    obase = sum(max(a, 0) * s for (a, _), s in zip(w, ost, strict=True))
    value = node.attr("value", 0.0)
    cval = c_float(value) if t == "float" else str(int(value))
    code = (f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])}; int32_t i;\n"
            f"for (i = 0; i < {int(np.prod(out))}; ++i) y[i] = {cval};\n")
    if min(region) > 0:
        code += loop_nest(region, {"o": (obase, ost), "s": (sbase, ist)}, "y[o] = x[s];")
    return code


def _resize_interp(ctx, node) -> str:
    """Linear / cubic Resize: per resized axis a table of (input offset, weight) taps; each output sums
    the tensor product of its axes' taps (the separable form of ONNX's interpolation)."""
    if ctx.graph.tensors[node.outputs[0]].dtype != "float32":
        raise UnsupportedModelError(f"the C backend computes {node.attr('mode')} Resize in float32 only")
    shp, out = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    ist, ost = strides_of(shp), strides_of(out)
    lines = [f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])};"]
    idx = [f"i{d}" for d in range(len(out))]
    direct, interp, masks = [], [], []
    for ax in range(len(shp)):
        taps = resize_taps(node, ax, shp[ax], out[ax])
        if taps is None:
            direct.append(f"{idx[ax]} * {ist[ax]}")
            continue
        src, w, extra = taps
        n = src.shape[1]
        it = ctx.const_array(f"{node.name}_src{ax}", (src * ist[ax]).reshape(-1), "int32")
        wt = ctx.const_array(f"{node.name}_w{ax}", w.reshape(-1).astype(np.float32))
        interp.append((ax, n, it, wt))
        if extra.any():
            masks.append(f"{ctx.const_array(f'{node.name}_out{ax}', extra.astype(np.uint8), 'uint8')}[{idx[ax]}]")
    taps_vars = [f"t{ax}" for ax, *_ in interp]
    lines.append(f"int32_t {', '.join(idx + taps_vars)};")
    for d, n in enumerate(out):
        lines.append("  " * d + f"for ({idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    pad = "  " * len(out)
    base = " + ".join(direct) or "0"
    o = " + ".join(f"{idx[d]} * {ost[d]}" for d in range(len(out)))
    lines.append(f"{pad}float acc = 0.0f;")
    if masks:
        ev = c_float(float(node.attr("extrapolation_value", 0.0)))
        lines.append(f"{pad}if ({' || '.join(masks)}) {{ y[{o}] = {ev}; continue; }}")
    weight, offs = [], [base]
    for k, (ax, n, it, wt) in enumerate(interp):
        lines.append(pad + "  " * k + f"for (t{ax} = 0; t{ax} < {n}; ++t{ax}) {{")
        weight.append(f"{wt}[{idx[ax]} * {n} + t{ax}]")
        offs.append(f"{it}[{idx[ax]} * {n} + t{ax}]")
    inner = pad + "  " * len(interp)
    lines.append(f"{inner}acc += {' * '.join(weight)} * x[{' + '.join(offs)}];")
    for k in reversed(range(len(interp))):
        lines.append(pad + "  " * k + "}")
    lines.append(f"{pad}y[{o}] = acc;")
    for d in reversed(range(len(out))):
        lines.append("  " * d + "}")
    return "\n".join(lines)


@c_op_unless_defined("Resize")
def resize(ctx, node) -> str:
    if node.attr("mode", "nearest") != "nearest":
        return _resize_interp(ctx, node)
    shp, out = dims(ctx, node.inputs[0]), dims(ctx, node.outputs[0])
    ist, ost = strides_of(shp), strides_of(out)
    t = ctx.ctype_of(node.outputs[0])
    lines = [f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])};"]
    # per axis, a table of source offsets; the loop adds one entry per axis
    tabs = []
    for ax in range(len(shp)):
        src = resize_source_index(node, ax, shp[ax], out[ax]) * ist[ax]
        if out[ax] == 1:
            tabs.append(str(int(src[0])))
        elif shp[ax] == out[ax] and np.array_equal(src, np.arange(out[ax]) * ist[ax]):
            tabs.append(None)
        else:
            dt = smallest_int_dtype(0, int(src.max()))
            tabs.append(ctx.const_array(f"{node.name}_axis{ax}", src, dt))
    idx = [f"i{d}" for d in range(len(out))]
    lines.append(f"int32_t {', '.join(idx)};")
    for d, n in enumerate(out):
        lines.append("  " * d + f"for ({idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    pad = "  " * len(out)
    o = " + ".join(f"{idx[d]} * {ost[d]}" for d in range(len(out)))
    s = " + ".join((f"{idx[d]} * {ist[d]}" if tabs[d] is None else
                    tabs[d] if tabs[d].isdigit() else f"{tabs[d]}[{idx[d]}]") for d in range(len(out)))
    lines.append(f"{pad}y[{o}] = x[{s}];")
    for d in reversed(range(len(out))):
        lines.append("  " * d + "}")
    return "\n".join(lines)


def require_float32(ctx, node) -> None:
    """Refuse a node whose tensors are not float32 (the nn kernels are float32 only)."""
    for name in [*node.inputs[:1], *node.outputs]:
        if name and ctx.graph.tensors[name].dtype != "float32":
            raise UnsupportedModelError(f"the C backend computes {node.op} in float32 only; tensor {name!r} "
                                        f"is {ctx.graph.tensors[name].dtype}")
