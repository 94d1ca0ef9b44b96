"""Cycle estimates: executed instructions, classified from the ELF's disassembly, times the
board's cost per class.

An estimate, not a measurement: the cost tables (in each board file, with their source)
assume zero-wait-state memory and a fixed cost per taken/not-taken branch. Where a board
gives ``load_pipelined`` (Cortex-M3/M4: neighbouring single loads pipeline their address
and data phases), a single load that directly follows another single load in the code
costs that instead of ``load``; "follows" is judged on the disassembly, so a load reached
by a branch onto it is, rarely, priced as if it followed its neighbour above.
See docs/cycle_model.md for the model and its error against published timings. What the
estimate gets right is the instruction mix: a model heavy in soft-float calls or
divisions costs more per instruction than one of compares and loads.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from edgeinfer.errors import ToolchainError
from edgeinfer.targets.boards import Board

_LINE = re.compile(r"^\s*([0-9a-f]+):\t[0-9a-f ]+\t(\S+)[ \t]*(.*)$", re.M)
_COND = r"(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?"


def _thumb(mn: str, ops: str) -> tuple[str, int]:
    m = re.sub(r"\.(n|w)$", "", mn)
    if re.fullmatch(rf"(b|bl|blx|bx|cbz|cbnz|tbb|tbh){_COND}", m):
        return "branch", 1
    if re.fullmatch(r"(push|pop|ldm\w*|stm\w*|vpush|vpop|vldm\w*|vstm\w*)", m):
        regs = 0
        for part in re.findall(r"\{([^}]*)\}", ops)[:1]:
            for r in part.split(","):
                a = re.findall(r"\d+", r)
                regs += int(a[1]) - int(a[0]) + 1 if "-" in r and len(a) == 2 else 1
        return ("load" if m.startswith(("pop", "ldm", "vpop", "vldm")) else "store") + "_multiple", max(regs, 1)
    if m.startswith(("vdiv", "vsqrt")):
        return "fp_div", 1
    if m.startswith(("vldr", "ldr", "ldrex")):
        return "load", 1
    if m.startswith(("vstr", "str")):
        return "store", 1
    if m.startswith("v"):
        return "fp", 1
    if re.fullmatch(rf"(sdiv|udiv){_COND}", m):
        return "div", 1
    if re.match(r"(mul|mla|mls|smul|umul|smla|umla|smlal|umlal|smmul|smmla|smlad|smuad)", m):
        return "mul", 1
    return "alu", 1


def _riscv(mn: str, ops: str) -> tuple[str, int]:
    m = mn[2:] if mn.startswith("c.") else mn
    if m in ("j", "jal", "jalr", "jr", "ret", "call", "tail", "beqz", "bnez", "blez", "bgez", "bltz", "bgtz",
             "bgt", "ble", "bgtu", "bleu") or re.fullmatch(r"b(eq|ne|lt|ge|ltu|geu)", m):
        return "branch", 1
    if re.fullmatch(r"(lw|lh|lhu|lb|lbu|flw|fld|lwsp|flwsp|fldsp)", m):
        return "load", 1
    if re.fullmatch(r"(sw|sh|sb|fsw|fsd|swsp|fswsp|fsdsp)", m):
        return "store", 1
    if re.fullmatch(r"(div|divu|rem|remu)", m):
        return "div", 1
    if m.startswith("mul"):
        return "mul", 1
    if m.startswith(("fdiv", "fsqrt")):
        return "fp_div", 1
    if m.startswith("f"):
        return "fp", 1
    return "alu", 1


def _aarch64(mn: str, ops: str) -> tuple[str, int]:
    m = mn.split(".")[0]
    if m in ("b", "bl", "br", "blr", "ret", "cbz", "cbnz", "tbz", "tbnz"):
        return "branch", 1
    if m.startswith(("ldp", "ldnp")):
        return "load_multiple", 2
    if m.startswith(("stp", "stnp")):
        return "store_multiple", 2
    if m.startswith(("ld", "prfm")):
        return "load", 1
    if m.startswith("st"):
        return "store", 1
    if m in ("sdiv", "udiv"):
        return "div", 1
    if m in ("mul", "madd", "msub", "smull", "umull", "smaddl", "umaddl", "smulh", "umulh", "mneg"):
        return "mul", 1
    if m in ("fdiv", "fsqrt"):
        return "fp_div", 1
    if m.startswith(("f", "scvtf", "ucvtf")):
        return "fp", 1
    return "alu", 1


_CLASSIFIERS = {"thumb": _thumb, "riscv": _riscv, "aarch64": _aarch64}


def objdump_for(board: Board) -> str | None:
    """The binutils objdump that matches the board's compiler."""
    cc = Path(board.cc).name
    if cc.endswith("gcc") and "-" in cc:
        tool = cc[: -len("gcc")] + "objdump"
    else:
        tool = "objdump"
    return shutil.which(tool)


def classify(board: Board, elf: Path, pcs: set[int]) -> dict[int, tuple[str, int]]:
    """Address -> (instruction class, register count) for the executed addresses."""
    fn = _CLASSIFIERS.get(board.isa)
    tool = objdump_for(board)
    if fn is None or tool is None:
        return {pc: ("alu", 1) for pc in pcs}  # unknown ISA: every instruction costs the ALU figure
    r = subprocess.run([tool, "-d", str(elf)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolchainError(f"{tool} -d {elf} failed: {r.stderr[-1000:]}")
    out: dict[int, tuple[str, int]] = {}
    prev = ""
    for m in _LINE.finditer(r.stdout):
        a = int(m.group(1), 16)
        cls = fn(m.group(2), m.group(3))
        if a in pcs:
            out[a] = ("load_pipelined", 1) if cls[0] == "load" and prev == "load" else cls
        prev = cls[0]
    for pc in pcs:
        out.setdefault(pc, ("alu", 1))
    return out


def cost(board: Board, counts: Counter, classes: dict[int, tuple[str, int]]) -> tuple[float, Counter]:
    """Estimated cycles of one trace window and its instruction mix by class."""
    c = board.cycles
    total = 0.0
    mix: Counter = Counter()
    for pc, n in counts.items():
        cls, regs = classes.get(pc, ("alu", 1))
        if cls.endswith("_multiple"):
            each = c["multiple_base"] + c["multiple_per_reg"] * regs
            mix[cls.split("_")[0]] += n
        elif cls == "load_pipelined":
            each = c.get("load_pipelined", c["load"])
            mix["load"] += n
        else:
            each = c[cls]
            mix[cls] += n
        total += each * n
    return total, mix
