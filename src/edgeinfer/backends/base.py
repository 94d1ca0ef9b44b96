"""What every backend's converted model offers: predict, predict_proba, save, footprint.

A backend subclasses :class:`CompiledModel` and implements ``_run(arrays)`` (all graph
outputs for a batch) plus ``save`` and ``footprint``; input checking and the mapping
from class index to the estimator's own labels are done here, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.errors import EdgeInferError, InputError
from edgeinfer.ir.graph import Graph


def refuse_non_finite(arr: np.ndarray, rows: np.ndarray | None = None) -> None:
    """Raise the NaN/inf refusal naming the first bad row and feature (none found: return). With
    ``rows`` (ascending), only those rows of ``arr`` are looked at."""
    part = arr if rows is None else arr[rows]
    bad = np.argwhere(~np.isfinite(part.reshape(len(part), -1)))
    if bad.size:
        row = bad[0][0] if rows is None else rows[bad[0][0]]
        raise InputError(f"input contains NaN or infinity (first at row {row}, "
                         f"feature {bad[0][1]}); impute or drop those values first")


class CompiledModel:
    """A Graph made runnable by one backend."""

    backend = "base"
    # True where the backend scans a float batch for NaN/inf itself, fused with a pass it makes anyway
    # (the torch backend: the batch's range); it calls ``refuse_non_finite`` when it finds one
    scans_finite = False

    def __init__(self, graph: Graph, name: str) -> None:
        self.graph = graph
        self.name = name

    # ------------------------------------------------------------- I/O description
    @property
    def input_shape(self) -> tuple:
        """Shape of one sample (batch dimension dropped)."""
        return tuple(self.graph.tensors[self.graph.inputs[0]].shape[1:])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.graph.tensors[self.graph.inputs[0]].dtype)

    @property
    def _main_output(self) -> str:
        md = self.graph.metadata
        if md.get("task") == "classification":
            return self.graph.outputs[1]
        return self.graph.outputs[0]

    @property
    def output_shape(self) -> tuple:
        return tuple(self.graph.tensors[self._main_output].shape[1:])

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self.graph.tensors[self._main_output].dtype)

    @property
    def classes_(self) -> np.ndarray | None:
        c = self.graph.metadata.get("classes")
        return None if c is None else np.asarray(c)

    # ------------------------------------------------------------- running
    def check_input(self, X: Any) -> np.ndarray:
        """Validate at the edge: shape, dtype, finiteness. Returns a contiguous batch."""
        t = self.graph.tensors[self.graph.inputs[0]]
        want = tuple(t.shape[1:])
        try:
            arr = np.asarray(X)
        except Exception as e:  # ragged lists and the like
            raise InputError(f"input cannot be read as an array: {e}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InputError(f"input must be numeric, got dtype {arr.dtype}")
        if arr.shape == want:
            arr = arr[None]
        if arr.ndim != len(want) + 1 or tuple(arr.shape[1:]) != want:
            raise InputError(f"model {self.name!r} expects samples of shape {want} "
                             f"(so X of shape (n, {', '.join(map(str, want))})), got {arr.shape}")
        dt = np.dtype(t.dtype)
        iq = self.graph.metadata.get("input_quantization")
        if np.issubdtype(arr.dtype, np.floating) and not (self.scans_finite and iq is None) \
                and not np.isfinite(arr).all():
            refuse_non_finite(arr)
        if iq is not None and np.issubdtype(arr.dtype, np.floating):
            # a fixed-point model: float features are quantized here, as firmware would quantize them
            from edgeinfer.ir.ops.fixed_point import quantize_features

            arr = quantize_features(arr, iq)
        if np.issubdtype(dt, np.integer) and np.issubdtype(arr.dtype, np.integer):
            info = np.iinfo(dt)
            if arr.size and (arr.min() < info.min or arr.max() > info.max):
                raise InputError(f"input values must fit {dt} ([{info.min}, {info.max}])")
        return np.ascontiguousarray(arr, dtype=dt)

    def run(self, X: Any) -> dict[str, np.ndarray]:
        """All graph outputs for a batch, by name, computed by this backend."""
        arr = self.check_input(X)
        outs = self._run([arr])
        return dict(zip(self.graph.outputs, outs, strict=False))

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """Labels (classifiers, in the estimator's own labels), values (regressors), or raw output."""
        md = self.graph.metadata
        outs = self.run(X)
        if md.get("task") == "classification":
            idx = outs[self.graph.outputs[0]].reshape(-1).astype(np.int64)
            return np.asarray(md["classes"])[idx]
        if md.get("task") == "regression":
            y = outs[self.graph.outputs[0]]
            if "score_scale" in md and np.issubdtype(y.dtype, np.integer):
                # a fixed-point regressor returns integers in units of score_scale: give target units
                y = y.astype(np.float64) * md["score_scale"]
            y = y.reshape(len(y), -1)
            return y[:, 0] if y.shape[1] == 1 else y
        return outs[self.graph.outputs[0]]

    def predict_proba(self, X: Any) -> np.ndarray:
        md = self.graph.metadata
        if md.get("task") != "classification" or not md.get("has_proba", False):
            raise EdgeInferError(f"model {self.name!r} has no class probabilities "
                                 f"({md.get('estimator', 'this model')} does not provide predict_proba); "
                                 "use decision_function or predict")
        return self.run(X)[self.graph.outputs[1]]

    def decision_function(self, X: Any) -> np.ndarray:
        md = self.graph.metadata
        if md.get("task") != "classification":
            raise EdgeInferError("decision_function is for classifiers")
        out = self.run(X)[self.graph.outputs[1]]
        return out

    def save(self, out_dir: str | Path) -> list[Path]:
        raise NotImplementedError

    def footprint(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} backend={self.backend} "
                f"input={self.input_shape} {self.input_dtype} ops={self.graph.ops()}>")
