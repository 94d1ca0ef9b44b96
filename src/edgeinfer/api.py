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
