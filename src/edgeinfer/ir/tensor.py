"""Tensors of the IR: a name, a shape, a dtype, maybe constant data and quantization."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: dtypes the IR knows, by numpy name.
DTYPES = ("float32", "float64", "float16", "int8", "uint8", "int16", "uint16",
          "int32", "uint32", "int64", "bool")

Shape = tuple  # tuple[int | None, ...]; None only for a symbolic batch dimension


@dataclass
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis`."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def __post_init__(self) -> None:
        self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float32))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64))


@dataclass
class Tensor:
    """A named value in a Graph.

    ``shape`` includes the batch dimension first where the model has one; it may be
    ``None`` there (any batch). Constant tensors carry ``data`` (shape and dtype
    equal to the declared ones). ``offset`` is the byte offset in the static arena,
    set by the memory planner.

    >>> Tensor("w", (2, 3), "float32", data=np.zeros((2, 3), np.float32)).is_const
    True
    """

    name: str
    shape: Shape | None = None
    dtype: str = "float32"
    data: np.ndarray | None = None
    quant: QuantParams | None = None
    offset: int | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data is not None:
            self.data = np.asarray(self.data)
            if self.shape is None:
                self.shape = tuple(self.data.shape)
            if self.dtype is None:
                self.dtype = str(self.data.dtype)
        if self.shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in self.shape)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def itemsize(self) -> int:
        return 1 if self.dtype == "bool" else np.dtype(self.dtype).itemsize

    def numel(self, batch: int = 1) -> int:
        """Elements, with a symbolic batch dimension counted as ``batch``."""
        n = 1
        for d in self.shape or ():
            n *= batch if d is None else d
        return n

    def nbytes(self, batch: int = 1) -> int:
        return self.numel(batch) * self.itemsize
