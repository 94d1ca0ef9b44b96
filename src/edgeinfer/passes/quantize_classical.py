"""Fixed-point forms of classical models (trees, linear models, MLPs) for targets without an FPU.

The quantized graph takes integer features and never computes in floating point:

* Input: each feature j is quantized affinely, ``q = clamp(floor(x / scale_j + 0.5) + zp_j)``,
  with the calibration range [min_j, max_j] spread over the integer range minus its lowest
  code (kept free so a tree threshold can sit below every calibration value). The
  parameters land in ``metadata["input_quantization"]`` (firmware quantizes its sensor
  values with them; ``predict`` and ``compare`` do it on float X).
* Trees: each threshold t becomes an integer tq chosen per split so that, for every
  calibration value x of that feature, ``q(x) <= tq`` iff ``x <= t``: tq starts at q(t)
  (``x <= t`` implies ``q(x) <= q(t)``) and steps down by one where a calibration value
  above t rounds to q(t). Only two calibration values closer than a quantization step on
  either side of a threshold can make this impossible; such splits are counted in
  ``metadata["fixed_point"]["split_conflicts"]``. Leaf values become int16 at one scale,
  summed in int32 (a forest's average is a sum: the argmax does not change).
* Linear models and MLPs: a leading Scaler is folded into the first layer; the input
  scales too, so the first layer multiplies the raw integer features. Weights are int16
  (``scheme="int16"``) or int8 with one scale per output row, biases (with the input zero
  points folded in) int64, accumulation exact; each layer requantizes per row to its
  activation (symmetric, range from calibration) by TFLite's int64 multiplier. ReLU is a
  clamp; tanh and logistic are a 257-entry table over the pre-activation range with
  linear interpolation. The last layer lands on one common int32 scale (logits near 2**24
  at the calibration maximum), so the label is the argmax of integers.

>>> # q = edgeinfer.quantize(random_forest, calibration=X_train, scheme="int16"); edgeinfer.convert(q)
"""

from __future__ import annotations

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.fixed_point import LUT_SIZE, lut_lookup, quantize_features
from edgeinfer.ir.ops.linear import expit
from edgeinfer.ir.ops.trees import trees_of
from edgeinfer.ir.tensor import Tensor

CLASSICAL_OPS = ("TreeEnsembleClassifier", "LinearClassifier", "MLP")
FIXED_SCHEMES = {"int8": "int8", "int16": "int16"}
_OUT_TOP = float(1 << 24)  # logits at the calibration maximum: ample resolution, 2**7 headroom in int32


def is_classical(graph: Graph) -> bool:
    """True when ``graph`` is a classical model this pass handles (dispatch in ``quantize_graph``)."""
    return any(n.op in CLASSICAL_OPS for n in graph.nodes)


def input_quantization(X: np.ndarray, dtype: str) -> dict:
    """Per-feature affine parameters covering the calibration range of each column."""
    info = np.iinfo(np.dtype(dtype))
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    span = hi - lo
    levels = float(info.max - info.min - 1)
    scale = np.where(span > 0, span / levels, 1.0)
    zp = np.where(span > 0, info.min + 1 - np.floor(lo / scale + 0.5), 0).astype(np.int64)
    return {"dtype": dtype, "scale": [float(s) for s in scale], "zero_point": [int(z) for z in zp],
            "formula": "q = clamp(floor(x / scale + 0.5) + zero_point, dtype min, dtype max), per feature"}


def quantize_classical(graph: Graph, calibration: np.ndarray, scheme: str = "int16") -> Graph:
    """The integer-only graph of a scikit-learn-style tree ensemble, linear classifier or MLP.

    >>> # q = quantize_classical(from_sklearn(rf), X_train, "int16"); run(q, quantize_features(X, ...))
    """
    if scheme not in FIXED_SCHEMES:
        raise UnsupportedModelError(f"fixed-point scheme {scheme!r} for a classical model; choose int8 or int16")
    dtype = FIXED_SCHEMES[scheme]
    X = np.asarray(calibration, np.float32).reshape(len(calibration), -1)
    nodes = list(graph.nodes)
    if len(graph.inputs) != 1 or not nodes:
        raise UnsupportedModelError("fixed-point quantization takes a single-input classical model")
    pre = nodes[:-1]
    head = nodes[-1]
    if head.op not in CLASSICAL_OPS or any(n.op != "Scaler" for n in pre) or len(pre) > 1:
        raise UnsupportedModelError(
            f"fixed-point quantization supports a {', '.join(CLASSICAL_OPS)} node, optionally after one Scaler "
            f"(linear models and MLPs); this graph has {' -> '.join(n.op for n in nodes)}")
    if head.op == "TreeEnsembleClassifier" and pre:
        raise UnsupportedModelError("fixed-point trees read the raw features: a Scaler before trees is unsupported")
    iq = input_quantization(X, dtype)
    q = Graph(graph.name + f"_fx{scheme[3:]}")
    q.metadata.update({k: v for k, v in graph.metadata.items() if k in ("task", "classes", "estimator", "source")})
    q.metadata["has_proba"] = False
    q.metadata["input_quantization"] = iq
    xin = graph.inputs[0]
    q.add_input(xin, (None, X.shape[1]), dtype)
    if head.op == "TreeEnsembleClassifier":
        info = _trees(q, head, X, iq)
    else:
        info = _dense(q, graph, pre[0] if pre else None, head, X, iq)
    q.metadata["fixed_point"] = {"scheme": scheme, **info}
    return q.validate()


# ------------------------------------------------------------------------------------------ trees
def _threshold_tables(X: np.ndarray, iq: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per feature: the sorted distinct calibration values and their integer codes."""
    out = []
    for j in range(X.shape[1]):
        v = np.unique(X[:, j])
        out.append((v, quantize_features(v[:, None], {**iq, "scale": [iq["scale"][j]],
                                                      "zero_point": [iq["zero_point"][j]]})[:, 0].astype(np.int64)))
    return out


def quantize_threshold(t: float, vals: np.ndarray, codes: np.ndarray, qt: int) -> tuple[int, bool]:
    """(tq, conflict): ``qt`` = q(t), lowered by one if the first calibration value above t shares it."""
    i = int(np.searchsorted(vals, np.float32(t), side="right"))
    below = int(codes[i - 1]) if i > 0 else None
    above = int(codes[i]) if i < len(vals) else None
    if above is not None and qt >= above:
        if below is not None and below >= above:
            return qt, True
        return above - 1, False
    return qt, False


def _trees(q: Graph, node: Node, X: np.ndarray, iq: dict) -> dict:
    post = node.attr("post_transform", "NONE")
    trees = trees_of(node)
    tables = _threshold_tables(X, iq)
    info = np.iinfo(np.dtype(iq["dtype"]))
    feature, threshold, left, right, roots, leaves = [], [], [], [], [], []
    conflicts, n_split = 0, 0
    for tree in trees:
        base = len(feature)
        roots.append(base)
        for i in range(len(tree.feature)):
            if tree.left[i] < 0:
                feature.append(-1)
                threshold.append(0)
                left.append(len(leaves))
                right.append(0)
                leaves.append(tree.values[i])
                continue
            f, t = int(tree.feature[i]), float(tree.threshold[i])
            qt = int(np.clip(np.floor(t / iq["scale"][f] + 0.5) + iq["zero_point"][f], info.min, info.max))
            tq, bad = quantize_threshold(t, *tables[f], qt)
            conflicts += bad
            n_split += 1
            feature.append(f)
            threshold.append(int(np.clip(tq, info.min, info.max)))
            left.append(base + int(tree.left[i]))
            right.append(base + int(tree.right[i]))
    lv = np.asarray(leaves, np.float64)
    k = lv.shape[1]
    base_v = np.asarray(node.attr("base_values", np.zeros(k)), np.float64).reshape(-1)
    if base_v.size == 0:
        base_v = np.zeros(k)
    top = max(float(np.abs(lv).max(initial=0.0)), float(np.abs(base_v).max(initial=0.0)) / max(len(trees), 1))
    leaf_scale = top / 32767.0 if top > 0 else 1.0
    leaf_q = np.clip(np.round(lv / leaf_scale), -32767, 32767).astype(np.int16)
    base_q = np.round(base_v / leaf_scale).astype(np.int64)
    score_scale = leaf_scale / len(trees) if node.attr("aggregate_function", "SUM") == "AVERAGE" else leaf_scale
    mode = "argmax"
    if post == "LOGISTIC":
        mode = "nonnegative" if node.attr("binary_tie_class", 0) == 1 else "positive"
    q.add_node("FxTreeEnsemble", [q.inputs[0]], ["label", "scores"], name=node.name or "trees",
               feature=np.asarray(feature, np.int32), threshold=np.asarray(threshold, np.int32),
               left=np.asarray(left, np.int32), right=np.asarray(right, np.int32),
               roots=np.asarray(roots, np.int32), leaf_values=leaf_q, base=base_q.astype(np.int32), label_mode=mode)
    q.outputs = ["label", "scores"]
    q.metadata["score_scale"] = score_scale
    return {"splits": n_split, "split_conflicts": conflicts, "leaf_scale": leaf_scale}


# ------------------------------------------------------------------------------------ dense stacks
def _scaler_affine(graph: Graph, node: Node) -> tuple[np.ndarray, np.ndarray]:
    """(a, c) with Scaler(x) = a * x + c per feature, in float64."""
    if node.attr("clip") is not None:
        raise UnsupportedModelError("a clipping Scaler cannot be folded into fixed-point weights")
    a, c = 1.0, 0.0
    for step, name in zip(node.attr("steps", []), node.inputs[1:], strict=True):
        p = np.asarray(graph.const(name), np.float64)
        if step == "sub":
            c = c - p
        elif step == "add":
            c = c + p
        elif step == "mul":
            a, c = a * p, c * p
        else:
            p = np.where(p == 0, 1.0, p)
            a, c = a / p, c / p
    n = len(np.asarray(graph.const(node.inputs[1])))
    return np.broadcast_to(a, (n,)).astype(np.float64), np.broadcast_to(c, (n,)).astype(np.float64)


def _layers(graph: Graph, node: Node) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str], str]:
    """Float64 (W (n_out, n_in), b) per layer, per-layer activations and the label mode."""
    consts = [np.asarray(graph.const(n), np.float64) for n in node.inputs[1:]]
    if node.op == "LinearClassifier":
        b = consts[1] if len(consts) > 1 else np.zeros(len(consts[0]))
        return [(consts[0], b)], ["identity"], "argmax" if len(consts[0]) > 1 else "positive"
    if node.attr("task", "classifier") != "classifier":
        raise UnsupportedModelError("fixed-point MLPs are classifiers")
    pairs = [(consts[i], consts[i + 1]) for i in range(0, len(consts), 2)]
    acts = [node.attr("activation", "relu")] * (len(pairs) - 1) + ["identity"]
    return pairs, acts, "argmax" if len(pairs[-1][0]) > 1 else "positive"


def _dense(q: Graph, graph: Graph, scaler: Node | None, node: Node, X: np.ndarray, iq: dict) -> dict:
    layers, acts, mode = _layers(graph, node)
    a, c = _scaler_affine(graph, scaler) if scaler is not None else (np.ones(X.shape[1]), np.zeros(X.shape[1]))
    s_in = np.asarray(iq["scale"], np.float64)
    zp = np.asarray(iq["zero_point"], np.float64)
    # real input of layer 0 in terms of the integer features: a * s_in * (xq - zp) + c
    w0, b0 = layers[0]
    layers[0] = (w0 * (a * s_in)[None, :], b0 + w0 @ c)
    bits = 16 if iq["dtype"] == "int16" else 8
    wmax = (1 << (bits - 1)) - 1
    wdt = iq["dtype"]
    amax = (1 << (bits - 1)) - 1
    h_real = X.astype(np.float64) * a + c  # calibration activations in float, layer by layer
    h_q = quantize_features(X, iq).astype(np.int64)
    in_zp = zp.astype(np.int64)
    in_scale = 1.0  # layer 0's weights already carry the input scales
    luts = []
    ins = [q.inputs[0]]
    for li, ((w, b), act) in enumerate(zip(layers, acts, strict=True)):
        last = li == len(layers) - 1
        # float pre-activation of this layer on the calibration rows (the float model's)
        pre_real = (h_real @ (w.T if li else w0.T)) + (b if li else b0)
        ws = np.abs(w).max(axis=1) / wmax
        ws[ws == 0] = 1.0
        wq = np.clip(np.round(w / ws[:, None]), -wmax, wmax).astype(np.int64)
        bq = np.round(b / (ws * in_scale)).astype(np.int64) - wq @ in_zp
        top = float(np.abs(pre_real).max(initial=0.0)) or 1.0
        lut = None
        if last:
            out_scale = top / _OUT_TOP
        elif act == "relu":
            out_scale = max(float(pre_real.max(initial=0.0)), 1e-12) / amax
        else:
            out_scale = top / amax  # identity activation, or the pre-activation a table reads
        mults = [qm.quantize_multiplier(float(v)) for v in ws * in_scale / out_scale]
        if max(s for _, s in mults) >= 15:
            raise UnsupportedModelError(f"layer {li}: requantization multiplier too large for the int64 form")
        mult = np.asarray([m for m, _ in mults], np.int32)
        shift = np.asarray([s for _, s in mults], np.int32)
        names = [f"W{li}", f"b{li}", f"m{li}", f"s{li}"]
        for nm, arr, dt in zip(names, (wq, bq, mult, shift), (wdt, "int64", "int32", "int32"), strict=True):
            q.tensors[nm] = Tensor(nm, arr.shape, dt, data=np.asarray(arr).astype(dt))
        ins += names
        # the integer activations on the calibration rows (so the next layer's ranges are the integer ones)
        y = qm.mbqm64(h_q @ wq.T + bq, mult, shift)
        next_scale = out_scale
        if act in ("tanh", "logistic") and not last:
            grid = -(amax + 1) + np.arange(LUT_SIZE) * (1 << (bits - 8))
            f = np.tanh if act == "tanh" else expit
            lut = np.clip(np.round(f(grid * out_scale) * amax), -amax, amax).astype(np.int32)
            next_scale = 1.0 / amax
            y = lut_lookup(np.clip(y, -amax - 1, amax), lut, bits)
        elif act == "relu" and not last:
            y = np.clip(y, 0, amax)
        elif not last:
            y = np.clip(y, -amax - 1, amax)
        luts.append(lut)
        if not last:
            h_real = _activate(pre_real, act)
            h_q = y
            in_zp = np.zeros(len(w), np.int64)
            in_scale = next_scale
    q.add_node("FxDense", ins, ["label", "scores"], name=node.name or "dense", activations=list(acts),
               luts=luts, act_dtype=iq["dtype"], label_mode=mode)
    q.outputs = ["label", "scores"]
    q.metadata["score_scale"] = float(out_scale)
    return {"layers": len(layers), "weight_dtype": wdt}


def _activate(h: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return np.maximum(h, 0)
    if act == "tanh":
        return np.tanh(h)
    if act == "logistic":
        return expit(h)
    return h
