"""The interpreter backend's model: an ``.eim`` file run by the C interpreter, on the host through ctypes.

``predict`` loads the very bytes ``save`` writes into the very runtime sources it copies
(``runtime/*.c`` and the kernel library files they call), compiled once per source hash with
the C backend's build helpers, so what is tested is what ships.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.backends.base import CompiledModel
from edgeinfer.backends.c.build import (
    HOST_OPT,
    SIMD_KERNEL_DIR,
    WARN_FLAGS,
    _cpu_id,
    _host_arch,
    cache_dir,
    host_cc,
    load,
)
from edgeinfer.backends.c.emit import KERNEL_DIR, check_name
from edgeinfer.backends.interp.format import DTYPES, HEADER, MAGIC, TENSOR, write_eim
from edgeinfer.errors import ModelFileError, ToolchainError
from edgeinfer.ir.graph import Graph

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
#: kernel library files the runtime ops call
KERNEL_FILES = ["ei_kernels.h", "ei_nn.h", "ei_dense.c", "ei_dense_exact.c", "ei_activation.c",
                "ei_activation_f64.c", "ei_reduce.c", "ei_conv.c", "ei_gemm.c", "ei_pool.c", "ei_int8.h",
                "ei_conv_s8.c", "ei_fc_s8.c", "ei_pool_s8.c", "ei_elementwise_s8.c", "ei_softmax_s8.c", "ei_int16.h",
                "ei_conv_s16.c", "ei_fc_s16.c", "ei_pool_s16.c", "ei_elementwise_s16.c", "ei_softmax_s16.c",
                "ei_act_s8.h", "ei_act_s8.c"]
RUNTIME_FILES = ["ei_interp.h", "ei_interp_ops.h", "ei_interp.c", "ei_ops_nn.c", "ei_ops_classic.c",
                 "ei_ops_certified.c", "ei_ops_int8.c", "ei_ops_layout.c", "ei_ops_tensor.c", "ei_ops_fixed.c",
                 "ei_ops_all.c"]

STATUS = ["ok", "bad argument", "truncated", "trailing bytes", "bad magic", "unsupported version",
          "checksum mismatch", "inconsistent header", "invalid tensor", "unknown op", "invalid op",
          "arena too small", "not loaded"]

# Host-only: the model is loaded (validated, CRC included) once into a caller-owned ei_model_t, then
# every call runs rows through invoke only; ei_host_bench times invoke alone in C.
HOST_C = r"""
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include "ei_interp.h"
uint32_t ei_host_model_size(void);
int32_t ei_host_load(ei_model_t *m, const uint8_t *buf, uint32_t len, uint8_t *arena, uint32_t arena_len,
                     uint32_t n_in, const uint32_t *in_bytes, uint32_t n_out, const uint32_t *out_bytes);
int32_t ei_host_run(const ei_model_t *m, int32_t rows, const uint8_t *const *ins, const uint32_t *in_bytes,
                    uint8_t *const *outs, const uint32_t *out_bytes);
double ei_host_bench(const ei_model_t *m, int32_t reps, const void *const *ins, void *const *outs);

uint32_t ei_host_model_size(void)
{
  return (uint32_t)sizeof(ei_model_t);
}

int32_t ei_host_load(ei_model_t *m, const uint8_t *buf, uint32_t len, uint8_t *arena, uint32_t arena_len,
                     uint32_t n_in, const uint32_t *in_bytes, uint32_t n_out, const uint32_t *out_bytes)
{
  uint32_t i;
  ei_status_t st = ei_model_load(m, buf, len, arena, arena_len);
  if (st != EI_OK) return (int32_t)st;
  if (ei_model_n_inputs(m) != n_in || ei_model_n_outputs(m) != n_out || n_in > 8 || n_out > 8) {
    return (int32_t)EI_ERR_ARG;
  }
  for (i = 0; i < n_in; ++i) {
    if (ei_model_input_bytes(m, i) != in_bytes[i]) return (int32_t)EI_ERR_ARG;
  }
  for (i = 0; i < n_out; ++i) {
    if (ei_model_output_bytes(m, i) != out_bytes[i]) return (int32_t)EI_ERR_ARG;
  }
  return 0;
}

int32_t ei_host_run(const ei_model_t *m, int32_t rows, const uint8_t *const *ins, const uint32_t *in_bytes,
                    uint8_t *const *outs, const uint32_t *out_bytes)
{
  const void *in[8];
  void *out[8];
  int32_t r;
  uint32_t i;
  ei_status_t st;
  for (r = 0; r < rows; ++r) {
    for (i = 0; i < ei_model_n_inputs(m); ++i) in[i] = ins[i] + (long)r * in_bytes[i];
    for (i = 0; i < ei_model_n_outputs(m); ++i) out[i] = outs[i] + (long)r * out_bytes[i];
    st = ei_model_invoke(m, in, out);
    if (st != EI_OK) return (int32_t)st;
  }
  return 0;
}

double ei_host_bench(const ei_model_t *m, int32_t reps, const void *const *ins, void *const *outs)
{
  struct timespec t0, t1;
  int32_t r;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (r = 0; r < reps; ++r) ei_model_invoke(m, ins, outs);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (reps > 0 ? reps : 1);
}
"""


def runtime_sources() -> dict[str, str]:
    """File name -> text of the interpreter runtime and the kernel library files it calls."""
    files = {f: (RUNTIME_DIR / f).read_text() for f in RUNTIME_FILES}
    files.update({f: (KERNEL_DIR / f).read_text() for f in KERNEL_FILES})
    return files


def build_host(extra: list[str] | None = None, opt: str = HOST_OPT) -> Path:
    """Compile the runtime (+ host entry points) into a cached shared library; returns its path.

    Same optimisation and -march flags as the C backend's host build, so that latency compares
    kernels, not compilers.
    """
    files = runtime_sources()
    # the host links the vectorised int8 twins, as the C backend's host build does (same symbols and
    # bytes), so that latency compares the interpreter with generated code, not two kernel sets
    twins = [k for k in files if k.endswith(".c") and (SIMD_KERNEL_DIR / k).is_file()]
    for k in twins:
        files[k] = (SIMD_KERNEL_DIR / k).read_text()
    if twins:
        files["ei_int8_simd.h"] = (SIMD_KERNEL_DIR / "ei_int8_simd.h").read_text()
    files["ei_host.c"] = HOST_C
    flags = WARN_FLAGS + [opt, *_host_arch(), "-fPIC", "-shared"] + list(extra or [])
    h = hashlib.sha256()
    h.update(_cpu_id())
    for k in sorted(files):
        h.update(k.encode() + b"\0" + files[k].encode() + b"\0")
    h.update(" ".join(flags).encode())
    lib = cache_dir() / f"ei_interp_{h.hexdigest()[:20]}.so"
    if lib.exists():
        return lib
    with tempfile.TemporaryDirectory(prefix="edgeinfer_interp_") as tmp:
        for k, v in files.items():
            Path(tmp, k).write_text(v)
        out = Path(tmp, "lib.so")
        cmd = [host_cc(), *flags, "-o", str(out), *[k for k in files if k.endswith(".c")], "-lm"]
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolchainError(f"compiling the interpreter failed ({' '.join(cmd)}):\n{r.stderr[-4000:]}")
        tmp_lib = lib.with_suffix(f".{os.getpid()}.tmp")
        shutil.copy(out, tmp_lib)
        os.replace(tmp_lib, lib)
    return lib


_LIB: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        lib = load(build_host())
        lib.ei_host_model_size.restype = ctypes.c_uint32
        lib.ei_host_load.restype = ctypes.c_int32
        lib.ei_host_run.restype = ctypes.c_int32
        lib.ei_host_bench.restype = ctypes.c_double
        _LIB = lib
    return _LIB


def _aligned(data: bytes) -> np.ndarray:
    """A 64-byte aligned copy of ``data`` (the runtime refuses buffers not 8-byte aligned)."""
    raw = np.zeros(len(data) + 64, np.uint8)
    start = -raw.ctypes.data % 64  # cache-line aligned, as the file's large tables expect
    buf = raw[start:start + len(data)]
    buf[:] = np.frombuffer(data, np.uint8)
    return buf


def _refused(st: int) -> ModelFileError:
    why = STATUS[st] if 0 <= st < len(STATUS) else f"status {st}"
    return ModelFileError(f"the interpreter refused the model: {why} (code {st})")


class LoadedModel:
    """A model buffer loaded once by ``ei_model_load`` (validation and CRC paid here), then invoked per call.

    Why: loading checks every byte of the file; a firmware does it once at boot, so host calls must
    not pay it per batch either. Holds the aligned buffer, the arena and the ``ei_model_t`` (which
    points into both) for as long as it lives.

    >>> # lm = LoadedModel(data, [((4,), np.float32)], [((3,), np.float32)]); lm.run([x])
    """

    def __init__(self, data: bytes, in_specs: list[tuple[tuple, np.dtype]],
                 out_specs: list[tuple[tuple, np.dtype]], arena_bytes: int | None = None) -> None:
        lib = _lib()
        self.buf = _aligned(data)
        if arena_bytes is None:
            arena_bytes = HEADER.unpack_from(data)[13] if len(data) >= HEADER.size else 0
        self.arena = np.zeros(max(1, (arena_bytes + 7) // 8), np.uint64)
        self.model = np.zeros((lib.ei_host_model_size() + 7) // 8, np.uint64)
        self.out_specs = [(tuple(s), np.dtype(d)) for s, d in out_specs]
        nbytes = [int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize for s, d in in_specs]
        self.in_bytes = (ctypes.c_uint32 * len(in_specs))(*nbytes)
        self.out_bytes = (ctypes.c_uint32 * len(out_specs))(
            *[int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize for s, d in out_specs])
        st = lib.ei_host_load(self._ptr(self.model), self._ptr(self.buf), ctypes.c_uint32(len(data)),
                              self._ptr(self.arena), ctypes.c_uint32(arena_bytes), ctypes.c_uint32(len(in_specs)),
                              self.in_bytes, ctypes.c_uint32(len(out_specs)), self.out_bytes)
        if st != 0:
            raise _refused(st)

    @staticmethod
    def _ptr(a: np.ndarray) -> ctypes.c_void_p:
        return ctypes.c_void_p(a.ctypes.data)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Invoke once per row of ``inputs`` (rows along axis 0); the outputs as arrays."""
        n = len(inputs[0])
        ins = [np.ascontiguousarray(a) for a in inputs]
        for a, nb in zip(ins, self.in_bytes, strict=True):
            if n and a[0].nbytes != nb:
                raise ModelFileError(f"the model takes {nb}-byte samples, got {a[0].nbytes} bytes per row")
        outs = [np.zeros((n, *shape), dtype) for shape, dtype in self.out_specs]
        in_ptrs = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
        out_ptrs = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
        st = _lib().ei_host_run(self._ptr(self.model), ctypes.c_int32(n), in_ptrs, self.in_bytes, out_ptrs,
                                self.out_bytes)
        if st != 0:
            raise _refused(st)
        return outs

    def bench_ns(self, inputs: list[np.ndarray], reps: int) -> float:
        """Mean ns of one ``ei_model_invoke`` over ``reps`` calls on the first row, timed in C."""
        ins = [np.ascontiguousarray(a[:1]) for a in inputs]
        outs = [np.zeros((1, *shape), dtype) for shape, dtype in self.out_specs]
        in_ptrs = (ctypes.c_void_p * len(ins))(*[a.ctypes.data for a in ins])
        out_ptrs = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
        return float(_lib().ei_host_bench(self._ptr(self.model), ctypes.c_int32(reps), in_ptrs, out_ptrs))


def invoke(data: bytes, inputs: list[np.ndarray], out_specs: list[tuple[tuple, np.dtype]],
           arena_bytes: int | None = None) -> list[np.ndarray]:
    """Load a model buffer and run a batch (rows along axis 0) through the C interpreter, once.

    Raises ModelFileError with the runtime's status when the buffer is refused.
    """
    in_specs = [(a.shape[1:], a.dtype) for a in inputs]
    return LoadedModel(data, in_specs, out_specs, arena_bytes).run(inputs)


def _sample_shape(shape: tuple | None) -> tuple:
    """What one invoke reads or writes: the shape without its batch axis (None or 1), or the whole shape when
    the leading axis is not a batch (an output such as ONNX Squeeze's (3, 4, 5) of a batch-1 input)."""
    shape = tuple(shape or ())
    if shape and shape[0] not in (None, 1):
        return shape
    return tuple(1 if d is None else d for d in shape[1:])


class InterpModel(CompiledModel):
    """A Graph written as an ``.eim`` file and run by the C interpreter.

    >>> # m = InterpModel(graph, "kws"); m.predict(X); m.save("out/")
    """

    backend = "interp"

    def __init__(self, graph: Graph, name: str, options: dict | None = None) -> None:
        self.options = dict(options or {})
        check_name(name)
        self.blob = write_eim(graph, self.options)
        planned = graph.copy().validate()
        planned.metadata["arena_bytes"] = self.blob.arena_bytes
        super().__init__(planned, name)

    @property
    def data(self) -> bytes:
        return self.blob.data

    def _out_specs(self) -> list[tuple[tuple, np.dtype]]:
        return [(_sample_shape(self.graph.tensors[o].shape), np.dtype(self.graph.tensors[o].dtype))
                for o in self.graph.outputs]

    def loaded(self) -> LoadedModel:
        """The model loaded once into the C interpreter (kept: later calls only invoke)."""
        if getattr(self, "_loaded", None) is None:
            ins = []
            for i in self.graph.inputs:
                t = self.graph.tensors[i]
                ins.append((_sample_shape(t.shape), np.dtype(t.dtype)))
            self._loaded = LoadedModel(self.blob.data, ins, self._out_specs(), self.blob.arena_bytes)
        return self._loaded

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        return self.loaded().run(arrays)

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``<name>.eim``, ``<name>_eim.h`` (bytes as a const array, arena size) and the runtime sources."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        up = self.name.upper()
        words = np.frombuffer(self.blob.data, np.uint8)
        rows = [", ".join(f"0x{v:02x}" for v in words[i:i + 16]) for i in range(0, len(words), 16)]
        header = "\n".join([
            f"/* {self.name}_eim.h: the {self.name} model as an .eim buffer (edgeinfer interpreter). */",
            f"#ifndef {up}_EIM_H", f"#define {up}_EIM_H", "", "#include <stdint.h>", "",
            f"#define EI_{up}_ARENA_BYTES {max(self.blob.arena_bytes, 1)}",
            f"#define EI_{up}_EIM_LEN {len(words)}u", "",
            "/* 8-byte aligned: the interpreter reads it in place (from flash). */",
            f"static const union {{ uint64_t align_; uint8_t b[{len(words)}]; }} {self.name}_eim_buf = {{ .b = {{",
            *["  " + r + "," for r in rows], "} };",
            f"#define {self.name}_eim ({self.name}_eim_buf.b)",
            f"#define {self.name}_eim_len EI_{up}_EIM_LEN", "", f"#endif /* {up}_EIM_H */", ""])
        paths = [out / f"{self.name}.eim", out / f"{self.name}_eim.h"]
        paths[0].write_bytes(self.blob.data)
        paths[1].write_text(header)
        for f, text in runtime_sources().items():
            p = out / f
            p.write_text(text)
            paths.append(p)
        return paths

    def footprint(self) -> dict[str, Any]:
        """Model file bytes (flash, data), runtime code (host gcc -Os, all ops), arena and scratch (RAM)."""
        code = runtime_code_bytes(host_cc(), ["-Os"])
        return {"flash_bytes": len(self.blob.data) + code, "model_bytes": len(self.blob.data),
                "runtime_code_bytes": code, "ram_bytes": self.blob.arena_bytes,
                "arena_bytes": self.blob.arena_bytes, "scratch_bytes": self.blob.scratch_bytes,
                "const_bytes": self.blob.const_bytes, "estimate": "host gcc -Os"}


def runtime_code_bytes(cc: str, flags: list[str]) -> int:
    """text + data of the runtime and its kernels compiled as objects (every op registered)."""
    size_tool = shutil.which(cc.replace("gcc", "size")) if cc.endswith("gcc") else shutil.which("size")
    size_tool = size_tool or shutil.which("size")
    if size_tool is None:
        return 0
    files = runtime_sources()
    with tempfile.TemporaryDirectory(prefix="edgeinfer_isz_") as tmp:
        for k, v in files.items():
            Path(tmp, k).write_text(v)
        cfiles = [k for k in files if k.endswith(".c")]
        r = subprocess.run([cc, *WARN_FLAGS, *flags, "-c", *cfiles], cwd=tmp, capture_output=True, text=True)
        if r.returncode != 0:
            raise ToolchainError(f"compiling the interpreter failed:\n{r.stderr[-4000:]}")
        s = subprocess.run([size_tool, *[c[:-2] + ".o" for c in cfiles]], cwd=tmp, capture_output=True, text=True)
    total = 0
    for line in s.stdout.splitlines()[1:]:
        parts = line.split()
        total += int(parts[0]) + int(parts[1])
    return total


def read_io(data: bytes) -> tuple[list[tuple[tuple, np.dtype]], list[tuple[tuple, np.dtype]]]:
    """(inputs, outputs) as (one-sample shape, dtype) read from an .eim buffer's tensor table."""
    if len(data) < HEADER.size or HEADER.unpack_from(data)[0] != MAGIC:
        raise ModelFileError("not an .eim model file (bad magic)")
    h = HEADER.unpack_from(data)
    n_t, n_in, n_out, t_off, io_off = h[4], h[6], h[7], h[8], h[10]
    if io_off + 2 * (n_in + n_out) > len(data) or t_off + TENSOR.size * n_t > len(data):
        raise ModelFileError("truncated .eim model file")
    names = {v: k for k, v in DTYPES.items()}
    specs = []
    for i in range(n_in + n_out):
        (ti,) = np.frombuffer(data, "<u2", 1, io_off + 2 * i)
        if ti >= n_t:
            raise ModelFileError("corrupt .eim model file (io table)")
        rec = TENSOR.unpack_from(data, t_off + TENSOR.size * int(ti))
        dtype, ndim, dims = rec[0], rec[2], rec[4:8]
        if dtype not in names or ndim > 4:
            raise ModelFileError("corrupt .eim model file (tensor table)")
        shape = tuple(dims[1:ndim]) if dims[0] == 1 else tuple(dims[:ndim])
        specs.append((shape, np.dtype(names[dtype])))
    return specs[:n_in], specs[n_in:]


def run_file(path: str | Path, x: Any) -> dict[str, np.ndarray]:
    """Run an ``.eim`` file on ``x`` (one sample or a batch) with the C interpreter; outputs by index.

    >>> # run_file("out/kws.eim", np.zeros((1, 1, 49, 10), np.float32))
    """
    data = Path(path).read_bytes()
    ins, outs = read_io(data)
    shape, dtype = ins[0]
    arr = np.asarray(x, dtype=dtype)
    if arr.shape == shape:
        arr = arr[None]
    if tuple(arr.shape[1:]) != shape and int(np.prod(arr.shape[1:])) == int(np.prod(shape)):
        arr = arr.reshape(len(arr), *shape)
    if tuple(arr.shape[1:]) != tuple(shape):
        raise ModelFileError(f"{Path(path).name} expects samples of shape {shape}, got {arr.shape}")
    res = invoke(data, [arr], outs)
    return {f"output{i}": r for i, r in enumerate(res)}
