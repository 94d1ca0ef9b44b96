"""Board descriptions: one TOML file per board, loaded into :class:`Board`.

Boards are data so that adding one (a user's own MCU, a bigger flash variant) needs no
code: drop a ``.toml`` beside the bundled ones, into a folder named by the
``EDGEINFER_BOARDS`` environment variable (``:``-separated), or pass its path as the
target. Every board names a *family* (how it is built and run: ``cortex-m``, ``riscv32``,
``linux-user``, ``host``) so a new board of a known family works at once.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.errors import EdgeInferError

BOARD_DIR = Path(__file__).resolve().parent / "boards"
FAMILIES = ("cortex-m", "riscv32", "linux-user", "host")
CYCLE_CLASSES = ("alu", "mul", "div", "load", "store", "branch", "fp", "fp_div", "multiple_base",
                 "multiple_per_reg")


@dataclass(frozen=True)
class Board:
    """One target board: how to build for it, how to run it, what it has and costs."""

    name: str
    description: str
    family: str
    isa: str
    arch: str
    clock_mhz: float
    flash_bytes: int
    ram_bytes: int
    stack_bytes: int
    active_power_mw: float
    cc: str
    cflags: list[str]
    ldflags: list[str]
    memory: dict[str, int]
    emulator: dict[str, Any]
    cycles: dict[str, float]
    fpu: str = "none"
    simd: str = "none"
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _board_dirs() -> list[Path]:
    dirs = [BOARD_DIR]
    for d in os.environ.get("EDGEINFER_BOARDS", "").split(os.pathsep):
        if d:
            dirs.append(Path(d))
    return dirs


def load_board(path: str | Path) -> Board:
    """Read and check one board file; every missing key is named in the error.

    >>> # load_board("boards/my-stm32.toml").flash_bytes
    """
    p = Path(path)
    try:
        d = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise EdgeInferError(f"board file {p} is unreadable: {e}") from None
    need = ("name", "family", "isa", "clock_mhz", "flash_bytes", "ram_bytes", "active_power_mw",
            "toolchain", "memory", "emulator", "cycles")
    missing = [k for k in need if k not in d]
    if missing:
        raise EdgeInferError(f"board file {p} lacks {', '.join(missing)}; copy a bundled board "
                             f"({BOARD_DIR}) and edit it")
    if d["family"] not in FAMILIES:
        raise EdgeInferError(f"board file {p}: family {d['family']!r} is not one of {', '.join(FAMILIES)}")
    cyc = {k: float(v) for k, v in d["cycles"].items() if k != "source"}
    lacking = [k for k in CYCLE_CLASSES if k not in cyc]
    if lacking:
        raise EdgeInferError(f"board file {p}: [cycles] lacks {', '.join(lacking)}")
    tc = d["toolchain"]
    known = set(need) | {"description", "arch", "fpu", "simd", "stack_bytes"}
    return Board(name=d["name"], description=d.get("description", ""), family=d["family"], isa=d["isa"],
                 arch=d.get("arch", ""), clock_mhz=float(d["clock_mhz"]), flash_bytes=int(d["flash_bytes"]),
                 ram_bytes=int(d["ram_bytes"]), stack_bytes=int(d.get("stack_bytes", 4096)),
                 active_power_mw=float(d["active_power_mw"]), cc=tc["cc"], cflags=list(tc.get("cflags", [])),
                 ldflags=list(tc.get("ldflags", [])), memory={k: int(v) for k, v in d["memory"].items()},
                 emulator=dict(d["emulator"]), cycles=cyc, fpu=str(d.get("fpu", "none")),
                 simd=str(d.get("simd", "none")), path=p,
                 extra={k: v for k, v in d.items() if k not in known})


def list_boards() -> dict[str, Board]:
    """Every board found, by name; a user's board of the same name overrides a bundled one."""
    boards: dict[str, Board] = {}
    for d in _board_dirs():
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.toml")):
            b = load_board(f)
            boards[b.name] = b
    return boards


def get_board(target: str | Path | Board) -> Board:
    """A board by name, or from a ``.toml`` path.

    >>> # get_board("cortex-m4").clock_mhz
    """
    if isinstance(target, Board):
        return target
    s = str(target)
    if s.endswith(".toml"):
        if not Path(s).is_file():
            raise EdgeInferError(f"board file {s!r} does not exist")
        return load_board(s)
    boards = list_boards()
    if s not in boards:
        raise EdgeInferError(f"unknown target {s!r}; known targets: {', '.join(sorted(boards))} "
                             "(`edgeinfer targets` lists them; add your own board file to a folder "
                             "named by EDGEINFER_BOARDS, or pass the path of a .toml board file)")
    return boards[s]


def _kib(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):g} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):g} MiB"
    return f"{n / 1024:g} KiB"


def format_targets_table() -> str:
    """The boards as a text table (``edgeinfer targets``)."""
    rows = [("target", "arch", "clock", "flash", "RAM", "FPU", "power", "compiler", "runs on")]
    for b in sorted(list_boards().values(), key=lambda b: b.name):
        runner = " ".join(b.emulator.get("command", [])[:3]) or "native"
        rows.append((b.name, b.arch, f"{b.clock_mhz:g} MHz", _kib(b.flash_bytes), _kib(b.ram_bytes), b.fpu,
                     f"{b.active_power_mw:g} mW", b.cc, runner))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
