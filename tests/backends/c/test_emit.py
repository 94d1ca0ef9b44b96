"""The C generator's contract: files, names, arena, -Werror builds, errors."""

import shutil
import subprocess

import numpy as np
import pytest

from edgeinfer.backends.c.emit import generate
from edgeinfer.backends.c.model import CModel
from edgeinfer.errors import EdgeInferError, InputError
from edgeinfer.ir import Graph, run


def _clf() -> Graph:
    g = Graph("toy")
    g.add_input("x", (None, 6))
    g.add_node("Relu", ["x"], ["h"])
    g.add_node("Identity", ["h"], ["p"])
    g.add_node("ArgMax", ["p"], ["label"], axis=1)
    g.outputs += ["label", "p"]
    g.metadata.update(task="classification", classes=[3, 17, 42, 5, 8, 13], has_proba=True)
    return g


def test_generated_c_matches_reference_and_maps_labels(tmp_path):
    g = _clf()
    m = CModel(g, "toy")
    X = np.random.default_rng(1).normal(size=(200, 6)).astype(np.float32)
    ref = run(g, X)
    np.testing.assert_array_equal(m.predict(X), np.array([3, 17, 42, 5, 8, 13])[ref["label"]])
    np.testing.assert_array_equal(m.predict_proba(X), ref["p"])
    assert m.input_shape == (6,) and m.input_dtype == np.float32
    assert m.output_shape == (6,)
    files = {p.name for p in m.save(tmp_path)}
    assert {"toy.h", "toy.c"} <= files
    h = (tmp_path / "toy.h").read_text()
    assert "#define TOY_N_FEATURES 6" in h and "#define TOY_N_CLASSES 6" in h
    assert "int32_t toy_predict(const float *x);" in h
    assert "malloc" not in (tmp_path / "toy.c").read_text()


def test_generated_c_compiles_for_cortex_m4(tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed (make test installs it)")
    src = generate(_clf(), "toy")
    src.write(tmp_path)
    r = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4",
                        "-mthumb", "-Os", "-c", "toy.c"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_footprint_reports_host_estimate():
    fp = CModel(_clf(), "toyfp").footprint()
    assert set(fp) >= {"flash_bytes", "ram_bytes", "arena_bytes", "stack_bytes"}
    assert fp["flash_bytes"] > 0


def test_bad_inputs_are_clear():
    m = CModel(_clf(), "toybad")
    with pytest.raises(InputError, match="shape"):
        m.predict(np.ones((3, 5), np.float32))
    with pytest.raises(InputError, match="NaN"):
        m.predict(np.full((2, 6), np.nan, np.float32))
    with pytest.raises(EdgeInferError, match="C identifier"):
        CModel(_clf(), "9lives")
