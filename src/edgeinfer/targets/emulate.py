"""Run a harness ELF under QEMU (system or user mode) or natively; parse what it reports.

Instruction counts come from QEMU's own logs, at the granularity of translation blocks:
``-d in_asm`` prints each block's guest instructions when it is translated, and with
block chaining off ``-d exec`` writes one line per executed block (its host code address
and guest start address). Every instruction of a block runs each time the block does
(no exceptions are taken inside the measured region), so per-address counts are exact
and equal what one-instruction blocks would give, with a log 5-20x smaller: that is what
makes models of tens of millions of instructions countable. Blocks are keyed by host
address in log order, so a retranslated block (new code, same start) is counted with its
own instructions. The harness's ``ei_begin``/``ei_end`` markers cut the block stream into
inferences. Debian's QEMU ships no TCG plugins, and this needs none.
QEMU does not model the cycle counter (DWT CYCCNT), so cycles are estimated from
these counts elsewhere (:mod:`edgeinfer.targets.cycles`).
"""

from __future__ import annotations

import functools
import mmap
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

_LOG = re.compile(rb"^(?:Trace \d+: 0x([0-9a-f]+) \[[0-9a-f]+/([0-9a-f]+)/|IN:[^\n]*\n((?:0x[0-9a-f]+:[^\n]*\n)+))",
                  re.M)
_INSN = re.compile(rb"^0x([0-9a-f]+):", re.M)
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
    """Log translated blocks (in_asm) and every block execution (exec with chaining off)."""
    del exe, system  # the same options in system and user mode, on every QEMU since 2.x
    return ["-d", "in_asm,exec,nochain", "-D", str(log)]


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


def _cut(log: bytes | mmap.mmap, begin: int, end: int) -> tuple[Counter | None, list[Counter]]:
    """Per-address instruction counts of each [ei_begin, ei_end) window; the first is the calibration.

    Blocks are counted per window, then expanded to their instructions' addresses.
    """
    blocks: list[tuple[int, ...]] = []            # block id -> guest addresses of its instructions
    by_host: dict[bytes, int] = {}               # host code address -> block id (latest translation)
    pending: dict[int, int] = {}                 # translated, not yet executed: guest start -> block id
    windows: list[Counter] = []
    cur: Counter | None = None
    for m in _LOG.finditer(log):
        body = m.group(3)
        if body is not None:
            pcs = tuple(int(a, 16) for a in _INSN.findall(body))
            if pcs:
                blocks.append(pcs)
                pending[pcs[0]] = len(blocks) - 1
            continue
        pc = int(m.group(2), 16)
        host = m.group(1)
        bid = pending.pop(pc, None)
        if bid is not None:
            by_host[host] = bid
        else:
            bid = by_host.get(host)
            if bid is None:  # a block whose translation was not logged: count its first instruction
                blocks.append((pc,))
                bid = by_host[host] = len(blocks) - 1
        if pc == begin:
            cur = Counter()
        elif pc == end and cur is not None:
            windows.append(cur)
            cur = None
            continue
        if cur is not None:
            cur[bid] += 1
    out: list[Counter] = []
    for w in windows:
        c: Counter = Counter()
        for bid, n in w.items():
            for pc in blocks[bid]:
                c[pc] += n
        out.append(c)
    if not out:
        return None, []
    return out[0], out[1:]


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
            with open(log, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                res.calibration, res.rows = _cut(mm, *markers)
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
