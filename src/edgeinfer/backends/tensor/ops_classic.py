"""Classical models as torch operations: scalers, PCA, linear models, MLP, SVM, naive Bayes, centroids.

Each computes in the precision the IR reference uses (the fitted weights' dtype, float64 for a model
fitted on float64 data), so decision values differ from scikit-learn's only by the order of a sum.
That order can still flip two nearly tied classes, so every classifier also returns a per-row flag
"label not certified": its top-2 margin is within a bound of the rounding difference; those rows are
recomputed by the IR reference (a handful per million rows). ``precision="float32"`` trades more
flagged rows for float32 speed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from edgeinfer.backends.tensor.registry import LowerContext, lower
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.svm import n_scores

U64 = 2.0 ** -53
U32 = 2.0 ** -24


def compute_dtype(ctx: LowerContext, weights: np.ndarray) -> torch.dtype:
    """The reference's precision (weights' dtype, at least float32) unless ``precision`` asks for less."""
    if ctx.options.get("precision") in ("float32", "float16"):
        return torch.float32
    return torch.float64 if np.result_type(weights.dtype, np.float32) == np.float64 else torch.float32


def unit(dt: torch.dtype) -> float:
    return U64 if dt == torch.float64 else U32


def top2_margin(z: torch.Tensor) -> torch.Tensor:
    """Largest minus second largest value of each row (z has at least two columns)."""
    return label_margin(z.t())[1]


def label_margin(zt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-major scores ``zt`` (k, n): a row of the largest score (int32, the first on a tie) and the
    top-2 margin (0 on an exact tie, so every caller flags it).

    Reductions across a narrow row (k = 10 scores) cost torch far more than k elementwise passes over
    contiguous rows of n, so both are computed class-major. In eager mode the comparisons are sign
    bits of differences (torch's float compares to bool run several times slower than a subtraction
    on CPU); traced programs keep plain comparisons, which ONNX can express.
    """
    zt = zt.contiguous()
    if torch.jit.is_tracing() or zt.dtype not in (torch.float32, torch.float64) or zt.shape[0] < 2:
        return _label_margin_plain(zt)
    k = zt.shape[0]
    ibits, nbits = (torch.int32, 31) if zt.dtype == torch.float32 else (torch.int64, 63)
    m1 = zt.amax(dim=0)
    # s = -1 below the row's maximum (z - m1 < 0 has its sign bit set), 0 at a maximum (z - m1 = +0.0)
    s = torch.sub(zt, m1).view(ibits) >> nbits
    # the first maximum: maxima keep their weight k..1, every other score loses 2k
    key = torch.add(torch.arange(k, 0, -1, dtype=ibits, device=zt.device)[:, None], s, alpha=2 * k)
    top = key.amax(dim=0)
    label = (k - top).clamp_(0, k - 1).to(torch.int32)
    # the best other score: only the first maximum pushed down by 2^100 (key - top is 0 there, < 0
    # elsewhere, so ~(.. >> nbits) is -1 there and 0 elsewhere); a second maximum gives margin 0
    push = torch.bitwise_not(torch.sub(key, top) >> nbits)
    m2 = torch.add(zt, push, alpha=2.0 ** 100).amax(dim=0)
    margin = torch.sub(m1, m2).nan_to_num_(nan=0.0)  # NaN (an overflow upstream) reads as a tie
    return label, margin


def class_major(z: torch.Tensor) -> torch.Tensor:
    """(n, k) -> contiguous (k, n). On CPU through numpy, whose transposing copy is ~2.5x faster than
    torch's strided copy for a narrow k."""
    if z.device.type == "cpu" and not torch.jit.is_tracing():
        return torch.from_numpy(np.ascontiguousarray(z.numpy().T))
    return z.t().contiguous()


def label_flag(zt: torch.Tensor, eps: float | torch.Tensor,
               finite: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-major scores ``zt`` (k >= 2, n), float32 or float64: whether another score is within
    ``eps`` of the largest (a float, or one per column: the top-2 margin is <= ``eps``; a non-finite
    maximum flags its row too, unless the caller says every score is ``finite``), and where not
    flagged, the largest score's row (int32; a flagged row's label is meaningless: the caller
    decides those rows another way).

    ``label_margin`` then ``margin <= eps`` in four passes over the scores (eager only): the maximum
    m; y = z + (eps' - m) with eps' = 9/8 eps; its sign; then one small product sums, per row,
    sign(y) and c sign(y) over the classes c. A score is "near" the maximum where y > 0; a row is
    unflagged only if exactly one is (its maximum) and every other y < 0, and then the second sum
    gives its class. ``eps`` must be at least 10 u max |z| (u: the unit roundoff of the scores'
    dtype; every caller's bound is, by a wide factor): then the two roundings move z - m + eps' by
    less than eps / 8, so no score within ``eps`` of the maximum is missed (its y stays > 0).
    """
    zt = zt.contiguous()
    k = zt.shape[0]
    m1 = zt.amax(dim=0)
    sign = torch.sign(torch.add(zt, m1.neg().add_(eps * 1.125)))
    sums = torch.mm(_count_and_index(k, zt.dtype, zt.device), sign)  # small integers: exact
    # one near (+1) and k - 1 far (-1): the first sum is 2 - k; a y of exactly 0 adds a half-step
    flag = sums[0] > 2 - k
    label = sums[1].add(k * (k - 1) / 2).mul_(0.5).to(torch.int32)  # sum of c (sign + 1) / 2
    if not finite and not math.isfinite(float(m1.sum())):  # an overflow upstream: the exact path decides
        flag |= ~torch.isfinite(m1)
    return label, flag


_COUNT_AND_INDEX: dict[tuple, torch.Tensor] = {}


def _count_and_index(k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The rows (1, ..., 1) and (0, 1, ..., k - 1) (cached: one allocation fewer per call)."""
    key = (k, dtype, str(device))
    if key not in _COUNT_AND_INDEX:
        _COUNT_AND_INDEX[key] = torch.stack([torch.ones(k, dtype=dtype, device=device),
                                             torch.arange(k, dtype=dtype, device=device)])
    return _COUNT_AND_INDEX[key]


def _label_margin_plain(zt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``label_margin`` with comparisons (what the traced / exported programs record)."""
    k = zt.shape[0]
    m1 = zt.amax(dim=0)
    iota = torch.arange(k, 0, -1, device=zt.device)[:, None]  # k..1: the first maximum scores highest
    label = (k - ((zt == m1) * iota).amax(dim=0)).to(torch.int32)
    rest = torch.where(torch.arange(k, device=zt.device)[:, None] == label, float("-inf"), zt).amax(dim=0)
    return label, m1 - rest


def label_and_scores(z: torch.Tensor, post: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``ir.ops.linear.label_and_scores`` in torch: label index and float32 scores."""
    if z.shape[1] == 1:
        d = z[:, 0]
        label = (d > 0).to(torch.int32)
        if post in ("LOGISTIC", "LOGISTIC_NORM"):
            p = torch.sigmoid(d)
            scores = torch.stack([1 - p, p], dim=1)
        elif post == "SOFTMAX":
            scores = torch.softmax(torch.stack([-d, d], dim=1), dim=1)
        else:
            scores = torch.stack([-d, d], dim=1)
        return label, scores.float()
    label = torch.argmax(z, dim=1).to(torch.int32)
    if post == "SOFTMAX":  # class-major: torch's softmax across a narrow row is ~20x slower
        return label, torch.softmax(z.t().contiguous(), dim=0).t().float()
    if post == "LOGISTIC":
        scores = torch.sigmoid(z)
    elif post == "LOGISTIC_NORM":
        p = torch.sigmoid(z)
        s = p.sum(dim=1, keepdim=True)
        safe = torch.where(s == 0, torch.ones_like(s), s)
        scores = torch.where(s == 0, torch.full_like(p, 1.0 / z.shape[1]), p / safe)
    elif post == "SOFTMAX":
        scores = torch.softmax(z, dim=1)
    else:
        scores = z
    return label, scores.float()


@lower("Scaler")
def scaler(node: Node, ctx: LowerContext):
    prec = torch.float64 if node.attr("precision", "float32") == "float64" else torch.float32
    steps = list(node.attr("steps", []))
    clip = node.attr("clip")

    def run(x, *params):
        y = x.float()
        for step, p in zip(steps, params, strict=True):
            yp, pp = y.to(prec), p.to(prec)
            r = {"sub": torch.sub, "add": torch.add, "mul": torch.mul, "div": torch.div}[step](yp, pp)
            y = r.float()  # each step rounded to float32, as scikit-learn's in-place update
        if clip is not None:
            y = torch.clamp(y, float(np.float32(clip[0])), float(np.float32(clip[1])))
        return (y,)
    return run


@lower("Projection")
def projection(node: Node, ctx: LowerContext):
    def run(x, comp, offset=None, scale=None):
        y = x.double() @ comp.double().t()
        if offset is not None:
            y = y - offset.double()
        if scale is not None:
            y = y / scale.double()
        return (y.float(),)
    return run


def _linear(node: Node, ctx: LowerContext, classifier: bool):
    coef = ctx.graph.tensors[node.inputs[1]].data
    dt = compute_dtype(ctx, coef)
    w = ctx.tensor(coef, dt).t().contiguous()
    has_b = len(node.inputs) > 2 and bool(node.inputs[2])
    b = ctx.const(node.inputs[2], dt) if has_b else torch.zeros(w.shape[1], dtype=dt, device=ctx.device)
    n = coef.shape[1]
    post = node.attr("post_transform", "NONE")
    # a per-row scale of every |z|: max|x| times the largest column L1 norm of w, plus max|b|
    w_l1, b_max = float(w.abs().sum(dim=0).max()), float(b.abs().max()) if b.numel() else 0.0
    w32t, b32 = w.t().float().contiguous(), b.float()[:, None]

    def bound(x: torch.Tensor, u: float) -> torch.Tensor:
        # |z - z_ref| <= 2 (n + 2) u (|x| |w| + |b|) for each of two sums: twice that separates them
        scale = torch.maximum(x.amax(dim=1), -x.amin(dim=1)).double() * w_l1 + b_max
        return 4 * (n + 2) * u * scale

    def run(x, *_):
        if not classifier:
            return (torch.addmm(b, x.to(dt), w).float(),)
        if dt == torch.float64 and w.shape[1] > 1 and not torch.jit.is_tracing():
            # float32 class-major product (4x faster than float64 row-major on CPU), certified with
            # float32 + float64 rounding; the rows it cannot certify are recomputed in float64
            x32 = x.float()
            zt = torch.addmm(b32, w32t, x32.t())
            label, margin = label_margin(zt)
            scores = (torch.softmax(zt, dim=0).t() if post == "SOFTMAX" else label_and_scores(zt.t(), post)[1]).float()
            rows = torch.nonzero(margin.double() <= bound(x32, U32 + U64)).reshape(-1)
            unsure = torch.zeros_like(label, dtype=torch.bool)
            if rows.numel():
                z = torch.addmm(b, x.index_select(0, rows).to(dt), w)
                lab, sc = label_and_scores(z, post)
                label, scores = label.index_copy(0, rows, lab), scores.index_copy(0, rows, sc)
                unsure = unsure.index_copy(0, rows, top2_margin(z) <= bound(x.index_select(0, rows), U64))
            return label, scores, unsure
        xd = x.to(dt)
        z = torch.addmm(b, xd, w)
        label, scores = label_and_scores(z, post)
        margin = z[:, 0].abs() if z.shape[1] == 1 else top2_margin(z)
        return label, scores, margin <= bound(xd, unit(dt))

    # a float32 model's rounding alone; a float64 model's product in float32 adds float32 rounding
    u_labels = U32 + (U64 if dt == torch.float64 else 0.0)

    def labels(x: torch.Tensor, absmax: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Label index and "not certified" flag per row, without scores: what ``predict`` needs.

        One class-major float32 product with the bias fused (``addmm`` into (k, n): 4x faster than
        row-major on CPU), the label read from the decision values (scikit-learn's ``predict`` is
        their argmax, or ``d > 0`` with one column; the post-transform is monotone and not needed),
        certified against ``bound`` with one range for the whole batch (``absmax``: max |x|, passed
        in when the caller has scanned the batch already); rows it cannot certify go to the reference.
        """
        x32 = x.float()
        if absmax is None:
            lo, hi = torch.aminmax(x32) if x32.numel() else (torch.zeros(()), torch.zeros(()))
            absmax = max(-float(lo), float(hi))
        zt = torch.addmm(b32, w32t, x32.t())
        scale = absmax * w_l1 + b_max  # >= every |z|, which then cannot overflow below 2^126
        eps = 4 * (n + 2) * u_labels * scale
        if zt.shape[0] == 1:
            return (zt[0] > 0).to(torch.int32), zt[0].abs() <= eps
        return label_flag(zt, eps, finite=scale < 2.0 ** 126)

    if classifier:
        labels.wants_range = True  # type: ignore[attr-defined]
        run.labels = labels  # type: ignore[attr-defined]
    return run


@lower("LinearClassifier")
def linear_classifier(node: Node, ctx: LowerContext):
    return _linear(node, ctx, True)


@lower("LinearRegressor")
def linear_regressor(node: Node, ctx: LowerContext):
    return _linear(node, ctx, False)


def _activate(h: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "relu":
        return torch.relu(h)
    if kind == "tanh":
        return torch.tanh(h)
    if kind == "logistic":
        return torch.sigmoid(h)
    if kind == "softmax":
        return torch.softmax(h, dim=1)
    return h


ONEDNN_MIN_ROWS = 2048  # below this, oneDNN's fixed cost per call outweighs its faster kernel


def onednn_dense(w: torch.Tensor, b: torch.Tensor, act: str, fuse: bool = True) -> Any:
    """``x (n, in) -> act(x w^T + b)`` (n, out) through oneDNN with the weight packed once, or None.

    On CPU float32, oneDNN's linear (``torch.ops.mkldnn._linear_pointwise``, the kernel torch.compile's
    CPU backend calls) runs an MLP's first layer ~20 % faster than ``addmm``. It is an internal op:
    where this torch build lacks it, rejects the arguments, or disagrees with ``addmm`` on a probe,
    the caller keeps ``addmm``. Rounding differs from ``addmm`` only in summation order, which the
    label flag allows for. ``fuse``: relu inside oneDNN (which maps NaN to 0); else torch's relu_
    after it (which keeps NaN).
    """
    if w.device.type != "cpu" or w.dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return None
    attr = "relu" if act == "relu" and fuse else "none"
    after = {"tanh": torch.tanh_, "logistic": torch.sigmoid_, "relu": None if fuse else torch.relu_}.get(act)
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(w)

        def dense(x: torch.Tensor) -> torch.Tensor:
            y = torch.ops.mkldnn._linear_pointwise(x, packed, b, attr, [], "")
            return after(y) if after is not None else y

        probe = torch.linspace(-2, 2, 5 * w.shape[1], device=w.device).reshape(5, -1)
        want = torch.addmm(b, probe, w.t())
        want = torch.relu(want) if act == "relu" else (after(want) if after is not None else want)
        ok = torch.allclose(dense(probe), want, rtol=1e-4, atol=1e-4)
    except (RuntimeError, AttributeError, TypeError):  # an internal op: absent or changed in this build
        return None
    return dense if ok else None


@lower("MLP")
def mlp(node: Node, ctx: LowerContext):
    params = [ctx.graph.tensors[n].data for n in node.inputs[1:]]
    dt = compute_dtype(ctx, params[0])
    ws = [ctx.tensor(p, dt).t().contiguous() for p in params[0::2]]
    bs = [ctx.tensor(p, dt) for p in params[1::2]]
    act, out_act = node.attr("activation", "relu"), node.attr("out_activation", "identity")
    classifier = node.attr("task", "classifier") == "classifier"
    # Not a proven bound (that is the C backend's job): the gap two orders of summation can open,
    # with a wide safety factor; rows inside it are recomputed by the reference.
    tol = 1e-10 if dt == torch.float64 else 1e-4

    def run(x, *_):
        h = x.to(dt)
        for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = _activate(torch.addmm(b, h, w), out_act if i == len(ws) - 1 else act)
        if not classifier:
            return (h.float(),)
        if h.shape[1] == 1:
            p = h[:, 0]
            return ((p > 0.5).to(torch.int32), torch.stack([1 - p, p], dim=1).float(), (p - 0.5).abs() <= tol)
        return torch.argmax(h, dim=1).to(torch.int32), h.float(), top2_margin(h) <= tol * (1 + h.abs().amax(dim=1))

    wts = [w.t().contiguous() for w in ws]  # (out, in): class-major products, as the linear models
    bcols = [b[:, None] for b in bs]
    hidden = {"relu": torch.relu_, "tanh": torch.tanh_, "logistic": torch.sigmoid_, "identity": lambda h: h}

    def labels(x: torch.Tensor, absmax: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Label index and "not certified" flag per row from the output layer's logits, no scores.

        Class-major layers (``addmm`` into (units, n), activations in place; on CPU batches of
        ``ONEDNN_MIN_ROWS`` or more the first layer is oneDNN's, read transposed). The label is the
        largest logit: softmax is monotone, but scikit-learn takes the argmax of its float32
        *probabilities*, where two close logits can round to equal probabilities and the first wins;
        such rows have logits within far less than ``tol`` (1 + max |logit| of the block) of each
        other, and rows that close are flagged for the reference (as ties are). One logistic
        output: ``p > 0.5`` is ``logit > 0`` away from 0, and rows near 0 are flagged the same way.
        """
        h, first = x.to(dt).t(), 0
        if dense0 is not None and x.shape[0] >= ONEDNN_MIN_ROWS:
            h, first = dense0(x.to(dt)).t(), 1  # (units, n) as a view of oneDNN's row-major result
        for i in range(first, len(wts)):
            h = torch.addmm(bcols[i], wts[i], h)
            if i < len(wts) - 1:
                h = hidden[act](h)
        if h.shape[0] == 1:
            z = h[0]
            return (z > 0).to(torch.int32), z.abs() <= 4 * tol * (1 + z.abs())
        lo, hi = torch.aminmax(h)  # one scale for the block: at least each row's own, so no fewer flags
        big = max(-float(lo), float(hi))
        if not math.isfinite(big):  # non-finite input (see ``sees``) or an overflow: flag the whole block
            return (torch.zeros(h.shape[1], dtype=torch.int32, device=h.device),
                    torch.ones(h.shape[1], dtype=torch.bool, device=h.device))
        return label_flag(h, tol * (1 + big), finite=True)

    # Non-finite input reaches every logit of its row when the hidden activations keep +inf and NaN
    # (relu, identity) and every column of every hidden layer's weights has an entry <= 0 and one
    # >= 0: a NaN input makes every unit NaN, and an infinite one meets a weight of the opposite sign
    # (or zero) in some unit, which is then +inf or NaN and stays so. The labels then flag those rows
    # (a non-finite maximum logit) and the batch needs no scan of its own.
    sees = act in ("relu", "identity") and all(bool((w.amin(dim=1) <= 0).all() and (w.amax(dim=1) >= 0).all())
                                               for w in ws[:-1])
    dense0 = onednn_dense(wts[0], bs[0], act, fuse=not sees) if len(wts) > 1 else None
    single = ws[-1].shape[1] == 1
    if classifier and act in hidden and (out_act == "softmax" and not single or out_act == "logistic" and single):
        labels.sees_non_finite = sees and not single  # type: ignore[attr-defined]
        run.labels = labels  # type: ignore[attr-defined]
    return run


def _kernel(node: Node, x: torch.Tensor, sv: torch.Tensor, sv_sq: torch.Tensor) -> torch.Tensor:
    """libsvm's kernel (N, L) in float64; RBF through |x|^2 + |s|^2 - 2 x.s (rounding covered by the flag)."""
    kind = node.attr("kernel_type")
    gamma, coef0, degree = float(node.attr("gamma", 1.0)), float(node.attr("coef0", 0.0)), int(node.attr("degree", 3))
    dot = x @ sv.t()
    if kind == "RBF":
        sq = torch.clamp((x * x).sum(dim=1, keepdim=True) + sv_sq[None, :] - 2 * dot, min=0)
        return torch.exp(-gamma * sq)
    if kind == "LINEAR":
        return dot
    if kind == "POLY":
        base, ret, t = gamma * dot + coef0, torch.ones_like(dot), degree
        while t > 0:
            if t % 2 == 1:
                ret = ret * base
            base = base * base
            t //= 2
        return ret
    return torch.tanh(gamma * dot + coef0)


SVM_TOL = 1e-9


@lower("SVMClassifier")
def svm_classifier(node: Node, ctx: LowerContext):
    counts = [int(c) for c in node.attr("vectors_per_class")]
    start = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    k = len(counts)
    shape, ties = node.attr("decision_shape", "ovr"), node.attr("break_ties", 0)
    sv = ctx.const(node.inputs[1], torch.float64)
    sv_sq = (sv * sv).sum(dim=1)
    coef = ctx.const(node.inputs[2], torch.float64)
    rho = ctx.const(node.inputs[3], torch.float64)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    # dec_p = K[:, si] @ coef[j-1, si] + K[:, sj] @ coef[i, sj] - rho_p: one (L, P) matrix
    m = torch.zeros((sv.shape[0], len(pairs)), dtype=torch.float64, device=ctx.device)
    for p, (i, j) in enumerate(pairs):
        m[start[i]:start[i + 1], p] = coef[j - 1, start[i]:start[i + 1]]
        m[start[j]:start[j + 1], p] = coef[i, start[j]:start[j + 1]]
    first = torch.tensor([i for i, _ in pairs], device=ctx.device)
    second = torch.tensor([j for _, j in pairs], device=ctx.device)
    width = n_scores(k, shape)

    def run(x, *_):
        kern = _kernel(node, x.double(), sv, sv_sq)
        dec = kern @ m - rho
        pos = (dec > 0).double()
        votes = torch.zeros((x.shape[0], k), dtype=torch.float64, device=x.device)
        votes = votes.index_add(1, first, pos).index_add(1, second, 1 - pos)
        label = torch.argmax(votes, dim=1)
        scale = 1 + kern.abs().amax(dim=1, keepdim=True) * m.abs().sum(dim=0)[None, :] + rho.abs()[None, :]
        unsure = ((dec.abs() <= SVM_TOL * scale).any(dim=1)) if len(pairs) else torch.zeros_like(label, dtype=bool)
        if k == 2:
            scores = -dec
        elif shape == "ovr":
            conf = torch.zeros_like(votes).index_add(1, first, dec).index_add(1, second, -dec)
            v2 = torch.zeros_like(votes).index_add(1, first, (dec >= 0).double()).index_add(
                1, second, (dec < 0).double())
            scores = v2 + conf / (3 * (conf.abs() + 1))
            if ties:
                label = torch.argmax(scores, dim=1)
                unsure = unsure | (top2_margin(scores) <= SVM_TOL)
        else:
            scores = dec
        return label.to(torch.int32), scores[:, :width].float(), unsure
    return run


@lower("SVMRegressor")
def svm_regressor(node: Node, ctx: LowerContext):
    sv = ctx.const(node.inputs[1], torch.float64)
    sv_sq = (sv * sv).sum(dim=1)
    coef = ctx.const(node.inputs[2], torch.float64)
    rho = ctx.const(node.inputs[3], torch.float64)
    return lambda x, *_: (((_kernel(node, x.double(), sv, sv_sq) @ coef[0]) - rho[0]).float()[:, None],)


@lower("GaussianNaiveBayes")
def gaussian_nb(node: Node, ctx: LowerContext):
    def run(x, theta, var, log_prior, log_norm):
        xd = x.double()
        d = (xd[:, None, :] - theta.double()[None]) ** 2 / var.double()[None]
        jll = log_prior.double()[None] + (log_norm.double()[None] - 0.5 * d.sum(dim=2))
        unsure = top2_margin(jll) <= 1e-9 * (1 + jll.abs().amax(dim=1))
        return torch.argmax(jll, dim=1).to(torch.int32), torch.softmax(jll, dim=1).float(), unsure
    return run


@lower("CentroidClassifier")
def centroids(node: Node, ctx: LowerContext):
    def run(x, c):
        d2 = ((x.double()[:, None, :] - c.double()[None]) ** 2).sum(dim=2)
        unsure = top2_margin(-d2) <= 1e-9 * (1 + d2.amin(dim=1))
        return torch.argmin(d2, dim=1).to(torch.int32), (-torch.sqrt(d2)).float(), unsure
    return run
