"""The C code-generation backend."""

from edgeinfer.backends.c.emit import CSources, generate

__all__ = ["CSources", "generate"]
