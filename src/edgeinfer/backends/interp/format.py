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
VERSION = 1
HEADER = struct.Struct("<16I")
TENSOR = struct.Struct("<4B4IIfi")
OP_HEAD = struct.Struct("<HBB8HII")
NO_TENSOR = 0xFFFF
NONE_OFF = 0xFFFFFFFF
MAX_DIMS = 4
MAX_OP_TENSORS = 8

DTYPES = {"float32": 0, "float64": 1, "int32": 2, "int16": 3, "int8": 4, "uint8": 5}
KIND_ARENA, KIND_CONST, KIND_INPUT, KIND_OUTPUT = 0, 1, 2, 3

OP_DENSE, OP_CONV, OP_POOL, OP_GAP, OP_BINARY, OP_UNARY, OP_SOFTMAX, OP_COPY, OP_ARGMAX, OP_SCALER, OP_STACK, \
    OP_TREES = range(1, 13)
#: runtime op code -> name (docs, footprint, benchmarks)
OP_NAMES = {OP_DENSE: "DENSE", OP_CONV: "CONV", OP_POOL: "POOL", OP_GAP: "GLOBAL_AVGPOOL", OP_BINARY: "BINARY",
            OP_UNARY: "UNARY", OP_SOFTMAX: "SOFTMAX", OP_COPY: "COPY", OP_ARGMAX: "ARGMAX", OP_SCALER: "SCALER",
            OP_STACK: "STACK", OP_TREES: "TREES"}


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
        """Append an array (8-byte aligned); returns its offset in the data section."""
        self.data += b"\0" * (-len(self.data) % 8)
        off = len(self.data)
        self.data += np.ascontiguousarray(arr).tobytes()
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
        data_off += -data_off % 8
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
    """(has_act, lo, hi) words of a fused Relu / Clip."""
    if not node.attr("activation"):
        return [0, f32w(-np.inf), f32w(np.inf)]
    lo, hi = node.attr("activation_params", [0.0, float("inf")])
    return [1, f32w(lo), f32w(hi)]


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
    _require_f32(b, node)
    w = b.g.const(node.inputs[1])
    if w is None or node.attr("transA", 0):
        raise UnsupportedModelError("the interpreter runs Gemm with constant B and without transA")
    m, k = _shape(b, node.inputs[0])
    wt = (w if node.attr("transB", 0) else w.T).astype(np.float64) * float(node.attr("alpha", 1.0))
    n = wt.shape[0]
    bias = None
    if len(node.inputs) > 2 and node.inputs[2]:
        c = b.g.const(node.inputs[2])
        if c is None:
            raise UnsupportedModelError("the interpreter needs Gemm's C input to be a constant")
        full = np.broadcast_to(c.astype(np.float64) * float(node.attr("beta", 1.0)), (m, n))
        if not np.all(full == full[0]):
            raise UnsupportedModelError("the interpreter needs Gemm's C to be one row broadcast over the rows")
        bias = b.const(node.inputs[2] + "_bias", full[0].astype(np.float32))
    wn = b.const(node.inputs[1] + "_nk", wt.astype(np.float32))
    b.op(OP_DENSE, [node.inputs[0], wn, bias], [node.outputs[0]], [m, k, n, *_act(node)])


@lowers("MatMul")
def _matmul(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    w = b.g.const(node.inputs[1])
    if w is None or w.ndim != 2:
        raise UnsupportedModelError("the interpreter runs MatMul with a constant 2-D right operand only")
    k, n = w.shape
    rows = int(np.prod(_shape(b, node.inputs[0]))) // k
    wn = b.const(node.inputs[1] + "_nk", w.T.astype(np.float32))
    b.op(OP_DENSE, [node.inputs[0], wn, None], [node.outputs[0]], [rows, k, n, *_act(node)])


@lowers("Conv")
def _conv(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.nn import _as_2d, _geo2d
    from edgeinfer.ir.ops.nn import conv_geometry

    _require_f32(b, node)
    if b.g.const(node.inputs[1]) is None:
        raise UnsupportedModelError("the interpreter needs Conv weights to be constant")
    x, y, ws = _shape(b, node.inputs[0]), _shape(b, node.outputs[0]), _shape(b, node.inputs[1])
    x2, y2, k2 = _as_2d(node, x), _as_2d(node, y), _as_2d(node, ws)
    s, d, pb, _ = _geo2d(conv_geometry(node, x[2:], ws[2:]), len(x) - 2)
    geom = [x2[1], x2[2], x2[3], y2[1], y2[2], y2[3], k2[2], k2[3], *s, *d, *pb, node.attr("group", 1)]
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    b.op(OP_CONV, [node.inputs[0], node.inputs[1], bias], [node.outputs[0]], [x2[0], *geom, *_act(node)[1:]])


@lowers("MaxPool", "AveragePool")
def _pool(b: _Builder, node: Node) -> None:
    from edgeinfer.backends.c.ops.nn import _as_2d, _geo2d
    from edgeinfer.ir.ops.nn import conv_geometry

    _require_f32(b, node)
    x, y = _shape(b, node.inputs[0]), _shape(b, node.outputs[0])
    k = list(node.attr("kernel_shape"))
    nd = len(x) - 2
    x2, y2 = _as_2d(node, x), _as_2d(node, y)
    k2 = [1, k[0]] if nd == 1 else k
    s, d, pb, pe = _geo2d(conv_geometry(node, x[2:], k, pool=True), nd)
    geom = [x2[1], x2[2], x2[3], y2[2], y2[3], *k2, *s, *d, *pb, *pe, int(node.attr("count_include_pad", 0))]
    b.op(OP_POOL, [node.inputs[0]], [node.outputs[0]], [int(node.op == "AveragePool"), x2[0], *geom])


@lowers("GlobalAveragePool")
def _gap(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    x = _shape(b, node.inputs[0])
    b.op(OP_GAP, [node.inputs[0]], [node.outputs[0]], [x[0] * x[1], int(np.prod(x[2:]))])


@lowers("Add", "Sub", "Mul", "Div")
def _binary(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    n = int(np.prod(_shape(b, node.outputs[0])))
    for t in node.inputs:
        if int(np.prod(_shape(b, t))) not in (1, n):
            raise UnsupportedModelError(f"the interpreter's {node.op} takes same-size or scalar operands, "
                                        f"not {_shape(b, t)} against {_shape(b, node.outputs[0])}")
    kind = ["Add", "Sub", "Mul", "Div"].index(node.op)
    b.op(OP_BINARY, list(node.inputs), [node.outputs[0]], [kind, n])


@lowers("Relu", "Sigmoid", "Tanh", "Clip")
def _unary(b: _Builder, node: Node) -> None:
    _require_f32(b, node)
    kind = ["Relu", "Sigmoid", "Tanh", "Clip"].index(node.op)
    lo, hi = node.attr("min"), node.attr("max")
    if node.op == "Clip" and len(node.inputs) > 1:
        raise UnsupportedModelError("the interpreter's Clip takes its bounds as attributes")
    b.op(OP_UNARY, [node.inputs[0]], [node.outputs[0]],
         [kind, f32w(-np.inf if lo is None else lo), f32w(np.inf if hi is None else hi)])


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
    if b.g.tensors[node.inputs[0]].dtype != "float32":
        raise UnsupportedModelError("the interpreter's ArgMax reads float32 only")
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
    """Stands in for the C backend's EmitContext in ``make_layers``: tables go to the data section.

    So the interpreter stores exactly the tables (float32 weights, int16 residuals, double
    biases) and error-bound constants that the generated C's certified path uses.
    """

    def __init__(self, b: _Builder) -> None:
        self.b = b
        self.offsets: dict[str, int] = {}

    def const_array(self, hint: str, arr: np.ndarray, dtype: str | None = None) -> str:
        key = f"t{len(self.offsets)}"
        self.offsets[key] = self.b.add_data(np.asarray(arr).astype(dtype or np.asarray(arr).dtype))
        return key

    def off(self, key: str) -> int:
        return NONE_OFF if key == "NULL" else self.offsets[key]


ACT_CODES = {"identity": 0, "relu": 1, "tanh": 2, "logistic": 3}
LINEAR_POST = {"NONE": 0, "LOGISTIC": 1, "SOFTMAX": 2, "LOGISTIC_NORM": 3}


def _stack(b: _Builder, node: Node, params: list[tuple[np.ndarray, np.ndarray]], kind: int, act: str, post: int,
           exact: bool) -> None:
    from edgeinfer.backends.c.ops.dense import ACTIVATION_ERROR, _up, make_layers

    sink = _TableSink(b)
    layers = make_layers(sink, node.name, params, exact)  # type: ignore[arg-type]
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
    g = plan_memory(g)
    b = _Builder(g, dict(options or {}))
    for node in g.nodes:
        LOWERINGS[node.op](b, node)
    return b.finish(int(g.metadata["arena_bytes"]))
