"""C for TreeEnsembleClassifier / TreeEnsembleRegressor: fast walks and sums, exact labels.

Every sample is walked once into the leaf vector id of each tree (``<pre>_walk``); the sums,
the certified label and its float64 fallback all read those ids, so the rare exact path
never walks again. Two layouts, chosen by ``ctx.options["tree_layout"]`` ("inline",
"table", "auto"):

* ``inline``: one if/else function per tree (inlined into the walk) returning its leaf's
  vector id; subtrees at most ``FLAT_HEIGHT`` (2) levels high are branch-free selects, as
  their tests, the last before a leaf, are the least predictable.
* ``table``: per tree, its branches in pre-order then one word per distinct leaf vector it
  uses; a word is (threshold pair id | left | right), refs local to the tree, uint32 when the
  fields fit, else three arrays of the smallest integer types. A leaf word tests the pair
  "feature 0 > +inf" (never true) and points left to itself, its right field the vector id:
  a walk that reaches a leaf stays there without a test of its own, so every step is one
  load-compare-shift with no leaf mask. Trees are walked ``GROUP`` (10) at a time, branch-
  free, so their load chains overlap. Thresholds are one table of distinct (feature, value)
  pairs; leaf vectors are deduplicated (the pure leaves of a forest are one vector per class).
* ``auto``: inline up to ``INLINE_MAX_BRANCHES`` (4096) branches, else table. Measured on
  digits forests (host gcc -O2, ns/sample inline vs table): RF(10, d8) 1,009 branches 44 vs
  180; RF(20, d8) 2,016: 160 vs 235; RF(25, d10) 3,510: 376 vs 560; RF(50, d8) 5,143: 1,746
  vs 432; ExtraTrees(30, d10) 6,926: 4,620 vs 2,834 (inline code outgrows the caches).

Label-only entry (``<name>_predict``, forests). Leaf fractions v are stored as int16
``round(v * S)``, S the largest scale with n_trees * S + n_trees <= 32767 (S >= 256, else the
float32 path), lanes padded to 8: one vector add per tree and 8 classes, no float add
latency chain, half the flash of float32. Each rounded term is off by at most 1/2, so two
classes' integer sums differ from S times their exact difference by at most n_trees: when
exactly one class lies within n_trees of the maximum it is scikit-learn's label; otherwise
(0.2 % of digits test rows for RF(100), S = 326) the float64 path decides. The tail is
branch-free: the max, then the count and the index sum of the classes near it.

Measured with benchmarks/classical_c.py (digits, gcc -O2 host, one loaded 2-core run, so
compare ratios): RF(10, d8) inline 72 ns, 0 mismatches, vs emlearn 116 (inexact) and the
fastest exact peer tl2cgen 277 (0.26x); RF(100, d12) table 2.64 us vs emlearn 3.93 and
tl2cgen quantized 9.5 (0.28x), Cortex-M4 -Os flash 82.5 KB vs emlearn loadable 122.3 KB.

Exact labels otherwise (scores, boosting). The fast path sums float32 leaf values (rows padded
to 4 floats, a loop the compiler vectorises); a float32 sum can flip the order of
two (nearly) tied classes, so the label is taken from it only when the top-2 margin exceeds
a certified bound ``EPS = 4 (n + 2) 2^-24 B`` (n terms, B the largest possible sum of
absolute leaf values and base value of one class: it covers the float32 rounding of the
leaves, of the sums and scikit-learn's own float64 rounding). Otherwise the sample is
recomputed in float64 in scikit-learn's order: leaf values as float64, or, for forests
whose leaves are class fractions c_k / N, from integer counts (``(double)c / N`` is the very
division scikit-learn made), then the same average and argmax. Measured on a sweep of 360
models (RandomForest, ExtraTrees, GradientBoosting with 2, 3, 5, 7, 10, 20, 50, 100 trees,
3 seeds, on iris, wine, breast_cancer, digits, make_classification; 237,168 rows): float32
sums alone mislabel 12 rows; no row passes the margin test with a wrong label, and 0.28 %
of rows take the float64 path, which reproduces scikit-learn's arithmetic, so 0 mismatches.
Regressors have no label and use the float32 sums (within 1e-5 relative of float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeinfer.backends.c.context import EmitContext, c_float, ctype, smallest_int_dtype
from edgeinfer.backends.c.registry import c_op
from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.ops.trees import Tree, n_raw, trees_of

GROUP = 10          # at most this many trees are walked together by the table layout
INLINE_MAX_BRANCHES = 4096  # "auto" inlines up to this many branches (measured crossover: see the docstring)
U32 = 2.0 ** -24
FLAT_HEIGHT = 2      # inline subtrees this high are branch-free selects (see _inline_tree)


@dataclass
class Plan:
    """Everything the C needs, computed once from the node's tables."""

    trees: list[Tree]
    width: int               # values a leaf adds (n_raw for forests, 1 for boosting)
    columns: np.ndarray      # first raw column of each tree
    vecs: np.ndarray         # float64 (n_vec, width): distinct leaf vectors
    leaf_vec: list[np.ndarray]  # per tree: node -> vector id (leaves only)
    counts: np.ndarray | None   # (n_vec, width) integers with vecs == counts / den, when that holds
    den: np.ndarray | None
    eps: float


def _bits(n: int) -> int:
    return max(1, int(n - 1).bit_length())


def _counts(vecs: np.ndarray, max_den: int = 65535) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer counts c and denominators N with c / N == vecs bit for bit (forest leaf fractions)."""
    counts = np.zeros(vecs.shape, np.int64)
    den = np.zeros(len(vecs), np.int64)
    cand = np.arange(1, 4097, dtype=np.float64)
    for i, v in enumerate(vecs):
        if np.any(v < 0) or np.any(v > 1):
            return None
        c = np.rint(v[None, :] * cand[:, None])
        ok = np.flatnonzero(np.all(c / cand[:, None] == v[None, :], axis=1))
        if not len(ok) or cand[ok[0]] > max_den:
            return None
        den[i], counts[i] = int(cand[ok[0]]), c[ok[0]].astype(np.int64)
    return counts, den


def plan(node) -> Plan:
    trees = trees_of(node)
    k = n_raw(node)
    used = [np.flatnonzero(np.any(t.values[t.is_leaf] != 0, axis=0)) for t in trees]
    width = 1 if all(len(u) <= 1 for u in used) else k
    columns = np.array([(u[0] if len(u) else 0) if width == 1 else 0 for u in used], np.int64)
    rows = [t.values[:, c:c + width] for t, c in zip(trees, columns, strict=True)]
    allv = np.concatenate([r[t.is_leaf] for r, t in zip(rows, trees, strict=True)]) if trees else np.zeros((0, width))
    vecs, inv = np.unique(allv, axis=0, return_inverse=True) if len(allv) else (np.zeros((1, width)), np.zeros(0))
    inv = np.asarray(inv).reshape(-1)
    if not np.any(np.all(vecs == 0, axis=1)):  # padding trees of the table layout add this one
        vecs = np.concatenate([vecs, np.zeros((1, width))])
    leaf_vec, pos = [], 0
    for t in trees:
        m = np.full(len(t.left), -1, np.int64)
        nl = int(t.is_leaf.sum())
        m[t.is_leaf] = inv[pos:pos + nl]
        pos += nl
        leaf_vec.append(m)
    cnt = _counts(vecs) if width > 1 and node.op == "TreeEnsembleClassifier" else None
    base = np.asarray(node.attr("base_values", np.zeros(k)), np.float64).reshape(-1)
    bound = np.abs(base) if base.size else np.zeros(k)
    bound = bound.astype(np.float64).copy()
    for t, c, r in zip(trees, columns, rows, strict=True):
        bound[c:c + width] += np.abs(r[t.is_leaf]).max(axis=0) if t.is_leaf.any() else 0
    n_terms = len(trees) + 2
    eps = 4.0 * n_terms * U32 * float(bound.max(initial=0.0)) + 1e-30
    return Plan(trees, width, columns, vecs, leaf_vec, cnt[0] if cnt else None, cnt[1] if cnt else None, eps)


# ----------------------------------------------------------------------------- layouts
def _preorder(tree: Tree) -> list[int]:
    order, stack = [], [0]
    while stack:
        i = stack.pop()
        if tree.left[i] >= 0:
            order.append(i)
            stack += [int(tree.right[i]), int(tree.left[i])]
    return order


class _Table:
    """Packed node words, thresholds, roots and offsets of the table layout.

    A tree is its branches in pre-order, then one leaf word per distinct leaf vector it uses.
    A branch word is (pair id | left | right), refs local to the tree; a leaf word is
    (pair "feature 0 > +inf", never true | itself | vector id): a walk that reaches a leaf
    stays there with no test of its own, so every step is the same few instructions.
    """

    def __init__(self, ctx: EmitContext, p: Plan) -> None:
        stay = (0, float("inf"))
        pairs = sorted({(int(t.feature[i]), float(t.threshold[i]))
                        for t in p.trees for i in np.flatnonzero(~t.is_leaf)} | {stay})
        thr_id = {fv: i for i, fv in enumerate(pairs)}
        words_t, words_l, words_r, offs, roots = [], [], [], [], []
        for t, lv in zip(p.trees, p.leaf_vec, strict=True):
            order = _preorder(t)
            local = {n: j for j, n in enumerate(order)}
            vids = sorted({int(v) for v in lv[t.is_leaf]})
            at = {v: len(order) + j for j, v in enumerate(vids)}
            ref = lambda n, local=local, at=at, lv=lv: local[n] if n in local else at[int(lv[n])]  # noqa: B023
            roots.append(ref(0))
            offs.append(len(words_t))
            for n in order:
                words_t.append(thr_id[(int(t.feature[n]), float(t.threshold[n]))])
                words_l.append(ref(int(t.left[n])))
                words_r.append(ref(int(t.right[n])))
            for v in vids:
                words_t.append(thr_id[stay])
                words_l.append(at[v])
                words_r.append(v)
        n_real = len(p.trees)
        # groups as even as possible: 10 trees walk as 2 x 5, not 8 + 2 padded to 8
        self.group = -(-n_real // -(-n_real // GROUP)) if n_real else 1
        n_pad = (-n_real) % self.group
        if not words_t:  # no tree: one leaf word of the zero vector (plan() always has one)
            zero = int(np.flatnonzero(np.all(p.vecs == 0, axis=1))[0])
            words_t, words_l, words_r = [thr_id[stay]], [0], [zero]
        roots += [0] * n_pad  # padding trees walk tree 0 again; their ids are never summed
        offs += [0] * n_pad
        wt, wl, wr = (np.array(a, np.int64) for a in (words_t, words_l, words_r))
        self.tb, self.rb = _bits(len(pairs)), _bits(int(max(wl.max(), wr.max())) + 1)
        self.packed = self.tb + 2 * self.rb <= 32
        feat = np.array([f for f, _ in pairs])
        self.thr = ctx.const_array("tree_thr", np.array([v for _, v in pairs], np.float32), "float32")
        self.feat = ctx.const_array("tree_feat", feat, smallest_int_dtype(0, int(feat.max())))
        if self.packed:
            words = wt | (wl << self.tb) | (wr << (self.tb + self.rb))
            self.nodes = ctx.const_array("tree_nodes", words.astype(np.uint32), "uint32")
        else:
            self.nodes_t = ctx.const_array("tree_ntid", wt, smallest_int_dtype(0, int(wt.max())))
            self.nodes_l = ctx.const_array("tree_nleft", wl, smallest_int_dtype(0, int(wl.max())))
            self.nodes_r = ctx.const_array("tree_nright", wr, smallest_int_dtype(0, int(wr.max())))
        self.root = ctx.const_array("tree_root", np.array(roots), smallest_int_dtype(0, max(roots)))
        self.off = ctx.const_array("tree_off", np.array(offs), smallest_int_dtype(0, max(offs)))
        depths = [t.depth() for t in p.trees] + [0] * n_pad
        self.n_groups = len(depths) // self.group
        gd = np.array([max(depths[g * self.group:(g + 1) * self.group]) for g in range(self.n_groups)])
        self.gdepth = ctx.const_array("tree_gdepth", gd, smallest_int_dtype(0, int(gd.max(initial=0))))

    def step(self, o: str, r: str) -> str:
        """C: one branch-free step of node ``r`` in the tree whose words start at ``o``."""
        # arithmetic selects, not ternaries: the compiler keeps them branch-free (a branch here
        # mispredicts half the time)
        if self.packed:
            tm, rm = (1 << self.tb) - 1, (1 << self.rb) - 1
            return (f"{{ const uint32_t w_ = {self.nodes}[{o} + {r}]; const uint32_t t_ = w_ & {tm}u; "
                    f"{r} = (w_ >> ({self.tb}u + {self.rb}u * (uint32_t)(x[{self.feat}[t_]] > {self.thr}[t_]))) "
                    f"& {rm}u; }}")
        return (f"{{ const uint32_t i_ = {o} + {r}; const uint32_t t_ = {self.nodes_t}[i_]; "
                f"const uint32_t g_ = 0u - (uint32_t)(x[{self.feat}[t_]] > {self.thr}[t_]); "
                f"{r} = ((uint32_t){self.nodes_l}[i_] & ~g_) | ((uint32_t){self.nodes_r}[i_] & g_); }}")

    def vector(self, o: str, r: str) -> str:
        """C: the leaf vector id held by the leaf word ``r`` a walk ended on."""
        if self.packed:
            return f"{self.nodes}[{o} + {r}] >> {self.tb + self.rb}u"
        return f"{self.nodes_r}[{o} + {r}]"


def _inline_tree(p: Plan, t: int, flat: int = FLAT_HEIGHT) -> str:
    """C body of one tree as nested if/else returning the leaf vector id.

    Subtrees at most ``flat`` levels high are selects instead (every compare evaluated, the
    leaf chosen with conditional moves): their tests are the least predictable ones, the last
    before a leaf, and a misprediction costs more than the extra compares.
    """
    tree, lv = p.trees[t], p.leaf_vec[t]
    height = np.zeros(len(tree.left), np.int64)
    for n in reversed(_preorder(tree)):  # children come after their parent in pre-order
        height[n] = 1 + max(height[tree.left[n]], height[tree.right[n]])

    def select(n: int, pad: str, out: list[str]) -> str:
        if tree.left[n] < 0:
            return f"{int(lv[n])}u"
        a_, b_ = select(int(tree.left[n]), pad, out), select(int(tree.right[n]), pad, out)
        name = f"s{len(out)}_"
        out.append(f"{pad}const uint32_t {name} = x[{int(tree.feature[n])}] <= {c_float(tree.threshold[n])} "
                   f"? {a_} : {b_};")
        return name

    out: list[str] = []
    stack: list[tuple[int, int, str]] = [(0, 1, "")]
    while stack:
        n, depth, tail = stack.pop()
        pad = "  " * depth
        if tail:
            out.append(pad[:-2] + tail)
            if n < 0:
                continue
        if tree.left[n] < 0 or height[n] <= flat:
            block: list[str] = []
            res = select(n, pad + "  ", block)
            out += [f"{pad}return {res};"] if not block else [f"{pad}{{", *block, f"{pad}  return {res};", f"{pad}}}"]
            continue
        out.append(f"{pad}if (x[{int(tree.feature[n])}] <= {c_float(tree.threshold[n])}) {{")
        stack += [(-1, depth + 1, "}"), (int(tree.right[n]), depth + 1, "} else {"), (int(tree.left[n]), depth + 1, "")]
    return "\n".join(out)


# ----------------------------------------------------------------------------- emitter
def _layout(ctx: EmitContext, p: Plan) -> str:
    layout = ctx.options.get("tree_layout", "auto")
    if layout not in ("auto", "inline", "table"):
        raise UnsupportedModelError(f"tree_layout={layout!r}; choose 'inline', 'table' or 'auto'")
    if layout == "auto":
        branches = sum(int((~t.is_leaf).sum()) for t in p.trees)
        layout = "inline" if branches <= INLINE_MAX_BRANCHES else "table"
    return layout


LANES = 8           # integer label path: int16 lanes padded to a multiple of this (one SSE/NEON register)


def _quantized(p: Plan, base: np.ndarray, average: bool, post: str) -> tuple[np.ndarray, int] | None:
    """int16 leaf rows round(v * S) (lanes padded) and S, for the integer label path, when certified.

    Forest leaves are fractions in [0, 1] and the base is 0; S is the largest scale whose sums
    (at most n_trees * S) and sums + n_trees fit int16. Each rounded term is off by at most
    1/2, so two classes' integer sums differ from S times their exact difference by at most
    n_trees: a margin above n_trees certifies the label, the float64 path decides the rest.
    int16 lanes: one vector add per 8 classes and tree, no float add latency chain, and half
    the table of float32. Too many trees (S < 256: a coarse step falls back too often) or
    classes (a padded lane of 0 must stay below max - n_trees) keep the float32 path.
    """
    nt = len(p.trees)
    if p.counts is None or not average or post != "NONE" or np.any(base != 0) or p.width == 1 or not nt:
        return None
    scale = (32767 - nt) // nt
    if scale < 256 or p.width * 2 > scale:
        return None
    q = np.zeros((len(p.vecs), -(-p.width // LANES) * LANES), np.int64)
    q[:, :p.width] = np.rint(p.vecs * scale)
    return q, scale


@c_op("TreeEnsembleClassifier", "TreeEnsembleRegressor")
def tree_ensemble(ctx: EmitContext, node) -> str:
    p = plan(node)
    pre = ctx.sym("trees")
    classifier = node.op == "TreeEnsembleClassifier"
    k = n_raw(node)
    nt = len(p.trees)
    base = np.asarray(node.attr("base_values", np.zeros(k)), np.float64).reshape(-1)
    base = base if base.size else np.zeros(k)
    average = node.attr("aggregate_function", "SUM") == "AVERAGE"
    vec_t = ctype(smallest_int_dtype(0, len(p.vecs)))
    layout = _layout(ctx, p)

    # ------------------------------------------------------------ walk: the leaf vector id of every tree
    if layout == "table":
        tab = _Table(ctx, p)
        gs = tab.group
        slots = tab.n_groups * gs
        walk = ["  int32_t g, d;", f"  for (g = 0; g < {tab.n_groups}; ++g) {{",
                f"    const int32_t t0 = g * {gs}, dg = (int32_t){tab.gdepth}[g];"]
        walk += [f"    uint32_t r{j} = {tab.root}[t0 + {j}]; const uint32_t o{j} = {tab.off}[t0 + {j}];"
                 for j in range(gs)]
        walk += ["    for (d = 0; d < dg; ++d) {"] + [f"      {tab.step(f'o{j}', f'r{j}')}" for j in range(gs)]
        walk += ["    }"] + [f"    leaf[t0 + {j}] = ({vec_t})({tab.vector(f'o{j}', f'r{j}')});"
                               for j in range(gs)] + ["  }"]
    else:
        slots = max(nt, 1)
        walk = []
        for t in range(nt):
            fn = f"{pre}_tree{t}"
            ctx.helper(fn, f"static {vec_t} {fn}(const float *x)\n{{\n{_inline_tree(p, t)}\n}}\n")
            walk.append(f"  leaf[{t}] = {fn}(x);")
        if not nt:
            walk.append("  (void)x; leaf[0] = 0;")
    ctx.helper(f"{pre}_walk", f"static void {pre}_walk(const float *x, {vec_t} *leaf)\n{{\n"
               + "\n".join(walk) + "\n}\n")

    # ------------------------------------------------------------ float32 sums of the leaf vectors
    wp = p.width if p.width == 1 else -(-p.width // 4) * 4  # padded rows: a fixed-width loop the compiler vectorises
    vecs32 = np.zeros((len(p.vecs), wp), np.float32)
    vecs32[:, :p.width] = p.vecs
    leaf32 = ctx.const_array("tree_leaf", vecs32, "float32")
    col = None
    if p.width == 1 and np.any(p.columns):
        col = ctx.const_array("tree_col", p.columns, smallest_int_dtype(0, int(p.columns.max())))
    na = max(k, wp)
    init = "".join(f"acc[{i}] = {c_float(b)}; " for i, b in enumerate(base)) + \
        "".join(f"acc[{i}] = 0.0f; " for i in range(k, na))
    fast = [f"static void {pre}_sum(const {vec_t} *leaf, float *acc)", "{", "  int32_t t;", f"  {init}",
            f"  for (t = 0; t < {nt}; ++t) {{"]
    if p.width == 1:
        fast.append(f"    acc[{f'{col}[t]' if col else '0'}] += {leaf32}[leaf[t]];")
    else:
        fast += [f"    const float *v_ = {leaf32} + (uint32_t)leaf[t] * {wp}u; int32_t k_;",
                 f"    for (k_ = 0; k_ < {wp}; ++k_) acc[k_] += v_[k_];"]
    fast.append("  }")
    if average and not classifier:
        fast.append(f"  {{ int32_t k_; for (k_ = 0; k_ < {k}; ++k_) acc[k_] /= {float(nt)}f; }}")
    ctx.helper(f"{pre}_sum", "\n".join(fast + ["}"]) + "\n")
    x = ctx.ref(node.inputs[0])

    if not classifier:
        return (f"{vec_t} leaf[{slots}]; float acc[{na}]; int32_t k;\n{pre}_walk({x}, leaf);\n{pre}_sum(leaf, acc);\n"
                f"for (k = 0; k < {k}; ++k) {ctx.ref(node.outputs[0])}[k] = acc[k];")

    # ------------------------------------------------------------ exact label (float64 fallback)
    post = node.attr("post_transform", "NONE")
    tie = int(node.attr("binary_tie_class", 0))
    base64 = ctx.const_array("tree_base64", base, "float64")
    if p.counts is not None:
        cnt = ctx.const_array("tree_cnt", p.counts, smallest_int_dtype(0, int(p.counts.max())))
        den = ctx.const_array("tree_den", p.den, smallest_int_dtype(0, int(p.den.max())))
        add64 = (f"{{ const double n_ = (double){den}[v]; for (k = 0; k < {p.width}; ++k) "
                 f"acc[k] += (double){cnt}[v * {p.width}u + k] / n_; }}")
    else:
        leaf64 = ctx.const_array("tree_leaf64", p.vecs, "float64")
        c0 = f"{col}[t]" if col else "0"
        add64 = (f"for (k = 0; k < {p.width}; ++k) acc[{c0} + k] += {leaf64}[v * {p.width}u + k];")
    exact = [f"static int32_t {pre}_exact(const {vec_t} *leaf)", "{",
             f"  double acc[{k}]; int32_t t, k, best = 0;",
             f"  for (k = 0; k < {k}; ++k) acc[k] = {base64}[k];",
             f"  for (t = 0; t < {nt}; ++t) {{", "    const uint32_t v = leaf[t];", f"    {add64}", "  }"]
    if average:
        exact.append(f"  for (k = 0; k < {k}; ++k) acc[k] /= {float(nt)};")
    if post == "LOGISTIC":
        exact += [f"  (void)best; return acc[0] {'>=' if tie else '>'} 0.0 ? 1 : 0;", "}"]
    else:
        exact += [f"  for (k = 1; k < {k}; ++k) if (acc[k] > acc[best]) best = k;", "  return best;", "}"]
    ctx.helper(f"{pre}_exact", "\n".join(exact) + "\n")

    eps = c_float(np.float32(p.eps * 1.0001))
    lab = ["/* label from the float32 sums when certified by the margin, else float64 (see trees.py) */",
           f"static int32_t {pre}_label(const {vec_t} *leaf, float *acc)", "{"]
    if post == "LOGISTIC":
        lab += [f"  {pre}_sum(leaf, acc);", f"  if (acc[0] > {eps}) return 1;", f"  if (acc[0] < -{eps}) return 0;",
                f"  return {pre}_exact(leaf);", "}"]
    else:
        lab += ["  int32_t k, best = 0; float second = -(1.0f/0.0f);", f"  {pre}_sum(leaf, acc);",
                f"  for (k = 1; k < {k}; ++k) {{",
                "    if (acc[k] > acc[best]) { second = acc[best]; best = k; }",
                "    else if (acc[k] > second) second = acc[k];", "  }",
                f"  if (acc[best] - second > {eps}) return best;", f"  return {pre}_exact(leaf);", "}"]
    ctx.helper(f"{pre}_label", "\n".join(lab) + "\n")
    if len(ctx.graph.nodes) == 1 and node.inputs[0] in ctx.graph.inputs:
        # label-only entry point for <name>_predict; only emitted when used (-Werror: no unused statics)
        q = _quantized(p, base, average, post)
        if q is None:
            body = f"  float acc[{na}];\n  return {pre}_label(leaf, acc);"
        else:
            lq = ctx.const_array("tree_q", q[0], "int16")
            wq = q[0].shape[1]
            # branch-free tail: the max, then how many classes lie within n_trees of it and the sum
            # of their indices: one class (certified) is the argmax; padded lanes stay 0, far below
            # max - n_trees (see _quantized)
            body = (f"  int16_t acc[{wq}], m = 0, lo; int32_t t, k, best = 0, near = 0;\n"
                    f"  for (k = 0; k < {wq}; ++k) acc[k] = 0;\n"
                    f"  for (t = 0; t < {nt}; ++t) {{\n"
                    f"    const int16_t *q_ = {lq} + (uint32_t)leaf[t] * {wq}u;\n"
                    f"    for (k = 0; k < {wq}; ++k) acc[k] = (int16_t)(acc[k] + q_[k]);\n  }}\n"
                    f"  for (k = 0; k < {wq}; ++k) m = acc[k] > m ? acc[k] : m;\n"
                    f"  lo = (int16_t)(m - {nt});\n"
                    f"  for (k = 0; k < {wq}; ++k) {{\n"
                    "    const int16_t in_ = (int16_t)(acc[k] >= lo); near += in_; best += in_ * k;\n  }\n"
                    f"  return near == 1 ? best : {pre}_exact(leaf);")
        ctx.helper(f"{pre}_predict_label", f"static int32_t {pre}_predict_label(const float *x)\n{{\n"
                   f"  {vec_t} leaf[{slots}];\n  {pre}_walk(x, leaf);\n{body}\n}}\n")
        ctx.label_fn = f"{pre}_predict_label"

    y, s = ctx.ref(node.outputs[0]), ctx.ref(node.outputs[1])
    code = [f"{vec_t} leaf[{slots}]; float acc[{na}];" + (" int32_t k;" if post != "LOGISTIC" else ""),
            f"{pre}_walk({x}, leaf);", f"{y}[0] = {pre}_label(leaf, acc);"]
    if post == "LOGISTIC":
        code += ["{ const float p_ = 1.0f / (1.0f + expf(-acc[0]));", f"  {s}[0] = 1.0f - p_; {s}[1] = p_; }}"]
    elif post == "SOFTMAX":
        code += ["{ float m_ = acc[0], z_ = 0.0f;", f"  for (k = 1; k < {k}; ++k) if (acc[k] > m_) m_ = acc[k];",
                 f"  for (k = 0; k < {k}; ++k) {{ {s}[k] = expf(acc[k] - m_); z_ += {s}[k]; }}",
                 f"  for (k = 0; k < {k}; ++k) {s}[k] /= z_; }}"]
    else:
        div = f" / {float(nt)}f" if average else ""
        code += [f"for (k = 0; k < {k}; ++k) {s}[k] = acc[k]{div};"]
    return "\n".join(code)
