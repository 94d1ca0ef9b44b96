"""Write a Graph as an ``.eim`` model file (spec: ``docs/eim_format.md``).

Why a file and not generated code: one firmware runs any model given as data, so a model can
be replaced in the field without a rebuild. The layout is fixed-size little-endian records,
4/8-byte aligned, read in place by ``runtime/ei_interp.c`` (no parsing copies), behind a
header whose CRC-32 and offsets the runtime checks before trusting anything.

Each IR op is *lowered* here to one runtime op (``LOWERINGS``): its tensors plus a few uint32
attribute words; derived tables (transposed Gemm weights, tree branch records, the certified
dense layers' residuals and error-bound constants) go into the constant data section. An op
without a lowering raises :class:`UnsupportedModelError` naming it, at convert time.

>>> # blob = write_eim(graph); open("m.eim", "wb").write(blob.data)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.errors import EdgeInferError, UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node

MAGIC = 0x314D4945  # "EIM1"
VERSION = 2
HEADER = struct.Struct("<16I")
TENSOR = struct.Struct("<4B4IIfi")
OP_HEAD = struct.Struct("<HBB8HII")
NO_TENSOR = 0xFFFF
NONE_OFF = 0xFFFFFFFF
MAX_DIMS = 4
MAX_OP_TENSORS = 8
#: alignment of large data-section tables and of the data section itself (bytes)
DATA_ALIGN = 64

DTYPES = {"float32": 0, "float64": 1, "int32": 2, "int16": 3, "int8": 4, "uint8": 5, "int64": 6, "uint16": 7,
          "uint32": 8, "bool": 9}
#: integer element types the element-wise integer paths (BINARY, UNARY's Clip, REDUCE) run on
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
KIND_ARENA, KIND_CONST, KIND_INPUT, KIND_OUTPUT = 0, 1, 2, 3

OP_DENSE, OP_CONV, OP_POOL, OP_GAP, OP_BINARY, OP_UNARY, OP_SOFTMAX, OP_COPY, OP_ARGMAX, OP_SCALER, OP_STACK, \
    OP_TREES, OP_AFFINE, OP_NB, OP_CENTROID, OP_SVM = range(1, 17)
OP_QCONV, OP_QFC, OP_QPOOL, OP_QBINARY, OP_QSOFTMAX, OP_QACT, OP_QQUANTIZE, OP_QDEQUANTIZE, OP_QREQUANTIZE, \
    OP_QMEAN = range(17, 27)
OP_MOVE, OP_GATHER, OP_RESIZE, OP_REDUCE, OP_LOGSOFTMAX, OP_NPOOL, OP_NCONVT, OP_MATMUL, OP_GEMM, OP_FXTREES, \
    OP_FXDENSE, OP_MAXMIN, OP_CAST, OP_FXSVM = range(27, 41)
#: runtime op code -> name (docs, footprint, benchmarks)
OP_NAMES = {OP_DENSE: "DENSE", OP_CONV: "CONV", OP_POOL: "POOL", OP_GAP: "GLOBAL_AVGPOOL", OP_BINARY: "BINARY",
            OP_UNARY: "UNARY", OP_SOFTMAX: "SOFTMAX", OP_COPY: "COPY", OP_ARGMAX: "ARGMAX", OP_SCALER: "SCALER",
            OP_STACK: "STACK", OP_TREES: "TREES", OP_AFFINE: "AFFINE", OP_NB: "GAUSSIAN_NB", OP_CENTROID: "CENTROID",
            OP_SVM: "SVM", OP_QCONV: "QCONV", OP_QFC: "QFC", OP_QPOOL: "QPOOL", OP_QBINARY: "QBINARY",
            OP_QSOFTMAX: "QSOFTMAX", OP_QACT: "QACT", OP_QQUANTIZE: "QQUANTIZE", OP_QDEQUANTIZE: "QDEQUANTIZE",
            OP_QREQUANTIZE: "QREQUANTIZE", OP_QMEAN: "QMEAN", OP_MOVE: "MOVE", OP_GATHER: "GATHER",
            OP_RESIZE: "RESIZE", OP_REDUCE: "REDUCE", OP_LOGSOFTMAX: "LOGSOFTMAX", OP_NPOOL: "NPOOL",
            OP_NCONVT: "NCONVT", OP_MATMUL: "MATMUL", OP_GEMM: "GEMM", OP_FXTREES: "FXTREES", OP_FXDENSE: "FXDENSE",
            OP_MAXMIN: "MAXMIN", OP_CAST: "CAST", OP_FXSVM: "FXSVM"}
#: conv kernels (CONV's ``kind`` word), as the C backend picks them (``backends/c/ops/nn.py``)
CONV_DIRECT, CONV_POINTWISE, CONV_GEMM, CONV_DEPTHWISE, CONV_TRANSPOSE = range(5)
INF_WORDS = (0xFF800000, 0x7F800000)  # -inf, +inf as float32 words


def f32w(v: float) -> int:
    """A float as the uint32 word holding its float32 bits."""
    return int(np.array([v], np.float32).view(np.uint32)[0])


@dataclass
class EimBlob:
    """The written model and what the backend reports about it."""

    data: bytes
    arena_bytes: int
    scratch_bytes: int
    opcodes: list[int] = field(default_factory=list)
    const_bytes: int = 0


class _Builder:
    """Collects tensors, ops and constant data; ``finish`` lays them out."""

    def __init__(self, graph: Graph, options: dict[str, Any]) -> None:
        self.g = graph
        self.options = options
        self.index: dict[str, int] = {}
        self.records: list[tuple] = []
        self.data = bytearray()
        self.ops: list[tuple[int, int, int, list[int], int, int]] = []
        self.scratch = 0

    # -- data section
    def add_data(self, arr: np.ndarray) -> int:
        """Append an array; returns its offset in the data section.

        8-byte aligned; tables of 1 KiB or more 64-byte aligned (a cache line: vector loads of weight
        rows then never straddle two lines, as with the C backend's aligned const arrays).
        """
        arr = np.ascontiguousarray(arr)
        self.data += b"\0" * (-len(self.data) % (DATA_ALIGN if arr.nbytes >= 1024 else 8))
        off = len(self.data)
        self.data += arr.tobytes()
        return off

    # -- tensors
    def tensor(self, name: str) -> int:
        if name in self.index:
            return self.index[name]
        t = self.g.tensors[name]
        if t.dtype not in DTYPES:
            raise UnsupportedModelError(f"the interpreter has no {t.dtype} tensors (tensor {name!r})")
        shape = [1 if d is None else int(d) for d in (t.shape or ())]
        if len(shape) > MAX_DIMS:
            shape = shape[:MAX_DIMS - 1] + [int(np.prod(shape[MAX_DIMS - 1:]))]
        ndim = len(shape)
        dims = shape + [1] * (MAX_DIMS - ndim)
        scale, zp = 1.0, 0
        if t.quant is not None and t.quant.scale.size == 1:
            scale, zp = float(t.quant.scale[0]), int(t.quant.zero_point[0])
        if name in self.g.inputs:
            kind, off = KIND_INPUT, self.g.inputs.index(name)
        elif name in self.g.outputs:
            kind, off = KIND_OUTPUT, self.g.outputs.index(name)
        elif t.is_const:
            kind, off = KIND_CONST, self.add_data(np.asarray(t.data, dtype=t.dtype))
        else:
            if t.offset is None:
                raise EdgeInferError(f"tensor {name!r} has no arena offset (memory planner not run)")
            kind, off = KIND_ARENA, int(t.offset)
        self.index[name] = len(self.records)
        self.records.append((DTYPES[t.dtype], kind, ndim, 0, *dims, off, scale, zp))
        return self.index[name]

    def const(self, hint: str, arr: np.ndarray) -> str:
        """A derived constant tensor (e.g. transposed weights) added to the graph copy; returns its name."""
        return self.g.add_const(hint, np.ascontiguousarray(arr))

    # -- ops
    def op(self, code: int, inputs: list[str | None], outputs: list[str], words: list[int], scratch: int = 0) -> None:
        names = list(inputs) + list(outputs)
        if len(names) > MAX_OP_TENSORS:
            raise UnsupportedModelError(f"op {OP_NAMES[code]} would take {len(names)} tensors, at most 8")
        ids = [NO_TENSOR if n is None else self.tensor(n) for n in names]
        attr_off = self.add_data(np.asarray(words, dtype=np.uint32)) if words else 0
        self.ops.append((code, len(inputs), len(outputs), ids, attr_off, len(words)))
        self.scratch = max(self.scratch, scratch)

    def finish(self, planned_arena: int) -> EimBlob:
        for name in self.g.inputs + self.g.outputs:
            self.tensor(name)
        n_t, n_o, n_io = len(self.records), len(self.ops), len(self.g.inputs) + len(self.g.outputs)
        tensors_off = HEADER.size
        ops_off = tensors_off + n_t * TENSOR.size
        io_off = ops_off + n_o * OP_HEAD.size
        data_off = io_off + 2 * n_io
        data_off += -data_off % DATA_ALIGN
        scratch_off = planned_arena + (-planned_arena % 8)
        arena = scratch_off + self.scratch
        body = bytearray()
        for r in self.records:
            body += TENSOR.pack(*r)
        for code, ni, no, ids, aoff, aw in self.ops:
            body += OP_HEAD.pack(code, ni, no, *(ids + [NO_TENSOR] * (MAX_OP_TENSORS - len(ids))), aoff, aw)
        body += struct.pack(f"<{n_io}H", *[self.index[n] for n in self.g.inputs + self.g.outputs])
        body += b"\0" * (data_off - HEADER.size - len(body))
        body += self.data
        total = HEADER.size + len(body)
        total += -total % 8
        body += b"\0" * (total - HEADER.size - len(body))
        fields = [MAGIC, VERSION, total, 0, n_t, n_o, len(self.g.inputs), len(self.g.outputs), tensors_off, ops_off,
                  io_off, data_off, len(self.data), arena, scratch_off, self.scratch]
        head = HEADER.pack(*fields)
        crc = zlib.crc32(head[16:] + bytes(body)) & 0xFFFFFFFF
        fields[3] = crc
        return EimBlob(HEADER.pack(*fields) + bytes(body), arena, self.scratch, [o[0] for o in self.ops],
                       len(self.data))


def _shape(b: _Builder, name: str) -> list[int]:
    return [1 if d is None else int(d) for d in (b.g.tensors[name].shape or ())]


def _require_f32(b: _Builder, node: Node) -> None:
    for t in [*node.inputs, *node.outputs]:
        if t and b.g.tensors[t].dtype != "float32":
            raise UnsupportedModelError(f"the interpreter runs {node.op} in float32 only "
                                        f"(tensor {t!r} is {b.g.tensors[t].dtype})")


def _act(node: Node) -> list[int]:
    """(lo, hi) clamp words of a fused Relu / Clip (-inf, +inf without one)."""
    if not node.attr("activation"):
        return list(INF_WORDS)
    lo, hi = node.attr("activation_params", [0.0, float("inf")])
    return [f32w(lo), f32w(hi)]


# ---------------------------------------------------------------- lowerings (IR op -> runtime op)
Lowering = Callable[[_Builder, Node], None]
LOWERINGS: dict[str, Lowering] = {}


def lowers(*ops: str) -> Callable[[Lowering], Lowering]:
    def deco(fn: Lowering) -> Lowering:
        for o in ops:
            LOWERINGS[o] = fn
        return fn
    return deco


@lowers("Gemm")
def _gemm(b: _Builder, node: Node) -> None:
    """As ``backends/c/ops/vector_math.py::gemm``: constant B without transA and a per-column bias run through
    ``ei_fc_f32`` (DENSE); every other Gemm through the generic loop (GEMM), with the same stored tables."""
    _require_f32(b, node)
    w = b.g.const(node.inputs[1])
    ta, tb = int(node.attr("transA", 0)), int(node.attr("transB", 0))
    a_shape = _shape(b, node.inputs[0])
    m, k = (a_shape[1], a_shape[0]) if ta else (a_shape[0], a_shape[1])
    n = _shape(b, node.outputs[0])[1]
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    full = None
    if len(node.inputs) > 2 and node.inputs[2]:
        c = b.g.const(node.inputs[2])
        if c is None:
            raise UnsupportedModelError("the interpreter needs Gemm's C input to be a constant")
        full = np.broadcast_to(c.astype(np.float64) * beta, (m, n))
    row = full is None or bool(np.all(full == full[0]))
    if w is not None and not ta and row:
        # stored (k, n) for ei_fc_f32, the kernel the C backend's Gemm calls
        wkn = (w.T if tb else w).astype(np.float64) * alpha
        bias = None if full is None else b.const(node.inputs[2] + "_bias", full[0].astype(np.float32))
        wn = b.const(node.inputs[1] + "_kn", wkn.astype(np.float32))
        b.op(OP_DENSE, [node.inputs[0], wn, bias], [node.outputs[0]], [m, k, n, *_act(node)])
        return
    if w is not None:  # constant B: stored (n, k) with alpha folded in, as the generated C's table
        bname, layout, scaled = b.const(node.inputs[1] + "_nk", ((w.T if not tb else w).astype(np.float64)
                                                                  * alpha).astype(np.float32)), 0, 0
    else:
        bname, layout, scaled = node.inputs[1], 0 if tb else 1, int(alpha != 1.0)
    bias, mode = None, 0
    if full is not None:
        mode = 1 if row else 2
        bias = b.const(node.inputs[2] + "_bias", (full[0] if row else full).astype(np.float32))
    b.op(OP_GEMM, [node.inputs[0], bname, bias], [node.outputs[0]],
         [m, k, n, ta, layout, scaled, f32w(alpha), mode, int(bool(node.attr("activation"))), *_act(node)])


@lowers("MatMul")
def _matmul(b: _Builder, node: Node) -> None:
    """A constant 2-D right operand: ``ei_fc_f32`` per row (DENSE); otherwise the C backend's batched loop
    (``vector_math.py::matmul``: 1-D operands promoted, leading dims broadcast through offset tables)."""
    _require_f32(b, node)
    w = b.g.const(node.inputs[1])
    sa, sb = _shape(b, node.inputs[0]), _shape(b, node.inputs[1])
    if w is not None and w.ndim == 2 and len(sa) >= 1 and sa[-1] == w.shape[0]:
        k, n = w.shape
        rows = int(np.prod(sa)) // k
        b.op(OP_DENSE, [node.inputs[0], node.inputs[1], None], [node.outputs[0]], [rows, k, n, *_act(node)])
        return
    a2 = [1] + sa if len(sa) == 1 else sa
    b2 = sb + [1] if len(sb) == 1 else sb
    m, k, n = a2[-2], a2[-1], b2[-1]
    lead = list(np.broadcast_shapes(tuple(a2[:-2]), tuple(b2[:-2])))
    nl = int(np.prod(lead))
    la = np.broadcast_to(np.arange(int(np.prod(a2[:-2]))).reshape(a2[:-2] or [1]), lead or [1]).reshape(-1)
    lb = np.broadcast_to(np.arange(int(np.prod(b2[:-2]))).reshape(b2[:-2] or [1]), lead or [1]).reshape(-1)
    offs = [NONE_OFF, NONE_OFF] if nl == 1 else [_i32(b, la * m * k), _i32(b, lb * k * n)]
    b.op(OP_MATMUL, [node.inputs[0], node.inputs[1]], [node.outputs[0]], [nl, m, k, n, *offs])


def _packed(w: np.ndarray, bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weights packed [ceil(M/8)][K][8] and the bias padded to a multiple of 8, as ``ei_gemm_f32`` reads them
    (the layout ei_nn.h documents; the C backend packs the same way)."""
    w = w.astype(np.float32).reshape(w.shape[0], -1)
    m = w.shape[0]
    mp = -(-m // 8) * 8
    wpad = np.zeros((mp, w.shape[1]), np.float32)
    wpad[:m] = w
    bp = np.zeros(mp, np.float32)
    if bias is not None:
        bp[:m] = bias.astype(np.float32)
    return np.ascontiguousarray(wpad.reshape(mp // 8, 8, -1).transpose(0, 2, 1)), bp


@lowers("Conv")
def _conv(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.nn import _chunk_rows, _conv_kind, _geom_values

    _require_f32(b, node)
    w = b.g.const(node.inputs[1])
    if w is None:
        raise UnsupportedModelError("the interpreter needs Conv weights to be constant")
    x = _shape(b, node.inputs[0])
    if len(x) not in (3, 4):
        raise UnsupportedModelError(f"the interpreter has Conv for 1-D and 2-D inputs only, not {x}")
    geom = _geom_values(b.g, node)
    md = b.g.metadata
    kind = _conv_kind(b.g, node)
    scratch = md.get("scratch", {}).get(node.name)
    acc = int(node.name in md.get("accumulate", {}))
    soff, chunk = NONE_OFF, 1
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    wname = node.inputs[1]
    if kind in ("pointwise", "gemm", "depthwise") and (scratch or kind == "pointwise"):
        code = {"pointwise": CONV_POINTWISE, "gemm": CONV_GEMM, "depthwise": CONV_DEPTHWISE}[kind]
        if kind == "gemm" or (kind == "pointwise" and scratch and not acc):
            # a pointwise conv gets its tile whenever the planner placed one (the kernel then also runs
            # the last partial pixel block at full width); without one it runs from x straight to y
            soff = scratch[0]
        if kind == "depthwise":
            soff = scratch[0]
        if kind == "gemm":
            chunk = _chunk_rows(geom)
        if kind != "depthwise":
            wp, bp = _packed(w, None if bias is None else b.g.const(bias))
            wname, bias = b.const(node.inputs[1] + "_pack", wp), b.const(node.name + "_bpack", bp)
    else:
        if acc:
            raise EdgeInferError(f"{node.name}: planned to accumulate into a residual but has no GEMM kernel")
        code = CONV_DIRECT
    b.op(OP_CONV, [node.inputs[0], wname, bias], [node.outputs[0]],
         [x[0], *geom, *_act(node), code, acc, soff, chunk])


@lowers("ConvTranspose")
def _conv_transpose(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.nn import _as_2d, _geo2d
    from edgeinfer.ir.ops.nn import convtranspose_geometry

    _require_f32(b, node)
    if b.g.const(node.inputs[1]) is None:
        raise UnsupportedModelError("the interpreter needs ConvTranspose weights to be constant")
    x, y, ws = _shape(b, node.inputs[0]), _shape(b, node.outputs[0]), _shape(b, node.inputs[1])
    if len(x) == 5:
        _conv_transpose_3d(b, node, x, y, ws)
        return
    x2, y2, k2 = _as_2d(node, x), _as_2d(node, y), _as_2d(node, ws)
    s, d, pb, _ = _geo2d(convtranspose_geometry(node, x[2:], ws[2:]), len(x) - 2)
    if min(pb) < 0:
        raise UnsupportedModelError("the interpreter's ConvTranspose takes non-negative pads only")
    geom = [x2[1], x2[2], x2[3], y2[1], y2[2], y2[3], k2[2], k2[3], *s, *d, *pb, node.attr("group", 1)]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    b.op(OP_CONV, [node.inputs[0], node.inputs[1], bias], [node.outputs[0]],
         [x2[0], *geom, *_act(node), CONV_TRANSPOSE, 0, NONE_OFF, 1])


def _conv_transpose_3d(b: _Builder, node: Node, x: list[int], y: list[int], ws: list[int]) -> None:
    """3-D ConvTranspose: the generated C's loops (``nn.py::_conv_transpose_nd``) as NCONVT."""
    from edgeinfer.ir.ops.nn import convtranspose_geometry

    geo = convtranspose_geometry(node, x[2:], ws[2:])
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    words = [x[0], x[1], y[1], int(node.attr("group", 1)), *x[2:], *y[2:], *ws[2:], *geo["strides"],
             *geo["dilations"], *_words(list(geo["pads"][:3])), *_act(node)]
    b.op(OP_NCONVT, [node.inputs[0], node.inputs[1], bias], [node.outputs[0]], words)


def _pool_nd(b: _Builder, node: Node, x: list[int], y: list[int]) -> None:
    """The C backend's generated pooling loops (``nn.py::_pool_nd``: 3-D inputs, integer types, Indices) as NPOOL,
    spatial axes padded in front to three."""
    from edgeinfer.ir.ops.nn import conv_geometry

    dt = b.g.tensors[node.inputs[0]].dtype
    is_max = node.op == "MaxPool"
    if dt not in DTYPES or (not is_max and dt != "float32"):
        raise UnsupportedModelError(f"the interpreter runs {node.op} on float32{' or integers' if is_max else ''}, "
                                    f"not {dt}")
    nd = len(x) - 2
    if nd > 3:
        raise UnsupportedModelError(f"the interpreter pools over at most 3 spatial axes, not {nd}")
    k = [int(v) for v in node.attr("kernel_shape")]
    geo = conv_geometry(node, x[2:], k, pool=True)
    pad = [1] * (3 - nd)
    zero = [0] * (3 - nd)
    words = [int(is_max), x[0] * x[1], int(node.attr("count_include_pad", 0)), int(node.attr("storage_order", 0)),
             *pad, *x[2:], *pad, *y[2:], *pad, *k, *pad, *geo["strides"], *pad, *geo["dilations"],
             *zero, *geo["pads"][:nd], *zero, *geo["pads"][nd:]]
    outs = [node.outputs[0]] + ([node.outputs[1]] if len(node.outputs) > 1 and node.outputs[1] else [])
    b.op(OP_NPOOL, [node.inputs[0]], outs, words)


@lowers("MaxPool", "AveragePool")
def _pool(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.nn import _as_2d, _geo2d
    from edgeinfer.ir.ops.nn import conv_geometry

    x, y = _shape(b, node.inputs[0]), _shape(b, node.outputs[0])
    if len(x) not in (3, 4) or b.g.tensors[node.inputs[0]].dtype != "float32" or len(node.outputs) > 1:
        _pool_nd(b, node, x, y)  # where the C backend generates loops instead of calling ei_pool.c
        return
    _require_f32(b, node)
    k = list(node.attr("kernel_shape"))
    nd = len(x) - 2
    x2, y2 = _as_2d(node, x), _as_2d(node, y)
    k2 = [1, k[0]] if nd == 1 else k
    s, d, pb, pe = _geo2d(conv_geometry(node, x[2:], k, pool=True), nd)
    geom = [x2[1], x2[2], x2[3], y2[2], y2[3], *k2, *s, *d, *pb, *pe, int(node.attr("count_include_pad", 0))]
    b.op(OP_POOL, [node.inputs[0]], [node.outputs[0]], [int(node.op == "AveragePool"), x2[0], *geom])


@lowers("GlobalAveragePool", "GlobalMaxPool")
def _gap(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    x = _shape(b, node.inputs[0])
    b.op(OP_GAP, [node.inputs[0]], [node.outputs[0]],
         [x[0] * x[1], int(np.prod(x[2:])), int(node.op == "GlobalMaxPool")])


def _bcast_words(shapes: list[list[int]], out: list[int]) -> list[int]:
    """dims[4] of the output and strides[4] of each operand (0 along broadcast axes), with adjacent
    axes merged where every operand allows it, so that most cases run as one flat loop."""
    def strides(shape: list[int]) -> list[int]:
        full = [1] * (len(out) - len(shape)) + list(shape)
        st, acc = [0] * len(full), 1
        for i in range(len(full) - 1, -1, -1):
            st[i] = 0 if full[i] == 1 and out[i] != 1 else acc
            acc *= full[i]
        return st

    dims, sts = list(out) or [1], [strides(s) or [0] for s in shapes]
    i = len(dims) - 1
    while i > 0:
        if all(st[i - 1] == st[i] * dims[i] for st in sts):  # both contiguous or both broadcast over i-1, i
            dims[i - 1:i + 1] = [dims[i - 1] * dims[i]]
            for st in sts:
                st[i - 1:i + 1] = [st[i]]
        i -= 1
    keep = [j for j, d in enumerate(dims) if d != 1] or [len(dims) - 1]
    dims = [dims[j] for j in keep]
    sts = [[st[j] for j in keep] for st in sts]
    if len(dims) > 4:
        raise UnsupportedModelError(f"the interpreter broadcasts over at most 4 axes, not {out}")
    pad = 4 - len(dims)
    return [1] * pad + dims + [w for st in sts for w in [0] * pad + st]


@lowers("Add", "Sub", "Mul", "Div", "Pow")
def _binary(b: _Builder, node: Node) -> None:
    if node.name in b.g.metadata.get("accumulate", {}).values():
        return  # the planner made the conv before it add its result into the other operand's buffer
    dts = [b.g.tensors[t].dtype for t in (*node.inputs, node.outputs[0])]
    ok = dts[2] in ("float32", *INT_DTYPES, "bool") and dts[0] == dts[2] and (
        dts[1] == dts[2] if node.op != "Pow" else dts[1] in DTYPES) and not (dts[2] == "bool" and node.op == "Sub")
    if not ok:
        raise UnsupportedModelError(f"the interpreter runs {node.op} on float32 or integer tensors of one type "
                                    f"(any numeric exponent for Pow), not {' and '.join(dts[:2])} -> {dts[2]}")
    kind = ["Add", "Sub", "Mul", "Div", "Pow"].index(node.op)
    words = _bcast_words([_shape(b, t) for t in node.inputs], _shape(b, node.outputs[0]))
    b.op(OP_BINARY, list(node.inputs), [node.outputs[0]], [kind, *words])


@lowers("BatchNormalization")
def _batchnorm(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    vals = [b.g.const(i) for i in node.inputs[1:5]]
    if any(v is None for v in vals):
        raise UnsupportedModelError("the interpreter needs BatchNormalization's statistics to be constant")
    scale, bb, mean, var = (np.asarray(v, np.float64) for v in vals)
    k = scale / np.sqrt(var + node.attr("epsilon", 1e-5))  # as the C backend: float64, then float32
    x = _shape(b, node.inputs[0])
    kn = b.const(node.name + "_scale", k.astype(np.float32))
    sn = b.const(node.name + "_shift", (bb - mean * k).astype(np.float32))
    b.op(OP_AFFINE, [node.inputs[0], kn, sn], [node.outputs[0]],
         [x[0], x[1] if len(x) > 1 else 1, int(np.prod(x[2:]))])


UNARY_KINDS = ["Relu", "Sigmoid", "Tanh", "Clip", "Exp", "Sqrt", "Erf", "LeakyRelu", "HardSigmoid", "HardSwish"]


@lowers(*UNARY_KINDS)
def _unary(b: _Builder, node: Node) -> None:
    kind = UNARY_KINDS.index(node.op)
    lo, hi = node.attr("min"), node.attr("max")
    if node.op == "Clip" and len(node.inputs) > 1 and any(node.inputs[1:]):
        raise UnsupportedModelError("the interpreter's Clip takes its bounds as attributes")
    dt = b.g.tensors[node.inputs[0]].dtype
    if node.op == "Clip" and dt in INT_DTYPES + ("bool",):
        # compared in the element type, the bounds cast to it first (as the IR reference and the generated C)
        info = np.iinfo(np.uint8 if dt == "bool" else np.dtype(dt))
        lo_i = int(info.min) if lo is None else int(np.asarray(lo).astype(dt))
        hi_i = int(info.max) if hi is None else int(np.asarray(hi).astype(dt))
        b.op(OP_UNARY, [node.inputs[0]], [node.outputs[0]], [kind, *_i64w(lo_i), *_i64w(hi_i)])
        return
    if node.op == "Clip" and dt == "float64":
        b.op(OP_UNARY, [node.inputs[0]], [node.outputs[0]],
             [kind, *_f64w(-np.inf if lo is None else lo), *_f64w(np.inf if hi is None else hi)])
        return
    _require_f32(b, node)
    if node.op == "LeakyRelu":
        lo, hi = node.attr("alpha", 0.01), 0.0
    elif node.op == "HardSigmoid":
        lo, hi = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    elif node.op != "Clip":
        lo = hi = None
    b.op(OP_UNARY, [node.inputs[0]], [node.outputs[0]],
         [kind, f32w(-np.inf if lo is None else lo), f32w(np.inf if hi is None else hi)])


def _i64w(v: int) -> list[int]:
    """An int64 as two uint32 words, low first."""
    u = int(v) & 0xFFFFFFFFFFFFFFFF
    return [u & 0xFFFFFFFF, u >> 32]


@lowers("Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze")
def _copy(b: _Builder, node: Node) -> None:
    b.op(OP_COPY, [node.inputs[0]], [node.outputs[0]], [])


@lowers("Softmax")
def _softmax(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    shp = _shape(b, node.inputs[0])
    if node.attr("axis", -1) % len(shp) != len(shp) - 1:
        raise UnsupportedModelError("the interpreter's Softmax runs over the last axis only")
    b.op(OP_SOFTMAX, [node.inputs[0]], [node.outputs[0]], [int(np.prod(shp[:-1])), shp[-1]])


@lowers("ArgMax")
def _argmax(b: _Builder, node: Node) -> None:
    if b.g.tensors[node.inputs[0]].dtype not in DTYPES:
        raise UnsupportedModelError(f"the interpreter's ArgMax has no {b.g.tensors[node.inputs[0]].dtype} input")
    shp = _shape(b, node.inputs[0])
    a = node.attr("axis", 1) % len(shp)
    b.op(OP_ARGMAX, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(shp[:a])), shp[a], int(np.prod(shp[a + 1:]))])


@lowers("Scaler")
def _scaler(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.preprocessing import STEPS

    prec = node.attr("precision", "float32")
    steps = list(node.attr("steps", []))
    params = [b.const(f"{p}_{prec}", np.asarray(b.g.const(p)).astype(prec)) for p in node.inputs[1:]]
    clip = node.attr("clip")
    n = _shape(b, node.inputs[0])[-1]
    if int(np.prod(_shape(b, node.inputs[0]))) != n:
        raise UnsupportedModelError("the interpreter's Scaler takes one row of features")
    words = [n, len(steps), int(prec == "float64"), int(clip is not None),
             f32w(clip[0] if clip is not None else 0.0), f32w(clip[1] if clip is not None else 0.0),
             *[STEPS.index(s) for s in steps]]
    b.op(OP_SCALER, [node.inputs[0], *params], [node.outputs[0]], words)


class _TableSink:
    """Stands in for the C backend's EmitContext in ``make_layers``: collects its tables for the data section.

    So the interpreter stores the same tables (float32 weights, int16 residuals, double biases)
    and error-bound constants that the generated C's certified path uses. The runtime's STACK op
    reads weights output-major (n_out, n_in), as ``ei_dense_f32`` takes them; when ``make_layers``
    lays a table out input-major and padded for the generated C's loops, ``finish`` turns it back.
    """

    def __init__(self, b: _Builder) -> None:
        self.b = b
        self.arrays: dict[str, np.ndarray] = {}
        self.offsets: dict[str, int] = {}

    def const_array(self, hint: str, arr: np.ndarray, dtype: str | None = None) -> str:
        key = f"t{len(self.arrays)}"
        self.arrays[key] = np.asarray(arr).astype(dtype or np.asarray(arr).dtype)
        return key

    def finish(self, layers: list[Any]) -> None:
        """Write every table to the data section, output-major and unpadded."""
        for lay in layers:
            n_out = lay.n_out
            if not getattr(lay, "input_major", False):  # already row-major (n_out, n_in), unpadded
                continue
            for key in (lay.w, lay.r):
                if key in self.arrays:
                    self.arrays[key] = np.ascontiguousarray(self.arrays[key][:, :n_out].T)
            for key in (lay.b, lay.b64, lay.rs):
                if key in self.arrays:
                    self.arrays[key] = np.ascontiguousarray(self.arrays[key][:n_out])
        for key, arr in self.arrays.items():
            self.offsets[key] = self.b.add_data(arr)

    def off(self, key: str) -> int:
        return NONE_OFF if key in ("", "NULL") else self.offsets[key]


ACT_CODES = {"identity": 0, "relu": 1, "tanh": 2, "logistic": 3}
LINEAR_POST = {"NONE": 0, "LOGISTIC": 1, "SOFTMAX": 2, "LOGISTIC_NORM": 3}


def _stack(b: _Builder, node: Node, params: list[tuple[np.ndarray, np.ndarray]], kind: int, act: str, post: int,
           exact: bool) -> None:
    from edgeinfer.backends.c.ops.dense import ACTIVATION_ERROR, _up, make_layers

    sink = _TableSink(b)
    layers = make_layers(sink, node.name, params, exact)  # type: ignore[arg-type]
    for lay in layers:
        if exact and not lay.b64:  # the float32 bias is exact: the double path reads it widened
            lay.b64 = sink.const_array("b64", sink.arrays[lay.b].astype(np.float64))
    sink.finish(layers)
    lip, eps = ACTIVATION_ERROR[act]
    hidden = max([lay.n_out for lay in layers[:-1]], default=0)
    wide = params[0][0].dtype == np.float64
    words = [kind, len(layers), ACT_CODES[act], post, int(exact), int(wide), f32w(lip),
             f32w(_up(eps * 1.01) if eps else 0.0), hidden]
    for lay in layers:
        words += [lay.n_in, lay.n_out, sink.off(lay.w), sink.off(lay.b), sink.off(lay.b64) if exact else NONE_OFF,
                  sink.off(lay.r), sink.off(lay.rs), f32w(lay.k1), f32w(lay.k0), f32w(lay.a)]
    scratch = 16 * max(hidden, layers[-1].n_out) + 8 * hidden
    b.op(OP_STACK, [node.inputs[0]], list(node.outputs), words, scratch)


@lowers("LinearClassifier", "LinearRegressor")
def _linear(b: _Builder, node: Node) -> None:
    w = b.g.const(node.inputs[1])
    c = b.g.const(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
    c = np.zeros(w.shape[0], w.dtype) if c is None else c
    if node.op == "LinearRegressor":
        _stack(b, node, [(w, c)], 0, "identity", 0, False)
    else:
        _stack(b, node, [(w, c)], 1, "identity", LINEAR_POST[node.attr("post_transform", "NONE")],
               bool(b.options.get("exact", True)))


@lowers("MLP")
def _mlp(b: _Builder, node: Node) -> None:
    consts = [b.g.const(t) for t in node.inputs[1:]]
    params = list(zip(consts[0::2], consts[1::2], strict=True))
    act = node.attr("activation", "relu")
    if node.attr("task", "classifier") != "classifier":
        _stack(b, node, params, 0, act, 0, False)
    else:
        post = 2 if node.attr("out_activation", "identity") == "softmax" else 1
        _stack(b, node, params, 2, act, post, bool(b.options.get("exact", True)))


@lowers("TreeEnsembleClassifier", "TreeEnsembleRegressor")
def _trees(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.trees import _preorder, plan
    from edgeinfer.ir.ops.trees import n_raw

    p = plan(node)
    k = n_raw(node)
    recs: list[tuple[float, int, int, int]] = []
    roots = []
    for tree, lv in zip(p.trees, p.leaf_vec, strict=True):
        order = _preorder(tree)
        local = {n: len(recs) + j for j, n in enumerate(order)}

        def ref(n: int, local: dict = local, lv: np.ndarray = lv) -> int:
            return local[n] if n in local else -1 - int(lv[n])
        roots.append(ref(0))
        for n in order:
            recs.append((float(tree.threshold[n]), int(tree.feature[n]), ref(int(tree.left[n])),
                         ref(int(tree.right[n]))))
    br = np.array(recs, dtype=[("t", "<f4"), ("f", "<i4"), ("l", "<i4"), ("r", "<i4")])
    base = np.asarray(node.attr("base_values", np.zeros(k)), np.float64).reshape(-1)
    base = np.zeros(k) if base.size == 0 else base
    classifier = node.op == "TreeEnsembleClassifier"
    post = {"NONE": 0, "SOFTMAX": 1, "LOGISTIC": 2}[node.attr("post_transform", "NONE")]
    n_features = _shape(b, node.inputs[0])[-1]
    words = [int(classifier), n_features, k, len(p.trees), len(recs), len(p.vecs), p.width,
             int(node.attr("aggregate_function", "SUM") == "AVERAGE"), post, int(node.attr("binary_tie_class", 0)),
             b.add_data(br), b.add_data(np.asarray(roots, np.int32)), b.add_data(np.asarray(p.columns, np.int32)),
             b.add_data(np.asarray(p.vecs, np.float64)), b.add_data(base)]
    b.op(OP_TREES, [node.inputs[0]], list(node.outputs), words, 8 * k)


# ---------------------------------------------------------------- certified classical ops (NB, centroid, SVM)
#: split-table element types (the first word of a table reference): float32 (+ optional float32 low part), or
#: the small integer types ``float_split.exact_int_dtype`` picks
SPLIT_TYPES = {"float32": 0, "uint8": 1, "int8": 2, "uint16": 3, "int16": 4}
U32 = 2.0 ** -24


def _split(b: _Builder, arr: np.ndarray, allow_int: bool = True, low: bool = True) -> list[int]:
    """Three words {type, hi, lo} referencing ``arr`` stored as the C backend's ``float_split.store`` stores it.

    The same rule (exact small integers, else float32 plus a float32 low part where float32 is not exact)
    gives the same values to the float32 fast path and the double fallback as in the generated C, so the
    certified margins computed for the generated C hold for the interpreter too.
    """
    from edgeinfer.backends.c.float_split import exact_int_dtype, split_f64

    a = np.asarray(arr, dtype=np.float64).reshape(-1)
    dt = exact_int_dtype(a) if allow_int else None
    if dt is not None:
        return [SPLIT_TYPES[dt], b.add_data(a.astype(dt)), NONE_OFF]
    hi, lo = split_f64(a)
    return [0, b.add_data(hi), NONE_OFF if lo is None or not low else b.add_data(lo)]


def _classic_io(b: _Builder, node: Node) -> None:
    if b.g.tensors[node.inputs[0]].dtype != "float32":
        raise UnsupportedModelError(f"the interpreter runs {node.op} on float32 input only")


@lowers("GaussianNaiveBayes")
def _gaussian_nb(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.naive_bayes import SATURATED_NATS

    _classic_io(b, node)
    exact = bool(b.options.get("exact", True))
    theta, var, lp, ln = (np.asarray(b.g.const(n), dtype=np.float64) for n in node.inputs[1:5])
    k, f = theta.shape
    th = _split(b, theta, low=exact)
    err = NONE_OFF
    if th[2] != NONE_OFF:  # rounded theta: the Cauchy-Schwarz term the C backend's bound adds
        err = b.add_data((np.sqrt((theta ** 2 / var).sum(axis=1)) * 2.01 * U32).astype(np.float32))
    words = [k, f, int(exact), f32w((f + 6) * U32 * 1.01), f32w(SATURATED_NATS), *th, *_split(b, var, low=exact),
             *_split(b, lp, allow_int=False, low=exact), *_split(b, ln, allow_int=False, low=exact), err]
    b.op(OP_NB, [node.inputs[0]], list(node.outputs), words, 16 * k)


@lowers("CentroidClassifier")
def _centroid(b: _Builder, node: Node) -> None:
    _classic_io(b, node)
    exact = bool(b.options.get("exact", True))
    cen = np.asarray(b.g.const(node.inputs[1]), dtype=np.float64)
    k, f = cen.shape
    t = _split(b, cen, low=exact)
    v = float(np.sqrt((cen ** 2).sum(axis=1)).max()) if cen.size else 0.0
    rep = int(t[2] != NONE_OFF)
    u_sk = 2.0 ** -24 if node.attr("source_bits", 64) == 32 else 2.0 ** -53
    words = [k, f, int(exact), f32w((f + 4) * U32 * 1.01), f32w(rep * 2.01 * U32 * v),
             f32w(rep * 1.01 * (U32 * v) ** 2), f32w((f + 4) * u_sk * 1.01), f32w(v * v), *t]
    b.op(OP_CENTROID, [node.inputs[0]], list(node.outputs), words, 8 * k)


SVM_KERNELS = {"LINEAR": 0, "POLY": 1, "RBF": 2, "SIGMOID": 3}


def _f64w(v: float) -> list[int]:
    lo, hi = struct.unpack("<II", struct.pack("<d", float(v)))
    return [lo, hi]


@lowers("SVMClassifier", "SVMRegressor")
def _svm(b: _Builder, node: Node) -> None:
    """The C backend's SVM (``backends/c/ops/svm.py``): float32 pass with certified error bounds, double
    fallback in libsvm's order; the bound constants below are that module's, evaluated here."""
    _classic_io(b, node)
    classifier = node.op == "SVMClassifier"
    exact = classifier and bool(b.options.get("exact", True))
    sv = np.asarray(b.g.const(node.inputs[1]), dtype=np.float64)
    coef = np.asarray(b.g.const(node.inputs[2]), dtype=np.float64)
    rho = np.asarray(b.g.const(node.inputs[3]), dtype=np.float64)
    n_sv, f = sv.shape
    t_sv = _split(b, sv, low=exact)
    rep = int(t_sv[2] != NONE_OFF)
    v = float(np.sqrt((sv ** 2).sum(axis=1)).max()) if sv.size else 0.0
    g, c0, deg = node.attr("gamma", 1.0), node.attr("coef0", 0.0), int(node.attr("degree", 3))
    if classifier:
        counts = [int(c) for c in node.attr("vectors_per_class")]
        shape = node.attr("decision_shape", "ovr")
    else:
        counts, shape = [n_sv], "ovr"
    kc = len(counts)
    n_pairs = max(kc * (kc - 1) // 2, 1)
    break_ties = classifier and bool(node.attr("break_ties", 0)) and kc > 2 and shape == "ovr"
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    pbase = [sum(kc - a - 1 for a in range(c)) for c in range(kc)]
    pidx = np.array([[pbase[m] + c - m - 1 if m < c else pbase[c] + m - c for m in range(kc - 1)]
                     for c in range(kc)], dtype=np.int32).reshape(-1)
    u = U32
    words = [int(classifier), SVM_KERNELS[node.attr("kernel_type")], n_sv, f, kc, int(shape == "ovo"),
             int(break_ties), int(exact), int(bool(b.options.get("float64"))), deg, f32w(g), f32w(c0), *_f64w(g),
             *_f64w(c0), f32w(abs(g)), f32w(abs(c0)), f32w((f + 4) * u * 1.01), f32w(rep * 2.01 * u * v),
             f32w(rep * 1.01 * (u * v) ** 2), f32w((f + 2 + rep) * u * v * 1.01), f32w((n_sv + 3) * u * 1.01),
             f32w(2 * deg * u), *t_sv, *_split(b, coef, allow_int=False, low=exact),
             *_split(b, rho, allow_int=False, low=exact), b.add_data(start),
             b.add_data(pidx if pidx.size else np.zeros(1, np.int32))]
    scratch = 8 * (n_pairs + 2 * kc) + 4 * (2 * n_pairs + 2 * kc) + 4 * kc
    b.op(OP_SVM, [node.inputs[0]], list(node.outputs), words, scratch)


@lowers("Projection")
def _projection(b: _Builder, node: Node) -> None:
    """PCA: the C backend's one dense layer (offset and scale folded into weights and bias), as a STACK."""
    _classic_io(b, node)
    comp = np.asarray(b.g.const(node.inputs[1]), dtype=np.float64)
    consts = [b.g.const(t) if t else None for t in node.inputs[2:]] + [None, None]
    offset, scale = consts[0], consts[1]
    bias = -np.asarray(offset, np.float64) if offset is not None else np.zeros(comp.shape[0])
    if scale is not None:
        comp = comp / np.asarray(scale, np.float64)[:, None]
        bias = bias / np.asarray(scale, np.float64)
    _stack(b, node, [(comp, bias)], 0, "identity", 0, False)


# ---------------------------------------------------------------- int8 and 16x8 ops (TFLite scheme)
def _require_s8(b: _Builder, node: Node, *tensors: str, int16: bool = True) -> bool:
    """Check the activation tensors are all int8, or (where the C backend has the 16x8 kernel) all int16;
    returns whether they are int16."""
    dts = {b.g.tensors[t].dtype for t in tensors}
    if dts not in ({"int8"}, {"int16"}) or (dts == {"int16"} and not int16):
        raise UnsupportedModelError(f"the interpreter runs {node.op} with int8{' or int16' if int16 else ''} "
                                    f"activations, not {', '.join(sorted(dts))}")
    if node.attr("single_rounding", False):
        raise UnsupportedModelError(f"{node.op} node {node.name!r}: the int8 kernels use TFLite Micro's double "
                                    "rounding; single_rounding=True has no kernel")
    return dts == {"int16"}


def _i32(b: _Builder, values: Any) -> int:
    return b.add_data(np.asarray(values, dtype=np.int32).reshape(-1))


def _s8_range(node: Node, is16: bool = False) -> list[int]:
    lo, hi = (-32768, 32767) if is16 else (-128, 127)
    return [int(node.attr("act_min", lo)), int(node.attr("act_max", hi))]


def _words(values: list[int]) -> list[int]:
    """Signed ints as uint32 words (two's complement)."""
    return [int(v) & 0xFFFFFFFF for v in values]


@lowers("QConv2D", "QDepthwiseConv2D")
def _qconv(b: _Builder, node: Node) -> None:
    """As ``backends/c/ops/quantized.py::qconv``: the same geometry words and per-channel multipliers."""
    from edgeinfer.ir.ops.quantized import channel_multipliers

    is16 = _require_s8(b, node, node.inputs[0], node.outputs[0])
    if b.g.const(node.inputs[1]) is None:
        raise UnsupportedModelError(f"the interpreter needs {node.op} weights to be constant")
    x, y, w = _shape(b, node.inputs[0]), _shape(b, node.outputs[0]), _shape(b, node.inputs[1])
    depthwise = node.op == "QDepthwiseConv2D"
    cout = y[3]
    mult, shift = channel_multipliers(node.attr("in_scale"), node.attr("w_scale"), node.attr("out_scale"), cout)
    groups = cout // x[3] if depthwise else x[3] // w[3]
    pt, pl, _, _ = node.attr("pads", [0, 0, 0, 0])
    geom = [x[1], x[2], x[3], y[1], y[2], cout, w[1], w[2], *node.attr("strides", [1, 1]),
            *node.attr("dilations", [1, 1]), pt, pl, node.attr("in_zp"), node.attr("out_zp"), *_s8_range(node, is16),
            groups]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    b.op(OP_QCONV, [node.inputs[0], node.inputs[1], bias], [node.outputs[0]],
         [int(depthwise), *_words(geom), _i32(b, mult), _i32(b, shift)])


@lowers("QFullyConnected")
def _qfc(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.quantized import channel_multipliers

    is16 = _require_s8(b, node, node.inputs[0], node.outputs[0])
    n_out, n_in = _shape(b, node.inputs[1])
    ws = node.attr("w_scale")
    mult, shift = channel_multipliers(node.attr("in_scale"), ws, node.attr("out_scale"), len(ws))
    rows = int(np.prod(_shape(b, node.inputs[0]))) // n_in
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    b.op(OP_QFC, [node.inputs[0], node.inputs[1], bias], [node.outputs[0]],
         [rows, n_in, n_out, len(mult), _i32(b, mult), _i32(b, shift),
          *_words([node.attr("in_zp"), node.attr("out_zp"), *_s8_range(node, is16)])])


@lowers("QAveragePool2D", "QMaxPool2D")
def _qpool(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.quantized import pool_geometry

    is16 = _require_s8(b, node, node.inputs[0], node.outputs[0])
    x = _shape(b, node.inputs[0])
    kh, kw, sh, sw, pt, pl, oh, ow = pool_geometry(node, x[1], x[2])
    b.op(OP_QPOOL, [node.inputs[0]], [node.outputs[0]],
         [int(node.op == "QMaxPool2D"),
          *_words([x[1], x[2], x[3], oh, ow, kh, kw, sh, sw, pt, pl, *_s8_range(node, is16)])])


@lowers("QAdd", "QMul", "QSub", "QPRelu")
def _qbinary(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.quantized import add_params, mul_params
    from edgeinfer.ir.ops.quantized_act import prelu_params, sub_params

    is16 = _require_s8(b, node, *node.inputs, node.outputs[0], int16=node.op in ("QAdd", "QMul"))
    out = _shape(b, node.outputs[0])
    n = int(np.prod(out))

    def index(t: str) -> int:
        shp = _shape(b, t)
        if int(np.prod(shp)) == n:
            return NONE_OFF
        return _i32(b, np.broadcast_to(np.arange(int(np.prod(shp))).reshape(shp), out).reshape(-1))

    if node.op == "QPRelu":
        q = [node.attr("in_zp"), node.attr("alpha_zp"), node.attr("out_zp"), *prelu_params(node)]
    else:
        q = [node.attr("a_zp"), node.attr("b_zp"), node.attr("out_zp"), *_s8_range(node, is16)]
    if node.op in ("QAdd", "QSub"):
        p = add_params(node, is16) if node.op == "QAdd" else sub_params(node)
        q += [p["left_shift"], p["m1"], p["s1"], p["m2"], p["s2"], p["mo"], p["so"]]
    elif node.op == "QMul":
        q += list(mul_params(node))
    kind = ["QAdd", "QMul", "QSub", "QPRelu"].index(node.op)
    b.op(OP_QBINARY, list(node.inputs), [node.outputs[0]],
         [kind, n, index(node.inputs[0]), index(node.inputs[1]), *_words(q)])


@lowers("QSoftmax")
def _qsoftmax(b: _Builder, node: Node) -> None:
    from edgeinfer.ir import quant_math as qm

    if _require_s8(b, node, node.inputs[0], node.outputs[0]):
        mult, shift = qm.softmax_s16_params(node.attr("beta", 1.0), node.attr("in_scale"))
        diff_min = 0
    else:
        mult, shift, diff_min = qm.softmax_params(node.attr("beta", 1.0), node.attr("in_scale"))
    shp = _shape(b, node.inputs[0])
    b.op(OP_QSOFTMAX, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(shp)) // shp[-1], shp[-1], *_words([mult, shift, diff_min])])


@lowers("QLogistic", "QTanh")
def _qact(b: _Builder, node: Node) -> None:
    from edgeinfer.ir import quant_math as qm

    if _require_s8(b, node, node.inputs[0], node.outputs[0]):
        (mult, shift), zp, radius = qm.sigmoid_tanh_s16_params(node.attr("in_scale"), tanh=node.op == "QTanh"), 0, 0
    else:
        mult, shift, radius = qm.sigmoid_tanh_params(node.attr("in_scale"))
        zp = node.attr("in_zp")
    b.op(OP_QACT, [node.inputs[0]], [node.outputs[0]],
         [int(node.op == "QTanh"), int(np.prod(_shape(b, node.inputs[0]))), *_words([zp, mult, shift, radius])])


@lowers("QQuantize", "QDequantize")
def _qconvert(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.quantized import f32

    if node.op == "QQuantize":
        _require_s8(b, node, node.outputs[0])
        if b.g.tensors[node.inputs[0]].dtype != "float32":
            raise UnsupportedModelError("the interpreter quantizes float32 input only")
        code = OP_QQUANTIZE
    else:
        _require_s8(b, node, node.inputs[0])
        if b.g.tensors[node.outputs[0]].dtype != "float32":
            raise UnsupportedModelError("the interpreter dequantizes to float32 only")
        code = OP_QDEQUANTIZE
    b.op(code, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(_shape(b, node.inputs[0]))), f32w(float(f32(node.attr("scale")))),
          int(node.attr("zp")) & 0xFFFFFFFF])


@lowers("QRequantize")
def _qrequantize(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.quantized import requantize_params

    for t in (node.inputs[0], node.outputs[0]):  # int8 <-> int16 either way
        _require_s8(b, node, t)
    m, s = requantize_params(node)
    b.op(OP_QREQUANTIZE, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(_shape(b, node.inputs[0]))), *_words([node.attr("in_zp"), m, s, node.attr("out_zp")])])


@lowers("QMean")
def _qmean(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.quantized import mean_params

    _require_s8(b, node, node.inputs[0], node.outputs[0])
    x = _shape(b, node.inputs[0])
    axes = sorted(a % len(x) for a in node.attr("axes"))
    if axes != list(range(axes[0], axes[-1] + 1)):
        raise UnsupportedModelError(f"QMean node {node.name!r}: the interpreter reduces contiguous axes only")
    red = int(np.prod([x[a] for a in axes]))
    m, s = mean_params(node, red)
    b.op(OP_QMEAN, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(x[:axes[0]])), red, int(np.prod(x[axes[-1] + 1:])),
          *_words([node.attr("in_zp"), m, s, node.attr("out_zp")])])


# ---------------------------------------------------------------- int8 activations, SUB, PRELU, uint8 edges
@lowers("QRelu", "QLeakyRelu", "QHardSwish")
def _qact8(b: _Builder, node: Node) -> None:
    """As ``backends/c/ops/quantized_act.py``: QACT kinds 2-4 with the q tables ``ei_act_s8.h`` documents."""
    from edgeinfer.ir.ops.quantized_act import hard_swish_params, leaky_relu_params, relu_params

    _require_s8(b, node, node.inputs[0], node.outputs[0], int16=False)
    zps = [node.attr("in_zp"), node.attr("out_zp")]
    if node.op == "QRelu":
        kind, q = 2, [*zps, *relu_params(node), node.attr("act_min", -128), node.attr("act_max", 127)]
    elif node.op == "QLeakyRelu":
        kind, q = 3, [*zps, *leaky_relu_params(node)]
    else:
        p = hard_swish_params(node)
        if p["out_exp"] > 0:
            raise UnsupportedModelError(f"QHardSwish node {node.name!r}: output scale below in_scale / 128 "
                                        "(TFLite requires the output multiplier's exponent <= 0)")
        kind, q = 4, [*zps, p["out_mult"], p["out_exp"], p["relu_mult"], p["relu_exp"]]
    b.op(OP_QACT, [node.inputs[0]], [node.outputs[0]],
         [kind, int(np.prod(_shape(b, node.inputs[0]))), *_words(q)])


@lowers("QRequantizeU8")
def _qrequantize_u8(b: _Builder, node: Node) -> None:
    """uint8 <-> int8 at the model's edges: QREQUANTIZE on a uint8 side (``ei_requantize_u8_s8`` / ``_s8_u8``)."""
    from edgeinfer.ir.ops.quantized_act import requantize_u8_params

    pair = (b.g.tensors[node.inputs[0]].dtype, b.g.tensors[node.outputs[0]].dtype)
    if pair not in (("uint8", "int8"), ("int8", "uint8")):
        raise UnsupportedModelError(f"QRequantizeU8 node {node.name!r}: no kernel from {pair[0]} to {pair[1]}")
    m, s = requantize_u8_params(node)
    b.op(OP_QREQUANTIZE, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(_shape(b, node.inputs[0]))), *_words([node.attr("in_zp"), m, s, node.attr("out_zp")])])


@lowers("Max", "Min")
def _maxmin(b: _Builder, node: Node) -> None:
    if len(node.inputs) > MAX_OP_TENSORS - 1:
        raise UnsupportedModelError(f"the interpreter's {node.op} takes at most {MAX_OP_TENSORS - 1} inputs")
    if b.g.tensors[node.outputs[0]].dtype not in DTYPES:
        raise UnsupportedModelError(f"the interpreter has no {node.op} for {b.g.tensors[node.outputs[0]].dtype}")
    words = _bcast_words([_shape(b, t) for t in node.inputs], _shape(b, node.outputs[0]))
    b.op(OP_MAXMIN, list(node.inputs), [node.outputs[0]], [int(node.op == "Min"), *words])


@lowers("Cast")
def _cast(b: _Builder, node: Node) -> None:
    dts = (b.g.tensors[node.inputs[0]].dtype, b.g.tensors[node.outputs[0]].dtype)
    if any(d not in (*INT_DTYPES, "bool") for d in dts):
        raise UnsupportedModelError(f"Cast node {node.name!r}: the interpreter casts between integer types only, "
                                    f"not {dts[0]} -> {dts[1]}")
    b.op(OP_CAST, [node.inputs[0]], [node.outputs[0]], [])


# ---------------------------------------------------------------- data movement (any element type)
MOVE_DIMS = 6


@dataclass
class _Axis:
    """One output axis of a MOVE: its size, destination stride and source offsets (a table, or start + i * step)."""

    n: int
    ds: int
    table: np.ndarray | None = None
    start: int = 0
    step: int = 0

    def values(self) -> np.ndarray:
        return self.table if self.table is not None else self.start + np.arange(self.n, dtype=np.int64) * self.step


def _affine(n: int, ds: int, start: int, step: int) -> _Axis:
    return _Axis(n, ds, None, int(start), int(step))


def _fill_bytes(value: Any, dtype: str) -> list[int]:
    raw = np.zeros(8, np.uint8)
    raw[:np.dtype(dtype).itemsize] = np.frombuffer(np.asarray(value).astype(dtype).tobytes(), np.uint8)
    return [int(w) for w in raw.view("<u4")]


def _move(b: _Builder, x: str, y: str, axes: list[_Axis], dbase: int = 0, fill: Any = None) -> None:
    """Emit one MOVE: y[dbase + sum i_d ds_d] = x[sum T_d(i_d)] (T_d = -1: ``fill``).

    Size-1 axes fold into the others and neighbours that are affine and contiguous in both tensors merge (as the
    C backend's ``loop_nest`` collapses its loops), so a plain copy is one block; above MOVE_DIMS axes the
    innermost pairs merge into tables."""
    base, outside = 0, False
    kept = []
    for ax in axes:
        if ax.n == 1:
            v = int(ax.values()[0])
            outside |= v < 0
            base += max(v, 0)
        else:
            kept.append(ax)
    if not kept:
        kept = [_affine(1, 1, 0, 0)]
    first = kept[0]
    if outside:
        kept[0] = _Axis(first.n, first.ds, np.full(first.n, -1, np.int64))
    elif first.table is not None:
        kept[0] = _Axis(first.n, first.ds, np.where(first.table >= 0, first.table + base, -1))
    else:
        kept[0] = _affine(first.n, first.ds, first.start + base, first.step)
    i = len(kept) - 1
    while i > 0:
        a, c = kept[i - 1], kept[i]
        if a.table is None and c.table is None and a.ds == c.ds * c.n and a.step == c.step * c.n:
            kept[i - 1:i + 1] = [_affine(a.n * c.n, c.ds, a.start + c.start, c.step)]
        i -= 1
    while len(kept) > MOVE_DIMS:
        j = next((j for j in range(len(kept) - 1, 0, -1) if kept[j - 1].ds == kept[j].ds * kept[j].n), None)
        if j is None:
            raise UnsupportedModelError(f"the interpreter moves data over at most {MOVE_DIMS} axes")
        a, c = kept[j - 1], kept[j]
        va, vc = a.values(), c.values()
        tab = np.where((va[:, None] < 0) | (vc[None, :] < 0), -1, va[:, None] + vc[None, :]).reshape(-1)
        kept[j - 1:j + 1] = [_Axis(a.n * c.n, c.ds, tab)]
    pad = MOVE_DIMS - len(kept)
    tabs = [NONE_OFF if ax.table is None else _i32(b, ax.table) for ax in kept]
    dt = b.g.tensors[x].dtype
    words = [len(kept), int(fill is not None), *(_fill_bytes(fill, dt) if fill is not None else [0, 0]), dbase,
             *[ax.n for ax in kept], *[0] * pad, *[ax.ds for ax in kept], *[0] * pad, *tabs, *[NONE_OFF] * pad,
             *_words([ax.start for ax in kept]), *[0] * pad, *_words([ax.step for ax in kept]), *[0] * pad]
    b.op(OP_MOVE, [x], [y], words)


def _strides(shape: list[int]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


@lowers("Transpose")
def _transpose(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.shape import Transpose

    shp = _shape(b, node.inputs[0])
    perm = Transpose.perm(node, len(shp))
    ist, out = _strides(shp), [shp[p] for p in perm]
    ost = _strides(out)
    _move(b, node.inputs[0], node.outputs[0], [_affine(out[d], ost[d], 0, ist[p]) for d, p in enumerate(perm)])


@lowers("Concat")
def _concat(b: _Builder, node: Node) -> None:
    """One MOVE per input, each into its slab of y."""
    out = _shape(b, node.outputs[0])
    a = node.attr("axis") % len(out)
    ost, off = _strides(out), 0
    for name in node.inputs:
        shp = _shape(b, name)
        if not int(np.prod(shp)):
            continue
        ist = _strides(shp)
        _move(b, name, node.outputs[0], [_affine(n, ost[d], 0, ist[d]) for d, n in enumerate(shp)], off * ost[a])
        off += shp[a]


@lowers("Split")
def _split_op(b: _Builder, node: Node) -> None:
    """One MOVE per output, each from its slab of x."""
    from edgeinfer.ir.ops.shape import Split

    shp = _shape(b, node.inputs[0])
    a = node.attr("axis", 0) % len(shp)
    ist, off = _strides(shp), 0
    for name, size in zip(node.outputs, Split.sizes(node, shp[a]), strict=True):
        if size and name:
            out = _shape(b, name)
            ost = _strides(out)
            _move(b, node.inputs[0], name,
                  [_affine(n, ost[d], off * ist[a] if d == a else 0, ist[d]) for d, n in enumerate(out)])
        off += size


@lowers("Slice")
def _slice(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.shape import slice_indices

    shp = _shape(b, node.inputs[0])
    ist, out = _strides(shp), _shape(b, node.outputs[0])
    ost = _strides(out)
    axes = []
    for d, ix in enumerate(slice_indices(node, shp)):
        if ix is None:
            axes.append(_affine(out[d], ost[d], 0, ist[d]))
        else:
            step = ix[1] - ix[0] if len(ix) > 1 else 1
            axes.append(_affine(out[d], ost[d], ix[0] * ist[d], step * ist[d]))
    _move(b, node.inputs[0], node.outputs[0], axes)


@lowers("Pad")
def _pad(b: _Builder, node: Node) -> None:
    """Per output axis, the source index of every position (-1 outside the input: the constant). Constant mode
    shifts by the begin pad (negative pads crop); reflect / edge / wrap take their indices from the IR reference
    run on an index grid. Every mode is separable per axis; the tables are checked against the full reference."""
    from edgeinfer.ir.ops.shape import Pad, pad_widths

    shp, out = _shape(b, node.inputs[0]), _shape(b, node.outputs[0])
    ist, ost = _strides(shp), _strides(out)
    mode = node.attr("mode", "constant")
    widths = pad_widths(node, len(shp))
    if mode == "constant" and all(pb >= 0 and pe >= 0 for pb, pe in widths) and shp:
        # two block moves instead of one per-element map: fill the whole output with the constant (the first
        # axis's table all -1, the rest one contiguous run: memset), then copy the input in as contiguous runs
        fill_axes = [_Axis(out[0], ost[0], np.full(out[0], -1, np.int64))]
        fill_axes += [_affine(out[d], ost[d], 0, ost[d]) for d in range(1, len(out))]
        _move(b, node.inputs[0], node.outputs[0], fill_axes, fill=node.attr("value", 0.0))
        dbase = sum(pb * ost[d] for d, (pb, _) in enumerate(widths))
        _move(b, node.inputs[0], node.outputs[0], [_affine(shp[d], ost[d], 0, ist[d]) for d in range(len(shp))],
              dbase=dbase)
        return
    grid = np.arange(int(np.prod(shp)), dtype=np.int64).reshape(shp)
    axes = []
    if mode == "constant":
        for d, (pb, _) in enumerate(widths):
            src = np.arange(out[d], dtype=np.int64) - pb
            axes.append(_Axis(out[d], ost[d], np.where((src >= 0) & (src < shp[d]), src * ist[d], -1)))
        probe = Pad.reference(Node(node.op, node.inputs, node.outputs, {**node.attrs, "value": -1}, node.name),
                              grid)[0]
    else:
        probe = Pad.reference(node, grid)[0]
        for d in range(len(shp)):
            line = probe[tuple(slice(None) if j == d else 0 for j in range(len(shp)))]  # other axes at 0
            axes.append(_Axis(out[d], ost[d], np.unravel_index(line, shp)[d].astype(np.int64) * ist[d]))
    total = np.zeros(out, np.int64)
    for d, ax in enumerate(axes):
        shape = [1] * len(out)
        shape[d] = out[d]
        tab = ax.table.reshape(shape)
        total = np.where((total < 0) | (tab < 0), -1, total + tab)
    if not np.array_equal(total, probe):
        raise UnsupportedModelError(f"Pad node {node.name!r}: the index map is not separable per axis")
    _move(b, node.inputs[0], node.outputs[0], axes, fill=node.attr("value", 0.0) if mode == "constant" else None)


@lowers("Gather")
def _gather(b: _Builder, node: Node) -> None:
    """Constant indices: a MOVE (validated at load); run-time indices: GATHER."""
    shp = _shape(b, node.inputs[0])
    a = node.attr("axis", 0) % len(shp)
    outer, n_axis, inner = int(np.prod(shp[:a])), shp[a], int(np.prod(shp[a + 1:]))
    ind = b.g.const(node.inputs[1])
    if ind is not None:
        k = np.asarray(ind, np.int64).reshape(-1)
        k = np.where(k < 0, k + n_axis, k)
        if k.size and (k.min() < 0 or k.max() >= n_axis):
            raise UnsupportedModelError(f"Gather node {node.name!r}: an index is outside the axis of {n_axis}")
        _move(b, node.inputs[0], node.outputs[0],
              [_affine(outer, k.size * inner, 0, n_axis * inner), _Axis(k.size, inner, k * inner),
               _affine(inner, 1, 0, 1)])
        return
    if b.g.tensors[node.inputs[1]].dtype not in ("int32", "int64"):
        raise UnsupportedModelError(f"Gather node {node.name!r}: indices must be int32 or int64")
    b.op(OP_GATHER, [node.inputs[0], node.inputs[1]], [node.outputs[0]],
         [outer, n_axis, inner, int(np.prod(_shape(b, node.inputs[1])))])


@lowers("Resize")
def _resize(b: _Builder, node: Node) -> None:
    """nearest: a MOVE with the C backend's per-axis source tables (any element type); linear / cubic (float32):
    RESIZE with its per-axis (offset, weight) taps."""
    from edgeinfer.ir.ops.shape import resize_source_index, resize_taps

    shp, out = _shape(b, node.inputs[0]), _shape(b, node.outputs[0])
    ist, ost = _strides(shp), _strides(out)
    if node.attr("mode", "nearest") == "nearest":
        _move(b, node.inputs[0], node.outputs[0],
              [_Axis(out[d], ost[d], (resize_source_index(node, d, shp[d], out[d]) * ist[d]).astype(np.int64))
               for d in range(len(shp))])
        return
    _require_f32(b, node)
    if len(out) > MOVE_DIMS:
        raise UnsupportedModelError(f"the interpreter resizes at most {MOVE_DIMS} axes")
    taps, srcs, ws, masks = [], [], [], []
    for d in range(len(shp)):
        t = resize_taps(node, d, shp[d], out[d])
        if t is None:  # unchanged axis: one tap of weight 1 (exact), as the generated C's direct index
            src, w, extra = np.arange(out[d])[:, None], np.ones((out[d], 1)), np.zeros(out[d], bool)
        else:
            src, w, extra = t
        taps.append(src.shape[1])
        srcs.append(_i32(b, (src * ist[d]).reshape(-1)))
        ws.append(b.add_data(w.reshape(-1).astype(np.float32)))
        masks.append(b.add_data(extra.astype(np.uint8)) if extra.any() else NONE_OFF)
    pad = MOVE_DIMS - len(out)
    words = [len(out), f32w(float(node.attr("extrapolation_value", 0.0))), 0, *out, *[1] * pad, *taps, *[1] * pad,
             *srcs, *[NONE_OFF] * pad, *ws, *[NONE_OFF] * pad, *masks, *[NONE_OFF] * pad]
    b.op(OP_RESIZE, [node.inputs[0]], [node.outputs[0]], words)


@lowers("ReduceSum", "ReduceMean", "ReduceMax")
def _reduce(b: _Builder, node: Node) -> None:
    """x traversed in row-major order, folded into y[sum i_d ostr_d], as the C backend's loop nest."""
    from edgeinfer.ir.ops.vector_math import reduce_axes

    dt = b.g.tensors[node.outputs[0]].dtype
    if not (dt == "float32" or (dt in (*INT_DTYPES, "bool") and node.op != "ReduceMean")):
        raise UnsupportedModelError(f"the interpreter has no {node.op} for {dt}")
    shp = _shape(b, node.inputs[0])
    axes = reduce_axes(node, len(shp))
    ost = _strides([1 if i in axes else d for i, d in enumerate(shp)])
    ost = [0 if i in axes else s for i, s in enumerate(ost)]
    dims, strides = [], []
    for d, st in zip(shp, ost, strict=True):  # drop size-1 axes, merge neighbours reduced (or kept) alike
        if d == 1:
            continue
        if dims and (strides[-1] == 0) == (st == 0) and (st == 0 or strides[-1] == st * d):
            dims[-1], strides[-1] = dims[-1] * d, st
        else:
            dims.append(d)
            strides.append(st)
    if len(dims) > MOVE_DIMS:
        raise UnsupportedModelError(f"the interpreter reduces over at most {MOVE_DIMS} alternating axes")
    dims, strides = dims or [1], strides or [0]
    pad = MOVE_DIMS - len(dims)
    cnt = int(np.prod([shp[i] for i in axes])) if node.op == "ReduceMean" and axes else 1
    b.op(OP_REDUCE, [node.inputs[0]], [node.outputs[0]],
         [["ReduceSum", "ReduceMean", "ReduceMax"].index(node.op), len(dims), f32w(cnt), *dims, *[1] * pad,
          *strides, *[0] * pad])


@lowers("LogSoftmax")
def _logsoftmax(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    shp = _shape(b, node.inputs[0])
    a = node.attr("axis", -1) % len(shp)
    b.op(OP_LOGSOFTMAX, [node.inputs[0]], [node.outputs[0]],
         [int(np.prod(shp[:a])), shp[a], int(np.prod(shp[a + 1:]))])


# ---------------------------------------------------------------- fixed-point classical ops (integer only)
FX_LABEL_MODES = {"argmax": 0, "positive": 1, "nonnegative": 2, "values": 3}
FX_ACTS = {"relu": 0, "identity": 1, "tanh": 2, "logistic": 3}


def _fx_input(b: _Builder, node: Node) -> int:
    x = b.g.tensors[node.inputs[0]]
    if x.dtype not in ("int8", "int16"):
        raise UnsupportedModelError(f"{node.op} node {node.name!r}: features must be int8 or int16, not {x.dtype}")
    return _shape(b, node.inputs[0])[-1]


@lowers("FxTreeEnsemble")
def _fx_trees(b: _Builder, node: Node) -> None:
    """Branch records {threshold, feature, left, right} (int32) renumbered in pre-order per tree, so that every
    child follows its parent (what load checks, and why every walk ends); leaves referenced as -1 - row."""
    n_features = _fx_input(b, node)
    feat = np.asarray(node.attr("feature"), np.int64)
    thr = np.asarray(node.attr("threshold"), np.int64)
    left, right = np.asarray(node.attr("left"), np.int64), np.asarray(node.attr("right"), np.int64)
    leaves = np.asarray(node.attr("leaf_values"), np.int64)
    recs: list[tuple[int, int, int, int]] = []
    new: dict[int, int] = {}  # IR node -> branch record

    def ref(i: int) -> int:
        return -1 - int(left[i]) if feat[i] < 0 else new[i]

    roots = []
    for r in np.asarray(node.attr("roots"), np.int64):
        order, stack = [], [int(r)]
        while stack:  # pre-order over the branches of one tree: a child is numbered after its parent
            i = stack.pop()
            if feat[i] < 0:
                continue
            if i in new:
                raise UnsupportedModelError(f"FxTreeEnsemble node {node.name!r}: a branch is shared between paths")
            new[i] = len(recs) + len(order)
            order.append(i)
            stack += [int(right[i]), int(left[i])]
        recs += [(int(np.clip(thr[i], -2 ** 31, 2 ** 31 - 1)), int(feat[i]), ref(int(left[i])), ref(int(right[i])))
                 for i in order]
        roots.append(ref(int(r)))
    br = np.array(recs or [(0, 0, -1, -1)], dtype=np.int32).reshape(-1, 4)
    mode = node.attr("label_mode", "argmax")
    words = [n_features, leaves.shape[1], len(roots), len(recs), leaves.shape[0], FX_LABEL_MODES[mode],
             b.add_data(br), _i32(b, roots), b.add_data(leaves.astype(np.int16)),
             _i32(b, np.asarray(node.attr("base"), np.int64))]
    b.op(OP_FXTREES, [node.inputs[0]], list(node.outputs), words, 4 * leaves.shape[1])


@lowers("FxDense")
def _fx_dense(b: _Builder, node: Node) -> None:
    from edgeinfer.ir.ops.fixed_point import dense_layers

    _fx_input(b, node)
    acts = list(node.attr("activations"))
    luts = node.attr("luts") or [None] * len(acts)
    bits = 16 if node.attr("act_dtype", "int16") == "int16" else 8
    n_layers = dense_layers(node)
    widths = [_shape(b, node.inputs[1 + 4 * i])[0] for i in range(n_layers)]
    hidden = max(widths[:-1], default=0)
    words = [n_layers, bits, FX_LABEL_MODES[node.attr("label_mode", "argmax")], hidden]
    for i, act in enumerate(acts):
        w, bias, mult, shift = (b.g.const(t) for t in node.inputs[1 + 4 * i:5 + 4 * i])
        wb = 16 if w.dtype == np.int16 else 8
        lut = NONE_OFF
        if act in ("tanh", "logistic") and i < len(acts) - 1:
            lut = b.add_data(np.asarray(luts[i]).astype(np.int16 if bits == 16 else np.int8))
        words += [w.shape[1], w.shape[0], FX_ACTS[act], wb, b.add_data(np.asarray(w)),
                  b.add_data(np.asarray(bias, np.int64)), _i32(b, mult), _i32(b, shift), lut]
    b.op(OP_FXDENSE, [node.inputs[0]], list(node.outputs), words, 4 * (2 * hidden + widths[-1]))


FXSVM_KINDS = {"LINEAR": 0, "POLY": 1, "RBF": 2, "SIGMOID": 3}


@lowers("FxSVM")
def _fx_svm(b: _Builder, node: Node) -> None:
    """The C backend's FxSVM (``backends/c/ops/fixed_point.py``): the same tables at fixed widths, the pair each
    coefficient row of a class feeds (libsvm's layout), class starts."""
    from edgeinfer.ir.ops.fixed_point import class_pairs

    n_feat = _fx_input(b, node)
    kind = node.attr("kernel_type")
    classifier = node.attr("task", "classifier") == "classifier"
    consts = [np.asarray(b.g.const(t)) for t in node.inputs[1:]]
    none = NONE_OFF
    tabs = {k: none for k in ("vec", "coef", "rho", "vb", "vs", "table", "mult", "shift", "cap", "power", "start",
                              "pair", "w", "bias", "group")}
    counts = [int(c) for c in node.attr("vectors_per_class", [])] if classifier else []
    k = len(counts) if classifier else 1
    n_vec, vec_bits, n_grp = 0, 16, 0
    if kind == "LINEAR":
        tabs["w"] = b.add_data(consts[0].astype(np.int16))
        tabs["bias"] = b.add_data(consts[1].astype(np.int64))
    else:
        vec, coef, rho = consts[:3]
        n_vec = vec.shape[0]
        vec_bits = 8 * vec.dtype.itemsize
        tabs.update(vec=b.add_data(vec), coef=b.add_data(coef.astype(np.int16)), rho=b.add_data(rho.astype(np.int64)))
        if kind == "RBF":
            # features grouped by distance weight (dist_group); one group per feature where the graph has none
            group = node.attr("dist_group", None)
            n_grp = len(node.attr("dist_mult"))
            tabs["group"] = _i32(b, np.arange(n_feat) if group is None else group)
            tabs.update(table=_i32(b, node.attr("kernel_table")),
                        mult=b.add_data(np.asarray(node.attr("dist_mult"), np.int64)),
                        shift=_i32(b, node.attr("dist_shift")),
                        cap=b.add_data(np.asarray(node.attr("dist_cap"), np.int64)))
        else:
            tabs.update(vb=b.add_data(consts[3].astype(np.int64)), vs=_i32(b, consts[4]))
            if kind == "SIGMOID":
                tabs["table"] = b.add_data(np.asarray(node.attr("kernel_table"), np.int16))
            elif node.attr("power_shift"):
                tabs["power"] = _i32(b, node.attr("power_shift"))
        if classifier:
            index = {pq: i for i, pq in enumerate(class_pairs(k))}
            pair_of = [index[(r, c) if r < c else (c, r + 1)] for c in range(k) for r in range(k - 1)]
            tabs.update(start=_i32(b, np.concatenate([[0], np.cumsum(counts)])), pair=_i32(b, pair_of))
    words = [FXSVM_KINDS[kind], int(classifier), n_feat, n_vec, k, int(node.attr("decision_shape", "ovr") == "ovo"),
             int(bool(node.attr("break_ties", 0))), int(node.attr("degree", 3)) if kind == "POLY" else 0,
             int(node.attr("kernel_frac", 0)), vec_bits,
             *[tabs[t] for t in ("vec", "coef", "rho", "vb", "vs", "table", "mult", "shift", "cap")],
             _i32(b, node.attr("out_shift")), *[tabs[t] for t in ("power", "start", "pair", "w", "bias", "group")],
             n_grp]
    n_pairs = k * (k - 1) // 2 if classifier else 1
    b.op(OP_FXSVM, [node.inputs[0]], list(node.outputs), words, 12 * n_pairs + 16 * k + 8 * n_grp)


def supported_ops() -> list[str]:
    """IR ops the interpreter runs."""
    return sorted(LOWERINGS)


def check_supported(graph: Graph) -> None:
    """Raise UnsupportedModelError naming every op of ``graph`` the interpreter lacks."""
    missing = sorted({n.op for n in graph.nodes if n.op not in LOWERINGS})
    if missing:
        raise UnsupportedModelError(f"the interpreter backend has no op {', '.join(missing)}; "
                                    f"it runs: {', '.join(supported_ops())} (use backend='c' for the others)")


def write_eim(graph: Graph, options: dict[str, Any] | None = None) -> EimBlob:
    """Lower, plan and serialise ``graph``; the graph itself is left unchanged.

    >>> # write_eim(graph).data[:4] == b"EIM1"
    """
    from edgeinfer.passes.memory import plan_memory

    g = graph.copy().validate()
    check_supported(g)
    for t in g.inputs:
        if g.tensors[t].shape[0] not in (None, 1):
            raise EdgeInferError(f"input {t!r} has batch size {g.tensors[t].shape[0]}; "
                                 "the interpreter computes one sample per call (batch 1 or symbolic)")
    if set(g.inputs) & set(g.outputs):
        raise EdgeInferError("a tensor is both a graph input and output")
    from edgeinfer.backends.c.ops.nn import conv_accumulate_ok, conv_alias_ok, conv_scratch_bytes

    # the C backend's plan (in-place convs, kernel scratch, residual Adds fused into convs), so that the
    # interpreter runs the same kernels in the same arena
    g = plan_memory(g, alias_ok=conv_alias_ok, scratch=conv_scratch_bytes, accumulate=conv_accumulate_ok)
    b = _Builder(g, dict(options or {}))
    for node in g.nodes:
        LOWERINGS[node.op](b, node)
    for name in g.outputs:
        if g.tensors[name].is_const:  # a folded output (e.g. ONNX Shape): copied from the data section
            b.op(OP_COPY, [b.const(name + "_value", np.asarray(g.tensors[name].data, g.tensors[name].dtype))],
                 [name], [])
    return b.finish(int(g.metadata["arena_bytes"]))
