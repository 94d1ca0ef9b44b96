"""PyTorch frontend: export a module to ONNX (TorchScript exporter, opset 17), then import it.

torch is imported only here, so edgeinfer works without it. The legacy exporter is
used because the dynamo one needs onnxscript and exports the same operators for the
layers edgeinfer supports.

>>> # g = from_torch(model, torch.zeros(1, 3, 32, 32))
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from edgeinfer.errors import InputError, UnsupportedModelError
from edgeinfer.ir.graph import Graph

OPSET = 17


def from_torch(model: Any, example_input: Any, optimize: bool = True) -> Graph:
    """Import a ``torch.nn.Module`` given one example input (its shape fixes the model's shape).

    The batch dimension stays symbolic, so any batch size can be predicted.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        raise UnsupportedModelError("converting a torch module needs PyTorch: pip install torch") from None
    from edgeinfer.frontends.onnx import from_onnx

    if example_input is None:
        raise InputError("converting a torch module needs example_input, e.g. torch.zeros(1, 3, 32, 32)")
    x = example_input if isinstance(example_input, torch.Tensor) else torch.as_tensor(example_input)
    if x.dtype == torch.float64:
        x = x.float()
    buf = io.BytesIO()
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=OPSET, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                              do_constant_folding=True)
    except Exception as e:
        raise UnsupportedModelError(f"torch.onnx.export failed for {type(model).__name__}: {e}") from None
    finally:
        model.train(was_training)
    g = from_onnx(buf.getvalue(), optimize=optimize)
    g.name = type(model).__name__
    return g
