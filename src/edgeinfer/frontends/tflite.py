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
# int8 ops of typical trained Keras models (ir/ops/quantized_act.py and the plain layout / compare ops)
MORE_INT8_OPS = ("ARG_MAX", "EXPAND_DIMS", "HARD_SWISH", "LEAKY_RELU", "MAXIMUM", "MINIMUM", "PRELU", "REDUCE_MAX",
                 "RELU", "RELU6", "RELU_N1_TO_1", "RESIZE_NEAREST_NEIGHBOR", "SLICE", "STRIDED_SLICE", "SUB",
                 "TRANSPOSE")
SUPPORTED = tuple(sorted(set(SUPPORTED) | set(MORE_INT8_OPS)))


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
        if "uint8" in (self._dtype(op.inputs[0]), self._dtype(op.outputs[0])):
            return self._quantize_uint8(op)
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

    # ------------------------------------------------------------ more int8 ops (ir/ops/quantized_act.py)
    def _qp8(self, i: int, op: Any, what: str) -> tuple[float, int]:
        """(scale, zero point) of an 8-bit tensor of op ``what``, checked as TFLite's Prepare relies on them."""
        q = self._quant(i)
        dt = self._dtype(i)
        lo, hi = (0, 255) if dt == "uint8" else (-128, 127)
        if q is None or len(q.scale) != 1 or not np.isfinite(q.scale[0]) or q.scale[0] <= 0 \
                or not lo <= int(q.zero_point[0]) <= hi:
            raise UnsupportedModelError(
                f"{what} {self._name(op.outputs[0])!r}: {dt} tensor {self._name(i)!r} has quantization "
                f"{None if q is None else (q.scale.tolist(), q.zero_point.tolist())}, expected one positive scale "
                f"and a zero point in [{lo}, {hi}]; re-convert the model with TFLiteConverter (representative "
                "dataset, TFLITE_BUILTINS_INT8)")
        return float(q.scale[0]), int(q.zero_point[0])

    def _fused(self, op: Any, what: str) -> dict:
        """The clamp of a fused activation, refusing by name the ones TFLite's integer kernels lack."""
        o = op.builtinOptions
        fused = int(getattr(o, "fusedActivationFunction", 0) or 0) if o is not None else 0
        if fused not in (0, 1, 2, 3):
            kind = _names(_schema().ActivationFunctionType).get(fused, str(fused))
            raise UnsupportedModelError(f"{what} {self._name(op.outputs[0])!r} has fused activation {kind}, which "
                                        "int8 TFLite kernels do not apply; edgeinfer imports NONE, RELU, RELU_N1_TO_1 "
                                        "and RELU6: convert the model with that activation as its own layer")
        return self._act(fused, op.outputs[0])

    def _only_int8(self, what: str, *tensors: int) -> None:
        for i in tensors:
            if self._dtype(i) != "int8":
                raise UnsupportedModelError(f"{what} on {self._dtype(i)} tensor {self._name(i)!r}: edgeinfer imports "
                                            f"{what} on int8 tensors (convert with TFLITE_BUILTINS_INT8)")

    def _const_of(self, op: Any, k: int, what: str) -> np.ndarray:
        c = self._const(op.inputs[k]) if len(op.inputs) > k and op.inputs[k] >= 0 else None
        if c is None:
            raise UnsupportedModelError(f"{what} {self._name(op.outputs[0])!r}: its input {k} is computed at run "
                                        "time; edgeinfer imports it as a constant only (fix the shape in the model)")
        return c

    def _io8(self, op: Any, what: str) -> dict:
        (s, zp), (os_, ozp) = self._qp8(op.inputs[0], op, what), self._qp8(op.outputs[0], op, what)
        return {"in_scale": s, "in_zp": zp, "out_scale": os_, "out_zp": ozp}

    def op_relu(self, op: Any) -> None:
        """TFLite Micro ReluQuantized: requantize to the output's parameters, clamp at its zero."""
        self._only_int8("RELU", op.inputs[0], op.outputs[0])
        p = self._io8(op, "RELU")
        self._add("QRelu", op, [self._in(op.inputs[0])], **p, act_min=max(-128, p["out_zp"]), act_max=127)

    def op_relu_n1_to_1(self, op: Any) -> None:
        """Not in TFLite Micro; LiteRT requantizes and clamps to the codes of -1 and 1 (ReluX)."""
        self._only_int8("RELU_N1_TO_1", op.inputs[0], op.outputs[0])
        self._add("QRelu", op, [self._in(op.inputs[0])], **self._io8(op, "RELU_N1_TO_1"), **self._act(2, op.outputs[0]))

    def op_relu6(self, op: Any) -> None:
        """TFLite Micro clamps the raw input to [zero, six] of the *input's* parameters and leaves the output's
        aside (Relu6Prepare); LiteRT requantizes. The bytes here are TFLite Micro's."""
        self._only_int8("RELU6", op.inputs[0], op.outputs[0])
        s, zp = self._qp8(op.inputs[0], op, "RELU6")
        v = np.float32(6.0) / np.float32(s)
        six = min(127, max(-128, int(np.trunc(v) + (1 if v - np.trunc(v) >= 0.5 else 0)) + zp))
        # a bound at the type's own limit is left out: C's integer Clip would compare against it in vain
        bounds = {k: v for k, v in (("min", zp), ("max", six)) if v not in (-128, 127)}
        self._add("Clip", op, [self._in(op.inputs[0])], **bounds)

    def op_leaky_relu(self, op: Any) -> None:
        self._only_int8("LEAKY_RELU", op.inputs[0], op.outputs[0])
        self._add("QLeakyRelu", op, [self._in(op.inputs[0])], alpha=float(getattr(op.builtinOptions, "alpha", 0.0)),
                  **self._io8(op, "LEAKY_RELU"))

    def op_hard_swish(self, op: Any) -> None:
        from edgeinfer.ir.node import Node
        from edgeinfer.ir.ops.quantized_act import hard_swish_params

        self._only_int8("HARD_SWISH", op.inputs[0], op.outputs[0])
        p = self._io8(op, "HARD_SWISH")
        if hard_swish_params(Node("QHardSwish", [], [], p))["out_exp"] > 0:
            raise UnsupportedModelError(
                f"HARD_SWISH {self._name(op.outputs[0])!r}: output scale {p['out_scale']:g} is below input scale / 128 "
                f"({p['in_scale'] / 128:g}); TFLite refuses this too (output multiplier exponent > 0)")
        self._add("QHardSwish", op, [self._in(op.inputs[0])], **p)

    def op_prelu(self, op: Any) -> None:
        self._only_int8("PRELU", op.inputs[0], op.inputs[1], op.outputs[0])
        a_s, a_zp = self._qp8(op.inputs[1], op, "PRELU")
        self._add("QPRelu", op, [self._in(op.inputs[0]), self._in(op.inputs[1])], alpha_scale=a_s, alpha_zp=a_zp,
                  **self._io8(op, "PRELU"))

    def op_sub(self, op: Any) -> None:
        self._only_int8("SUB", op.inputs[0], op.inputs[1], op.outputs[0])
        (a_s, a_zp), (b_s, b_zp), (o_s, o_zp) = (self._qp8(i, op, "SUB") for i in (op.inputs[0], op.inputs[1],
                                                                            op.outputs[0]))
        self._add("QSub", op, [self._in(op.inputs[0]), self._in(op.inputs[1])], a_scale=a_s, a_zp=a_zp,
                  b_scale=b_s, b_zp=b_zp, out_scale=o_s, out_zp=o_zp, **self._fused(op, "SUB"))

    def _max_min(self, op: Any, what: str, ir_op: str) -> None:
        """TFLite Micro compares the raw integers (the converter gives both inputs the output's parameters)."""
        for i in (op.inputs[0], op.inputs[1], op.outputs[0]):
            if self._dtype(i) not in ("int8", "int16"):
                raise UnsupportedModelError(f"{what} on {self._dtype(i)} tensor {self._name(i)!r}: edgeinfer imports "
                                            f"{what} on int8 and int16 tensors")
        self._add(ir_op, op, [self._in(op.inputs[0]), self._in(op.inputs[1])])

    def op_maximum(self, op: Any) -> None:
        self._max_min(op, "MAXIMUM", "Max")

    def op_minimum(self, op: Any) -> None:
        self._max_min(op, "MINIMUM", "Min")

    def op_reduce_max(self, op: Any) -> None:
        self._only_int8("REDUCE_MAX", op.inputs[0], op.outputs[0])
        if self._qp8(op.inputs[0], op, "REDUCE_MAX") != self._qp8(op.outputs[0], op, "REDUCE_MAX"):
            raise UnsupportedModelError(f"REDUCE_MAX {self._name(op.outputs[0])!r}: input and output quantization "
                                        "differ; TFLite Micro requires them equal (TensorFlow's converter makes "
                                        "them so)")
        rank = len(self._shape(op.inputs[0]))
        axes = sorted({int(a) % rank for a in np.ravel(self._const_of(op, 1, "REDUCE_MAX"))})
        if not axes or 0 in axes:
            raise UnsupportedModelError(f"REDUCE_MAX {self._name(op.outputs[0])!r} reduces axes {axes}: edgeinfer "
                                        "reduces within one sample only (not over the batch axis 0)")
        keep = bool(op.builtinOptions.keepDims) if op.builtinOptions is not None else False
        self._add("ReduceMax", op, [self._in(op.inputs[0])], axes=axes, keepdims=int(keep))

    def op_arg_max(self, op: Any) -> None:
        self._only_int8("ARG_MAX", op.inputs[0])
        rank = len(self._shape(op.inputs[0]))
        axis = int(np.ravel(self._const_of(op, 1, "ARG_MAX"))[0]) % rank
        out_t = self._dtype(op.outputs[0])
        if axis != rank - 1 or out_t not in ("int32", "int64"):
            raise UnsupportedModelError(f"ARG_MAX {self._name(op.outputs[0])!r} over axis {axis} of rank {rank} to "
                                        f"{out_t}: edgeinfer imports ARG_MAX over the last axis to int32 or int64")
        x = self._in(op.inputs[0])
        if out_t == "int32":
            self._add("ArgMax", op, [x], axis=axis, keepdims=0)
            return
        idx = self.g.fresh_name(self._name(op.outputs[0]) + "_i32")
        self.g.add_node("ArgMax", [x], [idx], name=idx, axis=axis, keepdims=0)
        self._add("Cast", op, [idx], to="int64")   # TFLite Micro computes int32 only; LiteRT gives int64

    def _reshape_to_out(self, op: Any, src: str) -> None:
        """Reshape ``src`` to the TFLite output tensor's shape, keeping a batch dimension of 1 symbolic."""
        out = self._shape(op.outputs[0])
        if out and out[0] == 1 and self._shape(op.inputs[0])[0] == 1:
            out[0] = 0
        shape = self.g.add_const(self._name(op.outputs[0]) + "_shape", np.asarray(out, np.int64))
        self._add("Reshape", op, [src, shape])

    op_expand_dims = op_reshape   # as SQUEEZE: the output tensor's shape says where the axis went

    def op_transpose(self, op: Any) -> None:
        perm = [int(v) for v in np.ravel(self._const_of(op, 1, "TRANSPOSE"))]
        if not perm or perm[0] != 0:
            raise UnsupportedModelError(f"TRANSPOSE {self._name(op.outputs[0])!r} with perm {perm} moves the batch "
                                        "axis 0; edgeinfer transposes within one sample only")
        self._add("Transpose", op, [self._in(op.inputs[0])], perm=perm)

    def _slice(self, op: Any, what: str, idx: list[list[int]], shrink: int = 0) -> None:
        """Slice keeping ``idx[axis]`` (ascending or descending runs of one step), then drop shrunk axes."""
        shape = self._shape(op.inputs[0])
        if any(not ix for ix in idx):
            raise UnsupportedModelError(f"{what} {self._name(op.outputs[0])!r} selects nothing")
        if idx[0] != list(range(shape[0])) or shrink & 1:
            raise UnsupportedModelError(f"{what} {self._name(op.outputs[0])!r} slices the batch axis 0; edgeinfer "
                                        "slices within one sample only")
        starts, ends, axes, steps = [], [], [], []
        for ax, (ix, dim) in enumerate(zip(idx, shape, strict=True)):
            if ix == list(range(dim)):
                continue
            step = ix[1] - ix[0] if len(ix) > 1 else 1
            end = ix[-1] + (1 if step > 0 else -1)
            starts.append(ix[0])
            ends.append(end if end >= 0 else -(dim + 1))   # ONNX: an end below -dim reaches index 0
            axes.append(ax)
            steps.append(step)
        x = self._in(op.inputs[0])
        if not axes:
            self._reshape_to_out(op, x)
            return
        if not shrink:
            self._add("Slice", op, [x], starts=starts, ends=ends, axes=axes, steps=steps)
            return
        y = self.g.fresh_name(self._name(op.outputs[0]) + "_slice")
        self.g.add_node("Slice", [x], [y], name=y, starts=starts, ends=ends, axes=axes, steps=steps)
        self._reshape_to_out(op, y)

    def op_slice(self, op: Any) -> None:
        begin = [int(v) for v in np.ravel(self._const_of(op, 1, "SLICE"))]
        size = [int(v) for v in np.ravel(self._const_of(op, 2, "SLICE"))]
        shape = self._shape(op.inputs[0])
        if len(begin) != len(shape) or len(size) != len(shape):
            raise UnsupportedModelError(f"SLICE {self._name(op.outputs[0])!r}: begin / size do not match the "
                                        f"input's rank {len(shape)}")
        self._slice(op, "SLICE", [list(range(b, d if n == -1 else b + n)) for b, n, d in zip(begin, size, shape,
                                                                                                 strict=True)])

    def op_strided_slice(self, op: Any) -> None:
        """TFLite's StridedSliceStartForAxis / EndForAxis, resolved here to fixed index runs."""
        o = op.builtinOptions
        begin, end, strides = (np.ravel(self._const_of(op, k, "STRIDED_SLICE")).astype(int) for k in (1, 2, 3))
        shape = self._shape(op.inputs[0])
        mask = {k: int(getattr(o, k, 0) or 0) for k in ("beginMask", "endMask", "ellipsisMask", "newAxisMask",
                                                        "shrinkAxisMask")}
        if mask["ellipsisMask"] or mask["newAxisMask"] or not len(begin) == len(end) == len(strides) == len(shape) \
                or not all(strides):
            raise UnsupportedModelError(f"STRIDED_SLICE {self._name(op.outputs[0])!r}: edgeinfer imports strided "
                                        "slices with one nonzero stride per axis and no ellipsis / new-axis masks")
        idx = []
        for ax, dim in enumerate(shape):
            st, sp = int(begin[ax]), int(strides[ax])
            lo, hi = (0, dim) if sp > 0 else (-1, dim - 1)
            start = min(max(st + dim if st < 0 else st, lo), hi)
            if mask["beginMask"] & (1 << ax):
                start = 0 if sp > 0 else dim - 1
            if mask["shrinkAxisMask"] & (1 << ax):
                stop = start if start >= dim else start + 1
            else:
                stop = int(end[ax]) + (start if getattr(o, "offset", False) else 0)
                stop = min(max(stop + dim if stop < 0 else stop, lo), hi)
                if mask["endMask"] & (1 << ax):
                    stop = dim if sp > 0 else -1
            idx.append(list(range(start, stop, sp)))
        self._slice(op, "STRIDED_SLICE", idx, mask["shrinkAxisMask"])

    def op_resize_nearest_neighbor(self, op: Any) -> None:
        """Source rows and columns computed once, in float32 as TFLite's GetNearestNeighbor does, then
        gathered (the batch and channels are untouched)."""
        size = [int(v) for v in np.ravel(self._const_of(op, 1, "RESIZE_NEAREST_NEIGHBOR"))]
        shape = self._shape(op.inputs[0])
        o = op.builtinOptions
        if len(shape) != 4 or len(size) != 2:
            raise UnsupportedModelError(f"RESIZE_NEAREST_NEIGHBOR {self._name(op.outputs[0])!r}: needs an NHWC input "
                                        "and a size of 2 values")
        align, half = bool(getattr(o, "alignCorners", False)), bool(getattr(o, "halfPixelCenters", False))
        x = self._in(op.inputs[0])
        gathers = []
        for axis, n_in, n_out in ((1, shape[1], size[0]), (2, shape[2], size[1])):
            f32 = np.float32
            scale = f32(n_in - 1) / f32(n_out - 1) if align and n_out > 1 else f32(n_in) / f32(n_out)
            src = []
            for i in range(n_out):
                v = (f32(i) + f32(0.5 if half else 0.0)) * scale
                r = int(np.trunc(v) + (np.sign(v) if abs(v - np.trunc(v)) >= 0.5 else 0)) if align else int(np.floor(v))
                src.append(max(0, min(r, n_in - 1)) if half else min(r, n_in - 1))
            if src != list(range(n_in)):
                gathers.append((axis, src))
        if not gathers:
            self._reshape_to_out(op, x)
            return
        for k, (axis, src) in enumerate(gathers):
            ind = self.g.add_const(self._name(op.outputs[0]) + f"_rows{axis}", np.asarray(src, np.int32))
            if k == len(gathers) - 1:
                self._add("Gather", op, [x, ind], axis=axis)
            else:
                y = self.g.fresh_name(self._name(op.outputs[0]) + f"_axis{axis}")
                self.g.add_node("Gather", [x, ind], [y], name=y, axis=axis)
                x = y

    def _quantize_uint8(self, op: Any) -> None:
        """QUANTIZE uint8 -> int8 at a model's input, int8 -> uint8 at its output (TFLite Requantize)."""
        src, dst = self._dtype(op.inputs[0]), self._dtype(op.outputs[0])
        if {src, dst} != {"uint8", "int8"}:
            raise UnsupportedModelError(f"QUANTIZE {self._name(op.outputs[0])!r} from {src} to {dst}: edgeinfer "
                                        "converts uint8 <-> int8 only (uint8 is the model's input or output type)")
        (s, zp), (os_, ozp) = self._qp8(op.inputs[0], op, "QUANTIZE"), self._qp8(op.outputs[0], op, "QUANTIZE")
        self._add("QRequantizeU8", op, [self._in(op.inputs[0])], in_scale=s, in_zp=zp, out_scale=os_, out_zp=ozp,
                  to=dst)
