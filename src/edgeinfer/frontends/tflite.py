"""``.tflite`` files -> ir.Graph (full-integer int8 and 16x8 models; float models via ``tflite_float``).

The flatbuffer is read with the schema module that LiteRT, TFLite Micro or TensorFlow
ship (``schema_py_generated``), whichever is installed. Tensors keep TFLite's NHWC
layout and the integer ops are the TFLite-scheme ops of ``ir/ops/quantized.py``, so a
user passes the arrays the TFLite interpreter takes (int8 in, int8 out for a model
converted with ``inference_input_type=tf.int8``) and gets the same bytes back. 16x8 models (int16
activations, int8 weights: ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``) import the
same way, their int16 tensors kept int16, for every op below that has an int16 form.

>>> # g = from_tflite("kws_int8.tflite"); edgeinfer.ir.run(g, x_int8)
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.errors import ModelFileError, UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.tensor import QuantParams

_SCHEMA_MODULES = ("ai_edge_litert.schema_py_generated",
                   "tflite_micro.tensorflow.lite.micro.python.schema_py_generated",
                   "tensorflow.lite.python.schema_py_generated")

_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}

SUPPORTED = ("ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE",
             "FULLY_CONNECTED", "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "QUANTIZE", "RESHAPE", "SOFTMAX",
             "SQUEEZE", "TANH")
# ops whose int16 tensors (16x8 scheme) import; data-movement ops (CONCATENATION, PAD, RESHAPE, SQUEEZE)
# take any integer type
INT16_OPS = ("ADD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "LOGISTIC", "MAX_POOL_2D",
             "MEAN", "MUL", "SOFTMAX", "TANH")


def _schema() -> Any:
    for m in _SCHEMA_MODULES:
        try:
            return importlib.import_module(m)
        except ImportError:
            continue
    raise ModelFileError("reading .tflite files needs a TFLite flatbuffer schema: "
                         "pip install 'edgeinfer[tflite]' (ai-edge-litert)")


def _names(cls: Any) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def from_tflite(path: str | Path) -> Graph:
    """Read a ``.tflite`` file (first subgraph) into a Graph of TFLite-scheme integer ops."""
    path = Path(path)
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    except Exception as e:
        raise ModelFileError(f"{path.name} is not a readable .tflite flatbuffer: {e}") from None
    if not model.subgraphs:
        raise ModelFileError(f"{path.name} has no subgraph")
    ops = _names(schema.BuiltinOperator)
    codes = [ops.get(max(c.builtinCode, c.deprecatedBuiltinCode), f"code {c.builtinCode}")
             for c in model.operatorCodes]
    sg = model.subgraphs[0]
    used = sorted({codes[op.opcodeIndex] for op in sg.operators or []})
    if _is_float(sg, codes):
        from edgeinfer.frontends.tflite_float import FloatReader

        return FloatReader(_Reader(model, sg, codes, path.stem, ops=False)).run(codes)
    missing = [u for u in used if u not in SUPPORTED]
    if missing:
        raise UnsupportedModelError(f"{path.name} uses TFLite ops edgeinfer does not import: {', '.join(missing)}; "
                                    f"supported: {', '.join(SUPPORTED)}")
    return _Reader(model, sg, codes, path.stem).graph


def _is_float(sg: Any, codes: list[str]) -> bool:
    """A float model: some op other than QUANTIZE/DEQUANTIZE computes in float32 (the int8 reader's
    models only use float at QUANTIZE in and DEQUANTIZE out)."""
    return any(sg.tensors[op.outputs[0]].type == 0 for op in sg.operators or []
               if codes[op.opcodeIndex] not in ("QUANTIZE", "DEQUANTIZE"))


class _Reader:
    def __init__(self, model: Any, sg: Any, codes: list[str], name: str, ops: bool = True) -> None:
        self.model, self.sg = model, sg
        self.g = Graph(name, metadata={"source": "tflite", "layout": "NHWC"})
        self.names: dict[int, str] = {}
        self._used: set[str] = set()
        for i in sg.inputs:
            t = sg.tensors[i]
            shape = [int(d) for d in t.shape]
            if shape and shape[0] == 1:
                shape[0] = None  # any batch: TFLite runs one sample per invoke
            self.g.add_input(self._name(i), tuple(shape), self._dtype(i))
            self.g.tensors[self._name(i)].quant = self._quant(i)
        if not ops:   # the float reader drives this reader's tensor helpers itself
            return
        for op in sg.operators or []:
            getattr(self, "op_" + codes[op.opcodeIndex].lower())(op)
        self.g.outputs = [self._name(i) for i in sg.outputs]
        self.g.infer_shapes()
        for op in sg.operators or []:
            for o in op.outputs:
                self.g.tensors[self._name(o)].quant = self._quant(o)
        self.graph = self.g.validate()

    # ------------------------------------------------------------ tensors
    def _name(self, i: int) -> str:
        if i not in self.names:
            raw = self.sg.tensors[i].name
            raw = raw.decode() if isinstance(raw, bytes) else str(raw)
            base = raw or f"t{i}"
            name, k = base, 1
            while name in self._used:
                name, k = f"{base}_{k}", k + 1
            self._used.add(name)
            self.names[i] = name
        return self.names[i]

    def _dtype(self, i: int) -> str:
        t = self.sg.tensors[i].type
        if t not in _TYPES:
            raise UnsupportedModelError(f"tensor {self._name(i)!r} has TFLite type {t}, not supported")
        return _TYPES[t]

    def _quant(self, i: int) -> QuantParams | None:
        q = self.sg.tensors[i].quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        return QuantParams(np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint, np.int64),
                           int(q.quantizedDimension) if len(q.scale) > 1 else None)

    def _scale_zp(self, i: int) -> tuple[float, int]:
        q = self._quant(i)
        if q is None:
            raise UnsupportedModelError(f"tensor {self._name(i)!r} is not quantized; edgeinfer imports "
                                        "full-integer int8 .tflite models (convert with a representative dataset "
                                        "and TFLITE_BUILTINS_INT8)")
        return float(q.scale[0]), int(q.zero_point[0])

    def _const(self, i: int) -> np.ndarray | None:
        t = self.sg.tensors[i]
        buf = self.model.buffers[t.buffer]
        if buf is None or buf.data is None or len(buf.data) == 0:
            return None
        return np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), dtype=self._dtype(i)).reshape(
            [int(d) for d in t.shape] if t.shape is not None else [])   # a scalar has no shape vector

    def _in(self, i: int) -> str:
        """Name of input tensor ``i``, adding it as a constant the first time when it holds data."""
        name = self._name(i)
        if name not in self.g.tensors:
            data = self._const(i)
            if data is None:
                raise ModelFileError(f"tensor {name!r} is read before any op produces it")
            self.g.add_const(name, data)
        return name

    def _int8(self, op: Any, what: str, int16: bool = False) -> None:
        """int8 tensors; int16 ones too (16x8 scheme) where ``int16`` says the op has an int16 form."""
        for i in [op.inputs[0], op.outputs[0]]:
            if self._dtype(i) != "int8" and not (int16 and self._dtype(i) == "int16"):
                raise UnsupportedModelError(
                    f"{what} on {self._dtype(i)} tensor {self._name(i)!r}: edgeinfer imports int8 models and 16x8 "
                    f"models (int16 activations) of {', '.join(INT16_OPS)}; uint8 is not supported")

    def _int16_fixed(self, op: Any, what: str, out_scale: float, log2: bool = False) -> None:
        """TFLM's int16 checks for a table op: zero points 0 and the output scale it is built for (1/32768;
        ``log2``: a power of two within 1e-3, as CheckedLog2), refused by name rather than run wrong."""
        (_, in_zp), (o_s, o_zp) = self._scale_zp(op.inputs[0]), self._scale_zp(op.outputs[0])
        ok = abs(np.log2(o_s) - np.log2(out_scale)) < 1e-3 if log2 else abs(o_s - out_scale) <= 0.001 * out_scale
        if in_zp != 0 or o_zp != 0 or not ok:
            raise UnsupportedModelError(f"int16 {what} {self._name(op.outputs[0])!r} needs zero points 0 and output "
                                        f"scale {out_scale:g}, got input zero point {in_zp}, output scale {o_s:g} "
                                        f"and zero point {o_zp} (TFLite Micro refuses it too)")

    def _act(self, fused: int, out: int) -> dict:
        """TFLite CalculateActivationRangeQuantized for a fused activation."""
        scale, zp = self._scale_zp(out)

        def q(f: float) -> int:
            v = np.float32(f) / np.float32(scale)
            return zp + int(np.trunc(v) + (np.sign(v) if abs(v - np.trunc(v)) >= 0.5 else 0))
        lo, hi = (-32768, 32767) if self._dtype(out) == "int16" else (-128, 127)
        if fused == 1:      # RELU
            lo = max(lo, q(0.0))
        elif fused == 2:    # RELU_N1_TO_1
            lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
        elif fused == 3:    # RELU6
            lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
        elif fused != 0:
            raise UnsupportedModelError(f"fused activation {fused} (TFLite ActivationFunctionType) is not supported")
        return {"act_min": lo, "act_max": hi}

    def _add(self, op_name: str, op: Any, inputs: list[str], **attrs: Any) -> None:
        self.g.add_node(op_name, inputs, [self._name(op.outputs[0])], name=self._name(op.outputs[0]), **attrs)

    @staticmethod
    def _pads(padding: int, in_hw: list[int], k: list[int], s: list[int], d: list[int]) -> list[int]:
        """TFLite ComputePaddingHeightWidth: SAME puts the smaller half first."""
        if padding == 1:  # VALID
            return [0, 0, 0, 0]
        begin, end = [], []
        for n, kk, ss, dd in zip(in_hw, k, s, d, strict=True):
            out = -(-n // ss)
            total = max((out - 1) * ss + (kk - 1) * dd + 1 - n, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return [begin[0], begin[1], end[0], end[1]]

    def _shape(self, i: int) -> list[int]:
        return [int(d) for d in self.sg.tensors[i].shape]

    # ------------------------------------------------------------ ops
    def _conv(self, op: Any, depthwise: bool) -> None:
        self._int8(op, "CONV_2D", int16=True)
        o = op.builtinOptions
        x, w = op.inputs[0], op.inputs[1]
        xs, ws = self._shape(x), self._shape(w)
        s, d = [o.strideH, o.strideW], [o.dilationHFactor, o.dilationWFactor]
        in_scale, in_zp = self._scale_zp(x)
        out_scale, out_zp = self._scale_zp(op.outputs[0])
        wq = self._quant(w)
        ins = [self._in(x), self._in(w)] + ([self._in(op.inputs[2])] if len(op.inputs) > 2 and op.inputs[2] >= 0
                                            else [])
        self._add("QDepthwiseConv2D" if depthwise else "QConv2D", op, ins, strides=s, dilations=d,
                  pads=self._pads(o.padding, xs[1:3], ws[1:3], s, d), in_scale=in_scale, in_zp=in_zp,
                  w_scale=[float(v) for v in wq.scale], out_scale=out_scale, out_zp=out_zp,
                  **self._act(o.fusedActivationFunction, op.outputs[0]))

    def op_conv_2d(self, op: Any) -> None:
        self._conv(op, False)

    def op_depthwise_conv_2d(self, op: Any) -> None:
        self._conv(op, True)

    def op_fully_connected(self, op: Any) -> None:
        self._int8(op, "FULLY_CONNECTED", int16=True)
        o = op.builtinOptions
        x, w = op.inputs[0], op.inputs[1]
        in_scale, in_zp = self._scale_zp(x)
        out_scale, out_zp = self._scale_zp(op.outputs[0])
        ins = [self._in(x), self._in(w)] + ([self._in(op.inputs[2])] if len(op.inputs) > 2 and op.inputs[2] >= 0
                                            else [])
        self._add("QFullyConnected", op, ins, in_scale=in_scale, in_zp=in_zp,
                  w_scale=[float(v) for v in self._quant(w).scale], out_scale=out_scale, out_zp=out_zp,
                  keep_num_dims=bool(o.keepNumDims), **self._act(o.fusedActivationFunction, op.outputs[0]))

    def _pool(self, op: Any, kind: str) -> None:
        self._int8(op, kind, int16=True)
        o = op.builtinOptions
        k, s = [o.filterHeight, o.filterWidth], [o.strideH, o.strideW]
        self._add(kind, op, [self._in(op.inputs[0])], kernel_shape=k, strides=s,
                  pads=self._pads(o.padding, self._shape(op.inputs[0])[1:3], k, s, [1, 1]),
                  **self._act(o.fusedActivationFunction, op.outputs[0]))

    def op_average_pool_2d(self, op: Any) -> None:
        self._pool(op, "QAveragePool2D")

    def op_max_pool_2d(self, op: Any) -> None:
        self._pool(op, "QMaxPool2D")

    def _binary(self, op: Any, kind: str) -> None:
        self._int8(op, kind, int16=True)
        a_s, a_zp = self._scale_zp(op.inputs[0])
        b_s, b_zp = self._scale_zp(op.inputs[1])
        o_s, o_zp = self._scale_zp(op.outputs[0])
        if self._dtype(op.outputs[0]) == "int16" and (a_zp, b_zp, o_zp) != (0, 0, 0):
            raise UnsupportedModelError(f"int16 {kind} {self._name(op.outputs[0])!r} needs zero points 0 (the 16x8 "
                                        f"scheme), got {a_zp}, {b_zp} and {o_zp}")
        fused = op.builtinOptions.fusedActivationFunction if op.builtinOptions is not None else 0
        self._add(kind, op, [self._in(op.inputs[0]), self._in(op.inputs[1])], a_scale=a_s, a_zp=a_zp,
                  b_scale=b_s, b_zp=b_zp, out_scale=o_s, out_zp=o_zp, **self._act(fused, op.outputs[0]))

    def op_add(self, op: Any) -> None:
        self._binary(op, "QAdd")

    def op_mul(self, op: Any) -> None:
        self._binary(op, "QMul")

    def op_softmax(self, op: Any) -> None:
        self._int8(op, "SOFTMAX", int16=True)
        if self._dtype(op.inputs[0]) == "int16":
            self._int16_fixed(op, "SOFTMAX", 1 / 32768)
        in_scale, _ = self._scale_zp(op.inputs[0])
        self._add("QSoftmax", op, [self._in(op.inputs[0])], beta=float(op.builtinOptions.beta), in_scale=in_scale)

    def op_logistic(self, op: Any) -> None:
        self._int8(op, "LOGISTIC", int16=True)
        if self._dtype(op.inputs[0]) == "int16":
            self._int16_fixed(op, "LOGISTIC", 1 / 32768, log2=True)
        s, zp = self._scale_zp(op.inputs[0])
        self._add("QLogistic", op, [self._in(op.inputs[0])], in_scale=s, in_zp=zp)

    def op_tanh(self, op: Any) -> None:
        self._int8(op, "TANH", int16=True)
        if self._dtype(op.inputs[0]) == "int16":
            self._int16_fixed(op, "TANH", 1 / 32768, log2=True)
        s, zp = self._scale_zp(op.inputs[0])
        self._add("QTanh", op, [self._in(op.inputs[0])], in_scale=s, in_zp=zp)

    def op_reshape(self, op: Any) -> None:
        out = self._shape(op.outputs[0])
        if out and out[0] == 1 and self._shape(op.inputs[0])[0] == 1:
            out[0] = 0  # keep the batch dimension (IR Reshape copies a 0 from the input)
        shape = self.g.add_const(self._name(op.outputs[0]) + "_shape", np.asarray(out, np.int64))
        self._add("Reshape", op, [self._in(op.inputs[0]), shape])

    op_squeeze = op_reshape   # the output tensor's shape says which axes went

    def op_pad(self, op: Any) -> None:
        p = self._const(op.inputs[1])
        if p is None:
            raise UnsupportedModelError("PAD with computed paddings is not supported")
        _, zp = self._scale_zp(op.inputs[0])
        pads = [int(v) for v in p[:, 0]] + [int(v) for v in p[:, 1]]
        self._add("Pad", op, [self._in(op.inputs[0])], pads=pads, mode="constant", value=zp)

    def op_concatenation(self, op: Any) -> None:
        """Equal scales: a plain Concat (TFLite Micro's case); otherwise each differing input is requantized
        to the output's parameters first, as LiteRT's int8 CONCATENATION does."""
        o = op.builtinOptions
        if o.fusedActivationFunction:
            raise UnsupportedModelError("CONCATENATION with a fused activation is not supported")
        out_s, out_zp = self._scale_zp(op.outputs[0])
        ins = []
        for i in op.inputs:
            s, zp = self._scale_zp(i)
            name = self._in(i)
            if (np.float32(s), zp) != (np.float32(out_s), out_zp):
                rq = self.g.fresh_name(name + "_rq")
                self.g.add_node("QRequantize", [name], [rq], name=rq, in_scale=s, in_zp=zp, out_scale=out_s,
                                out_zp=out_zp, to=self._dtype(op.outputs[0]))
                name = rq
            ins.append(name)
        self._add("Concat", op, ins, axis=int(o.axis))

    def op_mean(self, op: Any) -> None:
        self._int8(op, "MEAN", int16=True)
        axes = self._const(op.inputs[1])
        if axes is None:
            raise UnsupportedModelError("MEAN with computed axes is not supported")
        s, zp = self._scale_zp(op.inputs[0])
        os_, ozp = self._scale_zp(op.outputs[0])
        keep = bool(op.builtinOptions.keepDims) if op.builtinOptions is not None else False
        self._add("QMean", op, [self._in(op.inputs[0])], axes=[int(a) for a in np.ravel(axes)], keepdims=keep,
                  in_scale=s, in_zp=zp, out_scale=os_, out_zp=ozp)

    def op_quantize(self, op: Any) -> None:
        s, zp = self._scale_zp(op.outputs[0])
        ints = ("int8", "int16")
        if self._dtype(op.inputs[0]) in ints and self._dtype(op.outputs[0]) in ints:
            in_s, in_zp = self._scale_zp(op.inputs[0])   # requantize (TFLite Requantize)
            self._add("QRequantize", op, [self._in(op.inputs[0])], in_scale=in_s, in_zp=in_zp, out_scale=s,
                      out_zp=zp, to=self._dtype(op.outputs[0]))
            return
        if self._dtype(op.inputs[0]) != "float32":
            raise UnsupportedModelError(f"QUANTIZE from {self._dtype(op.inputs[0])} is not supported")
        self._add("QQuantize", op, [self._in(op.inputs[0])], scale=s, zp=zp, to=self._dtype(op.outputs[0]))

    def op_dequantize(self, op: Any) -> None:
        s, zp = self._scale_zp(op.inputs[0])
        self._add("QDequantize", op, [self._in(op.inputs[0])], scale=s, zp=zp)
