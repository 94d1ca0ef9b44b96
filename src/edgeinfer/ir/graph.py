"""The Graph: named tensors, topologically ordered nodes, inputs and outputs."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.errors import GraphError, UnsupportedModelError
from edgeinfer.ir.node import Node
from edgeinfer.ir.tensor import DTYPES, Tensor


@dataclass
class Graph:
    """A model as the IR sees it.

    ``metadata`` carries what the frontend knows about the task, e.g.
    ``{"task": "classification", "classes": [...], "has_proba": True}`` or
    ``{"task": "regression"}``; backends read it, passes keep it.

    >>> g = Graph("m")
    >>> g.add_input("x", (None, 4))
    >>> g.add_node("Relu", ["x"], ["y"])
    >>> g.outputs.append("y"); g.infer_shapes(); g.tensors["y"].shape
    (None, 4)
    """

    name: str = "model"
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- building
    def add_input(self, name: str, shape: tuple, dtype: str = "float32") -> Tensor:
        t = Tensor(name, tuple(shape), dtype)
        self.tensors[name] = t
        self.inputs.append(name)
        return t

    def add_const(self, name: str, data: np.ndarray, dtype: str | None = None) -> str:
        """Add a constant tensor (a fresh name is made if ``name`` is taken); returns its name."""
        arr = np.asarray(data)
        if dtype is not None:
            arr = arr.astype(dtype)
        name = self.fresh_name(name)
        self.tensors[name] = Tensor(name, tuple(arr.shape), str(arr.dtype), data=arr)
        return name

    def add_node(self, op: str, inputs: list[str], outputs: list[str],
                 name: str = "", **attrs: Any) -> Node:
        node = Node(op, list(inputs), list(outputs), dict(attrs), name or f"{op}_{len(self.nodes)}")
        for o in outputs:
            if o not in self.tensors:
                self.tensors[o] = Tensor(o)
        self.nodes.append(node)
        return node

    def fresh_name(self, base: str) -> str:
        if base not in self.tensors:
            return base
        i = 1
        while f"{base}_{i}" in self.tensors:
            i += 1
        return f"{base}_{i}"

    def copy(self) -> Graph:
        """A deep copy (constant arrays included) for passes that rewrite."""
        return copy.deepcopy(self)

    # ----------------------------------------------------------------- queries
    def const(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        return None if t is None else t.data

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out

    def ops(self) -> list[str]:
        return sorted({n.op for n in self.nodes})

    # ----------------------------------------------------------------- checks
    def infer_shapes(self) -> Graph:
        """Fill the shape and dtype of every node output, in place; returns self."""
        from edgeinfer.ir.registry import get_op

        for node in self.nodes:
            opdef = get_op(node.op)
            ins = [self.tensors.get(i) if i else None for i in node.inputs]
            for i, t in zip(node.inputs, ins, strict=False):
                if i and t is None:
                    raise GraphError(f"{node.op} node {node.name!r} reads tensor {i!r}, which does not exist")
                if i and t.shape is None:
                    raise GraphError(f"{node.op} node {node.name!r} reads tensor {i!r} before it is produced "
                                     "(nodes must be in topological order)")
            try:
                results = opdef.infer(node, ins)
            except GraphError:
                raise
            except Exception as e:  # a bug-free op raises GraphError; anything else is still the graph's fault
                raise GraphError(f"{node.op} node {node.name!r}: cannot infer output shape: {e}") from e
            if len(results) != len(node.outputs):
                raise GraphError(f"{node.op} node {node.name!r} has {len(node.outputs)} outputs, "
                                 f"the op produces {len(results)}")
            for o, (shape, dtype) in zip(node.outputs, results, strict=False):
                t = self.tensors.setdefault(o, Tensor(o))
                t.shape = tuple(shape)
                t.dtype = str(dtype)
        return self

    def validate(self) -> Graph:
        """Check the graph is well formed; raise GraphError saying what is wrong. Returns self."""
        from edgeinfer.ir.registry import get_op

        problems: list[str] = []
        if not self.inputs:
            problems.append("graph has no inputs")
        if not self.outputs:
            problems.append("graph has no outputs")
        defined = set()
        for name in self.inputs:
            t = self.tensors.get(name)
            if t is None:
                problems.append(f"graph input {name!r} has no tensor")
            elif t.shape is None:
                problems.append(f"graph input {name!r} has no shape")
            defined.add(name)
        for name, t in self.tensors.items():
            if t.name != name:
                problems.append(f"tensor registered as {name!r} is named {t.name!r}")
            if t.dtype not in DTYPES:
                problems.append(f"tensor {name!r} has unknown dtype {t.dtype!r}")
            if t.is_const:
                defined.add(name)
                if tuple(t.data.shape) != tuple(t.shape or ()):
                    problems.append(f"constant {name!r}: data shape {t.data.shape} != declared {t.shape}")
                if str(t.data.dtype) != t.dtype:
                    problems.append(f"constant {name!r}: data dtype {t.data.dtype} != declared {t.dtype}")
        unknown = []
        for node in self.nodes:
            try:
                get_op(node.op)
            except UnsupportedModelError:
                unknown.append(node.op)
            for i in node.inputs:
                if i and i not in defined:
                    if i in self.producers():
                        problems.append(f"node {node.name!r} reads {i!r} before it is produced (not topological)")
                    else:
                        problems.append(f"node {node.name!r} reads {i!r}, which nothing produces")
            for o in node.outputs:
                if o in defined:
                    problems.append(f"tensor {o!r} is produced twice (by node {node.name!r})")
                defined.add(o)
        for name in self.outputs:
            if name not in defined:
                problems.append(f"graph output {name!r} is never produced")
        if unknown:
            problems.append(f"unknown ops: {', '.join(sorted(set(unknown)))}")
        if problems:
            raise GraphError(f"graph {self.name!r} is malformed:\n  - " + "\n  - ".join(problems))
        self.infer_shapes()
        return self

    def summary(self) -> str:
        """A human-readable table of nodes, shapes and costs (used by ``edgeinfer inspect``)."""
        from edgeinfer.ir.cost import graph_cost

        c = graph_cost(self)
        lines = [f"graph {self.name}: {len(self.nodes)} nodes, ops: {', '.join(self.ops())}"]
        for i in self.inputs:
            t = self.tensors[i]
            lines.append(f"  input  {i}: {t.dtype}{list(t.shape)}")
        for o in self.outputs:
            t = self.tensors[o]
            lines.append(f"  output {o}: {t.dtype}{list(t.shape or ())}")
        lines.append(f"  {'node':<28} {'op':<22} {'output shape':<20} {'params B':>10} {'MACs':>12} {'cmps':>8}")
        for node, nc in zip(self.nodes, c["per_node"], strict=False):
            t = self.tensors[node.outputs[0]]
            lines.append(f"  {node.name[:28]:<28} {node.op:<22} {str(list(t.shape or ())):<20} "
                         f"{nc['param_bytes']:>10} {nc['macs']:>12} {nc['comparisons']:>8}")
        lines.append(f"  total: parameter bytes {c['param_bytes']}, MACs {c['macs']}, "
                     f"comparisons {c['comparisons']}, activation bytes {c['activation_bytes']}")
        if "arena_bytes" in self.metadata:
            lines.append(f"  planned arena: {self.metadata['arena_bytes']} bytes "
                         f"(naive sum {self.metadata.get('arena_naive_bytes', '?')})")
        return "\n".join(lines)
