"""Quantized ONNX models (QDQ and QLinear* / QOperator form) -> the TFLite-scheme integer IR ops.

ONNX Runtime's ``quantize_static`` writes either QDQ (float ops between
DequantizeLinear and QuantizeLinear) or QOperator (QLinearConv, QLinearMatMul, ...).
Both carry the same information as a TFLite int8 model: int8 weights with scales, int32
biases at ``in_scale * w_scale``, activation scales and zero points. Each pattern
``DQ -> op [-> Relu/Clip] -> Q`` becomes one integer op (QConv2D, QFullyConnected, ...), so
the model runs on the int8 C kernels. Differences from ONNX Runtime, by design:
requantization is TFLite's fixed-point multiply (ONNX Runtime's is float), so outputs
agree within about one int8 step per layer; uint8 activations become int8 with the zero
point moved by 128 (the same real values). Tensors between integer ops are NHWC as the
integer ops want; Transposes are added where an ONNX NCHW tensor enters or leaves.

>>> # g = from_onnx("model_qdq.onnx")   # dispatched here when the model has Q/DQ or QLinear nodes
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.tensor import QuantParams

QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul",
             "QLinearGlobalAveragePool", "QLinearAveragePool", "QGemm"}
_TO_NHWC, _TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def is_quantized(proto: Any) -> bool:
    """Whether the model holds quantization nodes (then :func:`from_quantized_onnx` imports it)."""
    return any(n.op_type in QUANT_OPS for n in proto.graph.node)


@dataclass
class _Q:
    """An int8 IR tensor standing for an ONNX tensor: scale, zero point (int8 domain) and layout."""

    name: str
    scale: float
    zp: int
    nhwc: bool = False


@dataclass
class _DQ:
    """A dequantized ONNX tensor not materialized: of an activation (``q``) or of constant int data."""

    q: _Q | None = None
    data: np.ndarray | None = None
    scale: np.ndarray | None = None
    zp: np.ndarray | None = None


@dataclass
class _Pending:
    """A float ONNX op over dequantized inputs, waiting for the QuantizeLinear that fixes its output scale."""

    node: Any
    ins: list
    act: tuple[float, float] | None = None  # fused Relu / Clip bounds (float)


def from_quantized_onnx(proto: Any) -> Graph:
    """Import a QDQ or QOperator ONNX model onto the integer IR ops."""
    return _QImporter(proto).g.validate()


class _QImporter:
    def __init__(self, proto: Any) -> None:
        import onnx
        from onnx import numpy_helper

        gp = proto.graph
        self.g = Graph(gp.name or "onnx_quant", metadata={"source": "onnx-qdq"})
        self.c: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in gp.initializer}
        self.v: dict[str, Any] = {}   # ONNX tensor -> str (float IR tensor) | _Q | _DQ | _Pending
        self.onnx = onnx
        self.qs: list[_Q] = []
        for vi in gp.input:
            if vi.name in self.c:
                continue
            tt = vi.type.tensor_type
            shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
            dt = str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)))
            if dt != "float32":
                raise UnsupportedModelError(f"input {vi.name!r} is {dt}; quantized ONNX import takes float inputs")
            self.g.add_input(vi.name, shape, dt)
            self.v[vi.name] = vi.name
        for node in gp.node:
            if node.op_type == "Constant":
                self.c[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
                continue
            fn = getattr(self, "op_" + node.op_type.lower(), None)
            if fn is None:
                if any(isinstance(self.v.get(i), (_DQ, _Q)) for i in node.input):
                    fn = self._pend
                else:
                    raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}) is not supported in a "
                                                "quantized ONNX model")
            fn(node)
        self.g.outputs = []
        for vo in gp.output:
            self.g.outputs.append(self._float_out(vo.name))
        self.g.infer_shapes()
        for q in self.qs:
            self.g.tensors[q.name].quant = QuantParams(np.float32(q.scale), q.zp)

    # ------------------------------------------------------------ helpers
    def _int8(self, scale: Any, zp: Any) -> tuple[float, int]:
        zp_arr = np.asarray(zp)
        z = int(np.ravel(zp_arr)[0]) if zp_arr.size else 0
        if zp_arr.dtype == np.uint8:
            z -= 128  # the same real values on the int8 grid
        return float(np.ravel(scale)[0]), z

    def _qparams(self, node: Any, i_scale: int, i_zp: int) -> tuple[float, int]:
        s = self.c[node.input[i_scale]]
        zp = self.c[node.input[i_zp]] if len(node.input) > i_zp and node.input[i_zp] else np.zeros((), np.uint8)
        return self._int8(s, zp)

    def _emit(self, op: str, ins: list[str], base: str, **attrs: Any) -> str:
        out = self.g.fresh_name(base)
        self.g.add_node(op, ins, [out], name=out, **attrs)
        return out

    def _layout(self, q: _Q, nhwc: bool) -> _Q:
        if q.nhwc == nhwc:
            return q
        name = self._emit("Transpose", [q.name], q.name + ("_nhwc" if nhwc else "_nchw"),
                          perm=_TO_NHWC if nhwc else _TO_NCHW)
        return _Q(name, q.scale, q.zp, nhwc)

    def _shape(self, name: str) -> tuple:
        if self.g.tensors[name].shape is None:
            self.g.infer_shapes()
        return self.g.tensors[name].shape

    def _quant(self, name: str, q: _Q) -> None:
        self.v[name] = q
        self.qs.append(q)

    def _float_out(self, name: str) -> str:
        v = self.v.get(name)
        if isinstance(v, str):
            return v
        if isinstance(v, _DQ) and v.q is not None:
            q = self._layout(v.q, False)
            return self._emit("QDequantize", [q.name], name, scale=q.scale, zp=q.zp)
        raise UnsupportedModelError(f"output {name!r} is not produced by a supported quantized pattern")

    def _act_q(self, node: Any, i: int) -> _Q:
        v = self.v.get(node.input[i])
        if isinstance(v, _DQ) and v.q is not None:
            return v.q
        if isinstance(v, _Q):
            return v
        raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}): input {node.input[i]!r} is not a "
                                    "dequantized activation")

    def _const_dq(self, node: Any, i: int) -> _DQ:
        v = self.v.get(node.input[i])
        if isinstance(v, _DQ) and v.data is not None:
            return v
        raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}): input {i} must be a dequantized constant")

    # ------------------------------------------------------------ Q / DQ
    def op_dequantizelinear(self, node: Any) -> None:
        x = node.input[0]
        s = self.c[node.input[1]]
        zp = self.c[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros_like(s, np.uint8)
        if x in self.c:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            self.v[node.output[0]] = _DQ(data=self.c[x], scale=np.asarray(s, np.float32), zp=np.asarray(zp))
            self.v[node.output[0]].axis = axis  # type: ignore[attr-defined]
            return
        q = self.v.get(x)
        if not isinstance(q, _Q):
            raise UnsupportedModelError(f"DequantizeLinear (node {node.name!r}) of a tensor that is not quantized")
        self.v[node.output[0]] = _DQ(q=q)

    def op_quantizelinear(self, node: Any) -> None:
        x = self.v.get(node.input[0])
        scale, zp = self._qparams(node, 1, 2)
        out = node.output[0]
        if isinstance(x, str):     # a float tensor: the graph input
            name = self._emit("QQuantize", [x], out + "_q", scale=scale, zp=zp)
            self._quant(out, _Q(name, scale, zp))
        elif isinstance(x, _Pending):
            self._quant(out, self._lower(x, scale, zp, out))
        elif isinstance(x, _DQ) and x.q is not None:
            self._quant(out, self._requant(x.q, scale, zp, out))
        else:
            raise UnsupportedModelError(f"QuantizeLinear (node {node.name!r}) of an unsupported producer")

    def _requant(self, q: _Q, scale: float, zp: int, base: str) -> _Q:
        if np.float32(q.scale) == np.float32(scale) and q.zp == zp:
            return q
        name = self._emit("QRequantize", [q.name], base, in_scale=q.scale, in_zp=q.zp, out_scale=scale, out_zp=zp)
        return _Q(name, scale, zp, q.nhwc)

    # ------------------------------------------------------------ float ops between DQ and Q
    def _pend(self, node: Any) -> None:
        self.v[node.output[0]] = _Pending(node, [self.v.get(i, i) for i in node.input])

    def op_relu(self, node: Any) -> None:
        p = self.v.get(node.input[0])
        if isinstance(p, _Pending) and p.act is None:
            self.v[node.output[0]] = _Pending(p.node, p.ins, (0.0, float("inf")))
        else:
            self._pend(node)

    def op_clip(self, node: Any) -> None:
        p = self.v.get(node.input[0])
        lo = float(self.c[node.input[1]]) if len(node.input) > 1 and node.input[1] else float("-inf")
        hi = float(self.c[node.input[2]]) if len(node.input) > 2 and node.input[2] else float("inf")
        if isinstance(p, _Pending) and p.act is None:
            self.v[node.output[0]] = _Pending(p.node, p.ins, (lo, hi))
        else:
            raise UnsupportedModelError(f"Clip (node {node.name!r}) must follow a quantized Conv/Gemm")

    def _clamp(self, act: tuple[float, float] | None, scale: float, zp: int) -> dict:
        lo, hi = -128, 127
        if act is not None:
            a, b = act
            if np.isfinite(a):
                lo = max(lo, zp + int(round(a / scale)))
            if np.isfinite(b):
                hi = min(hi, zp + int(round(b / scale)))
        return {"act_min": lo, "act_max": hi}

    def _lower(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        node = p.node
        fn = getattr(self, "lower_" + node.op_type.lower(), None)
        if fn is None:
            raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}) between DequantizeLinear and "
                                        "QuantizeLinear is not supported")
        return fn(p, scale, zp, out)

    def _weights(self, node: Any, dq: _DQ, what: str) -> tuple[np.ndarray, list[float]]:
        if np.any(np.asarray(dq.zp) != 0) or dq.data.dtype != np.int8:
            raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}): {what} must be symmetric int8 "
                                        "(quantize_static(..., weight_type=QuantType.QInt8))")
        return dq.data, [float(v) for v in np.ravel(dq.scale)]

    def _bias(self, base: str, dq: _DQ | None, in_scale: float, w_scale: list[float], n: int) -> list[str]:
        if dq is None:
            return []
        real = (dq.data.astype(np.float64) - np.asarray(dq.zp, np.float64)) * np.asarray(dq.scale, np.float64)
        want = np.float64(np.float32(in_scale)) * np.broadcast_to(np.asarray(w_scale, np.float32), (n,))
        b = np.clip(np.round(real / want), -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
        return [self.g.add_const(base + "_bias", np.broadcast_to(b, (n,)).copy())]

    def _conv(self, name: str, x: _Q, w: np.ndarray, w_scale: list[float], bias: _DQ | None, attrs: dict,
              scale: float, zp: int, act: Any, out: str) -> _Q:
        group = int(attrs.get("group", 1))
        cin = self._shape(x.name)[1 if not x.nhwc else 3]
        k = list(w.shape[2:])
        pads = list(attrs.get("pads", [0] * 4))
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise UnsupportedModelError(f"Conv {name!r}: auto_pad is not supported; export with explicit pads")
        x = self._layout(x, True)
        if group == cin and group > 1 and w.shape[1] == 1:
            op, wt = "QDepthwiseConv2D", w[:, 0].transpose(1, 2, 0)[None]
        else:
            op, wt = "QConv2D", w.transpose(0, 2, 3, 1)
        wn = self.g.add_const(name + "_w", np.ascontiguousarray(wt))
        y = self._emit(op, [x.name, wn, *self._bias(name, bias, x.scale, w_scale, w.shape[0])], out,
                       strides=list(attrs.get("strides", [1, 1])), dilations=list(attrs.get("dilations", [1, 1])),
                       pads=[pads[0], pads[1], pads[2], pads[3]], in_scale=x.scale, in_zp=x.zp, w_scale=w_scale,
                       out_scale=scale, out_zp=zp, **self._clamp(act, scale, zp))
        del k
        return _Q(y, scale, zp, True)

    def _attrs(self, node: Any) -> dict:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def lower_conv(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        node = p.node
        x = self._act_q(node, 0)
        w, ws = self._weights(node, self._const_dq(node, 1), "weights")
        b = self._const_dq(node, 2) if len(node.input) > 2 and node.input[2] else None
        return self._conv(node.name or out, x, w, ws, b, self._attrs(node), scale, zp, p.act, out)

    def _fc(self, name: str, x: _Q, w: np.ndarray, ws: list[float], b: _DQ | None, scale: float, zp: int,
            act: Any, out: str) -> _Q:
        x = self._layout(x, False)
        wn = self.g.add_const(name + "_w", np.ascontiguousarray(w))
        y = self._emit("QFullyConnected", [x.name, wn, *self._bias(name, b, x.scale, ws, w.shape[0])], out,
                       in_scale=x.scale, in_zp=x.zp, w_scale=ws, out_scale=scale, out_zp=zp,
                       **self._clamp(act, scale, zp))
        return _Q(y, scale, zp, False)

    def lower_gemm(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        node = p.node
        a = self._attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise UnsupportedModelError(f"Gemm (node {node.name!r}): transA, alpha and beta are not supported")
        w, ws = self._weights(node, self._const_dq(node, 1), "B")
        if not a.get("transB", 0):
            w = w.T
        b = self._const_dq(node, 2) if len(node.input) > 2 and node.input[2] else None
        return self._fc(node.name or out, self._act_q(node, 0), w, ws, b, scale, zp, p.act, out)

    def lower_matmul(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        node = p.node
        w, ws = self._weights(node, self._const_dq(node, 1), "B")
        return self._fc(node.name or out, self._act_q(node, 0), w.T, ws, None, scale, zp, p.act, out)

    def _pool(self, p: _Pending, op: str, scale: float, zp: int, out: str, k: list[int], attrs: dict) -> _Q:
        x = self._layout(self._act_q(p.node, 0), True)
        if op == "QAveragePool2D" and attrs.get("count_include_pad", 0) and any(attrs.get("pads", [0])):
            raise UnsupportedModelError("average pooling counting the padding is not supported")
        y = self._emit(op, [x.name], out + "_pool", kernel_shape=k, strides=list(attrs.get("strides", [1, 1])),
                       pads=list(attrs.get("pads", [0, 0, 0, 0])))
        return self._requant(_Q(y, x.scale, x.zp, True), scale, zp, out)

    def lower_maxpool(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        a = self._attrs(p.node)
        return self._pool(p, "QMaxPool2D", scale, zp, out, list(a["kernel_shape"]), a)

    def lower_averagepool(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        a = self._attrs(p.node)
        return self._pool(p, "QAveragePool2D", scale, zp, out, list(a["kernel_shape"]), a)

    def lower_globalaveragepool(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        x = self._act_q(p.node, 0)
        shp = self._shape(x.name)
        hw = list(shp[1:3]) if x.nhwc else list(shp[2:4])
        return self._pool(p, "QAveragePool2D", scale, zp, out, [int(v) for v in hw], {})

    def _binary(self, p: _Pending, op: str, scale: float, zp: int, out: str) -> _Q:
        a, b = self._act_q(p.node, 0), self._act_q(p.node, 1)
        b = self._layout(b, a.nhwc)
        y = self._emit(op, [a.name, b.name], out, a_scale=a.scale, a_zp=a.zp, b_scale=b.scale, b_zp=b.zp,
                       out_scale=scale, out_zp=zp, **self._clamp(p.act, scale, zp))
        return _Q(y, scale, zp, a.nhwc)

    def lower_add(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        return self._binary(p, "QAdd", scale, zp, out)

    def lower_mul(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        return self._binary(p, "QMul", scale, zp, out)

    def _fixed(self, p: _Pending, op: str, fixed: tuple[float, int], scale: float, zp: int, out: str,
               **attrs: Any) -> _Q:
        x = self._act_q(p.node, 0)
        y = self._emit(op, [x.name], out + "_" + op.lower(), **attrs)
        return self._requant(_Q(y, fixed[0], fixed[1], x.nhwc), scale, zp, out)

    def lower_softmax(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        x = self._act_q(p.node, 0)
        rank = len(self._shape(x.name))
        if self._attrs(p.node).get("axis", -1) % rank != rank - 1:
            raise UnsupportedModelError(f"Softmax (node {p.node.name!r}): only over the last axis")
        x = self._layout(x, False)
        y = self._emit("QSoftmax", [x.name], out + "_softmax", beta=1.0, in_scale=x.scale)
        return self._requant(_Q(y, 1 / 256, -128, False), scale, zp, out)

    def lower_sigmoid(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        x = self._act_q(p.node, 0)
        return self._fixed(p, "QLogistic", (1 / 256, -128), scale, zp, out, in_scale=x.scale, in_zp=x.zp)

    def lower_tanh(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        x = self._act_q(p.node, 0)
        return self._fixed(p, "QTanh", (1 / 128, 0), scale, zp, out, in_scale=x.scale, in_zp=x.zp)

    def _reshape_like(self, p: _Pending, shape: list[int], scale: float, zp: int, out: str) -> _Q:
        x = self._layout(self._act_q(p.node, 0), False)
        sh = self.g.add_const(out + "_shape", np.asarray(shape, np.int64))
        y = self._emit("Reshape", [x.name, sh], out + "_reshape")
        return self._requant(_Q(y, x.scale, x.zp, False), scale, zp, out)

    def _flat(self, q: _Q) -> list[int]:
        return [0, int(np.prod(self._shape(q.name)[1:]))]

    def lower_flatten(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        axis = self._attrs(p.node).get("axis", 1)
        if axis != 1:
            raise UnsupportedModelError("Flatten with axis other than 1 is not supported in quantized models")
        return self._reshape_like(p, self._flat(self._act_q(p.node, 0)), scale, zp, out)

    def lower_reshape(self, p: _Pending, scale: float, zp: int, out: str) -> _Q:
        return self._reshape_like(p, [int(v) for v in self.c[p.node.input[1]]], scale, zp, out)

    # ------------------------------------------------------------ QOperator form
    def _qop_out(self, node: Any, q: _Q) -> None:
        self._quant(node.output[0], q)

    def _const_w(self, node: Any, i_w: int, i_s: int, i_zp: int) -> _DQ:
        zp = self.c[node.input[i_zp]] if node.input[i_zp] else np.zeros((), np.int8)
        return _DQ(data=self.c[node.input[i_w]], scale=np.asarray(self.c[node.input[i_s]], np.float32), zp=zp)

    def _qop_in(self, node: Any, i: int, i_s: int, i_zp: int) -> _Q:
        q = self.v.get(node.input[i])
        if not isinstance(q, _Q):
            raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}): input is not a quantized tensor")
        s, zp = self._qparams(node, i_s, i_zp)
        if np.float32(s) != np.float32(q.scale) or zp != q.zp:
            raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}): input parameters disagree")
        return q

    def op_qlinearconv(self, node: Any) -> None:
        x = self._qop_in(node, 0, 1, 2)
        w, ws = self._weights(node, self._const_w(node, 3, 4, 5), "weights")
        scale, zp = self._qparams(node, 6, 7)
        b = None
        if len(node.input) > 8 and node.input[8]:
            b = _DQ(data=self.c[node.input[8]],
                    scale=np.float32(x.scale) * np.broadcast_to(np.asarray(ws, np.float32), (w.shape[0],)),
                    zp=np.zeros((), np.int32))
        self._qop_out(node, self._conv(node.name or node.output[0], x, w, ws, b, self._attrs(node), scale, zp,
                                       None, node.output[0]))

    def op_qlinearmatmul(self, node: Any) -> None:
        x = self._qop_in(node, 0, 1, 2)
        w, ws = self._weights(node, self._const_w(node, 3, 4, 5), "B")
        scale, zp = self._qparams(node, 6, 7)
        self._qop_out(node, self._fc(node.name or node.output[0], x, w.T, ws, None, scale, zp, None, node.output[0]))

    def _qop_unary_pool(self, node: Any, op: str) -> None:
        q = self.v.get(node.input[0])
        if not isinstance(q, _Q):
            raise UnsupportedModelError(f"{node.op_type} (node {node.name!r}) of a float tensor in a quantized model")
        a = self._attrs(node)
        x = self._layout(q, True)
        y = self._emit(op, [x.name], node.output[0], kernel_shape=list(a["kernel_shape"]),
                       strides=list(a.get("strides", [1, 1])), pads=list(a.get("pads", [0, 0, 0, 0])))
        self._qop_out(node, _Q(y, q.scale, q.zp, True))

    def op_maxpool(self, node: Any) -> None:
        if isinstance(self.v.get(node.input[0]), _Q):
            self._qop_unary_pool(node, "QMaxPool2D")
        else:
            self._pend(node)

    def op_reshape(self, node: Any) -> None:
        q = self.v.get(node.input[0])
        if isinstance(q, _Q):
            x = self._layout(q, False)
            sh = self.g.add_const(node.output[0] + "_shape", np.asarray(self.c[node.input[1]], np.int64))
            self._qop_out(node, _Q(self._emit("Reshape", [x.name, sh], node.output[0]), q.scale, q.zp, False))
        else:
            self._pend(node)

    def op_flatten(self, node: Any) -> None:
        q = self.v.get(node.input[0])
        if isinstance(q, _Q):
            x = self._layout(q, False)
            sh = self.g.add_const(node.output[0] + "_shape", np.asarray(self._flat(x), np.int64))
            self._qop_out(node, _Q(self._emit("Reshape", [x.name, sh], node.output[0]), q.scale, q.zp, False))
        else:
            self._pend(node)

    def op_identity(self, node: Any) -> None:
        self.v[node.output[0]] = self.v[node.input[0]]

    def op_qgemm(self, node: Any) -> None:
        """com.microsoft QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C (int32 bias), y_scale, y_zp."""
        a = self._attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or len(node.input) < 9 or not node.input[7]:
            raise UnsupportedModelError(f"QGemm (node {node.name!r}): transA, alpha or a float output is not "
                                        "supported")
        x = self._qop_in(node, 0, 1, 2)
        w, ws = self._weights(node, self._const_w(node, 3, 4, 5), "B")
        if not a.get("transB", 0):
            w = w.T
        scale, zp = self._qparams(node, 7, 8)
        b = None
        if node.input[6]:
            b = _DQ(data=self.c[node.input[6]],
                    scale=np.float32(x.scale) * np.broadcast_to(np.asarray(ws, np.float32), (w.shape[0],)),
                    zp=np.zeros((), np.int32))
        self._qop_out(node, self._fc(node.name or node.output[0], x, w, ws, b, scale, zp, None, node.output[0]))

    def op_qlinearaveragepool(self, node: Any) -> None:
        x = self._qop_in(node, 0, 1, 2)
        scale, zp = self._qparams(node, 3, 4)
        a = self._attrs(node)
        if a.get("channels_last", 0) or (a.get("count_include_pad", 0) and any(a.get("pads", [0]))):
            raise UnsupportedModelError("QLinearAveragePool with channels_last or counted padding is not supported")
        xs = self._layout(x, True)
        y = self._emit("QAveragePool2D", [xs.name], node.output[0] + "_pool", kernel_shape=list(a["kernel_shape"]),
                       strides=list(a.get("strides", [1, 1])), pads=list(a.get("pads", [0, 0, 0, 0])))
        self._qop_out(node, self._requant(_Q(y, x.scale, x.zp, True), scale, zp, node.output[0]))

    def op_qlinearadd(self, node: Any) -> None:
        a, b = self._qop_in(node, 0, 1, 2), self._qop_in(node, 3, 4, 5)
        scale, zp = self._qparams(node, 6, 7)
        b = self._layout(b, a.nhwc)
        y = self._emit("QAdd", [a.name, b.name], node.output[0], a_scale=a.scale, a_zp=a.zp, b_scale=b.scale,
                       b_zp=b.zp, out_scale=scale, out_zp=zp)
        self._qop_out(node, _Q(y, scale, zp, a.nhwc))

    def op_qlinearglobalaveragepool(self, node: Any) -> None:
        x = self._qop_in(node, 0, 1, 2)
        scale, zp = self._qparams(node, 3, 4)
        if self._attrs(node).get("channels_last", 0):
            raise UnsupportedModelError("QLinearGlobalAveragePool with channels_last is not supported")
        xs = self._layout(x, True)
        shp = self._shape(xs.name)
        y = self._emit("QAveragePool2D", [xs.name], node.output[0] + "_pool", kernel_shape=[shp[1], shp[2]],
                       strides=[1, 1], pads=[0, 0, 0, 0])
        self._qop_out(node, self._requant(_Q(y, x.scale, x.zp, True), scale, zp, node.output[0]))
