"""Fixed-point forms of classical models (trees, linear models, MLPs, SVMs) for targets without an FPU.

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
* Regressors (tree ensembles, linear models, MLPs with an identity output): the same
  forms with one output, ``values`` int32, in units of ``metadata["score_scale"]``.
* Kernel SVMs (SVC, NuSVC, SVR, NuSVR; op ``FxSVM``, formats in its docstring). A leading
  Scaler folds into the input step: the SVM sees ``z_j = u_j (xq_j - zp_j) + c_j`` with
  ``u_j = a_j * scale_j``. rbf: the support vectors become feature codes (rounded at the
  feature scales, as narrow as the features), the squared distance is summed exactly per
  feature group (features of equal step) and weighted by ``gamma u_j**2 log2(e)`` (a
  20-bit mantissa and a shift per group) into ``t`` in Q.24, and ``2**-t`` is a
  257-entry Q30 table of ``2**-f`` interpolated linearly, shifted by t's integer part.
  poly / sigmoid: ``gamma <z, sv> + coef0`` is an int16 row per support vector
  (``gamma u_j sv_j``, power-of-two unit) plus an int64 bias; poly takes degree-1
  requantized products in int32 (format from the calibration arguments, twice their
  maximum as headroom), sigmoid reads the tanh table of the dense stacks over the
  calibration argument range (at most +-8). linear: the kernel sum of each class pair
  collapses to one int16 weight row (exact algebra). Dual coefficients are int16 at a
  power-of-two unit per class pair (each coefficient belongs to exactly one pair), so
  every decision is an exact int64 sum whose sign casts libsvm's vote, and a rounding
  shift takes it to the common int32 decision (near 2**24 at the calibration maximum,
  less for the ovr scores: see FxSVM).

  Error bound (absolute, kernel values at most 1 for rbf and sigmoid). rbf: the group
  weights are within 2**-20 relatively and each of the G group terms rounds by 2**-25, so
  ``|dt| <= 2**-20 t + G 2**-25`` and ``|dK| <= ln2 K |dt|`` is below 2**-21.4 + G 2**-25.5
  (``t 2**-t <= 1/(e ln2)``); the table adds its interpolation error ``(ln2/256)**2 / 8 <
  2**-20`` and 2**-30 of rounding. sigmoid: the table's interpolation error is
  ``h**2/8 * max|tanh''|`` (h = 1/128 of the argument span: 2**-11.4 at span +-8, 2**-17
  at +-1) plus 2**-16, and the argument's rounding passes through (tanh is 1-Lipschitz).
  poly: the int16 rows carry 2**-16 of their row maximum per element over at most 2**16
  codes, and each product rounds by half a unit of its format; ``|dK| ~ degree |a|**(degree-1)
  |da|``. Then ``|d dec_p| <= sum_l |c_l| |dK_l| + 2**-15 max|c_p| sum_l |K_l| + |d rho_p|``,
  so a vote is exact whenever ``|dec_p|`` exceeds that (plus what the input rounding
  moves: each feature and support vector within half a step). When the kernel terms
  cancel far below their size (``sum |c K| >> |dec|``, e.g. unscaled features in a poly
  kernel) no int16 coefficient holds the sign: the pass measures the decisions on the
  calibration rows against the float model's on the same integer inputs, reports the
  largest error (``calibration_decision_error``, relative to the largest decision) and
  refuses the model when the rounding alone changes more than 2% of the calibration
  labels (a regressor: moves a value by more than 2% of the range).

Every fixed-point model reports how it agrees with the float one on the calibration rows
in ``metadata["fixed_point"]``: ``calibration_agreement`` (classifiers: share of equal
labels) or ``calibration_max_abs_error`` and ``calibration_max_error_rel_range``
(regressors, in the float model's units and relative to the range of its values).

>>> # q = edgeinfer.quantize(random_forest, calibration=X_train, scheme="int16"); edgeinfer.convert(q)
"""

from __future__ import annotations

import math

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.fixed_point import (
    ACC_LIMIT,
    EXP_CUT,
    EXP_FRAC,
    LUT_SIZE,
    MAX_FEATURES,
    RBF_FRAC,
    SV_LIMIT,
    TANH_FRAC,
    class_pairs,
    exp2_table,
    lut_lookup,
    ovr_vote_weight,
    quantize_features,
    rshift_round,
    svm_sums,
)
from edgeinfer.ir.ops.linear import expit
from edgeinfer.ir.ops.svm import kernel_matrix, ovo_decisions
from edgeinfer.ir.ops.trees import trees_of
from edgeinfer.ir.tensor import Tensor

CLASSICAL_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "LinearClassifier", "LinearRegressor", "MLP",
                 "SVMClassifier", "SVMRegressor")
TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
SVM_OPS = ("SVMClassifier", "SVMRegressor")
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
    if head.op in TREE_OPS and pre:
        raise UnsupportedModelError("fixed-point trees read the raw features: a Scaler before trees is unsupported")
    iq = input_quantization(X, dtype)
    q = Graph(graph.name + f"_fx{scheme[3:]}")
    q.metadata.update({k: v for k, v in graph.metadata.items()
                       if k in ("task", "classes", "estimator", "source", "n_targets")})
    q.metadata["has_proba"] = False
    q.metadata["input_quantization"] = iq
    xin = graph.inputs[0]
    q.add_input(xin, (None, X.shape[1]), dtype)
    if head.op in TREE_OPS:
        info = _trees(q, head, X, iq)
    elif head.op in SVM_OPS:
        info = _svm(q, graph, pre[0] if pre else None, head, X, iq)
    else:
        info = _dense(q, graph, pre[0] if pre else None, head, X, iq)
    q.metadata["fixed_point"] = {"scheme": scheme, **info}
    q.validate()
    q.metadata["fixed_point"].update(calibration_report(graph, q, X))
    return q


def _float_run(graph: Graph, X: np.ndarray, rows: int = 128) -> dict[str, np.ndarray]:
    """The float graph's reference outputs, a few rows at a time (the float rbf reference
    holds an (N, L, F) array)."""
    from edgeinfer.ir.reference import run

    parts = [run(graph, X[i:i + rows]) for i in range(0, len(X), rows)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def calibration_report(graph: Graph, q: Graph, X: np.ndarray) -> dict:
    """How the integer model agrees with the float one on the calibration rows: the label
    agreement of a classifier; a regressor's largest error, absolute (in the float model's
    units) and relative to the range of the float model's values.

    >>> # quantize(...).metadata["fixed_point"]["calibration_agreement"] -> 1.0
    """
    f = _float_run(graph, X)
    i = _float_run(q, quantize_features(X, q.metadata["input_quantization"]))
    if q.metadata.get("task") == "classification":
        return {"calibration_agreement": float((f[graph.outputs[0]] == i[q.outputs[0]]).mean())}
    ref = np.asarray(f[graph.outputs[0]], np.float64).reshape(len(X), -1)
    got = np.asarray(i[q.outputs[0]], np.float64).reshape(len(X), -1) * q.metadata["score_scale"]
    err = float(np.abs(got - ref).max(initial=0.0))
    span = float(ref.max(initial=0.0) - ref.min(initial=0.0)) or 1.0
    return {"calibration_max_abs_error": err, "calibration_max_error_rel_range": err / span}


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
    mode = "argmax" if node.op == "TreeEnsembleClassifier" else "values"
    if post == "LOGISTIC":
        mode = "nonnegative" if node.attr("binary_tie_class", 0) == 1 else "positive"
    if not len(trees) * 32767 + int(np.abs(base_q).max(initial=0)) < (1 << 31):
        raise UnsupportedModelError(f"{len(trees)} trees overflow the int32 sum of int16 leaves; use fewer trees")
    outs = ["values"] if mode == "values" else ["label", "scores"]
    q.add_node("FxTreeEnsemble", [q.inputs[0]], outs, name=node.name or "trees",
               feature=np.asarray(feature, np.int32), threshold=np.asarray(threshold, np.int32),
               left=np.asarray(left, np.int32), right=np.asarray(right, np.int32),
               roots=np.asarray(roots, np.int32), leaf_values=leaf_q, base=base_q.astype(np.int32), label_mode=mode)
    q.outputs = outs
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
    if node.op in ("LinearClassifier", "LinearRegressor"):
        b = consts[1] if len(consts) > 1 else np.zeros(len(consts[0]))
        if node.op == "LinearRegressor":
            return [(consts[0], b)], ["identity"], "values"
        return [(consts[0], b)], ["identity"], "argmax" if len(consts[0]) > 1 else "positive"
    pairs = [(consts[i], consts[i + 1]) for i in range(0, len(consts), 2)]
    acts = [node.attr("activation", "relu")] * (len(pairs) - 1) + ["identity"]
    if node.attr("task", "classifier") != "classifier":
        if node.attr("out_activation", "identity") != "identity":
            raise UnsupportedModelError("a fixed-point MLP regressor needs an identity output layer")
        return pairs, acts, "values"
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
    outs = ["values"] if mode == "values" else ["label", "scores"]
    q.add_node("FxDense", ins, outs, name=node.name or "dense", activations=list(acts),
               luts=luts, act_dtype=iq["dtype"], label_mode=mode)
    q.outputs = outs
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


# ------------------------------------------------------------------------------------------- SVMs
_TOP_BITS = 24  # decisions and regressor values near 2**24 at the calibration maximum, as dense logits


def _pow2_unit(m: float, bits: int = 15) -> int:
    """E with ``m / 2**E`` in [2**(bits-1), 2**bits): an int16 value of ``m`` at the power-of-two unit 2**E."""
    return math.frexp(m)[1] - bits


def _q16(v: np.ndarray, e: int) -> np.ndarray:
    return np.clip(np.round(v / 2.0 ** e), -32767, 32767).astype(np.int64)


def _float_decisions(node: Node, Z: np.ndarray, sv: np.ndarray, coef: np.ndarray, rho: np.ndarray,
                     regressor: bool) -> np.ndarray:
    """The float model's decision values (N, P) on the SVM inputs Z, a few rows at a time."""
    out = []
    for i in range(0, len(Z), 256):
        if node.attr("kernel_type") == "RBF":  # by the expansion (BLAS): a build-time target, 1e-12 suffices
            z = Z[i:i + 256]
            sq = (z * z).sum(axis=1)[:, None] - 2 * z @ sv.T + (sv * sv).sum(axis=1)[None, :]
            k = np.exp(-float(node.attr("gamma", 1.0)) * np.maximum(sq, 0.0))
        else:
            k = kernel_matrix(node, Z[i:i + 256], sv)
        out.append(k @ coef[0][:, None] - rho[None, :1] if regressor else ovo_decisions(node, k, coef, rho))
    return np.concatenate(out)


def _pair_slots(node: Node, n_sv: int, regressor: bool) -> list[list[tuple[int, slice]]]:
    """Per class pair, the (coefficient row, support vectors) blocks its decision sums (libsvm's layout)."""
    if regressor:
        return [[(0, slice(0, n_sv))]]
    counts = list(node.attr("vectors_per_class"))
    start = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    return [[(j - 1, slice(start[i], start[i + 1])), (i, slice(start[j], start[j + 1]))]
            for i, j in class_pairs(len(counts))]


def _svm(q: Graph, graph: Graph, scaler: Node | None, node: Node, X: np.ndarray, iq: dict) -> dict:
    """FxSVM from an SVMClassifier / SVMRegressor (formats: ``ir/ops/fixed_point.py``, FxSVM).

    Every step below is float64 arithmetic at build time only; the op computes in integers."""
    kind = node.attr("kernel_type")
    regressor = node.op == "SVMRegressor"
    sv, coef, rho = (np.asarray(graph.const(n), np.float64) for n in node.inputs[1:4])
    gamma, coef0, degree = float(node.attr("gamma", 1.0)), float(node.attr("coef0", 0.0)), int(node.attr("degree", 3))
    if kind == "POLY" and degree > 10:
        raise UnsupportedModelError(f"a degree-{degree} polynomial kernel has no useful int32 form (degree <= 10); "
                                    "lower the degree or use an rbf kernel")
    n_feat = X.shape[1]
    a, c = _scaler_affine(graph, scaler) if scaler is not None else (np.ones(n_feat), np.zeros(n_feat))
    zp = np.asarray(iq["zero_point"], np.float64)
    u = a * np.asarray(iq["scale"], np.float64)  # the SVM input's step per integer code: z = u * (xq - zp) + c
    xq = quantize_features(X, iq).astype(np.int64)
    Z = (xq - zp) * u + c  # the SVM input the integer model sees: the float model's decisions there are its target
    dec_f = _float_decisions(node, Z, sv, coef, rho, regressor)
    n_cls = 0 if regressor else len(node.attr("vectors_per_class"))
    slots = _pair_slots(node, len(sv), regressor)
    tables: list[tuple[str, np.ndarray, str]] = []  # (name, data, dtype) after x
    attrs: dict = {}
    if kind == "LINEAR":
        units, w_rows, b_rows = [], [], []
        for p, blocks in enumerate(slots):
            w = sum(coef[r, s] @ sv[s] for r, s in blocks)  # libsvm's kernel sum, collapsed: one row per pair
            om = w * u
            e = _pow2_unit(float(np.abs(om).max(initial=0.0)) or 1.0)
            wq = _q16(om, e)
            w_rows.append(wq)
            b_rows.append(int(np.round((float(w @ c) - rho[p]) / 2.0 ** e)) - int(wq @ zp.astype(np.int64)))
            units.append(e)
        tables += [("svm_weights", np.asarray(w_rows), "int16"), ("svm_bias", np.asarray(b_rows), "int64")]
        bound = max(int(np.abs(w).sum()) * (1 << 15) + abs(b) for w, b in zip(w_rows, b_rows, strict=True))
        frac = 0
    else:
        if kind == "RBF":
            vq, attrs, frac = _rbf_tables(sv, u, zp, c, gamma)
            tables.append(("svm_vectors", vq, _int_dtype(vq)))
            kmax = 1 << frac
        else:
            rows, bias, shifts, attrs, frac, kmax = _dot_tables(kind, sv, u, zp, c, gamma, coef0, degree, Z)
            tables.append(("svm_vectors", rows, "int16"))
        cq = np.zeros(coef.shape, np.int64)
        units, rho_q = [], []
        for p, blocks in enumerate(slots):
            e = _pow2_unit(max(float(np.abs(coef[r, s]).max(initial=0.0)) for r, s in blocks) or 1.0)
            for r, s in blocks:
                cq[r, s] = _q16(coef[r, s], e)
            rho_q.append(int(np.round(rho[p] * 2.0 ** (frac - e))))
            units.append(e - frac)
        bound = max(sum(int(np.abs(cq[r, s]).sum()) for r, s in blocks) * kmax + abs(rq)
                    for blocks, rq in zip(slots, rho_q, strict=True))
        tables += [("svm_coefficients", cq, "int16"), ("svm_rho", np.asarray(rho_q), "int64")]
        if kind in ("POLY", "SIGMOID"):
            tables += [("svm_vector_bias", bias, "int64"), ("svm_vector_shift", shifts, "int32")]
    if bound >= ACC_LIMIT:
        raise UnsupportedModelError(f"the SVM's integer decision sums could reach 2**{bound.bit_length() - 1}, "
                                    "beyond int64's headroom; use fewer support vectors (smaller C)")
    top = _TOP_BITS
    if n_cls > 2 and node.attr("decision_shape", "ovr") == "ovr":
        # confidences (sums of K-1 decisions) must stay inside half a vote's weight
        top = min(top, (ovr_vote_weight(n_cls) // (4 * (n_cls - 1))).bit_length() - 1)
    big = float(np.abs(dec_f).max(initial=0.0)) or 1.0
    g_exp = max(math.frexp(big)[1] - top, max(units))
    names = [q.inputs[0]]
    for name, data, dt in tables:
        q.tensors[name] = Tensor(name, data.shape, dt, data=np.asarray(data).astype(dt))
        names.append(name)
    if regressor:
        outs, cls_attrs = ["values"], {"task": "regressor"}
    else:
        outs = ["label", "scores"]
        cls_attrs = {"task": "classifier", "vectors_per_class": list(node.attr("vectors_per_class")),
                     "decision_shape": node.attr("decision_shape", "ovr"),
                     "break_ties": int(node.attr("break_ties", 0))}
    fx = q.add_node("FxSVM", names, outs, name=node.name or "svm", kernel_type=kind, degree=degree,
                    out_shift=[g_exp - e for e in units], **cls_attrs, **attrs)
    q.outputs = outs
    q.metadata["score_scale"] = 2.0 ** g_exp
    err = _check_decisions(fx, xq, [q.tensors[n].data for n in names[1:]], dec_f, 2.0 ** g_exp, n_cls)
    return {"kernel": kind, "vectors": len(sv) if kind != "LINEAR" else 0,
            "vector_dtype": tables[0][2], "kernel_frac": frac, "calibration_decision_error": err}


def _check_decisions(fx: Node, xq: np.ndarray, params: list, dec_f: np.ndarray, scale: float, n_cls: int) -> float:
    """Largest decision error on the calibration rows relative to the largest decision; refuses the model
    when its arithmetic alone (same integer inputs) changes more than 2% of the labels, or a regressor's
    value by more than 2% of its range: the kernel sums then cancel beyond what int16 coefficients hold."""
    acc = svm_sums(fx, xq, tuple(params))
    dec = rshift_round(acc, np.asarray(fx.attr("out_shift"), np.int64)[None, :]) * scale
    top = float(np.abs(dec_f).max(initial=0.0)) or 1.0
    err = float(np.abs(dec - dec_f).max(initial=0.0)) / top
    if n_cls:
        votes_f, votes_i = np.zeros((len(acc), n_cls)), np.zeros((len(acc), n_cls))
        for p, (i, j) in enumerate(class_pairs(n_cls)):
            for votes, d in ((votes_f, dec_f[:, p]), (votes_i, acc[:, p])):
                votes[:, i] += d > 0
                votes[:, j] += ~(d > 0)
        flipped = float((votes_f.argmax(axis=1) != votes_i.argmax(axis=1)).mean())
        bad, what = flipped > 0.02, f"change {100 * flipped:.0f}% of the calibration labels"
    else:
        span = float(dec_f.max(initial=0.0) - dec_f.min(initial=0.0)) or 1.0
        bad, what = err * top > 0.02 * span, f"move values by {100 * err * top / span:.0f}% of their range"
    if bad:
        raise UnsupportedModelError(
            f"the integer SVM's rounding alone would {what}: its kernel sums cancel far below their size "
            f"(decision error {err:.1e} of the largest decision). Scale the features (e.g. StandardScaler) "
            "or use a smaller gamma, degree or C, then quantize again")
    return err


def _int_dtype(v: np.ndarray) -> str:
    lo, hi = int(v.min(initial=0)), int(v.max(initial=0))
    return next(dt for dt in ("int8", "int16", "int32") if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max)


def _rbf_tables(sv: np.ndarray, u: np.ndarray, zp: np.ndarray, c: np.ndarray,
                gamma: float) -> tuple[np.ndarray, dict, int]:
    """Support vectors as feature codes, and the distance weights that give the exponent t in Q.24.

    ``gamma * u_j**2 * log2(e) * 2**24 = mult / 2**shift`` with mult in [2**19, 2**20)
    (relative error <= 2**-20) where the shift allows; features with equal (mult, shift)
    (equal calibration ranges) share one group, so their squared distances add exactly
    before one multiply (digits: 11 groups for 64 features). A group's sum is capped where
    its term alone passes the cut (the kernel is 0 either way), so ``mult * capped`` < 2**62
    and each shifted term < 2**31."""
    if len(u) > MAX_FEATURES:
        raise UnsupportedModelError(f"{len(u)} features: the fixed-point rbf kernel takes at most {MAX_FEATURES}")
    safe = np.where(u == 0, 1.0, u)
    vq = np.where(u == 0, zp, np.round(zp + (sv - c) / safe)).astype(np.int64)
    if np.abs(vq).max(initial=0) > SV_LIMIT:
        f = int(np.argmax(np.abs(vq).max(axis=0)))
        raise UnsupportedModelError(f"a support vector lies far outside the calibration range of feature {f} "
                                    "(beyond 2**20 integer codes); calibrate with the training data")
    keys = []
    for wj in gamma * u * u / math.log(2) * 2.0 ** EXP_FRAC:
        sh = min(max(20 - math.frexp(wj)[1], 0), 60) if wj > 0 else 0
        m = min(int(np.floor(wj * 2.0 ** sh + 0.5)), EXP_CUT + 1) if wj > 0 else 0
        keys.append((m, sh if m else 0))
    groups = sorted(set(keys))
    cap = [min(1 << 42, -(-((EXP_CUT + 1) << sh) // m)) if m else 1 << 42 for m, sh in groups]
    return vq, {"dist_group": [groups.index(k) for k in keys], "dist_mult": [m for m, _ in groups],
                "dist_shift": [sh for _, sh in groups], "dist_cap": cap, "kernel_frac": RBF_FRAC,
                "kernel_table": exp2_table().tolist()}, RBF_FRAC


def _dot_tables(kind: str, sv: np.ndarray, u: np.ndarray, zp: np.ndarray, c: np.ndarray, gamma: float,
                coef0: float, degree: int, Z: np.ndarray) -> tuple:
    """Poly / sigmoid: int16 rows of ``gamma * u_j * sv_lj`` at power-of-two units, int64 biases
    (scaler offset, zero points and coef0 folded in) and the shift to the argument's format."""
    P = gamma * sv * u[None, :]
    arg = np.concatenate([gamma * (Z[i:i + 512] @ sv.T) + coef0 for i in range(0, len(Z), 512)])
    a_cal = float(np.abs(arg).max(initial=0.0))
    row_max = np.abs(P).max(axis=1)
    row_e = [_pow2_unit(float(m)) if m > 0 else None for m in row_max]
    finest = min((-e for e in row_e if e is not None), default=62)
    attrs: dict = {}
    if kind == "POLY":
        big = max(2.0 * a_cal, 2.0 ** -20)  # headroom: arguments up to twice the calibration maximum
        lg = math.log2(big)
        frac = min(30 - math.ceil(lg), finest, 40)
        fr, shifts_pow = frac, []
        for n in range(2, degree + 1):
            nxt = min(fr + frac, 30 - math.ceil(n * lg))
            shifts_pow.append(fr + frac - nxt)
            fr = nxt
        attrs["power_shift"] = shifts_pow
        kfrac = fr if degree >= 1 else 30
        kmax = 1 << 31
        a_frac = frac
    else:
        span = min(8.0, 1.25 * a_cal) or 1.0  # tanh is within 2e-7 of +-1 beyond 8
        a_frac = 15 - math.ceil(math.log2(span))  # int16 codes cover [-2**(15 - a_frac), 2**(15 - a_frac))
        if finest < a_frac:
            raise UnsupportedModelError("one feature step moves the sigmoid kernel's argument by more than half "
                                        "its range; scale the features (e.g. StandardScaler) before the SVM")
        grid = (-(1 << 15) + np.arange(LUT_SIZE) * 256) * 2.0 ** -a_frac
        attrs["kernel_table"] = np.clip(np.round(np.tanh(grid) * 32767), -32767, 32767).astype(int).tolist()
        kfrac, kmax = TANH_FRAC, 1 << 15
    attrs["kernel_frac"] = kfrac
    row_e = [e if e is not None else -a_frac for e in row_e]
    rows = np.stack([_q16(P[i], e) for i, e in enumerate(row_e)]) if len(P) else np.zeros((0, len(u)), np.int64)
    bias = np.asarray([int(np.round((gamma * float(sv[i] @ c) + coef0) / 2.0 ** e)) - int(rows[i] @ zp.astype(np.int64))
                       for i, e in enumerate(row_e)], np.int64)
    shifts = np.asarray([-e - a_frac for e in row_e], np.int64)
    if len(rows) and int((np.abs(rows).sum(axis=1) * (1 << 15) + np.abs(bias)).max()) >= ACC_LIMIT:
        raise UnsupportedModelError("the kernel argument's integer sums overflow int64; scale the features")
    return rows, bias, shifts, attrs, kfrac, kmax
