"""Compile generated C with the host compiler into a shared library loaded by ctypes.

The C that is tested is the C that ships: the same ``<name>.c`` plus a small batch
loop (``<name>_host.c``, host only) so Python calls C once per batch, not per row.
Builds are cached by a hash of the sources and flags.

The host links the vectorised int8 kernels of ``backends/kernels/simd`` in place of the
reference ones (same functions, same bytes, tested against each other in
``tests/backends/c/test_int8_fast_kernels.py``); cross builds choose their own set
(``targets/crossbuild.py``). ``kernels="reference"`` builds the reference set on the host.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgeinfer.backends.c.context import ctype
from edgeinfer.backends.c.emit import CSources
from edgeinfer.errors import ToolchainError

WARN_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
#: The host build (``predict``, tests, benchmarks) targets this very machine: -O3 -march=native lets
#: gcc vectorise the kernels with the widest SIMD it has. No -ffast-math: with -std=c99 gcc keeps
#: IEEE evaluation order and does not contract a*b+c into FMA, so results stay bit-identical to
#: the -O2 build that classical models' exactness tests rely on. Cross builds take their board's
#: flags from targets/, never these.
HOST_OPT = "-O3"
HOST_ARCH = ["-march=native"]
#: Twins of the int8 reference kernels vectorised for the host (same file names, same functions).
SIMD_KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels" / "simd"
HOST_KERNEL_SETS = ("simd", "reference")


def cache_dir() -> Path:
    d = Path(os.environ.get("EDGEINFER_CACHE", Path.home() / ".cache" / "edgeinfer")) / "build"
    d.mkdir(parents=True, exist_ok=True)
    return d


def host_cc() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise ToolchainError(f"no C compiler {cc!r} found; install gcc (apt-get install gcc) or set CC")
    return cc


def batch_wrapper(src: CSources) -> str:
    """Host-only C: loop ``<name>_infer`` over a batch of samples."""
    name = src.name
    ins, outs = src.signature["inputs"], src.signature["outputs"]
    params, args = [], []
    for i, (_, dt, n) in enumerate(ins):
        params.append(f"const {ctype(dt)} *in{i}")
        args.append(f"in{i} + (long)r * {n}")
    for i, (_, dt, n) in enumerate(outs):
        params.append(f"{ctype(dt)} *out{i}")
        args.append(f"out{i} + (long)r * {n}")
    return "\n".join([
        f'#include "{name}.h"', "",
        f"void {name}_batch(int32_t rows, {', '.join(params)});",
        f"void {name}_batch(int32_t rows, {', '.join(params)})", "{",
        "  int32_t r;",
        "  for (r = 0; r < rows; ++r) {",
        f"    {name}_infer({', '.join(args)});",
        "  }", "}", ""])


def _host_arch() -> list[str]:
    """HOST_ARCH if the host compiler accepts it (not every compiler knows -march=native)."""
    global _ARCH
    if _ARCH is None:
        with tempfile.TemporaryDirectory(prefix="edgeinfer_") as tmp:
            Path(tmp, "t.c").write_text("int edgeinfer_probe(void);\nint edgeinfer_probe(void) { return 0; }\n")
            r = subprocess.run([host_cc(), *HOST_ARCH, "-c", "t.c"], cwd=tmp, capture_output=True, text=True)
        _ARCH = list(HOST_ARCH) if r.returncode == 0 else []
    return _ARCH


_ARCH: list[str] | None = None


def _cpu_id() -> bytes:
    """What -march=native resolves to on this machine, so a shared cache never serves another CPU's build."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features", "model name")):
                return line.encode()
    except OSError:
        pass
    return platform.processor().encode()


def host_kernel_files(src: CSources, kernels: str = "simd") -> dict[str, str]:
    """``src.files`` with the host's kernel set: with ``"simd"``, every kernel file that has a twin in
    ``backends/kernels/simd`` is replaced by it (and the twins' header added).

    >>> # host_kernel_files(m.sources)["ei_conv_s8.c"]  # the vectorised twin
    """
    if kernels not in HOST_KERNEL_SETS:
        raise ToolchainError(f"kernels={kernels!r} is not a host kernel set; use one of {', '.join(HOST_KERNEL_SETS)}")
    files = dict(src.files)
    if kernels == "simd":
        twins = [k for k in files if k.endswith(".c") and (SIMD_KERNEL_DIR / k).is_file()]
        for k in twins:
            files[k] = (SIMD_KERNEL_DIR / k).read_text()
        if twins:
            files["ei_int8_simd.h"] = (SIMD_KERNEL_DIR / "ei_int8_simd.h").read_text()
    return files


def compile_shared(src: CSources, opt: str = HOST_OPT, extra: list[str] | None = None,
                   kernels: str = "simd") -> Path:
    """Build ``src`` (+ batch wrapper) into a shared library; returns its path (cached).

    ``kernels`` picks the int8 kernel set linked (see :func:`host_kernel_files`).
    """
    files = host_kernel_files(src, kernels)
    files[f"{src.name}_host.c"] = batch_wrapper(src)
    flags = WARN_FLAGS + [opt, *_host_arch(), "-fPIC", "-shared"] + list(extra or [])
    h = hashlib.sha256()
    h.update(_cpu_id())
    for k in sorted(files):
        h.update(k.encode() + b"\0" + files[k].encode() + b"\0")
    h.update(" ".join(flags).encode())
    key = h.hexdigest()[:20]
    lib = cache_dir() / f"{src.name}_{key}.so"
    if lib.exists():
        return lib
    with tempfile.TemporaryDirectory(prefix="edgeinfer_") as tmp:
        for k, v in files.items():
            Path(tmp, k).write_text(v)
        cfiles = [k for k in files if k.endswith(".c")]
        out = Path(tmp, "lib.so")
        cmd = [host_cc(), *flags, "-o", str(out), *cfiles, "-lm"]
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolchainError(f"compiling generated C failed ({' '.join(cmd)}):\n{r.stderr[-4000:]}")
        tmp_lib = lib.with_suffix(f".{os.getpid()}.tmp")
        shutil.copy(out, tmp_lib)
        os.replace(tmp_lib, lib)
    return lib


def load(lib: Path) -> ctypes.CDLL:
    return ctypes.CDLL(str(lib))


def object_sizes(src: CSources, cc: str | None = None, flags: list[str] | None = None) -> dict[str, int]:
    """Compile to objects and read text/data/bss and the worst stack frame.

    Used for host footprint estimates; targets/ gives exact per-board figures.
    """
    cc = cc or host_cc()
    size_tool = shutil.which("size")
    flags = flags or ["-Os"]
    with tempfile.TemporaryDirectory(prefix="edgeinfer_sz_") as tmp:
        for k, v in src.files.items():
            Path(tmp, k).write_text(v)
        cfiles = [k for k in src.files if k.endswith(".c")]
        cmd = [cc, *WARN_FLAGS, *flags, "-fstack-usage", "-c", *cfiles]
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolchainError(f"compiling generated C failed:\n{r.stderr[-4000:]}")
        text = data = bss = 0
        if size_tool:
            objs = [c[:-2] + ".o" for c in cfiles]
            s = subprocess.run([size_tool, *objs], cwd=tmp, capture_output=True, text=True)
            for line in s.stdout.splitlines()[1:]:
                parts = line.split()
                text += int(parts[0])
                data += int(parts[1])
                bss += int(parts[2])
        stack = 0
        frames = []
        for su in Path(tmp).glob("*.su"):
            for line in su.read_text().splitlines():
                parts = line.rsplit("\t", 2)
                if len(parts) == 3 and parts[1].isdigit():
                    frames.append(int(parts[1]))
        # infer's frame plus the deepest kernel it calls (call depth is at most 2 here)
        frames.sort(reverse=True)
        stack = sum(frames[:2])
    return {"text": text, "data": data, "bss": bss, "stack": stack}
