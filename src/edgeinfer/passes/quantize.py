"""Post-training quantization: a float graph -> a graph of TFLite-scheme int8 ops.

Calibration runs the float reference on representative inputs and records each
activation's range (min/max, or percentiles to ignore outliers); weights are quantized
symmetric per output channel, biases to int32 at ``in_scale * w_scale``, activations to
asymmetric int8. The quantized ops are the NHWC ones TFLite uses (so the same kernels,
bit-exact with TFLite Micro, run both imported and edgeinfer-quantized models): the graph
keeps the float model's inputs and outputs (float, NCHW) and converts at the edges
(QQuantize + Transpose in, Transpose + QDequantize out).

Quality: activation ranges may be searched (``observer="mse"`` minimises the quantization
error of the calibration values, ``"entropy"`` the KL divergence of their histogram, TensorRT's
method) instead of taken from min/max; ``bias_correction`` folds the mean output shift that
weight rounding causes, E[(Wq - W) x], back into the bias (Nagel et al., 2019); ``keep_float``
names layers left in float (QDequantize before, QQuantize after), and ``float_threshold``
keeps float every layer whose own relative error on the calibration data exceeds it.
``scheme="int16x8"`` quantizes activations to symmetric int16 (TFLite's 16x8 scheme: int8
weights, int64 biases; softmax, sigmoid and tanh outputs at TFLite's fixed scale 1/32768); ops
without an int16 kernel stay float.

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
from edgeinfer.passes.dead_code import remove_dead_code

SUPPORTED = ("AveragePool", "Conv", "Dropout", "Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul",
             "MaxPool", "Relu", "Clip", "Reshape", "Sigmoid", "Softmax", "Tanh", "Add", "Transpose")
# int8 only (ir/ops/quantized_act.py); a 16x8 graph keeps them float
SUPPORTED += ("LeakyRelu", "HardSwish", "Sub", "ReduceMax")
_TO_NHWC, _TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def act_qparams(lo: float, hi: float, bits: int = 8) -> tuple[float, int]:
    """Asymmetric int8 (scale, zero point) covering [lo, hi] and 0 (so zero padding is exact); for
    ``bits=16`` symmetric int16 with zero point 0, as TFLite's 16x8 scheme requires."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if bits == 16:
        m = max(-lo, hi)
        return (float(np.float32(m / 32767.0)) if m > 0 else 1.0), 0
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


OBSERVERS = ("minmax", "percentile", "mse", "entropy")
_ALPHAS = np.linspace(0.3, 1.0, 36)


def _fake_quant(v: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    s, zp = act_qparams(lo, hi, bits)
    qmin, qmax = (-32768, 32767) if bits == 16 else (-128, 127)
    return (np.clip(np.round(v / s) + zp, qmin, qmax) - zp) * s


def _kl(v: np.ndarray, lo: float, hi: float, bits: int) -> float:
    """KL(P || Q): P the 2048-bin histogram of ``v`` clipped to [lo, hi], Q that histogram merged into
    the 2**bits quantization levels and spread back evenly over each level's non-empty bins."""
    levels = min(2 ** bits - 1, 2048)
    p, _ = np.histogram(np.clip(v, lo, hi), bins=2048, range=(lo, hi))
    p = p.astype(np.float64)
    edges = np.linspace(0, 2048, levels + 1).astype(int)
    q = np.zeros_like(p)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        nz = p[a:b] > 0
        if nz.any():
            q[a:b][nz] = p[a:b].sum() / nz.sum()
    m = p > 0
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p[m] * np.log(p[m] / np.maximum(q[m], 1e-12))))


def search_range(v: np.ndarray, observer: str, bits: int = 8, percentile: float = 99.99) -> tuple[float, float]:
    """The (low, high) an observer picks for the values ``v``; mse/entropy shrink min/max by the factor
    in [0.3, 1] that minimises the squared quantization error / the histogram's KL divergence."""
    v = np.asarray(v, np.float64).reshape(-1)
    if observer == "minmax":
        return float(v.min()), float(v.max())
    if observer == "percentile":
        return float(np.percentile(v, 100 - percentile)), float(np.percentile(v, percentile))
    if observer not in OBSERVERS:
        raise EdgeInferError(f"unknown observer {observer!r}; choose one of {', '.join(OBSERVERS)}")
    if len(v) > 200_000:   # a fixed subsample keeps the search fast and deterministic
        v = v[np.random.default_rng(0).choice(len(v), 200_000, replace=False)]
    lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
    if hi - lo <= 0:
        return lo, hi
    if observer == "mse":
        errs = [float(np.mean((_fake_quant(v, a * lo, a * hi, bits) - v) ** 2)) for a in _ALPHAS]
    else:
        errs = [_kl(v, a * lo, a * hi, bits) for a in _ALPHAS]
    a = float(_ALPHAS[int(np.argmin(errs))])
    return a * lo, a * hi


def calibrate(graph: Graph, data: np.ndarray, observer: str = "minmax", percentile: float = 99.99,
              bits: int = 8) -> dict[str, tuple[float, float]]:
    """(low, high) of every input and node output over ``data``; per-channel means under ``"mean:" + name``
    (what bias correction needs)."""
    names = [o for n in graph.nodes for o in n.outputs if o]
    outs = run(graph, data, outputs=list(graph.inputs) + names)
    ranges: dict = {}
    for k, v in outs.items():
        v = np.asarray(v, dtype=np.float64)
        # the model input is data, not an activation: clipping it (e.g. digits' 17 grey levels) only loses
        # information, so the searching observers leave it at min/max
        obs = "minmax" if k in graph.inputs and observer in ("mse", "entropy") else observer
        ranges[k] = search_range(v, obs, bits, percentile)
        if v.ndim >= 2:
            ranges["mean:" + k] = v.mean(axis=tuple(i for i in range(v.ndim) if i != 1))
    return ranges


SCHEMES = {"int8": 8, "int16x8": 16}
# ops with int16 kernels (TFLite 16x8); the others stay float in an int16x8 graph
INT16_OPS = ("AveragePool", "Conv", "Dropout", "Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul",
             "MaxPool", "Relu", "Clip", "Reshape", "Transpose", "Add", "Softmax", "Sigmoid", "Tanh")
# the fixed output (scale, zero point) TFLite gives these ops: (int8, 16x8)
_FIXED_OUT = {"QSoftmax": ((1 / 256, -128), (1 / 32768, 0)), "QLogistic": ((1 / 256, -128), (1 / 32768, 0)),
              "QTanh": ((1 / 128, 0), (1 / 32768, 0))}


def quantize_graph(graph: Graph, calibration: np.ndarray, observer: str = "minmax", percentile: float = 99.99,
                   scheme: str = "int8", bias_correction: bool = False, keep_float: list[str] | None = None,
                   float_threshold: float | None = None) -> Graph:
    """The int8 (or 16x8) graph of ``graph`` calibrated on ``calibration``; raises for ops it cannot quantize.

    ``float_threshold``: a layer whose output error relative to its inputs' (RMS, relative to the float
    output's RMS) exceeds it on the calibration data is kept float, and the graph is quantized again."""
    from edgeinfer.passes.quantize_classical import is_classical, quantize_classical

    if is_classical(graph):
        return quantize_classical(graph, calibration, "int16" if scheme == "int16x8" else scheme)
    if scheme not in SCHEMES:
        raise UnsupportedModelError(f"quantization scheme {scheme!r}; choose one of {', '.join(SCHEMES)} "
                                    "(int16 is the fixed-point scheme of classical models)")
    bits = SCHEMES[scheme]
    keep = set(keep_float or [])
    missing = keep - {n.name for n in graph.nodes}
    if missing:
        raise EdgeInferError(f"keep_float names no node: {', '.join(sorted(missing))}")
    bad = sorted({n.op for n in graph.nodes if n.op not in SUPPORTED and n.name not in keep})
    if bad:
        raise UnsupportedModelError(f"cannot quantize ops {', '.join(bad)}; int8 quantization supports "
                                    f"{', '.join(SUPPORTED)} (or keep those layers float with keep_float)")
    if len(graph.inputs) != 1:
        raise UnsupportedModelError("int8 quantization supports single-input graphs")
    if bits == 16:
        keep |= {n.name for n in graph.nodes if n.op not in INT16_OPS}
    data = np.asarray(calibration, np.float32)
    ranges = calibrate(graph, data, observer, percentile, bits)
    qz = _Quantizer(graph, ranges, bits, bias_correction, keep)
    if float_threshold is not None:
        errs = layer_errors(graph, qz, data)
        worse = {k for k, e in errs.items() if e > float_threshold}
        if worse:
            qz = _Quantizer(graph, ranges, bits, bias_correction, keep | worse)
    return qz.q


def layer_errors(graph: Graph, qz: _Quantizer, data: np.ndarray) -> dict[str, float]:
    """Each quantized layer's own error: the relative RMS error of its output minus the largest of its
    inputs' (the quantized graph run on ``data`` against the float graph)."""
    fnames = [o for n in graph.nodes for o in n.outputs if o]
    fl = run(graph, data, outputs=list(graph.inputs) + fnames)
    qnames = {o: qz.map[o] for o in fnames if o in qz.map and o in qz.qp and qz.map[o] in qz.q.tensors}
    qo = run(qz.q, data, outputs=sorted(set(qnames.values())))
    rel: dict[str, float] = {graph.inputs[0]: 0.0}
    for o, qn in qnames.items():
        s, zp = qz.qp[o]
        v = (np.asarray(qo[qn], np.float64) - zp) * s
        if qz.nhwc.get(o) and v.ndim == 4:
            v = v.transpose(_TO_NCHW)
        ref = np.asarray(fl[o], np.float64)
        if v.shape == ref.shape:
            rel[o] = float(np.sqrt(np.mean((v - ref) ** 2)) / (np.sqrt(np.mean(ref ** 2)) + 1e-12))
    out = {}
    for n in graph.nodes:
        if n.op in ("Conv", "Gemm", "MatMul") and n.outputs[0] in rel:
            out[n.name] = rel[n.outputs[0]] - max([rel.get(i, 0.0) for i in n.inputs if i in rel] or [0.0])
    return out


class _Quantizer:
    def __init__(self, g: Graph, ranges: dict, bits: int = 8, bias_correction: bool = False,
                 keep: set[str] | None = None) -> None:
        self.f, self.ranges, self.bits, self.bias_correction = g, ranges, bits, bias_correction
        self.keep = keep or set()
        self.dtype = "int16" if bits == 16 else "int8"
        self.q = Graph(g.name + ("_int16x8" if bits == 16 else "_int8"),
                       metadata={k: v for k, v in g.metadata.items() if not k.startswith("arena")})
        self.map: dict[str, str] = {}      # float tensor -> quantized tensor in q
        self.nhwc: dict[str, bool] = {}    # is the quantized tensor the NHWC transpose of the float one
        self.fl: dict[str, str] = {}       # float tensor -> its float twin in q (kept-float layers)
        self.qp: dict[str, tuple[float, int]] = {}
        src = g.inputs[0]
        t = g.tensors[src]
        self.q.add_input(src, t.shape, "float32")
        self.fl[src] = src
        self._set_qp(src, *act_qparams(*ranges[src], bits))
        qx = self._emit("QQuantize", [src], src + "_q", src, scale=self.qp[src][0], zp=self.qp[src][1],
                        to=self.dtype)
        self.map[src], self.nhwc[src] = qx, False
        if len(t.shape) == 4 and g.metadata.get("layout") != "NHWC":
            self.map[src] = self._emit("Transpose", [qx], src + "_nhwc", src, perm=_TO_NHWC)
            self.nhwc[src] = True
        for node in g.nodes:
            if node.name in self.keep:
                self._float(node)
            else:
                getattr(self, "op_" + node.op.lower())(node)
        outs = []
        for o in g.outputs:
            if o in self.fl:
                outs.append(self.fl[o])
                continue
            y = self._emit("QDequantize", [self.map[o]], o + "_dq", o, scale=self.qp[o][0], zp=self.qp[o][1])
            if self.nhwc[o]:
                y = self._emit("Transpose", [y], o + "_nchw", o, perm=_TO_NCHW)
            outs.append(y)
        self.q.outputs = outs
        self.q = remove_dead_code(self.q)
        self.q.validate()
        for name, (s, zp) in self.qp.items():
            if self.map.get(name) in self.q.tensors:
                self.q.tensors[self.map[name]].quant = QuantParams(s, zp)

    def _float(self, node: Node) -> None:
        """Keep ``node`` float: dequantize its activation inputs (once), copy it, quantize its output
        (dead-code removal drops the QQuantize when only float layers or the graph output read it)."""
        ins = []
        for i in node.inputs:
            if not i:
                ins.append(i)
            elif i in self.fl:
                ins.append(self.fl[i])
            elif i in self.map:
                s, zp = self.qp[i]
                self.fl[i] = self._emit("QDequantize", [self._nchw_in(i)], i + "_dq", i, scale=s, zp=zp)
                ins.append(self.fl[i])
            else:
                c = self.f.const(i)
                if c is None:
                    raise UnsupportedModelError(f"{node.op} node {node.name!r}: input {i!r} is unknown")
                self.fl[i] = self.q.add_const(i, c)
                ins.append(self.fl[i])
        outs = [self.q.fresh_name(o + "_f") for o in node.outputs]
        self.q.add_node(node.op, ins, outs, name=self.q.fresh_name(node.name + "_float"), **node.attrs)
        for o, fo in zip(node.outputs, outs, strict=True):
            self.fl[o] = fo
            s, zp = act_qparams(*self.ranges[o], self.bits)
            self._set_qp(o, s, zp)
            self.map[o] = self._emit("QQuantize", [fo], o + "_q", o, scale=s, zp=zp, to=self.dtype)
            self.nhwc[o] = False

    # ---------------------------------------------------------------- helpers
    def _set_qp(self, name: str, scale: float, zp: int) -> None:
        self.qp[name] = (scale, zp)

    def _emit(self, op: str, ins: list[str], out: str, hint: str, **attrs) -> str:
        out = self.q.fresh_name(out)
        self.q.add_node(op, ins, [out], name=out, **attrs)
        return out

    def _out_qp(self, node: Node) -> tuple[float, int]:
        s, zp = act_qparams(*self._out_range(node.outputs[0]), self.bits)
        self._set_qp(node.outputs[0], s, zp)
        return s, zp

    def _out_range(self, name: str) -> tuple[float, float]:
        """The calibrated range of ``name``, or of the Relu / Clip that is its only reader (which
        :meth:`op_relu` folds into this op's clamp): TFLite calibrates a fused activation's output, so
        the pre-activation values the clamp cuts off (a residual Add's negative half) take no int8 levels.
        Exact: nothing else reads the values below the clamp."""
        users = [n for n in self.f.nodes if name in n.inputs]
        if len(users) == 1 and users[0].op in ("Relu", "Clip") and name not in self.f.outputs \
                and users[0].outputs[0] in self.ranges:
            return self.ranges[users[0].outputs[0]]
        return self.ranges[name]

    def _act(self, node: Node, scale: float, zp: int) -> dict:
        lo, hi = (-32768, 32767) if self.bits == 16 else (-128, 127)
        if node.attr("activation", ""):
            a, b = node.attr("activation_params", [0.0, float("inf")])
            lo = max(lo, zp + round(a / scale)) if np.isfinite(a) else lo
            hi = min(hi, zp + round(b / scale)) if np.isfinite(b) else hi
        return {"act_min": int(lo), "act_max": int(hi)}

    def _nhwc_in(self, name: str) -> str | None:
        """The quantized tensor of ``name`` (4-D) in NHWC for the conv and pool ops; None when not 4-D."""
        if self.nhwc[name]:
            return self.map[name]
        if len(self.f.tensors[name].shape) != 4:
            return None
        return self._emit("Transpose", [self.map[name]], name + "_nhwc", name, perm=_TO_NHWC)

    def _nchw_in(self, name: str) -> str:
        """The int8 tensor of ``name`` in the float graph's layout."""
        if self.nhwc[name]:
            return self._emit("Transpose", [self.map[name]], name + "_nchw", name, perm=_TO_NCHW)
        return self.map[name]

    def _alias(self, node: Node) -> None:
        x = node.inputs[0]
        self.map[node.outputs[0]], self.nhwc[node.outputs[0]] = self.map[x], self.nhwc[x]
        self.qp[node.outputs[0]] = self.qp[x]

    def _bias(self, node: Node, idx: int, in_scale: float, w_scale: np.ndarray, n: int, mult: float = 1.0,
              correction: np.ndarray | None = None) -> list:
        """int32 bias (int64 in the 16x8 scheme, as TFLite), minus the bias-correction shift if any."""
        has = len(node.inputs) > idx and bool(node.inputs[idx])
        if not has and correction is None:
            return []
        b = self.f.const(node.inputs[idx]) if has else np.zeros(n)
        if b is None:
            raise UnsupportedModelError(f"{node.op} node {node.name!r}: bias must be constant to quantize")
        b = np.broadcast_to(np.asarray(b, np.float64).reshape(-1) * mult, (n,))
        if correction is not None:
            b = b - correction
        q = np.round(b / (np.float64(np.float32(in_scale)) * w_scale.astype(np.float64)))
        dt, lim = (np.int64, 2 ** 47) if self.bits == 16 else (np.int32, 2 ** 31)
        return [self.q.add_const(node.name + "_bias", np.clip(q, -lim, lim - 1).astype(dt))]

    def _correction(self, x: str, w: np.ndarray, wq: np.ndarray, ws: np.ndarray, groups: int = 1) -> np.ndarray | None:
        """E[(Wq - W) x] per output channel from the calibration mean of each input channel (the mean
        of a conv's window is taken as the channel mean: padding is ignored)."""
        mean = self.ranges.get("mean:" + x)
        if not self.bias_correction or mean is None:
            return None
        dw = wq.astype(np.float64) * ws.reshape((-1,) + (1,) * (w.ndim - 1)) - w.astype(np.float64)
        dw = dw.reshape(dw.shape[0], dw.shape[1], -1).sum(axis=2)        # (out, in/groups)
        m, cg = dw.shape
        idx = (np.arange(m) // (m // groups))[:, None] * cg + np.arange(cg)[None, :]
        return (dw * np.asarray(mean, np.float64)[idx]).sum(axis=1)

    # ---------------------------------------------------------------- ops
    def op_identity(self, node: Node) -> None:
        self._alias(node)

    op_dropout = op_identity

    def op_transpose(self, node: Node) -> None:
        """A layout change between NCHW and NHWC (float .tflite imports) is free: it only flips which
        layout the quantized tensor is recorded in."""
        x, perm = node.inputs[0], list(node.attr("perm"))
        o = node.outputs[0]
        self.qp[o] = self.qp[x]
        if self.nhwc[x] and perm == _TO_NHWC or not self.nhwc[x] and perm == _TO_NCHW \
                and len(self.f.tensors[x].shape) == 4:
            self.map[o], self.nhwc[o] = self.map[x], not self.nhwc[x]
            return
        self.map[o] = self._emit("Transpose", [self._nchw_in(x)], o, node.name, perm=perm)
        self.nhwc[o] = False

    def op_clip(self, node: Node) -> None:
        self.op_relu(node, node.attr("min", None), node.attr("max", None))

    def op_relu(self, node: Node, lo: float | None = 0.0, hi: float | None = None) -> None:
        """A Relu left unfused (after an Add): raise the clamp of the int8 op producing its input.

        The producer keeps its calibrated output scale; only its ``act_min`` moves to the zero point,
        which is exact when nothing else reads the pre-Relu value."""
        x = node.inputs[0]
        src = next((n for n in self.q.nodes if self.map.get(x) in n.outputs), None)
        users = [n for n in self.f.nodes if x in n.inputs]
        if src is None or "act_min" not in src.attrs and src.op not in ("QAdd", "QMul") or len(users) != 1 \
                or x in self.f.outputs:
            if self.bits == 8:   # nothing to fold it into: a standalone int8 RELU (TFLite's QRelu)
                return self._standalone_relu(node, lo, hi)
            raise UnsupportedModelError(f"Relu node {node.name!r} does not follow a Conv/Gemm/Add; run "
                                        "edgeinfer.passes.fuse_activations (quantize does) or fuse it in the model")
        s, zp = self.qp[x]
        qmin, qmax = (-32768, 32767) if self.bits == 16 else (-128, 127)
        if lo is not None:
            src.attrs["act_min"] = max(int(src.attrs.get("act_min", qmin)), zp + int(round(lo / s)))
        if hi is not None:
            src.attrs["act_max"] = min(int(src.attrs.get("act_max", qmax)), zp + int(round(hi / s)))
        self._alias(node)

    def op_conv(self, node: Node) -> None:
        w = self.f.const(node.inputs[1])
        x = node.inputs[0]
        xin = self._nhwc_in(x)
        if w is None or w.ndim != 4 or xin is None:
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
        ins = [xin, wname, *self._bias(node, 2, in_s, ws, m, correction=self._correction(x, w, wq, ws, g))]
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
               *self._bias(node, bias_idx, in_s, ws, w.shape[0], bias_mult, self._correction(x, w, wq, ws))]
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
        xin = self._nhwc_in(x)
        if xin is None:
            raise UnsupportedModelError(f"{node.op} node {node.name!r}: only 2-D pooling is quantized")
        if op == "QAveragePool2D" and node.attr("count_include_pad", 0) and any(geo["pads"]):
            raise UnsupportedModelError(f"{node.name!r}: average pooling counting the padding is not supported")
        self.qp[node.outputs[0]] = self.qp[x]  # TFLite pools keep the input's scale and zero point
        self.map[node.outputs[0]] = self._emit(op, [xin], node.outputs[0], node.name, kernel_shape=kernel,
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
        """TFLite's MEAN over H and W (Keras GlobalAveragePooling2D), its output calibrated on its own range:
        the mean of many values spans far less than they do, so the input's scale would waste most of the
        int8 levels of the pooled features (a 3x coarser step in a keyword-spotting net)."""
        x, o = node.inputs[0], node.outputs[0]
        xin = self._nhwc_in(x)
        if xin is None:
            raise UnsupportedModelError(f"GlobalAveragePool node {node.name!r}: only 2-D pooling is quantized")
        in_s, in_zp = self.qp[x]
        out_s, out_zp = self._out_qp(node)
        self.map[o] = self._emit("QMean", [xin], o, node.name, axes=[1, 2], keepdims=True, in_scale=in_s,
                                 in_zp=in_zp, out_scale=out_s, out_zp=out_zp)
        self.nhwc[o] = True

    def op_flatten(self, node: Node) -> None:
        x = self._nchw_in(node.inputs[0])
        shape = [0 if d is None else d for d in self.f.tensors[node.outputs[0]].shape]
        sh = self.q.add_const(node.name + "_shape", np.asarray(shape, np.int64))
        self.map[node.outputs[0]] = self._emit("Reshape", [x, sh], node.outputs[0], node.name)
        self.nhwc[node.outputs[0]] = False
        self.qp[node.outputs[0]] = self.qp[node.inputs[0]]

    op_reshape = op_flatten

    def _fixed_out(self, node: Node, op: str, **attrs) -> None:
        """An op whose output parameters TFLite fixes (not calibrated): :data:`_FIXED_OUT`."""
        x = node.inputs[0]
        self.qp[node.outputs[0]] = _FIXED_OUT[op][self.bits == 16]
        self.map[node.outputs[0]] = self._emit(op, [self.map[x]], node.outputs[0], node.name, **attrs)
        self.nhwc[node.outputs[0]] = self.nhwc[x]

    def op_softmax(self, node: Node) -> None:
        rank = len(self.f.tensors[node.inputs[0]].shape)
        if node.attr("axis", -1) % rank != rank - 1 or self.nhwc[node.inputs[0]]:
            raise UnsupportedModelError(f"Softmax node {node.name!r}: only over the last axis is quantized")
        self._fixed_out(node, "QSoftmax", beta=1.0, in_scale=self.qp[node.inputs[0]][0])

    def op_sigmoid(self, node: Node) -> None:
        s, zp = self.qp[node.inputs[0]]
        self._fixed_out(node, "QLogistic", in_scale=s, in_zp=zp)

    def op_tanh(self, node: Node) -> None:
        s, zp = self.qp[node.inputs[0]]
        self._fixed_out(node, "QTanh", in_scale=s, in_zp=zp)

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

    # ---------------------------------------------------------------- int8 ops of ir/ops/quantized_act.py
    def _standalone_relu(self, node: Node, lo: float | None, hi: float | None) -> None:
        """QRelu keeping the input's parameters (an exact clamp: the requantization multiplier is 1)."""
        x = node.inputs[0]
        s, zp = self.qp[x]
        self.qp[node.outputs[0]] = (s, zp)
        act = {"act_min": max(-128, zp + int(round(lo / s))) if lo is not None else -128,
               "act_max": min(127, zp + int(round(hi / s))) if hi is not None else 127}
        self.map[node.outputs[0]] = self._emit("QRelu", [self.map[x]], node.outputs[0], node.name, in_scale=s,
                                               in_zp=zp, out_scale=s, out_zp=zp, **act)
        self.nhwc[node.outputs[0]] = self.nhwc[x]

    def _elementwise(self, node: Node, op: str, **attrs) -> None:
        x, o = node.inputs[0], node.outputs[0]
        in_s, in_zp = self.qp[x]
        out_s, out_zp = attrs.pop("out_qp", None) or self._out_qp(node)
        self.qp[o] = (out_s, out_zp)
        self.map[o] = self._emit(op, [self.map[x]], o, node.name, in_scale=in_s, in_zp=in_zp, out_scale=out_s,
                                 out_zp=out_zp, **attrs)
        self.nhwc[o] = self.nhwc[x]

    def op_leakyrelu(self, node: Node) -> None:
        self._elementwise(node, "QLeakyRelu", alpha=float(node.attr("alpha", 0.01)))

    def op_hardswish(self, node: Node) -> None:
        """TFLite's int8 HARD_SWISH needs an output scale above the input's / 128: a narrower calibrated range
        (an input that is almost all below -3) is widened to that."""
        lo, hi = self.ranges[node.outputs[0]]
        in_s = self.qp[node.inputs[0]][0]
        out_s, _ = act_qparams(lo, hi, self.bits)
        if out_s <= in_s / 128:
            f = in_s / 127 / max(out_s, 1e-30)
            lo, hi = (lo * f, hi * f) if hi > lo else (-in_s, 254 * in_s / 2)
        self._elementwise(node, "QHardSwish", out_qp=act_qparams(lo, hi, self.bits))

    def op_sub(self, node: Node) -> None:
        a, b = node.inputs
        if a not in self.map or b not in self.map or self.nhwc[a] != self.nhwc[b]:
            raise UnsupportedModelError(f"Sub node {node.name!r}: only the difference of two activations is quantized")
        out_s, out_zp = self._out_qp(node)
        (sa, za), (sb, zb) = self.qp[a], self.qp[b]
        self.map[node.outputs[0]] = self._emit("QSub", [self.map[a], self.map[b]], node.outputs[0], node.name,
                                               a_scale=sa, a_zp=za, b_scale=sb, b_zp=zb, out_scale=out_s,
                                               out_zp=out_zp, act_min=-128, act_max=127)
        self.nhwc[node.outputs[0]] = self.nhwc[a]

    def op_reducemax(self, node: Node) -> None:
        """TFLite's int8 REDUCE_MAX keeps the input's parameters; NCHW axes move to NHWC ones where the
        quantized tensor is NHWC and the reduction leaves the remaining axes in order."""
        x, o = node.inputs[0], node.outputs[0]
        rank = len(self.f.tensors[x].shape)
        axes = sorted(int(a) % rank for a in (node.attr("axes", None) or range(rank)))
        keep = int(node.attr("keepdims", 1))
        if 0 in axes:
            raise UnsupportedModelError(f"ReduceMax node {node.name!r}: reducing over the batch axis is not quantized")
        self.qp[o] = self.qp[x]
        if self.nhwc[x] and axes == [2, 3]:
            src, q_axes, nhwc = self.map[x], [1, 2], bool(keep)
        else:
            src, q_axes, nhwc = self._nchw_in(x), axes, False
        self.map[o] = self._emit("ReduceMax", [src], o, node.name, axes=q_axes, keepdims=keep)
        self.nhwc[o] = nhwc
