"""Tree ensembles as tensor programs, three strategies (as Hummingbird names them):

* ``gemm``: trees as matrix products. Per tree, ``C1 = (X[:, feature] <= threshold)`` (the first
  GEMM of Hummingbird, done as a column gather, which is the same one-hot product without the
  multiplications), ``C2 = C1 @ P`` with ``P[i, l] = +1 / -1`` when leaf ``l`` lies in the left /
  right subtree of node ``i``; the leaf reached is the one whose ``C2`` equals its count of left
  turns. Work ~ rows x nodes: all branches are evaluated, no data-dependent indexing.
* ``tree_traversal``: a gather-based walk on the nodes as they are, children renumbered so that
  the right child is the left child + 1 (``next = left[i] + (x > thr)``); ``max depth`` steps.
* ``perfect_tree_traversal``: every tree padded to a complete tree of the ensemble's depth (a
  shallow leaf is copied down; padded branches compare against +inf so they always go left); the
  next node is ``2 i + 1 + (x > thr)``, no child table at all. Tables grow as ``2^depth``.

The heuristic (``strategy="auto"``), from measurements on digits-sized ensembles on CPU:

* depth <= 3: ``gemm`` (a few dense products beat any walk; Hummingbird's rule too);
* batch <= 16 and depth <= 8: ``gemm`` (a walk is ``depth`` rounds of small ops; per-op cost dominates);
* depth <= 14: ``perfect_tree_traversal`` (fewest ops per level; tables of at most 2^14 nodes per tree);
* deeper: ``tree_traversal`` (padding would blow the tables up).

Exact labels. Leaf values stay float64 and are summed in float64; a different summation order than
scikit-learn's can only matter when two classes are within ``4 (T + 2) 2^-53 B`` (B: the largest
possible sum of absolute leaf values); those rows are flagged and recomputed by the IR reference,
so the label equals scikit-learn's on every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edgeinfer.backends.tensor.ops_classic import top2_margin
from edgeinfer.backends.tensor.registry import LowerContext, lower
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.trees import Tree, n_raw, trees_of

STRATEGIES = ("gemm", "tree_traversal", "perfect_tree_traversal")
U64 = 2.0 ** -53


def choose_strategy(depth: int, n_trees: int, batch: int) -> str:
    """The documented heuristic (module docstring); ``n_trees`` scales nothing yet but is part of the rule."""
    if depth <= 3:
        return "gemm"
    if batch <= 16 and depth <= 8:
        return "gemm"
    if depth <= 14:
        return "perfect_tree_traversal"
    return "tree_traversal"


@dataclass
class Leaves:
    """Global leaf numbering and the float64 values that each leaf adds."""

    offset: np.ndarray      # first global leaf id of each tree
    local: list[np.ndarray]  # per tree: node id -> local leaf id (-1 for branches)
    values: np.ndarray      # float64 (n_leaves, k)


def _leaves(trees: list[Tree], k: int) -> Leaves:
    local, vals, off, n = [], [], [], 0
    for t in trees:
        leaf = t.is_leaf
        ids = np.full(len(leaf), -1, np.int64)
        ids[leaf] = np.arange(int(leaf.sum()))
        local.append(ids)
        vals.append(t.values[leaf])
        off.append(n)
        n += int(leaf.sum())
    return Leaves(np.asarray(off, np.int64), local, np.concatenate(vals).reshape(-1, k))


class _Gemm:
    """Per-tree (padded) batched products; see the module docstring."""

    def __init__(self, trees: list[Tree], leaves: Leaves, dev: Any) -> None:
        ni = max(1, max(int((~t.is_leaf).sum()) for t in trees))
        nl = max(int(t.is_leaf.sum()) for t in trees)
        n_t = len(trees)
        feat = np.zeros((n_t, ni), np.int64)
        thr = np.full((n_t, ni), np.inf, np.float32)
        path = np.zeros((n_t, ni, nl), np.float32)
        lefts = np.full((n_t, nl), -1.0, np.float32)  # padded leaves can never match
        for ti, t in enumerate(trees):
            branch = np.flatnonzero(~t.is_leaf)
            bpos = {int(b): i for i, b in enumerate(branch)}
            feat[ti, :len(branch)] = t.feature[branch]
            thr[ti, :len(branch)] = t.threshold[branch]
            lid = leaves.local[ti]
            stack = [(0, [])]
            while stack:
                node, turns = stack.pop()
                if t.left[node] < 0:
                    for b, side in turns:
                        path[ti, b, lid[node]] = side
                    lefts[ti, lid[node]] = sum(1 for _, s in turns if s > 0)
                else:
                    b = bpos[node]
                    stack += [(int(t.left[node]), turns + [(b, 1.0)]), (int(t.right[node]), turns + [(b, -1.0)])]
        self.feat = torch.from_numpy(feat.reshape(-1)).to(dev)
        self.thr = torch.from_numpy(thr).to(dev)
        self.path = torch.from_numpy(path).to(dev)
        self.lefts = torch.from_numpy(lefts).to(dev)
        self.offset = torch.from_numpy(leaves.offset).to(dev)
        self.shape = (n_t, ni)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        c1 = (x.index_select(1, self.feat).reshape(n, *self.shape) <= self.thr).float()
        # C2 = (true conditions on left turns) - (true conditions on right turns): equals the count of
        # left turns exactly for the leaf reached (exact in float32: small integers)
        c2 = torch.bmm(c1.transpose(0, 1), self.path).transpose(0, 1)
        hit = (c2 == self.lefts).to(torch.uint8)
        return (torch.argmax(hit, dim=2) + self.offset).t()  # tree-major (T, n), as the walks


class _Traversal:
    """Gather-based walk, right child = left child + 1; see the module docstring."""

    def __init__(self, trees: list[Tree], leaves: Leaves, dev: Any) -> None:
        feat, thr, left, leaf_of = [], [], [], []
        roots, base = [], 0
        self.depth = max(t.depth() for t in trees)
        for ti, t in enumerate(trees):
            # breadth-first renumbering with siblings adjacent
            order, new, q = [0], {0: 0}, [0]
            while q:
                nxt = []
                for node in q:
                    if t.left[node] >= 0:
                        for c in (int(t.left[node]), int(t.right[node])):
                            new[c] = len(order)
                            order.append(c)
                            nxt.append(c)
                q = nxt
            for old in order:
                if t.left[old] < 0:
                    feat.append(0)
                    thr.append(np.inf)  # x > inf never: a leaf stays where it is
                    left.append(base + new[old])
                    leaf_of.append(leaves.offset[ti] + leaves.local[ti][old])
                else:
                    feat.append(int(t.feature[old]))
                    thr.append(t.threshold[old])
                    left.append(base + new[int(t.left[old])])
                    leaf_of.append(-1)
            roots.append(base)
            base += len(order)
        self.feat = torch.tensor(feat, dtype=torch.int64, device=dev)
        self.thr = torch.tensor(np.asarray(thr, np.float32), device=dev)
        self.left = torch.tensor(left, dtype=torch.int64, device=dev)
        self.leaf_of = torch.tensor(leaf_of, dtype=torch.int64, device=dev)
        self.roots = torch.tensor(roots, dtype=torch.int64, device=dev)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, n_t = x.shape[0], self.roots.shape[0]
        idx = self.roots.repeat_interleave(n)  # tree-major: (T, n) flattened
        rows = (torch.arange(n, device=x.device) * x.shape[1]).repeat(n_t)
        xf = x.reshape(-1)
        for _ in range(self.depth):
            v = xf.index_select(0, rows + self.feat.index_select(0, idx))
            idx = self.left.index_select(0, idx) + (v > self.thr.index_select(0, idx)).long()
        return self.leaf_of.index_select(0, idx).reshape(n_t, n)


class _Perfect:
    """Complete trees of the ensemble's depth, index arithmetic; see the module docstring."""

    def __init__(self, trees: list[Tree], leaves: Leaves, dev: Any) -> None:
        d = max(1, max(t.depth() for t in trees))
        if d > 20:
            raise EdgeInferError(f"perfect_tree_traversal pads every tree to 2^{d} leaves; "
                                 "use strategy='tree_traversal' for trees this deep")
        ni, nl, n_t = 2 ** d - 1, 2 ** d, len(trees)
        feat = np.zeros((n_t, ni), np.int64)
        thr = np.full((n_t, ni), np.inf, np.float32)
        leaf = np.zeros((n_t, nl), np.int64)
        for ti, t in enumerate(trees):
            stack = [(0, 0, 0)]  # (node, position within its level, level)
            while stack:
                node, pos, lev = stack.pop()
                if t.left[node] < 0:
                    span = 2 ** (d - lev)
                    leaf[ti, pos * span:(pos + 1) * span] = leaves.offset[ti] + leaves.local[ti][node]
                    continue
                i = 2 ** lev - 1 + pos
                feat[ti, i], thr[ti, i] = t.feature[node], t.threshold[node]
                stack += [(int(t.left[node]), 2 * pos, lev + 1), (int(t.right[node]), 2 * pos + 1, lev + 1)]
        self.depth, self.ni, self.nl = d, ni, nl
        self.feat = torch.from_numpy(feat.reshape(-1)).to(dev)
        self.thr = torch.from_numpy(thr.reshape(-1)).to(dev)
        self.leaf = torch.from_numpy(leaf.reshape(-1)).to(dev)
        self.tree_off = torch.arange(n_t, device=dev) * ni
        self.leaf_off = torch.arange(n_t, device=dev) * nl

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, n_t = x.shape[0], self.tree_off.shape[0]
        off = self.tree_off.repeat_interleave(n)  # tree-major: (T, n) flattened
        rows = (torch.arange(n, device=x.device) * x.shape[1]).repeat(n_t)
        xf = x.reshape(-1)
        idx = torch.zeros(n * n_t, dtype=torch.int64, device=x.device)
        for _ in range(self.depth):
            g = off + idx
            v = xf.index_select(0, rows + self.feat.index_select(0, g))
            idx = 2 * idx + 1 + (v > self.thr.index_select(0, g)).long()
        return self.leaf.index_select(0, idx - self.ni + self.leaf_off.repeat_interleave(n)).reshape(n_t, n)


_WALKERS = {"gemm": _Gemm, "tree_traversal": _Traversal, "perfect_tree_traversal": _Perfect}


class TreeKernel:
    """Prepared ensemble: leaf ids by a strategy, float64 sums, label or values, and the unsure flag."""

    def __init__(self, node: Node, ctx: LowerContext) -> None:
        self.node = node
        self.trees = trees_of(node)
        self.k = n_raw(node)
        self.dev = ctx.device
        self.strategy = ctx.options.get("strategy", "auto") or "auto"
        if self.strategy not in ("auto", *STRATEGIES):
            raise EdgeInferError(f"unknown tree strategy {self.strategy!r}; "
                                 f"choose auto or one of {', '.join(STRATEGIES)}")
        self.depth = max(t.depth() for t in self.trees)
        self.leaves = _leaves(self.trees, self.k)
        self._walkers: dict[str, Any] = {}
        self.batch_hint: int | None = None  # set while exporting: choose for serving batches
        base = np.asarray(node.attr("base_values", np.zeros(self.k)), np.float64).reshape(-1)
        self.base = torch.from_numpy(base if base.size else np.zeros(self.k)).to(self.dev)
        self.average = node.attr("aggregate_function", "SUM") == "AVERAGE"
        vals = self.leaves.values
        # one column per tree, trees cycling through the columns (gradient boosting): scalars, reshape-sum
        cols = [np.flatnonzero(np.any(t.values != 0, axis=0)) for t in self.trees]
        n_t = len(self.trees)
        self.cyclic = self.k > 1 and n_t % self.k == 0 and all(
            len(c) <= 1 and (len(c) == 0 or c[0] == i % self.k) for i, c in enumerate(cols))
        if self.cyclic:
            col = np.repeat(np.arange(n_t) % self.k, [int(t.is_leaf.sum()) for t in self.trees])
            self.values = torch.from_numpy(np.ascontiguousarray(vals[np.arange(len(vals)), col])).to(self.dev)
        else:
            self.values = torch.from_numpy(vals).to(self.dev)
        bound = np.abs(base).max(initial=0.0) + sum(np.abs(t.values).max(axis=0) for t in self.trees).max()
        self.eps = 4 * (n_t + 2) * U64 * float(bound) / (n_t if self.average else 1)
        self.post = node.attr("post_transform", "NONE")
        self.tie_class = node.attr("binary_tie_class", 0)

    def walker(self, batch: int) -> Any:
        batch = self.batch_hint or batch
        s = self.strategy if self.strategy != "auto" else choose_strategy(self.depth, len(self.trees), batch)
        if s not in self._walkers:
            self._walkers[s] = _WALKERS[s](self.trees, self.leaves, self.dev)
        return self._walkers[s]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        leaf = self.walker(int(x.shape[0]))(x.float().contiguous())
        n = x.shape[0]
        # leaf ids are tree-major (T, n): the sum over trees is a run of contiguous adds
        v = self.values.index_select(0, leaf.reshape(-1))
        if self.cyclic:  # tree t adds to column t % k: (T / k, k, n) summed over stages
            acc = v.reshape(-1, self.k, n).sum(dim=0).t()
        else:
            acc = v.reshape(-1, n, self.k).sum(dim=0)
        acc = acc + self.base
        if self.average:
            acc = acc / len(self.trees)
        return acc

    def __call__(self, x: torch.Tensor, *_: Any) -> tuple:
        raw = self.raw(x)
        if self.node.op == "TreeEnsembleRegressor":
            return (raw.float(),)
        if self.post == "LOGISTIC":
            s = raw[:, 0]
            label = (s > 0) | ((s == 0) & (self.tie_class == 1))
            p = torch.sigmoid(s)
            return label.to(torch.int32), torch.stack([1 - p, p], dim=1).float(), s.abs() <= self.eps
        label = torch.argmax(raw, dim=1).to(torch.int32)
        unsure = top2_margin(raw) <= self.eps
        scores = torch.softmax(raw, dim=1) if self.post == "SOFTMAX" else raw
        return label, scores.float(), unsure


@lower("TreeEnsembleClassifier", "TreeEnsembleRegressor")
def tree_ensemble(node: Node, ctx: LowerContext):
    return TreeKernel(node, ctx)
