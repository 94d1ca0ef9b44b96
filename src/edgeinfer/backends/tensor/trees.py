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

* batch <= 16 and depth <= 8: ``gemm`` (a walk is ``depth`` rounds of small ops; per-op cost dominates);
  at larger batches the walk wins even at depth 3 (gb500, 500 trees of depth 3: ~5x faster than
  ``gemm``): it touches one node per tree and level, a product touches them all;
* depth <= 14: ``perfect_tree_traversal`` (fewest ops per level; tables of at most 2^14 nodes per tree);
* deeper: ``tree_traversal`` (padding would blow the tables up).

Speed (CPU). In eager mode (``fast``) a walk keeps one flat int32 node index per (row, tree) cell and
does, per level: three gathers (the node's feature, x at that feature, the node's threshold moved up
one float32 step) and three elementwise passes (subtract, the sign bit as -1 / 0, the step: next =
2 node + s on the perfect tree's 1-based levels, left + 1 + s on the traversal's), into buffers made
once per chunk of ``CHUNK_CELLS`` cells so the working set stays in cache. The gathers (~0.6 ns per
cell each, torch's index_select) are most of the time; torch's float compare to bool costs more than
the subtract and shift. The perfect tree's root level needs no lookups (a column gather of x). Leaf
values are summed by ``embedding_bag`` from a table indexed by the walk's final cell where it fits in
``PADDED_TABLE_BYTES`` (one gather fewer). Traced programs (TorchScript, ONNX) keep the plain walk
(``__call__``: comparisons and int64 gathers, which ONNX expresses).

Exact labels. Classifiers sum float32 leaf values; that can only change a label when two classes are
within ``eps32 = 8 (T + 2) 2^-24 B`` (B: the largest possible sum of absolute leaf values; plus the
float64 bound). Those rows (a handful, and every exact tie) are summed again in float64 in the IR
reference's own order (base, then the trees one by one), which reproduces scikit-learn's sums bit for
bit, so the label equals scikit-learn's on every row without a reference call. Exported programs
(TorchScript, ONNX) sum in float64 and flag rows within ``4 (T + 2) 2^-53 B`` for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from edgeinfer.backends.tensor.ops_classic import class_major, label_flag, label_margin
from edgeinfer.backends.tensor.registry import LowerContext, lower
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.trees import Tree, n_raw, trees_of

STRATEGIES = ("gemm", "tree_traversal", "perfect_tree_traversal")
U64 = 2.0 ** -53
U32 = 2.0 ** -24


def choose_strategy(depth: int, n_trees: int, batch: int) -> str:
    """The documented heuristic (module docstring); ``n_trees`` scales nothing yet but is part of the rule."""
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
        return torch.argmax(hit, dim=2) + self.offset  # (n, T) global leaf ids, as the walks

    fast = __call__
    cell_leaf = None  # ``fast`` gives global leaf ids already


class _Traversal:
    """Gather-based walk over the nodes as they are, siblings adjacent (right = left + 1); module docstring."""

    def __init__(self, trees: list[Tree], leaves: Leaves, dev: Any) -> None:
        feat, thr, left = [], [], []
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
                    # a leaf points at itself and never goes right (x > inf is false): rows that
                    # arrive early wait there; its feature slot holds its global leaf id
                    feat.append(int(leaves.offset[ti] + leaves.local[ti][old]))
                    thr.append(np.inf)
                    left.append(base + new[old])
                else:
                    feat.append(int(t.feature[old]))
                    thr.append(t.threshold[old])
                    left.append(base + new[int(t.left[old])])
            roots.append(base)
            base += len(order)
        leaf_mask = np.asarray(thr, np.float32) == np.inf
        self.feat = torch.tensor(np.where(leaf_mask, 0, feat), dtype=torch.int64, device=dev)
        self.leaf_of = torch.tensor(np.where(leaf_mask, feat, 0), dtype=torch.int64, device=dev)
        self.thr = torch.tensor(np.asarray(thr, np.float32), device=dev)
        # int32 node indices (index_select takes them): half the memory traffic of the walk's tensors
        self.left = torch.tensor(left, dtype=torch.int32, device=dev)
        self.roots = torch.tensor(roots, dtype=torch.int32, device=dev)
        # the eager walk's tables (``fast``): int32 features, thresholds moved up one float32 step (see
        # ``_Step``), and left + 1, so that next = (left + 1) + s with s = -1 to go left, 0 to go right
        # (a leaf: threshold +inf, so s = -1, and left + 1 = itself + 1: it stays)
        self.feat32 = self.feat.to(torch.int32)
        self.thr_up = torch.from_numpy(_up(np.asarray(thr, np.float32))).to(dev)
        self.left1 = self.left + 1
        self.cell_leaf = self.leaf_of.to(torch.int32)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        g = self.roots.expand(x.shape[0], -1).contiguous()  # (n, T): node of each tree for each row
        for _ in range(self.depth):
            gf = g.view(-1)
            v = torch.gather(x, 1, self.feat.index_select(0, gf).view_as(g))
            g = torch.add(self.left.index_select(0, gf).view_as(g), v > self.thr.index_select(0, gf).view_as(g))
        return self.leaf_of.index_select(0, g.view(-1)).view_as(g)

    def fast(self, x: torch.Tensor) -> torch.Tensor:
        """The same walk in fewer, cheaper operations (eager only; module docstring, "Speed")."""
        n, n_t = int(x.shape[0]), int(self.roots.shape[0])
        g = self.roots.repeat(n)  # flat (n T): node of each tree for each row, updated in place
        step, left = _Step(x, n_t), torch.empty_like(g)
        for _ in range(self.depth):
            s = step(self.feat32, self.thr_up, g)
            torch.add(torch.index_select(self.left1, 0, g, out=left), s, out=g)
        return g.view(n, n_t)  # the leaf nodes reached: ``cell_leaf`` maps them to global leaf ids


def _up(thr: np.ndarray) -> np.ndarray:
    """float32 thresholds moved up one step (the largest float goes to +inf, +inf stays)."""
    with np.errstate(over="ignore"):
        return np.nextafter(thr.astype(np.float32), np.float32(np.inf))


class _Step:
    """One level of a walk over the n T cells of a chunk (flat, row-major: a row's trees side by side),
    into buffers allocated once per chunk: ``step(feat, thr_up, node)`` is -1 where
    ``x[row, feat[node]] <= thr[node]`` (go left) and 0 where not.

    ``thr_up`` is the threshold moved up one float32 step, so ``x <= thr`` is ``x < thr_up`` for every
    float32 x, which is the sign bit of ``x - thr_up`` (the rounded difference keeps the sign of the
    exact one: subnormals are not flushed, and ``thr_up`` is never +0.0, the one value where x = -0.0
    would read as below it). Subtract, reinterpret, shift: three fast passes where torch's float
    compare to bool and the step from it cost more. ``x`` is gathered flat, at each cell's row offset
    plus the node's feature (a same-shape add, not a broadcast over a narrow row).
    """

    def __init__(self, x: torch.Tensor, n_t: int) -> None:
        n, d = int(x.shape[0]), int(x.shape[1])
        it = torch.int32 if n * d < 2 ** 31 else torch.int64
        self.xf = x.reshape(-1)
        self.rowoff = torch.arange(0, n * d, d, dtype=it, device=x.device).repeat_interleave(n_t)
        self.f = torch.empty(n * n_t, dtype=it, device=x.device)
        self.v = torch.empty(n * n_t, dtype=x.dtype, device=x.device)
        self.h = torch.empty(n * n_t, dtype=x.dtype, device=x.device)
        self.s = torch.empty(n * n_t, dtype=torch.int32, device=x.device)

    def __call__(self, feat: torch.Tensor, thr_up: torch.Tensor, node: torch.Tensor) -> torch.Tensor:
        torch.index_select(feat, 0, node, out=self.f)
        torch.index_select(self.xf, 0, self.f.add_(self.rowoff), out=self.v)
        torch.index_select(thr_up, 0, node, out=self.h)
        return torch.bitwise_right_shift(torch.sub(self.v, self.h, out=self.v).view(torch.int32), 31, out=self.s)


class _Perfect:
    """Complete trees of the ensemble's depth, one table per level; see the module docstring."""

    def __init__(self, trees: list[Tree], leaves: Leaves, dev: Any) -> None:
        d = max(1, max(t.depth() for t in trees))
        if d > 20:
            raise EdgeInferError(f"perfect_tree_traversal pads every tree to 2^{d} leaves; "
                                 "use strategy='tree_traversal' for trees this deep")
        n_t = len(trees)
        # level-major numbering: node p of level l of tree t is entry t 2^l + p of level l's table, so
        # its children are entries 2 g and 2 g + 1 of level l + 1: no per-tree offsets at all
        feat = [np.zeros(n_t << lev, np.int64) for lev in range(d)]
        thr = [np.full(n_t << lev, np.inf, np.float32) for lev in range(d)]
        leaf = np.zeros(n_t << d, np.int64)
        for ti, t in enumerate(trees):
            stack = [(0, 0, 0)]  # (node, position within its level, level)
            while stack:
                node, pos, lev = stack.pop()
                if t.left[node] < 0:
                    span = 1 << (d - lev)
                    start = (ti << d) + pos * span
                    leaf[start:start + span] = leaves.offset[ti] + leaves.local[ti][node]
                    continue
                i = (ti << lev) + pos
                feat[lev][i], thr[lev][i] = t.feature[node], t.threshold[node]
                stack += [(int(t.left[node]), 2 * pos, lev + 1), (int(t.right[node]), 2 * pos + 1, lev + 1)]
        self.depth = d
        self.feat = [torch.from_numpy(f).to(dev) for f in feat]
        self.thr = [torch.from_numpy(h).to(dev) for h in thr]
        self.leaf = torch.from_numpy(leaf).to(dev)
        self.roots = torch.arange(n_t, dtype=torch.int32, device=dev)  # int32: see _Traversal
        # the eager walk's tables (``fast``): numbered from 1 within each level (entry 0 unused), so the
        # child of node r is 2 r + s with s = -1 (left) or 0 (right): one add with alpha = 2
        up = [_up(h) for h in thr]
        self.root_feat = torch.from_numpy(feat[0]).to(dev)
        self.root_thr = torch.from_numpy(up[0]).to(dev)
        self.root1 = torch.arange(1, n_t + 1, dtype=torch.int32, device=dev)
        self.feat1 = [torch.from_numpy(np.concatenate([[0], f]).astype(np.int32)).to(dev) for f in feat[1:]]
        self.thr1 = [torch.from_numpy(np.concatenate([[np.inf], h]).astype(np.float32)).to(dev) for h in up[1:]]
        self.cell_leaf = torch.from_numpy(np.concatenate([[0], leaf]).astype(np.int32)).to(dev)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        g = self.roots.expand(x.shape[0], -1).contiguous()  # (n, T)
        for f, h in zip(self.feat, self.thr, strict=True):
            gf = g.view(-1)
            v = torch.gather(x, 1, f.index_select(0, gf).view_as(g))
            g = torch.add(v > h.index_select(0, gf).view_as(g), g, alpha=2)
        return self.leaf.index_select(0, g.view(-1)).view_as(g)

    def fast(self, x: torch.Tensor) -> torch.Tensor:
        """The same walk in fewer, cheaper operations (eager only; module docstring, "Speed")."""
        n, n_t = int(x.shape[0]), int(self.root1.shape[0])
        # the roots' features are fixed per tree: a column gather, thresholds broadcast, no lookups
        s = torch.sub(x.index_select(1, self.root_feat), self.root_thr).view(torch.int32) >> 31
        r = torch.add(s, self.root1, alpha=2).view(-1)  # flat (n T), levels numbered from 1, in place
        step = _Step(x, n_t)
        for f, h in zip(self.feat1, self.thr1, strict=True):
            torch.add(step(f, h, r), r, alpha=2, out=r)
        return r.view(n, n_t)  # positions on the last level: ``cell_leaf`` maps them to global leaf ids


_WALKERS = {"gemm": _Gemm, "tree_traversal": _Traversal, "perfect_tree_traversal": _Perfect}


CHUNK_CELLS = 1 << 17  # rows x trees walked at once: the walk's few tensors stay in the CPU's L2 cache
PADDED_TABLE_BYTES = 4 << 20  # largest table of leaf values copied out to a walker's cells


class TreeKernel:
    """Prepared ensemble: leaf ids by a strategy, certified sums, label or values, and the unsure flag."""

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
        self._cell_tables: dict[tuple, Any] = {}
        self.batch_hint: int | None = None  # set while exporting: choose for serving batches
        base = np.asarray(node.attr("base_values", np.zeros(self.k)), np.float64).reshape(-1)
        self.base = torch.from_numpy(base if base.size else np.zeros(self.k)).to(self.dev)
        self.has_base = bool(np.any(base))
        self.average = node.attr("aggregate_function", "SUM") == "AVERAGE"
        self.values64 = torch.from_numpy(self.leaves.values).to(self.dev)
        self.values32 = self.values64.float()
        n_t = len(self.trees)
        bound = float(np.abs(base).max(initial=0.0) + sum(np.abs(t.values).max(axis=0) for t in self.trees).max())
        scale = n_t if self.average else 1
        # float64 sums in any order: within (T + 1) u64 B of scikit-learn's, per class, so a margin above
        # 4 (T + 2) u64 B cannot flip; float32 leaves and sums add T u32 B + (T - 1) u32 B per class
        self.eps64 = 4 * (n_t + 2) * U64 * bound / scale
        self.finite = bound < 2.0 ** 126  # no sum of leaf values can overflow float32
        self.eps32 = 8 * (n_t + 2) * U32 * bound / scale + self.eps64
        self.post = node.attr("post_transform", "NONE")
        self.tie_class = node.attr("binary_tie_class", 0)
        self.regressor = node.op == "TreeEnsembleRegressor"
        precision = ctx.options.get("precision")
        # classifiers sum in float32 and certify; regressors keep float64 unless float32 was asked for
        self.sum32 = precision in ("float32", "float16") or (not self.regressor and precision != "float64")

    def walker(self, batch: int) -> Any:
        batch = self.batch_hint or batch
        s = self.strategy if self.strategy != "auto" else choose_strategy(self.depth, len(self.trees), batch)
        if s not in self._walkers:
            self._walkers[s] = _WALKERS[s](self.trees, self.leaves, self.dev)
        return self._walkers[s]

    def _finish(self, sums: torch.Tensor) -> torch.Tensor:
        raw = sums.double() + self.base
        return raw / len(self.trees) if self.average else raw

    def _decide(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Label index (int32) and the margin that certifies it."""
        if self.post == "LOGISTIC":
            s = raw[:, 0]
            return self._logistic_label(s), s.abs()
        if raw.shape[1] == 1:  # one class: nothing to decide
            return torch.zeros_like(raw[:, 0], dtype=torch.int32), torch.full_like(raw[:, 0], float("inf"))
        return label_margin(raw.t())

    def _logistic_label(self, s: torch.Tensor) -> torch.Tensor:
        # decided in Python, not as ``tensor & bool``: the tracer records that as aten::__and__(Tensor,
        # bool), which has no schema, and ONNX export then fails in TorchScript alias analysis
        return (s >= 0 if self.tie_class == 1 else s > 0).to(torch.int32)

    def _in_tree_order(self, ids: torch.Tensor) -> torch.Tensor:
        """Raw scores of the rows whose leaves are ``ids`` (rows, T) as the IR reference sums them: base,
        then each tree in order, in float64.

        The very operations of ``ir.ops.trees.raw_scores`` (a cumulative sum runs left to right), so
        the label of a row within rounding of a tie equals scikit-learn's without a reference call.
        """
        vals = self.values64.index_select(0, ids.reshape(-1)).reshape(ids.shape[0], -1, self.k)
        raw = torch.cat([self.base.expand(ids.shape[0], 1, self.k), vals], dim=1).cumsum(dim=1)[:, -1]
        return raw / len(self.trees) if self.average else raw

    def _label_of(self, raw: torch.Tensor) -> torch.Tensor:
        return (self._logistic_label(raw[:, 0]) if self.post == "LOGISTIC"
                else torch.argmax(raw, dim=1).to(torch.int32))

    def _walk_sums(self, x: torch.Tensor, wide: bool) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """What the walk reached (n, T), the leaf sums (n, k) per row (float64 tables if ``wide``), and
        the map from the former to global leaf ids (None: they are leaf ids).

        In chunks of rows: each chunk's walk runs in cache, and embedding_bag sums each row's bag of
        leaf rows without materialising the (rows, trees, k) gather. Where the walker's cells are not
        leaf ids, the sums read a table indexed by cell (leaf values copied out to every cell, up to
        ``PADDED_TABLE_BYTES``): one gather per cell fewer.
        """
        n, n_t = int(x.shape[0]), len(self.trees)
        walker = self.walker(n)
        step = max(1, CHUNK_CELLS // n_t)
        cells = [walker.fast(x[s:s + step]) for s in range(0, max(n, 1), step)]  # empty batch: one chunk
        to_leaf, table = walker.cell_leaf, self._cell_table(walker, wide)
        if to_leaf is not None and table is None:  # too large to pad: cells become leaf ids here
            cells = [to_leaf.index_select(0, c.reshape(-1)).view_as(c) for c in cells]
            to_leaf = None
        if table is None:
            table = self.values64 if wide else self.values32
        sums = [torch.nn.functional.embedding_bag(c, table, mode="sum") for c in cells]
        if len(cells) == 1:
            return cells[0], sums[0], to_leaf
        return torch.cat(cells), torch.cat(sums), to_leaf

    def _cell_table(self, walker: Any, wide: bool) -> torch.Tensor | None:
        """Leaf values by the walker's cells (cached), or None (cells are leaf ids, or it would be big)."""
        if walker.cell_leaf is None:
            return None
        key = (id(walker), wide)
        if key not in self._cell_tables:
            nbytes = walker.cell_leaf.numel() * self.k * (8 if wide else 4)
            values = self.values64 if wide else self.values32
            self._cell_tables[key] = (values.index_select(0, walker.cell_leaf)
                                      if nbytes <= PADDED_TABLE_BYTES else None)
        return self._cell_tables[key]

    def _again(self, cells: torch.Tensor, to_leaf: Any, rows: torch.Tensor) -> torch.Tensor:
        """``_in_tree_order`` of the rows ``rows`` from their cells."""
        ids = cells.index_select(0, rows)
        if to_leaf is not None:
            ids = to_leaf.index_select(0, ids.reshape(-1)).view_as(ids)
        return self._in_tree_order(ids)

    def labels(self, x: torch.Tensor, absmax: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Label index per row and an all-false flag, without scores (``predict``).

        The fast sums decide class-major in their own precision (base added, the average's division
        left out: it scales every margin alike, so the bound is scaled instead); rows within the
        bound are summed again in the reference's order from the leaves already found, which gives
        scikit-learn's label, so no row is left for the reference.
        """
        x = x.float().contiguous()
        cells, sums, to_leaf = self._walk_sums(x, not self.sum32)
        zt = class_major(sums)
        if self.has_base:
            zt = zt + self.base.to(zt.dtype)[:, None]
        eps = (self.eps32 if self.sum32 else self.eps64) * (len(self.trees) if self.average else 1)
        if self.post == "LOGISTIC":
            label, flag = self._logistic_label(zt[0]), zt[0].abs() <= eps
        elif self.k == 1:  # one class: nothing to decide
            label = torch.zeros(zt.shape[1], dtype=torch.int32, device=zt.device)
            flag = torch.zeros_like(label, dtype=torch.bool)
        else:
            label, flag = label_flag(zt, eps, finite=self.finite)
        rows = torch.nonzero(flag).reshape(-1)
        if rows.numel():
            label = label.index_copy(0, rows, self._label_of(self._again(cells, to_leaf, rows)))
        return label, torch.zeros_like(label, dtype=torch.bool)

    def __call__(self, x: torch.Tensor, *_: Any) -> tuple:
        x = x.float().contiguous()
        if self.batch_hint is not None or torch.jit.is_tracing():
            # exported programs: plain gathers, a float64 sum, rows within its rounding of a tie flagged
            # for the runtime to recompute (no chunk loop or data-dependent branch baked into the trace)
            ids = self.walker(int(x.shape[0]))(x)
            raw = self._finish(self.values64.index_select(0, ids.reshape(-1)).reshape(-1, len(self.trees), self.k)
                               .sum(dim=1))
            if self.regressor:
                return (raw.float(),)
            return self._label_of(raw), self._scores(raw), self._decide(raw)[1] <= self.eps64
        cells, sums, to_leaf = self._walk_sums(x, not self.sum32)
        raw = self._finish(sums)
        if self.regressor:
            return (raw.float(),)
        label, margin = self._decide(raw)
        # rows the fast sums cannot certify (a handful, and every exact tie) are summed again in the
        # reference's order, which gives scikit-learn's label: nothing is left for the IR reference
        rows = torch.nonzero(margin <= (self.eps32 if self.sum32 else self.eps64)).reshape(-1)
        if rows.numel():
            again = self._again(cells, to_leaf, rows)
            raw = raw.index_copy(0, rows, again)
            label = label.index_copy(0, rows, self._label_of(again))
        return label, self._scores(raw), torch.zeros_like(label, dtype=torch.bool)

    def _scores(self, raw: torch.Tensor) -> torch.Tensor:
        if self.post == "LOGISTIC":
            p = torch.sigmoid(raw[:, 0])
            return torch.stack([1 - p, p], dim=1).float()
        return (torch.softmax(raw, dim=1) if self.post == "SOFTMAX" else raw).float()


@lower("TreeEnsembleClassifier", "TreeEnsembleRegressor")
def tree_ensemble(node: Node, ctx: LowerContext):
    return TreeKernel(node, ctx)
