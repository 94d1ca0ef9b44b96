"""A digits CNN built and trained in Keras, converted by TensorFlow to float, int8 and 16x8 ``.tflite``.

The same float model is the starting point of TensorFlow's PTQ and of edgeinfer's (through the
float ``.tflite`` import), so the two quantizers are compared on identical weights. Files are
cached under ``$EDGEINFER_CACHE/tflite`` (training and conversion take TensorFlow ~15 s once).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tflite_models import cache_dir

N_TRAIN, N_CAL = 1300, 200


def digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits as NHWC float32 in [0, 1] and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32)[..., None], d.target.astype(np.int64)


def _convert(tf, model, scheme: str, cal: np.ndarray) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if scheme != "float":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([cal[i:i + 1]] for i in range(len(cal)))
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if scheme == "int8" else
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return conv.convert()


def build(tf) -> dict[str, Path]:
    """Paths of the float, int8 (float I/O) and 16x8 (float I/O) conversions of the trained CNN."""
    paths = {s: cache_dir() / f"digits_cnn_{s}.tflite" for s in ("float", "int8", "int16x8")}
    if all(p.exists() for p in paths.values()):
        return paths
    X, y = digits()
    tf.keras.utils.set_random_seed(0)
    k, L = tf.keras, tf.keras.layers
    x = k.Input((8, 8, 1), batch_size=1)
    h = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    h = L.DepthwiseConv2D(3, padding="same", activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = L.AveragePooling2D(2)(h)
    h = L.Dense(32, activation="relu")(L.Flatten()(h))
    model = k.Model(x, L.Dense(10)(h))
    train = k.Model(model.input, model.output)
    train.compile(k.optimizers.Adam(0.01), k.losses.SparseCategoricalCrossentropy(from_logits=True))
    # batch 1 in the graph; train through a copy that accepts any batch
    flex = k.Model.from_config(train.get_config() | {"layers": [
        {**ly, "config": {**ly["config"], "batch_shape": (None, 8, 8, 1)}} if ly["class_name"] == "InputLayer" else ly
        for ly in train.get_config()["layers"]]})
    flex.compile(k.optimizers.Adam(0.01), k.losses.SparseCategoricalCrossentropy(from_logits=True))
    flex.fit(X[:N_TRAIN], y[:N_TRAIN], batch_size=32, epochs=25, verbose=0)
    model.set_weights(flex.get_weights())
    cal = X[:N_CAL]
    for s, p in paths.items():
        tmp = p.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(_convert(tf, model, s, cal))
        os.replace(tmp, p)
    return paths


def build_float_ops(tf) -> Path:
    """A float model using every op the float importer maps (untrained weights: only agreement counts)."""
    path = cache_dir() / "float_ops.tflite"
    if path.exists():
        return path
    tf.keras.utils.set_random_seed(1)
    k, L = tf.keras, tf.keras.layers
    x = k.Input((7, 6, 3), batch_size=1)
    h = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    a = L.Conv2D(6, 3, strides=2, padding="same", activation="relu6")(h)
    b = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(h)
    b = L.MaxPooling2D(2, padding="same")(b)
    s = L.Add()([a, b])
    m = L.Multiply()([L.Activation("sigmoid")(a), L.Activation("tanh")(s)])
    c = L.Concatenate()([s, m, L.ReLU()(a)])
    c = L.AveragePooling2D(2, padding="same")(c)
    g = L.GlobalAveragePooling2D()(c)
    y = L.Dense(5, activation="tanh")(g)
    model = k.Model(x, L.Softmax()(L.Dense(4)(L.Concatenate()([y, L.Dense(3)(L.Flatten()(c))]))))
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(_convert(tf, model, "float", np.zeros((1, 7, 6, 3), np.float32)))
    os.replace(tmp, path)
    return path
