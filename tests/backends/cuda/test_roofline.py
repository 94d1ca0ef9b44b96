"""Jetson board files load with their GPU tables, and the roofline is the slower of compute and memory."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.backends.cuda.roofline import roofline
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir import Graph
from edgeinfer.targets.boards import get_board


def _dense(n_in: int, n_out: int) -> Graph:
    g = Graph("dense")
    g.add_input("x", (None, n_in))
    w = g.add_const("w", np.ones((n_in, n_out), np.float32))
    g.add_node("MatMul", ["x", w], ["y"])
    g.outputs.append("y")
    return g.infer_shapes()


@pytest.mark.parametrize("name", ["jetson-nano", "jetson-orin"])
def test_boards_have_gpu_tables(name):
    b = get_board(name)
    gpu = b.extra["gpu"]
    assert gpu["peak_fp16_gflops"] == pytest.approx(2 * gpu["peak_fp32_gflops"], rel=0.01)
    assert gpu["memory_bandwidth_gbs"] > 0 and gpu["power_w"] > 0 and b.family == "linux-user"


def test_roofline_bounds():
    small, big = _dense(4, 4), _dense(512, 512)
    r1, r2 = roofline(small, "jetson-nano"), roofline(big, "jetson-nano")
    assert r1["bound"] == "memory" and r2["bound"] == "compute"
    assert r2["seconds"] == pytest.approx(2 * 512 * 512 * 10_000 / 235.9e9)
    assert roofline(big, "jetson-orin")["rows_per_s"] > r2["rows_per_s"]
    with pytest.raises(EdgeInferError, match="gpu"):
        roofline(small, "cortex-m4")
