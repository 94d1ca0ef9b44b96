"""Run a harness ELF under QEMU (system or user mode) or natively; parse what it reports.

Instruction counts come from QEMU's own execution log: with one guest instruction per
translation block and block chaining off, ``-d exec`` writes one line per executed
instruction, with its address. The harness's ``ei_begin``/``ei_end`` markers cut that
stream into inferences. Debian's QEMU ships no TCG plugins, and this needs none.
QEMU does not model the cycle counter (DWT CYCCNT), so cycles are estimated from
these counts elsewhere (:mod:`edgeinfer.targets.cycles`).
"""

from __future__ import annotations

import functools
import platform
import re
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeinfer.errors import ToolchainError
from edgeinfer.targets.boards import Board
from edgeinfer.targets.crossbuild import require_tool

_TRACE_PC = re.compile(rb"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/", re.M)
_OUT = re.compile(r"^EI_OUT (\d+) (\d+) ([0-9a-f]*)$", re.M)


@dataclass
class RunResult:
    """What one emulated run reported: raw outputs per row, stack high-water mark, traces."""

    outputs: dict[tuple[int, int], bytes] = field(default_factory=dict)
    stack_used: int | None = None
    rows: list[Counter] = field(default_factory=list)
    calibration: Counter | None = None
    console: str = ""


@functools.cache
def _qemu_version(exe: str) -> tuple[int, int]:
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    m = re.search(r"version (\d+)\.(\d+)", r.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _trace_args(exe: str, system: bool, log: Path) -> list[str]:
    # QEMU 8.1 renamed -singlestep; both spellings mean one instruction per block
    if _qemu_version(exe) >= (8, 1):
        one = ["-accel", "tcg,one-insn-per-tb=on"] if system else ["-one-insn-per-tb"]
    else:
        one = ["-singlestep"]
    return [*one, "-d", "exec,nochain", "-D", str(log)]


def command(board: Board, elf: Path, log: Path | None) -> list[str]:
    """The command line that runs ``elf`` on ``board``'s emulator (tracing into ``log`` if given)."""
    kind = board.emulator.get("kind")
    if kind == "qemu-system":
        cmd = list(board.emulator["command"])
        exe = require_tool(cmd[0], board)
        cmd[0] = exe
        cmd += ["-nographic", "-monitor", "none", "-serial", "none", "-semihosting", "-icount", "shift=0"]
        if log is not None:
            cmd += _trace_args(exe, True, log)
        return [*cmd, "-kernel", str(elf)]
    if kind == "qemu-user" or (kind == "native" and log is not None):
        cmd = list(board.emulator["command"] if kind == "qemu-user" else board.emulator.get("count_command", []))
        if not cmd:
            raise ToolchainError(f"target {board.name!r} has no way to count instructions")
        exe = require_tool(cmd[0], board)
        cmd[0] = exe
        if log is not None:
            cmd += _trace_args(exe, False, log)
        return [*cmd, str(elf)]
    return [str(elf)]


def can_count(board: Board) -> bool:
    """Whether instruction counts are available (the host needs qemu for its own ISA)."""
    if board.emulator.get("kind") != "native":
        return True
    return bool(board.emulator.get("count_command")) and platform.machine() in ("x86_64", "AMD64")


def _cut(pcs: list[int], begin: int, end: int) -> tuple[Counter | None, list[Counter]]:
    """Split the executed addresses into [ei_begin, ei_end) windows; the first is the calibration."""
    windows: list[Counter] = []
    cur: list[int] | None = None
    for pc in pcs:
        if pc == begin:
            cur = []
        elif pc == end and cur is not None:
            windows.append(Counter(cur))
            cur = None
            continue
        if cur is not None:
            cur.append(pc)
    if not windows:
        return None, []
    return windows[0], windows[1:]


def run(board: Board, elf: Path, markers: tuple[int, int] | None = None, timeout: float = 120) -> RunResult:
    """Run ``elf``; with ``markers`` (addresses of ei_begin, ei_end) also count instructions.

    >>> # r = run(get_board("cortex-m4"), Path("out/toy.elf")); r.outputs[(0, 0)]
    """
    with tempfile.TemporaryDirectory(prefix="edgeinfer_run_") as tmp:
        log = Path(tmp, "exec.log") if markers is not None else None
        cmd = command(board, elf, log)
        try:
            # QEMU writes the semihosting console to stderr, Linux programs to stdout: read both
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolchainError(f"running on {board.name} did not finish in {timeout:.0f} s "
                                 f"({' '.join(cmd)}); the program may have hung") from None
        console = r.stdout.decode(errors="replace")
        if r.returncode != 0 or "EI_DONE" not in console:
            raise ToolchainError(f"running on {board.name} failed (exit status {r.returncode}; "
                                 f"{' '.join(cmd)}):\n{console[-3000:]}")
        res = RunResult(console=console)
        for m in _OUT.finditer(console):
            res.outputs[(int(m.group(1)), int(m.group(2)))] = bytes.fromhex(m.group(3))
        ms = re.search(r"^EI_STACK (\d+)$", console, re.M)
        if ms and int(ms.group(1)) > 0:
            res.stack_used = int(ms.group(1))
        if log is not None and markers is not None:
            pcs = [int(x, 16) for x in _TRACE_PC.findall(log.read_bytes())]
            res.calibration, res.rows = _cut(pcs, *markers)
            if res.calibration is None:
                raise ToolchainError(f"the execution log of {board.name} has no ei_begin/ei_end markers; "
                                     f"this QEMU ({cmd[0]}) may not support -d exec")
    return res


def decode_outputs(res: RunResult, signature: dict, n_rows: int) -> list[np.ndarray]:
    """The reported bytes as one array per model output, rows stacked."""
    outs = []
    for i, (_, dt, numel) in enumerate(signature["outputs"]):
        rows = []
        for r in range(n_rows):
            raw = res.outputs.get((r, i))
            if raw is None:
                raise ToolchainError(f"the target did not report output {i} of row {r}")
            rows.append(np.frombuffer(raw, dtype=np.dtype(dt)).reshape(numel))
        outs.append(np.stack(rows))
    return outs
