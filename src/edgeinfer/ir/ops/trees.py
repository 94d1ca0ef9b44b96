"""TreeEnsembleClassifier / TreeEnsembleRegressor (ONNX-ML semantics, exact float64 leaves).

The attributes follow ONNX-ML's TreeEnsemble ops, stored as numpy arrays:

* ``nodes_treeids``, ``nodes_nodeids`` (node id within its tree), ``nodes_featureids``,
  ``nodes_values`` (float32 thresholds), ``nodes_modes`` ("BRANCH_LEQ" or "LEAF"),
  ``nodes_truenodeids`` (taken when ``x <= threshold``), ``nodes_falsenodeids``;
* classifier: ``class_treeids``, ``class_nodeids``, ``class_ids``, ``class_weights``,
  ``classlabels_int64s``; regressor: ``target_treeids``, ``target_nodeids``,
  ``target_ids``, ``target_weights``, ``n_targets``;
* ``base_values``, ``aggregate_function`` ("SUM" or "AVERAGE"), ``post_transform``
  ("NONE", "SOFTMAX", "LOGISTIC").

Where it departs from ONNX, it does so to reproduce scikit-learn bit for bit:

* leaf weights and base values are float64 (ONNX: float32), and the reference sums them
  in float64 in tree order, the order scikit-learn uses (forests: per-tree normalised
  probabilities; gradient boosting: ``learning_rate * leaf`` onto the init prediction);
* thresholds are float32 and rounded *down* from scikit-learn's float64 ones, so that
  ``x <= thr32`` equals ``x <= thr64`` for every float32 ``x``;
* ``aggregate_function`` "AVERAGE" on the classifier divides the sums by the number of
  trees at the end (``predict_proba`` of a forest), instead of prescaled weights;
* with "LOGISTIC" the ensemble has one raw score s; the scores output is
  ``[1 - sigmoid(s), sigmoid(s)]`` and the label is ``s > 0``, or ``s >= 0`` when
  ``binary_tie_class`` is 1 (GradientBoostingClassifier says ``>= 0``, the histogram one ``> 0``).

Outputs: the classifier gives the int32 label index (None,) and float32 scores
(None, n_classes); the regressor float32 values (None, n_targets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeinfer.ir.registry import OpDef, register, require

LEAF = "LEAF"
BRANCH = "BRANCH_LEQ"


@dataclass
class Tree:
    """One tree in local node order: children are local indices, -1 under a leaf."""

    feature: np.ndarray    # int64 (n_nodes,)
    threshold: np.ndarray  # float32 (n_nodes,)
    left: np.ndarray       # int64 (n_nodes,), x <= threshold
    right: np.ndarray      # int64 (n_nodes,)
    values: np.ndarray     # float64 (n_nodes, n_raw): what a leaf adds to the raw scores

    @property
    def is_leaf(self) -> np.ndarray:
        return self.left < 0

    def depth(self) -> int:
        """Longest root-to-leaf path in comparisons (with a stack: generated C may not recurse either)."""
        best, stack = 0, [(0, 0)]
        while stack:
            i, d = stack.pop()
            if self.left[i] < 0:
                best = max(best, d)
            else:
                stack += [(int(self.left[i]), d + 1), (int(self.right[i]), d + 1)]
        return best

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Leaf index reached by each row of float32 ``x``."""
        idx = np.zeros(len(x), np.int64)
        active = ~self.is_leaf[idx]
        rows = np.arange(len(x))
        while active.any():
            r, n = rows[active], idx[active]
            go_left = x[r, self.feature[n]] <= self.threshold[n]
            idx[r] = np.where(go_left, self.left[n], self.right[n])
            active = ~self.is_leaf[idx]
        return idx


def n_raw(node) -> int:
    """Number of raw score columns the trees add into."""
    if node.op == "TreeEnsembleRegressor":
        return int(node.attr("n_targets", 1))
    if node.attr("post_transform", "NONE") == "LOGISTIC":
        return 1
    return len(node.attr("classlabels_int64s"))


def trees_of(node) -> list[Tree]:
    """The node's tables as per-tree arrays (shared by the reference and the backends)."""
    a = node.attrs
    tids = np.asarray(a["nodes_treeids"], np.int64)
    nids = np.asarray(a["nodes_nodeids"], np.int64)
    feats = np.asarray(a["nodes_featureids"], np.int64)
    thr = np.asarray(a["nodes_values"], np.float32)
    modes = np.asarray(a["nodes_modes"])
    tnode = np.asarray(a["nodes_truenodeids"], np.int64)
    fnode = np.asarray(a["nodes_falsenodeids"], np.int64)
    prefix = "class" if node.op == "TreeEnsembleClassifier" else "target"
    wt = np.asarray(a[f"{prefix}_treeids"], np.int64)
    wn = np.asarray(a[f"{prefix}_nodeids"], np.int64)
    wi = np.asarray(a[f"{prefix}_ids"], np.int64)
    ww = np.asarray(a[f"{prefix}_weights"], np.float64)
    k = n_raw(node)
    trees = []
    for t in np.unique(tids):
        sel = np.flatnonzero(tids == t)
        n = int(nids[sel].max()) + 1
        feature = np.zeros(n, np.int64)
        threshold = np.zeros(n, np.float32)
        left = np.full(n, -1, np.int64)
        right = np.full(n, -1, np.int64)
        local = nids[sel]
        branch = modes[sel] == BRANCH
        feature[local] = feats[sel]
        threshold[local] = thr[sel]
        left[local[branch]] = tnode[sel][branch]
        right[local[branch]] = fnode[sel][branch]
        values = np.zeros((n, k), np.float64)
        ws = np.flatnonzero(wt == t)
        # one weight per (leaf, column) in every converter we have; accumulate anyway as ONNX does
        np.add.at(values, (wn[ws], wi[ws]), ww[ws])
        trees.append(Tree(feature, threshold, left, right, values))
    return trees


def raw_scores(node, x: np.ndarray) -> np.ndarray:
    """Float64 sums, base value first, then the trees in order: scikit-learn's order."""
    x = np.asarray(x, np.float32)
    k = n_raw(node)
    base = np.asarray(node.attr("base_values", np.zeros(k)), np.float64).reshape(-1)
    acc = np.zeros((len(x), k), np.float64)
    if base.size:
        acc += base
    trees = trees_of(node)
    for tree in trees:
        acc += tree.values[tree.apply(x)]
    if node.attr("aggregate_function", "SUM") == "AVERAGE":
        acc /= len(trees)
    return acc


def classify(node, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label index, scores) from float64 raw sums, as scikit-learn's predict / predict_proba."""
    post = node.attr("post_transform", "NONE")
    if post == "LOGISTIC":
        s = raw[:, 0]
        label = (s > 0) | ((s == 0) & (node.attr("binary_tie_class", 0) == 1))
        p = 1.0 / (1.0 + np.exp(-s))
        return label.astype(np.int32), np.stack([1.0 - p, p], axis=1).astype(np.float32)
    label = np.argmax(raw, axis=1).astype(np.int32)
    if post == "SOFTMAX":
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return label, (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return label, raw.astype(np.float32)


def _check(node, inputs, prefix: str) -> None:
    require(inputs[0] is not None and len(inputs[0].shape) == 2, node, "input must be (batch, n_features)")
    a = node.attrs
    keys = ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
            "nodes_truenodeids", "nodes_falsenodeids"]
    for k in keys + [f"{prefix}_treeids", f"{prefix}_nodeids", f"{prefix}_ids", f"{prefix}_weights"]:
        require(k in a, node, f"attribute {k} is missing")
    n = len(a["nodes_treeids"])
    require(all(len(a[k]) == n for k in keys), node, "the nodes_* attributes must have the same length")
    m = len(a[f"{prefix}_treeids"])
    require(all(len(a[f"{prefix}_{k}"]) == m for k in ("nodeids", "ids", "weights")), node,
            f"the {prefix}_* attributes must have the same length")
    feats = np.asarray(a["nodes_featureids"])
    require(n == 0 or feats.max() < inputs[0].shape[1], node,
            f"a node reads feature {feats.max() if n else 0}, the input has {inputs[0].shape[1]}")
    require(a.get("aggregate_function", "SUM") in ("SUM", "AVERAGE"), node, "aggregate_function: SUM or AVERAGE")
    require(a.get("post_transform", "NONE") in ("NONE", "SOFTMAX", "LOGISTIC"), node,
            "post_transform: NONE, SOFTMAX or LOGISTIC")


def _cost(node) -> dict[str, int]:
    trees = trees_of(node)
    internal = sum(int((~t.is_leaf).sum()) for t in trees)
    leaves = sum(int(t.is_leaf.sum()) for t in trees)
    width = n_raw(node)
    # plain tables: threshold f32 + feature u16 + two u16 children per branch, a float per leaf value
    return {"macs": 0, "comparisons": sum(t.depth() for t in trees),
            "param_bytes": internal * 10 + leaves * width * 4}


@register
class TreeEnsembleClassifier(OpDef):
    """Sum (or average) of per-tree leaf vectors, then an optional transform; see the module docstring."""

    name = "TreeEnsembleClassifier"

    @staticmethod
    def infer(node, inputs):
        _check(node, inputs, "class")
        k = len(node.attr("classlabels_int64s"))
        require(k >= 2, node, "a classifier needs at least two classes")
        require(node.attr("post_transform", "NONE") != "LOGISTIC" or k == 2, node, "LOGISTIC is for two classes")
        return [((inputs[0].shape[0],), "int32"), ((inputs[0].shape[0], k), "float32")]

    @staticmethod
    def reference(node, x):
        return classify(node, raw_scores(node, x))

    @staticmethod
    def cost(node, inputs, outputs):
        return _cost(node)


@register
class TreeEnsembleRegressor(OpDef):
    """Sum (or average) of per-tree leaf values plus base values; see the module docstring."""

    name = "TreeEnsembleRegressor"

    @staticmethod
    def infer(node, inputs):
        _check(node, inputs, "target")
        require(node.attr("post_transform", "NONE") == "NONE", node, "a regressor has post_transform NONE")
        return [((inputs[0].shape[0], int(node.attr("n_targets", 1))), "float32")]

    @staticmethod
    def reference(node, x):
        return (raw_scores(node, x).astype(np.float32),)

    @staticmethod
    def cost(node, inputs, outputs):
        return _cost(node)
