"""Neural-network and data-movement ops as torch operations (ONNX semantics, as ``ir/ops/nn.py``,
``vector_math.py``, ``shape.py`` and ``elementwise.py`` define them).

Geometry (pads, output sizes, ceil mode) comes from the IR's own helpers, so torch and the numpy
reference cannot disagree about a window; torch's convolution and pooling then run on explicitly
padded inputs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from edgeinfer.backends.tensor.registry import LowerContext, lower
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.nn import conv_geometry, convtranspose_geometry
from edgeinfer.ir.ops.shape import Split, Squeeze, Transpose, Unsqueeze, resize_source_index, slice_indices
from edgeinfer.ir.ops.vector_math import reduce_axes


def _fused(node: Node, y: torch.Tensor) -> torch.Tensor:
    if not node.attr("activation", ""):
        return y
    lo, hi = node.attr("activation_params", [0.0, float("inf")])
    return torch.clamp(y, min=float(np.float32(lo)), max=None if math.isinf(hi) else float(np.float32(hi)))


# ---------------------------------------------------------------- elementwise
_UNARY = {
    "Relu": torch.relu, "Identity": lambda x: x.clone(), "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
    "Exp": torch.exp, "Sqrt": torch.sqrt, "Erf": torch.erf,
}


@lower(*_UNARY)
def unary(node: Node, ctx: LowerContext):
    fn = _UNARY[node.op]
    return lambda x: (fn(x),)


@lower("LeakyRelu")
def leaky_relu(node: Node, ctx: LowerContext):
    a = float(np.float32(node.attr("alpha", 0.01)))
    return lambda x: (F.leaky_relu(x, a),)


@lower("Clip")
def clip(node: Node, ctx: LowerContext):
    lo, hi = node.attr("min", None), node.attr("max", None)
    return lambda x: (torch.clamp(x, min=None if lo is None else float(lo), max=None if hi is None else float(hi)),)


@lower("HardSigmoid")
def hard_sigmoid(node: Node, ctx: LowerContext):
    a, b = float(np.float32(node.attr("alpha", 0.2))), float(np.float32(node.attr("beta", 0.5)))
    return lambda x: (torch.clamp(x * a + b, 0, 1),)


@lower("HardSwish")
def hard_swish(node: Node, ctx: LowerContext):
    return lambda x: (x * torch.clamp(x / 6.0 + 0.5, 0, 1),)


@lower("Softmax", "LogSoftmax")
def softmax(node: Node, ctx: LowerContext):
    axis = node.attr("axis", -1)
    fn = torch.log_softmax if node.op == "LogSoftmax" else torch.softmax
    return lambda x: (fn(x, axis),)


_BINARY = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul}


@lower(*_BINARY)
def binary(node: Node, ctx: LowerContext):
    fn = _BINARY[node.op]
    return lambda a, b: (fn(a, b).to(a.dtype),)


@lower("Div")
def div(node: Node, ctx: LowerContext):
    def run(a, b):
        if not a.is_floating_point():
            return (torch.div(a, b, rounding_mode="trunc").to(a.dtype),)  # ONNX integer Div truncates
        return (a / b,)
    return run


@lower("Pow")
def power(node: Node, ctx: LowerContext):
    return lambda a, b: (torch.pow(a.double(), b.double()).to(a.dtype),)


# ---------------------------------------------------------------- dense layers
@lower("Gemm")
def gemm(node: Node, ctx: LowerContext):
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    ta, tb = node.attr("transA", 0), node.attr("transB", 0)

    def run(a, b, c=None):
        y = (a.t() if ta else a) @ (b.t() if tb else b)
        if alpha != 1.0:
            y = y * alpha
        if c is not None:
            y = y + (c * beta if beta != 1.0 else c)
        return (_fused(node, y),)
    return run


@lower("MatMul")
def matmul(node: Node, ctx: LowerContext):
    return lambda a, b: (torch.matmul(a, b),)


@lower("ReduceSum", "ReduceMean", "ReduceMax")
def reduce(node: Node, ctx: LowerContext):
    keep = bool(node.attr("keepdims", 1))

    def run(x):
        axes = reduce_axes(node, x.dim())
        if not axes:
            return (x.clone(),)
        if node.op == "ReduceMax":
            return (torch.amax(x, dim=axes, keepdim=keep),)
        fn = torch.sum if node.op == "ReduceSum" else torch.mean
        return (fn(x, dim=axes, keepdim=keep),)
    return run


@lower("ArgMax")
def argmax(node: Node, ctx: LowerContext):
    axis, keep = node.attr("axis", 1), bool(node.attr("keepdims", 0))
    return lambda x: (torch.argmax(x, dim=axis, keepdim=keep).to(torch.int32),)


# ---------------------------------------------------------------- convolution and pooling
def _pad_list(pads: list[int], nd: int) -> list[int]:
    """ONNX (begins..., ends...) to F.pad's (last dim begin, end, previous dim ...)."""
    out: list[int] = []
    for i in reversed(range(nd)):
        out += [pads[i], pads[i + nd]]
    return out


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@lower("Conv")
def conv(node: Node, ctx: LowerContext):
    g = node.attr("group", 1)

    def run(x, w, b=None):
        nd = x.dim() - 2
        geo = conv_geometry(node, list(x.shape[2:]), list(w.shape[2:]))
        xp = F.pad(x, _pad_list(geo["pads"], nd)) if any(geo["pads"]) else x
        y = _CONV[nd](xp, w, b, stride=geo["strides"], dilation=geo["dilations"], groups=g)
        return (_fused(node, y),)
    return run


@lower("ConvTranspose")
def conv_transpose(node: Node, ctx: LowerContext):
    g = node.attr("group", 1)

    def run(x, w, b=None):
        nd = x.dim() - 2
        geo = convtranspose_geometry(node, list(x.shape[2:]), list(w.shape[2:]))
        y = _CONVT[nd](x, w, None, stride=geo["strides"], dilation=geo["dilations"], groups=g,
                       output_padding=[0] * nd)
        # the full result, then crop the pads (negative pads extend it with zeros, as the reference)
        full, p = geo["full"], geo["pads"]
        grow = [max(full[i] - y.shape[2 + i], 0) for i in range(nd)]
        if any(grow):
            y = F.pad(y, _pad_list([0] * nd + grow, nd))
        ext = [max(-p[i + nd], 0) for i in range(nd)]
        if any(ext):
            y = F.pad(y, _pad_list([0] * nd + ext, nd))
        for i in range(nd):
            y = y.narrow(2 + i, p[i], full[i] - p[i] - p[i + nd])
        if b is not None:
            y = y + b.reshape((1, -1) + (1,) * nd)
        return (_fused(node, y),)
    return run


_MAXPOOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVGPOOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@lower("MaxPool", "AveragePool")
def pool(node: Node, ctx: LowerContext):
    k = [int(v) for v in node.attr("kernel_shape")]
    is_max = node.op == "MaxPool"

    def run(x):
        nd = x.dim() - 2
        geo = conv_geometry(node, list(x.shape[2:]), k, pool=True)
        s, d, p, out, eff = geo["strides"], geo["dilations"], geo["pads"], geo["out"], geo["eff"]
        right = [max((out[i] - 1) * s[i] + eff[i] - x.shape[2 + i] - p[i], 0) for i in range(nd)]
        pads = _pad_list(p[:nd] + right, nd)
        if is_max:
            xp = F.pad(x, pads, value=float("-inf"))
            return (_MAXPOOL[nd](xp, k, s, 0, d),)
        if any(v != 1 for v in d):
            raise UnsupportedModelError("AveragePool with dilations is not lowered to torch")
        # sum / count over the real (or padded, count_include_pad) cells of each window
        n = float(np.prod(k))
        total = _AVGPOOL[nd](F.pad(x, pads), k, s, 0) * n
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        if node.attr("count_include_pad", 0):
            full = [x.shape[2 + i] + p[i] + p[i + nd] for i in range(nd)]
            extra = [max(right[i] - p[i + nd], 0) for i in range(nd)]
            mask = F.pad(torch.ones((1, 1, *full), dtype=x.dtype, device=x.device), _pad_list([0] * nd + extra, nd))
            count = _AVGPOOL[nd](mask, k, s, 0) * n
        else:
            count = _AVGPOOL[nd](F.pad(ones, pads), k, s, 0) * n
        return (total / torch.clamp(count, min=1.0),)
    return run


@lower("GlobalAveragePool", "GlobalMaxPool")
def global_pool(node: Node, ctx: LowerContext):
    def run(x):
        axes = list(range(2, x.dim()))
        if node.op == "GlobalMaxPool":
            return (torch.amax(x, dim=axes, keepdim=True),)
        return (torch.mean(x, dim=axes, keepdim=True),)
    return run


@lower("BatchNormalization")
def batch_norm(node: Node, ctx: LowerContext):
    eps = float(node.attr("epsilon", 1e-5))

    def run(x, scale, b, mean, var):
        shp = (1, -1) + (1,) * (x.dim() - 2)
        k = (scale.double() / torch.sqrt(var.double() + eps)).to(x.dtype)
        return ((x - mean.reshape(shp)) * k.reshape(shp) + b.reshape(shp),)
    return run


# ---------------------------------------------------------------- data movement
@lower("Reshape")
def reshape(node: Node, ctx: LowerContext):
    spec = [int(v) for v in np.asarray(ctx.graph.tensors[node.inputs[1]].data).reshape(-1)]
    allow0 = node.attr("allowzero", 0)

    def run(x, _shape=None):
        return (x.reshape([x.shape[i] if v == 0 and not allow0 else v for i, v in enumerate(spec)]),)
    return run


@lower("Flatten")
def flatten(node: Node, ctx: LowerContext):
    def run(x):
        a = node.attr("axis", 1)
        a = a + x.dim() if a < 0 else a
        return (x.reshape(int(np.prod(x.shape[:a])), int(np.prod(x.shape[a:]))),)
    return run


@lower("Transpose")
def transpose(node: Node, ctx: LowerContext):
    return lambda x: (x.permute(Transpose.perm(node, x.dim())).contiguous(),)


@lower("Concat")
def concat(node: Node, ctx: LowerContext):
    return lambda *xs: (torch.cat(xs, dim=node.attr("axis")),)


@lower("Squeeze")
def squeeze(node: Node, ctx: LowerContext):
    def run(x, *_):
        axes = Squeeze.axes(node, tuple(x.shape))
        return (x.reshape([d for i, d in enumerate(x.shape) if i not in axes]),)
    return run


@lower("Unsqueeze")
def unsqueeze(node: Node, ctx: LowerContext):
    return lambda x, *_: (x.reshape(Unsqueeze.out_shape(node, tuple(x.shape))),)


@lower("Split")
def split(node: Node, ctx: LowerContext):
    def run(x, *_):
        a = node.attr("axis", 0) % x.dim()
        return tuple(torch.split(x, Split.sizes(node, x.shape[a]), dim=a))
    return run


@lower("Slice")
def slice_(node: Node, ctx: LowerContext):
    def run(x):
        y = x
        for ax, ix in enumerate(slice_indices(node, tuple(x.shape))):
            if ix is not None:
                y = y.index_select(ax, torch.as_tensor(np.asarray(ix, np.int64), device=x.device))
        return (y,)
    return run


@lower("Gather")
def gather(node: Node, ctx: LowerContext):
    def run(x, ind):
        a = node.attr("axis", 0) % x.dim()
        ind = ind.long()
        ind = torch.where(ind < 0, ind + x.shape[a], ind)
        y = x.index_select(a, ind.reshape(-1))
        return (y.reshape(tuple(x.shape[:a]) + tuple(ind.shape) + tuple(x.shape[a + 1:])),)
    return run


@lower("Pad")
def pad(node: Node, ctx: LowerContext):
    mode = node.attr("mode", "constant")
    if isinstance(mode, bytes):
        mode = mode.decode()

    def run(x):
        p = [int(v) for v in node.attr("pads")]
        r = x.dim()
        pos = [max(v, 0) for v in p]
        if mode == "constant":
            y = F.pad(x, _pad_list(pos, r), value=float(node.attr("value", 0.0)))
        else:
            lead = next((i for i in range(r) if pos[i] or pos[i + r]), r)
            if lead < 2 and r > 2 or r - lead > 3:
                raise UnsupportedModelError(f"Pad mode {mode!r} on these axes is not lowered to torch")
            tm = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}[mode]
            nd = r - lead
            y = F.pad(x, _pad_list(pos[lead:r] + pos[r + lead:], nd), mode=tm)
        for i in range(r):
            a, b = min(p[i], 0), min(p[i + r], 0)
            if a or b:
                y = y.narrow(i, -a, y.shape[i] + a + b)
        return (y,)
    return run


@lower("Resize")
def resize(node: Node, ctx: LowerContext):
    def run(x, *_):
        sizes = [int(v) for v in node.attr("sizes")]
        if node.attr("scales")[0] == 1:
            sizes[0] = x.shape[0]
        y = x
        for a in range(x.dim()):
            if sizes[a] != x.shape[a] or a > 0:
                idx = resize_source_index(node, a, int(x.shape[a]), sizes[a])
                if not (len(idx) == x.shape[a] and np.array_equal(idx, np.arange(len(idx)))):
                    y = y.index_select(a, torch.as_tensor(idx, device=x.device))
        return (y,)
    return run

