"""Registry of C emitters, one per IR op, defined in ``backends/c/ops/*.py``.

An emitter is ``emit(ctx: EmitContext, node: Node) -> str``: it returns C statements
(inside the model's infer function) computing the node's outputs for one sample.
"""

from __future__ import annotations

from collections.abc import Callable

from edgeinfer.errors import UnsupportedModelError

Emitter = Callable[..., str]
_EMITTERS: dict[str, Emitter] = {}


def c_op(*names: str) -> Callable[[Emitter], Emitter]:
    """Decorator registering an emitter for one or more IR op names."""
    def deco(fn: Emitter) -> Emitter:
        for n in names:
            _EMITTERS[n] = fn
        return fn
    return deco


def get_emitter(op: str) -> Emitter:
    import edgeinfer.backends.c.ops  # noqa: F401  (registers every emitter)

    try:
        return _EMITTERS[op]
    except KeyError:
        raise UnsupportedModelError(
            f"the C backend has no code for op {op!r}; it supports: {', '.join(sorted(_EMITTERS))}"
        ) from None


def supported_ops() -> list[str]:
    import edgeinfer.backends.c.ops  # noqa: F401

    return sorted(_EMITTERS)
