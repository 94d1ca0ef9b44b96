"""Measure a model on a board: build, run under emulation, check outputs, count, estimate.

Measured: flash and RAM (from the ELF), the stack high-water mark and the instructions
executed per inference (from the emulator). Estimated, and named as such in the result:
cycles (instructions x the board's cost per instruction class), latency (cycles / clock)
and energy (latency x the board's typical active power).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backends.c.emit import CSources
from edgeinfer.errors import EdgeInferError, InputError
from edgeinfer.targets.boards import Board, get_board
from edgeinfer.targets.crossbuild import KERNEL_SETS, build
from edgeinfer.targets.cycles import classify, cost
from edgeinfer.targets.emulate import can_count, decode_outputs, run

ESTIMATED = ["cycles", "latency_ms", "energy_uj"]
KERNELS = KERNEL_SETS


class DoesNotFitError(EdgeInferError):
    """The built model needs more flash or RAM than the board has."""


def _markers(elf: Path, thumb: bool) -> tuple[int, int]:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        addr = {s.name: s["st_value"] for s in tab.iter_symbols() if s.name in ("ei_begin", "ei_end")}
    if len(addr) != 2:
        raise EdgeInferError(f"{elf} lacks the ei_begin/ei_end markers of the edgeinfer harness")
    mask = ~1 if thumb else ~0  # Thumb function symbols carry the mode in bit 0
    return addr["ei_begin"] & mask, addr["ei_end"] & mask


def _work_dir(sources: CSources, board: Board, inputs: list[np.ndarray], kernels: str = "reference") -> Path:
    from edgeinfer.backends.c.build import cache_dir

    h = hashlib.sha256()
    for k in sorted(sources.files):
        h.update(k.encode() + sources.files[k].encode())
    for a in inputs:
        h.update(a.tobytes())
    # the process id keeps concurrent test workers out of each other's build folders
    d = cache_dir().parent / "targets" / f"{sources.name}_{board.name}_{kernels}_{h.hexdigest()[:12]}_{os.getpid()}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _compare(got: list[np.ndarray], ref: list[np.ndarray]) -> tuple[bool, float]:
    ok, worst = True, 0.0
    for g, r in zip(got, ref, strict=True):
        g2, r2 = g.reshape(len(g), -1), np.asarray(r).reshape(len(r), -1)
        if g2.shape != r2.shape:
            return False, float("inf")
        if np.issubdtype(g2.dtype, np.floating) or np.issubdtype(r2.dtype, np.floating):
            diff = np.abs(g2.astype(np.float64) - r2.astype(np.float64))
            worst = max(worst, float(diff.max(initial=0.0)))
            # a cross compiler's libm may differ from numpy by an ulp or two
            ok = ok and bool(np.allclose(g2, r2, rtol=1e-5, atol=1e-6))
        else:
            ok = ok and bool(np.array_equal(g2, r2))
            worst = max(worst, float(np.abs(g2.astype(np.int64) - r2.astype(np.int64)).max(initial=0)))
    return ok, worst


def measure_sources(sources: CSources, board: Board, inputs: list[np.ndarray], out_dir: str | Path | None = None,
                    reference: list[np.ndarray] | None = None, macs: int | None = None,
                    kernels: str = "reference") -> dict[str, Any]:
    """Build ``sources`` with ``inputs`` baked in, run on ``board``, measure; compare with ``reference``."""
    out = Path(out_dir) if out_dir is not None else _work_dir(sources, board, inputs, kernels)
    b = build(sources, board, out, inputs=inputs, kernels=kernels)
    if not b["fits"]:
        raise DoesNotFitError(b["message"])
    elf = Path(b["elf"])
    n_rows = len(inputs[0])
    counting = can_count(board)
    markers = _markers(elf, board.isa == "thumb") if counting else None
    res = run(board, elf, markers)
    got = decode_outputs(res, sources.signature, n_rows)
    result: dict[str, Any] = {k: b[k] for k in ("target", "kernels", "elf", "flash_bytes", "ram_bytes", "stack_bytes",
                                                "model_flash_bytes", "model_ram_bytes", "arena_bytes", "fits")}
    result["stack_used_bytes"] = res.stack_used
    result["rows"] = n_rows
    result["macs"] = macs
    result["outputs"] = got
    if reference is not None:
        result["outputs_match"], result["max_abs_diff"] = _compare(got, reference)
    else:
        result["outputs_match"], result["max_abs_diff"] = None, None
    if counting and res.rows:
        classes = classify(board, elf, set().union(*res.rows, res.calibration))
        base_n = sum(res.calibration.values())
        base_c, base_mix = cost(board, res.calibration, classes)
        per_row, cyc_row, mix_total = [], [], None
        for w in res.rows:
            per_row.append(sum(w.values()) - base_n)
            c, mix = cost(board, w, classes)
            cyc_row.append(c - base_c)
            mix.subtract(base_mix)
            mix_total = mix if mix_total is None else mix_total + mix
        instructions = float(np.mean(per_row))
        cycles = float(np.mean(cyc_row))
        latency_ms = cycles / (board.clock_mhz * 1e3)
        result.update(instructions=int(round(instructions)), instructions_per_row=per_row,
                      instruction_mix={k: round(v / n_rows) for k, v in sorted((mix_total or {}).items())},
                      cycles=int(round(cycles)), latency_ms=latency_ms,
                      energy_uj=latency_ms * board.active_power_mw)
    else:
        result.update(instructions=None, cycles=None, latency_ms=None, energy_uj=None)
    result["clock_mhz"] = board.clock_mhz
    result["active_power_mw"] = board.active_power_mw
    result["estimated"] = list(ESTIMATED)
    runner = board.emulator.get("command") or board.emulator.get("count_command") or ["native"]
    result["method"] = (f"{' '.join(runner[:3])}; instructions from the emulator's execution log between "
                        "markers; cycles = instructions x the board's cost table")
    return result


def measure(model: Any, target: str | Path | Board = "cortex-m4", inputs: Any = None, kernels: str = "reference",
            out_dir: str | Path | None = None) -> dict[str, Any]:
    """Run a converted C model on a board under emulation and measure it.

    ``kernels`` picks the kernel set; where it is not the one the model was converted for
    (``edgeinfer.convert(..., kernels="optimized")``), the C is generated again for it, since
    the optimised set reads its own requantization layout and scratch. ``inputs`` are rows of
    samples (default: four random rows); the outputs the target
    computes are compared with the IR reference on the same rows (``outputs_match``).

    >>> # r = measure(m, target="cortex-m4", inputs=X[:4]); r["cycles"], r["outputs_match"]
    """
    from edgeinfer.ir import graph_cost
    from edgeinfer.ir import run as ir_run

    if kernels not in KERNELS:
        raise EdgeInferError(f"kernels={kernels!r} is not available for targets; use one of {', '.join(KERNELS)}")
    board = get_board(target)
    sources = getattr(model, "sources", None)
    if not isinstance(sources, CSources):
        raise EdgeInferError("measure needs a model converted with the C backend "
                             "(edgeinfer.convert(est, backend='c'))")
    if (getattr(model, "options", None) or {}).get("kernels", "reference") != kernels:
        # the C carries the kernel set's weight / requantization layouts and scratch: generate it
        # for the set asked for (the model's own sources stay as converted)
        from edgeinfer.backends.c.emit import generate

        sources = generate(model.graph, model.name, {**model.options, "kernels": kernels})
    if inputs is None:
        shape = (4, *[1 if d is None else d for d in model.input_shape])
        inputs = np.random.default_rng(0).normal(size=shape)
    X = model.check_input(inputs)
    if len(X) == 0:
        raise InputError("measure needs at least one input row")
    graph = model.graph
    ref_all = ir_run(graph, X)
    reference = [ref_all[o] for o in graph.outputs]
    macs = int(graph_cost(graph.copy())["macs"])
    return measure_sources(sources, board, [X], out_dir, reference=reference, macs=macs, kernels=kernels)


_CTYPES = {"float": np.float32, "double": np.float64, "int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16,
           "uint16_t": np.uint16, "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64}
_HARNESS_FILES = ("ei_harness.c", "ei_inputs.c", "ei_platform.h", "platform_cortexm.c", "platform_stdio.c")


def sources_from_dir(out_dir: str | Path) -> CSources:
    """Rebuild a :class:`CSources` from what ``edgeinfer convert`` wrote (``<name>.h/.c`` + kernels)."""
    d = Path(out_dir)
    if not d.is_dir():
        raise EdgeInferError(f"{out_dir!r} is not a folder; give the folder `edgeinfer convert -o` wrote")
    files = {p.name: p.read_text() for p in sorted(d.iterdir())
             if p.is_file() and p.suffix in (".c", ".h") and p.name not in _HARNESS_FILES}
    for fname, text in files.items():
        m = re.search(r"^void (\w+)_infer\(([^)]*)\);", text, re.M)
        if fname.endswith(".h") and m:
            name, params = m.group(1), [p.strip() for p in m.group(2).split(",")]
            break
    else:
        raise EdgeInferError(f"no generated model header (with <name>_infer) in {out_dir!r}; "
                             "run `edgeinfer convert MODEL -o DIR` first")
    up, header = name.upper(), files[f"{name}.h"]

    def define(key: str) -> int:
        mm = re.search(rf"^#define {up}_{key} (\d+)", header, re.M)
        if mm is None:
            raise EdgeInferError(f"{name}.h lacks {up}_{key}; regenerate it with this edgeinfer version")
        return int(mm.group(1))

    ins, outs = [], []
    for p in params:
        mm = re.match(r"(const )?(\w+) \*(\w+)$", p)
        if mm is None or mm.group(2) not in _CTYPES:
            raise EdgeInferError(f"cannot read parameter {p!r} of {name}_infer")
        dt = np.dtype(_CTYPES[mm.group(2)]).name
        if mm.group(1):
            ins.append((mm.group(3), dt, define("N_FEATURES")))
        else:
            outs.append((mm.group(3), dt, define(f"OUTPUT{len(outs)}_SIZE")))
    if len(ins) != 1:
        raise EdgeInferError(f"{name}_infer takes {len(ins)} inputs; measure_dir handles single-input models")
    return CSources(name=name, files=files, arena_bytes=define("ARENA_BYTES"),
                    signature={"inputs": ins, "outputs": outs, "params": params})


def _host_outputs(sources: CSources, X: np.ndarray) -> list[np.ndarray] | None:
    """The same C compiled for the host: an independent compiler's answer to compare with."""
    from edgeinfer.backends.c.build import compile_shared, load

    try:
        fn = getattr(load(compile_shared(sources)), f"{sources.name}_batch")
    except EdgeInferError:
        return None
    outs = [np.zeros((len(X), n), dtype=np.dtype(dt)) for _, dt, n in sources.signature["outputs"]]
    fn(ctypes.c_int32(len(X)), ctypes.c_void_p(X.ctypes.data), *[ctypes.c_void_p(o.ctypes.data) for o in outs])
    return outs


def measure_dir(out_dir: str | Path, target: str | Path | Board = "cortex-m4", n_inputs: int = 4,
                seed: int = 0) -> dict[str, Any]:
    """Measure what ``edgeinfer convert`` wrote into ``out_dir`` on ``target``, with random inputs.

    There is no IR graph here, so ``outputs_match`` compares with the same C built for the
    host (None when no host compiler is found).

    >>> # measure_dir("out/", target="cortex-m4", n_inputs=4)["instructions"]
    """
    if n_inputs < 1:
        raise InputError("n_inputs must be at least 1")
    board = get_board(target)
    sources = sources_from_dir(out_dir)
    _, dt, n = sources.signature["inputs"][0]
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dt)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        X = rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=(n_inputs, n)).astype(dtype)
    else:
        X = rng.normal(size=(n_inputs, n)).astype(dtype)
    result = measure_sources(sources, board, [X], Path(out_dir) / board.name, reference=_host_outputs(sources, X))
    result["reference"] = "the same C built for the host"
    result.pop("outputs", None)
    return result
