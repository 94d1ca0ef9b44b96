"""Smoke test of benchmarks/classical_c.py: its machinery on one small tree, never its timings.

The edgeinfer row needs only gcc; peer rows need the benchmark's own environment
(``bash benchmarks/peers.sh``) and are skipped, with the reason, where it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "classical_c.py"
FAST = {"min_time": 0.002, "repeats": 1}  # timings are not checked here, only that they exist


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("classical_c_bench", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found: the harness compiles every tool's C with gcc -O2")
    return _load()


def _check_row(row: dict) -> None:
    assert row["status"] == "ok", row["reason"]
    assert isinstance(row["mismatches"], int)
    assert row["ns_per_sample"] > 0


def _edgeinfer_has_trees() -> None:
    """Skip, saying why, while the C backend cannot yet generate a decision tree."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    import edgeinfer
    from edgeinfer.errors import UnsupportedModelError

    est = DecisionTreeClassifier(max_depth=2, random_state=0).fit(np.eye(4, dtype=np.float32), [0, 1, 0, 1])
    try:
        edgeinfer.convert(est, name="probe")
    except UnsupportedModelError as e:
        pytest.skip(f"edgeinfer cannot generate C for a DecisionTreeClassifier yet: {e}")


def test_edgeinfer_row_cli_json_and_table(bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _edgeinfer_has_trees()
    out = tmp_path / "r.json"
    with_m4 = shutil.which(bench.ARM_CC) is not None
    args = ["--models", "dt", "--tools", "edgeinfer,edgeinfer-table", "--out", str(out),
            "--min-time", str(FAST["min_time"]), "--repeats", "1"] + ([] if with_m4 else ["--no-m4"])
    assert bench.main(args) == 0
    result = json.loads(out.read_text())
    for key in ("data", "host", "m4", "versions", "models", "rows"):
        assert key in result
    assert result["data"]["n_test"] == 540
    assert result["models"]["dt"]["sklearn_accuracy"] > 0.7
    rows = {r["tool"]: r for r in result["rows"]}
    assert set(rows) == {"edgeinfer", "edgeinfer-table"}
    for row in rows.values():
        _check_row(row)
        assert row["mismatches"] == 0, "edgeinfer must reproduce scikit-learn's predictions exactly"
        if with_m4:
            assert row["m4_flash"] > 0, row["m4_reason"]
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["model", "tool", "mismatches"]
    assert "edgeinfer-table" in table
    md = bench.format_table(result, markdown=True).splitlines()
    assert md[0].startswith("| model | tool |") and len(md) == 2 + len(rows)


def test_not_applicable_is_a_row_not_a_crash(bench: ModuleType) -> None:
    # the table layout is for trees only: the script reports that instead of failing
    res = bench.run(["gnb"], ["edgeinfer-table"], with_m4=False, log=lambda s: None, **FAST)
    (row,) = res["rows"]
    assert row["status"] == "n/a" and "tree" in row["reason"]
    assert "n/a" in bench.format_table(res)


def test_peer_rows(bench: ModuleType) -> None:
    missing = [m for m in ("emlearn", "m2cgen") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"peers not installed here ({', '.join(missing)}): run bash benchmarks/peers.sh and "
                    "pytest with benchmarks/.venv-peers/bin/python")
    _edgeinfer_has_trees()
    res = bench.run(["dt"], ["edgeinfer", "emlearn-float", "m2cgen"], with_m4=False, log=lambda s: None, **FAST)
    rows = {r["tool"]: r for r in res["rows"]}
    for row in rows.values():
        _check_row(row)
    assert rows["edgeinfer"]["mismatches"] == 0
    assert rows["m2cgen"]["mismatches"] == 0  # exact peer, so the ratio column is filled
    assert rows["edgeinfer"]["ratio_to_best_exact_peer"] is not None
