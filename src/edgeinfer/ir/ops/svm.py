"""Kernel support vector machines, as libsvm (and so scikit-learn's SVC/NuSVC/SVR) predicts.

The attribute names follow ONNX-ML's ``SVMClassifier`` / ``SVMRegressor`` (kernel_type,
vectors_per_class, rho), but the outputs follow this project's classifier contract: a
class *index* and scores in scikit-learn's ``decision_function`` layout, so that the
exact libsvm vote (``dec > 0`` votes for the first class of a pair, ties to the lower
class index) and sklearn's ``break_ties`` rule are part of the op, not of a frontend.

Inputs: ``x`` (N, F) float32; ``support_vectors`` (L, F), ``coefficients`` (K-1, L) and
``rho`` (K(K-1)/2,) or (1,) as float64 constants (libsvm's internal sign convention:
``dec = sum(coef * kernel) - rho``). The reference computes in float64 like libsvm.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require

KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")


def kernel_matrix(node, x: np.ndarray, sv: np.ndarray) -> np.ndarray:
    """libsvm's kernel between every sample and every support vector, float64 (N, L)."""
    kind = node.attr("kernel_type")
    gamma, coef0, degree = node.attr("gamma", 1.0), node.attr("coef0", 0.0), int(node.attr("degree", 3))
    x = x.astype(np.float64)
    if kind == "RBF":
        sq = ((x[:, None, :] - sv[None, :, :]) ** 2).sum(axis=2)
        return np.exp(-gamma * sq)
    dot = x @ sv.T
    if kind == "LINEAR":
        return dot
    if kind == "POLY":
        # libsvm's powi: square-and-multiply, reproduced for the same rounding
        base, ret, t = gamma * dot + coef0, np.ones_like(dot), degree
        while t > 0:
            if t % 2 == 1:
                ret = ret * base
            base = base * base
            t //= 2
        return ret
    return np.tanh(gamma * dot + coef0)


def ovo_decisions(node, k: np.ndarray, coef: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """libsvm's one-vs-one decision values (N, K(K-1)/2), pairs (0,1), (0,2), ..., (1,2), ..."""
    counts = list(node.attr("vectors_per_class"))
    start = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    n_cls = len(counts)
    out, p = [], 0
    for i in range(n_cls):
        for j in range(i + 1, n_cls):
            si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
            d = k[:, si] @ coef[j - 1, si] + k[:, sj] @ coef[i, sj] - rho[p]
            out.append(d)
            p += 1
    return np.stack(out, axis=1) if out else np.zeros((len(k), 0))


def ovr_scores(dec: np.ndarray, n_cls: int) -> np.ndarray:
    """scikit-learn's ``_ovr_decision_function(dec < 0, -dec, n_classes)``, same operation order."""
    votes = np.zeros((len(dec), n_cls))
    conf = np.zeros((len(dec), n_cls))
    p = 0
    for i in range(n_cls):
        for j in range(i + 1, n_cls):
            conf[:, i] -= -dec[:, p]
            conf[:, j] += -dec[:, p]
            votes[dec[:, p] >= 0, i] += 1
            votes[dec[:, p] < 0, j] += 1
            p += 1
    return votes + conf / (3 * (np.abs(conf) + 1))


def n_scores(n_cls: int, shape: str) -> int:
    """Width of the scores output: 1 for two classes, K for ovr, K(K-1)/2 for ovo."""
    if n_cls == 2:
        return 1
    return n_cls if shape == "ovr" else n_cls * (n_cls - 1) // 2


def _check_kernel(node, sv, x) -> None:
    require(node.attr("kernel_type") in KERNELS, node, f"kernel_type must be one of {KERNELS}")
    require(sv.shape is not None and len(sv.shape) == 2, node, "support_vectors must be 2-D (L, F)")
    require(x.shape[-1] == sv.shape[1], node,
            f"input has {x.shape[-1]} features, support vectors {sv.shape[1]}")
    require(int(node.attr("degree", 3)) >= 0, node, "degree must be >= 0")


def _kernel_cost(node, inputs) -> dict[str, int]:
    n_sv, n_feat = inputs[1].shape
    return {"macs": int(n_sv * n_feat), "comparisons": 0}


@register
class SVMClassifier(OpDef):
    """One-vs-one kernel SVM classifier with libsvm's voting.

    attrs: kernel_type, gamma, coef0, degree, vectors_per_class (list of K ints),
    decision_shape ("ovr" | "ovo"), break_ties (0/1).
    outputs: label index int32 (N,); scores float32 (N, S) = sklearn's
    ``decision_function`` (S = 1 for two classes).
    """

    name = "SVMClassifier"

    @staticmethod
    def infer(node, inputs):
        x, sv, coef, rho = inputs[:4]
        _check_kernel(node, sv, x)
        counts = list(node.attr("vectors_per_class", []))
        n_cls = len(counts)
        require(n_cls >= 2, node, "needs at least two classes")
        require(sum(counts) == sv.shape[0], node, "vectors_per_class must sum to the number of support vectors")
        require(tuple(coef.shape) == (n_cls - 1, sv.shape[0]), node, "coefficients must be (K-1, L)")
        n_pairs = n_cls * (n_cls - 1) // 2
        require(tuple(rho.shape) == (n_pairs,), node, "rho must hold one value per class pair")
        shape = node.attr("decision_shape", "ovr")
        require(shape in ("ovr", "ovo"), node, "decision_shape must be 'ovr' or 'ovo'")
        n = x.shape[0]
        return [((n,), "int32"), ((n, n_scores(n_cls, shape)), "float32")]

    @staticmethod
    def reference(node, x, sv, coef, rho):
        n_cls = len(node.attr("vectors_per_class"))
        k = kernel_matrix(node, x, sv)
        dec = ovo_decisions(node, k, coef, rho)
        votes = np.zeros((len(x), n_cls), dtype=np.int64)
        p = 0
        for i in range(n_cls):
            for j in range(i + 1, n_cls):
                votes[:, i] += dec[:, p] > 0
                votes[:, j] += ~(dec[:, p] > 0)
                p += 1
        label = np.argmax(votes, axis=1)  # first of the most voted, as libsvm
        if n_cls == 2:
            scores = -dec
        elif node.attr("decision_shape", "ovr") == "ovr":
            scores = ovr_scores(dec, n_cls)
            if node.attr("break_ties", 0):
                label = np.argmax(scores, axis=1)
        else:
            scores = dec
        return label.astype(np.int32), scores.astype(np.float32)

    @staticmethod
    def cost(node, inputs, outputs):
        c = _kernel_cost(node, inputs)
        n_cls = len(node.attr("vectors_per_class"))
        c["macs"] += int((n_cls - 1) * inputs[1].shape[0])
        c["comparisons"] = n_cls * (n_cls - 1) // 2 + n_cls
        return c


@register
class SVMRegressor(OpDef):
    """Kernel SVM regression (epsilon-SVR, nu-SVR): ``sum(coef * kernel) - rho``.

    attrs: kernel_type, gamma, coef0, degree. inputs: x, support_vectors (L, F),
    coefficients (1, L), rho (1,). output: float32 (N, 1).
    """

    name = "SVMRegressor"

    @staticmethod
    def infer(node, inputs):
        x, sv, coef, rho = inputs[:4]
        _check_kernel(node, sv, x)
        require(tuple(coef.shape) == (1, sv.shape[0]), node, "coefficients must be (1, L)")
        require(tuple(rho.shape) == (1,), node, "rho must be (1,)")
        return [((x.shape[0], 1), "float32")]

    @staticmethod
    def reference(node, x, sv, coef, rho):
        k = kernel_matrix(node, x, sv)
        return ((k @ coef[0] - rho[0]).astype(np.float32)[:, None],)

    @staticmethod
    def cost(node, inputs, outputs):
        c = _kernel_cost(node, inputs)
        c["macs"] += int(inputs[1].shape[0])
        return c
