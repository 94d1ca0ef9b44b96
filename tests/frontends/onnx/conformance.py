"""ONNX backend node tests through edgeinfer: IR reference vs ONNX's expected outputs, generated C vs IR.

The cases come from ONNX's own generators (``onnx.backend.test.case.node``), collected
once and cached in ``$EDGEINFER_CACHE``. A case counts for an op when that op is in its
model; inputs that ONNX passes as parameters (axes, pads, shape...) are baked in as
initializers, since edgeinfer needs them constant. Run as a script to rewrite the table
in ``docs/onnx_conformance.md``::

    python tests/frontends/onnx/conformance.py
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: ops edgeinfer claims; the table reports each.
OPS = ["Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Relu", "LeakyRelu", "Clip",
       "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Softmax", "LogSoftmax", "MaxPool", "AveragePool",
       "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization", "Flatten", "Reshape", "Transpose", "Concat",
       "Pad", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Constant", "Shape", "Resize", "ReduceMean",
       "ReduceMax", "ReduceSum", "Split", "Slice", "Gather", "Exp", "Sqrt", "Erf"]
MAX_OPSET = 21

#: what edgeinfer refuses on purpose, by the words of its refusal: a case refused for one of these is
#: outside the claim (counted apart); any other skip or failure breaks the claim.
NARROWED = {
    "element type UINT64": "uint64 tensors",
    "empty tensors": "empty tensors (a dimension of size 0)",
    "training-mode BatchNormalization": "training mode (several outputs)",
    "has no shape": "optional and sequence values",
    "the model has no inputs": "models without inputs (every output constant)",
}

#: the claim per op where it is narrower than "every ONNX case"
CLAIMS = {
    "Add": "all but uint64", "Sub": "all but uint64", "Mul": "all but uint64", "Div": "all but uint64",
    "Pow": "all but uint64", "BatchNormalization": "inference mode", "Identity": "tensors (not optional/sequence)",
    "Constant": "inside a graph with inputs (folded)", "ReduceMax": "non-empty inputs", "ReduceSum": "non-empty inputs",
    "Reshape": "non-empty tensors", "Shape": "non-empty results", "Slice": "non-empty results",
    "Split": "non-empty parts",
}


def narrowed(why: str) -> str | None:
    """The documented narrowing a skip reason names, else None."""
    return next((v for k, v in NARROWED.items() if k in why), None)
RTOL = 1e-4


def _cache_file() -> Path:
    d = Path(os.environ.get("EDGEINFER_CACHE", Path(tempfile.gettempdir()) / "edgeinfer-test-cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d / "onnx_node_cases.pkl"


def load_cases() -> list[dict]:
    """Every ONNX node test case of a claimed op: name, model bytes, data sets (cached)."""
    path = _cache_file()
    if path.exists():
        return pickle.loads(path.read_bytes())
    from onnx.backend.test.case.node import collect_testcases

    out = []
    for c in collect_testcases(None):
        ops = {n.op_type for n in c.model.graph.node}
        if not ops & set(OPS):
            continue
        out.append({"name": c.name, "model": c.model.SerializeToString(), "data": c.data_sets,
                    "ops": sorted(ops)})
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(out))
    os.replace(tmp, path)
    return out


_ALIASES = {"batchnorm": "BatchNormalization", "reducemax": "ReduceMax", "reducemean": "ReduceMean",
            "reducesum": "ReduceSum", "constantpad": "Pad", "edgepad": "Pad", "reflectpad": "Pad", "wrappad": "Pad",
            "basicconv": "Conv"}


def case_op(case: dict) -> str | None:
    """The claimed op a case tests (named by the test and present in its model), else None."""
    name = case["name"].removeprefix("test_").replace("_", "").lower()
    names = {op.lower(): op for op in OPS} | _ALIASES
    for key in sorted(names, key=len, reverse=True):
        if name.startswith(key) and names[key] in case["ops"]:
            return names[key]
    return None


def _retarget_opset(model) -> bool:
    """Re-stamp a newer model as opset MAX_OPSET when ONNX's checker accepts it there (the changes
    after opset 21 to the claimed ops only add element types)."""
    from onnx import defs

    opset = next(o for o in model.opset_import if o.domain in ("", "ai.onnx"))
    for node in model.graph.node:
        try:
            defs.get_schema(node.op_type, MAX_OPSET)
        except Exception:
            return False
    import onnx

    old = opset.version
    opset.version = MAX_OPSET
    model.ir_version = min(model.ir_version, 10)
    try:
        onnx.checker.check_model(model)
    except Exception:
        opset.version = old
        return False
    return True


def batch_as_one_sample(graph):
    """A graph computing the same, whose inputs and outputs carry an extra leading dimension of 1.

    The C backend computes one sample per call; node tests have fixed leading sizes,
    so the whole tensor is passed as one sample instead.
    """
    import numpy as np

    g = graph.copy()
    nodes = []
    for i, name in enumerate(list(g.inputs)):
        t = g.tensors[name]
        outer = g.fresh_name(name + "_sample")
        g.add_input(outer, (1, *t.shape), t.dtype)
        g.inputs.remove(outer)
        g.inputs[i] = outer
        shape = g.add_const(name + "_shape", np.asarray(t.shape, dtype=np.int64))
        nodes.append(g.add_node("Reshape", [outer, shape], [name], name=f"unwrap_{i}"))
    g.nodes = nodes + [n for n in g.nodes if n not in nodes]
    for i, name in enumerate(list(g.outputs)):
        t = g.tensors[name]
        outer = g.fresh_name(name + "_sample")
        shape = g.add_const(name + "_oshape", np.asarray((1, *t.shape), dtype=np.int64))
        g.add_node("Reshape", [name, shape], [outer], name=f"wrap_{i}")
        g.outputs[i] = outer
    return g.validate()


def _bake_params(model, feeds: dict[str, np.ndarray]):
    """Turn inputs fed into parameter slots (axes, pads, shape...) and weights into initializers,
    as they are in trained models."""
    from onnx import numpy_helper

    from edgeinfer.frontends.onnx import PARAM_INPUTS

    weights = {"Conv": [1, 2], "ConvTranspose": [1, 2], "Gemm": [2], "BatchNormalization": [1, 2, 3, 4]}
    slots = {n.input[i] for n in model.graph.node for i in PARAM_INPUTS.get(n.op_type, []) + weights.get(n.op_type, [])
             if i < len(n.input)}
    for vi in list(model.graph.input):
        if vi.name in slots and vi.name in feeds:
            model.graph.initializer.append(numpy_helper.from_array(feeds[vi.name], vi.name))
            model.graph.input.remove(vi)
    return model


def run_case(case: dict) -> tuple[str, str]:
    """('pass' | 'fail' | 'skip', why) for one case."""
    import onnx
    from onnx_c import run_c

    from edgeinfer.errors import UnsupportedModelError
    from edgeinfer.frontends.onnx import from_onnx
    from edgeinfer.ir.reference import run

    model = onnx.load_from_string(case["model"])
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset > MAX_OPSET and not _retarget_opset(model):
        return "skip", f"opset {opset}: not valid at opset {MAX_OPSET}"
    inputs, expected = case["data"][0]
    names = [vi.name for vi in model.graph.input if vi.name not in {t.name for t in model.graph.initializer}]
    feeds = dict(zip(names, inputs, strict=False))
    model = _bake_params(model, feeds)
    try:
        g = from_onnx(model)
    except UnsupportedModelError as e:
        return "skip", "import: " + str(e).splitlines()[-1].strip(" -")[:120]
    xs = [feeds[n] for n in g.inputs]
    if any(np.asarray(x).dtype.kind not in "fiub" for x in xs):
        return "skip", "non-numeric input"
    ref = run(g, {n: feeds[n] for n in g.inputs})
    for name, want in zip(g.outputs, expected, strict=False):
        got = ref[name]
        if got.shape != np.asarray(want).shape or not np.allclose(got, want, rtol=1e-3, atol=1e-5, equal_nan=True):
            return "fail", f"IR reference differs from ONNX on {name}"
    out_names = list(g.outputs)
    if any(g.tensors[n].shape and g.tensors[n].shape[0] not in (None, 1) for n in g.inputs):
        g, xs = batch_as_one_sample(g), [np.asarray(x)[None] for x in xs]
    try:
        outs = run_c(g, xs, name="m")
    except UnsupportedModelError as e:
        return "skip", "C: " + str(e)[:120]
    for name, got in zip(out_names, outs, strict=True):
        want = ref[name]
        if not np.allclose(got.reshape(want.shape), want, rtol=RTOL, atol=1e-5, equal_nan=True):
            return "fail", f"generated C differs from the IR reference on {name}"
    return "pass", ""


def table(results: dict[str, tuple[str, str, str]]) -> str:
    by_op: dict[str, Counter] = {}
    for _, (op, status, why) in results.items():
        key = "outside" if status == "skip" and narrowed(why) else status
        by_op.setdefault(op, Counter())[key] += 1
    lines = ["| op | supported | cases | pass | fail | skip | outside the claim |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for op in OPS:
        c = by_op.get(op, Counter())
        lines.append(f"| {op} | {CLAIMS.get(op, 'all')} | {sum(c.values())} | {c['pass']} | {c['fail']} | {c['skip']} "
                     f"| {c['outside']} |")
    tot = sum((c for c in by_op.values()), Counter())
    lines.append(f"| **total** | | {sum(tot.values())} | {tot['pass']} | {tot['fail']} | {tot['skip']} "
                 f"| {tot['outside']} |")
    notes = ["", "Cases outside the claim (refused by the frontend with the message shown), skipped or failed:", ""]
    for name, (op, status, why) in sorted(results.items()):
        if status != "pass":
            label = "outside the claim" if status == "skip" and narrowed(why) else status
            notes.append(f"* `{name}` ({op}): {label}: {why}")
    return "\n".join(lines + notes)


def main() -> None:
    results = {}
    for case in load_cases():
        if case_op(case) is None:
            continue
        try:
            status, why = run_case(case)
        except Exception as e:  # the table must list every failure, whatever it is
            status, why = "fail", f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
        results[case["name"]] = (case_op(case), status, why)
        print(case["name"], status, why, flush=True)
    text = table(results)
    doc = HERE.parents[2] / "docs" / "onnx_conformance.md"
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(
        "# ONNX node-test conformance\n\n"
        "ONNX's backend node tests (from `onnx.backend.test.case.node`, opset <= 21) of every op the ONNX\n"
        "frontend claims. A case passes when the IR reference matches ONNX's expected outputs and the\n"
        "generated C (compiled with -Werror) matches the IR reference (rtol 1e-4). Parameter inputs (axes,\n"
        "pads, shapes...) are given as constants. The \"supported\" column is the claim; a case outside it is\n"
        "one the frontend refuses on purpose, naming what it refuses (uint64 tensors, empty tensors, training-\n"
        "mode BatchNormalization, optional/sequence values, graphs without inputs). Every case inside the claim\n"
        "must pass. Regenerate with `python tests/frontends/onnx/conformance.py`.\n\n"
        + text + "\n")
    print(text.split("\n\n")[0])


if __name__ == "__main__":
    main()
