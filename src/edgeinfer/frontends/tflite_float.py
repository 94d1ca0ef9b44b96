"""Float ``.tflite`` models -> the float IR ops (Conv, Gemm, pools, ...), NHWC at the boundary.

The float IR ops are NCHW (ONNX's layout, which the float C kernels implement), TFLite's
tensors are NHWC. Each TFLite tensor is kept in whichever layout its producer made and
converted lazily (a Transpose, cached) when a consumer needs the other one: conv/pool
chains stay NCHW inside, while RESHAPE, FULLY_CONNECTED and SOFTMAX see TFLite's own
element order, so the model's inputs and outputs are exactly the arrays the TFLite
interpreter takes and returns.

>>> # g = from_tflite("digits_float.tflite")   # chosen automatically for float models
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.errors import ModelFileError, UnsupportedModelError
from edgeinfer.ir.graph import Graph

_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
_NHWC_AXIS_IN_NCHW = [0, 2, 3, 1]   # NHWC axis a is NCHW axis _NHWC_AXIS_IN_NCHW[a]

SUPPORTED = ("ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
             "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "RELU", "RELU6", "RESHAPE", "SOFTMAX", "TANH")


class FloatReader:
    """Builds ``self.graph`` from a float TFLite subgraph (see the module docstring)."""

    def __init__(self, base: Any) -> None:
        # ``base`` is the int8 reader's tensor helper (names, dtypes, constants, padding rules)
        self.b, self.sg = base, base.sg
        self.g = base.g
        self.forms: dict[int, dict[str, str]] = {}   # tensor index -> {"tfl": name, "nchw": name}
        for i in self.sg.inputs:
            self.forms[i] = {"tfl": self.b._name(i)}

    def run(self, codes: list[str]) -> Graph:
        for op in self.sg.operators or []:
            code = codes[op.opcodeIndex]
            if code not in SUPPORTED:
                raise UnsupportedModelError(f"float TFLite op {code} is not imported; supported: "
                                            f"{', '.join(SUPPORTED)}")
            getattr(self, "op_" + code.lower())(op)
        self.g.outputs = [self.tfl(i) for i in self.sg.outputs]
        self.g.infer_shapes()
        return self.g.validate()

    # ------------------------------------------------------------ layouts
    def _rank(self, i: int) -> int:
        return len(self.sg.tensors[i].shape)

    def _ensure(self, i: int) -> dict[str, str]:
        if i not in self.forms:
            data = self.b._const(i)
            if data is None:
                raise ModelFileError(f"tensor {self.b._name(i)!r} is read before any op produces it")
            self.forms[i] = {"tfl": self.g.add_const(self.b._name(i), data.astype(np.float32))}
        return self.forms[i]

    def tfl(self, i: int) -> str:
        """Tensor ``i`` in TFLite's (NHWC) element order."""
        f = self._ensure(i)
        if "tfl" not in f:
            f["tfl"] = self._node("Transpose", [f["nchw"]], self.b._name(i) + "_nhwc", perm=_TO_NHWC)
        return f["tfl"]

    def nchw(self, i: int) -> str:
        """Tensor ``i`` (4-D) as NCHW for the float conv and pool ops."""
        f = self._ensure(i)
        if "nchw" not in f:
            f["nchw"] = self._node("Transpose", [f["tfl"]], self.b._name(i) + "_nchw", perm=_TO_NCHW)
        return f["nchw"]

    def _node(self, op: str, ins: list[str], out: str, **attrs: Any) -> str:
        out = self.g.fresh_name(out)
        self.g.add_node(op, ins, [out], name=out, **attrs)
        return out

    def _out(self, op: Any, layout: str, name: str) -> None:
        self.forms[op.outputs[0]] = {layout: name}

    def _emit(self, op: Any, ir_op: str, ins: list[str], layout: str, fused: int = 0, **attrs: Any) -> None:
        """Add ``ir_op`` producing TFLite output 0 in ``layout``; a fused activation becomes a Clip after it
        (or the conv's own fused-activation attribute, which the C conv kernels apply in place)."""
        base = self.b._name(op.outputs[0])
        act = _activation(fused)
        if act and ir_op == "Conv":
            attrs.update(activation=act[0], activation_params=act[1])
            act = None
        y = self._node(ir_op, ins, base + ("_pre" if act else ""), **attrs)
        if act:
            lo, hi = act[1]
            y = self._node("Clip", [y], base, min=lo, **({} if np.isinf(hi) else {"max": hi}))
        self._out(op, layout, y)

    # ------------------------------------------------------------ ops
    def _conv(self, op: Any, depthwise: bool) -> None:
        o = op.builtinOptions
        x, w = op.inputs[0], op.inputs[1]
        wt = self.b._const(w)
        if wt is None:
            raise UnsupportedModelError("CONV_2D with computed weights is not supported")
        xs, ws = self.b._shape(x), list(wt.shape)
        s, d = [o.strideH, o.strideW], [o.dilationHFactor, o.dilationWFactor]
        t, left, bt, r = self.b._pads(o.padding, xs[1:3], ws[1:3], s, d)
        if depthwise:   # (1, kh, kw, C*m) -> (C*m, 1, kh, kw), one group per input channel
            wo, group = wt[0].transpose(2, 0, 1)[:, None], xs[3]
        else:           # (O, kh, kw, I) -> (O, I, kh, kw)
            wo, group = wt.transpose(0, 3, 1, 2), xs[3] // ws[3]
        ins = [self.nchw(x), self.g.add_const(self.b._name(w) + "_oihw", np.ascontiguousarray(wo, np.float32))]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            ins.append(self.tfl(op.inputs[2]))
        self._emit(op, "Conv", ins, "nchw", o.fusedActivationFunction, group=int(group), strides=s, dilations=d,
                   pads=[t, left, bt, r], kernel_shape=ws[1:3])

    def op_conv_2d(self, op: Any) -> None:
        self._conv(op, False)

    def op_depthwise_conv_2d(self, op: Any) -> None:
        self._conv(op, True)

    def op_fully_connected(self, op: Any) -> None:
        o = op.builtinOptions
        x, w = op.inputs[0], op.inputs[1]
        n_in = self.b._shape(w)[1]
        xin = self.tfl(x)
        if self._rank(x) != 2:   # TFLite flattens the input to (-1, n_in) in its own element order
            xin = self._node("Reshape", [xin, self.g.add_const(self.b._name(x) + "_2d", np.asarray([-1, n_in]))],
                             self.b._name(x) + "_2d")
        ins = [xin, self.tfl(w)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            ins.append(self.tfl(op.inputs[2]))
        if o is not None and o.keepNumDims and self._rank(x) != 2:
            raise UnsupportedModelError("FULLY_CONNECTED with keep_num_dims on a >2-D input is not supported")
        self._emit(op, "Gemm", ins, "tfl", o.fusedActivationFunction if o is not None else 0, transB=1)

    def _pool(self, op: Any, kind: str) -> None:
        o = op.builtinOptions
        k, s = [o.filterHeight, o.filterWidth], [o.strideH, o.strideW]
        pads = self.b._pads(o.padding, self.b._shape(op.inputs[0])[1:3], k, s, [1, 1])
        extra = {"count_include_pad": 0} if kind == "AveragePool" else {}
        self._emit(op, kind, [self.nchw(op.inputs[0])], "nchw", o.fusedActivationFunction, kernel_shape=k,
                   strides=s, pads=pads, **extra)

    def op_average_pool_2d(self, op: Any) -> None:
        self._pool(op, "AveragePool")

    def op_max_pool_2d(self, op: Any) -> None:
        self._pool(op, "MaxPool")

    def _binary(self, op: Any, kind: str) -> None:
        a, b = op.inputs[0], op.inputs[1]
        nchw = all("nchw" in self.forms.get(i, {}) and self._rank(i) == 4 for i in (a, b))
        ins = [self.nchw(a), self.nchw(b)] if nchw else [self.tfl(a), self.tfl(b)]
        fused = op.builtinOptions.fusedActivationFunction if op.builtinOptions is not None else 0
        self._emit(op, kind, ins, "nchw" if nchw else "tfl", fused)

    def op_add(self, op: Any) -> None:
        self._binary(op, "Add")

    def op_mul(self, op: Any) -> None:
        self._binary(op, "Mul")

    def _unary(self, op: Any, kind: str, **attrs: Any) -> None:
        i = op.inputs[0]
        layout = "nchw" if "nchw" in self._ensure(i) else "tfl"
        x = self.nchw(i) if layout == "nchw" else self.tfl(i)
        self._emit(op, kind, [x], layout, **attrs)

    def op_logistic(self, op: Any) -> None:
        self._unary(op, "Sigmoid")

    def op_tanh(self, op: Any) -> None:
        self._unary(op, "Tanh")

    def op_relu(self, op: Any) -> None:
        self._unary(op, "Relu")

    def op_relu6(self, op: Any) -> None:
        self._unary(op, "Clip", min=0.0, max=6.0)

    def op_softmax(self, op: Any) -> None:
        x = self.tfl(op.inputs[0])
        beta = float(op.builtinOptions.beta) if op.builtinOptions is not None else 1.0
        if beta != 1.0:
            name = self.b._name(op.inputs[0])
            x = self._node("Mul", [x, self.g.add_const(name + "_beta", np.asarray(beta, np.float32))], name + "_b")
        self._emit(op, "Softmax", [x], "tfl", axis=-1)

    def op_reshape(self, op: Any) -> None:
        out = self.b._shape(op.outputs[0])
        if out and out[0] == 1 and self.b._shape(op.inputs[0])[0] == 1:
            out[0] = 0  # keep the batch dimension
        shape = self.g.add_const(self.b._name(op.outputs[0]) + "_shape", np.asarray(out, np.int64))
        self._emit(op, "Reshape", [self.tfl(op.inputs[0]), shape], "tfl")

    def op_pad(self, op: Any) -> None:
        p = self.b._const(op.inputs[1])
        if p is None:
            raise UnsupportedModelError("PAD with computed paddings is not supported")
        p = np.asarray(p, np.int64)
        i = op.inputs[0]
        if "nchw" in self._ensure(i) and self._rank(i) == 4:
            p = p[_TO_NCHW]
            x, layout = self.nchw(i), "nchw"
        else:
            x, layout = self.tfl(i), "tfl"
        self._emit(op, "Pad", [x], layout, pads=[int(v) for v in p[:, 0]] + [int(v) for v in p[:, 1]],
                   mode="constant", value=0.0)

    def op_concatenation(self, op: Any) -> None:
        o = op.builtinOptions
        axis = int(o.axis) % self._rank(op.outputs[0])
        if all("nchw" in self.forms.get(i, {}) and self._rank(i) == 4 for i in op.inputs):
            self._emit(op, "Concat", [self.nchw(i) for i in op.inputs], "nchw", o.fusedActivationFunction,
                       axis=_NHWC_AXIS_IN_NCHW[axis])
        else:
            self._emit(op, "Concat", [self.tfl(i) for i in op.inputs], "tfl", o.fusedActivationFunction, axis=axis)

    def op_mean(self, op: Any) -> None:
        axes = self.b._const(op.inputs[1])
        if axes is None:
            raise UnsupportedModelError("MEAN with computed axes is not supported")
        i = op.inputs[0]
        keep = bool(op.builtinOptions.keepDims) if op.builtinOptions is not None else False
        axes = sorted(int(a) % self._rank(i) for a in np.ravel(axes))
        if self._rank(i) == 4 and "nchw" in self._ensure(i) and (keep or axes == [1, 2]):
            # over H, W without keepdims the result (N, C) is the same in both layouts
            self._emit(op, "ReduceMean", [self.nchw(i)], "nchw" if keep else "tfl",
                       axes=[_NHWC_AXIS_IN_NCHW[a] for a in axes], keepdims=int(keep))
        else:
            self._emit(op, "ReduceMean", [self.tfl(i)], "tfl", axes=axes, keepdims=int(keep))


def _activation(fused: int) -> tuple[str, list[float]] | None:
    """TFLite ActivationFunctionType -> the IR's fused activation (kind, [low, high])."""
    if fused == 0:
        return None
    if fused == 1:
        return "Relu", [0.0, float("inf")]
    if fused == 2:
        return "Clip", [-1.0, 1.0]
    if fused == 3:
        return "Clip", [0.0, 6.0]
    raise UnsupportedModelError(f"fused activation {fused} (TFLite ActivationFunctionType) is not supported")
