"""Cross-build generated C plus the measuring harness into one ELF for a board.

Every translation unit is compiled with the project's warning flags and the board's
flags, then linked against the board family's runtime: own start-up and linker script
for Cortex-M, picolibc's semihosting crt0 and ``picolibc.ld`` for RISC-V, the C library
(static) for Linux targets and the host.
"""

from __future__ import annotations

import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backends.c.build import WARN_FLAGS
from edgeinfer.backends.c.emit import CSources
from edgeinfer.errors import ToolchainError
from edgeinfer.targets.boards import Board, get_board
from edgeinfer.targets.harness import HARNESS_FILE, INPUTS_FILE, harness_c, inputs_c
from edgeinfer.targets.sizes import fit_report, map_object_sizes, section_regions, symbol_sizes

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
OPT_KERNEL_DIR = Path(__file__).resolve().parent.parent / "backends" / "kernels" / "opt"
KERNEL_SETS = ("reference", "optimized")
# The optimised kernels are written for an optimising build (register blocking, unrolled
# loops); at -Os GCC spills their accumulators. They get -O2 whatever the board's level, without
# the pre-register-allocation scheduling pass (on by default for ARM), which hoists every load
# of a blocked loop to the top and so spills the 4-row FC loop's pointers to the stack.
OPT_CFLAGS = ["-O2", "-fno-schedule-insns"]
INSTALL_HINT = "run scripts/install-toolchains.sh (Debian/Ubuntu packages)"


def require_tool(tool: str, board: Board) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"target {board.name!r} needs {tool!r}, which is not installed; {INSTALL_HINT}")
    return path


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolchainError(f"{what} failed ({' '.join(cmd)}):\n{r.stderr[-4000:]}")


def _runtime_files(board: Board) -> list[str]:
    return ["platform_cortexm.c"] if board.family == "cortex-m" else ["platform_stdio.c"]


def _link_flags(board: Board, out: Path) -> list[str]:
    mem = board.memory
    if board.family == "cortex-m":
        tpl = string.Template((RUNTIME_DIR / "cortexm.ld").read_text())
        script = tpl.substitute(flash_origin=hex(mem["flash_origin"]), ram_origin=hex(mem["ram_origin"]),
                                link_flash_bytes=hex(mem["link_flash_bytes"]),
                                link_ram_bytes=hex(mem["link_ram_bytes"]), stack_bytes=board.stack_bytes)
        (out / "ei_board.ld").write_text(script)
        return ["-nostartfiles", "-T", "ei_board.ld"]
    if board.family == "riscv32":
        return [f"-Wl,--defsym=__flash={hex(mem['flash_origin'])}",
                f"-Wl,--defsym=__flash_size={hex(mem['link_flash_bytes'])}",
                f"-Wl,--defsym=__ram={hex(mem['ram_origin'])}",
                f"-Wl,--defsym=__ram_size={hex(mem['link_ram_bytes'])}",
                f"-Wl,--defsym=__stack_size={hex(board.stack_bytes)}",
                # after the symbols, so that the script's DEFINED(__stack_size) sees them
                "-Tpicolibc.ld"]
    return []


def kernel_files(sources: CSources, kernels: str) -> dict[str, str]:
    """The sources with the kernel set swapped in: ``optimized`` replaces every reference kernel
    file that has a twin in ``backends/kernels/opt`` (same file name, same functions). C generated
    with ``kernels="optimized"`` already carries the set's own modules (``ei_opt_*.c``, calling
    the optimised code with its weight and requantization layouts); they stay whatever the set."""
    if kernels not in KERNEL_SETS:
        raise ToolchainError(f"kernels={kernels!r} is not a kernel set; use one of {', '.join(KERNEL_SETS)}")
    files = dict(sources.files)
    if kernels == "optimized":
        twins = [k for k in files if k.endswith(".c") and (OPT_KERNEL_DIR / k).is_file()]
        for k in twins:
            files[k] = (OPT_KERNEL_DIR / k).read_text()
        if twins:
            for hdr in sorted([*OPT_KERNEL_DIR.glob("ei_*.h"), *OPT_KERNEL_DIR.glob("ei_*.inc")]):
                files[hdr.name] = hdr.read_text()
    return files


def build(sources: CSources, target: str | Path | Board, out_dir: str | Path,
          inputs: list[np.ndarray] | None = None, kernels: str = "reference") -> dict[str, Any]:
    """Build ``sources`` for ``target`` into ``out_dir/<name>.elf`` and size it against the board.

    ``inputs`` (one array per model input, rows of samples) are baked into the harness;
    without them one row of zeros is, which is enough to size the build. ``kernels`` picks
    the kernel set: ``"reference"`` or ``"optimized"`` (the twins in ``backends/kernels/opt``:
    DSP SIMD where the board's compiler flags enable it, unrolled portable C elsewhere).

    >>> # r = build(m.sources, "cortex-m4", "out/m4"); r["flash_bytes"], r["fits"]
    """
    board = get_board(target)
    cc = require_tool(board.cc, board)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if inputs is None:
        inputs = [np.zeros((1, n), dtype=np.dtype(dt)) for _, dt, n in sources.signature["inputs"]]
    n_rows = len(inputs[0])
    files = kernel_files(sources, kernels)
    optimized = {k for k in files if k.endswith(".c") and (OPT_KERNEL_DIR / k).is_file()
                 and files[k] == (OPT_KERNEL_DIR / k).read_text()}
    files[INPUTS_FILE] = inputs_c(sources.signature, inputs)
    files[HARNESS_FILE] = harness_c(sources.name, sources.signature, n_rows)
    files["ei_platform.h"] = (RUNTIME_DIR / "ei_platform.h").read_text()
    for f in _runtime_files(board):
        files[f] = (RUNTIME_DIR / f).read_text()
    for k, v in files.items():
        (out / k).write_text(v)

    cflags = [*WARN_FLAGS, *board.cflags]
    if board.family == "riscv32":
        cflags.append("--specs=picolibc.specs")
    objs = []
    for c in sorted(k for k in files if k.endswith(".c")):
        obj = c[:-2] + ".o"
        extra = OPT_CFLAGS if c in optimized else []
        _run([cc, *cflags, *extra, "-I.", "-c", c, "-o", obj], out, f"compiling {c} for {board.name}")
        objs.append(obj)
    elf = out / f"{sources.name}.elf"
    link = [cc, *board.ldflags, *_link_flags(board, out), f"-Wl,-Map={sources.name}.map", "-o", elf.name,
            *objs, "-lm"]
    _run(link, out, f"linking for {board.name}")

    sections, _ = section_regions(elf)
    flash = sum(s["flash"] for s in sections.values())
    ram = sum(s["ram"] for s in sections.values())
    stack = sections.get(".stack", {}).get("ram", 0)
    if stack == 0:  # hosted targets: no stack section, count the board's reserve
        stack = board.stack_bytes
        ram += stack
    symbols = symbol_sizes(elf)
    # the reserved stack is no symbol, yet often the biggest RAM consumer: name it too
    symbols.append({"name": "stack reserve (board stack_bytes)", "size": stack, "region": "ram",
                    "section": ".stack"})
    symbols.sort(key=lambda d: (-d["size"], d["name"]))
    model_objs = {k[:-2] + ".o" for k in sources.files if k.endswith(".c")}
    model = map_object_sizes(out / f"{sources.name}.map", model_objs)
    fits, message = fit_report(board.name, board.flash_bytes, board.ram_bytes, flash, ram, symbols,
                               f"model {sources.name!r}")
    return {"target": board.name, "kernels": kernels, "elf": str(elf), "flash_bytes": flash, "ram_bytes": ram,
            "stack_bytes": stack,
            "model_flash_bytes": model["flash"], "model_ram_bytes": model["ram"],
            "arena_bytes": sources.arena_bytes, "board_flash_bytes": board.flash_bytes,
            "board_ram_bytes": board.ram_bytes, "fits": fits, "message": message,
            "sections": sections, "symbols": symbols}
