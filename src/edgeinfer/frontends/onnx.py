"""ONNX frontend: a ModelProto (or .onnx file) to an ``ir.Graph``, opsets 7 to 21.

IR ops carry ONNX's names and semantics, so most nodes map one to one. What differs is
only where ONNX passes parameters as constant inputs (axes, pads, starts...): the
frontend reads those constants into attributes. Nodes whose inputs are all constant
(``Shape`` of a static tensor and everything computed from it) are evaluated at import
with ONNX's own reference evaluator, so shape subgraphs vanish from the IR. Every node
the IR cannot take is collected, and one error lists them all.

>>> # g = from_onnx("kws.onnx"); g.summary()
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from edgeinfer.errors import EdgeInferError, GraphError, ModelFileError, UnsupportedModelError
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node
from edgeinfer.ir.registry import get_op

MIN_OPSET, MAX_OPSET = 7, 21

#: ONNX ops passed through with the same inputs and attributes.
DIRECT = {"Relu", "Sigmoid", "Tanh", "Exp", "Sqrt", "Erf", "LeakyRelu", "HardSigmoid", "HardSwish",
          "Add", "Sub", "Mul", "Div", "Pow", "MatMul", "Gemm", "Conv", "ConvTranspose",
          "GlobalAveragePool", "GlobalMaxPool", "AveragePool", "Flatten", "Transpose", "Concat",
          "Gather", "Identity", "Reshape"}

#: inputs (by position) that hold parameters, not data: they must be constant.
PARAM_INPUTS = {"Reshape": [1], "Squeeze": [1], "Unsqueeze": [1], "Split": [1], "Slice": [1, 2, 3, 4],
                "Pad": [1, 2, 3], "ReduceMean": [1], "ReduceMax": [1], "ReduceSum": [1], "Clip": [1, 2],
                "Resize": [1, 2, 3]}

#: attributes that only matter for training or for other dtypes, dropped on import.
_DROP_ATTRS = {"momentum", "spatial", "training_mode", "consumed_inputs"}


class _Importer:
    def __init__(self, model: Any) -> None:
        import onnx

        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        if self.opset is None:
            raise UnsupportedModelError("the model imports no default-domain (ai.onnx) opset")
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            raise UnsupportedModelError(f"opset {self.opset} is outside the supported range "
                                        f"{MIN_OPSET}..{MAX_OPSET}; convert it with "
                                        "onnx.version_converter.convert_version(model, 21)")
        gp = model.graph
        self.g = Graph(gp.name or "onnx_model")
        self.onnx = onnx
        self.unsupported: list[str] = []
        self.broken: set[str] = set()

    # ------------------------------------------------------------ helpers
    def const(self, name: str) -> np.ndarray | None:
        return self.g.const(name) if name else None

    def attrs(self, node: Any) -> dict[str, Any]:
        out = {}
        for a in node.attribute:
            v = self.onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [s.decode() for s in v]
            elif isinstance(v, self.onnx.TensorProto):
                v = self.onnx.numpy_helper.to_array(v)
            out[a.name] = v
        return out

    def param(self, node: Any, i: int, what: str) -> np.ndarray | None:
        """Constant input ``i`` (None when omitted); a non-constant one is refused."""
        if i >= len(node.input) or not node.input[i]:
            return None
        v = self.const(node.input[i])
        if v is None:
            raise UnsupportedModelError(f"{node.op_type} node {node.name!r}: its {what} (input {i}, "
                                        f"{node.input[i]!r}) must be a constant (an initializer or computed "
                                        "from static shapes)")
        return v

    def shape(self, name: str) -> tuple:
        return self.g.tensors[name].shape

    def add(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs: Any) -> Node:
        while inputs and not inputs[-1]:
            inputs = inputs[:-1]
        node = self.g.add_node(op, inputs, outputs, name=self.unique_node_name(name), **attrs)
        ins = [self.g.tensors[i] if i else None for i in node.inputs]
        for o, (shape, dtype) in zip(node.outputs, get_op(op).infer(node, ins), strict=True):
            self.g.tensors[o].shape, self.g.tensors[o].dtype = tuple(shape), str(dtype)
        return node

    def unique_node_name(self, name: str) -> str:
        taken = {n.name for n in self.g.nodes}
        base, i = name, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        return name

    def tmp(self, base: str) -> str:
        """A tensor name not used yet (add() creates the tensor)."""
        return self.g.fresh_name(base)

    def set_const(self, name: str, value: np.ndarray) -> None:
        arr = np.asarray(value)
        if str(arr.dtype) == "object" or arr.dtype.kind in "USO":
            raise UnsupportedModelError(f"constant {name!r} holds strings; only numeric tensors are supported")
        from edgeinfer.ir.tensor import Tensor

        self.g.tensors[name] = Tensor(name, tuple(arr.shape), str(arr.dtype), data=arr)

    # ------------------------------------------------------------ import
    def run(self) -> Graph:
        onnx = self.onnx
        gp = self.model.graph
        inits = {t.name for t in gp.initializer}
        for t in gp.initializer:
            self.set_const(t.name, onnx.numpy_helper.to_array(t))
        has_shape_ops = any(n.op_type in ("Shape", "Size") for n in gp.node)
        for vi in gp.input:
            if vi.name in inits:
                continue
            self.g.add_input(vi.name, self._input_shape(vi, fix_batch=has_shape_ops), self._dtype(vi))
        if not self.g.inputs:
            raise UnsupportedModelError("the model has no inputs: every output is a constant, nothing to compute")
        for node in gp.node:
            self._node(node)
        if self.unsupported:
            raise UnsupportedModelError(
                f"the model has {len(self.unsupported)} node(s) edgeinfer cannot import:\n  - "
                + "\n  - ".join(self.unsupported))
        for vo in gp.output:
            name = vo.name
            if name not in self.g.tensors:
                raise GraphError(f"graph output {name!r} is never produced")
            if self.g.tensors[name].is_const or name in self.g.inputs:
                src = name
                if self.g.tensors[name].is_const:
                    src = self.g.add_const(name + "_value", self.g.tensors.pop(name).data)
                self.add("Identity", [src], [name], f"output_{name}")
            self.g.outputs.append(name)
        self._refuse_empty()
        return self.g

    def _refuse_empty(self) -> None:
        """Refuse tensors with a dimension of 0: they hold nothing, so a device has nothing to compute or
        store for them, and the generated C would declare zero-sized arrays (not valid C99)."""
        for name, t in self.g.tensors.items():
            if t.shape and any(d == 0 for d in t.shape) and (not t.is_const or name in self.g.outputs):
                raise UnsupportedModelError(f"tensor {name!r} has shape {list(t.shape)}: empty tensors (a dimension "
                                            "of size 0) are not supported")

    def _dtype(self, vi: Any) -> str:
        et = vi.type.tensor_type.elem_type
        try:
            dt = str(np.dtype(self.onnx.helper.tensor_dtype_to_np_dtype(et)))
        except Exception:
            dt = "?"
        from edgeinfer.ir.tensor import DTYPES

        if dt not in DTYPES:
            raise UnsupportedModelError(f"input {vi.name!r} has element type "
                                        f"{self.onnx.TensorProto.DataType.Name(et)}, which is not supported")
        return dt

    def _input_shape(self, vi: Any, fix_batch: bool) -> tuple:
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            raise UnsupportedModelError(f"input {vi.name!r} has no shape; export the model with a fixed input shape")
        dims: list[int | None] = []
        for i, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif i == 0:
                dims.append(1 if fix_batch else None)  # symbolic batch
            else:
                raise UnsupportedModelError(
                    f"input {vi.name!r} dimension {i} is symbolic ({d.dim_param or '?'}); only the batch "
                    "dimension may be: fix the others when exporting")
        return tuple(dims)

    def _node(self, node: Any) -> None:
        label = f"{node.op_type} (node {node.name or node.output[0]!r})"
        if node.domain == "ai.onnx.ml" and node.op_type in ML_CONVERTERS:
            try:
                ML_CONVERTERS[node.op_type](self, node)
            except EdgeInferError as e:
                self.unsupported.append(f"{label}: {e}")
                self.broken.update(node.output)
            return
        if node.domain not in ("", "ai.onnx"):
            self.unsupported.append(f"{label}: domain {node.domain!r} is not supported")
            self.broken.update(node.output)
            return
        if any(i in self.broken for i in node.input if i):
            # an upstream node failed: still report whether this op type is known
            if node.op_type not in CONVERTERS and node.op_type not in DIRECT:
                self.unsupported.append(f"{label}: op type not supported")
            self.broken.update(node.output)
            return
        try:
            if self._fold(node):
                return
            conv = CONVERTERS.get(node.op_type)
            if conv is None and node.op_type in DIRECT:
                conv = _direct
            if conv is None:
                raise UnsupportedModelError("op type not supported")
            conv(self, node)
        except EdgeInferError as e:
            msg = str(e)
            self.unsupported.append(label + ": " + msg if not msg.startswith(node.op_type) else msg)
            self.broken.update(node.output)

    def _fold(self, node: Any) -> bool:
        """Evaluate a node whose inputs are all known now (constants, static shapes)."""
        if node.op_type in ("Shape", "Size"):
            src = self.g.tensors.get(node.input[0])
            if src is None or src.shape is None or None in src.shape:
                raise UnsupportedModelError(f"{node.op_type} of a tensor with a symbolic dimension")
            shp = np.asarray(src.shape, dtype=np.int64)
            if node.op_type == "Size":
                self.set_const(node.output[0], np.asarray(np.prod(shp), dtype=np.int64))
            else:
                a = self.attrs(node)
                self.set_const(node.output[0], shp[a.get("start", 0):a.get("end", len(shp))])
            return True
        ins = [i for i in node.input if i]
        if node.op_type == "Constant":
            self.set_const(node.output[0], _constant_value(self.attrs(node), node))
            return True
        if not ins or not all(self.g.tensors.get(i) is not None and self.g.tensors[i].is_const for i in ins):
            return False
        outs = _evaluate(node, {i: self.g.tensors[i].data for i in ins}, self.opset)
        for name, arr in zip(node.output, outs, strict=False):
            if name:
                self.set_const(name, arr)
        return True


def _constant_value(a: dict, node: Any) -> np.ndarray:
    if "value" in a:
        return np.asarray(a["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return np.asarray(a[key], dtype=dt)
    raise UnsupportedModelError(f"Constant node {node.name!r}: only numeric values are supported")


def _evaluate(node: Any, feeds: dict[str, np.ndarray], opset: int) -> list[np.ndarray]:
    """Run one ONNX node with onnx.reference (used for constant subgraphs only)."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in feeds.items()]
    outs = [helper.make_value_info(o, onnx.TypeProto()) for o in node.output if o]
    graph = helper.make_graph([node], "fold", ins, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        res = ReferenceEvaluator(model).run(None, feeds)
    except Exception as e:
        raise UnsupportedModelError(f"cannot evaluate constant node: {e}") from None
    return [np.asarray(r) for r in res]


# ---------------------------------------------------------------- converters
def _clean(a: dict) -> dict:
    return {k: v for k, v in a.items() if k not in _DROP_ATTRS}


def _direct(im: _Importer, node: Any) -> None:
    if node.op_type == "Reshape":
        im.param(node, 1, "target shape")
    im.add(node.op_type, list(node.input), [o for o in node.output[:1]], node.name or node.output[0],
           **_clean(im.attrs(node)))


def _dropout(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    if a.get("training_mode", 0) or (len(node.input) > 2 and node.input[2] and im.const(node.input[2]) is not None
                                    and bool(im.const(node.input[2]))):
        raise UnsupportedModelError("Dropout in training mode is not supported")
    im.add("Identity", [node.input[0]], [node.output[0]], node.name or node.output[0])
    if len(node.output) > 1 and node.output[1]:
        shape = im.shape(node.input[0])
        if None in shape:
            raise UnsupportedModelError("Dropout mask of a tensor with a symbolic batch")
        im.set_const(node.output[1], np.ones(shape, dtype=bool))


def _batchnorm(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    if a.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
        raise UnsupportedModelError("training-mode BatchNormalization (several outputs) is not supported")
    im.add("BatchNormalization", list(node.input[:5]), [node.output[0]], node.name or node.output[0],
           epsilon=a.get("epsilon", 1e-5))


def _maxpool(im: _Importer, node: Any) -> None:
    outs = [o for o in node.output if o]
    im.add("MaxPool", [node.input[0]], list(node.output[:len(outs)]), node.name or node.output[0],
           **_clean(im.attrs(node)))


def _clip(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    attrs: dict[str, float] = {}
    if im.opset < 11:
        attrs = {k: float(a[k]) for k in ("min", "max") if k in a}
    else:
        for i, k in ((1, "min"), (2, "max")):
            v = im.param(node, i, k)
            if v is not None:
                attrs[k] = float(v)
    im.add("Clip", [node.input[0]], [node.output[0]], node.name or node.output[0], **attrs)


def _softmax(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    x, y = node.input[0], node.output[0]
    shape = im.shape(x)
    r = len(shape)
    name = node.name or y
    if im.opset >= 13:
        axis = int(a.get("axis", -1)) % r
        if axis == r - 1:
            im.add(node.op_type, [x], [y], name, axis=-1)
            return
        # kernels normalise the last axis: move `axis` there and back (a permutation is its own cost only)
        perm = [i for i in range(r) if i != axis] + [axis]
        back_perm = [perm.index(i) for i in range(r)]
        moved, soft = im.tmp(y + "_moved"), im.tmp(y + "_moved_out")
        im.add("Transpose", [x], [moved], name + "_to_last", perm=perm)
        im.add(node.op_type, [moved], [soft], name, axis=-1)
        im.add("Transpose", [soft], [y], name + "_from_last", perm=back_perm)
        return
    axis = int(a.get("axis", 1)) % r
    if axis == r - 1:
        im.add(node.op_type, [x], [y], name, axis=-1)
        return
    # opset < 13 normalises over all dims from `axis` on: flatten them, then restore the shape
    flat, soft = im.tmp(y + "_2d"), im.tmp(y + "_2d_out")
    im.add("Flatten", [x], [flat], name + "_flatten", axis=axis)
    im.add(node.op_type, [flat], [soft], name, axis=-1)
    back = im.g.add_const(y + "_shape", np.asarray([-1 if d is None else d for d in shape], dtype=np.int64))
    im.add("Reshape", [soft, back], [y], name + "_reshape")


def _axes_from(im: _Importer, node: Any, attr_until: int, what: str = "axes") -> list[int] | None:
    """``axes`` from the attribute (opset < attr_until) or the constant input 1."""
    if im.opset < attr_until:
        v = im.attrs(node).get("axes")
    else:
        v = im.param(node, 1, what)
    return None if v is None else [int(i) for i in np.asarray(v).reshape(-1)]


def _squeeze(im: _Importer, node: Any) -> None:
    axes = _axes_from(im, node, 13)
    extra = {} if axes is None else {"axes": axes}
    if node.op_type == "Unsqueeze" and axes is None:
        raise UnsupportedModelError("Unsqueeze without axes")
    im.add(node.op_type, [node.input[0]], [node.output[0]], node.name or node.output[0], **extra)


def _reduce(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    axes = _axes_from(im, node, 13 if node.op_type == "ReduceSum" else 18)
    attrs = {"keepdims": int(a.get("keepdims", 1)), "noop_with_empty_axes": int(a.get("noop_with_empty_axes", 0))}
    if axes is not None:
        attrs["axes"] = axes
    im.add(node.op_type, [node.input[0]], [node.output[0]], node.name or node.output[0], **attrs)


def _split(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    attrs: dict[str, Any] = {"axis": int(a.get("axis", 0))}
    split = a.get("split") if im.opset < 13 else im.param(node, 1, "split sizes")
    if split is not None:
        attrs["split"] = [int(v) for v in np.asarray(split).reshape(-1)]
    elif "num_outputs" in a:
        attrs["num_outputs"] = int(a["num_outputs"])
    im.add("Split", [node.input[0]], list(node.output), node.name or node.output[0], **attrs)


def _slice(im: _Importer, node: Any) -> None:
    if im.opset < 10:
        a = im.attrs(node)
        vals = {k: a.get(k) for k in ("starts", "ends", "axes")}
    else:
        vals = {k: im.param(node, i, k) for i, k in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))}
    attrs = {k: [int(x) for x in np.asarray(v).reshape(-1)] for k, v in vals.items() if v is not None}
    im.add("Slice", [node.input[0]], [node.output[0]], node.name or node.output[0], **attrs)


def _pad(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    r = len(im.shape(node.input[0]))
    mode = a.get("mode", "constant")
    if im.opset < 11:
        pads, value, axes = list(a["pads"]), float(a.get("value", 0.0)), None
    else:
        pads = [int(v) for v in im.param(node, 1, "pads")]
        cv = im.param(node, 2, "constant value")
        value = 0.0 if cv is None or np.asarray(cv).size == 0 else np.asarray(cv).reshape(-1)[0].item()
        axes = im.param(node, 3, "axes")
    if axes is not None:
        full = [0] * (2 * r)
        ax = [int(v) % r for v in np.asarray(axes).reshape(-1)]
        for j, i in enumerate(ax):
            full[i], full[i + r] = pads[j], pads[j + len(ax)]
        pads = full
    im.add("Pad", [node.input[0]], [node.output[0]], node.name or node.output[0],
           pads=[int(p) for p in pads], mode=mode, value=value)


def _resize(im: _Importer, node: Any) -> None:
    a = im.attrs(node)
    mode = a.get("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedModelError(f"Resize mode {mode!r} is not supported (only nearest, linear, cubic)")
    shape = [1 if d is None else d for d in im.shape(node.input[0])]
    r = len(shape)
    if im.opset < 11:
        scales, sizes = im.param(node, 1, "scales"), None
        ctm = "asymmetric"
        nmode = "floor"
    else:
        scales, sizes = im.param(node, 2, "scales"), im.param(node, 3, "sizes")
        ctm = a.get("coordinate_transformation_mode", "half_pixel")
        nmode = a.get("nearest_mode", "round_prefer_floor")
    axes = [int(v) % r for v in a.get("axes", range(r))]
    extra: dict[str, Any] = {}
    if mode != "nearest":
        extra = {"mode": mode, "cubic_coeff_a": float(a.get("cubic_coeff_a", -0.75)),
                 "exclude_outside": int(a.get("exclude_outside", 0)), "antialias": int(a.get("antialias", 0))}
    if ctm == "tf_crop_and_resize":
        if mode == "nearest":
            raise UnsupportedModelError("Resize with tf_crop_and_resize is supported for linear and cubic only")
        roi = im.param(node, 1, "roi")
        if roi is None or np.asarray(roi).size == 0:
            raise UnsupportedModelError("Resize with tf_crop_and_resize needs a constant roi")
        roi = [float(v) for v in np.asarray(roi).reshape(-1)]
        full_roi = [0.0] * r + [1.0] * r
        for j, ax in enumerate(axes):
            full_roi[ax], full_roi[ax + r] = roi[j], roi[j + len(axes)]
        extra.update(roi=full_roi, extrapolation_value=float(a.get("extrapolation_value", 0.0)))
    policy = a.get("keep_aspect_ratio_policy", "stretch")
    full_scales, full_sizes = [1.0] * r, list(shape)
    if sizes is not None and np.asarray(sizes).size:
        sizes = [int(v) for v in np.asarray(sizes).reshape(-1)]
        if policy == "stretch":
            for j, ax in enumerate(axes):
                full_sizes[ax], full_scales[ax] = sizes[j], sizes[j] / shape[ax]
        else:
            ratios = [sizes[j] / shape[ax] for j, ax in enumerate(axes)]
            s = min(ratios) if policy == "not_larger" else max(ratios)
            for ax in axes:
                full_sizes[ax], full_scales[ax] = int(s * shape[ax] + 0.5), s
    elif scales is not None and np.asarray(scales).size:
        sc = [float(v) for v in np.asarray(scales).reshape(-1)]
        for j, ax in enumerate(axes):
            full_scales[ax], full_sizes[ax] = sc[j], int(np.floor(shape[ax] * sc[j]))
    else:
        raise UnsupportedModelError("Resize needs constant scales or sizes")
    im.add("Resize", [node.input[0]], [node.output[0]], node.name or node.output[0], sizes=full_sizes,
           scales=full_scales, coordinate_transformation_mode=ctm, nearest_mode=nmode, **extra)


CONVERTERS: dict[str, Callable[[_Importer, Any], None]] = {
    "Dropout": _dropout, "BatchNormalization": _batchnorm, "MaxPool": _maxpool, "Clip": _clip,
    "Softmax": _softmax, "LogSoftmax": _softmax, "Squeeze": _squeeze, "Unsqueeze": _squeeze,
    "ReduceMean": _reduce, "ReduceMax": _reduce, "ReduceSum": _reduce, "Split": _split, "Slice": _slice,
    "Pad": _pad, "Resize": _resize,
}


def _ml_floats(a: dict, key: str) -> np.ndarray:
    v = a.get(key)
    if v is None:
        raise UnsupportedModelError(f"attribute {key!r} is missing")
    return np.asarray(v, dtype=np.float32).reshape(-1)


def _ml_post(a: dict) -> str:
    post = a.get("post_transform", "NONE")
    post = post.decode() if isinstance(post, bytes) else post
    if post not in ("NONE", "LOGISTIC", "SOFTMAX"):
        raise UnsupportedModelError(f"post_transform {post!r} is not supported (NONE, LOGISTIC, SOFTMAX are)")
    return post


def _ml_linear(im: _Importer, node: Any) -> None:
    """ONNX-ML LinearClassifier / LinearRegressor onto the IR ops of the same name (coef as (K, n))."""
    a = im.attrs(node)
    coef = _ml_floats(a, "coefficients")
    n = im.shape(node.input[0])[-1]
    if n is None or coef.size % n:
        raise UnsupportedModelError(f"{coef.size} coefficients do not split into rows of {n} features")
    k = coef.size // n
    inter = np.asarray(a.get("intercepts", np.zeros(k)), dtype=np.float32).reshape(-1)
    if inter.size != k:
        raise UnsupportedModelError(f"{inter.size} intercepts for {k} coefficient rows")
    base = node.name or node.output[0]
    w = im.tmp(base + "_coef")
    b = im.tmp(base + "_intercept")
    im.set_const(w, coef.reshape(k, n))
    im.set_const(b, inter)
    post = _ml_post(a)
    if node.op_type == "LinearRegressor":
        im.add("LinearRegressor", [node.input[0], w, b], [node.output[0]], base)
        return
    if a.get("classlabels_strings") is not None:
        raise UnsupportedModelError("string class labels are not supported (integer labels are)")
    labels = np.asarray(a.get("classlabels_ints", []), dtype=np.int64)
    if labels.size != max(k, 2):
        raise UnsupportedModelError(f"{labels.size} class labels for {k} coefficient rows")
    idx = node.output[0] if np.array_equal(labels, np.arange(labels.size)) else im.tmp(base + "_index")
    scores = node.output[1] if len(node.output) > 1 and node.output[1] else im.tmp(base + "_scores")
    im.add("LinearClassifier", [node.input[0], w, b], [idx, scores], base, post_transform=post)
    if idx != node.output[0]:  # label index -> the model's own labels
        tab = im.tmp(base + "_labels")
        im.set_const(tab, labels)
        im.add("Gather", [tab, idx], [node.output[0]], base + "_label", axis=0)


def _ml_scaler(im: _Importer, node: Any) -> None:
    """ONNX-ML Scaler ``(X - offset) * scale`` as the IR Scaler's two float32 steps."""
    a = im.attrs(node)
    n = im.shape(node.input[0])[-1]
    parts = []
    for key, default in (("offset", 0.0), ("scale", 1.0)):
        v = np.asarray(a.get(key, [default]), dtype=np.float32).reshape(-1)
        if v.size not in (1, n):
            raise UnsupportedModelError(f"Scaler {key} has {v.size} values for {n} features")
        name = im.tmp((node.name or node.output[0]) + "_" + key)
        im.set_const(name, np.broadcast_to(v, (n,)).copy())
        parts.append(name)
    im.add("Scaler", [node.input[0], *parts], [node.output[0]], node.name or node.output[0],
           steps=["sub", "mul"], precision="float32")


def _ml_tree(im: _Importer, node: Any) -> None:
    """ONNX-ML TreeEnsembleClassifier / Regressor onto the IR ops of the same name.

    The IR branches on ``x <= threshold`` only; for float32 x, ``x < t`` is ``x <= prev(t)`` (the
    float32 just below t), and GTE / GT are those with the children swapped, so every ordering mode
    maps exactly. BRANCH_EQ / BRANCH_NEQ and missing-value tracking are refused by name.
    """
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in im.attrs(node).items()}
    modes = [m.decode() if isinstance(m, bytes) else m for m in a.get("nodes_modes", [])]
    thr = np.asarray(a.get("nodes_values", []), dtype=np.float32).copy()
    tnode = np.asarray(a.get("nodes_truenodeids", []), dtype=np.int64).copy()
    fnode = np.asarray(a.get("nodes_falsenodeids", []), dtype=np.int64).copy()
    if a.get("nodes_values_as_tensor") is not None or a.get("target_weights_as_tensor") is not None \
            or a.get("class_weights_as_tensor") is not None or a.get("base_values_as_tensor") is not None:
        raise UnsupportedModelError("TreeEnsemble attributes given as tensors (*_as_tensor) are not supported")
    if any(np.asarray(a.get("nodes_missing_value_tracks_true", [0])).reshape(-1)):
        raise UnsupportedModelError("TreeEnsemble nodes_missing_value_tracks_true (NaN routing) is not supported")
    for i, m in enumerate(modes):
        if m in ("BRANCH_LT", "BRANCH_GTE"):
            thr[i] = np.nextafter(thr[i], np.float32(-np.inf))
        if m in ("BRANCH_GTE", "BRANCH_GT"):
            tnode[i], fnode[i] = fnode[i], tnode[i]
        if m not in ("LEAF", "BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"):
            raise UnsupportedModelError(f"TreeEnsemble node mode {m!r} is not supported (LEAF, BRANCH_LEQ, "
                                        "BRANCH_LT, BRANCH_GTE, BRANCH_GT are)")
    post = _ml_post(a)
    attrs: dict[str, Any] = {
        "nodes_treeids": a["nodes_treeids"], "nodes_nodeids": a["nodes_nodeids"],
        "nodes_featureids": a["nodes_featureids"], "nodes_values": thr,
        "nodes_modes": ["LEAF" if m == "LEAF" else "BRANCH_LEQ" for m in modes],
        "nodes_truenodeids": tnode, "nodes_falsenodeids": fnode,
        "aggregate_function": a.get("aggregate_function", "SUM"), "post_transform": post}
    base = node.name or node.output[0]
    if "base_values" in a:
        # ONNX adds base_values after AVERAGE divides by the tree count; the IR divides the sum with the base
        n_trees = len(set(int(t) for t in a["nodes_treeids"])) if attrs["aggregate_function"] == "AVERAGE" else 1
        attrs["base_values"] = np.asarray(a["base_values"], dtype=np.float64) * n_trees
    if node.op_type == "TreeEnsembleRegressor":
        attrs.update({k: a[k] for k in ("target_treeids", "target_nodeids", "target_ids", "target_weights")},
                     n_targets=int(a.get("n_targets", 1)))
        if post != "NONE":
            raise UnsupportedModelError(f"TreeEnsembleRegressor post_transform {post!r} is not supported (NONE is)")
        im.add("TreeEnsembleRegressor", [node.input[0]], [node.output[0]], base, **attrs)
        return
    if a.get("classlabels_strings") is not None:
        raise UnsupportedModelError("string class labels are not supported (integer labels are)")
    labels = np.asarray(a.get("classlabels_int64s", []), dtype=np.int64)
    cols = set(int(c) for c in a.get("class_ids", []))
    if len(labels) == 2 and cols <= {0} and post != "LOGISTIC":
        raise UnsupportedModelError("a binary TreeEnsembleClassifier with one score column is supported with "
                                    f"post_transform LOGISTIC only, not {post!r}")
    attrs.update({k: a[k] for k in ("class_treeids", "class_nodeids", "class_ids", "class_weights")},
                 classlabels_int64s=labels)
    # the IR gives the int32 class index; ONNX's label is the int64 class label: always look it up
    idx = im.tmp(base + "_index")
    scores = node.output[1] if len(node.output) > 1 and node.output[1] else im.tmp(base + "_scores")
    im.add("TreeEnsembleClassifier", [node.input[0]], [idx, scores], base, **attrs)
    tab = im.tmp(base + "_labels")
    im.set_const(tab, labels)
    im.add("Gather", [tab, idx], [node.output[0]], base + "_label", axis=0)


def _ml_zipmap(im: _Importer, node: Any) -> None:
    """ZipMap only re-packs probabilities as a sequence of maps: the tensor is kept as it is."""
    im.add("Identity", [node.input[0]], [node.output[0]], node.name or node.output[0])


_SVM_KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")


def _ml_svm(im: _Importer, node: Any) -> None:
    """ONNX-ML SVMClassifier / SVMRegressor onto the IR SVM ops.

    ONNX stores ``coefficients`` in libsvm's (K-1, L) layout and adds ``rho`` (sklearn's intercept),
    while the IR subtracts libsvm's rho: the IR gets the coefficients as they are and ``-rho``. ONNX
    Runtime votes ``dec > 0`` for the first class of a pair, as the IR does, so labels match; its
    scores are the raw pair decisions (the IR's "ovo" layout), and ``[-dec, dec]`` for two classes.
    """
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in im.attrs(node).items()}
    op = node.op_type
    kind = a.get("kernel_type", "LINEAR")
    if kind not in _SVM_KERNELS:
        raise UnsupportedModelError(f"{op} kernel_type {kind!r} is not supported ({', '.join(_SVM_KERNELS)} are)")
    post = a.get("post_transform", "NONE")
    if post != "NONE":
        raise UnsupportedModelError(f"{op} post_transform {post!r} is not supported (NONE is)")
    params = [float(v) for v in a.get("kernel_params", [])] + [0.0, 0.0, 0.0][len(a.get("kernel_params", [])):]
    gamma, coef0, degree = params[:3]
    if degree != int(degree):
        raise UnsupportedModelError(f"{op} kernel degree {degree} is not an integer")
    n = im.shape(node.input[0])[-1]
    sv = np.asarray(a.get("support_vectors", []), dtype=np.float64).reshape(-1)
    coef = np.asarray(a.get("coefficients", []), dtype=np.float64).reshape(-1)
    rho = np.asarray(a.get("rho", [0.0]), dtype=np.float64).reshape(-1)
    if n is None or sv.size % n:
        raise UnsupportedModelError(f"{op}: {sv.size} support vector values do not split into rows of {n}")
    n_sv = sv.size // n
    base = node.name or node.output[0]
    kattrs: dict[str, Any] = {"kernel_type": kind, "gamma": gamma, "coef0": coef0, "degree": int(degree)}
    consts = []
    for what, val in (("support_vectors", sv.reshape(n_sv, n)), ("coefficients", coef), ("rho", -rho)):
        name = im.tmp(base + "_" + what)
        consts.append((name, val))
    if op == "SVMRegressor":
        if int(a.get("one_class", 0)):
            raise UnsupportedModelError("SVMRegressor one_class=1 (a one-class SVM) is not supported")
        if n_sv == 0 or coef.size != n_sv or rho.size != 1:
            raise UnsupportedModelError(f"SVMRegressor needs {n_sv} coefficients and one rho "
                                        f"(got {coef.size}, {rho.size}); a linear (no support vector) form is "
                                        "not supported")
        consts[1] = (consts[1][0], coef.reshape(1, n_sv))
        for name, val in consts:
            im.set_const(name, val)
        im.add("SVMRegressor", [node.input[0], *(c for c, _ in consts)], [node.output[0]], base, **kattrs)
        return
    for key in ("prob_a", "prob_b"):
        if np.asarray(a.get(key, [])).size:
            raise UnsupportedModelError(f"SVMClassifier {key} (Platt probability calibration) is not supported")
    if a.get("classlabels_strings") is not None:
        raise UnsupportedModelError("string class labels are not supported (integer labels are)")
    counts = [int(c) for c in a.get("vectors_per_class", [])]
    labels = np.asarray(a.get("classlabels_ints", []), dtype=np.int64)
    k = len(counts)
    if k < 2 or labels.size != k:
        raise UnsupportedModelError(f"SVMClassifier needs vectors_per_class and classlabels_ints for the same "
                                    f">= 2 classes (got {k} and {labels.size}); the linear (no support vector) "
                                    "form is not supported")
    if sum(counts) != n_sv or coef.size != (k - 1) * n_sv or rho.size != k * (k - 1) // 2:
        raise UnsupportedModelError(f"SVMClassifier sizes disagree: {n_sv} support vectors, {coef.size} "
                                    f"coefficients, {rho.size} rho for {k} classes")
    consts[1] = (consts[1][0], coef.reshape(k - 1, n_sv))
    for name, val in consts:
        im.set_const(name, val)
    idx = im.tmp(base + "_index")
    want_scores = len(node.output) > 1 and node.output[1]
    scores = node.output[1] if want_scores and k > 2 else im.tmp(base + "_scores")
    im.add("SVMClassifier", [node.input[0], *(c for c, _ in consts)], [idx, scores], base,
           vectors_per_class=counts, decision_shape="ovo", break_ties=0, **kattrs)
    if want_scores and k == 2:  # the IR's single column is -dec; ONNX Runtime gives [-dec, dec]
        m1, neg = im.tmp(base + "_minus_one"), im.tmp(base + "_neg")
        im.set_const(m1, np.asarray([-1.0], dtype=np.float32))
        im.add("Mul", [scores, m1], [neg], base + "_neg")
        im.add("Concat", [scores, neg], [node.output[1]], base + "_scores2", axis=1)
    tab = im.tmp(base + "_labels")
    im.set_const(tab, labels)
    im.add("Gather", [tab, idx], [node.output[0]], base + "_label", axis=0)


def _ml_normalizer(im: _Importer, node: Any) -> None:
    """ONNX-ML Normalizer MAX / L2 from existing ops (row max, root of the sum of squares); L1 needs an
    absolute value the IR lacks, so it is refused by name."""
    norm = im.attrs(node).get("norm", "MAX")
    norm = norm.decode() if isinstance(norm, bytes) else norm
    base = node.name or node.output[0]
    x = node.input[0]
    if norm == "MAX":
        m = im.tmp(base + "_max")
        im.add("ReduceMax", [x], [m], base + "_max", axes=[1], keepdims=1)
        im.add("Div", [x, m], [node.output[0]], base)
        return
    if norm != "L2":
        raise UnsupportedModelError(f"Normalizer norm {norm!r} is not supported (MAX, L2 are)")
    sq, ss, nrm = im.tmp(base + "_sq"), im.tmp(base + "_sumsq"), im.tmp(base + "_norm")
    im.add("Mul", [x, x], [sq], base + "_sq")
    im.add("ReduceSum", [sq], [ss], base + "_sumsq", axes=[1], keepdims=1)
    im.add("Sqrt", [ss], [nrm], base + "_norm")
    im.add("Div", [x, nrm], [node.output[0]], base)


def _cast(im: _Importer, node: Any) -> None:
    """Cast kept only where it changes nothing the IR stores (same dtype, or an integer label widened
    to int64, which the IR keeps as its own integer type); other numeric casts are refused."""
    from onnx import helper as oh

    to = oh.tensor_dtype_to_np_dtype(int(im.attrs(node)["to"]))
    src = im.g.tensors[node.input[0]].dtype
    same = str(np.dtype(to)) == src or (np.dtype(to).kind in "iu" and src in ("int32", "int64"))
    if not same:
        raise UnsupportedModelError(f"Cast from {src} to {np.dtype(to)} is not supported")
    im.add("Identity", [node.input[0]], [node.output[0]], node.name or node.output[0])


def _argmax(im: _Importer, node: Any) -> None:
    """ArgMax onto the IR op (first index on ties); select_last_index is refused by name."""
    a = im.attrs(node)
    if int(a.get("select_last_index", 0)):
        raise UnsupportedModelError("ArgMax select_last_index=1 is not supported")
    im.add("ArgMax", [node.input[0]], [node.output[0]], node.name or node.output[0],
           axis=int(a.get("axis", 0)), keepdims=int(a.get("keepdims", 1)))


ML_CONVERTERS: dict[str, Callable[[_Importer, Any], None]] = {
    "LinearClassifier": _ml_linear, "LinearRegressor": _ml_linear, "Scaler": _ml_scaler, "ZipMap": _ml_zipmap,
    "TreeEnsembleClassifier": _ml_tree, "TreeEnsembleRegressor": _ml_tree,
    "SVMClassifier": _ml_svm, "SVMRegressor": _ml_svm, "Normalizer": _ml_normalizer,
}
CONVERTERS.update({"Cast": _cast, "ArgMax": _argmax})


def supported_onnx_ops() -> list[str]:
    """ONNX op types the frontend imports (besides any node it can fold to a constant)."""
    return sorted(DIRECT | set(CONVERTERS) | {"Constant", "Shape", "Size"})


def load_model(model: Any) -> Any:
    """A ModelProto from a ModelProto, a path or bytes; unreadable input raises ModelFileError."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    try:
        if isinstance(model, (bytes, bytearray)):
            return onnx.load_from_string(bytes(model))
        if isinstance(model, (str, os.PathLike)):
            if not os.path.exists(model):
                raise ModelFileError(f"ONNX file {str(model)!r} does not exist")
            return onnx.load(os.fspath(model))
    except ModelFileError:
        raise
    except Exception as e:
        raise ModelFileError(f"{str(model)[:200]!r} is not a readable ONNX model ({type(e).__name__}: {e}); "
                             "check the file is complete and was saved with onnx.save") from None
    raise ModelFileError(f"cannot read an ONNX model from a {type(model).__name__}")


def from_onnx(model: Any, optimize: bool = True) -> Graph:
    """Import an ONNX model (ModelProto, path or bytes) as a validated ``ir.Graph``.

    With ``optimize`` the graph passes run too: constant folding, BatchNorm folding,
    activation fusion and dead-code removal.

    >>> # g = from_onnx("model.onnx"); ir.run(g, x)
    """
    proto = load_model(model)
    if not proto.graph.node and not proto.graph.output:
        raise ModelFileError("the ONNX model has an empty graph (a corrupt or truncated file?)")
    from edgeinfer.frontends import onnx_quant

    if onnx_quant.is_quantized(proto):  # QDQ / QLinear* models: onto the integer ops, no float passes
        return onnx_quant.from_quantized_onnx(proto)
    g = _Importer(proto).run()
    if optimize:
        from edgeinfer.passes.pipeline import optimize as run_passes

        g = run_passes(g)
    return g.validate()
