"""Roofline estimate of a graph on a GPU board: the slower of compute and memory traffic.

Work per row from ``ir.graph_cost``: 2 FLOP per MAC plus one operation per comparison (a tree's
comparisons are its depth per tree). Bytes per batch: the parameters once (they stay in cache or
constant memory across rows only if they fit; counted once as the optimistic bound) plus, per row,
the input, every activation tensor written and read once. It is an upper bound on throughput, to
set beside a measured figure, not a prediction of it.
"""

from __future__ import annotations

from typing import Any

from edgeinfer.errors import EdgeInferError
from edgeinfer.ir.cost import graph_cost
from edgeinfer.ir.graph import Graph


def roofline(graph: Graph, board: Any, batch: int = 10_000, precision: str = "fp32") -> dict[str, Any]:
    """Rows/s, time and energy bounds for ``batch`` rows on ``board`` (a name or Board with a [gpu] table).

    >>> # roofline(edgeinfer.load_graph(rf), "jetson-nano")["rows_per_s"]
    """
    from edgeinfer.targets.boards import get_board

    b = get_board(board)
    gpu = b.extra.get("gpu")
    if not gpu:
        raise EdgeInferError(f"board {b.name!r} has no [gpu] table (peak FLOP/s, memory bandwidth)")
    if precision not in ("fp32", "fp16"):
        raise EdgeInferError("precision is fp32 or fp16")
    c = graph_cost(graph)
    inp = graph.tensors[graph.inputs[0]]
    flops_row = 2 * c["macs"] + c["comparisons"]
    bytes_row = inp.nbytes() + 2 * c["activation_bytes"]
    if precision == "fp16":
        bytes_row //= 2
    flops = flops_row * batch
    moved = c["param_bytes"] + bytes_row * batch
    peak = float(gpu[f"peak_{precision}_gflops"]) * 1e9
    bw = float(gpu["memory_bandwidth_gbs"]) * 1e9
    t_compute, t_memory = flops / peak, moved / bw
    t = max(t_compute, t_memory)
    return {"board": b.name, "batch": batch, "precision": precision, "flops": flops, "bytes": moved,
            "intensity_flop_per_byte": flops / moved if moved else float("inf"),
            "bound": "compute" if t_compute >= t_memory else "memory", "seconds": t,
            "rows_per_s": batch / t if t > 0 else float("inf"),
            "energy_j_per_row": float(gpu.get("power_w", b.active_power_mw / 1000)) * t / batch}
