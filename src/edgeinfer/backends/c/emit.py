"""Generate ``<name>.h`` and ``<name>.c`` from a Graph.

The C follows one pattern whatever the model: constant tables (``static const``, so in
flash), one statically sized arena for every intermediate tensor (offsets from the
memory planner), and one function ``<name>_infer`` computing every graph output for
one sample. Task wrappers sit on top: ``<name>_predict`` / ``<name>_predict_proba``
for classifiers, ``<name>_regress`` for regressors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgeinfer.backends.c.context import EmitContext, ctype
from edgeinfer.backends.c.registry import get_emitter
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir.graph import Graph

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels"
# Kernel modules that only C generated for the optimised kernel set calls (ei_opt_* entry points,
# with weight / requantization layouts and arena scratch of their own) live beside the twins.
OPT_KERNEL_DIR = KERNEL_DIR / "opt"
#: kernel sets the C generation knows; "optimized" emits the layouts of backends/kernels/opt
KERNEL_SETS = ("reference", "optimized")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class CSources:
    """The generated artifact: file name -> text, plus what the footprint needs."""

    name: str
    files: dict[str, str] = field(default_factory=dict)
    arena_bytes: int = 0
    const_bytes: int = 0
    kernels: list[str] = field(default_factory=list)
    signature: dict = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for fname, text in self.files.items():
            p = out / fname
            p.write_text(text)
            paths.append(p)
        return paths


def check_name(name: str) -> str:
    if not _IDENT.match(name):
        raise EdgeInferError(f"model name {name!r} is not a C identifier; use letters, digits and _")
    return name


def kernel_set(options: dict | None) -> str:
    """The kernel set the C is generated for (``options["kernels"]``, default ``"reference"``)."""
    k = (options or {}).get("kernels", "reference")
    if k not in KERNEL_SETS:
        raise EdgeInferError(f"kernels={k!r} is not a kernel set of the C backend; use one of {', '.join(KERNEL_SETS)}")
    return k


def _plan(graph: Graph, kernels: str = "reference") -> int:
    from edgeinfer.backends.c.ops.nn import conv_accumulate_ok, conv_alias_ok, conv_scratch_bytes
    from edgeinfer.backends.c.ops.quantized import opt_scratch_bytes
    from edgeinfer.passes.memory import plan_memory

    # a graph planned for the reference kernels lacks the optimised kernels' scratch: plan again
    if all(graph.tensors[o].offset is not None for n in graph.nodes for o in n.outputs
           if o not in graph.outputs) and "arena_bytes" in graph.metadata and kernels == "reference":
        return int(graph.metadata["arena_bytes"])

    def scratch(g: Graph, node, inplace: bool) -> int:
        return conv_scratch_bytes(g, node, inplace) or (opt_scratch_bytes(g, node) if kernels == "optimized" else 0)

    planned = plan_memory(graph, alias_ok=conv_alias_ok, scratch=scratch, accumulate=conv_accumulate_ok)
    graph.tensors.update(planned.tensors)
    keys = ("arena_bytes", "arena_naive_bytes", "inplace_nodes", "scratch", "accumulate")
    graph.metadata.update({k: planned.metadata[k] for k in keys})
    return int(graph.metadata["arena_bytes"])


def generate(graph: Graph, name: str, options: dict | None = None) -> CSources:
    """Generate the C artifact for ``graph``; the graph is validated, then left unchanged.

    >>> # src = generate(graph, "gesture"); src.files["gesture.c"]
    """
    check_name(name)
    graph = graph.copy()
    graph.validate()
    for t in graph.inputs:
        if graph.tensors[t].shape[0] not in (None, 1):
            raise EdgeInferError(f"input {t!r} has batch size {graph.tensors[t].shape[0]}; "
                                 "the C backend computes one sample per call (batch 1 or symbolic)")
    options = dict(options or {})
    options["kernels"] = kernel_set(options)
    arena = _plan(graph, options["kernels"])
    ctx = EmitContext(graph, name, options)
    params = []
    for i, t in enumerate(graph.inputs):
        cname = "input" if len(graph.inputs) == 1 else f"input{i}"
        ctx.io_names[t] = cname
        params.append(f"const {ctype(graph.tensors[t].dtype)} *{cname}")
    for i, t in enumerate(graph.outputs):
        cname = f"out{i}"
        if t in ctx.io_names:
            raise EdgeInferError(f"tensor {t!r} is both an input and an output")
        ctx.io_names[t] = cname
        params.append(f"{ctype(graph.tensors[t].dtype)} *{cname}")

    body: list[str] = []
    for node in graph.nodes:
        code = get_emitter(node.op)(ctx, node)
        body.append("  " + ctx.node_comment(node))
        body.append("  {\n" + _indent(code.strip("\n"), 4) + "\n  }")

    up = name.upper()
    md = graph.metadata
    sig = {"inputs": [(t, graph.tensors[t].dtype, ctx.numel(t)) for t in graph.inputs],
           "outputs": [(t, graph.tensors[t].dtype, ctx.numel(t)) for t in graph.outputs],
           "params": params}
    task = md.get("task")
    if ctx.label_fn and task != "classification":
        # a label-only entry point is only called by <name>_predict, which only classifiers have
        # (an ONNX-ML classifier arrives without that task); an unused static fails -Werror
        ctx.helpers.pop(ctx.label_fn, None)
        ctx.label_fn = None
    h = [f"/* {name}.h: generated by edgeinfer from model {graph.name!r}. */",
         f"#ifndef {up}_H", f"#define {up}_H", "", "#include <stdint.h>", "",
         "#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
    n_in = ctx.numel(graph.inputs[0])
    h.append(f"#define {up}_N_FEATURES {n_in}")
    h.append(f"#define {up}_ARENA_BYTES {arena}")
    for i, t in enumerate(graph.outputs):
        h.append(f"#define {up}_OUTPUT{i}_SIZE {ctx.numel(t)}")
    wrappers: list[str] = []
    if task == "classification":
        k = len(md["classes"])
        h.append(f"#define {up}_N_CLASSES {k}")
        classes = ", ".join(str(c) for c in md["classes"])
        h.append(f"/* class index -> label: {classes[:400]}{' ...' if len(classes) > 400 else ''} */")
        scores_t = graph.outputs[1]
        # fixed-point models take integer features and give integer scores: the wrappers follow the graph
        x_c, s_c = ctype(graph.tensors[graph.inputs[0]].dtype), ctype(graph.tensors[scores_t].dtype)
        h += ["", f"/* Class index (0..{up}_N_CLASSES-1) of one sample of {up}_N_FEATURES features. */",
              f"int32_t {name}_predict(const {x_c} *x);"]
        h += [f"/* {'Class probabilities' if md.get('has_proba') else 'Decision scores'} "
              f"({ctx.numel(scores_t)} values). */",
              f"void {name}_predict_proba(const {x_c} *x, {s_c} *out);"]
        if ctx.label_fn:
            wrappers += [f"int32_t {name}_predict(const {x_c} *x)", "{", f"  return {ctx.label_fn}(x);", "}", ""]
        else:
            wrappers += [
                f"int32_t {name}_predict(const {x_c} *x)", "{",
                "  int32_t label;", f"  {s_c} scores[{ctx.numel(scores_t)}];",
                f"  {name}_infer(x, &label, scores);", "  return label;", "}", ""]
        wrappers += [
            f"void {name}_predict_proba(const {x_c} *x, {s_c} *out)", "{",
            "  int32_t label;", f"  {name}_infer(x, &label, out);", "}", ""]
    elif task == "regression":
        n_out = ctx.numel(graph.outputs[0])
        # a fixed-point regressor takes integer features and gives int32 values: the wrapper follows the graph
        x_c, y_c = ctype(graph.tensors[graph.inputs[0]].dtype), ctype(graph.tensors[graph.outputs[0]].dtype)
        h += ["", "/* Predicted value of one sample (first target). */",
              f"{y_c} {name}_regress(const {x_c} *x);"]
        wrappers += [f"{y_c} {name}_regress(const {x_c} *x)", "{",
                     f"  {y_c} y[{n_out}];", f"  {name}_infer(x, y);", "  return y[0];", "}", ""]
    h += ["", "/* Every graph output for one sample; arrays sized by the _SIZE macros. */",
          f"void {name}_infer({', '.join(params)});", "",
          "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {up}_H */", ""]

    c = [f"/* {name}.c: generated by edgeinfer from model {graph.name!r}. C99, no heap. */",
         "#include <stdint.h>", "#include <string.h>", "#include <math.h>",
         f'#include "{name}.h"']
    headers = kernel_headers(ctx.kernels)
    c += [f'#include "{hdr}"' for hdr in headers if hdr.endswith(".h")]
    c.append("")
    c += ctx.consts
    c.append("")
    if arena > 0:
        c.append(f"/* The one arena: every intermediate tensor lives here (planned: {arena} bytes). */")
        c.append(f"static union {{ double align_; uint8_t b[{arena}]; }} {name}_arena;")
    c.append("")
    c += list(ctx.helpers.values())
    c.append("")
    c.append(f"void {name}_infer({', '.join(params)})")
    c.append("{")
    c += body
    c.append("}")
    c.append("")
    c += wrappers
    files = {f"{name}.h": "\n".join(h), f"{name}.c": "\n".join(c)}
    if ctx.kernels:
        for hdr in headers:
            files[hdr] = kernel_path(hdr).read_text()
        for k in sorted(ctx.kernels):
            files[f"{k}.c"] = kernel_path(f"{k}.c").read_text()
    return CSources(name=name, files=files, arena_bytes=arena, const_bytes=ctx.const_bytes,
                    kernels=sorted(ctx.kernels), signature=sig)


def kernel_path(fname: str) -> Path:
    """A kernel library file: ``backends/kernels/<fname>``, else the optimised set's own modules
    (``backends/kernels/opt``: ``ei_opt_*.c`` and the headers they include)."""
    p = KERNEL_DIR / fname
    return p if p.is_file() else OPT_KERNEL_DIR / fname


def kernel_headers(kernels: set[str]) -> list[str]:
    """The kernel library headers (``ei_*.h``) that the used kernel sources include, transitively, and
    the shared kernel bodies (``ei_*.inc``, static functions that only kernel sources include)."""
    found: set[str] = set()
    todo = [f"{k}.c" for k in kernels]
    while todo:
        for hdr in re.findall(r'#include "(ei_\w+\.(?:h|inc))"', kernel_path(todo.pop()).read_text()):
            if hdr not in found:
                found.add(hdr)
                todo.append(hdr)
    return sorted(found)


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else line for line in text.split("\n"))
