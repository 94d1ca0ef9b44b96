"""Build and run the libFuzzer target of the interpreter (``runtime/ei_fuzz.c``), seeded with valid models.

Why here and not only in a script: the test suite runs a short fuzz session and the script
(``scripts/fuzz_interp.sh``) a long one, with the same build and the same seeds.

>>> # python -m edgeinfer.backends.interp.fuzz --seconds 600 --work /tmp/eifuzz
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np

from edgeinfer.backends.interp.model import RUNTIME_DIR, runtime_sources
from edgeinfer.errors import ToolchainError
from edgeinfer.ir.graph import Graph

FLAGS = ["-std=c99", "-O1", "-g", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined"]


def quantized_graph(dtype: str) -> Graph:
    """Every TFLite-scheme op with hand-set scales: int8, or the 16x8 scheme (int16 activations, zero points 0,
    int64 biases). float32 in and out (QQuantize first, QDequantize last), one input."""
    rng = np.random.default_rng(2)
    zp = 0 if dtype == "int16" else 3
    bias_t = np.int64 if dtype == "int16" else np.int32

    def q(scale_in: float, scale_out: float) -> dict:
        return {"in_scale": scale_in, "in_zp": zp, "out_scale": scale_out, "out_zp": zp}

    g = Graph(f"q_{dtype}")
    g.add_input("x", (None, 6, 6, 2))
    w = g.add_const("w", rng.integers(-127, 128, size=(3, 3, 3, 2)).astype(np.int8))
    b = g.add_const("b", rng.integers(-300, 300, size=3).astype(bias_t))
    dw = g.add_const("dw", rng.integers(-127, 128, size=(1, 3, 3, 6)).astype(np.int8))
    fw = g.add_const("fw", rng.integers(-127, 128, size=(5, 54)).astype(np.int8))
    fb = g.add_const("fb", rng.integers(-300, 300, size=5).astype(bias_t))
    g.add_node("QQuantize", ["x"], ["q"], scale=0.05, zp=zp, to=dtype)
    g.add_node("QConv2D", ["q", w, b], ["c"], w_scale=[0.01, 0.02, 0.015], pads=[1, 1, 1, 1], **q(0.05, 0.1))
    g.add_node("QDepthwiseConv2D", ["c", dw], ["d"], w_scale=[0.01] * 6, pads=[1, 1, 1, 1], **q(0.1, 0.2))
    g.add_node("QMaxPool2D", ["d"], ["p"], kernel_shape=[2, 2], strides=[2, 2])
    g.add_node("QAveragePool2D", ["p"], ["a"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1])
    g.add_node("QAdd", ["a", "p"], ["s"], a_scale=0.2, b_scale=0.2, out_scale=0.3, a_zp=zp, b_zp=zp, out_zp=zp)
    g.add_node("QMul", ["s", "a"], ["m"], a_scale=0.3, b_scale=0.2, out_scale=0.5, a_zp=zp, b_zp=zp, out_zp=zp)
    g.add_node("QMean", ["m"], ["mean"], axes=[1, 2], keepdims=1, **q(0.5, 0.4))
    g.add_node("QFullyConnected", ["m", fw, fb], ["f"], w_scale=[0.0005] * 5, **q(0.5, 0.25))
    act = {"in_scale": 0.25, "in_zp": zp}
    g.add_node("QLogistic", ["f"], ["lg"], **act)
    g.add_node("QTanh", ["f"], ["th"], **act)
    g.add_node("QSoftmax", ["f"], ["sm"], beta=1.0, in_scale=0.25, in_zp=zp)
    g.add_node("QRequantize", ["mean"], ["rq"], to=dtype, **q(0.4, 0.3))
    if dtype == "int8":  # the int8-only activations, SUB, PRELU, Max / Min (ei_act_s8.c)
        g.add_node("QRelu", ["f"], ["r"], act_min=zp, **q(0.25, 0.2))
        g.add_node("QLeakyRelu", ["r"], ["lr"], alpha=0.2, **q(0.2, 0.15))
        g.add_node("QHardSwish", ["lr"], ["hs"], **q(0.15, 0.1))
        g.add_node("QSub", ["hs", "lr"], ["sb"], a_scale=0.1, b_scale=0.15, out_scale=0.2, a_zp=zp, b_zp=zp,
                   out_zp=zp)
        alpha = g.add_const("alpha", rng.integers(-128, 128, size=(1, 5)).astype(np.int8))
        g.add_node("QPRelu", ["sb", alpha], ["pr"], in_scale=0.2, in_zp=zp, alpha_scale=0.01, alpha_zp=2,
                   out_scale=0.2, out_zp=zp)
        g.add_node("Max", ["pr", "sb"], ["mx"])
        g.add_node("Min", ["mx", "f"], ["mn"])
        g.add_node("QDequantize", ["mn"], ["y_mn"], scale=0.2, zp=zp)
        g.outputs.append("y_mn")
    for t, scale in (("lg", 2 ** -15), ("th", 2 ** -15), ("sm", 2 ** -15), ("rq", 0.3)):
        if dtype == "int8":
            scale = {"lg": 1 / 256, "th": 1 / 128, "sm": 1 / 256}.get(t, scale)
        out_zp = {"lg": -128, "th": 0, "sm": -128}.get(t, zp) if dtype == "int8" else 0
        g.add_node("QDequantize", [t], [f"y_{t}"], scale=scale, zp=out_zp)
        g.outputs.append(f"y_{t}")
    return g.validate()


def layout_graph() -> Graph:
    """The data-movement, reduction and generic-loop ops on float32 (one input)."""
    rng = np.random.default_rng(3)
    g = Graph("layout")
    g.add_input("x", (None, 2, 3, 4))
    g.add_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2])
    g.add_node("Slice", ["t"], ["sl"], starts=[3, 2], ends=[0, 0], axes=[1, 3], steps=[-2, -1])
    g.add_node("Concat", ["x", "x"], ["cc"], axis=2)
    g.add_node("Split", ["cc"], ["s0", "s1"], axis=3, split=[1, 3])
    g.add_node("Pad", ["s1"], ["pr"], pads=[0, 0, 1, 1, 0, 1, 1, 1], mode="reflect")
    g.add_node("Pad", ["s0"], ["pc"], pads=[0, 1, -1, 2, 0, 0, 1, 0], mode="constant", value=1.5)
    idx = g.add_const("idx", np.array([2, -1, 0], np.int64))
    g.add_node("Gather", ["x", idx], ["ga"], axis=2)
    g.add_node("Resize", ["x"], ["rn"], scales=[1.0, 1.0, 2.0, 1.5], sizes=[1, 2, 6, 6], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    g.add_node("Resize", ["x"], ["rl"], scales=[1.0, 1.0, 1.5, 2.0], sizes=[1, 2, 4, 8], mode="cubic")
    g.add_node("ReduceSum", ["x"], ["rs"], axes=[1, 3], keepdims=0)
    g.add_node("ReduceMax", ["x"], ["rx"], axes=[2], keepdims=1)
    g.add_node("ReduceMean", ["x"], ["rm"], axes=[3], keepdims=0)
    g.add_node("LogSoftmax", ["x"], ["ls"], axis=2)
    g.add_node("Transpose", ["x"], ["xt"], perm=[0, 1, 3, 2])
    g.add_node("MatMul", ["x", "xt"], ["mm"])
    w = g.add_const("w", rng.standard_normal((4, 5)).astype(np.float32))
    c2 = g.add_const("c2", rng.standard_normal((2, 3, 5)).astype(np.float32))
    g.add_node("MatMul", ["x", w], ["mw"])
    g.add_node("Add", ["mw", c2], ["ma"])
    g.add_node("Erf", ["ma"], ["er"])
    g.add_node("HardSwish", ["er"], ["hs"])
    g.add_node("LeakyRelu", ["hs"], ["lr"], alpha=0.2)
    g.add_node("ArgMax", ["x"], ["am"], axis=3)
    table = g.add_const("table", rng.standard_normal((4, 3)).astype(np.float32))
    g.add_node("Gather", [table, "am"], ["gr"], axis=0)
    g.outputs += ["pr", "pc", "rn", "rl", "rs", "lr", "gr", "mm"]  # at most 8 (the host harness); the rest run too
    return g.validate()


def gemm_graph() -> Graph:
    """The general Gemm (transposed A, B from the arena, a bias per element) on one sample of 24 values."""
    rng = np.random.default_rng(4)
    g = Graph("gemm")
    g.add_input("x", (1, 24))
    g.add_node("Reshape", ["x", g.add_const("shape", np.array([6, 4], np.int64))], ["a"])
    w = g.add_const("w", rng.standard_normal((6, 3)).astype(np.float32))
    c = g.add_const("c", rng.standard_normal((4, 3)).astype(np.float32))
    g.add_node("Gemm", ["a", w, c], ["y"], transA=1, alpha=0.5, beta=2.0)
    g.add_node("Gemm", ["a", "y"], ["z"], alpha=1.5)
    g.outputs.append("z")
    return g.validate()


def integer_graph() -> Graph:
    """Integer element-wise ops, Clip, reductions, max pooling and layout ops on an int16 input."""
    g = Graph("ints")
    g.add_input("x", (None, 2, 4, 4), "int16")
    k = g.add_const("k", np.array([[[3, -2, 5, 7]]], np.int16))
    g.add_node("Mul", ["x", k], ["m"])
    g.add_node("Div", ["m", g.add_const("d", np.array([[[2, 0, -3, 1]]], np.int16))], ["dv"])
    g.add_node("Pow", ["dv", g.add_const("e", np.array([2], np.int32))], ["pw"])
    g.add_node("Clip", ["pw"], ["cl"], min=-1000, max=30000)
    g.add_node("MaxPool", ["cl"], ["mp"], kernel_shape=[2, 2], strides=[1, 2], pads=[0, 1, 1, 0])
    g.add_node("ReduceSum", ["mp"], ["rs"], axes=[2], keepdims=0)
    g.add_node("ArgMax", ["x"], ["am"], axis=3)
    g.add_node("Cast", ["am"], ["am8"], to="int8")
    g.add_node("Transpose", ["cl"], ["t"], perm=[0, 2, 3, 1])
    g.add_node("Max", ["t", g.add_const("floor", np.array([-3], np.int16))], ["tm"])
    g.outputs += ["rs", "am8", "tm"]
    return g.validate()


def spatial3d_graph() -> Graph:
    """3-D max pooling with its Indices output, 3-D average pooling and 3-D ConvTranspose (float32)."""
    rng = np.random.default_rng(5)
    g = Graph("nd")
    g.add_input("x", (None, 2, 3, 4, 4))
    g.add_node("MaxPool", ["x"], ["mp", "ix"], kernel_shape=[2, 2, 2], strides=[1, 2, 2], pads=[0, 1, 0, 1, 0, 1])
    g.add_node("AveragePool", ["x"], ["ap"], kernel_shape=[3, 2, 2], pads=[1, 0, 1, 1, 1, 0], count_include_pad=1)
    w = g.add_const("w", rng.standard_normal((2, 3, 2, 2, 3)).astype(np.float32))
    g.add_node("ConvTranspose", ["ap", w, g.add_const("b", np.ones(3, np.float32))], ["ct"],
               kernel_shape=[2, 2, 3], strides=[1, 2, 1], pads=[0, 1, 1, 0, 0, 1])
    g.outputs += ["mp", "ix", "ct"]
    return g.validate()


def seed_models() -> dict[str, bytes]:
    """Small valid .eim files covering the runtime op families: trees, stacks, scaler, NN, certified classical,
    the int8 and 16x8 TFLite-scheme ops, data movement and reductions, integer element-wise ops, 3-D pooling
    and ConvTranspose, the general MatMul / Gemm, and the fixed-point classical ops."""
    from edgeinfer.backends.interp.format import write_eim

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
    # every TFLite-scheme op in int8 and 16x8, the layout / reduction / generic-loop ops, integer element-wise
    # ops, 3-D pooling and ConvTranspose, the general Gemm
    for name, graph in [("qall8", quantized_graph("int8")), ("qall16", quantized_graph("int16")),
                        ("layout", layout_graph()), ("ints", integer_graph()), ("nd", spatial3d_graph()),
                        ("gemm", gemm_graph())]:
        seeds[name] = write_eim(graph).data
    # the fixed-point classical ops (integer trees and dense stack)
    from sklearn.svm import SVC, SVR

    for name, est, target in [("fxrf", RandomForestClassifier(3, max_depth=3, random_state=0), y),
                              ("fxmlp", MLPClassifier((5,), activation="tanh", max_iter=50, random_state=0), y),
                              ("fxsvc", SVC(), y), ("fxsvcpoly", SVC(kernel="poly", degree=2), y),
                              ("fxsvr", SVR(kernel="sigmoid", gamma=0.1), X[:, 0])]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, target)
        seeds[name] = write_eim(edgeinfer.quantize(est, calibration=X, scheme="int16")).data
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
