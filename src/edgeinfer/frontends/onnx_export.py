"""A quantized ``ir.Graph`` -> an ONNX QDQ model (``QuantizeLinear``/``DequantizeLinear`` around float ops).

QDQ is the form ONNX Runtime's own quantizer writes and fuses back into QLinearConv /
QLinearMatMul, so one file runs in every ONNX runtime and keeps edgeinfer's scales, zero
points and int8 weights exactly. The IR's integer ops are NHWC (TFLite's layout) while
ONNX's Conv and pools are NCHW: every tensor is tracked with the layout it has in the
ONNX file, and a Transpose is written only where an op needs the other one (the
Transposes the quantizer puts at the graph edges just flip the tracked layout).

Requantization in ONNX Runtime is float (scale ratio, round half to even) where the IR
uses TFLite's fixed-point multiplier, so outputs agree to about one int8 step, not bytes.

>>> # save_onnx(edgeinfer.quantize(g, calibration=X), "model_int8.onnx")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node

OPSET = 13
_TO_NHWC, _TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]
#: float IR ops written as the ONNX op of the same name and attributes (a layer kept in float).
_FLOAT_PASSTHROUGH = {"Relu", "Sigmoid", "Tanh", "Add", "Mul", "Sub", "Softmax", "Flatten", "Identity",
                      "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul", "Conv", "Reshape",
                      "Transpose", "Concat"}


def to_onnx(graph: Graph) -> Any:
    """The ModelProto of a quantized (or float) graph."""
    return _Exporter(graph).model


def save_onnx(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` as a QDQ ONNX file and return its path."""
    import onnx

    path = Path(path)
    onnx.save(to_onnx(graph), str(path))
    return path


class _Exporter:
    def __init__(self, g: Graph) -> None:
        import onnx
        from onnx import helper

        self.g, self.h, self.onnx = g, helper, onnx
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.name: dict[str, str] = {}     # IR tensor -> ONNX tensor holding it
        self.nchw: dict[str, bool] = {}    # ONNX tensor is the NCHW transpose of an NHWC IR tensor
        self.qp: dict[str, tuple[float, int]] = {}
        self._n = 0
        for t in g.inputs:
            self.name[t], self.nchw[t] = t, False
            q = g.tensors[t].quant
            if q is not None:
                self.qp[t] = (float(np.ravel(q.scale)[0]), int(np.ravel(q.zero_point)[0]))
        for node in g.nodes:
            fn = getattr(self, "op_" + node.op.lower(), None)
            if fn is None:
                if node.op not in _FLOAT_PASSTHROUGH:
                    raise UnsupportedModelError(f"ONNX export has no form for IR op {node.op} (node {node.name!r})")
                fn = self._passthrough
            fn(node)
        outs = []
        for o in g.outputs:
            src = self._ir(o)
            if src != o:
                self._node("Identity", [src], [o])
            t = g.tensors[o]
            shape = [d if isinstance(d, int) else "N" for d in (t.shape or [])]
            outs.append(helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), shape))
        ins = []
        for i in g.inputs:
            t = g.tensors[i]
            shape = [d if isinstance(d, int) else "N" for d in t.shape]
            ins.append(helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), shape))
        graph = helper.make_graph(self.nodes, g.name or "edgeinfer", ins, outs, self.inits)
        self.model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                       producer_name="edgeinfer")
        self.model.ir_version = 8
        onnx.checker.check_model(self.model)

    # ------------------------------------------------------------ helpers
    def _fresh(self, base: str) -> str:
        self._n += 1
        return f"{base}__{self._n}"

    def _node(self, op: str, ins: list[str], outs: list[str], **attrs: Any) -> None:
        self.nodes.append(self.h.make_node(op, ins, outs, name=self._fresh(outs[0]), **attrs))

    def _const(self, base: str, value: np.ndarray) -> str:
        name = self._fresh(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def _src(self, t: str) -> str:
        """The ONNX name of IR tensor ``t`` in whatever layout it has."""
        if t in self.name:
            return self.name[t]
        c = self.g.const(t)
        if c is None:
            raise UnsupportedModelError(f"tensor {t!r} is used before it is produced")
        name = self._const(t, c)
        self._set(t, name, False)
        return name

    def _ir(self, t: str) -> str:
        """``t`` in the IR's layout."""
        s = self._src(t)
        if self.nchw.get(s, False):
            out = self._fresh(t + "_nhwc")
            self._node("Transpose", [s], [out], perm=_TO_NHWC)
            return out
        return s

    def _nchw(self, t: str) -> str:
        """NHWC IR tensor ``t`` as NCHW."""
        s = self._src(t)
        if self.nchw.get(s, False):
            return s
        out = self._fresh(t + "_nchw")
        self._node("Transpose", [s], [out], perm=_TO_NCHW)
        return out

    def _set(self, t: str, onnx_name: str, nchw: bool, qp: tuple[float, int] | None = None) -> None:
        self.name[t], self.nchw[onnx_name] = onnx_name, nchw
        if qp is not None:
            self.qp[t] = qp

    def _qp_of(self, t: str) -> tuple[float, int]:
        if t in self.qp:
            return self.qp[t]
        q = self.g.tensors[t].quant
        if q is None:
            raise UnsupportedModelError(f"tensor {t!r} has no quantization parameters")
        return float(np.ravel(q.scale)[0]), int(np.ravel(q.zero_point)[0])

    def _dq(self, src: str, scale: Any, zp: Any, axis: int | None = None) -> str:
        out = self._fresh(src + "_dq")
        scale = np.asarray(scale, np.float32)
        s = self._const("scale", scale)
        z = self._const("zp", np.asarray(zp))
        self._node("DequantizeLinear", [src, s, z], [out], **({"axis": axis} if axis is not None else {}))
        return out

    def _dq_act(self, t: str, src: str) -> str:
        s, zp = self._qp_of(t)
        dt = np.dtype(self.g.tensors[t].dtype)
        return self._dq(src, np.float32(s), np.asarray(zp, dt))

    def _q(self, src: str, out: str, scale: float, zp: int, dtype: str = "int8") -> None:
        self._node("QuantizeLinear", [src, self._const("scale", np.float32(scale)),
                                      self._const("zp", np.asarray(zp, np.dtype(dtype)))], [out])

    def _clip(self, node: Node, x: str, scale: float, zp: int) -> str:
        """The fused activation's int8 clamp as a float Clip (Q saturates to the int8 range anyway)."""
        lo, hi = node.attr("act_min", -128), node.attr("act_max", 127)
        info = np.iinfo(np.dtype(self._out_dtype(node)))
        if lo <= info.min and hi >= info.max:
            return x
        out = self._fresh(node.name + "_clip")
        self._node("Clip", [x, self._const("lo", np.float32((lo - zp) * scale)),
                            self._const("hi", np.float32((hi - zp) * scale))], [out])
        return out

    def _out_dtype(self, node: Node) -> str:
        return self.g.tensors[node.outputs[0]].dtype

    def _finish(self, node: Node, y: str, scale: float, zp: int, nchw: bool) -> None:
        out = self._fresh(node.outputs[0])
        self._q(self._clip(node, y, scale, zp), out, scale, zp, self._out_dtype(node))
        self._set(node.outputs[0], out, nchw, (scale, zp))

    # ------------------------------------------------------------ integer ops
    def op_qquantize(self, node: Node) -> None:
        x = self._src(node.inputs[0])
        out = self._fresh(node.outputs[0])
        self._q(x, out, node.attr("scale"), node.attr("zp"), node.attr("to", "int8"))
        self._set(node.outputs[0], out, self.nchw.get(x, False), (node.attr("scale"), node.attr("zp")))

    def op_qdequantize(self, node: Node) -> None:
        x = self._src(node.inputs[0])
        dt = np.dtype(self.g.tensors[node.inputs[0]].dtype)
        y = self._dq(x, np.float32(node.attr("scale")), np.asarray(node.attr("zp"), dt))
        self._set(node.outputs[0], y, self.nchw.get(x, False))

    def op_qrequantize(self, node: Node) -> None:
        x = self._dq_act(node.inputs[0], self._src(node.inputs[0]))
        self._finish(node, x, node.attr("out_scale"), node.attr("out_zp"), self.nchw.get(self._src(node.inputs[0])))

    def _bias_dq(self, node: Node, n: int) -> list[str]:
        if len(node.inputs) < 3 or not node.inputs[2]:
            return []
        b = self.g.const(node.inputs[2])
        ws = np.broadcast_to(np.asarray(node.attr("w_scale"), np.float64), (n,))
        s = (np.float64(np.float32(node.attr("in_scale"))) * np.asarray(ws, np.float32).astype(np.float64))
        return [self._dq(self._const(node.name + "_b", b.astype(np.int32)), s.astype(np.float32),
                         np.zeros(n, np.int32), axis=0)]

    def _w_dq(self, node: Node, w: np.ndarray) -> str:
        n = w.shape[0]
        ws = np.broadcast_to(np.asarray(node.attr("w_scale"), np.float32), (n,))
        return self._dq(self._const(node.name + "_w", w), ws, np.zeros(n, w.dtype), axis=0)

    def _conv(self, node: Node, depthwise: bool) -> None:
        w = self.g.const(node.inputs[1])
        if w is None:
            raise UnsupportedModelError(f"{node.op} node {node.name!r}: ONNX export needs constant weights")
        x = self._dq_act(node.inputs[0], self._nchw(node.inputs[0]))
        if depthwise:
            cin = self.g.tensors[node.inputs[0]].shape[3]
            wt, group = np.ascontiguousarray(w[0].transpose(2, 0, 1)[:, None]), int(cin)
        else:
            wt = np.ascontiguousarray(w.transpose(0, 3, 1, 2))
            group = int(self.g.tensors[node.inputs[0]].shape[3] // w.shape[3])
        ins = [x, self._w_dq(node, wt), *self._bias_dq(node, wt.shape[0])]
        y = self._fresh(node.name + "_conv")
        self._node("Conv", ins, [y], kernel_shape=list(wt.shape[2:]), strides=list(node.attr("strides", [1, 1])),
                   dilations=list(node.attr("dilations", [1, 1])), pads=list(node.attr("pads", [0, 0, 0, 0])),
                   group=group)
        self._finish(node, y, node.attr("out_scale"), node.attr("out_zp"), True)

    def op_qconv2d(self, node: Node) -> None:
        self._conv(node, False)

    def op_qdepthwiseconv2d(self, node: Node) -> None:
        self._conv(node, True)

    def op_qfullyconnected(self, node: Node) -> None:
        w = self.g.const(node.inputs[1])
        if w is None:
            raise UnsupportedModelError(f"QFullyConnected node {node.name!r}: ONNX export needs constant weights")
        x = self._ir(node.inputs[0])
        xshape = self.g.tensors[node.inputs[0]].shape
        if len(xshape) != 2:
            r = self._fresh(node.name + "_rows")
            self._node("Reshape", [x, self._const("shape", np.asarray([-1, w.shape[1]], np.int64))], [r])
            x = r
        ins = [self._dq_act(node.inputs[0], x), self._w_dq(node, w), *self._bias_dq(node, w.shape[0])]
        y = self._fresh(node.name + "_gemm")
        self._node("Gemm", ins, [y], transB=1)
        oshape = self.g.tensors[node.outputs[0]].shape
        if len(oshape) != 2:
            r = self._fresh(node.name + "_shaped")
            self._node("Reshape", [y, self._const("shape", np.asarray([0 if d is None else d for d in oshape],
                                                                       np.int64))], [r])
            y = r
        self._finish(node, y, node.attr("out_scale"), node.attr("out_zp"), False)

    def _pool(self, node: Node, op: str) -> None:
        s, zp = self._qp_of(node.inputs[0])
        x = self._dq_act(node.inputs[0], self._nchw(node.inputs[0]))
        y = self._fresh(node.name + "_pool")
        attrs: dict[str, Any] = {"kernel_shape": list(node.attr("kernel_shape")),
                                 "strides": list(node.attr("strides", [1, 1])),
                                 "pads": list(node.attr("pads", [0, 0, 0, 0]))}
        if op == "AveragePool":
            attrs["count_include_pad"] = 0
        self._node(op, [x], [y], **attrs)
        self._finish(node, y, s, zp, True)

    def op_qmaxpool2d(self, node: Node) -> None:
        self._pool(node, "MaxPool")

    def op_qaveragepool2d(self, node: Node) -> None:
        self._pool(node, "AveragePool")

    def _binary(self, node: Node, op: str) -> None:
        a, b = node.inputs
        sa, sb = self._src(a), self._src(b)
        nchw = self.nchw.get(sa, False) and self.nchw.get(sb, False)
        xa, xb = (sa, sb) if nchw else (self._ir(a), self._ir(b))
        y = self._fresh(node.name + "_" + op.lower())
        self._node(op, [self._dq(xa, np.float32(node.attr("a_scale")), np.int8(node.attr("a_zp"))),
                        self._dq(xb, np.float32(node.attr("b_scale")), np.int8(node.attr("b_zp")))], [y])
        self._finish(node, y, node.attr("out_scale"), node.attr("out_zp"), nchw)

    def op_qadd(self, node: Node) -> None:
        self._binary(node, "Add")

    def op_qmul(self, node: Node) -> None:
        self._binary(node, "Mul")

    def _unary(self, node: Node, op: str, scale: float, zp: int, layout_free: bool, **attrs: Any) -> None:
        t = node.inputs[0]
        src = self._src(t) if layout_free else self._ir(t)
        y = self._fresh(node.name + "_" + op.lower())
        self._node(op, [self._dq_act(t, src)], [y], **attrs)
        self._finish(node, y, scale, zp, layout_free and self.nchw.get(src, False))

    def op_qsoftmax(self, node: Node) -> None:
        beta = float(node.attr("beta", 1.0))
        if beta != 1.0:
            raise UnsupportedModelError(f"QSoftmax node {node.name!r}: beta {beta} has no ONNX Softmax form")
        self._unary(node, "Softmax", 1 / 256, -128, False, axis=-1)

    def op_qlogistic(self, node: Node) -> None:
        self._unary(node, "Sigmoid", 1 / 256, -128, True)

    def op_qtanh(self, node: Node) -> None:
        self._unary(node, "Tanh", 1 / 128, 0, True)

    # ------------------------------------------------------------ layout / shape ops on integer tensors
    def op_transpose(self, node: Node) -> None:
        t = node.inputs[0]
        s = self._src(t)
        perm = list(node.attr("perm"))
        qp = self.qp.get(t)
        if perm == _TO_NHWC and not self.nchw.get(s, False) and len(self.g.tensors[t].shape) == 4:
            self._set(node.outputs[0], s, True, qp)     # the ONNX tensor stays NCHW
        elif perm == _TO_NCHW and self.nchw.get(s, False):
            self._set(node.outputs[0], s, False, qp)
        else:
            out = self._fresh(node.outputs[0])
            self._node("Transpose", [self._ir(t)], [out], perm=perm)
            self._set(node.outputs[0], out, False, qp)

    def op_reshape(self, node: Node) -> None:
        shape = self.g.const(node.inputs[1])
        out = self._fresh(node.outputs[0])
        self._node("Reshape", [self._ir(node.inputs[0]), self._const("shape", np.asarray(shape, np.int64))], [out])
        self._set(node.outputs[0], out, False, self.qp.get(node.inputs[0]))

    def op_pad(self, node: Node) -> None:
        t = node.inputs[0]
        dt = np.dtype(self.g.tensors[t].dtype)
        out = self._fresh(node.outputs[0])
        self._node("Pad", [self._ir(t), self._const("pads", np.asarray(node.attr("pads"), np.int64)),
                           self._const("value", np.asarray(node.attr("value", 0), dt))], [out],
                   mode=node.attr("mode", "constant"))
        self._set(node.outputs[0], out, False, self.qp.get(t))

    def op_concat(self, node: Node) -> None:
        out = self._fresh(node.outputs[0])
        self._node("Concat", [self._ir(i) for i in node.inputs], [out], axis=int(node.attr("axis")))
        self._set(node.outputs[0], out, False, self.qp.get(node.inputs[0]))

    def _passthrough(self, node: Node) -> None:
        """A float layer left unquantized (mixed precision): the same ONNX op."""
        if node.attr("activation", ""):
            raise UnsupportedModelError(f"node {node.name!r}: fused activations have no ONNX form; export the "
                                        "graph before fuse_activations")
        outs = [self._fresh(o) for o in node.outputs]
        attrs = {k: v for k, v in node.attrs.items() if v is not None}
        self._node(node.op, [self._ir(i) for i in node.inputs], outs, **attrs)
        for o, n in zip(node.outputs, outs, strict=True):
            self._set(o, n, False)
