"""Targets: boards as data files, cross-builds, runs under emulation, measurements.

>>> # from edgeinfer.targets import build, measure
>>> # build(m.sources, "cortex-m4", "out/m4")["flash_bytes"]
>>> # measure(m, target="cortex-m4", inputs=X[:4])["cycles"]
"""

from edgeinfer.targets.boards import Board, format_targets_table, get_board, list_boards, load_board
from edgeinfer.targets.crossbuild import build
from edgeinfer.targets.measure import DoesNotFitError, measure, measure_dir

__all__ = ["Board", "DoesNotFitError", "build", "format_targets_table", "get_board", "list_boards", "load_board",
           "measure", "measure_dir"]
