"""The default optimisation pipeline run by the frontends before any backend sees a graph."""

from __future__ import annotations

from edgeinfer.ir.graph import Graph
from edgeinfer.passes.dead_code import remove_dead_code
from edgeinfer.passes.fold_batchnorm import fold_batchnorm
from edgeinfer.passes.fold_constants import fold_constants
from edgeinfer.passes.fuse_activations import fuse_activations


def optimize(graph: Graph) -> Graph:
    """Constant folding, BatchNorm folding, activation fusion, dead-code removal (in that order).

    >>> # g = optimize(from_onnx(path, optimize=False))
    """
    return remove_dead_code(fuse_activations(fold_batchnorm(fold_constants(graph))))
