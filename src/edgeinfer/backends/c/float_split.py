"""Float64 parameter tables stored for a float32 fast path with a double-precision fallback.

scikit-learn decides SVM votes, naive Bayes and nearest-centroid labels in float64. The
generated C computes them in float32 (fast on an FPU-only MCU) together with a certified
rounding-error bound, and recomputes a sample in double only when a decision margin is
inside that bound. Both paths read the *same* tables, so parameters are stored once:

* values that are small integers (pixel intensities, counts) are stored exactly as
  ``uint8`` / ``int8`` / ``uint16`` / ``int16``;
* values exactly representable in float32 (data fitted in float32) as one float32 table;
* anything else as ``hi = float32(v)`` plus ``lo = float32(v - hi)``: the fast path reads
  ``hi`` only, the fallback ``(double)hi + lo``, which is within 2**-48 relative of ``v``
  (the same 8 bytes a double table would take, without a double-to-float conversion in
  the fast loop, which is a library call on a Cortex-M4).

The error bounds in the emitters use :data:`U32` for the float32 unit roundoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeinfer.backends.c.context import EmitContext, ctype

#: float32 unit roundoff (half an ulp of 1.0).
U32 = 2.0 ** -24
#: float64 unit roundoff.
U64 = 2.0 ** -53


@dataclass
class SplitTable:
    """C identifiers of a stored table: ``hi`` (C type ``ctype``) and, when needed, ``lo`` (float)."""

    hi: str
    ctype: str
    lo: str | None

    def f32(self, index: str) -> str:
        """C expression: the float32 value at ``index`` (what the fast path reads)."""
        return f"{self.hi}[{index}]" if self.ctype == "float" else f"(float){self.hi}[{index}]"

    def f64(self, index: str) -> str:
        """C expression: the double value at ``index`` (what the fallback reads)."""
        if self.lo is None:
            return f"(double){self.hi}[{index}]"
        return f"((double){self.hi}[{index}] + (double){self.lo}[{index}])"


def exact_int_dtype(arr: np.ndarray) -> str | None:
    """Smallest integer dtype holding every value of ``arr`` exactly, or None if some value is not integral."""
    a = np.asarray(arr, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)) or not np.array_equal(a, np.round(a)):
        return None
    lo, hi = float(a.min()), float(a.max())
    # 16 bits at most, so that the fast path's (float) conversion stays exact
    for dt in ("uint8", "int8", "uint16", "int16"):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt
    return None


def split_f64(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(hi, lo)`` float32 arrays with ``hi + lo`` ~ ``arr``; ``lo`` is None when ``hi`` is exact.

    >>> split_f64(np.array([0.5]))[1] is None
    True
    """
    a = np.asarray(arr, dtype=np.float64)
    hi = a.astype(np.float32)
    rest = a - hi.astype(np.float64)
    if not np.any(rest):
        return hi, None
    return hi, rest.astype(np.float32)


def store(ctx: EmitContext, hint: str, arr: np.ndarray, allow_int: bool = True, low: bool = True) -> SplitTable:
    """Declare ``arr`` (float64 values) in flash in the smallest exact form; see the module docstring.

    ``low=False`` drops the low part (for code with no double path, which would never read it).
    """
    a = np.asarray(arr, dtype=np.float64)
    dt = exact_int_dtype(a) if allow_int else None
    if dt is not None:
        return SplitTable(ctx.const_array(hint, a.astype(dt), dt), ctype(dt), None)
    hi, lo = split_f64(a)
    hi_id = ctx.const_array(hint, hi, "float32")
    lo_id = None if lo is None or not low else ctx.const_array(hint + "_lo", lo, "float32")
    return SplitTable(hi_id, "float", lo_id)


def represented_exactly(table: SplitTable) -> bool:
    """True when the fast path's float32 values are the float64 values themselves."""
    return table.lo is None


def c_double(v: float) -> str:
    """A double literal that round-trips exactly."""
    f = float(v)
    if not np.isfinite(f):
        return "(1.0/0.0)" if f > 0 else ("(-1.0/0.0)" if f < 0 else "(0.0/0.0)")
    s = repr(f)
    if "e" not in s and "." not in s:
        s += ".0"
    return s


def base_name(ctx: EmitContext, sym: str) -> str:
    """``sym`` without the model-name prefix, as a table hint (``const_array`` adds the prefix again)."""
    prefix = ctx.name + "_"
    return sym[len(prefix):] if sym.startswith(prefix) else sym
