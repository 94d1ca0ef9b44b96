"""The op registry: every IR op is declared once, with its three parts.

An op definition is a subclass of :class:`OpDef` decorated with :func:`register`:

* ``infer(node, inputs)`` -> list of ``(shape, dtype)``, one per output; raises
  ``GraphError`` for a bad attribute or input shape. ``inputs`` are the input
  :class:`Tensor` objects (``None`` for an omitted optional input), so constant
  inputs (a Reshape's shape) can be read.
* ``reference(node, *arrays)`` -> tuple of numpy arrays: the golden answer every
  backend is checked against. It must accept any batch size in dimension 0.
* ``cost(node, inputs, outputs)`` -> ``{"macs": int, "comparisons": int}`` for one
  sample (symbolic batch counted as 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edgeinfer.errors import GraphError, UnsupportedModelError

if TYPE_CHECKING:
    from edgeinfer.ir.node import Node
    from edgeinfer.ir.tensor import Tensor

_OPS: dict[str, type[OpDef]] = {}


class OpDef:
    """Base class of op definitions; see the module docstring."""

    name: ClassVar[str] = ""

    @staticmethod
    def infer(node: Node, inputs: list[Tensor | None]) -> list[tuple[tuple, str]]:
        raise NotImplementedError

    @staticmethod
    def reference(node: Node, *xs: np.ndarray | None) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    @staticmethod
    def cost(node: Node, inputs: list[Tensor | None], outputs: list[Tensor]) -> dict[str, int]:
        return {"macs": 0, "comparisons": 0}


def register(cls: type[OpDef]) -> type[OpDef]:
    """Class decorator adding an op definition to the registry under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no op name")
    if cls.name in _OPS and _OPS[cls.name] is not cls:
        raise TypeError(f"op {cls.name!r} is defined twice")
    _OPS[cls.name] = cls
    return cls


def _load_all() -> None:
    # Importing the ops package registers every op; done lazily to keep import cheap.
    import edgeinfer.ir.ops  # noqa: F401


def get_op(name: str) -> type[OpDef]:
    """The definition of op ``name``; raises UnsupportedModelError naming the known ops."""
    _load_all()
    try:
        return _OPS[name]
    except KeyError:
        raise UnsupportedModelError(
            f"unknown IR op {name!r}; known ops: {', '.join(sorted(_OPS))}") from None


def known_ops() -> list[str]:
    _load_all()
    return sorted(_OPS)


def require(cond: Any, node: Node, msg: str) -> None:
    """Raise a GraphError naming the node when ``cond`` is false (for use in ``infer``)."""
    if not cond:
        raise GraphError(f"{node.op} node {node.name or node.outputs}: {msg}")
