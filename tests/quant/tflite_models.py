"""Small Keras models quantized by TensorFlow's converter, and the TFLite runtimes that judge them.

Each model is built, trained for a few steps on random data (so weights and ranges are
not trivial), converted to a full-integer int8 ``.tflite`` (int8 input and output,
representative dataset) and cached under ``$EDGEINFER_CACHE/tflite`` so that only the
first run pays for TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CACHE_VERSION = "v1"


def cache_dir() -> Path:
    d = Path(os.environ.get("EDGEINFER_CACHE", Path.home() / ".cache" / "edgeinfer")) / "tflite" / CACHE_VERSION
    d.mkdir(parents=True, exist_ok=True)
    return d


def _models(tf):
    k = tf.keras
    L = k.layers

    def conv_net():
        x = k.Input((12, 12, 3), batch_size=1)
        y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        y = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(y)
        y = L.Conv2D(12, 1, activation=None)(y)
        y = L.AveragePooling2D(2)(y)
        y = L.MaxPooling2D(2, padding="same")(y)
        y = L.Flatten()(y)
        y = L.Dense(16, activation="relu")(y)
        y = L.Dense(10)(y)
        return k.Model(x, L.Softmax()(y)), (12, 12, 3)

    def residual():
        x = k.Input((9, 9, 4), batch_size=1)
        a = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        a = L.Conv2D(8, 3, padding="same")(a)
        b = L.Conv2D(8, 1)(x)
        y = L.ReLU()(L.Add()([a, b]))
        y = L.DepthwiseConv2D(3, depth_multiplier=2, dilation_rate=2, padding="valid")(y)
        y = L.AveragePooling2D(3, strides=2, padding="same")(y)
        y = L.Flatten()(y)
        return k.Model(x, L.Softmax()(L.Dense(5)(y))), (9, 9, 4)

    def pad_strided():
        x = k.Input((11, 10, 2), batch_size=1)
        y = L.ZeroPadding2D(((1, 2), (2, 1)))(x)
        y = L.Conv2D(6, (3, 2), strides=(2, 3), activation="relu")(y)
        y = L.MaxPooling2D((2, 3), strides=(1, 2))(y)
        y = L.Conv2D(4, 3, padding="same", dilation_rate=2)(y)
        return k.Model(x, L.Flatten()(y)), (11, 10, 2)

    def mlp_gates():
        x = k.Input((20,), batch_size=1)
        h = L.Dense(16, activation="tanh")(x)
        g = L.Dense(16, activation="sigmoid")(x)
        y = L.Multiply()([h, g])
        y = L.Concatenate()([y, L.Dense(8, activation="relu")(x)])
        return k.Model(x, L.Softmax()(L.Dense(6)(y))), (20,)

    def gap_net():
        x = k.Input((10, 10, 3), batch_size=1)
        y = L.Conv2D(12, 3, padding="same", activation="relu")(x)
        y = L.Conv2D(16, 3, strides=2, padding="same")(y)
        y = L.GlobalAveragePooling2D()(y)
        return k.Model(x, L.Softmax()(L.Dense(7)(y))), (10, 10, 3)

    return {"conv_net": conv_net, "residual": residual, "pad_strided": pad_strided, "mlp_gates": mlp_gates,
            "gap_net": gap_net}


MODEL_NAMES = ("conv_net", "residual", "pad_strided", "mlp_gates", "gap_net")


def build_all(tf) -> dict[str, tuple[Path, tuple]]:
    """Path and input shape of every test model, converting the missing ones."""
    out = {}
    for name, make in _models(tf).items():
        path = cache_dir() / f"{name}.tflite"
        tf.keras.utils.set_random_seed(hash(name) % 1000)
        model, shape = make()
        if not path.exists():
            rng = np.random.default_rng(0)
            xs = rng.normal(size=(64, *shape)).astype(np.float32)
            n_out = model.output_shape[-1]
            ys = rng.normal(size=(64, n_out)).astype(np.float32)
            model.compile("adam", "mse")
            model.fit(xs, ys, batch_size=1, epochs=1, verbose=0, steps_per_epoch=16)
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda xs=xs: ([xs[i:i + 1]] for i in range(64))
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(conv.convert())
            os.replace(tmp, path)
        out[name] = (path, shape)
    return out


def run_tflm(path: Path, x: np.ndarray) -> np.ndarray:
    """TFLite Micro's Python interpreter (reference kernels), one sample per invoke."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(path))
    outs = []
    for row in x:
        interp.set_input(row[None], 0)
        interp.invoke()
        outs.append(interp.get_output(0).copy())
    return np.concatenate(outs)


def run_litert(path: Path, x: np.ndarray, xnnpack: bool = False) -> np.ndarray:
    """LiteRT's interpreter; without XNNPACK unless asked (BUILTIN_WITHOUT_DEFAULT_DELEGATES)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    outs = []
    for row in x:
        interp.set_tensor(i, row[None])
        interp.invoke()
        outs.append(interp.get_tensor(o).copy())
    return np.concatenate(outs)


# --------------------------------------------------------------------------- 16x8 (int16 activations)

def _models_16x8(tf):
    """Keras models whose int16 ops read the (int16) model input directly, so random int16 inputs cover
    each op's whole input range. Several outputs per model keep the conversions few."""
    k = tf.keras
    L = k.layers

    def unary():
        x = k.Input((6, 8), batch_size=1)
        scale = np.linspace(-2.5, 3.0, 8).astype(np.float32)
        outs = [L.Softmax()(x), L.Activation("sigmoid")(x), L.Activation("tanh")(x),
                L.Lambda(lambda t: k.ops.mean(t, axis=-1, keepdims=True))(x),
                L.Lambda(lambda t: t * scale)(x), L.Reshape((48,))(x),
                L.Lambda(lambda t: k.ops.expand_dims(t, axis=1))(x)]
        return k.Model(x, outs), [(6, 8)]

    def spatial():
        x = k.Input((5, 4, 3), batch_size=1)
        outs = [L.GlobalAveragePooling2D()(x), L.GlobalAveragePooling2D(keepdims=True)(x),
                L.ZeroPadding2D(((1, 2), (0, 1)))(x), L.Flatten()(x)]
        return k.Model(x, outs), [(5, 4, 3)]

    def binary():
        a, b = k.Input((4, 3), batch_size=1), k.Input((4, 3), batch_size=1)
        return k.Model([a, b], [L.Multiply()([a, b]), L.Concatenate()([a, b])]), [(4, 3), (4, 3)]

    def float_io():
        x = k.Input((6,), batch_size=1)
        h = L.Dense(8, activation="tanh")(x)
        return k.Model(x, L.Softmax()(L.Dense(5)(h))), [(6,)]

    return {"unary": unary, "spatial": spatial, "binary": binary, "float_io": float_io}


def build_16x8(tf) -> dict[str, tuple[Path, list[tuple]]]:
    """Path and input shapes of the 16x8 test models (TensorFlow's 16x8 PTQ, int16 input and output
    except ``float_io``, which keeps float at the edges: QUANTIZE to and DEQUANTIZE from int16)."""
    out = {}
    for name, make in _models_16x8(tf).items():
        path = cache_dir() / f"i16_{name}.tflite"
        tf.keras.utils.set_random_seed(7)
        model, shapes = make()
        if not path.exists():
            rng = np.random.default_rng(1)
            cal = [[(rng.normal(size=(1, *s)) * 3).astype(np.float32) for s in shapes] for _ in range(64)]
            conv = tf.lite.TFLiteConverter.from_keras_model(model)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda cal=cal: iter(cal)
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            if name != "float_io":
                conv.inference_input_type = tf.int16
                conv.inference_output_type = tf.int16
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(conv.convert())
            os.replace(tmp, path)
        out[name] = (path, shapes)
    return out


def write_tflite(path: Path, tensors: list[tuple], ops: list[tuple], inputs: list[int], outputs: list[int]) -> Path:
    """A .tflite flatbuffer written field by field, for parameters no converter produces (power-of-two
    int16 scales, softmax beta, int8 <-> int16 QUANTIZE).

    tensors: (shape, type name "int8" | "int16" | "float32" | "int32", scale or None, zero point, data or
    None); ops: (BuiltinOperator name, input ids, output ids, {option field: value}), options typed by
    the op's ``<Op>OptionsT``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    types = {"float32": s.TensorType.FLOAT32, "int32": s.TensorType.INT32, "int16": s.TensorType.INT16,
             "int8": s.TensorType.INT8}
    model = s.ModelT()
    model.version, model.description = 3, "edgeinfer test model"
    model.buffers = [s.BufferT()]
    sg = s.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = [], list(inputs), list(outputs), []
    for i, (shape, dtype, scale, zp, data) in enumerate(tensors):
        t = s.TensorT()
        t.shape, t.type, t.name, t.buffer = list(shape), types[dtype], f"t{i}", 0
        if scale is not None:
            t.quantization = s.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [float(scale)], [int(zp)]
        if data is not None:
            b = s.BufferT()
            b.data = list(np.asarray(data, dtype).tobytes())
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        sg.tensors.append(t)
    codes: list[str] = []
    for name, ins, outs, options in ops:
        if name not in codes:
            codes.append(name)
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes.index(name), list(ins), list(outs)
        if options is not None:
            cls = "".join(w.capitalize() for w in name.split("_")) + "Options"
            op.builtinOptionsType = getattr(s.BuiltinOptions, cls)
            op.builtinOptions = getattr(s, cls + "T")()
            for key, v in options.items():
                setattr(op.builtinOptions, key, v)
        sg.operators.append(op)
    model.operatorCodes = []
    for name in codes:
        c = s.OperatorCodeT()
        c.builtinCode = getattr(s.BuiltinOperator, name)
        c.deprecatedBuiltinCode, c.version = min(c.builtinCode, 127), 1
        model.operatorCodes.append(c)
    model.subgraphs = [sg]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


def run_tflm_all(path: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Every output of TFLite Micro's Python interpreter, one sample (one row of each input) per invoke."""
    from ai_edge_litert import schema_py_generated as s
    from tflite_micro.python.tflite_micro import runtime

    n_out = s.Model.GetRootAs(path.read_bytes(), 0).Subgraphs(0).OutputsLength()
    interp = runtime.Interpreter.from_file(str(path))
    rows: list[list[np.ndarray]] = []
    for r in range(len(xs[0])):
        for i, x in enumerate(xs):
            interp.set_input(x[r:r + 1], i)
        interp.invoke()
        rows.append([interp.get_output(i).copy() for i in range(n_out)])
    return [np.concatenate([row[i] for row in rows]) for i in range(n_out)]


def run_litert_all(path: Path, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Every output of LiteRT's interpreter without delegates (its builtin kernels)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    ins = [d["index"] for d in interp.get_input_details()]
    outs = [d["index"] for d in interp.get_output_details()]
    rows = []
    for r in range(len(xs[0])):
        for i, x in zip(ins, xs, strict=True):
            interp.set_tensor(i, x[r:r + 1])
        interp.invoke()
        rows.append([interp.get_tensor(o).copy() for o in outs])
    return [np.concatenate([row[i] for row in rows]) for i in range(len(outs))]
