"""Nodes of the IR: one op applied to named input tensors, producing named outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    """One operation. ``inputs`` may hold ``""`` for an omitted optional input (as ONNX).

    >>> Node("Relu", ["x"], ["y"]).op
    'Relu'
    """

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)
