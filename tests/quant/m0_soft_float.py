"""Helper for the fixed-point tests: which soft-float helpers C sources need on a core without an FPU."""

from __future__ import annotations

import subprocess
from pathlib import Path

#: libgcc's single/double soft-float entry points (arithmetic, comparisons and conversions)
SOFT_FLOAT = ("__aeabi_f", "__aeabi_d", "__aeabi_i2f", "__aeabi_ui2f", "__aeabi_l2f", "__aeabi_i2d", "__aeabi_ui2d",
              "__aeabi_l2d", "__aeabi_ul2", "__addsf", "__adddf", "__mulsf", "__muldf", "__divsf", "__divdf")
M0_FLAGS = ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft", "-Os", "-std=c99", "-Wall", "-Wextra", "-Werror",
            "-pedantic"]


def soft_float_helpers(sources: list[Path], out_dir: Path, include: list[Path] = ()) -> list[str]:
    """Compile ``sources`` for a Cortex-M0+ (-Werror) into ``out_dir``; the soft-float symbols they reference."""
    flags = M0_FLAGS + [f"-I{d}" for d in include]
    objs = []
    for src in sources:
        obj = out_dir / (Path(src).stem + ".o")
        subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", str(obj)], check=True, cwd=out_dir)
        objs.append(str(obj))
    undefined = subprocess.run(["arm-none-eabi-nm", "-u", *objs], check=True, capture_output=True, text=True).stdout
    return [s.split()[-1] for s in undefined.splitlines() if s.split() and s.split()[-1].startswith(SOFT_FLOAT)]
