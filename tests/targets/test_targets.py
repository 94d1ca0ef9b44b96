"""Targets: board files, cross-builds sized against arm-none-eabi-size, emulated runs checked
against the IR reference, the does-not-fit and unknown-target errors."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir import Graph, run
from edgeinfer.targets import DoesNotFitError, build, format_targets_table, get_board, list_boards, measure, measure_dir
from edgeinfer.targets.boards import BOARD_DIR

BOARDS = ("host", "cortex-m0plus", "cortex-m4", "cortex-m7", "riscv32", "cortex-a72")


def _needs(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"{t} not installed (scripts/install-toolchains.sh installs it)")


def _clf(n: int = 6) -> Graph:
    g = Graph("toy")
    g.add_input("x", (None, n))
    g.add_node("Relu", ["x"], ["h"])
    g.add_node("Identity", ["h"], ["p"])
    g.add_node("ArgMax", ["p"], ["label"], axis=1)
    g.outputs += ["label", "p"]
    g.metadata.update(task="classification", classes=list(range(n)), has_proba=True)
    return g


@pytest.fixture(scope="module")
def toy() -> CModel:
    return CModel(_clf(), "toy")


def _tiny_board(tmp_path: Path) -> Path:
    text = (BOARD_DIR / "cortex-m4.toml").read_text()
    text = text.replace('name = "cortex-m4"', 'name = "tiny-m4"')
    text = text.replace("flash_bytes = 2097152", "flash_bytes = 1024").replace("ram_bytes = 655360", "ram_bytes = 512")
    p = tmp_path / "tiny-m4.toml"
    p.write_text(text)
    return p


def test_targets_table_lists_every_board():
    table = format_targets_table()
    for b in BOARDS:
        assert b in list_boards()
        assert b in table
    m4 = get_board("cortex-m4")
    assert m4.clock_mhz == 120 and m4.ram_bytes == 640 * 1024 and m4.flash_bytes == 2 * 1024 * 1024


def test_user_board_directory_is_listed(tmp_path, monkeypatch):
    _tiny_board(tmp_path)
    monkeypatch.setenv("EDGEINFER_BOARDS", str(tmp_path))
    assert "tiny-m4" in list_boards()
    assert "tiny-m4" in format_targets_table()


def test_unknown_target_is_a_clear_error(toy, tmp_path):
    with pytest.raises(EdgeInferError, match="unknown target 'cortex-m99'.*cortex-m4"):
        build(toy.sources, "cortex-m99", tmp_path)
    with pytest.raises(EdgeInferError, match="unknown target"):
        measure(toy, target="cortex-m99")


@pytest.mark.parametrize("target,cc", [("cortex-m4", "arm-none-eabi-gcc"), ("cortex-m0plus", "arm-none-eabi-gcc"),
                                       ("riscv32", "riscv64-unknown-elf-gcc")])
def test_build_sizes_agree_with_binutils_size(toy, tmp_path, target, cc):
    _needs(cc)
    r = build(toy.sources, target, tmp_path)
    assert r["fits"] is True and "fits" in r["message"]
    assert 0 < r["model_flash_bytes"] < r["flash_bytes"] <= get_board(target).flash_bytes
    assert r["ram_bytes"] >= r["stack_bytes"] + r["arena_bytes"]
    size_tool = cc[: -len("gcc")] + "size"
    _needs(size_tool)
    out = subprocess.run([size_tool, r["elf"]], capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    # Berkeley size: text = code + constants, data = initialised RAM, bss = zeroed RAM (+ reserved stack here)
    assert r["flash_bytes"] == text + data
    assert r["ram_bytes"] == data + bss
    names = {s["name"] for s in r["symbols"]}
    assert "toy_infer" in names and "main" in names


def test_too_small_board_names_the_biggest_consumers(toy, tmp_path):
    _needs("arm-none-eabi-gcc")
    board = _tiny_board(tmp_path)
    r = build(toy.sources, str(board), tmp_path / "b")
    assert r["fits"] is False
    assert "does not fit by" in r["message"] and "biggest consumers" in r["message"]
    over = r["ram_bytes"] - 512
    assert f"does not fit by {over} bytes" in r["message"]
    assert r["symbols"][0]["name"] in r["message"]
    with pytest.raises(DoesNotFitError, match="does not fit by"):
        measure(toy, target=str(board), inputs=np.ones((1, 6), np.float32))


@pytest.mark.parametrize("target,tool", [("cortex-m4", "qemu-system-arm"), ("cortex-m0plus", "qemu-system-arm"),
                                         ("cortex-m7", "qemu-system-arm"), ("riscv32", "qemu-system-riscv32"),
                                         ("cortex-a72", "qemu-aarch64")])
def test_measure_outputs_match_reference(toy, target, tool):
    board = get_board(target)
    _needs(board.cc, tool)
    X = np.random.default_rng(3).normal(size=(3, 6)).astype(np.float32)
    r = toy.measure(target=target, inputs=X)
    ref = run(toy.graph, X)
    np.testing.assert_array_equal(r["outputs"][0].reshape(-1), ref["label"].reshape(-1))
    np.testing.assert_array_equal(r["outputs"][1], ref["p"])
    assert r["outputs_match"] is True
    assert r["instructions"] > 0 and r["cycles"] > 0 and len(r["instructions_per_row"]) == 3
    assert sum(r["instruction_mix"].values()) == pytest.approx(r["instructions"], abs=3)
    # cycles are reported rounded to a whole cycle
    assert r["latency_ms"] == pytest.approx(r["cycles"] / (board.clock_mhz * 1e3), abs=1 / (board.clock_mhz * 1e3))
    assert r["energy_uj"] == pytest.approx(r["latency_ms"] * board.active_power_mw)
    assert set(r["estimated"]) >= {"cycles", "latency_ms", "energy_uj"}
    if board.family in ("cortex-m", "riscv32"):  # bare-metal runtimes know their stack bounds
        assert 0 < r["stack_used_bytes"] <= r["stack_bytes"]


def test_measure_dir_measures_what_convert_wrote(toy, tmp_path):
    _needs("arm-none-eabi-gcc", "qemu-system-arm")
    toy.save(tmp_path)
    r = measure_dir(tmp_path, target="cortex-m4", n_inputs=2)
    assert r["instructions"] > 0 and r["flash_bytes"] > 0
    assert r["outputs_match"] in (True, None)
    assert (tmp_path / "cortex-m4" / "toy.elf").exists()
