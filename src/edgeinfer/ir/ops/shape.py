"""Data-movement ops (ONNX semantics): reshape, transpose, concat, pad, slice, gather, resize...

Where ONNX passes a parameter as a constant input (Reshape's shape aside), the IR keeps
it as an attribute (``axes``, ``pads``, ``starts``...): the frontend reads the constant,
so every backend sees plain integers.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.ops.vector_math import register_unless_defined
from edgeinfer.ir.registry import OpDef, require


def _prod(dims) -> int | None:
    p = 1
    for d in dims:
        if d is None:
            return None
        p *= int(d)
    return p


class _Movement(OpDef):
    @staticmethod
    def cost(node, inputs, outputs):
        return {"macs": 0, "comparisons": 0}


@register_unless_defined
class Reshape(_Movement):
    """Input 1 is the constant target shape (0 copies a dim unless allowzero, -1 is inferred)."""

    name = "Reshape"

    @staticmethod
    def target(node, in_shape: tuple, spec) -> tuple:
        spec = [int(v) for v in np.asarray(spec).reshape(-1)]
        out: list[int | None] = []
        for i, v in enumerate(spec):
            out.append(in_shape[i] if v == 0 and not node.attr("allowzero", 0) else v)
        total = _prod(in_shape)
        if -1 in out:
            known = _prod([d for d in out if d != -1])
            if total is None or known is None:
                # a symbolic batch: -1 (or the copied None) takes it over
                require(out.count(None) + out.count(-1) == 1 or None in out, node, f"cannot reshape {in_shape}")
                out = [None if d == -1 else d for d in out]
            else:
                require(known and total % known == 0, node, f"cannot reshape {in_shape} to {spec}")
                out[out.index(-1)] = total // known
        elif total is not None:
            require(_prod(out) == total, node, f"cannot reshape {in_shape} ({total} values) to {spec}")
        return tuple(out)

    @classmethod
    def infer(cls, node, inputs):
        require(inputs[1] is not None and inputs[1].is_const, node, "the target shape must be a constant")
        return [(cls.target(node, inputs[0].shape, inputs[1].data), inputs[0].dtype)]

    @classmethod
    def reference(cls, node, x, shape):
        spec = [x.shape[i] if v == 0 and not node.attr("allowzero", 0) else int(v)
                for i, v in enumerate(np.asarray(shape).reshape(-1))]
        return (x.reshape(spec),)


@register_unless_defined
class Flatten(_Movement):
    """To 2-D: dims before ``axis`` (default 1) and dims from it."""

    name = "Flatten"

    @staticmethod
    def infer(node, inputs):
        s = inputs[0].shape
        a = node.attr("axis", 1)
        a = a + len(s) if a < 0 else a
        return [((_prod(s[:a]), _prod(s[a:])), inputs[0].dtype)]

    @staticmethod
    def reference(node, x):
        a = node.attr("axis", 1)
        a = a + x.ndim if a < 0 else a
        return (x.reshape(int(np.prod(x.shape[:a])), -1) if x.size else x.reshape(
            int(np.prod(x.shape[:a])), int(np.prod(x.shape[a:]))),)


@register_unless_defined
class Transpose(_Movement):
    """attrs: perm (default: reverse the axes)."""

    name = "Transpose"

    @staticmethod
    def perm(node, rank: int) -> list[int]:
        p = node.attr("perm", None)
        return list(range(rank))[::-1] if p is None else [int(v) for v in p]

    @classmethod
    def infer(cls, node, inputs):
        s = inputs[0].shape
        return [(tuple(s[i] for i in cls.perm(node, len(s))), inputs[0].dtype)]

    @classmethod
    def reference(cls, node, x):
        return (np.ascontiguousarray(np.transpose(x, cls.perm(node, x.ndim))),)


@register_unless_defined
class Concat(_Movement):
    name = "Concat"

    @staticmethod
    def infer(node, inputs):
        shapes = [t.shape for t in inputs]
        a = node.attr("axis") % len(shapes[0])
        out = list(shapes[0])
        out[a] = None if any(s[a] is None for s in shapes) else sum(s[a] for s in shapes)
        return [(tuple(out), inputs[0].dtype)]

    @staticmethod
    def reference(node, *xs):
        return (np.concatenate(xs, axis=node.attr("axis")),)


@register_unless_defined
class Squeeze(_Movement):
    """attrs: axes (None = every axis of size 1)."""

    name = "Squeeze"

    @staticmethod
    def axes(node, shape) -> list[int]:
        a = node.attr("axes", None)
        if a is None:
            return [i for i, d in enumerate(shape) if d == 1]
        return sorted(int(v) % len(shape) for v in a)

    @classmethod
    def infer(cls, node, inputs):
        s = inputs[0].shape
        ax = cls.axes(node, s)
        require(all(s[i] in (1, None) for i in ax), node, f"cannot squeeze axes {ax} of shape {s}")
        return [(tuple(d for i, d in enumerate(s) if i not in ax), inputs[0].dtype)]

    @classmethod
    def reference(cls, node, x):
        return (np.squeeze(x, axis=tuple(cls.axes(node, x.shape))),)


@register_unless_defined
class Unsqueeze(_Movement):
    """attrs: axes (positions in the output)."""

    name = "Unsqueeze"

    @staticmethod
    def out_shape(node, shape) -> tuple:
        r = len(shape) + len(node.attr("axes"))
        ax = sorted(int(v) % r for v in node.attr("axes"))
        it = iter(shape)
        return tuple(1 if i in ax else next(it) for i in range(r))

    @classmethod
    def infer(cls, node, inputs):
        return [(cls.out_shape(node, inputs[0].shape), inputs[0].dtype)]

    @classmethod
    def reference(cls, node, x):
        return (x.reshape(cls.out_shape(node, x.shape)),)


@register_unless_defined
class Split(_Movement):
    """attrs: axis (0), split (sizes; default equal parts, the last smaller as ONNX-18)."""

    name = "Split"

    @staticmethod
    def sizes(node, dim: int) -> list[int]:
        sp = node.attr("split", None)
        if sp is not None:
            return [int(v) for v in sp]
        n = node.attr("num_outputs", None) or len(node.outputs)
        part = -(-dim // n)
        return [min(part, dim - i * part) for i in range(n)]

    @classmethod
    def infer(cls, node, inputs):
        s = inputs[0].shape
        a = node.attr("axis", 0) % len(s)
        sizes = cls.sizes(node, s[a])
        require(sum(sizes) == s[a], node, f"split sizes {sizes} do not add up to {s[a]}")
        return [(tuple(v if i == a else d for i, d in enumerate(s)), inputs[0].dtype) for v in sizes]

    @classmethod
    def reference(cls, node, x):
        a = node.attr("axis", 0) % x.ndim
        cuts = np.cumsum(cls.sizes(node, x.shape[a]))[:-1]
        return tuple(np.split(x, cuts, axis=a))


def slice_indices(node, shape) -> list[list[int] | None]:
    """Per axis, the input indices a Slice keeps (None = the whole axis), with ONNX clamping."""
    r = len(shape)
    starts, ends = list(node.attr("starts")), list(node.attr("ends"))
    axes = list(node.attr("axes", None) or range(len(starts)))
    steps = list(node.attr("steps", None) or [1] * len(starts))
    idx: list[list[int] | None] = [None] * r
    for st, en, ax, sp in zip(starts, ends, axes, steps, strict=True):
        ax = int(ax) % r
        dim = shape[ax]
        st, en, sp = int(st), int(en), int(sp)
        st = st + dim if st < 0 else st
        en = en + dim if en < 0 else en
        if sp > 0:
            st, en = min(max(st, 0), dim), min(max(en, 0), dim)
        else:
            st, en = min(max(st, 0), dim - 1), min(max(en, -1), dim - 1)
        idx[ax] = list(range(st, en, sp))
    return idx


@register_unless_defined
class Slice(_Movement):
    """attrs: starts, ends, axes, steps (the frontend reads ONNX's constant inputs)."""

    name = "Slice"

    @staticmethod
    def infer(node, inputs):
        s = inputs[0].shape
        idx = slice_indices(node, s)
        return [(tuple(d if ix is None else len(ix) for d, ix in zip(s, idx, strict=True)), inputs[0].dtype)]

    @staticmethod
    def reference(node, x):
        y = x
        for ax, ix in enumerate(slice_indices(node, x.shape)):
            if ix is not None:
                y = np.take(y, np.asarray(ix, dtype=np.int64), axis=ax)
        return (y,)


@register_unless_defined
class Gather(_Movement):
    """Take ``indices`` (negative counts from the end) along ``axis``."""

    name = "Gather"

    @staticmethod
    def infer(node, inputs):
        s, ind = inputs[0].shape, inputs[1].shape
        a = node.attr("axis", 0) % len(s)
        return [(tuple(s[:a]) + tuple(ind) + tuple(s[a + 1:]), inputs[0].dtype)]

    @staticmethod
    def reference(node, x, ind):
        a = node.attr("axis", 0) % x.ndim
        ind = np.asarray(ind).astype(np.int64)
        ind = np.where(ind < 0, ind + x.shape[a], ind)
        bad = (ind < 0) | (ind >= x.shape[a])
        y = np.take(x, np.where(bad, 0, ind), axis=a) if x.shape[a] else np.zeros(
            x.shape[:a] + ind.shape + x.shape[a + 1:], x.dtype)
        if bad.any():  # an index outside the axis reads zeros (run-time data must never read out of bounds)
            sel = (slice(None),) * a + (bad,)
            y[sel] = 0
        return (y,)


def pad_widths(node, rank: int) -> list[tuple[int, int]]:
    p = [int(v) for v in node.attr("pads")]
    return [(p[i], p[i + rank]) for i in range(rank)]


@register_unless_defined
class Pad(_Movement):
    """attrs: pads (begin..., end...; negative crops), mode (constant|reflect|edge|wrap), value."""

    name = "Pad"

    @staticmethod
    def infer(node, inputs):
        s = inputs[0].shape
        w = pad_widths(node, len(s))
        return [(tuple(None if d is None else d + a + b for d, (a, b) in zip(s, w, strict=True)),
                 inputs[0].dtype)]

    @staticmethod
    def reference(node, x):
        w = pad_widths(node, x.ndim)
        mode = node.attr("mode", "constant")
        pos = [(max(a, 0), max(b, 0)) for a, b in w]
        if mode == "constant":
            y = np.pad(x, pos, mode="constant", constant_values=np.asarray(node.attr("value", 0.0)).astype(x.dtype))
        else:
            y = np.pad(x, pos, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])
        crop = tuple(slice(-min(a, 0), y.shape[i] + min(b, 0)) for i, (a, b) in enumerate(w))
        return (np.ascontiguousarray(y[crop]),)


def resize_source_index(node, axis: int, n_in: int, n_out: int) -> np.ndarray:
    """Input index of every output index along one axis (nearest mode, ONNX coordinate rules)."""
    scale = float(node.attr("scales")[axis])
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    i = np.arange(n_out, dtype=np.float64)
    if ctm == "half_pixel":
        x = (i + 0.5) / scale - 0.5
    elif ctm == "pytorch_half_pixel":
        x = (i + 0.5) / scale - 0.5 if n_out > 1 else np.zeros_like(i)
    elif ctm == "align_corners":
        x = i * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(i)
    elif ctm == "asymmetric":
        x = i / scale
    elif ctm == "tf_half_pixel_for_nearest":
        x = (i + 0.5) / scale
    elif ctm == "half_pixel_symmetric":
        adj = n_out / (scale * n_in)
        x = n_in / 2 * (1 - adj) + (i + 0.5) / scale - 0.5
    else:
        raise ValueError(f"coordinate_transformation_mode {ctm!r} is not supported")
    mode = node.attr("nearest_mode", "round_prefer_floor")
    fl = np.floor(x)
    half = np.isclose(x - fl, 0.5)
    if mode == "round_prefer_floor":
        r = np.where(half, fl, np.round(x))
    elif mode == "round_prefer_ceil":
        r = np.where(half, fl + 1, np.round(x))
    elif mode == "floor":
        r = fl
    elif mode == "ceil":
        r = np.ceil(x)
    else:
        raise ValueError(f"nearest_mode {mode!r} is not supported")
    return np.clip(r, 0, n_in - 1).astype(np.int64)


def _resize_coeffs(node, ratio: float, scale: float) -> np.ndarray:
    """Interpolation weights of the taps around one source coordinate (ONNX's linear / cubic kernels;
    antialias widens the kernel by 1/scale when downsampling)."""
    mode, aa = node.attr("mode", "nearest"), bool(node.attr("antialias", 0))
    if mode == "linear":
        if not aa:
            return np.array([1 - ratio, ratio])
        sc = min(scale, 1.0)
        start = int(np.floor(-1 / sc) + 1)
        c = np.clip(1 - np.abs((np.arange(start, 2 - start) - ratio) * sc), 0, 1)
        return c / c.sum()
    a = float(node.attr("cubic_coeff_a", -0.75))
    if not aa:
        r1, r2 = ratio + 1, 2 - ratio
        return np.array([((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
                         ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1,
                         ((a + 2) * (1 - ratio) - (a + 3)) * (1 - ratio) * (1 - ratio) + 1,
                         ((a * r2 - 5 * a) * r2 + 8 * a) * r2 - 4 * a])
    sc = min(scale, 1.0)
    start = int(np.floor(-2 / sc) + 1)
    t = np.abs(sc * (np.arange(start, 2 - start) - ratio))
    c = np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                 np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0.0))
    return c / c.sum()


def resize_taps(node, axis: int, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(source indices [n_out, taps], weights [n_out, taps], extrapolated [n_out]) of one axis of a linear
    or cubic Resize, as ONNX's reference computes them (edge-clamped taps); None where the axis is unchanged.

    Resize is separable, so the n-d result is the tensor product of these per-axis taps: one place
    for the reference and the C tables.
    """
    scale = float(node.attr("scales")[axis])
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    roi = node.attr("roi", None)
    lo, hi = (float(roi[axis]), float(roi[axis + len(node.attr("sizes"))])) if roi else (0.0, 1.0)
    if np.isclose(scale, 1.0) and n_in == n_out and (ctm != "tf_crop_and_resize" or (lo, hi) == (0.0, 1.0)):
        return None
    out_w = scale * n_in
    y = np.arange(n_out, dtype=np.float64)
    extra = np.zeros(n_out, dtype=bool)
    if ctm == "align_corners":
        x = np.zeros(n_out) if out_w == 1 else y * (n_in - 1) / (out_w - 1)
    elif ctm == "asymmetric":
        x = y / scale
    elif ctm == "tf_crop_and_resize":
        x = np.full(n_out, (hi - lo) * (n_in - 1) / 2) if out_w == 1 else y * (hi - lo) * (n_in - 1) / (out_w - 1)
        x = x + lo * (n_in - 1)
        extra = (x < 0) | (x > n_in - 1)
    elif ctm == "pytorch_half_pixel":
        x = np.full(n_out, -0.5) if out_w == 1 else (y + 0.5) / scale - 0.5
    elif ctm == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif ctm == "half_pixel_symmetric":
        x = n_in / 2 * (1 - n_out / out_w) + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(f"coordinate_transformation_mode {ctm!r} is not supported for mode {node.attr('mode')!r}")
    xi = np.floor(x).astype(np.int64)
    ratios = np.where(x == xi, 1.0, x - xi)
    coeffs = np.stack([_resize_coeffs(node, float(r), scale) for r in ratios])
    n = coeffs.shape[1]
    pad = int(np.ceil(n / 2))
    xp = x + pad
    p = np.floor(xp).astype(np.int64)
    frac = xp - p
    if n % 2 == 0:
        off = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        off = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (p + off)[:, None] + np.arange(n)[None, :] - pad
    if node.attr("exclude_outside", 0):
        coeffs = np.where((idx < 0) | (idx >= n_in), 0.0, coeffs)
        tot = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(tot == 0, 1.0, tot)
    return np.clip(idx, 0, n_in - 1), coeffs, extra


@register_unless_defined
class Resize(_Movement):
    """Resize; attrs sizes and scales (full rank), mode ("nearest", "linear", "cubic"),
    coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside, antialias, roi (full
    rank, tf_crop_and_resize), extrapolation_value (the frontend turns ONNX's inputs into these)."""

    name = "Resize"

    @staticmethod
    def infer(node, inputs):
        s = inputs[0].shape
        sizes = node.attr("sizes")
        return [(tuple(d if d is None else int(v) for d, v in zip(s, sizes, strict=True)), inputs[0].dtype)]

    @staticmethod
    def reference(node, x):
        sizes = [int(v) for v in node.attr("sizes")]
        sizes[0] = x.shape[0] if node.attr("scales")[0] == 1 else sizes[0]
        if node.attr("mode", "nearest") == "nearest":
            idx = [resize_source_index(node, a, x.shape[a], sizes[a]) for a in range(x.ndim)]
            return (x[np.ix_(*idx)],)
        y = x.astype(np.float64)
        for a in range(x.ndim):
            taps = resize_taps(node, a, x.shape[a], sizes[a])
            if taps is None:
                continue
            idx, w, extra = taps
            shape = (1,) * a + w.shape + (1,) * (x.ndim - a - 1)
            y = (np.take(y, idx, axis=a) * w.reshape(shape)).sum(axis=a + 1)
            if extra.any():
                y = np.where(extra.reshape((1,) * a + (-1,) + (1,) * (x.ndim - a - 1)),
                             float(node.attr("extrapolation_value", 0.0)), y)
        return (y.astype(x.dtype),)

