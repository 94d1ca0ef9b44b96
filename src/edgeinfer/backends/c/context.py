"""What an op emitter sees while generating C: tensor pointers, constant tables, kernels."""

from __future__ import annotations

import numpy as np

from edgeinfer.ir.graph import Graph
from edgeinfer.ir.node import Node

CTYPES = {"float32": "float", "float64": "double", "int8": "int8_t", "uint8": "uint8_t",
          "int16": "int16_t", "uint16": "uint16_t", "int32": "int32_t", "uint32": "uint32_t",
          "int64": "int64_t", "bool": "uint8_t"}


def ctype(dtype: str) -> str:
    """C type of an IR dtype."""
    return CTYPES[dtype]


def smallest_int_dtype(lo: int, hi: int) -> str:
    """Smallest fixed-width integer dtype holding [lo, hi]: node tables use it to save flash."""
    for dt in ("uint8", "int8", "uint16", "int16", "uint32", "int32"):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt
    return "int64"


def c_float(v: float) -> str:
    """A float32 literal that round-trips exactly (9 significant digits)."""
    f = float(np.float32(v))
    if np.isnan(f):
        return "(0.0f/0.0f)"
    if np.isinf(f):
        return "(1.0f/0.0f)" if f > 0 else "(-1.0f/0.0f)"
    s = repr(f) if f == int(f) and abs(f) < 1e16 else f"{f:.9g}"
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def c_array_body(arr: np.ndarray, dtype: str, per_line: int = 12) -> str:
    flat = np.asarray(arr).reshape(-1)
    if dtype == "float32":
        items = [c_float(v) for v in flat.astype(np.float32)]
    elif dtype == "float64":
        items = [repr(float(v)) for v in flat]
    else:
        items = [str(int(v)) for v in flat]
        if dtype == "int32":
            items = [s if int(s) != -2147483648 else "(-2147483647 - 1)" for s in items]
        elif dtype == "int64":
            items = [s + "LL" for s in items]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n  " + ",\n  ".join(lines) + "\n}" if items else "{0}"


class EmitContext:
    """Collects the pieces of one generated C file.

    Op emitters call :meth:`ref` for a tensor's pointer, :meth:`const_array` to put a
    table in flash, :meth:`use_kernel` to pull a kernel library file into the
    artifact, and :meth:`helper` for a static function shared by several nodes.

    >>> # ctx.ref("x") -> "x" for a graph input, "W_fc1" for a constant,
    >>> # "((float *)(model_arena.b + 64))" for an intermediate tensor.
    """

    def __init__(self, graph: Graph, name: str, options: dict | None = None) -> None:
        self.graph = graph
        self.name = name
        self.options = dict(options or {})
        self.consts: list[str] = []          # declarations of const tables
        self.const_bytes = 0
        self.helpers: dict[str, str] = {}    # key -> static function source
        self.kernels: set[str] = set()       # kernel library modules used (backends/kernels/<k>.c)
        self._const_ids: dict[str, str] = {}
        # identical tables (same C type, same values) are emitted once: repeated layers of one shape
        # share their geometry tables, and every copy would cost flash on the target
        self._table_ids: dict[tuple[str, int, bytes], str] = {}
        self._tmp = 0
        self.io_names: dict[str, str] = {}   # graph input/output tensor -> C parameter name
        # an emitter may offer ``int32_t fn(const float *x)`` computing only the label of a one-node
        # classifier; ``<name>_predict`` then calls it and skips the scores
        self.label_fn: str | None = None

    # --- names -------------------------------------------------------------
    def sym(self, base: str) -> str:
        """A C identifier made from ``base``, prefixed by the model name and unique."""
        clean = "".join(c if c.isalnum() else "_" for c in base).strip("_") or "t"
        ident = f"{self.name}_{clean}"
        while ident in self._const_ids.values() or ident in self.helpers:
            self._tmp += 1
            ident = f"{self.name}_{clean}_{self._tmp}"
        return ident

    def tmp(self, prefix: str = "t") -> str:
        self._tmp += 1
        return f"{prefix}{self._tmp}"

    # --- tensors -----------------------------------------------------------
    def ctype_of(self, tensor: str) -> str:
        return ctype(self.graph.tensors[tensor].dtype)

    def ref(self, tensor: str) -> str:
        """C expression: a pointer to the first element of ``tensor`` (one sample)."""
        if tensor in self.io_names:
            return self.io_names[tensor]
        t = self.graph.tensors[tensor]
        if t.is_const:
            if tensor not in self._const_ids:
                self._const_ids[tensor] = self.const_array(tensor, t.data, t.dtype)
            return self._const_ids[tensor]
        if t.offset is None:
            raise RuntimeError(f"tensor {tensor!r} has no arena offset (memory planner not run)")
        return f"(({ctype(t.dtype)} *)({self.name}_arena.b + {t.offset}))"

    def const_array(self, hint: str, arr: np.ndarray, dtype: str | None = None) -> str:
        """Declare ``static const`` table in flash; returns its identifier (an earlier table's, when one
        with the same C type and values exists already)."""
        arr = np.asarray(arr)
        dtype = dtype or str(arr.dtype)
        vals = np.ascontiguousarray(arr.astype(dtype) if dtype != "bool" else arr.astype("uint8"))
        key = (ctype(dtype), vals.size, vals.tobytes())
        if key in self._table_ids:
            return self._table_ids[key]
        ident = self.sym(hint)
        self._const_ids["__anon__" + ident] = ident
        self._table_ids[key] = ident
        body = c_array_body(vals, dtype)
        self.consts.append(f"static const {ctype(dtype)} {ident}[{max(arr.size, 1)}] = {body};")
        self.const_bytes += max(arr.size, 1) * (1 if dtype == "bool" else np.dtype(dtype).itemsize)
        return ident

    # --- code --------------------------------------------------------------
    def helper(self, key: str, code: str) -> None:
        """Add a static helper function once (keyed, so emitters can share it)."""
        self.helpers.setdefault(key, code)

    def use_kernel(self, module: str) -> None:
        """Use ``backends/kernels/<module>.c`` (declared in ``ei_kernels.h``)."""
        self.kernels.add(module)

    def numel(self, tensor: str) -> int:
        return self.graph.tensors[tensor].numel(1)

    def node_comment(self, node: Node) -> str:
        return f"/* {node.name}: {node.op} */"
