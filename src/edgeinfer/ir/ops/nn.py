"""Convolution, pooling and normalisation ops (ONNX semantics, NCHW, any number of spatial dims).

Padding is resolved in one place (:func:`conv_geometry`) so that shape inference, the
numpy reference and the C emitters agree on ``auto_pad``, ``ceil_mode`` and dilations.
"""

from __future__ import annotations

import itertools

import numpy as np

from edgeinfer.ir.ops.vector_math import apply_activation, register_unless_defined
from edgeinfer.ir.registry import OpDef, require


def conv_geometry(node, in_spatial: list[int], kernel: list[int], pool: bool = False) -> dict:
    """Strides, dilations, (begin, end) pads and output sizes of a Conv/pool node.

    ``ceil_mode`` (pools) drops a last window that would start inside the end padding,
    as ONNX Runtime and the ONNX reference do.
    """
    nd = len(kernel)
    strides = list(node.attr("strides", None) or [1] * nd)
    dil = list(node.attr("dilations", None) or [1] * nd)
    pads = list(node.attr("pads", None) or [0] * (2 * nd))
    auto = node.attr("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    ceil = bool(node.attr("ceil_mode", 0)) if pool else False
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil, strict=True)]
    out = []
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(nd):
            o = -(-in_spatial[i] // strides[i])
            total = max((o - 1) * strides[i] + eff[i] - in_spatial[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + nd] = (small, big) if auto == "SAME_UPPER" else (big, small)
            out.append(o)
    else:
        if auto == "VALID":
            pads = [0] * (2 * nd)
        for i in range(nd):
            span = in_spatial[i] + pads[i] + pads[i + nd] - eff[i]
            o = (-(-span // strides[i]) if ceil else span // strides[i]) + 1
            if ceil and (o - 1) * strides[i] >= in_spatial[i] + pads[i]:
                o -= 1
            out.append(o)
    return {"strides": strides, "dilations": dil, "pads": pads, "out": out, "eff": eff}


def _spatial(t) -> list[int]:
    return [int(d) for d in t.shape[2:]]


# ---------------------------------------------------------------- Conv
@register_unless_defined
class Conv(OpDef):
    """attrs: group, strides, pads, dilations, auto_pad, kernel_shape (+ fused activation)."""

    name = "Conv"
    fused_activation = True

    @staticmethod
    def infer(node, inputs):
        x, w = inputs[0], inputs[1]
        require(len(x.shape) >= 3, node, f"Conv input must be N,C,spatial..., got {x.shape}")
        g = node.attr("group", 1)
        require(x.shape[1] == w.shape[1] * g, node,
                f"input has {x.shape[1]} channels, weights expect {w.shape[1]} x group {g}")
        geo = conv_geometry(node, _spatial(x), [int(k) for k in w.shape[2:]])
        require(all(o > 0 for o in geo["out"]), node, f"output would be empty ({geo['out']})")
        return [((x.shape[0], w.shape[0], *geo["out"]), x.dtype)]

    @staticmethod
    def reference(node, x, w, b=None):
        nd = x.ndim - 2
        g = node.attr("group", 1)
        geo = conv_geometry(node, list(x.shape[2:]), list(w.shape[2:]))
        s, d, p, out = geo["strides"], geo["dilations"], geo["pads"], geo["out"]
        xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(p[i], p[i + nd]) for i in range(nd)])
        m, cg = w.shape[0], w.shape[1]
        mg = m // g
        y = np.zeros((x.shape[0], m, *out))
        w64 = w.astype(np.float64)
        for k in itertools.product(*[range(n) for n in w.shape[2:]]):
            sl = tuple(slice(k[i] * d[i], k[i] * d[i] + s[i] * (out[i] - 1) + 1, s[i]) for i in range(nd))
            xs = xp[(slice(None), slice(None), *sl)]
            for gi in range(g):
                wk = w64[(slice(gi * mg, (gi + 1) * mg), slice(None), *k)]
                y[:, gi * mg:(gi + 1) * mg] += np.einsum("mc,nc...->nm...", wk, xs[:, gi * cg:(gi + 1) * cg])
        if b is not None:
            y += b.astype(np.float64).reshape((1, -1) + (1,) * nd)
        return (apply_activation(node, y.astype(x.dtype)),)

    @staticmethod
    def cost(node, inputs, outputs):
        w = inputs[1]
        return {"macs": outputs[0].numel(1) * int(np.prod(w.shape[1:])), "comparisons": 0}


def convtranspose_geometry(node, in_spatial: list[int], kernel: list[int]) -> dict:
    """Strides, dilations, (begin, end) pads and output sizes of a ConvTranspose (ONNX rules)."""
    nd = len(kernel)
    s = list(node.attr("strides", None) or [1] * nd)
    d = list(node.attr("dilations", None) or [1] * nd)
    op = list(node.attr("output_padding", None) or [0] * nd)
    pads = list(node.attr("pads", None) or [0] * (2 * nd))
    auto = node.attr("auto_pad", "NOTSET")
    if isinstance(auto, bytes):
        auto = auto.decode()
    full = [s[i] * (in_spatial[i] - 1) + op[i] + (kernel[i] - 1) * d[i] + 1 for i in range(nd)]
    want = node.attr("output_shape", None)
    if want is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(want)[-nd:] if want is not None else [in_spatial[i] * s[i] for i in range(nd)]
        for i in range(nd):
            total = full[i] - target[i]  # negative: the output extends past the full result (zeros)
            if auto == "SAME_UPPER":
                pads[i], pads[i + nd] = total // 2, total - total // 2
            else:
                pads[i], pads[i + nd] = total - total // 2, total // 2
    elif auto == "VALID":
        pads = [0] * (2 * nd)
    out = [full[i] - pads[i] - pads[i + nd] for i in range(nd)]
    return {"strides": s, "dilations": d, "pads": pads, "out": out, "full": full}


@register_unless_defined
class ConvTranspose(OpDef):
    """attrs: group, strides, pads, dilations, output_padding, output_shape, auto_pad."""

    name = "ConvTranspose"
    fused_activation = True

    @staticmethod
    def infer(node, inputs):
        x, w = inputs[0], inputs[1]
        g = node.attr("group", 1)
        require(x.shape[1] == w.shape[0], node, f"input has {x.shape[1]} channels, weights {w.shape[0]}")
        geo = convtranspose_geometry(node, _spatial(x), [int(k) for k in w.shape[2:]])
        return [((x.shape[0], w.shape[1] * g, *geo["out"]), x.dtype)]

    @staticmethod
    def reference(node, x, w, b=None):
        nd = x.ndim - 2
        g = node.attr("group", 1)
        geo = convtranspose_geometry(node, list(x.shape[2:]), list(w.shape[2:]))
        s, d, p, full = geo["strides"], geo["dilations"], geo["pads"], geo["full"]
        c, mg = w.shape[0], w.shape[1]
        cg = c // g
        y = np.zeros((x.shape[0], mg * g, *[f + max(-p[i + nd], 0) for i, f in enumerate(full)]))
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        for k in itertools.product(*[range(n) for n in w.shape[2:]]):
            sl = tuple(slice(k[i] * d[i], k[i] * d[i] + s[i] * (x.shape[2 + i] - 1) + 1, s[i]) for i in range(nd))
            for gi in range(g):
                wk = w64[(slice(gi * cg, (gi + 1) * cg), slice(None), *k)]
                y[(slice(None), slice(gi * mg, (gi + 1) * mg), *sl)] += np.einsum(
                    "cm,nc...->nm...", wk, x64[:, gi * cg:(gi + 1) * cg])
        crop = tuple(slice(p[i], full[i] - p[i + nd]) for i in range(nd))
        y = y[(slice(None), slice(None), *crop)]
        if b is not None:
            y = y + b.astype(np.float64).reshape((1, -1) + (1,) * nd)
        return (apply_activation(node, y.astype(x.dtype)),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": inputs[0].numel(1) * int(np.prod(inputs[1].shape[1:])), "comparisons": 0}


# ---------------------------------------------------------------- pooling
class _Pool(OpDef):
    @staticmethod
    def infer(node, inputs):
        x = inputs[0]
        require(len(x.shape) >= 3, node, f"pool input must be N,C,spatial..., got {x.shape}")
        k = list(node.attr("kernel_shape"))
        require(len(k) == len(x.shape) - 2, node, f"kernel_shape {k} does not fit input {x.shape}")
        geo = conv_geometry(node, _spatial(x), k, pool=True)
        require(all(o > 0 for o in geo["out"]), node, f"output would be empty ({geo['out']})")
        out = [((x.shape[0], x.shape[1], *geo["out"]), x.dtype)]
        if len(node.outputs) > 1 and node.outputs[1]:
            out.append((out[0][0], "int64"))
        return out

    @classmethod
    def reference(cls, node, x):
        nd = x.ndim - 2
        k = list(node.attr("kernel_shape"))
        geo = conv_geometry(node, list(x.shape[2:]), k, pool=True)
        s, d, p, out, eff = geo["strides"], geo["dilations"], geo["pads"], geo["out"], geo["eff"]
        # pad enough on the right for every window (ceil mode may run past the end padding)
        right = [max((out[i] - 1) * s[i] + eff[i] - x.shape[2 + i] - p[i], 0) for i in range(nd)]
        widths = [(0, 0), (0, 0)] + [(p[i], right[i]) for i in range(nd)]
        xp = np.pad(x.astype(np.float64), widths)
        real = np.pad(np.ones(x.shape[2:]), widths[2:])
        inpad = np.pad(np.ones([x.shape[2 + i] + p[i] + p[i + nd] for i in range(nd)]),
                       [(0, max(right[i] - p[i + nd], 0)) for i in range(nd)])
        is_max = cls.name == "MaxPool"
        acc = np.full((x.shape[0], x.shape[1], *out), -np.inf if is_max else 0.0)
        cnt = np.zeros(out)
        for kk in itertools.product(*[range(n) for n in k]):
            sl = tuple(slice(kk[i] * d[i], kk[i] * d[i] + s[i] * (out[i] - 1) + 1, s[i]) for i in range(nd))
            v, r = xp[(slice(None), slice(None), *sl)], real[sl]
            if is_max:
                acc = np.where(r > 0, np.maximum(acc, v), acc)
            else:
                acc = acc + v * r
                cnt = cnt + (inpad[sl] if node.attr("count_include_pad", 0) else r)
        y = acc if is_max else acc / np.maximum(cnt, 1)
        if is_max and len(node.outputs) > 1 and node.outputs[1]:
            return (y.astype(x.dtype), cls._indices(node, x, geo))
        return (y.astype(x.dtype),)

    @staticmethod
    def _indices(node, x, geo) -> np.ndarray:
        """MaxPool's Indices: flat index into x of each window's first maximum (row-major, or
        column-major over the spatial dims with storage_order 1)."""
        nd = x.ndim - 2
        k = list(node.attr("kernel_shape"))
        s, d, p, out = geo["strides"], geo["dilations"], geo["pads"], geo["out"]
        sp = list(x.shape[2:])
        strides = [int(np.prod(sp[i + 1:])) for i in range(nd)]
        if node.attr("storage_order", 0):
            strides = [int(np.prod(sp[:i])) for i in range(nd)]
        best = np.full((x.shape[0], x.shape[1], *out), -np.inf)
        arg = np.zeros(best.shape, dtype=np.int64)
        grid = np.meshgrid(*[np.arange(o) for o in out], indexing="ij")
        for kk in itertools.product(*[range(n) for n in k]):
            coords = [grid[i] * s[i] + kk[i] * d[i] - p[i] for i in range(nd)]
            ok = np.all([(c >= 0) & (c < sp[i]) for i, c in enumerate(coords)], axis=0)
            safe = [np.clip(c, 0, sp[i] - 1) for i, c in enumerate(coords)]
            v = x[(slice(None), slice(None), *safe)].astype(np.float64)
            take = ok & (v > best)
            best = np.where(take, v, best)
            arg = np.where(take, sum(c * st for c, st in zip(safe, strides, strict=True)), arg)
        plane = int(np.prod(sp))
        nc = np.arange(x.shape[0] * x.shape[1], dtype=np.int64).reshape(x.shape[0], x.shape[1], *[1] * nd)
        return arg + nc * plane

    @staticmethod
    def cost(node, inputs, outputs):
        n = int(np.prod(node.attr("kernel_shape")))
        return {"macs": 0, "comparisons": outputs[0].numel(1) * n}


@register_unless_defined
class MaxPool(_Pool):
    """attrs: kernel_shape, strides, pads, dilations, auto_pad, ceil_mode, storage_order (an optional
    second output holds ONNX's Indices)."""

    name = "MaxPool"


@register_unless_defined
class AveragePool(_Pool):
    """attrs: kernel_shape, strides, pads, dilations, auto_pad, ceil_mode, count_include_pad."""

    name = "AveragePool"


class _GlobalPool(OpDef):
    @staticmethod
    def infer(node, inputs):
        x = inputs[0]
        return [((x.shape[0], x.shape[1]) + (1,) * (len(x.shape) - 2), x.dtype)]

    @classmethod
    def reference(cls, node, x):
        axes = tuple(range(2, x.ndim))
        f = np.max if cls.name == "GlobalMaxPool" else np.mean
        return (f(x.astype(np.float64), axis=axes, keepdims=True).astype(x.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": inputs[0].numel(1), "comparisons": 0}


@register_unless_defined
class GlobalAveragePool(_GlobalPool):
    name = "GlobalAveragePool"


@register_unless_defined
class GlobalMaxPool(_GlobalPool):
    name = "GlobalMaxPool"


@register_unless_defined
class BatchNormalization(OpDef):
    """Inference form: (x - mean) / sqrt(var + epsilon) * scale + B over channel axis 1."""

    name = "BatchNormalization"

    @staticmethod
    def infer(node, inputs):
        return [(inputs[0].shape, inputs[0].dtype)]

    @staticmethod
    def reference(node, x, scale, b, mean, var):
        shp = (1, -1) + (1,) * (x.ndim - 2)
        eps = node.attr("epsilon", 1e-5)
        k = scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        y = (x - mean.reshape(shp)) * k.reshape(shp) + b.reshape(shp)
        return (y.astype(x.dtype),)

    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": 2 * outputs[0].numel(1), "comparisons": 0}

