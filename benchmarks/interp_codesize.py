"""Interpreter runtime code size: edgeinfer's .eim interpreter against TFLite Micro, same kernel set (issue 7).

    .venv/bin/python benchmarks/interp_codesize.py

The bar: edgeinfer's interpreter runtime with the zoo models' kernels registered at most 0.5x TFLite
Micro's for the same kernel set on cortex-m4. No TFLM sources or ARM build of TFLM can be installed
here (the only packaged TFLM, the ``tflite-micro`` wheel, ships an x86-64 ``_runtime.so``; the other
registry packages that mention it ship no sources), so TFLM's side is an **x86-64 proxy**:

* Kernel set: the TFLite builtin ops of the four zoo models as TensorFlow's converter makes them
  int8 (``benchmarks/quant.py``'s Keras twins and converter settings), read from the ``.tflite`` files.
* TFLM: a call-graph walk over ``_runtime.so`` (not stripped): nodes are its functions and named data
  objects; edges are direct calls and jumps, RIP-relative references (``lea`` of a function or of a
  vtable/registration table: address-taken functions) and the dynamic relocations inside data
  objects (vtable and table entries). Roots: every ``MicroInterpreter::`` and ``MicroAllocator::``
  method, the op resolver's methods, and per op of the set its ``Register_<OP>()`` and the builtin
  option parser ``AddXxx()`` would register. pybind11, the Python wrapper and CPython are never
  reached from those roots (checked), nor are kernels outside the set. Counted: the bytes of the
  reached functions. The wheel is built with gcc 14 as Bazel's ``-c opt`` builds (``-O2``, frame
  pointers kept, ``-fstack-protector``, ``_FORTIFY_SOURCE=1``: all visible in its code), and it has
  TFLM's weight-compression support compiled in; the figure without the functions of that support
  (walk cut at them) is reported too.
* edgeinfer on x86-64: the runtime and kernel files the interpreter compiles, plus a resolver, built
  as a shared object with the wheel's flags (and at -O3, for sensitivity), walked the same way from
  the public ``ei_model_*`` API (``ei_model_load``, which registers every op, excepted) and the
  resolver. Three registration sets: int8 (what edgeinfer's import of the same ``.tflite`` files
  lowers to), float (what the float zoo models lower to: the interpreter's zoo in interp.py), and
  both (a TFLM registration covers float, int8 and int16 at once).
* edgeinfer on cortex-m4 (the bar's target): ``arm-none-eabi-gcc -Os``, ``--gc-sections``,
  text + data minus an empty program, as ``benchmarks/interp.py`` measures it.

Writes benchmarks/results/interp_codesize.json. Needs TensorFlow (to build the ``.tflite`` files, once;
cached under ``$EDGEINFER_CACHE/interp_codesize``), gcc, binutils and, for the M4 row,
arm-none-eabi-gcc.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "interp_codesize.json"
ZOO = ["fc_autoencoder", "ds_cnn", "resnet8", "mobilenet_v1"]
#: the wheel's flags as its code shows them (Bazel -c opt defaults, gcc): see the module docstring
X86_FLAGS = ["-O2", "-fno-omit-frame-pointer", "-fstack-protector", "-D_FORTIFY_SOURCE=1",
             "-ffunction-sections", "-fdata-sections", "-fPIC"]
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99",
            "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", "-specs=nano.specs", "-specs=nosys.specs"]
#: TFLite builtin op -> the option parser MicroMutableOpResolver::AddXxx registers beside the kernel,
#: where its name is not Parse + the op's CamelCase (micro_mutable_op_resolver.h)
PARSERS = {"AVERAGE_POOL_2D": "ParsePool", "MAX_POOL_2D": "ParsePool", "MEAN": "ParseReducer",
           "SUM": "ParseReducer", "REDUCE_MAX": "ParseReducer", "CONV_2D": "ParseConv2D",
           "DEPTHWISE_CONV_2D": "ParseDepthwiseConv2D"}
#: names of TFLM's weight-compression support (USE_TFLM_COMPRESSION), reported apart
COMPRESSION = re.compile(r"ecompress|[Cc]ompression|DecodeState")
#: code that must never be reached from TFLM's roots: the Python binding, pybind11, CPython
BINDING = re.compile(r"pybind11|InterpreterWrapper|PythonOpsResolver|_object\b|Py[A-Z_]")


class CodeSizeError(RuntimeError):
    """A tool is missing or a binary lacks what the walk needs (symbols, a root)."""


# --- the call-graph walk ----------------------------------------------------------------------------
@dataclass
class Symbol:
    """One function or named data object of an ELF file (aliases at one address share it)."""

    addr: int
    size: int
    kind: str  # "func" or "object"
    names: list[str] = field(default_factory=list)
    demangled: list[str] = field(default_factory=list)
    edges: set[int] = field(default_factory=set)  # addresses of the symbols it references

    @property
    def name(self) -> str:
        return self.demangled[0] if self.demangled else self.names[0]


def _tool(name: str, prefix: str = "") -> str:
    path = shutil.which(prefix + name)
    if path is None:
        raise CodeSizeError(f"{prefix + name} not found: install binutils ({prefix or 'host'})")
    return path


def _out(cmd: list[str], stdin: str | None = None) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, input=stdin)
    if r.returncode != 0:
        raise CodeSizeError(f"{' '.join(cmd[:3])} ... failed: {r.stderr[-2000:]}")
    return r.stdout


class CallGraph:
    """Functions and data objects of an ELF shared object or PIE, and what references what.

    Why relocations: in position-independent code a pointer stored in data (a vtable entry, a
    registration table's Init/Prepare/Eval) is a dynamic relocation, so a data object's outgoing
    edges are exactly the relocations inside it. A non-PIC executable has none: walk PIC/PIE only.

    >>> # CallGraph("lib.so").reachable(["main"]) -> set of symbol addresses
    """

    INSN = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
    TARGET = re.compile(r"\b([0-9a-f]+) <([^>]*)>")

    def __init__(self, path: str | Path, prefix: str = "") -> None:
        self.path = str(path)
        self.syms: dict[int, Symbol] = {}
        self._symbols(_tool("readelf", prefix), _tool("c++filt", prefix))
        if not self.syms:
            raise CodeSizeError(f"{self.path} has no symbol table (stripped?): the walk needs .symtab")
        self.starts = sorted(self.syms)
        self.by_name = {n: s.addr for s in self.syms.values() for n in s.names}
        self.relocs: dict[int, int | str] = {}  # slot address -> target address, or an external name
        self._relocations(_tool("readelf", prefix))
        self.externals: dict[int, set[str]] = {}  # calls that leave the file (libc, libstdc++, libm)
        self._code_edges(_tool("objdump", prefix))
        self._data_edges()

    def _symbols(self, readelf: str, cxxfilt: str) -> None:
        table = None
        for line in _out([readelf, "-sW", self.path]).splitlines():
            if line.startswith("Symbol table"):
                table = ".symtab" if "'.symtab'" in line else "other"
                continue
            p = line.split()
            if table != ".symtab" or len(p) < 8 or not p[0].rstrip(":").isdigit():
                continue
            # name and section index from the end: a GNU_UNIQUE binding prints as two words
            addr, size, typ, ndx, name = int(p[1], 16), int(p[2], 0), p[3], p[-2], p[-1]
            if typ not in ("FUNC", "OBJECT") or ndx == "UND" or size == 0:
                continue
            s = self.syms.setdefault(addr, Symbol(addr, size, "func" if typ == "FUNC" else "object"))
            s.size = max(s.size, size)
            if name not in s.names:
                s.names.append(name)
        names = [n for s in self.syms.values() for n in s.names]
        dem = _out([cxxfilt], "\n".join(names) + "\n").splitlines() if names else []
        table_of = dict(zip(names, dem, strict=True))
        for s in self.syms.values():
            s.demangled = [table_of[n] for n in s.names]

    def at(self, addr: int) -> Symbol | None:
        """The symbol whose bytes hold ``addr``."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        s = self.syms[self.starts[i]]
        return s if addr < s.addr + s.size else None

    def _relocations(self, readelf: str) -> None:
        for line in _out([readelf, "-rW", self.path]).splitlines():
            p = line.split()
            if len(p) < 4 or "_RELATIVE" not in p[2] and not re.match(r"R_\w+_(64|GLOB_DAT|JUMP_SLOT|ABS32)$", p[2]):
                continue
            slot = int(p[0], 16)
            if p[2].endswith("_RELATIVE"):
                self.relocs[slot] = int(p[3], 16)
            elif len(p) >= 5:
                val = int(p[3], 16)
                addend = int(p[-1], 16) if len(p) >= 7 and p[-2] in "+-" else 0
                self.relocs[slot] = val + addend if val else p[4].split("@")[0]

    def _link(self, src: Symbol, target: int | str) -> None:
        if isinstance(target, str):  # resolved by name: defined here, or external
            addr = self.by_name.get(target)
            if addr is None:
                self.externals.setdefault(src.addr, set()).add(target)
                return
            target = addr
        dst = self.at(target)
        if dst is None and target in self.relocs:  # a GOT slot: follow it
            nxt = self.relocs[target]
            dst = self.at(nxt) if isinstance(nxt, int) else None
            if dst is None and isinstance(nxt, str):
                self._link(src, nxt)
                return
        if dst is not None and dst is not src:
            src.edges.add(dst.addr)

    def _code_edges(self, objdump: str) -> None:
        cur: Symbol | None = None
        text = _out([objdump, "-d", "-w", "--no-show-raw-insn", self.path])
        for line in text.splitlines():
            m = self.INSN.match(line)
            if not m:
                continue
            addr = int(m.group(1), 16)
            if cur is None or not cur.addr <= addr < cur.addr + cur.size:
                cur = self.at(addr)
            if cur is None or cur.kind != "func":
                continue
            for t, label in self.TARGET.findall(m.group(2)):
                self._link(cur, label[:-4] if label.endswith("@plt") else int(t, 16))

    def _data_edges(self) -> None:
        slots = sorted(self.relocs)
        for s in self.syms.values():
            if s.kind != "object":
                continue
            i = bisect.bisect_left(slots, s.addr)
            while i < len(slots) and slots[i] < s.addr + s.size:
                self._link(s, self.relocs[slots[i]])
                i += 1

    def find(self, pattern: str | re.Pattern[str]) -> list[int]:
        """Addresses of the functions one of whose (demangled) names matches ``pattern`` (re.search)."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        return sorted(s.addr for s in self.syms.values()
                      if s.kind == "func" and any(rx.search(n) for n in s.demangled + s.names))

    def reachable(self, roots: Iterable[int | str], stop: Callable[[Symbol], bool] | None = None) -> set[int]:
        """Addresses of every symbol reachable from ``roots`` (addresses or exact names).

        ``stop``: symbols for which it is true are neither counted nor walked through.
        """
        todo = []
        for r in roots:
            a = self.by_name.get(r) if isinstance(r, str) else r
            if a is None or a not in self.syms:
                raise CodeSizeError(f"root {r!r} is not a symbol of {self.path}")
            todo.append(a)
        seen: set[int] = set()
        while todo:
            a = todo.pop()
            if a in seen or (stop is not None and stop(self.syms[a])):
                continue
            seen.add(a)
            todo.extend(self.syms[a].edges - seen)
        return seen

    def code_bytes(self, addrs: Iterable[int]) -> int:
        """Bytes of the functions among ``addrs``."""
        return sum(self.syms[a].size for a in addrs if self.syms[a].kind == "func")

    def data_bytes(self, addrs: Iterable[int]) -> int:
        """Bytes of the named data objects among ``addrs`` (vtables, tables; not anonymous literals)."""
        return sum(self.syms[a].size for a in addrs if self.syms[a].kind == "object")


# --- the kernel set -----------------------------------------------------------------------------------
def cache_dir() -> Path:
    d = Path(os.environ.get("EDGEINFER_CACHE", Path.home() / ".cache" / "edgeinfer")) / "interp_codesize"
    d.mkdir(parents=True, exist_ok=True)
    return d


def zoo_int8_tflite() -> dict[str, Path]:
    """The zoo models' int8 ``.tflite`` files as benchmarks/quant.py makes them (cached: TF is slow)."""
    out = {n: cache_dir() / f"{n}_int8.tflite" for n in ZOO}
    if all(p.exists() for p in out.values()):
        return out
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    import nn_float as nf
    import quant
    from edgeinfer import zoo

    torch.manual_seed(0)
    for name, path in out.items():
        if path.exists():
            continue
        module = zoo.MODELS[name]()
        nf.randomise_batchnorm(module, 1)
        shape = zoo.INPUTS[name]
        cal = np.random.default_rng(0).standard_normal((16, *shape[1:])).astype(np.float32)
        if len(shape) == 4:
            cal = np.ascontiguousarray(cal.transpose(0, 2, 3, 1))
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(quant.tf_int8(nf.keras_twin(name, module), cal))
        os.replace(tmp, path)
    return out


def tflite_ops(path: Path) -> list[str]:
    """The builtin op names a ``.tflite`` file's operators use."""
    from edgeinfer.frontends.tflite import _names, _schema

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = _names(schema.BuiltinOperator)
    codes = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode), f"code {c.builtinCode}")
             for c in model.operatorCodes]
    return sorted({codes[op.opcodeIndex] for sg in model.subgraphs for op in sg.operators or []})


def edgeinfer_int8_regs(paths: dict[str, Path]) -> dict[str, dict[str, list[str]]]:
    """Per model, the interpreter registrations (EI_REG_*) that edgeinfer's import of its int8 ``.tflite`` lowers to.

    Why op by op rather than ``write_eim``: TensorFlow spells torch's symmetric padding as PAD ops and the
    interpreter has no Pad (its convs carry their padding), so it refuses these files whole; lowering
    every other node as ``write_eim`` does gives the registrations the rest needs, and the ops without
    an interpreter kernel are listed (TFLM's figure without them is reported too).
    """
    import edgeinfer
    from edgeinfer.backends.c.ops.nn import conv_accumulate_ok, conv_alias_ok, conv_scratch_bytes
    from edgeinfer.backends.interp import format as eim
    from edgeinfer.passes.memory import plan_memory

    out = {}
    for name, path in paths.items():
        g = edgeinfer.load_graph(str(path)).copy().validate()
        g = plan_memory(g, alias_ok=conv_alias_ok, scratch=conv_scratch_bytes, accumulate=conv_accumulate_ok)
        b = eim._Builder(g, {})
        missing = set()
        for node in g.nodes:
            if node.op in eim.LOWERINGS:
                eim.LOWERINGS[node.op](b, node)
            else:
                missing.add(node.op)
        out[name] = {"registrations": sorted({"EI_REG_" + eim.OP_NAMES[o[0]] for o in b.ops}),
                     "ops_without_interpreter_kernel": sorted(missing)}
    return out


def float_zoo_regs() -> list[str]:
    """The registrations of the float zoo models (what benchmarks/interp.py registers), from the models."""
    import numpy as np
    import torch

    import edgeinfer
    from edgeinfer import zoo
    from edgeinfer.backends.interp.format import OP_NAMES, write_eim

    regs: set[str] = set()
    for name in ZOO:
        x = np.zeros(zoo.INPUTS[name], np.float32)
        g = edgeinfer.load_graph(zoo.MODELS[name](), torch.from_numpy(x))
        regs |= {"EI_REG_" + OP_NAMES[c] for c in write_eim(g).opcodes}
    return sorted(regs)


# --- TFLite Micro ------------------------------------------------------------------------------------
def tflm_so() -> Path:
    try:
        import tflite_micro
    except ImportError:
        raise CodeSizeError("tflite-micro is not installed: pip install tflite-micro") from None
    so = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "_runtime.so"
    if not so.exists():
        raise CodeSizeError(f"{so} not found: this tflite-micro wheel has another layout")
    return so


def parser_name(op: str) -> str:
    return PARSERS.get(op) or "Parse" + "".join(w.capitalize() for w in op.split("_"))


def tflm_roots(cg: CallGraph, ops: list[str]) -> dict[str, list[int]]:
    """Root functions per part: the interpreter, allocator, resolver, and each op's kernel and parser."""
    ns = r"^tflite::(?:micro::)?"
    roots = {"MicroInterpreter": cg.find(ns + r"MicroInterpreter::"),
             "MicroAllocator": cg.find(ns + r"MicroAllocator::"),
             "MicroMutableOpResolver": cg.find(ns + r"MicroMutableOpResolver<\d+u?>::")}
    for op in ops:
        roots[op] = cg.find(ns + rf"Register_{op}\(\)$") + cg.find(ns + rf"{parser_name(op)}\(")
    empty = [k for k, v in roots.items() if not v or (k in ops and len(v) < 2)]
    if empty:
        raise CodeSizeError(f"no (or only part of the) root functions for {', '.join(empty)} in {cg.path}")
    return roots


def measure_tflm(ops: list[str], like_ops: list[str]) -> dict[str, Any]:
    """The walk over the wheel for the kernel set ``ops``, and for ``like_ops`` (the ops edgeinfer has kernels for)."""
    so = tflm_so()
    cg = CallGraph(so)
    roots = tflm_roots(cg, ops)
    core_parts = ("MicroInterpreter", "MicroAllocator", "MicroMutableOpResolver")
    every = [a for v in roots.values() for a in v]
    like = [a for k, v in roots.items() if k in core_parts or k in like_ops for a in v]
    reach = cg.reachable(every)
    leaked = sorted(cg.syms[a].name for a in reach if BINDING.search(cg.syms[a].name))
    if leaked:
        raise CodeSizeError(f"the walk reached binding code (roots too wide?): {leaked[:5]}")
    other_kernels = sorted(n for a in reach for n in cg.syms[a].demangled
                           if re.search(r"Register_(\w+)\(\)$", n) and not any(f"Register_{o}()" in n for o in ops))

    def lean(rts: list[int]) -> set[int]:
        return cg.reachable(rts, stop=lambda s: bool(COMPRESSION.search(s.name)))

    # what each op adds beyond the interpreter core (interpreter + allocator + resolver)
    core = cg.reachable([a for k in core_parts for a in roots[k]])
    per_op = {op: cg.code_bytes(cg.reachable(roots[op]) - core) for op in ops}
    top = sorted(reach, key=lambda a: -cg.syms[a].size)[:15]
    return {"binary": f"tflite_micro/python/tflite_micro/{so.name}", "compiler": _comment(so),
            "code_bytes": cg.code_bytes(reach), "functions": sum(cg.syms[a].kind == "func" for a in reach),
            "named_data_bytes": cg.data_bytes(reach), "code_bytes_without_compression": cg.code_bytes(lean(every)),
            "like_ops": like_ops, "code_bytes_like_ops": cg.code_bytes(cg.reachable(like)),
            "code_bytes_like_ops_without_compression": cg.code_bytes(lean(like)),
            "core_code_bytes": cg.code_bytes(core), "core_code_bytes_without_compression": cg.code_bytes(lean(
                [a for k in core_parts for a in roots[k]])),
            "per_op_code_bytes_beyond_core": per_op, "other_kernel_registrations_reached": other_kernels,
            "external_calls": sorted({n for a in reach for n in cg.externals.get(a, ())}),
            "largest_functions": [[cg.syms[a].name[:90], cg.syms[a].size] for a in top]}


def _comment(path: Path) -> str:
    try:
        text = _out([_tool("readelf"), "-p", ".comment", str(path)])
    except CodeSizeError:
        return "?"
    found = re.findall(r"\]\s+(.*)", text)
    return "; ".join(sorted(set(found)))


# --- edgeinfer --------------------------------------------------------------------------------------
def _resolver_c(regs: list[str]) -> str:
    """A resolver of ``regs`` with external linkage, so the walk (and the linker) can start from it."""
    return ("#include \"ei_interp_ops.h\"\nstatic const ei_op_reg_t zoo_ops[] = {" + ", ".join(regs) + "};\n"
            "extern const ei_resolver_t zoo_resolver;\n"
            "const ei_resolver_t zoo_resolver = {zoo_ops, sizeof zoo_ops / sizeof zoo_ops[0]};\n")


def _main_c() -> str:
    return ("#include \"ei_interp_ops.h\"\nextern const ei_resolver_t zoo_resolver;\n"
            "extern const uint8_t *volatile g_buf; const uint8_t *volatile g_buf;\n"
            "static uint64_t arena[1024];\nint main(void) { ei_model_t m; const void *in[1] = {arena};"
            " void *out[1] = {arena};\n if (ei_model_load_with(&m, &zoo_resolver, g_buf, 64, arena, sizeof arena)"
            " == EI_OK)\n  ei_model_invoke(&m, in, out);\n return 0; }\n")


def _write_sources(tmp: str, regs: list[str]) -> list[str]:
    from edgeinfer.backends.interp.model import runtime_sources

    header = runtime_sources()["ei_interp_ops.h"]
    missing = [r for r in regs if f"#define {r} " not in header]
    if missing:
        raise CodeSizeError(f"ei_interp_ops.h has no {', '.join(missing)}")
    for k, v in runtime_sources().items():
        Path(tmp, k).write_text(v)
    Path(tmp, "zoo_resolver.c").write_text(_resolver_c(regs))
    Path(tmp, "main.c").write_text(_main_c())
    Path(tmp, "empty.c").write_text("int main(void) { return 0; }\n")
    return ["zoo_resolver.c", *(k for k in runtime_sources() if k.endswith(".c") and k != "ei_ops_all.c")]


def _cc(cmd: list[str], cwd: str) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise CodeSizeError(f"{' '.join(cmd[:6])} ... failed:\n{r.stderr[-3000:]}")


def _size(tool: str, elf: str, cwd: str) -> int:
    text, data = (int(v) for v in _out([tool, str(Path(cwd, elf))]).splitlines()[1].split()[:2])
    return text + data


def measure_edgeinfer_x86(regs: list[str], opt: str) -> dict[str, Any]:
    """The walk over edgeinfer's runtime built as the wheel is, plus a linker cross-check (gc-sections)."""
    cc = _tool("gcc")
    flags = [opt if f == "-O2" else f for f in X86_FLAGS]
    with tempfile.TemporaryDirectory(prefix="ei_codesize_") as tmp:
        srcs = _write_sources(tmp, regs)
        _cc([cc, *flags, "-shared", "-o", "rt.so", *srcs, "-lm"], tmp)
        cg = CallGraph(Path(tmp, "rt.so"))
        api = [a for a in cg.find(r"^ei_(model_\w+|status_str|crc32)$") if "ei_model_load" not in cg.syms[a].names]
        roots = [*api, cg.by_name["ei_model_load_with"], cg.by_name["zoo_resolver"]]
        reach = cg.reachable(roots)
        # cross-check: what the linker keeps of the same code in a PIE reached from main (minus an empty one)
        _cc([cc, *flags, "-Wl,--gc-sections", "-o", "full", "main.c", *srcs, "-lm"], tmp)
        _cc([cc, *flags, "-Wl,--gc-sections", "-o", "empty", "empty.c", "-lm"], tmp)
        linked = _size(_tool("size"), "full", tmp) - _size(_tool("size"), "empty", tmp)
        top = sorted(reach, key=lambda a: -cg.syms[a].size)[:10]
        return {"flags": " ".join(flags), "code_bytes": cg.code_bytes(reach),
                "functions": sum(cg.syms[a].kind == "func" for a in reach),
                "named_data_bytes": cg.data_bytes(reach), "linked_text_plus_data_minus_empty": linked,
                "external_calls": sorted({n for a in reach for n in cg.externals.get(a, ())}),
                "largest_functions": [[cg.syms[a].name, cg.syms[a].size] for a in top]}


def measure_edgeinfer_m4(regs: list[str]) -> int | None:
    """text + data on cortex-m4 (-Os, gc-sections) of the runtime with ``regs`` registered, minus an empty program."""
    cc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if not cc or not size:
        return None
    with tempfile.TemporaryDirectory(prefix="ei_codesize_m4_") as tmp:
        srcs = _write_sources(tmp, regs)
        _cc([cc, *M4_FLAGS, "-o", "full.elf", "main.c", *srcs, "-lm"], tmp)
        _cc([cc, *M4_FLAGS, "-o", "empty.elf", "empty.c", "-lm"], tmp)
        return _size(size, "full.elf", tmp) - _size(size, "empty.elf", tmp)


# --- the run ------------------------------------------------------------------------------------------
def run() -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    paths = zoo_int8_tflite()
    ops_per_model = {n: tflite_ops(p) for n, p in paths.items()}
    ops = sorted({o for v in ops_per_model.values() for o in v})
    regs_per_model = edgeinfer_int8_regs(paths)
    int8_regs = sorted({r for v in regs_per_model.values() for r in v["registrations"]})
    float_regs = float_zoo_regs()
    no_kernel = {m.upper() for v in regs_per_model.values() for m in v["ops_without_interpreter_kernel"]}
    tflm = measure_tflm(ops, [o for o in ops if o not in no_kernel])
    ei: dict[str, Any] = {}
    for label, regs in (("int8", int8_regs), ("float", float_regs), ("int8+float", sorted({*int8_regs, *float_regs}))):
        ei[label] = {"registrations": regs,
                     "x86_64_O2": measure_edgeinfer_x86(regs, "-O2"),
                     "x86_64_O3": measure_edgeinfer_x86(regs, "-O3"),
                     "cortex_m4_Os_bytes": measure_edgeinfer_m4(regs)}
        code = ei[label]["x86_64_O2"]["code_bytes"]
        ei[label]["ratios_x86_64_O2"] = {
            "vs_tflm": code / tflm["code_bytes"],
            "vs_tflm_without_compression": code / tflm["code_bytes_without_compression"],
            "vs_tflm_like_ops": code / tflm["code_bytes_like_ops"],
            "vs_tflm_like_ops_without_compression": code / tflm["code_bytes_like_ops_without_compression"]}
    return {"kernel_set": {"tflite_ops": ops, "tflite_ops_per_model": ops_per_model,
                           "edgeinfer_int8_registrations_per_model": regs_per_model},
            "tflm_x86_64": tflm, "edgeinfer": ei,
            "published": PUBLISHED,
            "note": "TFLM figure is an x86-64 proxy (no ARM build or source of TFLM installable here): the bytes "
                    "of the functions reachable in the tflite-micro wheel's _runtime.so from MicroInterpreter, "
                    "MicroAllocator, the op resolver and the kernel set's Register_*/Parse* functions; edgeinfer "
                    "walked the same way in a build with the wheel's flags. The bar's target is cortex-m4, where "
                    "only edgeinfer is measured."}


#: TFLM's own published sizes, as second reference points (not measured here)
PUBLISHED = [
    {"figure": "core runtime fits in 16 KB on a Cortex-M3; with the operators of a speech keyword model, 22 KB "
               "in total (TFLM README of 2019, quoted in the issue)",
     "url": "https://github.com/tensorflow/tensorflow/issues/32345"},
    {"figure": "the current overview page still says the core runtime fits in 16 KB on a Cortex-M3; the reporter's "
               "release libtensorflow-microlite.a for cortex-m4+fp is 1.1 MB (every kernel, not a linked size)",
     "url": "https://github.com/tensorflow/tflite-micro/issues/3069"},
    {"figure": "keyword_benchmark (interpreter, the keyword model's kernels and the model) text 57,820 B before and "
               "56,860 B after that change (2021; the build target is not stated there)",
     "url": "https://github.com/tensorflow/tflite-micro/pull/378"},
]


def table(res: dict[str, Any]) -> str:
    """The printed (and README) table: code bytes, and each edgeinfer row over TFLM's like-for-like figure."""
    t = res["tflm_x86_64"]
    like = ", ".join(t["like_ops"])
    base = t["code_bytes_like_ops"]
    rows = [f"kernel set (TFLite ops of the zoo's int8 .tflite): {', '.join(res['kernel_set']['tflite_ops'])}",
            f"like-for-like set (ops the edgeinfer interpreter has kernels for): {like}",
            f"ratio: x86-64 code bytes over TFLM's for the like-for-like set ({base:,} B)", "",
            f"{'runtime':<58}{'x86-64 B':>10}{'ratio':>7}{'M4 -Os B':>10}"]

    def row(label: str, code: int, m4: int | None = None) -> None:
        rows.append(f"{label:<58}{code:>10,}{code / base:>7.2f}{(f'{m4:,}' if m4 else '-'):>10}")

    row("TFLM, full kernel set (walk of the wheel)", t["code_bytes"])
    row("TFLM, full kernel set, without compression support", t["code_bytes_without_compression"])
    row("TFLM, like-for-like set", base)
    row("TFLM, like-for-like set, without compression support", t["code_bytes_like_ops_without_compression"])
    row("TFLM interpreter core alone (no kernel)", t["core_code_bytes"])
    for label, v in res["edgeinfer"].items():
        row(f"edgeinfer interpreter, {label} registrations, -O2", v["x86_64_O2"]["code_bytes"], v["cortex_m4_Os_bytes"])
        row(f"edgeinfer interpreter, {label} registrations, -O3", v["x86_64_O3"]["code_bytes"])
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    try:
        res = run()
    except CodeSizeError as e:
        print(f"interp_codesize: {e}", file=sys.stderr)
        return 2
    text = table(res)
    print(text)
    res["table"] = text
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
