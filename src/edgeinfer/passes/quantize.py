"""Post-training quantization: a float graph -> a graph of TFLite-scheme int8 ops.

Calibration runs the float reference on representative inputs and records each
activation's range (min/max, or percentiles to ignore outliers); weights are quantized
symmetric per output channel, biases to int32 at ``in_scale * w_scale``, activations to
asymmetric int8. The quantized ops are the NHWC ones TFLite uses (so the same kernels,
bit-exact with TFLite Micro, run both imported and edgeinfer-quantized models): the graph
keeps the float model's inputs and outputs (float, NCHW) and converts at the edges
(QQuantize + Transpose in, Transpose + QDequantize out).

>>> # q = quantize_graph(optimize(g), calibration=X_cal); edgeinfer.ir.run(q, X)
"""

from __future__ import annotations

import numpy as np

from edgeinfer.errors import EdgeInferError, UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.nn import conv_geometry
from edgeinfer.ir.reference import run
from edgeinfer.ir.tensor import QuantParams

SUPPORTED = ("AveragePool", "Conv", "Dropout", "Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul",
             "MaxPool", "Relu", "Reshape", "Sigmoid", "Softmax", "Tanh", "Add")
_TO_NHWC, _TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def act_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero point) covering [lo, hi] and 0 (so zero padding is exact)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = float(np.float32((hi - lo) / 255.0)) if hi > lo else 1.0
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return scale, zp


def quantize_weights(w: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int8 weights in [-127, 127] and their float32 scales along ``axis``."""
    wm = np.moveaxis(w.astype(np.float64), axis, 0).reshape(w.shape[axis], -1)
    scale = (np.abs(wm).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    q = np.clip(np.round(wm / scale[:, None].astype(np.float64)), -127, 127).astype(np.int8)
    return np.moveaxis(q.reshape(np.moveaxis(w, axis, 0).shape), 0, axis), scale


def calibrate(graph: Graph, data: np.ndarray, observer: str = "minmax",
              percentile: float = 99.99) -> dict[str, tuple[float, float]]:
    """(low, high) of every input and node output over ``data``."""
    names = [o for n in graph.nodes for o in n.outputs if o]
    outs = run(graph, data, outputs=list(graph.inputs) + names)
    ranges = {}
    for k, v in outs.items():
        v = np.asarray(v, dtype=np.float64)
        if observer == "minmax":
            ranges[k] = (float(v.min()), float(v.max()))
        elif observer == "percentile":
            ranges[k] = (float(np.percentile(v, 100 - percentile)), float(np.percentile(v, percentile)))
        else:
            raise EdgeInferError(f"unknown observer {observer!r}; choose 'minmax' or 'percentile'")
    return ranges


def quantize_graph(graph: Graph, calibration: np.ndarray, observer: str = "minmax",
                   percentile: float = 99.99) -> Graph:
    """The int8 graph of ``graph`` calibrated on ``calibration``; raises for ops it cannot quantize."""
    bad = sorted({n.op for n in graph.nodes if n.op not in SUPPORTED})
    if bad:
        raise UnsupportedModelError(f"cannot quantize ops {', '.join(bad)}; int8 quantization supports "
                                    f"{', '.join(SUPPORTED)}")
    if len(graph.inputs) != 1:
        raise UnsupportedModelError("int8 quantization supports single-input graphs")
    return _Quantizer(graph, calibrate(graph, np.asarray(calibration, np.float32), observer, percentile)).q


class _Quantizer:
    def __init__(self, g: Graph, ranges: dict) -> None:
        self.f, self.ranges = g, ranges
        self.q = Graph(g.name + "_int8", metadata={k: v for k, v in g.metadata.items()
                                                   if not k.startswith("arena")})
        self.map: dict[str, str] = {}      # float tensor -> int8 tensor in q
        self.nhwc: dict[str, bool] = {}    # is the int8 tensor the NHWC transpose of the float one
        self.qp: dict[str, tuple[float, int]] = {}
        src = g.inputs[0]
        t = g.tensors[src]
        self.q.add_input(src, t.shape, "float32")
        self._set_qp(src, *act_qparams(*ranges[src]))
        qx = self._emit("QQuantize", [src], src + "_q", src, scale=self.qp[src][0], zp=self.qp[src][1])
        self.map[src], self.nhwc[src] = qx, False
        if len(t.shape) == 4:
            self.map[src] = self._emit("Transpose", [qx], src + "_nhwc", src, perm=_TO_NHWC)
            self.nhwc[src] = True
        for node in g.nodes:
            getattr(self, "op_" + node.op.lower())(node)
        outs = []
        for o in g.outputs:
            y = self._emit("QDequantize", [self.map[o]], o + "_dq", o, scale=self.qp[o][0], zp=self.qp[o][1])
            if self.nhwc[o]:
                y = self._emit("Transpose", [y], o + "_nchw", o, perm=_TO_NCHW)
            outs.append(y)
        self.q.outputs = outs
        self.q.validate()
        for name, (s, zp) in self.qp.items():
            if self.map.get(name) in self.q.tensors:
                self.q.tensors[self.map[name]].quant = QuantParams(s, zp)

    # ---------------------------------------------------------------- helpers
    def _set_qp(self, name: str, scale: float, zp: int) -> None:
        self.qp[name] = (scale, zp)

    def _emit(self, op: str, ins: list[str], out: str, hint: str, **attrs) -> str:
        out = self.q.fresh_name(out)
        self.q.add_node(op, ins, [out], name=out, **attrs)
        return out

    def _out_qp(self, node: Node) -> tuple[float, int]:
        s, zp = act_qparams(*self.ranges[node.outputs[0]])
        self._set_qp(node.outputs[0], s, zp)
        return s, zp

    def _act(self, node: Node, scale: float, zp: int) -> dict:
        lo, hi = -128, 127
        if node.attr("activation", ""):
            a, b = node.attr("activation_params", [0.0, float("inf")])
            lo = max(lo, zp + round(a / scale)) if np.isfinite(a) else lo
            hi = min(hi, zp + round(b / scale)) if np.isfinite(b) else hi
        return {"act_min": int(lo), "act_max": int(hi)}

    def _nchw_in(self, name: str) -> str:
        """The int8 tensor of ``name`` in the float graph's layout."""
        if self.nhwc[name]:
            return self._emit("Transpose", [self.map[name]], name + "_nchw", name, perm=_TO_NCHW)
        return self.map[name]

    def _alias(self, node: Node) -> None:
        x = node.inputs[0]
        self.map[node.outputs[0]], self.nhwc[node.outputs[0]] = self.map[x], self.nhwc[x]
        self.qp[node.outputs[0]] = self.qp[x]

    def _bias(self, node: Node, idx: int, in_scale: float, w_scale: np.ndarray, n: int, mult: float = 1.0) -> list:
        if len(node.inputs) <= idx or not node.inputs[idx]:
            return []
        b = self.f.const(node.inputs[idx])
        if b is None:
            raise UnsupportedModelError(f"{node.op} node {node.name!r}: bias must be constant to quantize")
        b = np.broadcast_to(np.asarray(b, np.float64).reshape(-1) * mult, (n,))
        q = np.round(b / (np.float64(np.float32(in_scale)) * w_scale.astype(np.float64)))
        return [self.q.add_const(node.name + "_bias", np.clip(q, -(2 ** 31), 2 ** 31 - 1).astype(np.int32))]

    # ---------------------------------------------------------------- ops
    def op_identity(self, node: Node) -> None:
        self._alias(node)

    op_dropout = op_identity

    def op_relu(self, node: Node) -> None:
        """A Relu left unfused (after an Add): raise the clamp of the int8 op producing its input.

        The producer keeps its calibrated output scale; only its ``act_min`` moves to the zero point,
        which is exact when nothing else reads the pre-Relu value."""
        x = node.inputs[0]
        src = next((n for n in self.q.nodes if self.map.get(x) in n.outputs), None)
        users = [n for n in self.f.nodes if x in n.inputs]
        if src is None or "act_min" not in src.attrs and src.op not in ("QAdd", "QMul") or len(users) != 1 \
                or x in self.f.outputs:
            raise UnsupportedModelError(f"Relu node {node.name!r} does not follow a Conv/Gemm/Add; run "
                                        "edgeinfer.passes.fuse_activations (quantize does) or fuse it in the model")
        src.attrs["act_min"] = max(int(src.attrs.get("act_min", -128)), int(self.qp[x][1]))
        self._alias(node)

    def op_conv(self, node: Node) -> None:
        w = self.f.const(node.inputs[1])
        x = node.inputs[0]
        if w is None or w.ndim != 4 or not self.nhwc[x]:
            raise UnsupportedModelError(f"Conv node {node.name!r}: only 2-D convolutions with constant weights "
                                        "are quantized")
        cin, g, m = self.f.tensors[x].shape[1], node.attr("group", 1), w.shape[0]
        in_s, in_zp = self.qp[x]
        out_s, out_zp = self._out_qp(node)
        wq, ws = quantize_weights(w, 0)
        geo = conv_geometry(node, list(self.f.tensors[x].shape[2:]), list(w.shape[2:]))
        p = geo["pads"]
        if g == cin and g > 1 and w.shape[1] == 1:
            op, wt = "QDepthwiseConv2D", wq[:, 0].transpose(1, 2, 0)[None]
        else:
            op, wt = "QConv2D", wq.transpose(0, 2, 3, 1)
        wname = self.q.add_const(node.name + "_w", np.ascontiguousarray(wt))
        ins = [self.map[x], wname, *self._bias(node, 2, in_s, ws, m)]
        self.map[node.outputs[0]] = self._emit(
            op, ins, node.outputs[0], node.name, strides=list(geo["strides"]), dilations=list(geo["dilations"]),
            pads=[p[0], p[1], p[2], p[3]], in_scale=in_s, in_zp=in_zp, w_scale=[float(v) for v in ws],
            out_scale=out_s, out_zp=out_zp, **self._act(node, out_s, out_zp))
        self.nhwc[node.outputs[0]] = True

    def _fc(self, node: Node, w: np.ndarray, bias_idx: int, bias_mult: float = 1.0) -> None:
        x = node.inputs[0]
        in_s, in_zp = self.qp[x]
        out_s, out_zp = self._out_qp(node)
        wq, ws = quantize_weights(w, 0)
        ins = [self._nchw_in(x), self.q.add_const(node.name + "_w", wq),
               *self._bias(node, bias_idx, in_s, ws, w.shape[0], bias_mult)]
        self.map[node.outputs[0]] = self._emit(
            "QFullyConnected", ins, node.outputs[0], node.name, in_scale=in_s, in_zp=in_zp,
            w_scale=[float(v) for v in ws], out_scale=out_s, out_zp=out_zp, **self._act(node, out_s, out_zp))
        self.nhwc[node.outputs[0]] = False

    def op_gemm(self, node: Node) -> None:
        b = self.f.const(node.inputs[1])
        if b is None or node.attr("transA", 0):
            raise UnsupportedModelError(f"Gemm node {node.name!r}: needs constant B and transA=0 to quantize")
        w = (b if node.attr("transB", 0) else b.T) * node.attr("alpha", 1.0)
        self._fc(node, np.asarray(w, np.float32), 2, node.attr("beta", 1.0))

    def op_matmul(self, node: Node) -> None:
        b = self.f.const(node.inputs[1])
        if b is None or b.ndim != 2 or len(self.f.tensors[node.inputs[0]].shape) != 2:
            raise UnsupportedModelError(f"MatMul node {node.name!r}: needs 2-D input and constant 2-D B")
        self._fc(node, np.asarray(b.T, np.float32), 99)

    def _pool(self, node: Node, op: str, kernel: list[int], geo: dict) -> None:
        x = node.inputs[0]
        if not self.nhwc[x]:
            raise UnsupportedModelError(f"{node.op} node {node.name!r}: only 2-D pooling is quantized")
        if op == "QAveragePool2D" and node.attr("count_include_pad", 0) and any(geo["pads"]):
            raise UnsupportedModelError(f"{node.name!r}: average pooling counting the padding is not supported")
        self.qp[node.outputs[0]] = self.qp[x]  # TFLite pools keep the input's scale and zero point
        self.map[node.outputs[0]] = self._emit(op, [self.map[x]], node.outputs[0], node.name, kernel_shape=kernel,
                                               strides=list(geo["strides"]), pads=list(geo["pads"]))
        self.nhwc[node.outputs[0]] = True

    def op_maxpool(self, node: Node) -> None:
        k = list(node.attr("kernel_shape"))
        self._pool(node, "QMaxPool2D", k, conv_geometry(node, list(self.f.tensors[node.inputs[0]].shape[2:]), k,
                                                        pool=True))

    def op_averagepool(self, node: Node) -> None:
        k = list(node.attr("kernel_shape"))
        self._pool(node, "QAveragePool2D", k,
                   conv_geometry(node, list(self.f.tensors[node.inputs[0]].shape[2:]), k, pool=True))

    def op_globalaveragepool(self, node: Node) -> None:
        k = [int(d) for d in self.f.tensors[node.inputs[0]].shape[2:]]
        self._pool(node, "QAveragePool2D", k, {"strides": [1, 1], "pads": [0, 0, 0, 0]})

    def op_flatten(self, node: Node) -> None:
        x = self._nchw_in(node.inputs[0])
        shape = [0 if d is None else d for d in self.f.tensors[node.outputs[0]].shape]
        sh = self.q.add_const(node.name + "_shape", np.asarray(shape, np.int64))
        self.map[node.outputs[0]] = self._emit("Reshape", [x, sh], node.outputs[0], node.name)
        self.nhwc[node.outputs[0]] = False
        self.qp[node.outputs[0]] = self.qp[node.inputs[0]]

    op_reshape = op_flatten

    def _fixed_out(self, node: Node, op: str, scale: float, zp: int, **attrs) -> None:
        x = node.inputs[0]
        self.qp[node.outputs[0]] = (scale, zp)
        self.map[node.outputs[0]] = self._emit(op, [self.map[x]], node.outputs[0], node.name, **attrs)
        self.nhwc[node.outputs[0]] = self.nhwc[x]

    def op_softmax(self, node: Node) -> None:
        rank = len(self.f.tensors[node.inputs[0]].shape)
        if node.attr("axis", -1) % rank != rank - 1 or self.nhwc[node.inputs[0]]:
            raise UnsupportedModelError(f"Softmax node {node.name!r}: only over the last axis is quantized")
        self._fixed_out(node, "QSoftmax", 1 / 256, -128, beta=1.0, in_scale=self.qp[node.inputs[0]][0])

    def op_sigmoid(self, node: Node) -> None:
        s, zp = self.qp[node.inputs[0]]
        self._fixed_out(node, "QLogistic", 1 / 256, -128, in_scale=s, in_zp=zp)

    def op_tanh(self, node: Node) -> None:
        s, zp = self.qp[node.inputs[0]]
        self._fixed_out(node, "QTanh", 1 / 128, 0, in_scale=s, in_zp=zp)

    def op_add(self, node: Node) -> None:
        a, b = node.inputs
        if a not in self.map or b not in self.map or self.nhwc[a] != self.nhwc[b]:
            raise UnsupportedModelError(f"Add node {node.name!r}: only the sum of two activations is quantized")
        out_s, out_zp = self._out_qp(node)
        (sa, za), (sb, zb) = self.qp[a], self.qp[b]
        self.map[node.outputs[0]] = self._emit("QAdd", [self.map[a], self.map[b]], node.outputs[0], node.name,
                                               a_scale=sa, a_zp=za, b_scale=sb, b_zp=zb, out_scale=out_s,
                                               out_zp=out_zp)
        self.nhwc[node.outputs[0]] = self.nhwc[a]
