"""CUDA C for tree ensembles and MLPs: one thread per row, tables as constant data, a C host API.

* Trees: nodes renumbered breadth-first with siblings adjacent, so a branch stores only its left
  child (right = left + 1) and a leaf is a negative reference ``-(vector id + 1)``. Thresholds
  float32 (``x <= thr`` exactly as the IR), leaf vectors float64 summed in tree order, base value
  first: scikit-learn's arithmetic, so the label needs no certificate. Tables go to ``__constant__``
  memory when they fit its 64 KiB (broadcast reads: all threads of a warp start at the same root),
  otherwise to global ``__device__ const`` memory (read through the read-only cache).
* MLP: weights in float64 (the reference's precision), one row's activations in two fixed-size
  per-thread arrays sized at generation time: no allocation inside a kernel.
* Host: ``int <name>_predict(const float *x, int n, int32_t *label, float *scores)`` copies the batch
  to the device, launches, copies back; it returns 0 or the CUDA error code.
"""

from __future__ import annotations

import numpy as np

from edgeinfer.errors import UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node
from edgeinfer.ir.ops.trees import n_raw, trees_of

CONSTANT_BYTES = 60 * 1024  # of the 64 KiB constant bank, leave room for the launcher's own
THREADS = 256


def _arr(ctype: str, name: str, vals: np.ndarray, space: str, fmt: str = "{}") -> str:
    body = ", ".join(fmt.format(v) for v in np.asarray(vals).reshape(-1).tolist()) or "0"
    return f"{space} {ctype} {name}[{max(1, np.asarray(vals).size)}] = {{{body}}};\n"


def _f64(v: float) -> str:
    return repr(float(v)) if np.isfinite(v) else ("(1.0/0.0)" if v > 0 else "(-1.0/0.0)")


def _f32(v: float) -> str:
    return f"{float(np.float32(v))!r}f" if np.isfinite(v) else "(1.0f/0.0f)"


def tree_source(node: Node, p: str) -> tuple[str, int]:
    """Kernel + tables of one tree ensemble; returns (source, number of score columns)."""
    trees, k = trees_of(node), n_raw(node)
    feat, thr, left, roots, vecs = [], [], [], [], []
    for t in trees:
        base = len(feat)
        roots.append(base)
        order, new, q = [0], {0: 0}, [0]
        while q:
            nxt = []
            for nd in q:
                if t.left[nd] >= 0:
                    for c in (int(t.left[nd]), int(t.right[nd])):
                        new[c] = len(order)
                        order.append(c)
                        nxt.append(c)
            q = nxt
        for old in order:
            if t.left[old] < 0:
                vecs.append(t.values[old])
                feat.append(0)
                thr.append(0.0)
                left.append(-len(vecs))
            else:
                feat.append(int(t.feature[old]))
                thr.append(float(t.threshold[old]))
                left.append(base + new[int(t.left[old])])
    vals = np.asarray(vecs, np.float64).reshape(-1)
    nbytes = len(feat) * 12 + vals.size * 8 + len(roots) * 4
    space = "__constant__" if nbytes <= CONSTANT_BYTES else "__device__ const"
    base = np.asarray(node.attr("base_values", np.zeros(k)), np.float64).reshape(-1)
    if base.size == 0:
        base = np.zeros(k)
    src = [f"/* {len(trees)} trees, {len(feat)} nodes, tables in {space.split()[0].strip('_')} memory */\n",
           _arr("int32_t", f"{p}_feature", np.asarray(feat), space),
           _arr("float", f"{p}_threshold", np.asarray(thr), space, "{}f"),
           _arr("int32_t", f"{p}_left", np.asarray(left), space),
           _arr("int32_t", f"{p}_root", np.asarray(roots), space),
           _arr("double", f"{p}_leaf", vals, space, "{!r}"),
           _arr("double", f"{p}_base", base, space, "{!r}")]
    post = node.attr("post_transform", "NONE")
    average = node.attr("aggregate_function", "SUM") == "AVERAGE"
    classifier = node.op == "TreeEnsembleClassifier"
    width = 2 if (classifier and post == "LOGISTIC") else k
    tie = int(node.attr("binary_tie_class", 0))
    label_code = ""
    if classifier and post == "LOGISTIC":
        label_code = (f"    label[r] = (acc[0] > 0.0 || (acc[0] == 0.0 && {tie})) ? 1 : 0;\n"
                      "    { double q = 1.0 / (1.0 + exp(-acc[0]));\n"
                      "      scores[2 * (size_t)r] = (float)(1.0 - q); scores[2 * (size_t)r + 1] = (float)q; }\n")
    elif classifier:
        label_code = (f"    int best = 0;\n    for (int c = 1; c < {k}; ++c) if (acc[c] > acc[best]) best = c;\n"
                      "    label[r] = best;\n")
        if post == "SOFTMAX":
            label_code += (f"    double s = 0.0;\n    for (int c = 0; c < {k}; ++c) s += exp(acc[c] - acc[best]);\n"
                           f"    for (int c = 0; c < {k}; ++c) scores[(size_t)r * {k} + c] = "
                           "(float)(exp(acc[c] - acc[best]) / s);\n")
        else:
            label_code += f"    for (int c = 0; c < {k}; ++c) scores[(size_t)r * {k} + c] = (float)acc[c];\n"
    else:
        label_code = f"    for (int c = 0; c < {k}; ++c) scores[(size_t)r * {k} + c] = (float)acc[c];\n"
    src.append(f"""
__global__ void {p}_kernel(const float *__restrict__ x, int n, int32_t *label, float *scores)
{{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    const float *row = x + (size_t)r * {node_features(node)};
    double acc[{k}];
    for (int c = 0; c < {k}; ++c) acc[c] = {p}_base[c];
    for (int t = 0; t < {len(trees)}; ++t) {{   /* tree order: scikit-learn's summation order */
        int i = {p}_root[t];
        while ({p}_left[i] >= 0)
            i = {p}_left[i] + (row[{p}_feature[i]] <= {p}_threshold[i] ? 0 : 1);
        const double *v = {p}_leaf + (size_t)(-{p}_left[i] - 1) * {k};
        for (int c = 0; c < {k}; ++c) acc[c] += v[c];
    }}
{"".join(f"    for (int c = 0; c < {k}; ++c) acc[c] /= {len(trees)}.0;" + chr(10) if average else "")}{label_code}}}
""")
    return "".join(src), width


def node_features(node: Node) -> int:
    return int(np.asarray(node.attr("nodes_featureids")).max()) + 1 if len(node.attr("nodes_featureids")) else 1


def mlp_source(graph: Graph, node: Node, p: str) -> tuple[str, int]:
    params = [graph.tensors[n].data for n in node.inputs[1:]]
    ws, bs = params[0::2], params[1::2]
    widths = [w.shape[0] for w in ws]
    n_in = ws[0].shape[1]
    wmax = max([n_in, *widths])
    src = []
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        src.append(_arr("double", f"{p}_w{i}", w.astype(np.float64), "__device__ const", "{!r}"))
        src.append(_arr("double", f"{p}_b{i}", b.astype(np.float64), "__device__ const", "{!r}"))
    act = {"relu": "v > 0.0 ? v : 0.0", "tanh": "tanh(v)", "logistic": "1.0 / (1.0 + exp(-v))", "identity": "v"}
    hidden = act[node.attr("activation", "relu")]
    out_act = node.attr("out_activation", "identity")
    layers = []
    for i, w in enumerate(ws):
        last = i == len(ws) - 1
        f = act.get(out_act, "v") if (last and out_act != "softmax") else (hidden if not last else "v")
        layers.append(f"""    for (int o = 0; o < {w.shape[0]}; ++o) {{
        double v = {p}_b{i}[o];
        for (int j = 0; j < {w.shape[1]}; ++j) v += {p}_w{i}[o * {w.shape[1]} + j] * a[j];
        b[o] = {f};
    }}
    for (int o = 0; o < {w.shape[0]}; ++o) a[o] = b[o];
""")
    k = widths[-1]
    classifier = node.attr("task", "classifier") == "classifier"
    if classifier and k == 1:
        tail = ("    label[r] = a[0] > 0.5 ? 1 : 0;\n"
                "    scores[2 * (size_t)r] = (float)(1.0 - a[0]); scores[2 * (size_t)r + 1] = (float)a[0];\n")
        width = 2
    else:
        tail = ""
        if out_act == "softmax":
            tail += (f"    double m = a[0];\n    for (int c = 1; c < {k}; ++c) m = a[c] > m ? a[c] : m;\n"
                     f"    double s = 0.0;\n    for (int c = 0; c < {k}; ++c) {{ a[c] = exp(a[c] - m); s += a[c]; }}\n"
                     f"    for (int c = 0; c < {k}; ++c) a[c] /= s;\n")
        if classifier:
            tail += (f"    int best = 0;\n    for (int c = 1; c < {k}; ++c) if (a[c] > a[best]) best = c;\n"
                     "    label[r] = best;\n")
        tail += f"    for (int c = 0; c < {k}; ++c) scores[(size_t)r * {k} + c] = (float)a[c];\n"
        width = k
    src.append(f"""
__global__ void {p}_kernel(const float *__restrict__ x, int n, int32_t *label, float *scores)
{{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    double a[{wmax}], b[{wmax}];   /* fixed size, per thread: no allocation in the kernel */
    for (int j = 0; j < {n_in}; ++j) a[j] = (double)x[(size_t)r * {n_in} + j];
{"".join(layers)}{tail}}}
""")
    return "".join(src), width


def generate(graph: Graph, name: str) -> tuple[str, str, dict]:
    """(.cu source, .h header, info) for a graph of one tree ensemble or one MLP node."""
    ops = [n for n in graph.nodes]
    if len(ops) != 1 or ops[0].op not in ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "MLP"):
        raise UnsupportedModelError(
            f"the CUDA C backend generates kernels for one tree ensemble or one MLP; this graph has "
            f"{', '.join(n.op for n in ops)} (use backend='torch' or 'onnxruntime' for it)")
    node = ops[0]
    n_in = int(graph.tensors[graph.inputs[0]].shape[1])
    body, width = (mlp_source(graph, node, name) if node.op == "MLP" else tree_source(node, name))
    header = f"""/* {name}: generated CUDA C model (host API). */
#ifndef {name.upper()}_CUDA_H
#define {name.upper()}_CUDA_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {{
#endif
#define {name.upper()}_N_FEATURES {n_in}
#define {name.upper()}_N_SCORES {width}
/* x: n rows of {n_in} floats (host memory); label: n int32 (may be NULL for a regressor);
   scores: n * {width} floats. Returns 0, or the CUDA error code. */
int {name}_predict(const float *x, int n, int32_t *label, float *scores);
#ifdef __cplusplus
}}
#endif
#endif
"""
    src = f"""/* {name}: generated CUDA C model. One thread per row; see {name}.h for the API. */
#include <stdint.h>
#include <math.h>
#include <cuda_runtime.h>
#include "{name}.h"

{body}
extern "C" int {name}_predict(const float *x, int n, int32_t *label, float *scores)
{{
    float *dx = 0; int32_t *dl = 0; float *ds = 0;
    cudaError_t e;
    if (n <= 0) return 0;
    if ((e = cudaMalloc((void **)&dx, sizeof(float) * (size_t)n * {n_in})) != cudaSuccess) goto done;
    if ((e = cudaMalloc((void **)&dl, sizeof(int32_t) * (size_t)n)) != cudaSuccess) goto done;
    if ((e = cudaMalloc((void **)&ds, sizeof(float) * (size_t)n * {width})) != cudaSuccess) goto done;
    if ((e = cudaMemcpy(dx, x, sizeof(float) * (size_t)n * {n_in}, cudaMemcpyHostToDevice)) != cudaSuccess) goto done;
    {name}_kernel<<<(n + {THREADS - 1}) / {THREADS}, {THREADS}>>>(dx, n, dl, ds);
    if ((e = cudaGetLastError()) != cudaSuccess) goto done;
    if (label && (e = cudaMemcpy(label, dl, sizeof(int32_t) * (size_t)n, cudaMemcpyDeviceToHost)) != cudaSuccess)
        goto done;
    e = cudaMemcpy(scores, ds, sizeof(float) * (size_t)n * {width}, cudaMemcpyDeviceToHost);
done:
    cudaFree(dx); cudaFree(dl); cudaFree(ds);
    return (int)e;
}}
"""
    return src, header, {"op": node.op, "n_features": n_in, "n_scores": width}
