"""The vectorised int8 kernels (``backends/kernels/simd``) give the reference kernels' bytes.

Both sets are compiled into one library (the reference functions renamed with ``-D``) and called
on the same randomized inputs: geometries with strides, padding (including windows wholly outside
the input), dilation, groups and depthwise multipliers, odd channel counts, zero points at both
extremes, per-channel shifts of both signs, activation clamps, and multipliers outside TFLite's
range (which must take the exact fallback). Each build is made twice: ``-O3 -march=native`` (the
host build: AVX2 intrinsics where the CPU has them) and plain ``-O2`` (the portable C path).
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from edgeinfer.backends.c.build import SIMD_KERNEL_DIR, WARN_FLAGS, _host_arch, cache_dir, host_cc
from edgeinfer.backends.c.emit import KERNEL_DIR

FILES = ("ei_conv_s8", "ei_fc_s8", "ei_pool_s8", "ei_elementwise_s8")
FUNCS = ("ei_conv2d_s8", "ei_depthwise_conv2d_s8", "ei_fully_connected_s8", "ei_avgpool2d_s8", "ei_maxpool2d_s8",
         "ei_add_s8", "ei_mul_s8", "ei_quantize_f32_s8", "ei_dequantize_s8_f32")
BUILDS = {"native-O3": ("-O3", "native"), "avx2-O3": ("-O3", "avx2"), "portable-O2": ("-O2", None)}
PROBE = ('#include "ei_int8_simd.h"\nint ei_test_simd(void);\n'
         "int ei_test_simd(void) { return EI_SIMD_AVX2 + EI_SIMD_MASKED + EI_SIMD_U8DOT; }\n")

P8 = ctypes.POINTER(ctypes.c_int8)
P32 = ctypes.POINTER(ctypes.c_int32)


@cache
def _lib(build: str) -> ctypes.CDLL:
    """Reference kernels (renamed ``ref_*``) + vectorised twins in one shared library."""
    opt, arch = BUILDS[build]
    if arch == "avx2" and not _has_avx2():
        pytest.skip("the AVX2 path (without AVX-512) needs an x86-64 CPU with AVX2")
    march = {"native": _host_arch(), "avx2": ["-mavx2", "-mfma"], None: []}[arch]
    flags = [*WARN_FLAGS, opt, *march, "-fPIC", "-I."]
    out = cache_dir() / f"test_int8_simd_{build}_{_hash(flags)}.so"
    if out.exists():
        return ctypes.CDLL(str(out))
    with tempfile.TemporaryDirectory(prefix="ei_simd_") as tmp:
        t = Path(tmp)
        (t / "ei_int8.h").write_text((KERNEL_DIR / "ei_int8.h").read_text())
        (t / "ei_int8_simd.h").write_text((SIMD_KERNEL_DIR / "ei_int8_simd.h").read_text())
        (t / "probe.c").write_text(PROBE)
        objs = []
        renames = [f"-D{f}=ref_{f[3:]}" for f in FUNCS]
        for f in FILES:
            (t / f"ref_{f}.c").write_text((KERNEL_DIR / f"{f}.c").read_text())
            (t / f"{f}.c").write_text((SIMD_KERNEL_DIR / f"{f}.c").read_text())
            for src, extra in ((f"ref_{f}.c", renames), (f"{f}.c", [])):
                objs.append(src[:-2] + ".o")
                _cc([*flags, *extra, "-c", src, "-o", objs[-1]], t)
        _cc([*flags, "-c", "probe.c", "-o", "probe.o"], t)
        _cc([*flags, "-shared", "-o", "lib.so", *objs, "probe.o"], t)
        tmp_out = out.with_suffix(".tmp")
        tmp_out.write_bytes((t / "lib.so").read_bytes())
        tmp_out.replace(out)
    return ctypes.CDLL(str(out))


def _has_avx2() -> bool:
    info = Path("/proc/cpuinfo")
    return info.exists() and " avx2" in info.read_text()


def _hash(flags: list[str]) -> str:
    import hashlib

    h = hashlib.sha256(" ".join(flags).encode())
    for f in FILES:
        h.update((KERNEL_DIR / f"{f}.c").read_bytes() + (SIMD_KERNEL_DIR / f"{f}.c").read_bytes())
    h.update((KERNEL_DIR / "ei_int8.h").read_bytes() + (SIMD_KERNEL_DIR / "ei_int8_simd.h").read_bytes())
    from edgeinfer.backends.c.build import _cpu_id

    h.update(_cpu_id())
    return h.hexdigest()[:16]


def _cc(args: list[str], cwd: Path) -> None:
    r = subprocess.run([host_cc(), *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def _p8(a: np.ndarray):
    return a.ctypes.data_as(P8)


def _p32(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(P32)


def _both(build: str, name: str, args_fn, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Call ``ref_<name>`` and ``ei_<name>`` with the same arguments, each into its own output."""
    lib = _lib(build)
    outs = []
    for fn in (f"ref_{name}", f"ei_{name}"):
        y = np.full(n_out, 77, np.int8)
        getattr(lib, fn)(*args_fn(y))
        outs.append(y)
    return outs[0], outs[1]


def _requant(rng: np.random.Generator, n: int, odd: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel multipliers in TFLite's [2^30, 2^31) and shifts of both signs; ``odd`` mixes in
    what QuantizeMultiplier never gives (0, negative, shifts at the ends of the range)."""
    mult = rng.integers(1 << 30, (1 << 31) - 1, n, dtype=np.int64)
    shift = rng.integers(-14, 4, n)
    if odd:
        k = rng.integers(0, 4, n)
        mult = np.where(k == 0, 0, np.where(k == 1, -mult, mult))
        shift = np.where(rng.random(n) < 0.3, rng.choice([-31, -20, 20, 31], n), shift)
    return mult.astype(np.int32), shift.astype(np.int32)


def _zp(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))


def _act(rng: np.random.Generator) -> tuple[int, int]:
    if rng.random() < 0.5:
        return -128, 127
    lo = int(rng.integers(-128, 0))
    return lo, int(rng.integers(lo, 128))


def _conv_case(rng: np.random.Generator, depthwise: bool, odd: bool = False):
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dh, dw = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
    h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    pt, pl = int(rng.integers(0, eh + 1)), int(rng.integers(0, ew + 1))
    pb, pr = int(rng.integers(0, eh + 1)), int(rng.integers(0, ew + 1))
    oh, ow = (h + pt + pb - eh) // sh + 1, (w + pl + pr - ew) // sw + 1
    if oh < 1 or ow < 1:
        return None
    if depthwise:
        cin = int(rng.choice([1, 3, 8, 16, 17, 24, 40]))
        groups = int(rng.choice([1, 1, 2, 3]))  # depth multiplier
        cout = cin * groups
        wshape = (kh, kw, cout)
    else:
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        cg, mg = int(rng.choice([1, 2, 3, 5, 8, 16, 19, 33])), int(rng.integers(1, 11))
        cin, cout = cg * groups, mg * groups
        wshape = (cout, kh, kw, cg)
    in_zp, out_zp = _zp(rng), _zp(rng)
    lo, hi = _act(rng)
    geom = np.array([h, w, cin, oh, ow, cout, kh, kw, sh, sw, dh, dw, pt, pl, in_zp, out_zp, lo, hi, groups],
                    np.int32)
    x = rng.integers(-128, 128, h * w * cin).astype(np.int8)
    wt = rng.integers(-128, 128, int(np.prod(wshape))).astype(np.int8)
    bias = None if rng.random() < 0.2 else rng.integers(-(1 << 16), 1 << 16, cout).astype(np.int32)
    mult, shift = _requant(rng, cout, odd)
    return geom, x, wt, bias, mult, shift, oh * ow * cout


@pytest.mark.parametrize("build", list(BUILDS))
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_conv_equals_reference(build: str, depthwise: bool):
    rng = np.random.default_rng(11 + depthwise)
    name = "depthwise_conv2d_s8" if depthwise else "conv2d_s8"
    done = 0
    while done < 150:
        case = _conv_case(rng, depthwise, odd=done % 10 == 9)
        if case is None:
            continue
        geom, x, wt, bias, mult, shift, n = case
        ref, got = _both(build, name, lambda y, c=case: (_p32(c[0]), _p8(c[1]), _p8(c[2]), _p32(c[3]), _p32(c[4]),
                                                         _p32(c[5]), _p8(y)), n)
        np.testing.assert_array_equal(got, ref, err_msg=f"geom {geom.tolist()} bias {bias is not None}")
        done += 1


@pytest.mark.parametrize("build", list(BUILDS))
def test_conv_model_shapes_equal_reference(build: str):
    """The layer shapes of the MLPerf Tiny models (3x3 on 16..64 channels, 1x1 stride 2, the KWS
    10x4 stem on one channel, depthwise 3x3), where the blocked paths do all the work."""
    rng = np.random.default_rng(5)
    shapes = [  # h, w, cin, cout, kh, kw, s, pad, depthwise
        (32, 32, 16, 16, 3, 3, 1, 1, False), (16, 16, 32, 32, 3, 3, 1, 1, False), (8, 8, 64, 64, 3, 3, 1, 1, False),
        (34, 34, 16, 32, 3, 3, 2, 0, False), (32, 32, 16, 32, 1, 1, 2, 0, False), (32, 32, 3, 16, 3, 3, 1, 1, False),
        (59, 12, 1, 64, 10, 4, 2, 0, False), (25, 5, 64, 64, 1, 1, 1, 0, False), (6, 6, 128, 128, 1, 1, 1, 0, False),
        (25, 5, 64, 64, 3, 3, 1, 1, True), (48, 48, 8, 8, 3, 3, 1, 1, True), (50, 50, 16, 16, 3, 3, 2, 0, True),
        (6, 6, 128, 128, 3, 3, 1, 1, True), (98, 98, 3, 8, 3, 3, 2, 0, False), (48, 48, 8, 16, 1, 1, 1, 0, False)]
    for h, w, cin, cout, k, k2, s, pad, dwise in shapes:
        oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k2) // s + 1
        geom = np.array([h, w, cin, oh, ow, cout, k, k2, s, s, 1, 1, pad, pad, _zp(rng), _zp(rng), -128, 127, 1],
                        np.int32)
        x = rng.integers(-128, 128, h * w * cin).astype(np.int8)
        wt = rng.integers(-128, 128, cout * k * k2 * (1 if dwise else cin)).astype(np.int8)
        bias = rng.integers(-(1 << 14), 1 << 14, cout).astype(np.int32)
        mult, shift = _requant(rng, cout, False)
        name = "depthwise_conv2d_s8" if dwise else "conv2d_s8"
        args = (geom, x, wt, bias, mult, shift)
        ref, got = _both(build, name, lambda y, c=args: (_p32(c[0]), _p8(c[1]), _p8(c[2]), _p32(c[3]), _p32(c[4]),
                                                         _p32(c[5]), _p8(y)), oh * ow * cout)
        np.testing.assert_array_equal(got, ref, err_msg=f"shape {h, w, cin, cout, k, k2, s, pad, dwise}")


@pytest.mark.parametrize("build", list(BUILDS))
def test_fully_connected_equals_reference(build: str):
    rng = np.random.default_rng(3)
    for i in range(120):
        rows, n_in, n_out = int(rng.integers(1, 4)), int(rng.integers(1, 100)), int(rng.integers(1, 21))
        x = rng.integers(-128, 128, rows * n_in).astype(np.int8)
        wt = rng.integers(-128, 128, n_out * n_in).astype(np.int8)
        bias = None if rng.random() < 0.2 else rng.integers(-(1 << 16), 1 << 16, n_out).astype(np.int32)
        n_mult = n_out if rng.random() < 0.5 else 1
        mult, shift = _requant(rng, n_mult, odd=i % 10 == 9)
        q = np.array([_zp(rng), _zp(rng), *_act(rng)], np.int32)
        args = (x, wt, bias, mult, shift, q)
        ref, got = _both(build, "fully_connected_s8",
                         lambda y, a=args, r=rows, ni=n_in, no=n_out, nm=n_mult: (
                             _p8(a[0]), _p8(a[1]), _p32(a[2]), _p32(a[3]), _p32(a[4]), nm, _p32(a[5]), r, ni, no,
                             _p8(y)), rows * n_out)
        np.testing.assert_array_equal(got, ref, err_msg=f"rows {rows} n_in {n_in} n_out {n_out} n_mult {n_mult}")


@pytest.mark.parametrize("build", list(BUILDS))
@pytest.mark.parametrize("op", ["avgpool2d_s8", "maxpool2d_s8"])
def test_pool_equals_reference(build: str, op: str):
    rng = np.random.default_rng(7)
    for _ in range(80):
        h, w, c = int(rng.integers(1, 10)), int(rng.integers(1, 10)), int(rng.choice([1, 3, 16, 63, 64, 65, 130]))
        kh, kw, sh, sw = (int(v) for v in rng.integers(1, 4, 4))
        pt, pl = int(rng.integers(0, kh)), int(rng.integers(0, kw))
        oh, ow = (h + 2 * pt - kh) // sh + 1, (w + 2 * pl - kw) // sw + 1
        if oh < 1 or ow < 1:
            continue
        geom = np.array([h, w, c, oh, ow, kh, kw, sh, sw, pt, pl, *_act(rng)], np.int32)
        x = rng.integers(-128, 128, h * w * c).astype(np.int8)
        ref, got = _both(build, op, lambda y, g=geom, xx=x: (_p32(g), _p8(xx), _p8(y)), oh * ow * c)
        np.testing.assert_array_equal(got, ref, err_msg=f"geom {geom.tolist()}")


def _binary_q(rng: np.random.Generator, op: str, odd: bool) -> np.ndarray:
    base = [_zp(rng), _zp(rng), _zp(rng), *_act(rng)]
    if op == "add_s8":
        m, s = _requant(rng, 3, odd)
        s = np.where(s > 0, -s, s) if not odd else s  # TFLite's add: input shifts <= 0
        return np.array(base + [20, m[0], s[0], m[1], s[1], m[2], s[2]], np.int32)
    m, s = _requant(rng, 1, odd)
    return np.array(base + [m[0], s[0]], np.int32)


@pytest.mark.parametrize("build", list(BUILDS))
@pytest.mark.parametrize("op", ["add_s8", "mul_s8"])
def test_binary_equals_reference(build: str, op: str):
    rng = np.random.default_rng(13)
    for i in range(80):
        n = int(rng.integers(1, 70))
        a, b = (rng.integers(-128, 128, n).astype(np.int8) for _ in range(2))
        ia = ib = None
        if i % 4 == 3:  # one operand broadcast through an index table
            small = rng.integers(-128, 128, 3).astype(np.int8)
            ib, b = rng.integers(0, 3, n).astype(np.int32), small
        q = _binary_q(rng, op, odd=i % 10 == 9)
        ref, got = _both(build, op, lambda y, v=(a, b, ia, ib, q), nn=n: (
            _p8(v[0]), _p8(v[1]), _p32(v[2]), _p32(v[3]), _p32(v[4]), nn, _p8(y)), n)
        np.testing.assert_array_equal(got, ref, err_msg=f"n {n} q {q.tolist()}")


@pytest.mark.parametrize("build", list(BUILDS))
def test_add_in_place_over_either_operand(build: str):
    """The planner lets QAdd write over an operand (passes/memory.py): the vector loop reads a
    block before it writes it."""
    rng = np.random.default_rng(17)
    lib = _lib(build)
    n = 77
    a, b = (rng.integers(-128, 128, n).astype(np.int8) for _ in range(2))
    q = _binary_q(rng, "add_s8", False)
    want = np.zeros(n, np.int8)
    lib.ref_add_s8(_p8(a), _p8(b), None, None, _p32(q), n, _p8(want))
    for over in (0, 1):
        ops = [a.copy(), b.copy()]
        lib.ei_add_s8(_p8(ops[0]), _p8(ops[1]), None, None, _p32(q), n, _p8(ops[over]))
        np.testing.assert_array_equal(ops[over], want)


@pytest.mark.parametrize("build", list(BUILDS))
def test_quantize_dequantize_equal_reference(build: str):
    rng = np.random.default_rng(19)
    lib = _lib(build)
    x = np.concatenate([rng.standard_normal(200) * 40, np.arange(-130, 130) + 0.5]).astype(np.float32)
    for fn in ("quantize_f32_s8",):
        outs = []
        for pre in ("ref_", "ei_"):
            y = np.zeros(len(x), np.int8)
            getattr(lib, pre + fn)(x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), ctypes.c_float(0.5), 3,
                                   len(x), _p8(y))
            outs.append(y)
        np.testing.assert_array_equal(outs[1], outs[0])
    q = rng.integers(-128, 128, 300).astype(np.int8)
    outs = []
    for pre in ("ref_", "ei_"):
        y = np.zeros(len(q), np.float32)
        getattr(lib, pre + "dequantize_s8_f32")(_p8(q), ctypes.c_double(0.0123), -5, len(q),
                                                 y.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        outs.append(y)
    np.testing.assert_array_equal(outs[1], outs[0])


def test_builds_take_the_paths_they_claim():
    """-O2 without -march is the portable C; -mavx2 the AVX2 intrinsics without AVX-512 (VPDPWSSD
    emulated, tails loaded by copy); the native build takes AVX2 or better when the CPU has it."""
    assert _lib("portable-O2").ei_test_simd() == 0
    if _has_avx2():
        assert _lib("avx2-O3").ei_test_simd() == 1
        if _host_arch():
            assert _lib("native-O3").ei_test_simd() >= 1


def _residual_graph():
    """skip = x*x; main = (skip*x)*x, the last product over its dying operand; y = main + skip; out = y*x."""
    from edgeinfer.ir import Graph

    g = Graph("residual_int8")
    g.add_input("x", (1, 64), dtype="int8")
    q = {"a_scale": 0.05, "a_zp": 3, "b_scale": 0.05, "b_zp": 3, "out_scale": 0.1, "out_zp": -2}
    g.add_node("QMul", ["x", "x"], ["skip"], **q)
    g.add_node("QMul", ["skip", "x"], ["t"], **q)
    g.add_node("QMul", ["t", "x"], ["main"], **q)
    g.add_node("QAdd", ["main", "skip"], ["y"], **{**q, "b_scale": 0.07, "b_zp": -5})
    g.add_node("QMul", ["y", "x"], ["out"], **q)
    g.outputs.append("out")
    return g.validate()


def test_planner_lets_a_residual_add_write_over_its_dying_operand():
    """Three full-size tensors used to be live at a residual QAdd (both operands and the sum); the sum now
    takes over an operand, so the block needs two, and the C (simd kernels, in place) still equals the IR."""
    import edgeinfer
    from edgeinfer.ir import run
    from edgeinfer.passes.memory import plan_memory

    g = _residual_graph()
    p = plan_memory(g)
    assert p.tensors["y"].offset in (p.tensors["main"].offset, p.tensors["skip"].offset)
    assert p.metadata["arena_bytes"] == 2 * 64
    x = np.random.default_rng(23).integers(-128, 128, (50, 64)).astype(np.int8)
    m = edgeinfer.convert(g, name="residual_int8")
    assert m.sources.arena_bytes == 2 * 64
    np.testing.assert_array_equal(np.asarray(m.predict(x)).reshape(50, 64), run(g, x)["out"])


def test_every_reference_function_has_its_twin():
    """The host build replaces a reference file by its twin: a function added to one and not the other
    would fail to link (or vanish) on the host only."""
    import re

    defined = re.compile(r"^(?!static)[a-z][\w \*]*?\b(ei_\w+)\(", re.M)
    for f in FILES:
        ref = set(defined.findall((KERNEL_DIR / f"{f}.c").read_text()))
        twin = set(defined.findall((SIMD_KERNEL_DIR / f"{f}.c").read_text()))
        assert ref and ref == twin, f"{f}.c: reference defines {sorted(ref)}, its simd twin {sorted(twin)}"
