"""Tensor-program models: ``backend="torch"`` (PyTorch, CPU or CUDA) and ``backend="onnxruntime"``.

Both run the same lowered program (``registry.py``: one torch function per IR op). The torch model
runs it directly; ``save`` writes it as TorchScript and as ONNX with standard operators only, which
is what TensorRT and ONNX Runtime load. The ONNX Runtime model runs that ONNX file on the best
execution provider present (TensorRT, then CUDA, then CPU) and says which in ``.provider``.

Every classifier in the program also outputs ``needs_reference``: rows whose label is within rounding
of a tie. ``predict`` recomputes just those rows with the IR reference, so labels equal the source
model's on every row; the saved files carry the flag as their last output for a runtime to do the same.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backends.base import CompiledModel, refuse_non_finite
from edgeinfer.errors import EdgeInferError
from edgeinfer.ir.cost import graph_cost
from edgeinfer.ir.graph import Graph
from edgeinfer.ir.reference import run as reference_run

FLAG = "needs_reference"
LABEL_BLOCK_ROWS = 16_384  # rows per block of the label-only path on CPU
SAVE_BATCH_HINT = 10_000  # saved programs are for batched serving: strategies chosen for this batch


def resolve_device(device: str) -> str:
    """``device`` if torch can use it, else "cpu" with a printed notice (a GPU-less machine still runs)."""
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        print(f"edgeinfer: device {device!r} is not available (torch sees no CUDA GPU); running on cpu")
        return "cpu"
    return str(device)


def _program_class() -> type:
    import torch

    class Program(torch.nn.Module):
        """The lowered graph: kernels in node order over a name -> tensor environment."""

        def __init__(self, graph: Graph, device: str, options: dict[str, Any]) -> None:
            super().__init__()
            from edgeinfer.backends.tensor.registry import LowerContext, get_lowering

            self.graph = graph
            ctx = LowerContext(graph, torch.device(device), options)
            self.consts = {n: ctx.const(n) for n, t in graph.tensors.items() if t.is_const}
            self.kernels = [(node, get_lowering(node.op)(node, ctx)) for node in graph.nodes]
            self.batch_hint: int | None = None

        def tree_kernels(self) -> list[Any]:
            from edgeinfer.backends.tensor.trees import TreeKernel

            return [k for _, k in self.kernels if isinstance(k, TreeKernel)]

        def forward(self, x: torch.Tensor) -> tuple:
            env, unsure = self._run_nodes(x, self.kernels)
            return (*[env[o] for o in self.graph.outputs], unsure)

        def _run_nodes(self, x: torch.Tensor, kernels: list) -> tuple[dict[str, Any], torch.Tensor]:
            env: dict[str, Any] = dict(self.consts)
            env[self.graph.inputs[0]] = x
            unsure = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
            for node, kernel in kernels:
                ys = kernel(*[env[i] if i else None for i in node.inputs])
                if len(ys) == len(node.outputs) + 1:
                    unsure = unsure | ys[-1]
                    ys = ys[:-1]
                env.update(zip(node.outputs, ys, strict=True))
            return env, unsure

        def label_kernel(self) -> Any:
            """The last node's ``labels`` function when the graph's first output is its label (a
            classifier whose scores nothing else reads), else None."""
            if not self.kernels:
                return None
            node, kernel = self.kernels[-1]
            if node.outputs[0] != self.graph.outputs[0] or self.graph.metadata.get("task") != "classification":
                return None
            return getattr(kernel, "labels", None)

        def labels(self, x: torch.Tensor, absmax: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            """Label index and "not certified" flag per row, the scores never computed (``predict``).

            ``absmax`` (max |x| of the batch, when the caller has it) reaches the label kernel only if
            that kernel reads the graph input itself.
            """
            env, unsure = self._run_nodes(x, self.kernels[:-1])
            node, kernel = self.kernels[-1]
            first = node.inputs[0]  # the data; a label kernel holds its own constants
            label, flag = kernel.labels(env[first], absmax=absmax if first == self.graph.inputs[0] else None)
            return label, unsure | flag

    return Program


class TorchModel(CompiledModel):
    """A graph as a torch program. Options: ``device`` ("cpu", "cuda"), ``strategy`` for trees
    ("auto", "gemm", "tree_traversal", "perfect_tree_traversal"), ``precision`` (None: the
    reference's; "float32"; "float16" on a GPU), ``threads`` (torch intra-op threads).

    >>> # t = TorchModel(graph, "rf", device="cuda"); t.predict(X); t.save("out/")
    """

    backend = "torch"

    def __init__(self, graph: Graph, name: str, *, device: str = "cpu", strategy: str = "auto",
                 precision: str | None = None, threads: int | None = None) -> None:
        import torch

        super().__init__(graph.copy().validate(), name)
        self.device = resolve_device(device)
        if precision == "float16" and not self.device.startswith("cuda"):
            print("edgeinfer: float16 needs a GPU; computing in float32 on cpu")
            precision = "float32"
        if precision not in (None, "float32", "float16", "float64"):
            raise EdgeInferError(f"precision must be float32, float16 or float64, not {precision!r}")
        self.threads = int(threads) if threads is not None else None
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        self.options = {"strategy": strategy, "precision": precision}
        self.program = _program_class()(self.graph, self.device, self.options)
        first = self.graph.tensors[self.graph.inputs[0]]
        self._one_at_a_time = bool(first.shape and first.shape[0] == 1)
        # float batches are scanned for NaN/inf here, in torch, by the pass that also gives the batch's
        # range (which the linear models' label certificate needs): check_input then skips its own scan
        self.scans_finite = (np.issubdtype(self.input_dtype, np.floating)
                             and self.graph.metadata.get("input_quantization") is None)
        self._label_fn = None if self._one_at_a_time else self.program.label_kernel()
        classes = self.graph.metadata.get("classes")
        self._classes = None if classes is None else np.asarray(classes)
        self._classes_are_indices = bool(self._classes is not None and np.issubdtype(self._classes.dtype, np.integer)
                                         and np.array_equal(self._classes, np.arange(len(self._classes))))

    @property
    def strategies(self) -> list[str]:
        """The tree strategy each ensemble would use for a batch of 10k rows."""
        from edgeinfer.backends.tensor.trees import choose_strategy

        out = []
        for k in self.program.tree_kernels():
            out.append(k.strategy if k.strategy != "auto" else choose_strategy(k.depth, len(k.trees), SAVE_BATCH_HINT))
        return out

    def _forward(self, arr: np.ndarray) -> list[np.ndarray]:
        import torch

        # torch's thread count is process-global and other libraries reset it (hummingbird-ml's convert
        # does): a model given ``threads`` keeps it in force for its own calls
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            x = torch.from_numpy(arr).to(self.device)
            self._scan(x, arr)
            outs = self.program(x)
        return [o.cpu().numpy() for o in outs]

    def _scan(self, x: Any, arr: np.ndarray, want_range: bool = False) -> float | None:
        """Refuse NaN/inf in ``x`` (the batch ``arr`` or a block of it; the message names the first bad
        row of ``arr``, as ``base.refuse_non_finite`` does) in one pass, and return max |x| from that
        same pass when ``want_range`` (the linear models' certificate uses it).

        Without a range the pass is a sum: finite unless some value is NaN/inf, or the sum of finite
        values overflowed (then the full scan finds nothing and the batch goes on).
        """
        import torch

        if not self.scans_finite or not x.numel():
            return None
        if not want_range:
            if not math.isfinite(float(x.sum())):
                refuse_non_finite(arr)
            return None
        lo, hi = (float(v) for v in torch.aminmax(x))  # NaN anywhere makes both NaN
        if not (math.isfinite(lo) and math.isfinite(hi)):
            refuse_non_finite(arr)
        return max(-lo, hi)

    def predict(self, X: Any) -> np.ndarray:
        """Labels through the program's label-only path (no scores computed) where it has one."""
        if self._label_fn is None or self._classes is None:
            return super().predict(X)
        idx = self._label_index(self.check_input(X))
        return idx.astype(self._classes.dtype) if self._classes_are_indices else self._classes[idx]

    def _label_index(self, arr: np.ndarray) -> np.ndarray:
        """Class index per row (int32): the program's label path, its unsure rows from the reference."""
        import torch

        if not len(arr):
            return np.zeros(0, np.int32)
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            x = torch.from_numpy(arr).to(self.device)
            # a label kernel that "sees_non_finite" flags every row whose input is not finite, so the
            # scan is skipped and only flagged rows are looked at below
            sees = getattr(self._label_fn, "sees_non_finite", False)
            wants_range = getattr(self._label_fn, "wants_range", False)
            # blocks of rows, each scanned just before its labels: the block's rows and intermediates
            # (class-major scores, hidden units) are still in cache for the next step
            step = LABEL_BLOCK_ROWS if self.device == "cpu" else len(arr)
            parts = []
            for s in range(0, len(arr), step):
                block = x[s:s + step]
                parts.append(self.program.labels(block, None if sees else self._scan(block, arr, wants_range)))
            label = (parts[0][0] if len(parts) == 1 else torch.cat([p[0] for p in parts])).cpu().numpy()
            unsure = (parts[0][1] if len(parts) == 1 else torch.cat([p[1] for p in parts])).cpu().numpy()
        rows = np.flatnonzero(unsure) if unsure.any() else ()
        if len(rows) and sees and self.scans_finite:
            refuse_non_finite(arr, rows)
        if len(rows):
            # the rows within rounding of a tie: the IR reference decides them, as scikit-learn does
            label = label.copy()
            label[rows] = reference_run(self.graph, arr[rows])[self.graph.outputs[0]].reshape(-1)
        return label

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        arr = arrays[0]
        if self._one_at_a_time and len(arr) != 1:
            parts = [self._forward(arr[i:i + 1]) for i in range(len(arr))]
            outs = [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]
        else:
            outs = self._forward(arr)
        return patch_unsure(self.graph, arr, outs)

    # ------------------------------------------------------------- exports
    def _traced(self, example: Any) -> Any:
        import torch

        for k in self.program.tree_kernels():
            k.batch_hint = SAVE_BATCH_HINT
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.jit.trace(self.program, (example,), check_trace=False)
        finally:
            for k in self.program.tree_kernels():
                k.batch_hint = None

    def _example(self) -> Any:
        import torch

        shape = (3 if not self._one_at_a_time else 1, *self.input_shape)
        return torch.zeros(shape, dtype=getattr(torch, str(self.input_dtype))).to(self.device)

    def onnx_bytes(self, opset: int = 17) -> bytes:
        """The program as ONNX (standard operators only, opset ``opset``), batch dimension dynamic."""
        import torch

        names = [*self.graph.outputs, FLAG]
        buf = io.BytesIO()
        for k in self.program.tree_kernels():
            k.batch_hint = SAVE_BATCH_HINT
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(self.program, (self._example(),), buf, dynamo=False, opset_version=opset,
                                  input_names=["x"], output_names=names,
                                  dynamic_axes={n: {0: "batch"} for n in ["x", *names]})
        finally:
            for k in self.program.tree_kernels():
                k.batch_hint = None
        return buf.getvalue()

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``<name>.pt`` (TorchScript) and ``<name>.onnx``; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        pt, onx = out / f"{self.name}.pt", out / f"{self.name}.onnx"
        self._traced(self._example()).save(str(pt))
        onx.write_bytes(self.onnx_bytes())
        return [pt, onx]

    def footprint(self) -> dict[str, Any]:
        c = graph_cost(self.graph)
        return {"backend": self.backend, "device": self.device, "param_bytes": c["param_bytes"],
                "macs": c["macs"], "tree_strategies": self.strategies}


def patch_unsure(graph: Graph, arr: np.ndarray, outs: list[np.ndarray]) -> list[np.ndarray]:
    """Replace the flagged rows of every output by the IR reference's (the last entry is the flag)."""
    *vals, flag = outs
    rows = np.flatnonzero(flag.reshape(-1))
    if rows.size:
        ref = reference_run(graph, arr[rows])
        vals = [np.array(v) for v in vals]
        for v, name in zip(vals, graph.outputs, strict=True):
            if v.ndim and len(v) == len(arr):
                v[rows] = ref[name]
    return vals


class OrtModel(CompiledModel):
    """The exported ONNX program run by ONNX Runtime on the best provider present (``.provider``)."""

    backend = "onnxruntime"
    PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")

    def __init__(self, graph: Graph, name: str, *, threads: int | None = None, **options: Any) -> None:
        import onnxruntime as ort

        options.pop("device", None)  # the provider decides where it runs
        self.torch_model = TorchModel(graph, name, device="cpu", **options)
        super().__init__(self.torch_model.graph, name)
        self.onnx = self.torch_model.onnx_bytes()
        have = ort.get_available_providers()
        providers = [p for p in self.PREFERENCE if p in have] or have
        so = ort.SessionOptions()
        if threads is not None:
            so.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(self.onnx, so, providers=providers)
        self.provider = self.session.get_providers()[0]

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        arr = arrays[0]
        outs = self.session.run(None, {"x": arr})
        return patch_unsure(self.graph, arr, list(outs))

    def save(self, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        p = out / f"{self.name}.onnx"
        p.write_bytes(self.onnx)
        return [p]

    def footprint(self) -> dict[str, Any]:
        return {**self.torch_model.footprint(), "backend": self.backend, "provider": self.provider,
                "onnx_bytes": len(self.onnx)}


def convert_tensor(graph: Graph, name: str, backend: str = "torch", **options: Any) -> CompiledModel:
    """The tensor backends' entry point (``edgeinfer.convert(m, backend="torch" | "onnxruntime")``).

    >>> # convert_tensor(g, "rf", backend="torch", device="cuda", strategy="gemm")
    """
    if backend == "onnxruntime":
        return OrtModel(graph, name, **options)
    if backend != "torch":
        raise EdgeInferError(f"convert_tensor handles torch and onnxruntime, not {backend!r}")
    return TorchModel(graph, name, **options)
