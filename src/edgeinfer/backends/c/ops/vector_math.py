"""C for arithmetic, activations, softmax, reductions, Gemm and MatMul (float32 unless noted)."""

from __future__ import annotations

import numpy as np

from edgeinfer.backends.c.context import c_float
from edgeinfer.backends.c.ops.shape import c_op_unless_defined, dims, loop_nest, require_float32, strides_of
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.ops.vector_math import reduce_axes

_BINARY = {"Add": "{a} + {b}", "Sub": "{a} - {b}", "Mul": "{a} * {b}", "Div": "{a} / {b}",
           "Pow": "powf({a}, (float){b})"}


def _bcast_strides(shape: list[int], out: list[int]) -> list[int]:
    """Strides of ``shape`` read at the indices of ``out`` (0 where it is broadcast)."""
    full = [1] * (len(out) - len(shape)) + list(shape)
    st = strides_of(full)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(full, out, st, strict=True)]


@c_op_unless_defined(*_BINARY)
def binary(ctx, node) -> str:
    absorbed = [c for c, a in ctx.graph.metadata.get("accumulate", {}).items() if a == node.name]
    if absorbed:  # the memory planner made that conv add its result into this Add's other operand
        return f"/* computed by {absorbed[0]}, accumulating into the shared buffer */"
    out = dims(ctx, node.outputs[0])
    t = ctx.ctype_of(node.outputs[0])
    if t not in ("float", "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t"):
        raise UnsupportedModelError(f"the C backend has no {node.op} for {ctx.graph.tensors[node.outputs[0]].dtype}")
    ta, tb = ctx.ctype_of(node.inputs[0]), ctx.ctype_of(node.inputs[1])
    expr = _BINARY[node.op].format(a="A[sa]", b="B[sb]")
    if t != "float":  # integer arithmetic wraps to the element type, as ONNX's does
        expr = f"({t})({expr})"
        if node.op == "Pow":  # double holds every int32 power exactly; int64 ones up to 2^53
            expr = f"({t})pow((double)A[sa], (double)B[sb])"
        if node.op == "Div":  # x / 0 is 0 (a trap in C); INT_MIN / -1 wraps (undefined in C)
            if t in ("int64_t", "uint64_t"):
                neg = f"({t})(0u - (uint64_t)A[sa])" if t == "int64_t" else "0"
                expr = f"(B[sb] == 0 ? ({t})0 : B[sb] == ({t})-1 ? {neg} : ({t})(A[sa] / B[sb]))"
                if t == "uint64_t":
                    expr = f"(B[sb] == 0 ? ({t})0 : ({t})(A[sa] / B[sb]))"
            else:  # every narrower type's quotient fits int64, INT32_MIN / -1 included
                expr = f"(B[sb] == 0 ? ({t})0 : ({t})((int64_t)A[sa] / (int64_t)B[sb]))"
    head = (f"const {ta} *A = {ctx.ref(node.inputs[0])}; const {tb} *B = {ctx.ref(node.inputs[1])};"
            f" {t} *Y = {ctx.ref(node.outputs[0])};\n")
    n = int(np.prod(out))
    sa, sb = dims(ctx, node.inputs[0]), dims(ctx, node.inputs[1])
    if int(np.prod(sa)) == n and int(np.prod(sb)) in (1, n) or int(np.prod(sb)) == n and int(np.prod(sa)) == 1:
        ia = "i" if int(np.prod(sa)) == n else "0"
        ib = "i" if int(np.prod(sb)) == n else "0"
        return head + (f"int32_t i;\nfor (i = 0; i < {n}; ++i) Y[i] = "
                       + expr.replace("[sa]", f"[{ia}]").replace("[sb]", f"[{ib}]") + ";")
    return head + loop_nest(out, {"o": (0, strides_of(out)), "sa": (0, _bcast_strides(sa, out)),
                                  "sb": (0, _bcast_strides(sb, out))}, f"Y[o] = {expr};")


def _unary_expr(node) -> str:
    op = node.op
    if op == "Sigmoid":
        return "1.0f / (1.0f + expf(-v))"
    if op == "Tanh":
        return "tanhf(v)"
    if op == "Exp":
        return "expf(v)"
    if op == "Sqrt":
        return "sqrtf(v)"
    if op == "Erf":
        return "erff(v)"
    if op == "Relu":
        return "v > 0.0f ? v : 0.0f"
    if op == "LeakyRelu":
        return f"v >= 0.0f ? v : v * {c_float(node.attr('alpha', 0.01))}"
    if op == "HardSigmoid":
        a, b = c_float(node.attr("alpha", 0.2)), c_float(node.attr("beta", 0.5))
        return f"fminf(fmaxf(v * {a} + {b}, 0.0f), 1.0f)"
    if op == "HardSwish":
        return "v * fminf(fmaxf(v / 6.0f + 0.5f, 0.0f), 1.0f)"
    if op == "Clip":
        e = "v"
        if node.attr("min") is not None:
            e = f"fmaxf({e}, {c_float(node.attr('min'))})"
        if node.attr("max") is not None:
            e = f"fminf({e}, {c_float(node.attr('max'))})"
        return e
    raise UnsupportedModelError(f"no C for {op}")


@c_op_unless_defined("Sigmoid", "Tanh", "Exp", "Sqrt", "Erf", "LeakyRelu", "HardSigmoid", "HardSwish", "Clip")
def unary(ctx, node) -> str:
    t = ctx.ctype_of(node.outputs[0])
    if node.op == "Clip" and t != "float":  # integer Clip: compare in the element type, no float round trip
        # the IR's order, min(max(v, lo), hi), with the bounds cast to the element type as the IR casts them; a
        # bound at the type's limit is no comparison at all (and would trip -Wtype-limits)
        dt = np.dtype(ctx.graph.tensors[node.outputs[0]].dtype)
        info = np.iinfo(dt)
        body = f"{t} v = x[i];"
        if node.attr("min") is not None:
            lo = int(np.asarray(int(node.attr("min"))).astype(dt))
            if lo != info.min:
                body += f" if (v < ({t}){lo}) v = ({t}){lo};"
        if node.attr("max") is not None:
            hi = int(np.asarray(int(node.attr("max"))).astype(dt))
            if hi != info.max:
                body += f" if (v > ({t}){hi}) v = ({t}){hi};"
        return (f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])}; int32_t i;\n"
                f"for (i = 0; i < {ctx.numel(node.outputs[0])}; ++i) {{ {body} y[i] = v; }}")
    require_float32(ctx, node)
    n = ctx.numel(node.outputs[0])
    return (f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t i;\n"
            f"for (i = 0; i < {n}; ++i) {{ const float v = x[i]; y[i] = {_unary_expr(node)}; }}")


@c_op_unless_defined("Softmax", "LogSoftmax")
def softmax(ctx, node) -> str:
    require_float32(ctx, node)
    shp = dims(ctx, node.inputs[0])
    a = node.attr("axis", -1) % len(shp)
    outer, n, inner = int(np.prod(shp[:a])), shp[a], int(np.prod(shp[a + 1:]))
    write = "y[k] = z[k] - m - logf(s);" if node.op == "LogSoftmax" else "y[k] = expf(z[k] - m) / s;"
    return (f"const float *x = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])};\n"
            f"int32_t o, i, j;\n"
            f"for (o = 0; o < {outer}; ++o) {{\n"
            f"  for (i = 0; i < {inner}; ++i) {{\n"
            f"    const float *z = x + o * {n * inner} + i; float m = z[0], s = 0.0f;\n"
            f"    for (j = 1; j < {n}; ++j) if (z[j * {inner}] > m) m = z[j * {inner}];\n"
            f"    for (j = 0; j < {n}; ++j) s += expf(z[j * {inner}] - m);\n"
            f"    for (j = 0; j < {n}; ++j) {{ const int32_t k = j * {inner}; "
            f"{write.replace('y[k]', 'y[o * ' + str(n * inner) + ' + i + k]')} }}\n"
            f"  }}\n}}")


#: the lowest value of each integer element type (ReduceMax's start)
_INT_LOWEST = {"bool": "0", "uint8": "0", "uint16": "0", "uint32": "0", "int8": "(-128)", "int16": "(-32767 - 1)",
               "int32": "INT32_MIN", "int64": "INT64_MIN"}


@c_op_unless_defined("ReduceSum", "ReduceMean", "ReduceMax")
def reduce(ctx, node) -> str:
    t = ctx.ctype_of(node.outputs[0])
    dt = ctx.graph.tensors[node.outputs[0]].dtype
    if t == "float" or node.op == "ReduceMean":
        require_float32(ctx, node)
    elif dt not in _INT_LOWEST:
        raise UnsupportedModelError(f"the C backend has no {node.op} for {dt}")
    shp = dims(ctx, node.inputs[0])
    axes = reduce_axes(node, len(shp))
    n_out = ctx.numel(node.outputs[0])
    ost = strides_of([1 if i in axes else d for i, d in enumerate(shp)])
    ost = [0 if i in axes else s for i, s in enumerate(ost)]
    low = "-INFINITY" if t == "float" else _INT_LOWEST.get(dt, "0")
    init = low if node.op == "ReduceMax" else ("0.0f" if t == "float" else "0")
    body = "if (x[s] > y[o]) y[o] = x[s];" if node.op == "ReduceMax" else f"y[o] = ({t})(y[o] + x[s]);"
    code = (f"const {t} *x = {ctx.ref(node.inputs[0])}; {t} *y = {ctx.ref(node.outputs[0])}; int32_t j;\n"
            f"for (j = 0; j < {n_out}; ++j) y[j] = {init};\n{{\n"
            + loop_nest(shp, {"s": (0, strides_of(shp)), "o": (0, ost)}, body) + "\n}")
    if node.op == "ReduceMean" and axes:
        cnt = int(np.prod([shp[i] for i in axes]))
        code += f"\nfor (j = 0; j < {n_out}; ++j) y[j] /= {c_float(cnt)};"
    return code


def act_bounds(node) -> tuple[str, str]:
    """C expressions of a fused activation's clamp (no activation: -INFINITY, INFINITY)."""
    lo, hi = node.attr("activation_params", [float("-inf"), float("inf")]) if node.attr("activation") \
        else (float("-inf"), float("inf"))

    def lit(v: float) -> str:
        return "INFINITY" if v == float("inf") else "-INFINITY" if v == float("-inf") else c_float(v)
    return lit(lo), lit(hi)


def _gemm_fc(ctx, node, m: int, k: int, n: int, ta: int, tb: int, alpha: float, beta: float,
             bdata: np.ndarray | None) -> str | None:
    """Constant weights and a per-column bias: rows through ``ei_fc_f32`` (weights stored (k, n), so
    the kernel's inner loop runs along contiguous outputs and vectorises; see ei_nn.h). None otherwise."""
    if bdata is None or ta:
        return None
    bias = "(const float *)0"
    if len(node.inputs) > 2 and node.inputs[2]:
        cdata = ctx.graph.const(node.inputs[2])
        if cdata is None:
            return None
        full = np.broadcast_to(cdata.astype(np.float64) * beta, (m, n))
        if not np.all(full == full[0]):
            return None
        bias = ctx.const_array(node.inputs[2] + "_bias", full[0].astype(np.float32))
    w_kn = (bdata.T if tb else bdata).astype(np.float64) * alpha
    w = ctx.const_array(node.inputs[1] + "_kn", np.ascontiguousarray(w_kn).astype(np.float32), "float32")
    lo, hi = act_bounds(node)
    ctx.use_kernel("ei_conv")
    return (f"const float *a = {ctx.ref(node.inputs[0])}; float *y = {ctx.ref(node.outputs[0])}; int32_t r;\n"
            f"for (r = 0; r < {m}; ++r) ei_fc_f32(a + r * {k}, {w}, {bias}, {k}, {n}, {lo}, {hi}, y + r * {n});")


@c_op_unless_defined("Gemm")
def gemm(ctx, node) -> str:
    require_float32(ctx, node)
    a_shape = dims(ctx, node.inputs[0])
    ta, tb = node.attr("transA", 0), node.attr("transB", 0)
    m, k = (a_shape[1], a_shape[0]) if ta else (a_shape[0], a_shape[1])
    out = dims(ctx, node.outputs[0])
    n = out[1]
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    a_idx = f"a[kk * {m} + r]" if ta else f"a[r * {k} + kk]"
    bdata = ctx.graph.const(node.inputs[1])
    fast = _gemm_fc(ctx, node, m, k, n, ta, tb, alpha, beta, bdata)
    if fast is not None:
        return fast
    if bdata is not None:
        bt = (bdata.T if not tb else bdata).astype(np.float64) * alpha  # (n, k): rows contiguous
        b_ref, b_idx, scale = ctx.const_array(node.inputs[1] + "_nk", bt.astype(np.float32), "float32"), \
            f"bw[c * {k} + kk]", ""
    else:
        b_ref = ctx.ref(node.inputs[1])
        b_idx = f"bw[c * {k} + kk]" if tb else f"bw[kk * {n} + c]"
        scale = f" * {c_float(alpha)}" if alpha != 1.0 else ""
    bias = "0.0f"
    pre = ""
    if len(node.inputs) > 2 and node.inputs[2]:
        cdata = ctx.graph.const(node.inputs[2])
        if cdata is None:
            raise UnsupportedModelError("the C backend needs Gemm's C input to be a constant")
        full = np.broadcast_to(cdata.astype(np.float64) * beta, (m, n))
        if np.all(full == full[0]):
            pre = f"const float *bias = {ctx.const_array(node.inputs[2] + '_bias', full[0].astype(np.float32))};\n"
            bias = "bias[c]"
        else:
            pre = f"const float *bias = {ctx.const_array(node.inputs[2] + '_bias', full.astype(np.float32))};\n"
            bias = f"bias[r * {n} + c]"
    lo, hi = act_bounds(node)
    clamp = f"acc = acc < {lo} ? {lo} : acc; acc = acc > {hi} ? {hi} : acc; " if node.attr("activation") else ""
    return (f"const float *a = {ctx.ref(node.inputs[0])}; const float *bw = {b_ref}; float *y = "
            f"{ctx.ref(node.outputs[0])};\n{pre}int32_t r, c, kk;\n"
            f"for (r = 0; r < {m}; ++r) {{\n"
            f"  for (c = 0; c < {n}; ++c) {{\n"
            f"    float acc = 0.0f;\n"
            f"    for (kk = 0; kk < {k}; ++kk) acc += {a_idx} * {b_idx};\n"
            f"    acc = acc{scale} + {bias};\n"
            f"    {clamp}y[r * {n} + c] = acc;\n  }}\n}}")


@c_op_unless_defined("MatMul")
def matmul(ctx, node) -> str:
    require_float32(ctx, node)
    sa, sb = dims(ctx, node.inputs[0]), dims(ctx, node.inputs[1])
    a2 = [1] + sa if len(sa) == 1 else sa
    b2 = sb + [1] if len(sb) == 1 else sb
    m, k, n = a2[-2], a2[-1], b2[-1]
    lead = list(np.broadcast_shapes(tuple(a2[:-2]), tuple(b2[:-2])))
    nl = int(np.prod(lead))
    la = np.broadcast_to(np.arange(int(np.prod(a2[:-2]))).reshape(a2[:-2] or [1]), lead or [1]).reshape(-1)
    lb = np.broadcast_to(np.arange(int(np.prod(b2[:-2]))).reshape(b2[:-2] or [1]), lead or [1]).reshape(-1)
    if nl == 1:
        pre, aoff, boff = "", "0", "0"
    else:
        ta = ctx.const_array(node.name + "_a_off", la * m * k, "int32")
        tb = ctx.const_array(node.name + "_b_off", lb * k * n, "int32")
        pre, aoff, boff = "", f"{ta}[l]", f"{tb}[l]"
    return (f"const float *A = {ctx.ref(node.inputs[0])}; const float *B = {ctx.ref(node.inputs[1])}; "
            f"float *y = {ctx.ref(node.outputs[0])};\n{pre}int32_t l, r, c, kk;\n"
            f"for (l = 0; l < {nl}; ++l) {{\n"
            f"  const float *a = A + {aoff}; const float *b = B + {boff}; float *yl = y + l * {m * n};\n"
            f"  for (r = 0; r < {m}; ++r) {{\n"
            f"    for (c = 0; c < {n}; ++c) yl[r * {n} + c] = 0.0f;\n"
            f"    for (kk = 0; kk < {k}; ++kk) {{\n"
            f"      const float av = a[r * {k} + kk];\n"
            f"      for (c = 0; c < {n}; ++c) yl[r * {n} + c] += av * b[kk * {n} + c];\n"
            f"    }}\n  }}\n}}")
