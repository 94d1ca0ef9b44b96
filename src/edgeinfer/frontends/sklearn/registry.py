"""Registry of scikit-learn estimator converters.

A converter is ``convert(est, graph, x) -> Converted``: it appends nodes to ``graph``
that read the float32 tensor ``x`` of shape (None, n_features) and returns the names of
its output tensors and the task metadata. A final estimator of a classifier returns
``outputs=[label_index (int32, shape (None,)), scores (float32, (None, n_classes))]``;
a regressor returns ``outputs=[values (float32, (None, n_targets))]``; a transformer
(scaler, PCA) returns ``outputs=[transformed (float32, (None, k))]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeinfer.ir.graph import Graph


@dataclass
class Converted:
    outputs: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)


Converter = Callable[[Any, Graph, str], Converted]
CONVERTERS: dict[str, Converter] = {}
TRANSFORMERS: set[str] = set()


def sk_converter(*class_names: str, transformer: bool = False) -> Callable[[Converter], Converter]:
    """Register ``fn`` as the converter of the named estimator classes."""
    def deco(fn: Converter) -> Converter:
        for c in class_names:
            CONVERTERS[c] = fn
            if transformer:
                TRANSFORMERS.add(c)
        return fn
    return deco
