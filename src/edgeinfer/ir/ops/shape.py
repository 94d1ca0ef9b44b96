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
        return (np.take(x, ind, axis=a),)


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


@register_unless_defined
class Resize(_Movement):
    """Nearest-neighbour resize; attrs sizes and scales (full rank), coordinate_transformation_mode,
    nearest_mode (the frontend turns ONNX's scales/sizes inputs into both)."""

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
        idx = [resize_source_index(node, a, x.shape[a], sizes[a]) for a in range(x.ndim)]
        return (x[np.ix_(*idx)],)

