"""Fixed-point classical models: integer-only trees and dense stacks for targets without an FPU.

Both ops take integer features (int8 or int16), produced from the float features by a
per-feature affine quantization chosen from calibration data (:func:`quantize_features`,
parameters in the graph's ``metadata["input_quantization"]`` so firmware can quantize
its sensor values the same way), and never compute in floating point, so their C needs
no soft-float helper on a Cortex-M0+.

* ``FxTreeEnsemble(X)`` -> ``label`` int32 (N,), ``scores`` int32 (N, C). Flat node
  tables over all trees (attrs ``feature`` (-1 marks a leaf), ``threshold``, ``left``
  (taken when ``x <= threshold``; on a leaf, its row in ``leaf_values``), ``right``),
  ``roots`` (first node of each tree), ``leaf_values`` int16 (n_leaves, K), ``base``
  int32 (K,). Scores are int32 sums, base first, in units of ``metadata["score_scale"]``.
  ``label_mode`` ``argmax`` (first index on ties) or ``positive`` / ``nonnegative``
  (one raw score s, binary: label ``s > 0`` / ``s >= 0``, scores ``[-s, s]``).
* ``FxDense(X, W0, b0, m0, s0, W1, ...)`` -> ``label``, ``scores`` int32: a stack of dense
  layers (a linear model is one layer). ``W_l`` int8/int16 (n_out, n_in) with one scale per
  output row, ``b_l`` int64 (zero points and bias folded in), ``m_l``/``s_l`` int32 the
  per-row requantization multiplier and shift, applied to the exact integer accumulator
  as TFLite's int64 ``MultiplyByQuantizedMultiplier`` (:func:`quant_math.mbqm64`: the
  multiplier rounded to 16 bits, one rounding shift). attrs ``activations`` (per layer:
  ``relu`` exact, ``identity``, ``tanh``/``logistic`` through ``luts[l]``, a 257-entry
  table over the layer's integer pre-activation range read with linear interpolation),
  ``act_dtype`` of hidden activations, ``label_mode`` as above. The last layer's
  requantized values, clamped to +-(2**31 - 1), are the int32 scores (one common scale, so
  argmax is the label).
* ``label_mode="values"`` makes either op a regressor: one output, ``values`` int32 (N, T),
  the sums (trees) or last-layer values (dense) in units of ``metadata["score_scale"]``.
* ``FxSVM`` -> ``label``, ``scores`` int32 (classifier) or ``values`` int32 (N, 1)
  (regressor, ``task="regressor"``): a kernel SVM whose kernel values, decision sums and
  libsvm one-vs-one vote are all integer; its formats are described in :class:`FxSVM`.

>>> quantize_features(np.array([[0.5]]), {"scale": [0.25], "zero_point": [1], "dtype": "int8"}).tolist()
[[3]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinfer.ir import quant_math as qm
from edgeinfer.ir.registry import OpDef, register, require

LABEL_MODES = ("argmax", "positive", "nonnegative", "values")
FX_ACTIVATIONS = ("relu", "identity", "tanh", "logistic")
LUT_SIZE = 257


def quantize_features(x: Any, params: dict) -> np.ndarray:
    """``q = clamp(floor(x / scale + 0.5) + zero_point)`` per feature (halves up), in float64.

    The one definition of the input quantization: calibration, threshold choice and
    ``predict`` on float X all call it, so a tree decision seen at calibration is the
    decision the integer model takes."""
    dt = np.dtype(params["dtype"])
    info = np.iinfo(dt)
    v = np.asarray(x, np.float64) / np.asarray(params["scale"], np.float64)
    q = np.floor(v + 0.5) + np.asarray(params["zero_point"], np.float64)
    return np.clip(q, info.min, info.max).astype(dt)


def _labels(node, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    mode = node.attr("label_mode", "argmax")
    if mode == "values":
        return (scores.astype(np.int32),)
    if mode == "argmax":
        return np.argmax(scores, axis=1).astype(np.int32), scores.astype(np.int32)
    s = scores[:, 0]
    label = (s > 0) | ((s == 0) & (mode == "nonnegative"))
    return label.astype(np.int32), np.stack([-s, s], axis=1).astype(np.int32)


def _int_input(node, t) -> None:
    require(t is not None and len(t.shape) == 2, node, "input must be (batch, n_features)")
    require(t.dtype in ("int8", "int16"), node, f"input must be int8 or int16 features, got {t.dtype}")


def _n_scores(node, k: int) -> int:
    return k if node.attr("label_mode", "argmax") in ("argmax", "values") else 2


def _outputs(node, batch, k: int) -> list[tuple[tuple, str]]:
    """(label, scores) of a classifier, or the one ``values`` output of a regressor."""
    if node.attr("label_mode", "argmax") == "values":
        return [((batch, k), "int32")]
    return [((batch,), "int32"), ((batch, _n_scores(node, k)), "int32")]


@register
class FxTreeEnsemble(OpDef):
    """Integer tree ensemble: integer thresholds, int16 leaves, int32 sums (see module docstring)."""

    name = "FxTreeEnsemble"

    @staticmethod
    def infer(node, inputs):
        _int_input(node, inputs[0])
        feat = np.asarray(node.attr("feature"))
        n = len(feat)
        require(all(len(node.attr(k)) == n for k in ("threshold", "left", "right")), node,
                "feature, threshold, left and right must have one entry per node")
        require(feat.max(initial=-1) < inputs[0].shape[1], node, "a node reads a feature the input lacks")
        require(node.attr("label_mode", "argmax") in LABEL_MODES, node, f"label_mode: one of {LABEL_MODES}")
        k = np.asarray(node.attr("leaf_values")).shape[1]
        return _outputs(node, inputs[0].shape[0], k)

    @staticmethod
    def reference(node, x):
        feat = np.asarray(node.attr("feature"), np.int64)
        thr = np.asarray(node.attr("threshold"), np.int64)
        left = np.asarray(node.attr("left"), np.int64)
        right = np.asarray(node.attr("right"), np.int64)
        leaves = np.asarray(node.attr("leaf_values"), np.int64)
        x = np.asarray(x).astype(np.int64)
        idx = np.tile(np.asarray(node.attr("roots"), np.int64), (len(x), 1))
        rows = np.arange(len(x))[:, None]
        while True:
            f = feat[idx]
            inner = f >= 0
            if not inner.any():
                break
            go_left = x[rows, np.maximum(f, 0)] <= thr[idx]
            idx = np.where(inner, np.where(go_left, left[idx], right[idx]), idx)
        scores = np.asarray(node.attr("base"), np.int64) + leaves[left[idx]].sum(axis=1)
        return _labels(node, scores)

    @staticmethod
    def cost(node, inputs, outputs):
        feat = np.asarray(node.attr("feature"))
        leaves = np.asarray(node.attr("leaf_values"))
        inner = int((feat >= 0).sum())
        # threshold int16 + feature u8/u16 + two u16 children per branch; int16 leaf values
        return {"macs": 0, "comparisons": inner // max(len(node.attr("roots")), 1) + 1,
                "param_bytes": inner * 8 + leaves.size * 2}


def lut_lookup(pre: np.ndarray, lut: np.ndarray, bits: int) -> np.ndarray:
    """Table ``lut`` (257 entries over [qmin, qmax] of a ``bits``-bit pre-activation), linearly
    interpolated between entries (step ``2**(bits - 8)``); floor shifts, as C's on the targets."""
    u = np.asarray(pre, np.int64) + (1 << (bits - 1))
    sh = bits - 8
    i = u >> sh
    f = u & ((1 << sh) - 1)
    lut = np.asarray(lut, np.int64)
    return lut[i] + (((lut[np.minimum(i + 1, LUT_SIZE - 1)] - lut[i]) * f) >> sh)


def dense_layers(node) -> int:
    return (len(node.inputs) - 1) // 4


@register
class FxDense(OpDef):
    """Integer dense stack with per-row requantization (see module docstring)."""

    name = "FxDense"

    @staticmethod
    def infer(node, inputs):
        _int_input(node, inputs[0])
        require((len(inputs) - 1) % 4 == 0 and len(inputs) > 1, node, "expects (W, b, mult, shift) per layer")
        acts = list(node.attr("activations"))
        n_layers = (len(inputs) - 1) // 4
        require(len(acts) == n_layers and all(a in FX_ACTIVATIONS for a in acts), node,
                f"activations: one of {FX_ACTIVATIONS} per layer")
        require(node.attr("act_dtype", "int16") in ("int8", "int16"), node, "act_dtype: int8 or int16")
        n = inputs[0].shape[1]
        for i in range(n_layers):
            w, b, m, s = inputs[1 + 4 * i:5 + 4 * i]
            require(w is not None and w.is_const and w.dtype in ("int8", "int16") and w.shape[1] == n, node,
                    f"layer {i}: weights must be a constant int8/int16 (n_out, {n}) matrix")
            for t, dt in ((b, "int64"), (m, "int32"), (s, "int32")):
                require(t is not None and t.is_const and t.dtype == dt and tuple(t.shape) == (w.shape[0],), node,
                        f"layer {i}: bias (int64), multiplier and shift (int32) need one entry per row")
            n = w.shape[0]
        require(node.attr("label_mode", "argmax") in LABEL_MODES, node, f"label_mode: one of {LABEL_MODES}")
        return _outputs(node, inputs[0].shape[0], n)

    @staticmethod
    def reference(node, x, *params):
        bits = 16 if node.attr("act_dtype", "int16") == "int16" else 8
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        acts = node.attr("activations")
        luts = node.attr("luts") or [None] * len(acts)
        h = np.asarray(x).astype(np.int64)
        for i, act in enumerate(acts):
            w, b, m, s = (np.asarray(p, np.int64) for p in params[4 * i:4 * i + 4])
            y = qm.mbqm64(h @ w.T + b, m, s)
            if i == len(acts) - 1:
                h = np.clip(y, -qm.I32_MAX, qm.I32_MAX)  # symmetric, so the binary [-s, s] cannot overflow
            elif act == "relu":
                h = np.clip(y, 0, hi)
            elif act == "identity":
                h = np.clip(y, lo, hi)
            else:
                h = lut_lookup(np.clip(y, lo, hi), luts[i], bits)
        return _labels(node, h)

    @staticmethod
    def cost(node, inputs, outputs):
        macs = sum(int(np.prod(t.shape)) for t in inputs[1::4])
        return {"macs": macs, "comparisons": int(inputs[-4].shape[0]),
                "param_bytes": sum(t.nbytes() for t in inputs[1:] if t is not None and t.is_const)}


# ------------------------------------------------------------------------------------------- SVMs
SVM_KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")
EXP_FRAC = 24              # rbf: t = gamma * |x - v|**2 * log2(e) in Q.24
EXP_CUT = 31 << EXP_FRAC   # 2**-31 < 1 LSB of the Q30 kernel: t is clamped here, the kernel is 0
RBF_FRAC = 30              # rbf kernel values: Q30, in [0, 2**30]
TANH_FRAC = 15             # sigmoid kernel values: Q15 (the 257-entry tanh table of FxDense)
SV_LIMIT = 1 << 20         # |support vector code| <= 2**20, so |x - v| < 2**21 and (x - v)**2 < 2**42
MAX_FEATURES = 1 << 20     # so a group's sum of squares stays below 2**62
ACC_LIMIT = 1 << 62        # every int64 sum is proven below this when the graph is built


def rshift_round(x: Any, s: Any) -> np.ndarray:
    """``x / 2**s`` rounded half up, by an arithmetic shift (``s >= 0``; ``s = 0`` is exact)."""
    x, s = np.asarray(x, np.int64), np.asarray(s, np.int64)
    return (x + ((np.int64(1) << s) >> 1)) >> s


def exp2_table() -> np.ndarray:
    """``round(2**30 * 2**(-k/256))``, k = 0..256: the rbf kernel reads ``2**-f`` off it (Q30)."""
    return np.asarray([int(np.floor(2.0 ** (30 - k / 256) + 0.5)) for k in range(LUT_SIZE)], np.int64)


def ovr_vote_weight(n_cls: int) -> int:
    """Weight of one vote in the integer ovr scores: ``(n_cls - 1) * w + w / 2 < 2**31``."""
    return 1 << (30 - (n_cls - 1).bit_length())


def class_pairs(n_cls: int) -> list[tuple[int, int]]:
    """libsvm's pair order: (0,1), (0,2), ..., (1,2), ..."""
    return [(i, j) for i in range(n_cls) for j in range(i + 1, n_cls)]


def _clamp32(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -qm.I32_MAX, qm.I32_MAX)


def fx_kernel(node, x: np.ndarray, v: np.ndarray, vb: np.ndarray | None = None,
              vs: np.ndarray | None = None) -> np.ndarray:
    """Integer kernel values (N, L), int64, in Q(``kernel_frac``); see :class:`FxSVM`."""
    kind = node.attr("kernel_type")
    x, v = np.asarray(x, np.int64), np.asarray(v, np.int64)
    if kind == "RBF":
        group = np.asarray(node.attr("dist_group"), np.int64)
        mult, shift, cap = (np.asarray(node.attr(a), np.int64) for a in ("dist_mult", "dist_shift", "dist_cap"))
        tab = np.asarray(node.attr("kernel_table"), np.int64)
        out = np.empty((len(x), len(v)), np.int64)
        step = max(1, (1 << 22) // max(len(v), 1))  # rows per chunk: a few million (row, vector) pairs
        for r in range(0, len(x), step):
            t = np.zeros((len(x[r:r + step]), len(v)), np.int64)
            for g in range(len(mult)):
                xg, vg = x[r:r + step, group == g], v[:, group == g]
                # sum (x - v)**2 over the group, exact in int64 (|x|, |v| < 2**21, at most 2**20 features)
                sq = (xg * xg).sum(axis=1)[:, None] - 2 * (xg @ vg.T) + (vg * vg).sum(axis=1)[None, :]
                t += (np.minimum(sq, cap[g]) * mult[g] + ((1 << int(shift[g])) >> 1)) >> int(shift[g])
            t = np.minimum(t, EXP_CUT)
            f = t & ((1 << EXP_FRAC) - 1)
            i, lo = f >> (EXP_FRAC - 8), f & ((1 << (EXP_FRAC - 8)) - 1)
            e = tab[i] + (((tab[np.minimum(i + 1, LUT_SIZE - 1)] - tab[i]) * lo) >> (EXP_FRAC - 8))
            out[r:r + step] = e >> (t >> EXP_FRAC)
        return out
    # poly / sigmoid: the argument gamma <z, v> + coef0 from each vector's int16 row and int64 bias
    acc = x @ v.T + np.asarray(vb, np.int64)[None, :]
    if kind == "SIGMOID":
        a = np.clip(rshift_round(acc, np.asarray(vs, np.int64)[None, :]), -(1 << 15), (1 << 15) - 1)
        return lut_lookup(a, node.attr("kernel_table"), 16)
    a = _clamp32(rshift_round(acc, np.asarray(vs, np.int64)[None, :]))
    if int(node.attr("degree", 3)) == 0:
        return np.full_like(a, 1 << int(node.attr("kernel_frac")))
    r = a
    for s in node.attr("power_shift", []):
        r = _clamp32(rshift_round(r * a, int(s)))
    return r


def svm_sums(node, x: np.ndarray, params: tuple) -> np.ndarray:
    """The exact int64 decision sums (N, P), one per class pair (regressor: P = 1), before the shift."""
    x = np.asarray(x, np.int64)
    if node.attr("kernel_type") == "LINEAR":
        w, b = (np.asarray(p, np.int64) for p in params[:2])
        return x @ w.T + b[None, :]
    v, coef, rho = (np.asarray(p, np.int64) for p in params[:3])
    extra = params[3:5] if len(params) >= 5 else (None, None)
    k = fx_kernel(node, x, v, *extra)
    if node.attr("task", "classifier") == "regressor":
        return k @ coef[0][:, None] - rho[None, :]
    counts = list(node.attr("vectors_per_class"))
    start = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    cols = []
    for p, (i, j) in enumerate(class_pairs(len(counts))):
        si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
        cols.append(k[:, si] @ coef[j - 1, si] + k[:, sj] @ coef[i, sj] - rho[p])
    return np.stack(cols, axis=1)


def svm_outputs(node, acc: np.ndarray) -> tuple[np.ndarray, ...]:
    """Label and scores (or values) from the exact sums: libsvm's vote, sklearn's score layouts."""
    dec = _clamp32(rshift_round(acc, np.asarray(node.attr("out_shift"), np.int64)[None, :]))
    if node.attr("task", "classifier") == "regressor":
        return (dec.astype(np.int32),)
    n_cls = len(node.attr("vectors_per_class"))
    votes = np.zeros((len(acc), n_cls), np.int64)
    ovr_votes = np.zeros((len(acc), n_cls), np.int64)
    conf = np.zeros((len(acc), n_cls), np.int64)
    for p, (i, j) in enumerate(class_pairs(n_cls)):
        win = acc[:, p] > 0  # libsvm: dec > 0 votes for the first class of the pair
        votes[:, i] += win
        votes[:, j] += ~win
        ovr_votes[:, i] += acc[:, p] >= 0  # scikit-learn's _ovr_decision_function: dec >= 0
        ovr_votes[:, j] += acc[:, p] < 0
        conf[:, i] += dec[:, p]
        conf[:, j] -= dec[:, p]
    label = np.argmax(votes, axis=1)
    if n_cls == 2:
        scores = -dec
    elif node.attr("decision_shape", "ovr") == "ovo":
        scores = dec
    else:
        w = ovr_vote_weight(n_cls)
        scores = ovr_votes * w + np.clip(conf, -(w // 2 - 1), w // 2 - 1)
        if node.attr("break_ties", 0):
            label = np.argmax(scores, axis=1)
    return label.astype(np.int32), scores.astype(np.int32)


@register
class FxSVM(OpDef):
    """Integer kernel SVM: libsvm's one-vs-one vote (classifier) or its value (regressor).

    Kernel forms, inputs and attributes (every table integer, every sum exact int64):

    * ``RBF`` — ``FxSVM(x, vectors, coefficients, rho)``; ``vectors`` (L, F) the support
      vectors as integer feature codes (the input quantization, scaler folded in). Features
      with the same distance weight form a group (``dist_group[j]``, G groups); per vector l
      and group g: ``S_g = sum of (x_j - v_lj)**2`` over its features (exact), ``t +=
      (min(S_g, dist_cap[g]) * dist_mult[g] + rnd) >> dist_shift[g]`` (rnd = half the
      shift), then ``t = min(t, 31 << 24)`` is ``gamma * |z - sv|**2 * log2(e)`` in Q.24; the kernel
      ``2**-t`` is ``kernel_table`` (``2**(30 - k/256)``, 257 entries) at the fraction's top 8
      bits, linearly interpolated on the next 16, shifted right by the integer part: Q30.
    * ``POLY`` / ``SIGMOID`` — ``FxSVM(x, vectors, coefficients, rho, vector_bias,
      vector_shift)``; ``vectors`` (L, F) int16 rows ``gamma * u_j * sv_lj`` (each row at its
      own power-of-two scale), ``vector_bias`` int64, ``vector_shift`` int32: the argument
      ``a = (x . row + bias) >> vector_shift`` (rounded), in Q(``kernel_frac``) for poly
      (then ``degree - 1`` products ``r = (r * a) >> power_shift[i]``, each clamped to
      +-(2**31 - 1)), as an int16 code read through ``kernel_table`` (tanh, Q15, as
      FxDense's tables) for sigmoid.
    * ``LINEAR`` — ``FxSVM(x, weights, bias)``: libsvm's kernel sum is linear in x, so
      each class pair (or the regressor) is one int16 weight row and an int64 bias.

    ``coefficients`` int16 (K-1, L) (regressor (1, L)): every dual coefficient belongs to one
    class pair, and each pair has its own power-of-two scale; ``rho`` int64 (P,) at the
    pair's sum scale. The pair sum ``acc_p`` (exact) decides the vote (``acc_p > 0`` for
    the first class, ties to the lower class index, as libsvm); ``out_shift[p]`` (rounded
    right shift) brings it to the common int32 decision ``dec_p`` (clamped to +-(2**31 - 1))
    in units of ``metadata["score_scale"]``. Scores: two classes ``-dec`` (N, 1) as
    scikit-learn's ``decision_function``; ``decision_shape="ovo"`` the P decisions;
    ``"ovr"`` ``votes_c * w + clamp(conf_c, +-(w/2 - 1))`` with ``w =
    ovr_vote_weight(K)`` and scikit-learn's votes (``dec >= 0``) and confidence sums:
    ordered as scikit-learn's float ovr scores (whose confidence term is monotone and
    below one vote), so ``break_ties=1`` takes its argmax as scikit-learn does.
    """

    name = "FxSVM"

    @staticmethod
    def infer(node, inputs):
        _int_input(node, inputs[0])
        kind = node.attr("kernel_type")
        require(kind in SVM_KERNELS, node, f"kernel_type must be one of {SVM_KERNELS}")
        task = node.attr("task", "classifier")
        require(task in ("classifier", "regressor"), node, "task must be 'classifier' or 'regressor'")
        n_feat = inputs[0].shape[1]
        if task == "classifier":
            n_cls = len(node.attr("vectors_per_class", []))
            require(n_cls >= 2, node, "a classifier needs vectors_per_class for at least two classes")
            n_pairs = n_cls * (n_cls - 1) // 2
            require(node.attr("decision_shape", "ovr") in ("ovr", "ovo"), node, "decision_shape: 'ovr' or 'ovo'")
        else:
            n_cls, n_pairs = 0, 1
        require(len(node.attr("out_shift", [])) == n_pairs and min(node.attr("out_shift"), default=0) >= 0, node,
                f"out_shift: one shift >= 0 per decision ({n_pairs})")
        want = 3 if kind == "LINEAR" else (4 if kind == "RBF" else 6)
        require(len(inputs) == want and all(t is not None and t.is_const for t in inputs[1:]), node,
                f"kernel {kind} takes x and {want - 1} constant tables")
        if kind == "LINEAR":
            w, b = inputs[1:3]
            require(w.dtype == "int16" and tuple(w.shape) == (n_pairs, n_feat), node,
                    f"LINEAR weights must be int16 ({n_pairs}, {n_feat})")
            require(b.dtype == "int64" and tuple(b.shape) == (n_pairs,), node,
                    f"LINEAR bias must be int64 ({n_pairs},)")
        else:
            v, coef, rho = inputs[1:4]
            n_sv = v.shape[0]
            require(len(v.shape) == 2 and v.shape[1] == n_feat and v.dtype in ("int8", "int16", "int32"), node,
                    f"vectors must be integer (L, {n_feat})")
            rows = 1 if task == "regressor" else n_cls - 1
            require(coef.dtype == "int16" and tuple(coef.shape) == (rows, n_sv), node,
                    f"coefficients must be int16 ({rows}, {n_sv})")
            require(rho.dtype == "int64" and tuple(rho.shape) == (n_pairs,), node, f"rho must be int64 ({n_pairs},)")
            if task == "classifier":
                require(sum(node.attr("vectors_per_class")) == n_sv, node,
                        "vectors_per_class must sum to the number of vectors")
            table = node.attr("kernel_table")
            if kind != "POLY":
                require(table is not None and len(table) == LUT_SIZE, node, f"kernel_table needs {LUT_SIZE} entries")
            if kind == "RBF":
                n_grp = len(node.attr("dist_mult", []))
                grp = np.asarray(node.attr("dist_group", []), np.int64)
                require(len(grp) == n_feat and set(grp.tolist()) == set(range(n_grp))
                        and all(len(node.attr(a, [])) == n_grp for a in ("dist_shift", "dist_cap")), node,
                        "dist_group needs one group per feature, every group used; dist_mult, dist_shift and "
                        "dist_cap one entry per group")
            else:
                vb, vs = inputs[4:6]
                require(v.dtype == "int16", node, f"{kind} vectors are int16 rows")
                require(vb.dtype == "int64" and vs.dtype == "int32" and tuple(vb.shape) == tuple(vs.shape) == (n_sv,)
                        and int(vs.data.min(initial=0)) >= 0, node,
                        "vector_bias (int64) and vector_shift (int32, >= 0) need one entry per vector")
                if kind == "POLY":
                    require(len(node.attr("power_shift", [])) == max(int(node.attr("degree", 3)) - 1, 0), node,
                            "power_shift: one shift per product (degree - 1)")
        batch = inputs[0].shape[0]
        if task == "regressor":
            return [((batch, 1), "int32")]
        n_scores = 1 if n_cls == 2 else (n_pairs if node.attr("decision_shape", "ovr") == "ovo" else n_cls)
        return [((batch,), "int32"), ((batch, n_scores), "int32")]

    @staticmethod
    def reference(node, x, *params):
        return svm_outputs(node, svm_sums(node, x, params))

    @staticmethod
    def cost(node, inputs, outputs):
        macs = int(np.prod(inputs[1].shape))
        if node.attr("kernel_type") != "LINEAR":
            macs += int(np.prod(inputs[2].shape))
        return {"macs": macs, "comparisons": len(node.attr("out_shift", [])),
                "param_bytes": sum(t.nbytes() for t in inputs[1:] if t is not None and t.is_const)}
