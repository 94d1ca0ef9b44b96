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
