"""Embedded targets: the MLPerf Tiny zoo models (int8) and two classical models on cortex-m4
and cortex-m0plus, reference vs optimised kernels, in one run, beside published figures.

Why a separate script: it runs each model under QEMU and counts instructions from the
block log (minutes for the big models), far too slow for the test suite. Per model, board
and kernel set it reports flash and RAM (from the ELF), instructions per inference (from
the emulator), estimated cycles and ms at the board clock (cost table, see
docs/cycle_model.md), whether the outputs equal the IR reference, and the estimated
cycles per MAC inside the conv, depthwise and fully connected kernels (cycles attributed
to a kernel by the address of each executed instruction). The zoo models are quantized
with random calibration data: fine for timing, meaningless for accuracy.

Usage::

    .venv/bin/python benchmarks/targets.py              # everything, one input row
    .venv/bin/python benchmarks/targets.py --quick      # fc_autoencoder + classical only
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

import edgeinfer
from edgeinfer.ir import graph_cost
from edgeinfer.ir import run as ir_run
from edgeinfer.targets import build, get_board
from edgeinfer.targets.cycles import classify, cost
from edgeinfer.targets.emulate import decode_outputs, run
from edgeinfer.targets.measure import _compare, _markers

HERE = Path(__file__).resolve().parent
BOARDS = ("cortex-m4", "cortex-m0plus")
KERNELS = ("reference", "optimized")
# MLPerf Tiny v1.x, STM32L4R5 (Cortex-M4, 120 MHz), ms per inference
PUBLISHED_MS = {"fc_autoencoder": ("AD", 10.05, 7.58), "ds_cnn": ("KWS", 180.5, 75.1),
                "resnet8": ("IC", 704.2, 226.9), "mobilenet_v1": ("VWW", 600.6, 230.5)}
GROUPS = {"conv": ("QConv2D",), "depthwise": ("QDepthwiseConv2D",), "fc": ("QFullyConnected",)}


def _zoo(name: str) -> tuple[Any, np.ndarray]:
    from edgeinfer import zoo

    x = zoo.example_input(name)
    g = edgeinfer.load_graph(getattr(zoo, name)(), x)
    rng = np.random.default_rng(0)
    calib = rng.normal(size=(16, *x.shape[1:])).astype(np.float32)
    q = edgeinfer.quantize(g, calibration=calib)
    return q, rng.normal(size=(1, *x.shape[1:])).astype(np.float32)


def _classical(name: str) -> tuple[Any, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    est = (RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0) if name == "rf_digits"
           else MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0))
    est.fit(X[:1200], y[:1200])
    return edgeinfer.convert(est, name=name).graph, X[1200:1201]


def _functions(elf: Path) -> list[tuple[int, int, str, str]]:
    """(start, end, name, source file) of every function symbol, for attributing addresses."""
    from elftools.elf.elffile import ELFFile

    out, src = [], ""
    with open(elf, "rb") as f:
        for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if s["st_info"]["type"] == "STT_FILE":
                src = s.name
            elif s["st_info"]["type"] == "STT_FUNC" and s["st_size"] > 0:
                a = s["st_value"] & ~1
                out.append((a, a + s["st_size"], s.name, src))
    return sorted(out)


def _group_of(name: str, src: str) -> str | None:
    """Kernel group of a function: by name, else by the file of a local (static) helper.
    Requantization helpers shared by conv and depthwise count as conv."""
    if "depthwise" in name or "_dw_" in name or name == "ei_dw4":
        return "depthwise"
    if name in ("ei_fully_connected_s8", "ei_opt_fully_connected_s8", "ei_dot_1x4") or src.startswith(
            ("ei_fc_s8", "ei_opt_fc_s8")):
        return "fc"
    if name in ("ei_conv2d_s8", "ei_opt_conv2d_s8", "ei_conv_block", "ei_dot_2x2", "ei_conv_grouped") or \
            src.startswith(("ei_conv_s8", "ei_opt_conv_s8")):
        return "conv"
    return None


def measure_one(name: str, graph: Any, X: np.ndarray, board_name: str, kernels: str, workdir: Path) -> dict:
    board = get_board(board_name)
    # the C is generated for the kernel set: the optimised one reads its own requantization tables
    # and plans its scratch in the arena
    m = edgeinfer.convert(graph, name=name, kernels=kernels)
    Xc = m.check_input(X)
    nodes = graph_cost(graph.copy())["per_node"]
    macs = sum(n["macs"] for n in nodes)
    gmacs = {g: sum(n["macs"] for n in nodes if n["op"] in ops) for g, ops in GROUPS.items()}
    row: dict[str, Any] = {"model": name, "target": board_name, "kernels": kernels, "macs": macs}
    t0 = time.time()
    b = build(m.sources, board, workdir / f"{name}_{board_name}_{kernels}", inputs=[Xc], kernels=kernels)
    row.update(flash_bytes=b["flash_bytes"], ram_bytes=b["ram_bytes"], fits=b["fits"])
    if not b["fits"]:
        row["note"] = b["message"].splitlines()[0]
        return row
    elf = Path(b["elf"])
    res = run(board, elf, _markers(elf, board.isa == "thumb"), timeout=1800)
    ref = ir_run(graph, Xc)
    row["outputs_match"] = _compare(decode_outputs(res, m.sources.signature, len(Xc)),
                                    [ref[o] for o in graph.outputs])[0]
    classes = classify(board, elf, set().union(*res.rows, res.calibration))
    w = res.rows[0].copy()
    w.subtract(res.calibration)
    w = Counter({pc: n for pc, n in w.items() if n > 0})
    cyc, _ = cost(board, w, classes)
    row["instructions"] = int(sum(w.values()))
    row["cycles_est"] = int(round(cyc))
    row["ms_est"] = cyc / (board.clock_mhz * 1e3)
    funcs = _functions(elf)
    starts = [f[0] for f in funcs]
    per_group: dict[str, Counter] = {g: Counter() for g in GROUPS}
    for pc, n in w.items():
        i = int(np.searchsorted(starts, pc, side="right")) - 1
        if i >= 0 and pc < funcs[i][1]:
            g = _group_of(funcs[i][2], funcs[i][3])
            if g is not None:
                per_group[g][pc] += n
    for g, cnt in per_group.items():
        if gmacs[g]:
            c, _ = cost(board, cnt, classes)
            row[f"{g}_macs"] = gmacs[g]
            row[f"{g}_instructions"] = int(sum(cnt.values()))
            row[f"{g}_cycles_per_mac"] = c / gmacs[g]
    row["seconds"] = round(time.time() - t0, 1)
    return row


def _fmt(rows: list[dict]) -> str:
    head = (f"{'model':15} {'target':13} {'kernels':9} {'flash':>8} {'RAM':>7} {'instr':>11} {'cycles*':>11} "
            f"{'ms*':>8} {'conv c/MAC*':>11} {'dw c/MAC*':>9} {'fc c/MAC*':>9} {'match':>5} {'TFLM/X-CUBE ms':>15}")
    lines = [head, "-" * len(head)]
    for r in rows:
        pub = PUBLISHED_MS.get(r["model"])
        pubs = f"{pub[1]:.2f}/{pub[2]:.2f}" if pub and r["target"] == "cortex-m4" else ""

        def f(k: str, spec: str, r: dict = r) -> str:
            return format(r[k], spec) if r.get(k) is not None else "-"
        lines.append(f"{r['model']:15} {r['target']:13} {r['kernels']:9} {r['flash_bytes']:>8} {r['ram_bytes']:>7} "
                     f"{f('instructions', '>11')} {f('cycles_est', '>11')} {f('ms_est', '>8.2f')} "
                     f"{f('conv_cycles_per_mac', '>11.2f')} {f('depthwise_cycles_per_mac', '>9.2f')} "
                     f"{f('fc_cycles_per_mac', '>9.2f')} {str(r.get('outputs_match', '-')):>5} {pubs:>15}")
    lines.append("* estimated: instructions counted under QEMU x the board's cost table (docs/cycle_model.md)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fc_autoencoder and the classical models only")
    ap.add_argument("--models", nargs="*", help="subset of model names")
    ap.add_argument("--boards", nargs="*", default=list(BOARDS), help="subset of boards")
    ap.add_argument("--kernels", nargs="*", default=list(KERNELS), help="subset of kernel sets")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of --out that this run does not remeasure (runs split over time)")
    ap.add_argument("--out", default=str(HERE / "results" / "targets.json"))
    a = ap.parse_args(argv)
    zoo_names = ["fc_autoencoder"] if a.quick else ["fc_autoencoder", "ds_cnn", "resnet8", "mobilenet_v1"]
    models = [(n, _zoo) for n in zoo_names] + [(n, _classical) for n in ("rf_digits", "mlp_digits")]
    if a.models:
        models = [m for m in models if m[0] in a.models]
    rows = []
    with tempfile.TemporaryDirectory(prefix="ei_targets_") as tmp:
        for name, make in models:
            graph, X = make(name)
            for board in a.boards:
                for k in a.kernels:
                    r = measure_one(name, graph, X, board, k, Path(tmp))
                    print(json.dumps({k2: v for k2, v in r.items() if not isinstance(v, float)}), file=sys.stderr)
                    rows.append(r)
    if a.merge and Path(a.out).is_file():
        fresh = {(r["model"], r["target"], r["kernels"]) for r in rows}
        old = [r for r in json.loads(Path(a.out).read_text())["rows"]
               if (r["model"], r["target"], r["kernels"]) not in fresh]
        order = {n: i for i, (n, _) in enumerate(models)}
        rows = sorted(old + rows, key=lambda r: (order.get(r["model"], 99), BOARDS.index(r["target"]),
                                                 KERNELS.index(r["kernels"])))
    table = _fmt(rows)
    print(table)
    out = {"date": _dt.date.today().isoformat(), "rows": rows,
           "published_stm32l4r5_ms": {k: {"task": v[0], "tflm_reference": v[1], "x_cube_ai": v[2]}
                                      for k, v in PUBLISHED_MS.items()},
           "estimated": ["cycles_est", "ms_est", "*_cycles_per_mac"]}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
