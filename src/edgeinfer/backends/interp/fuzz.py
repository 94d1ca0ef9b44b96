"""Build and run the libFuzzer target of the interpreter (``runtime/ei_fuzz.c``), seeded with valid models.

Why here and not only in a script: the test suite runs a short fuzz session and the script
(``scripts/fuzz_interp.sh``) a long one, with the same build and the same seeds.

>>> # python -m edgeinfer.backends.interp.fuzz --seconds 600 --work /tmp/eifuzz
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np

from edgeinfer.backends.interp.model import RUNTIME_DIR, runtime_sources
from edgeinfer.errors import ToolchainError

FLAGS = ["-std=c99", "-O1", "-g", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"]


def seed_models() -> dict[str, bytes]:
    """Small valid .eim files covering the runtime op families (trees, stacks, scaler, NN, certified classical
    and int8 element-wise ops; the int8 conv / FC / pool / add / mul / softmax / activations need a TFLite model,
    which the fuzz seeds do not build)."""
    from edgeinfer.backends.interp.format import write_eim
    from edgeinfer.ir.graph import Graph

    rng = np.random.default_rng(0)
    seeds = {}
    g = Graph("nn")
    g.add_input("x", (None, 2, 6, 6))
    w = g.add_const("w", rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    g.add_node("Conv", ["x", w], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], activation="Relu",
               activation_params=[0.0, float("inf")])
    g.add_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2])
    g.add_node("Add", ["p", "p"], ["a"])
    g.add_node("Sigmoid", ["a"], ["s"])
    g.add_node("GlobalAveragePool", ["s"], ["gp"])
    g.add_node("Flatten", ["gp"], ["f"], axis=1)
    wg = g.add_const("wg", rng.standard_normal((4, 3)).astype(np.float32))
    g.add_node("Gemm", ["f", wg], ["y"], transB=1)
    g.add_node("Softmax", ["y"], ["sm"], axis=-1)
    g.add_node("ArgMax", ["sm"], ["am"], axis=1)
    g.outputs += ["sm", "am"]
    seeds["nn"] = write_eim(g).data
    # the other conv kernels (pointwise, depthwise, gemm with a fused residual, transpose) and the
    # broadcasting, batch-norm and max-pool ops
    g = Graph("nn2")
    g.add_input("x", (None, 4, 6, 6))
    c = {k: g.add_const(k, np.abs(rng.standard_normal(s)).astype(np.float32) + 0.1) for k, s in
         [("pw", (4, 4, 1, 1)), ("dw", (4, 1, 3, 3)), ("gw", (4, 4, 3, 3)), ("tw", (4, 2, 2, 2)),
          ("bn_s", (2,)), ("bn_b", (2,)), ("bn_m", (2,)), ("bn_v", (2,)), ("ch", (1, 2, 1, 1))]}
    g.add_node("Conv", ["x", c["pw"]], ["a"], kernel_shape=[1, 1])
    g.add_node("Conv", ["a", c["dw"]], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4)
    g.add_node("Conv", ["b", c["gw"]], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.add_node("Add", ["d", "a"], ["e"])
    g.add_node("ConvTranspose", ["e", c["tw"]], ["t"], kernel_shape=[2, 2], strides=[2, 2])
    g.add_node("BatchNormalization", ["t", c["bn_s"], c["bn_b"], c["bn_m"], c["bn_v"]], ["n"])
    g.add_node("Mul", ["n", c["ch"]], ["u"])
    g.add_node("GlobalMaxPool", ["u"], ["y"])
    g.outputs += ["y"]
    seeds["nn2"] = write_eim(g).data
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import edgeinfer

    X = rng.standard_normal((60, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    for name, est in [("rf", RandomForestClassifier(3, max_depth=3, random_state=0)),
                      ("gb", GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0)),
                      ("lr", make_pipeline(StandardScaler(), LogisticRegression())),
                      ("mlp", MLPClassifier((5,), max_iter=50, random_state=0))]:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        seeds[name] = edgeinfer.convert(est, backend="interp", name=name).data
    # the certified classical ops (naive Bayes, nearest centroid, SVM classifier / regressor, PCA)
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.naive_bayes import GaussianNB
    from sklearn.svm import SVC, SVR

    for name, est, target in [("gnb", GaussianNB(), y), ("km", KMeans(3, n_init=1, random_state=0), None),
                              ("svc", SVC(kernel="poly", degree=2, break_ties=True), y),
                              ("svr", SVR(), X[:, 0]), ("pca", PCA(2), None)]:
        est.fit(X, target)
        seeds[name] = edgeinfer.convert(est, backend="interp", name=name).data
    # int8 element-wise ops
    g = Graph("q8")
    g.add_input("x", (None, 2, 3, 4))
    g.add_node("QQuantize", ["x"], ["q"], scale=0.05, zp=3, to="int8")
    g.add_node("QRequantize", ["q"], ["r"], in_scale=0.05, in_zp=3, out_scale=0.08, out_zp=-5)
    g.add_node("QMean", ["r"], ["m"], axes=[1, 2], in_scale=0.08, in_zp=-5, out_scale=0.03, out_zp=1, keepdims=0)
    g.add_node("QDequantize", ["m"], ["y"], scale=0.03, zp=1)
    g.outputs.append("y")
    seeds["q8"] = write_eim(g).data
    return seeds


def build(work: Path) -> Path:
    """Compile the fuzz target into ``work``; returns the executable. Raises ToolchainError without clang/libFuzzer."""
    clang = shutil.which("clang")
    if clang is None:
        raise ToolchainError("clang not found (the fuzz target needs clang with libFuzzer)")
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    files = runtime_sources()
    files["ei_fuzz.c"] = (RUNTIME_DIR / "ei_fuzz.c").read_text()
    for k, v in files.items():
        (src / k).write_text(v)
    exe = work / "ei_fuzz"
    cmd = [clang, *FLAGS, "-o", str(exe), *[str(src / k) for k in files if k.endswith(".c")], "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolchainError(f"building the fuzz target failed:\n{r.stderr[-3000:]}")
    return exe


def run(work: Path, seconds: int, jobs: int = 1) -> subprocess.CompletedProcess:
    """Build, seed the corpus (flag byte 1 + a valid model) and fuzz for ``seconds``."""
    work.mkdir(parents=True, exist_ok=True)
    exe = build(work)
    corpus = work / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, data in seed_models().items():
        (corpus / f"seed_{name}").write_bytes(b"\x01" + data)
        (corpus / f"seed_{name}_raw").write_bytes(b"\x00" + data)
    cmd = [str(exe), str(corpus), f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
           "-max_len=65536", f"-artifact_prefix={work}/", "-print_final_stats=1"]
    if jobs > 1:
        cmd += [f"-jobs={jobs}", f"-workers={jobs}"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=work)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--work", default="fuzz_interp_work")
    a = ap.parse_args()
    r = run(Path(a.work), a.seconds)
    print(r.stderr[-3000:])
    return r.returncode


if __name__ == "__main__":
    raise SystemExit(main())
