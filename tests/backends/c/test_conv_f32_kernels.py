"""Float conv kernels of the generated C against a float64 numpy convolution, path by path.

Every case is one Conv node whose geometry sends it down one kernel path (ei_gemm.c's band of padded
input rows: column stride phases with runs along rows of a multiple of 8 outputs, column planes per
kernel column at the output's pitch for other widths, row phases, dilation, several chunks; the
im2col fallback: more than 64 taps, stride above 4, strided 1x1; the pointwise GEMM; the depthwise and
the direct grouped kernels), with kernel sizes 1 to 5 and 10x4, asymmetric pads, channel counts off
the 8-channel panel, batch 2 and fused clamps. All cases are outputs of one generated model (one
compile), each checked on its own.

The tolerance is the worst-case bound of a float32 sum of n terms in any order, fused multiply-adds
or not: |y - y64| <= gamma_n * sum|terms| with gamma_n = n u / (1 - n u), u = 2^-24, where n is the
accumulation length (c_in / group * kh * kw products plus the bias) and the sum of magnitudes is the
same convolution of |x| and |w| plus |b|, in float64. The clamp of a fused activation is exact.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np
import pytest

from edgeinfer.backends.c.model import CModel
from edgeinfer.backends.c.ops import nn as cnn
from edgeinfer.ir import Graph, run

U = 2.0 ** -24


@dataclass
class Case:
    name: str
    path: str  # "band", "im2col", "pointwise", "depthwise" or "direct"
    cin: int
    hw: tuple[int, ...]  # (h, w), or (l,) for a 1-D conv
    cout: int
    k: tuple[int, ...]
    strides: tuple[int, ...] = (1, 1)
    dil: tuple[int, ...] = (1, 1)
    pads: tuple[int, ...] = (0, 0, 0, 0)  # ONNX order: begins, then ends
    group: int = 1
    act: tuple[float, float] | None = None  # fused clamp
    batch: int = 1
    extra: dict = field(default_factory=dict)


CASES = [
    Case("band_rows_3x3", "band", 9, (20, 24), 13, (3, 3), pads=(1, 1, 1, 1), act=(0.0, float("inf"))),
    Case("band_narrow_rows", "band", 7, (15, 5), 11, (3, 3), pads=(1, 1, 1, 1)),
    Case("band_kws_10x4_s2", "band", 1, (49, 10), 64, (10, 4), (2, 2), pads=(5, 1, 5, 1), act=(0.0, float("inf"))),
    Case("band_10x4_s2_asym", "band", 3, (30, 11), 10, (10, 4), (2, 2), pads=(5, 1, 4, 2)),
    Case("band_s2_3x3_asym", "band", 6, (17, 19), 10, (3, 3), (2, 2), pads=(0, 1, 1, 0), act=(0.0, 6.0)),
    Case("band_s2_3x3_wide", "band", 5, (16, 48), 8, (3, 3), (2, 2), pads=(1, 1, 1, 1)),
    Case("band_s3_dil2_5x5", "band", 4, (23, 22), 9, (5, 5), (3, 3), (2, 2), pads=(2, 3, 1, 4)),
    Case("band_dil2", "band", 5, (14, 17), 6, (3, 3), dil=(2, 2), pads=(2, 2, 2, 2)),
    Case("band_2x2", "band", 3, (9, 12), 5, (2, 2), pads=(0, 1, 1, 0)),
    Case("band_4x4_s2", "band", 2, (18, 18), 12, (4, 4), (2, 2), pads=(1, 1, 2, 2)),
    Case("band_5x1_s1x2", "band", 3, (11, 13), 7, (5, 1), (1, 2), pads=(2, 0, 2, 0)),
    Case("band_1x5", "band", 6, (8, 21), 9, (1, 5), (1, 1), pads=(0, 2, 0, 2)),
    Case("band_many_chunks", "band", 32, (9, 40), 8, (3, 3), pads=(1, 1, 1, 1)),
    Case("band_uneven_chunks", "band", 8, (23, 40), 16, (3, 3), pads=(1, 1, 1, 1)),
    Case("band_batch2", "band", 5, (13, 11), 13, (3, 3), pads=(1, 0, 2, 1), batch=2),
    Case("band_1d", "band", 4, (37,), 6, (5,), (2,), (1,), pads=(2, 1)),
    Case("im2col_9x9", "im2col", 3, (20, 21), 5, (9, 9), pads=(4, 4, 4, 4)),
    Case("im2col_stride5", "im2col", 4, (26, 27), 6, (5, 5), (5, 5), pads=(1, 2, 0, 1)),
    Case("im2col_1x1_s2", "im2col", 16, (15, 16), 13, (1, 1), (2, 2)),
    Case("pointwise", "pointwise", 19, (7, 9), 21, (1, 1), act=(-1.0, 1.0)),
    Case("pointwise_6x6_in_place", "pointwise", 24, (6, 6), 21, (1, 1), act=(0.0, 6.0)),  # 12-pixel blocks
    Case("pointwise_3x3", "pointwise", 13, (3, 3), 40, (1, 1)),
    Case("depthwise_s2", "depthwise", 12, (15, 14), 12, (3, 3), (2, 2), pads=(1, 1, 1, 1), group=12),
    Case("depthwise_s2_pad0_wide", "depthwise", 5, (11, 37), 5, (3, 3), (2, 2), pads=(0, 0, 1, 1), group=5),
    Case("depthwise_flat", "depthwise", 10, (25, 5), 10, (3, 3), pads=(1, 1, 1, 1), group=10, act=(0.0, 6.0)),
    Case("depthwise_5x5_batch2", "depthwise", 6, (9, 7), 6, (5, 5), pads=(2, 1, 2, 3), group=6, batch=2),
    Case("direct_groups", "direct", 6, (10, 11), 10, (3, 3), pads=(1, 0, 1, 2), group=2),
    Case("direct_dw_multiplier", "direct", 4, (12, 9), 8, (3, 2), (2, 1), pads=(1, 1, 0, 0), group=4),
]


def _conv64(x: np.ndarray, w: np.ndarray, b: np.ndarray, c: Case) -> np.ndarray:
    """Cross-correlation with zero padding in float64 (NCHW, any group), tap by tap."""
    if x.ndim == 3:  # 1-D as 2-D of height 1
        c2 = Case(c.name, c.path, c.cin, (1, *c.hw), c.cout, (1, *c.k), (1, *c.strides), (1, *c.dil),
                  (0, c.pads[0], 0, c.pads[1]), c.group)
        return _conv64(x[:, :, None], w[:, :, None], b, c2)[:, :, 0]
    n, cin, h, wd = x.shape
    kh, kw = c.k
    (sh, sw), (dh, dw) = c.strides, c.dil
    pt, pl, pb, pr = c.pads
    xp = np.zeros((n, cin, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
    ow = (wd + pl + pr - (kw - 1) * dw - 1) // sw + 1
    cg, mg = cin // c.group, c.cout // c.group
    y = np.zeros((n, c.cout, oh, ow)) + b.reshape(1, -1, 1, 1)
    for gi in range(c.group):
        xs = xp[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * mg:(gi + 1) * mg]
        for ky in range(kh):
            for kx in range(kw):
                win = xs[:, :, ky * dh:ky * dh + (oh - 1) * sh + 1:sh, kx * dw:kx * dw + (ow - 1) * sw + 1:sw]
                y[:, gi * mg:(gi + 1) * mg] += np.einsum("ncij,mc->nmij", win, ws[:, :, ky, kx])
    return y


def _data(c: Case, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c.batch, c.cin, *c.hw)).astype(np.float32)
    w = rng.standard_normal((c.cout, c.cin // c.group, *c.k)).astype(np.float32)
    b = rng.standard_normal(c.cout).astype(np.float32)
    return x, w, b


def _add_case(g: Graph, i: int, c: Case) -> None:
    x, w, b = _data(c, i)
    xin = f"x{i}"
    g.add_input(xin, (1, *x.shape))
    # the C backend takes one sample per call: a batch of 2 reaches the conv through a Reshape
    shape = g.add_const(f"s{i}", np.array(x.shape, np.int64))
    g.add_node("Reshape", [xin, shape], [f"xr{i}"])
    attrs = {"kernel_shape": list(c.k), "strides": list(c.strides), "dilations": list(c.dil), "pads": list(c.pads),
             "group": c.group}
    if c.act is not None:
        attrs.update(activation="Clip", activation_params=list(c.act))
    if "in_place" in c.name:
        # an arena output (a Relu, exact on the clamped values, writes the graph output) that the planner
        # can lay over the conv's input
        g.add_node("Conv", [f"xr{i}", g.add_const(f"w{i}", w), g.add_const(f"b{i}", b)], [f"c{i}"], name=c.name,
                   **attrs)
        g.add_node("Relu", [f"c{i}"], [f"y{i}"])
    else:
        g.add_node("Conv", [f"xr{i}", g.add_const(f"w{i}", w), g.add_const(f"b{i}", b)], [f"y{i}"], name=c.name,
                   **attrs)
    g.outputs.append(f"y{i}")


@pytest.fixture(scope="module")
def model() -> tuple[CModel, dict[str, np.ndarray]]:
    g = Graph("convk")
    for i, c in enumerate(CASES):
        _add_case(g, i, c)
    g.infer_shapes()
    m = CModel(g, "convk")
    ins = [np.ascontiguousarray(_data(c, i)[0][None]) for i, c in enumerate(CASES)]
    outs = {o: np.zeros([d or 1 for d in m.graph.tensors[o].shape], np.float32) for o in g.outputs}
    ptrs = [ctypes.c_void_p(a.ctypes.data) for a in ins] + [ctypes.c_void_p(a.ctypes.data) for a in outs.values()]
    m._fn()(ctypes.c_int32(1), *ptrs)
    return m, outs


def _call_of(m: CModel, case: Case) -> str:
    """The kernel call the emitter wrote for the case's node."""
    src = m.sources.files["convk.c"]
    block = src[src.index(f"/* {case.name}: Conv */"):]
    return block[:block.index("\n  }\n")]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c.name for c in CASES])
def test_conv_kernel_path_matches_float64(model, i):
    m, outs = model
    c = CASES[i]
    call = _call_of(m, c)
    fn = {"band": "ei_conv2d_gemm_f32", "im2col": "ei_conv2d_gemm_f32", "pointwise": "ei_conv1x1_f32",
          "depthwise": "ei_dwconv2d_f32", "direct": "ei_conv2d_f32"}[c.path]
    assert fn + "(" in call, call
    if "in_place" in c.name:  # the planner gave output and input one buffer
        args = call[call.index(fn + "(") + len(fn) + 1:call.rindex(")")].split(", ")
        assert args[1] == args[-1], call
    node = next(n for n in m.graph.nodes if n.name == c.name)
    if c.path in ("band", "im2col"):
        geom = cnn._geom_values(m.graph, node)
        band_rows = cnn._band_rows(geom, cnn._chunk_rows(geom))
        assert (band_rows > 0) == (c.path == "band"), (geom, band_rows)
        if c.name.endswith("chunks"):
            assert band_rows < geom[4]  # more than one chunk of output rows
    x, w, b = _data(c, i)
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    want = _conv64(x64, w64, b64, c)
    mag = _conv64(np.abs(x64), np.abs(w64), np.abs(b64), c)
    if c.act is not None:
        want = np.clip(want, *c.act)
    n = c.cin // c.group * int(np.prod(c.k)) + 1
    bound = n * U / (1 - n * U) * mag
    got = outs[f"y{i}"].astype(np.float64).reshape(want.shape)
    err = np.abs(got - want)
    assert np.all(err <= bound), f"{c.name}: worst {err.max():.3g} where the bound is {bound.flat[err.argmax()]:.3g}"


def _layer64(v: np.ndarray, e: np.ndarray, w: np.ndarray, b: np.ndarray, c: Case) -> tuple[np.ndarray, np.ndarray]:
    """A float32 conv's float64 answer on input v and its error bound when v itself is off by up to e: the
    conv's own rounding (gamma_n of the magnitudes) plus e carried through |w|."""
    n = c.cin // c.group * int(np.prod(c.k)) + 1
    mag = _conv64(np.abs(v) + e, np.abs(w), np.abs(b), c)
    return _conv64(v, w, b, c), n * U / (1 - n * U) * mag + _conv64(e, np.abs(w), np.zeros_like(b), c)


@pytest.mark.parametrize("k2,hw", [(3, (12, 16)), (1, (6, 6))])
def test_residual_add_accumulates_into_the_skip_buffer(k2, hw):
    """A conv without activation followed by Add writes its sum into the skip tensor's buffer (the band
    kernel's and the pointwise kernel's accumulate paths): relu(c2(relu(c1(h))) + h), h = relu(c0(x)),
    against float64 with the three convs' rounding bounds carried through (one more rounding for the Add)."""
    rng = np.random.default_rng(7)
    name = f"resk{k2}"
    g = Graph(name)
    g.add_input("x", (1, 16, *hw))
    ks = (3, 3, k2)
    ws = [rng.standard_normal((16, 16, k, k)).astype(np.float32) for k in ks]
    bs = [rng.standard_normal(16).astype(np.float32) for _ in ks]
    relu = {"activation": "Relu", "activation_params": [0.0, float("inf")]}
    cases = [Case("c", "band", 16, hw, 16, (k, k), pads=(k // 2,) * 4) for k in ks]
    for i, (src, dst) in enumerate((("x", "h"), ("h", "a"), ("a", "r"))):
        conv = {"kernel_shape": [ks[i]] * 2, "strides": [1, 1], "dilations": [1, 1], "pads": [ks[i] // 2] * 4,
                "group": 1}
        g.add_node("Conv", [src, g.add_const(f"w{i}", ws[i]), g.add_const(f"b{i}", bs[i])], [dst], name=f"c{i}",
                   **conv, **(relu if i < 2 else {}))
    g.add_node("Add", ["r", "h"], ["s"], name="add")
    g.add_node("Relu", ["s"], ["y"], name="relu")
    g.outputs.append("y")
    g.infer_shapes()
    m = CModel(g, name)
    assert "computed by c2, accumulating" in m.sources.files[f"{name}.c"]
    x = rng.standard_normal((1, 16, *hw)).astype(np.float32)
    v, e = x.astype(np.float64), np.zeros(x.shape)
    h = eh = v
    for i in range(3):
        v, e = _layer64(v, e, ws[i].astype(np.float64), bs[i].astype(np.float64), cases[i])
        if i < 2:
            v = np.maximum(v, 0.0)
        if i == 0:
            h, eh = v, e
    s = v + h
    es = e + eh + U * (np.abs(s) + e + eh)
    got = m.predict(x).astype(np.float64).reshape(s.shape)
    assert np.all(np.abs(got - np.maximum(s, 0.0)) <= 1.01 * es)


def test_zoo_resnet8_matches_the_ir_reference():
    """The whole IC model (band convs with stride phases and residual accumulation, strided 1x1 convs on
    im2col) against the IR reference."""
    torch = pytest.importorskip("torch")
    import edgeinfer
    from edgeinfer import zoo

    torch.manual_seed(0)
    module = zoo.resnet8()
    x = np.random.default_rng(0).standard_normal(zoo.INPUTS["resnet8"]).astype(np.float32)
    m = edgeinfer.convert(module, torch.from_numpy(x), name="rn8k")
    assert "accumulating into the shared buffer" in m.sources.files["rn8k.c"]
    want = run(m.graph, x)[m.graph.outputs[0]]
    np.testing.assert_allclose(m.predict(x), want, rtol=1e-4, atol=1e-6)


CHAIN = [  # (case, fused Relu): one model whose layers take the band's and the other kernels' paths
    (Case("t1", "band", 3, (10, 16), 9, (3, 3), pads=(1, 1, 1, 1)), True),  # column phases, runs along rows
    (Case("t2", "band", 9, (10, 16), 12, (3, 3), (2, 2), pads=(1, 1, 1, 1)), False),  # stride 2, split rows
    (Case("t3", "band", 12, (5, 8), 10, (5, 5), pads=(2, 1, 2, 1)), True),  # kernel-column planes (ow 6)
    (Case("t4", "depthwise", 10, (5, 6), 10, (3, 3), (2, 2), pads=(1, 1, 1, 1), group=10), True),
    (Case("t5", "pointwise", 10, (3, 3), 7, (1, 1)), False),
]


@pytest.mark.parametrize("target,tool", [("cortex-m4", "qemu-system-arm"), ("cortex-a72", "qemu-aarch64")])
def test_cross_built_kernels_match_float64(target, tool):
    """The kernels as a board builds them (Cortex-M4: the scalar tile; Cortex-A72: NEON vectors, one run of
    8 outputs at a time), run under emulation, against float64 with each layer's bound carried through."""
    import shutil

    from edgeinfer.targets import get_board

    board = get_board(target)
    for t in (board.cc, tool):
        if shutil.which(t) is None:
            pytest.skip(f"{t} not installed (scripts/install-toolchains.sh installs it)")
    rng = np.random.default_rng(11)
    g = Graph("xconv")
    g.add_input("x", (1, CHAIN[0][0].cin, *CHAIN[0][0].hw))
    params = []
    src = "x"
    for c, relu in CHAIN:
        w = rng.standard_normal((c.cout, c.cin // c.group, *c.k)).astype(np.float32)
        b = rng.standard_normal(c.cout).astype(np.float32)
        attrs = {"kernel_shape": list(c.k), "strides": list(c.strides), "dilations": list(c.dil),
                 "pads": list(c.pads), "group": c.group}
        if relu:
            attrs.update(activation="Relu", activation_params=[0.0, float("inf")])
        g.add_node("Conv", [src, g.add_const(f"w{c.name}", w), g.add_const(f"b{c.name}", b)], [c.name], name=c.name,
                   **attrs)
        params.append((c, relu, w.astype(np.float64), b.astype(np.float64)))
        src = c.name
    g.outputs.append(src)
    g.infer_shapes()
    m = CModel(g, "xconv")
    x = rng.standard_normal((2, CHAIN[0][0].cin, *CHAIN[0][0].hw)).astype(np.float32)
    got = m.measure(target=target, inputs=x)["outputs"][0]
    for r in range(len(x)):
        v, e = x[r:r + 1].astype(np.float64), np.zeros((1, *x.shape[1:]))
        for c, relu, w, b in params:
            v, e = _layer64(v, e, w, b, c)
            v = np.maximum(v, 0.0) if relu else v
        assert np.all(np.abs(got[r].reshape(v.shape) - v) <= 1.01 * e), target
