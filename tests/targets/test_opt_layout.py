"""C generated for the optimised kernel set (``convert(..., kernels="optimized")``): ei_opt_* entry
points with the rq requantization tables and arena-planned scratch.

* ei_opt_rq (one folded rounding) equals the reference kernels' ei_mbqm (TFLite's double rounding)
  on the host, for every shift in [-31, 30] and random multipliers and accumulators;
* randomized int8 convolutions (odd channel counts, strides, padding, dilation, depth multipliers,
  per-channel shifts of both signs) equal the IR reference byte for byte under QEMU on the
  Cortex-M4 (DSP path) and on the host (portable path), with both kernel sets;
* the reference-layout C built with the optimised twins (no scratch: direct path) still equals it;
* the scratch is in the plan: no static buffer in the kernels.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import edgeinfer
from edgeinfer.backends.c.emit import KERNEL_DIR, OPT_KERNEL_DIR
from edgeinfer.targets.boards import get_board
from edgeinfer.targets.measure import measure_sources

torch = pytest.importorskip("torch")


def _need_cross() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (scripts/install-toolchains.sh installs it)")


def test_rq_form_equals_mbqm_on_host(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler")
    from edgeinfer.backends.c.ops.quantized import _rq_table

    rng = np.random.default_rng(7)
    n = 4000
    shift = rng.integers(-31, 31, n)
    mult = rng.integers(1 << 30, (1 << 31) - 1, n, endpoint=True)
    mult[:8] = 1 << 30                                  # the acc = -1 edge of the sign choice
    acc = np.concatenate([rng.integers(-(1 << 31), 1 << 31, n // 2),
                          rng.integers(-5000, 5000, n - n // 2)])
    acc[:8] = [-1, 0, 1, -2, -(1 << 31), (1 << 31) - 1, -3, 2]
    # a left shift may wrap in ei_mbqm too; both sides take the same (uint32) shift
    rq = _rq_table(mult, shift)
    (tmp_path / "t.c").write_text(
        '#include <stdio.h>\n#include "ei_int8_opt.h"\n'
        f"static const int32_t A[{n}] = {{{', '.join(f'(int32_t){int(v)}' for v in acc)}}};\n"
        f"static const int32_t M[{n}] = {{{', '.join(str(int(v)) for v in mult)}}};\n"
        f"static const int32_t S[{n}] = {{{', '.join(str(int(v)) for v in shift)}}};\n"
        f"static const int32_t RQ[{2 * n}] = {{{', '.join(str(int(v)) for v in rq.reshape(-1))}}};\n"
        "int main(void) { int i, bad = 0; for (i = 0; i < " + str(n) + "; ++i) {\n"
        "  int32_t a = ei_mbqm(A[i], M[i], S[i]), b = ei_opt_rq(A[i], RQ + 2 * i, 0, INT32_MIN, INT32_MAX);\n"
        "  if (a != b) { if (bad < 5) printf(\"%d %d %d: %d %d\\n\", A[i], M[i], S[i], a, b); ++bad; } }\n"
        "  printf(\"bad %d\\n\", bad); return bad != 0; }\n")
    r = subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{KERNEL_DIR}",
                        f"-I{OPT_KERNEL_DIR}", "t.c", "-o", "t"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run(["./t"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and "bad 0" in out.stdout, out.stdout


def _random_net(seed: int):
    """A small int8 net with random shapes: conv (odd channels, stride, padding, maybe dilated),
    depthwise with a depth multiplier, pointwise, residual add, FC."""
    rng = np.random.default_rng(seed)
    c0, c1 = int(rng.integers(1, 6)), int(rng.integers(3, 12)) | 1
    dm = int(rng.integers(1, 3))
    k, s, p, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.integers(1, 3))
    h, w = int(rng.integers(5, 10)), int(rng.integers(5, 10))

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Conv2d(c0, c1, k, stride=s, padding=p + d, dilation=d)
            self.b = torch.nn.Conv2d(c1, c1 * dm, 3, padding=1, stride=int(rng.integers(1, 3)), groups=c1)
            self.c = torch.nn.Conv2d(c1 * dm, c1 * dm, 1)
            self.fc = torch.nn.LazyLinear(int(rng.integers(3, 9)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.b(torch.relu(self.a(x))))
            y = torch.relu(self.c(y) + y)
            return self.fc(torch.flatten(y, 1))

    torch.manual_seed(seed)
    net = Net().eval()
    net(torch.zeros(1, c0, h, w))
    X = rng.normal(size=(8, c0, h, w)).astype(np.float32)
    q = edgeinfer.quantize(edgeinfer.load_graph(net, torch.from_numpy(X[:1])), calibration=X)
    # per-channel shifts of both signs: shrink out_scale of the first conv so that half its
    # channels' multipliers exceed 1 (shift > 0); the IR reference follows the same attributes
    node = next(n for n in q.nodes if n.op == "QConv2D")
    ws = np.asarray(node.attr("w_scale"), dtype=np.float64).reshape(-1)
    ratio = float(node.attr("in_scale")) * ws / float(node.attr("out_scale"))
    ws = ws.copy()
    ws[::2] *= 4.0 / float(ratio[::2].min())
    node.attrs["w_scale"] = ws.astype(np.float32).tolist() if ws.size > 1 else float(ws[0])
    return q, X


@pytest.fixture(scope="module", params=[3, 11, 29])
def random_q(request):
    torch.set_num_threads(1)
    return _random_net(request.param)


def _check(m, X, target, kernels):
    r = m.measure(target=target, inputs=X[:2], kernels=kernels)
    assert r["outputs_match"], (target, kernels)
    return r


def test_random_shapes_host_both_sets(random_q):
    q, X = random_q
    for kernels in ("reference", "optimized"):
        m = edgeinfer.convert(q, name="rnd_host", kernels=kernels)
        if kernels == "optimized":
            assert "ei_opt_conv_s8.c" in m.sources.files and "ei_conv_s8.c" not in m.sources.files
        Xc = m.check_input(X)
        ref = edgeinfer.ir.run(m.graph, Xc)
        for o, g in zip(m.graph.outputs, m._run([Xc]), strict=True):
            np.testing.assert_array_equal(g.reshape(len(Xc), -1), np.asarray(ref[o]).reshape(len(Xc), -1))


def test_random_shapes_cortex_m4_both_sets(random_q):
    _need_cross()
    q, X = random_q
    m = edgeinfer.convert(q, name="rnd_m4", kernels="optimized")
    opt = _check(m, X, "cortex-m4", "optimized")
    ref = _check(m, X, "cortex-m4", "reference")
    assert opt["instructions"] < ref["instructions"]


def test_twins_with_reference_layout_cortex_m4(random_q):
    """C generated for the reference set, built with the optimised twins (the old swap)."""
    _need_cross()
    q, X = random_q
    m = edgeinfer.convert(q, name="rnd_twin")
    Xc = m.check_input(X[:2])
    ref = edgeinfer.ir.run(m.graph, Xc)
    r = measure_sources(m.sources, get_board("cortex-m4"), [Xc], reference=[ref[o] for o in m.graph.outputs],
                        kernels="optimized")
    assert r["outputs_match"]


def test_opt_scratch_is_planned_not_static():
    for f in OPT_KERNEL_DIR.glob("ei_*"):
        text = f.read_text()
        assert "static uint32_t ei_opt_col" not in text and "static int32_t lut" not in text, f.name
    q, _ = _random_net(3)
    m = edgeinfer.convert(q, name="rnd_plan", kernels="optimized")
    conv = next(n for n in m.sources.files["rnd_plan.c"].splitlines() if "ei_opt_conv2d_s8(" in n)
    assert "rnd_plan_arena.b +" in conv.split(",")[-1]
    assert m.sources.arena_bytes > edgeinfer.convert(q, name="rnd_plan").sources.arena_bytes
