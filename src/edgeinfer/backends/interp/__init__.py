"""The interpreter backend: a compact ``.eim`` model file run in place by a C interpreter (``runtime/``)."""
