"""The edgeinfer command: convert, inspect, and one-line errors, end to end on real files."""

import subprocess
import sys

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from edgeinfer.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    X, y = load_digits(return_X_y=True)
    clf = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X.astype(np.float32), y)
    p = tmp_path_factory.mktemp("cli") / "gesture.skops"
    sio.dump(clf, p)
    return p, clf, X.astype(np.float32)


def test_convert_writes_c_that_builds_and_matches(model_file, tmp_path, capsys):
    p, clf, X = model_file
    assert main(["convert", str(p), "-o", str(tmp_path), "--name", "gesture"]) == 0
    out = capsys.readouterr().out
    assert "gesture.c" in out and "footprint" in out
    # compile the written files with a main that classifies rows and compare with sklearn
    rows = X[:50]
    main_c = tmp_path / "main.c"
    feats = ",".join(f"{float(v)!r}f" for v in rows.reshape(-1))
    main_c.write_text(
        '#include <stdio.h>\n#include "gesture.h"\n'
        f"static const float X[{rows.size}] = {{{feats}}};\n"
        "int main(void) { int i; for (i = 0; i < 50; ++i) printf(\"%d\\n\", (int)gesture_predict(X + i * 64));"
        " return 0; }\n")
    cfiles = [str(f) for f in tmp_path.glob("*.c")]
    exe = tmp_path / "a.out"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-o", str(exe),
                    *cfiles, "-lm"], check=True, cwd=tmp_path)
    got = [int(s) for s in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    np.testing.assert_array_equal(clf.classes_[got], clf.predict(rows))


def test_inspect_shows_graph_and_costs(model_file, capsys):
    p, _, _ = model_file
    assert main(["inspect", str(p)]) == 0
    out = capsys.readouterr().out
    assert "parameter bytes" in out and "comparisons" in out and "input  x: float32[None, 64]" in out


def test_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"nope")
    r = subprocess.run([sys.executable, "-m", "edgeinfer", "convert", str(bad), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if not line.startswith("[edgeinfer]")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "bad.skops" in errors[0]
    r = subprocess.run([sys.executable, "-m", "edgeinfer", "convert", str(tmp_path / "m.joblib"), "-o", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_pickle_refused_without_flag(tmp_path, model_file):
    import joblib

    _, clf, _ = model_file
    joblib.dump(clf, tmp_path / "m.joblib")
    assert main(["convert", str(tmp_path / "m.joblib"), "-o", str(tmp_path / "o")]) == 2
    assert main(["convert", str(tmp_path / "m.joblib"), "-o", str(tmp_path / "o"), "--trust-pickle"]) == 0
