"""The Python API: ``convert`` turns any supported model into a runnable, saveable artifact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeinfer.errors import EdgeInferError, ModelFileError, UnsupportedModelError
from edgeinfer.ir.graph import Graph

BACKENDS = ("c", "interp", "torch", "onnxruntime", "cuda")


def load_graph(model: Any, example_input: Any = None, *, trust_pickle: bool = False) -> Graph:
    """Turn a model object or file into an ``ir.Graph`` (the frontend is picked by type).

    >>> # g = load_graph(fitted_sklearn_estimator)
    """
    if isinstance(model, Graph):
        return model
    if isinstance(model, (str, os.PathLike)):
        return _load_file(Path(model), trust_pickle=trust_pickle)
    mod = type(model).__module__
    if mod.startswith("sklearn.") or hasattr(model, "get_params"):
        from edgeinfer.frontends.sklearn import from_sklearn

        return from_sklearn(model)
    if mod.startswith("onnx") and type(model).__name__ == "ModelProto":
        from edgeinfer.frontends.onnx import from_onnx

        return from_onnx(model)
    if mod.startswith("torch.") or any(c.__module__.startswith("torch.nn") for c in type(model).__mro__):
        from edgeinfer.frontends.torch import from_torch

        return from_torch(model, example_input)
    raise UnsupportedModelError(
        f"cannot convert an object of type {type(model).__module__}.{type(model).__name__}; "
        "give a fitted scikit-learn estimator, a torch.nn.Module (with example_input), an ONNX "
        "ModelProto, an edgeinfer Graph, or a path to a .skops/.onnx/.tflite file")


def _load_file(path: Path, trust_pickle: bool) -> Graph:
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        from edgeinfer.frontends.model_files import load_skops
        from edgeinfer.frontends.sklearn import from_sklearn

        return from_sklearn(load_skops(path))
    if suffix in (".joblib", ".pkl", ".pickle"):
        from edgeinfer.frontends.model_files import load_pickle
        from edgeinfer.frontends.sklearn import from_sklearn

        return from_sklearn(load_pickle(path, trust=trust_pickle))
    if suffix == ".onnx":
        from edgeinfer.frontends.onnx import from_onnx

        return from_onnx(str(path))
    if suffix == ".tflite":
        from edgeinfer.frontends.tflite import from_tflite

        return from_tflite(str(path))
    raise ModelFileError(f"unknown model file type {suffix!r} ({path.name}); "
                         "supported: .skops, .onnx, .tflite (and .joblib/.pkl with trust_pickle=True)")


def convert(model: Any, example_input: Any = None, *, name: str | None = None,
            backend: str = "c", trust_pickle: bool = False, **options: Any):
    """Convert ``model`` for ``backend`` and return a model with predict/save/footprint.

    >>> # m = edgeinfer.convert(clf, name="gesture"); m.predict(X); m.save("out/")
    """
    graph = load_graph(model, example_input, trust_pickle=trust_pickle)
    if name is None:
        name = _default_name(model, graph)
    if backend == "c":
        from edgeinfer.backends.c.model import CModel

        return CModel(graph, name, options)
    if backend == "interp":
        from edgeinfer.backends.interp.model import InterpModel

        return InterpModel(graph, name, options)
    if backend in ("torch", "onnxruntime"):
        from edgeinfer.backends.tensor.model import convert_tensor

        return convert_tensor(graph, name, backend=backend, **options)
    if backend == "cuda":
        from edgeinfer.backends.cuda.model import CudaModel

        return CudaModel(graph, name, options)
    raise EdgeInferError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _default_name(model: Any, graph: Graph) -> str:
    if isinstance(model, (str, os.PathLike)):
        base = Path(model).stem
    else:
        base = graph.name or "model"
    clean = "".join(c if c.isalnum() else "_" for c in base).lower().strip("_") or "model"
    return clean if not clean[0].isdigit() else "m_" + clean


def quantize(model: Any, calibration: Any, scheme: str = "int8", *, observer: str = "minmax",
             example_input: Any = None, bias_correction: bool = False, keep_float: Any = None,
             float_threshold: float | None = None) -> Graph:
    """Post-training quantization of a float model to TFLite-scheme int8 (or ``"int16x8"``) ops, float in
    and out; ``observer`` "minmax", "percentile", "mse" or "entropy"; ``keep_float`` layer names (or
    ``float_threshold``, a relative error) leave layers float. On a classical model (trees, linear
    classifier, MLP) ``scheme="int16"`` or ``"int8"`` gives its fixed-point form: integer features,
    no float in the C (``passes/quantize_classical.py``).

    >>> # q = edgeinfer.quantize(torch_cnn, calibration=X_cal, example_input=X_cal[:1]); convert(q)
    """
    import numpy as np

    from edgeinfer.passes.pipeline import optimize
    from edgeinfer.passes.quantize import quantize_graph

    graph = optimize(load_graph(model, example_input))
    return quantize_graph(graph, np.asarray(calibration, dtype=np.float32), observer=observer, scheme=scheme,
                          bias_correction=bias_correction, keep_float=keep_float, float_threshold=float_threshold)


def compare(float_model: Any, q_model: Any, X: Any, y: Any = None) -> dict[str, Any]:
    """Agreement (top-1, or max abs difference) and accuracy of two models on ``X``, plus their sizes.

    Each model is a Graph (run by the IR reference) or a converted model (run by its backend).

    >>> # edgeinfer.compare(float_graph, q_graph, X_test, y_test)["accuracy_drop"]
    """
    import numpy as np

    from edgeinfer.ir.cost import graph_cost
    from edgeinfer.ir.reference import run

    def outputs(m: Any) -> tuple[np.ndarray, Graph]:
        g = m if isinstance(m, Graph) else m.graph
        if isinstance(m, Graph):
            xm = X
            iq = m.metadata.get("input_quantization")
            if iq is not None and np.issubdtype(np.asarray(X).dtype, np.floating):
                from edgeinfer.ir.ops.fixed_point import quantize_features

                xm = quantize_features(X, iq)  # a fixed-point graph takes integer features
            raw = run(m, xm)[m.outputs[-1]]
        else:
            raw = m.run(X)[m.graph.outputs[-1]]
        val = np.asarray(raw, np.float64)
        if "score_scale" in g.metadata and np.issubdtype(np.asarray(raw).dtype, np.integer):
            val = val * g.metadata["score_scale"]  # fixed-point scores / values back in float units
        return val, g

    (a, ga), (b, gb) = outputs(float_model), outputs(q_model)
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    out: dict[str, Any] = {"max_abs_diff": float(np.abs(a - b).max()),
                           "float_param_bytes": graph_cost(ga)["param_bytes"],
                           "quantized_param_bytes": graph_cost(gb)["param_bytes"]}
    if a.shape[1] > 1:
        pa, pb = a.argmax(1), b.argmax(1)
        out["top1_agreement"] = float((pa == pb).mean())
        if y is not None:
            yy = np.asarray(y).reshape(-1)
            out["float_accuracy"], out["quantized_accuracy"] = float((pa == yy).mean()), float((pb == yy).mean())
            out["accuracy_drop"] = out["float_accuracy"] - out["quantized_accuracy"]
    elif y is not None:
        yy = np.asarray(y, np.float64).reshape(-1)
        out["float_mae"], out["quantized_mae"] = float(np.abs(a[:, 0] - yy).mean()), float(np.abs(b[:, 0] - yy).mean())
    return out
