"""Smoke test of benchmarks/quant.py: its classical part on one small model, its TFLite machinery on a tiny
Keras model; figures are checked against independent recomputation, never timings.

The classical part needs gcc (and arm-none-eabi-gcc for the flash figures, else they are skipped); the
TFLite part needs TensorFlow, LiteRT and tflite-micro, and is skipped, saying so, where they are absent.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "quant.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no host C compiler: the benchmark times the generated C")
    spec = importlib.util.spec_from_file_location("quant_bench", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _wine_lr():
    """The wine split and StandardScaler + LogisticRegression, built here, not by the script."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X.astype(np.float32), y, test_size=0.3, random_state=0,
                                                        stratify=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X_train, y_train)
    return est, X_train, X_test, y_test


def test_classical_part_json_agrees_with_recomputation(bench: ModuleType, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    import edgeinfer
    from edgeinfer.ir import run as ir_run
    from edgeinfer.ir.ops.fixed_point import quantize_features

    out = tmp_path / "quant.json"
    argv = ["--quick", "--part", "classical", "--datasets", "wine", "--classical-models", "lr", "--out", str(out)]
    assert bench.main(argv) == 0
    res = json.loads(out.read_text())
    assert "models" not in res and set(res["classical"]) == {"wine/lr"}
    row = res["classical"]["wine/lr"]
    assert set(row) >= {"n_train", "n_test", "n_features", "sklearn_accuracy", "float", "int16", "int8"}

    est, X_train, X_test, y_test = _wine_lr()
    sk = est.predict(X_test)
    assert (row["n_train"], row["n_test"], row["n_features"]) == (len(X_train), len(X_test), 13)
    assert row["sklearn_accuracy"] == pytest.approx(float((sk == y_test).mean()))
    assert row["float"]["mismatches_vs_sklearn"] == 0
    assert row["float"]["accuracy"] == pytest.approx(row["sklearn_accuracy"])
    for scheme in ("int16", "int8"):
        q = edgeinfer.quantize(est, X_train, scheme=scheme)  # the IR reference, not the C the script timed
        labels = est.classes_[ir_run(q, quantize_features(X_test, q.metadata["input_quantization"]))["label"]]
        v = row[scheme]
        assert v["status"] == "ok"
        assert v["accuracy"] == pytest.approx(float((labels == y_test).mean()))
        assert v["agreement"] == pytest.approx(float((labels == sk).mean()))
        assert v["latency_ns_per_row"] > 0 and v["arena_bytes"] >= 0

    if shutil.which("arm-none-eabi-gcc") is None:
        assert row["float"]["flash"]["cortex-m4"]["bytes"] is None
    else:
        for v in (row["float"], row["int16"], row["int8"]):
            for board in ("cortex-m4", "cortex-m0plus"):
                f = v["flash"][board]
                assert f["bytes"] > 0 and f["objects"] > 0
                assert f["runtime_lib_bytes"] == sum(f["runtime_libs"].values())
        m0 = {k: row[k]["flash"]["cortex-m0plus"] for k in ("float", "int16", "int8")}
        # without an FPU the float model links soft-float; its fixed-point forms link none
        assert m0["float"]["soft_float_bytes"] > 0
        assert m0["int16"]["soft_float_bytes"] == 0 and m0["int8"]["soft_float_bytes"] == 0
        assert m0["int8"]["bytes"] < m0["float"]["bytes"]

    table = capsys.readouterr().out
    assert "| wine/lr |" in table and table.splitlines()[0].startswith("| data set / model |")


def test_unknown_names_are_refused(bench: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown data set / model"):
        bench.main(["--part", "classical", "--datasets", "iris", "--out", str(tmp_path / "q.json")])


def test_tflite_machinery_on_a_tiny_model(bench: ModuleType, tmp_path: Path) -> None:
    missing = [m for m in ("tensorflow", "ai_edge_litert", "tflite_micro") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"not installed here ({', '.join(missing)}): run bash benchmarks/nn_env.sh and pytest with "
                    "benchmarks/.venv-nn/bin/python")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((6,), batch_size=1)
    h = tf.keras.layers.Dense(8, activation="relu")(inp)
    twin = tf.keras.Model(inp, tf.keras.layers.Softmax()(tf.keras.layers.Dense(3)(h)))
    rng = np.random.default_rng(0)
    cal, test = rng.standard_normal((32, 6)).astype(np.float32), rng.standard_normal((12, 6)).astype(np.float32)
    ref = twin(test).numpy()
    for scheme in ("int8", "int16x8"):
        tfl = bench.tf_quantized(twin, cal, scheme)
        row = bench.tflite_quantized(tfl, f"tiny_{scheme}", test, ref, True, 4, 1, tmp_path)
        assert row["status"] == "ok" and 0.0 <= row["quality"] <= 1.0
        assert row["tflm"]["latency_us"] > 0 and row["tflm"]["arena_bytes"] > 0
        c = row["edgeinfer_c"]
        assert c["status"] == "ok", c.get("reason")
        assert c["bytes_equal_tflm"] == 1.0  # edgeinfer's C of TF's model gives TFLite Micro's bytes
        assert c["arena_plus_io_bytes"] >= c["arena_bytes"]
