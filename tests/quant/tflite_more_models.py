"""Keras models of the layers trained models bring beyond conv / dense / pool, int8-quantized by TensorFlow.

Standalone activations (ReLU, ReLU6, LeakyReLU, hard swish, PReLU), Subtract (broadcast, fused
ReLU), Maximum / Minimum, global max pooling, Permute, cropping and strided / plain slices,
nearest-neighbour resizes, argmax, and a uint8-in / uint8-out model. Each is built, trained for
a few steps on random data (so weights and ranges are not trivial), converted to a
full-integer ``.tflite`` and cached under ``$EDGEINFER_CACHE/tflite/more-v2`` so that only the
first run pays for TensorFlow. Several models have one output per layer under test, so every
op's own bytes are compared, not only what survives the layers after it.

Two more files are derived from converted ones by rewriting the flatbuffer, because
TensorFlow's converter never emits those ops for static shapes: SQUEEZE and EXPAND_DIMS
(it writes RESHAPE), which TFLite Micro runs.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

CACHE_VERSION = "more-v2"


def cache_dir() -> Path:
    d = Path(os.environ.get("EDGEINFER_CACHE", Path.home() / ".cache" / "edgeinfer")) / "tflite" / CACHE_VERSION
    d.mkdir(parents=True, exist_ok=True)
    return d


def _models(tf) -> dict:
    """name -> (build function, spread of the training data, input / output type)."""
    k = tf.keras
    L = k.layers

    def act_zoo():
        # every activation reads the model input, so the test's inputs reach each one's full int8 range
        x = k.Input((6, 6, 4), batch_size=1)
        return k.Model(x, [L.ReLU()(x), L.ReLU(6.0)(x), L.LeakyReLU(0.15)(x), L.Activation("hard_swish")(x)])

    def prelu():
        # apart from act_zoo: TF fuses Keras' relu(x) - alpha * relu(-x) into PRELU only when that relu(x)
        # is not shared with another ReLU of x
        x = k.Input((6, 6, 4), batch_size=1)
        shared = L.PReLU(alpha_initializer=k.initializers.RandomUniform(-0.6, 0.6), shared_axes=[1, 2])
        full = L.PReLU(alpha_initializer=k.initializers.RandomUniform(0.05, 0.4))
        return k.Model(x, [shared(x), full(L.Conv2D(4, 1)(x))])

    def mbv3_block():
        x = k.Input((10, 10, 3), batch_size=1)
        c = L.Conv2D(8, 3, padding="same")(x)
        a = L.LeakyReLU(0.1)(c)
        d = L.DepthwiseConv2D(3, padding="same")(a)
        h = L.Activation("hard_swish")(d)
        s = L.ReLU()(L.Subtract()([h, L.Conv2D(8, 1)(a)]))        # SUB with a fused RELU
        p = L.PReLU(alpha_initializer=k.initializers.RandomUniform(0.05, 0.4), shared_axes=[1, 2])(L.Conv2D(8, 1)(s))
        y = L.GlobalMaxPooling2D()(p)
        return k.Model(x, L.Dense(4, activation="softmax")(y))

    def compare_sub():
        x = k.Input((6, 5, 4), batch_size=1)
        a = L.Conv2D(4, 1)(x)
        b = L.Conv2D(4, 1)(x)
        mean = L.GlobalAveragePooling2D(keepdims=True)(x)
        return k.Model(x, [L.Maximum()([x, a]), L.Minimum()([x, b]), L.Subtract()([x, mean]),
                           L.ReLU()(L.Subtract()([a, b])), L.ReLU()(L.Reshape((120,))(a))])

    def seq():
        x = k.Input((10, 4), batch_size=1)
        return k.Model(x, [L.GlobalMaxPooling1D()(L.Conv1D(6, 3)(x)), L.GlobalMaxPooling1D()(x)])

    def layout():
        x = k.Input((8, 6, 4), batch_size=1)
        return k.Model(x, [
            L.Permute((3, 1, 2))(x),
            L.Cropping2D(((1, 2), (2, 1)))(x),
            L.Lambda(lambda t: t[:, 1:7:2, ::-1, 1:])(x),
            L.Lambda(lambda t: t[:, -2, 4:0:-2, :3])(x),               # shrink axis 1, negative stride
            L.Lambda(lambda t: tf.slice(t, [0, 1, 2, 0], [1, 4, -1, 3]))(x),
            L.Cropping1D((2, 1))(L.Reshape((48, 4))(x)),
        ])

    def resize():
        x = k.Input((4, 5, 3), batch_size=1)
        c = L.Conv2D(3, 3, padding="same")(x)
        v1 = tf.compat.v1.image
        return k.Model(x, [
            L.Lambda(lambda t: tf.image.resize(t, (8, 12), method="nearest"))(c),           # half-pixel centers
            L.Lambda(lambda t: v1.resize_nearest_neighbor(t, (7, 9), align_corners=True))(c),
            L.Lambda(lambda t: v1.resize_nearest_neighbor(t, (3, 11), half_pixel_centers=False))(c),
        ])

    def argmax():   # (model, the model whose scores are trained)
        x = k.Input((12,), batch_size=1)
        scores = L.Dense(6)(L.Dense(9, activation="relu")(x))
        return (k.Model(x, L.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))(scores)),
                k.Model(x, scores))

    def argmax64():   # LiteRT judges it, and its FULLY_CONNECTED rounds apart from TFLite Micro's: no Dense
        x = k.Input((12,), batch_size=1)
        return k.Model(x, L.Lambda(lambda t: tf.argmax(t, axis=-1))(x))

    def relu_n1():   # on the input: after a Dense it would fuse into FULLY_CONNECTED
        x = k.Input((5, 4), batch_size=1)
        return k.Model(x, L.Lambda(lambda t: tf.clip_by_value(t, -1.0, 1.0))(x))

    def sub_pair():   # SUB of the input's two halves: a test rewrites both halves' parameters apart
        x = k.Input((512,), batch_size=1)
        return k.Model(x, L.Subtract()([L.Lambda(lambda t: t[:, :256])(x), L.Lambda(lambda t: t[:, 256:])(x)]))

    def flat_for_squeeze():
        x = k.Input((1, 7, 3), batch_size=1)
        return k.Model(x, L.Lambda(lambda t: tf.squeeze(t, axis=1))(L.Conv2D(3, 1)(x)))

    def flat_for_expand():
        x = k.Input((7, 3), batch_size=1)
        return k.Model(x, L.Lambda(lambda t: tf.expand_dims(t, axis=1))(L.Dense(3)(x)))

    return {"act_zoo": (act_zoo, 3.0, "int8"), "prelu": (prelu, 1.5, "int8"), "mbv3_block": (mbv3_block, 1.5, "int8"),
            "mbv3_block_uint8": (mbv3_block, 1.5, "uint8"), "compare_sub": (compare_sub, 1.5, "int8"),
            "seq": (seq, 1.0, "int8"), "layout": (layout, 1.0, "int8"), "resize": (resize, 1.0, "int8"),
            "argmax": (argmax, 1.0, "int8"), "argmax64": (argmax64, 1.0, "int8"), "relu_n1": (relu_n1, 1.0, "int8"),
            "sub_pair": (sub_pair, 1.0, "int8"), "flat_for_squeeze": (flat_for_squeeze, 1.0, "int8"),
            "flat_for_expand": (flat_for_expand, 1.0, "int8")}


MODEL_NAMES = ("act_zoo", "prelu", "mbv3_block", "mbv3_block_uint8", "compare_sub", "seq", "layout", "resize",
               "argmax", "argmax64", "relu_n1", "sub_pair", "flat_for_squeeze", "flat_for_expand")
#: converted models whose one RESHAPE is rewritten into the op TensorFlow does not emit for static shapes
REWRITTEN = {"squeeze": ("flat_for_squeeze", "SQUEEZE"), "expand_dims": ("flat_for_expand", "EXPAND_DIMS")}
#: models TFLite Micro runs (judged against it); the others only LiteRT runs (RELU_N1_TO_1, int64 ARG_MAX)
TFLM_MODELS = ("act_zoo", "prelu", "mbv3_block", "mbv3_block_uint8", "compare_sub", "seq", "layout", "resize", "argmax",
               "squeeze", "expand_dims")
LITERT_ONLY = ("relu_n1", "argmax64")


def _convert(tf, make, spread: float, io: str, seed: int) -> bytes:
    tf.keras.utils.set_random_seed(seed)
    model = make()
    model, trained = model if isinstance(model, tuple) else (model, model)
    shape = model.input_shape[1:]
    rng = np.random.default_rng(seed)
    xs = (rng.normal(size=(64, *shape)) * spread).astype(np.float32)
    outs = trained.outputs
    ys = [rng.normal(size=(64, *o.shape[1:])).astype(np.float32) for o in outs]
    if trained.trainable_weights:
        trained.compile("adam", ["mse"] * len(outs))
        trained.fit(xs, ys if len(ys) > 1 else ys[0], batch_size=4, epochs=1, verbose=0, steps_per_epoch=12)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([xs[i:i + 1]] for i in range(64))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = getattr(tf, io)
    conv.inference_output_type = getattr(tf, io)
    return conv.convert()


def _rewrite(src: bytes, op: str) -> bytes:
    """The one RESHAPE of ``src`` turned into SQUEEZE (squeeze_dims [1]) or EXPAND_DIMS (axis 1)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    m = s.ModelT.InitFromPackedBuf(src, 0)
    sg = m.subgraphs[0]
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(s.BuiltinOperator, op)
    code.version = 1
    m.operatorCodes.append(code)
    (rs,) = [o for o in sg.operators if m.operatorCodes[o.opcodeIndex].builtinCode == s.BuiltinOperator.RESHAPE]
    rs.opcodeIndex = len(m.operatorCodes) - 1
    if op == "SQUEEZE":
        rs.inputs = rs.inputs[:1]
        rs.builtinOptionsType = s.BuiltinOptions.SqueezeOptions
        rs.builtinOptions = s.SqueezeOptionsT()
        rs.builtinOptions.squeezeDims = [1]
    else:   # the shape tensor becomes the int32 scalar axis
        t = sg.tensors[rs.inputs[1]]
        t.shape = []
        m.buffers[t.buffer].data = np.frombuffer(np.int32(1).tobytes(), np.uint8)
        rs.builtinOptionsType = s.BuiltinOptions.ExpandDimsOptions
        rs.builtinOptions = s.ExpandDimsOptionsT()
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def build_all(get_tf) -> dict[str, tuple[Path, tuple]]:
    """Path and input shape of every model, converting (and rewriting) the missing ones; ``get_tf()`` returns
    the tensorflow module, called only when some model is not cached yet."""
    paths = {n: cache_dir() / f"{n}.tflite" for n in MODEL_NAMES + tuple(REWRITTEN)}
    if not all(p.exists() for p in paths.values()):
        tf = get_tf()
        for name, (make, spread, io) in _models(tf).items():
            if not paths[name].exists():
                _write(paths[name], _convert(tf, make, spread, io, zlib.crc32(name.encode()) % 1000))
        for name, (src, op) in REWRITTEN.items():
            if not paths[name].exists():
                _write(paths[name], _rewrite(paths[src].read_bytes(), op))
    return {n: (p, input_shape(p)) for n, p in paths.items()}


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def input_shape(path: Path) -> tuple:
    return tuple(int(d) for d in _litert(path).get_input_details()[0]["shape"][1:])


def _litert(path: Path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_path=str(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def run_tflm_all(path: Path, x: np.ndarray) -> list[np.ndarray]:
    """Every output of TFLite Micro's Python interpreter (reference kernels), one sample per invoke."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(path))
    outs: list[list[np.ndarray]] = [[] for _ in _litert(path).get_output_details()]
    for row in x:
        interp.set_input(row[None], 0)
        interp.invoke()
        for j, o in enumerate(outs):
            o.append(interp.get_output(j).copy())
    return [np.concatenate(o) for o in outs]


def run_litert_all(path: Path, x: np.ndarray) -> list[np.ndarray]:
    """Every output of LiteRT's interpreter without delegates (BUILTIN_WITHOUT_DEFAULT_DELEGATES)."""
    interp = _litert(path)
    interp.allocate_tensors()
    i = interp.get_input_details()[0]["index"]
    outs: list[list[np.ndarray]] = [[] for _ in interp.get_output_details()]
    for row in x:
        interp.set_tensor(i, row[None])
        interp.invoke()
        for j, d in enumerate(interp.get_output_details()):
            outs[j].append(interp.get_tensor(d["index"]).copy())
    return [np.concatenate(o) for o in outs]
