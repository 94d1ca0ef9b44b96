"""The int8 ops of typical trained Keras models beyond conv / dense / pool: IR and C bytes equal TFLite Micro's.

Standalone RELU / RELU6 / LEAKY_RELU / HARD_SWISH / PRELU, SUB (broadcast, fused RELU), MAXIMUM,
MINIMUM, REDUCE_MAX, TRANSPOSE, SLICE, STRIDED_SLICE, RESIZE_NEAREST_NEIGHBOR, ARG_MAX, SQUEEZE,
EXPAND_DIMS and the uint8 QUANTIZE at a uint8 model's edges, on models TensorFlow quantized
(``tflite_more_models.py``). Inputs cover every input code (a row of each extreme, rows walking
through all codes, then uniform random rows). RELU_N1_TO_1 and int64 ARG_MAX are not in TFLite
Micro: LiteRT (no delegates) judges those. LiteRT's agreement on the others is reported
(``-rA`` shows it), not required.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import edgeinfer
from edgeinfer.errors import InputError, UnsupportedModelError
from edgeinfer.frontends.tflite import MORE_INT8_OPS, from_tflite
from edgeinfer.ir import run
from edgeinfer.ir.ops.quantized_act import hard_swish_params

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed: pip install 'edgeinfer[tflite]'")

import tflite_more_models as mm  # noqa: E402  (on sys.path through conftest)

N = 300


@pytest.fixture(scope="session")
def more_models():
    # TensorFlow is imported only when a model is not cached yet
    return mm.build_all(lambda: pytest.importorskip("tensorflow", reason="TensorFlow (tensorflow-cpu) builds "
                                                    "the test models"))


def _inputs(shape: tuple, dtype: np.dtype, seed: int) -> np.ndarray:
    """Row 0 all lowest, row 1 all highest, then rows walking through every code, then random rows."""
    info = np.iinfo(dtype)
    size = int(np.prod(shape))
    codes = np.arange(info.min, info.max + 1)
    walk = np.resize(codes, (-(-codes.size // size) + 1) * size).reshape(-1, *shape)
    rng = np.random.default_rng(seed)
    x = rng.integers(info.min, info.max + 1, size=(N, *shape))
    x[0], x[1] = info.min, info.max
    x[2:2 + len(walk)] = walk
    return x.astype(dtype)


def _dtype(path) -> np.dtype:
    return np.dtype(mm._litert(path).get_input_details()[0]["dtype"])


def _check(name: str, path, shape: tuple, judge: str) -> None:
    x = _inputs(shape, _dtype(path), 11)
    want = mm.run_tflm_all(path, x) if judge == "tflm" else mm.run_litert_all(path, x)
    g = from_tflite(path)
    ir = run(g, x)
    m = edgeinfer.convert(str(path), name=name)
    c = m.run(x)
    assert len(g.outputs) == len(want)
    for k, (o, w) in enumerate(zip(g.outputs, want, strict=True)):
        assert ir[o].dtype == w.dtype, (name, k, ir[o].dtype, w.dtype)
        np.testing.assert_array_equal(ir[o].reshape(w.shape), w, err_msg=f"{name} output {k}: IR vs {judge}")
        np.testing.assert_array_equal(c[o].reshape(w.shape), w, err_msg=f"{name} output {k}: C vs {judge}")
    if judge == "tflm":
        lr = mm.run_litert_all(path, x)
        same = [float((a.reshape(w.shape) == w).mean()) for a, w in zip(lr, want, strict=True)]
        lsb = [int(np.abs(a.reshape(w.shape).astype(int) - w.astype(int)).max()) for a, w in zip(lr, want, strict=True)]
        print(f"{name}: IR == C == TFLM on {sum(w.size for w in want)} values; LiteRT (no delegates) equal on "
              f"{', '.join(f'{s:.1%}' for s in same)} of each output (max {lsb} LSB)")


@pytest.mark.parametrize("name", mm.TFLM_MODELS)
def test_ir_and_c_bytes_equal_tflite_micro(more_models, name):
    path, shape = more_models[name]
    _check(name, path, shape, "tflm")


@pytest.mark.parametrize("name", mm.LITERT_ONLY)
def test_ops_tflite_micro_lacks_equal_litert(more_models, name):
    """RELU_N1_TO_1 and ARG_MAX to int64 are not in TFLite Micro: LiteRT's reference is the judge."""
    path, shape = more_models[name]
    _check(name, path, shape, "litert")


def test_every_claimed_op_is_exercised(more_models):
    from ai_edge_litert import schema_py_generated as s

    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    used, ir_ops = set(), set()
    for path, _ in more_models.values():
        m = s.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
        used |= {names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in m.operatorCodes}
        ir_ops |= set(from_tflite(path).ops())
    assert set(MORE_INT8_OPS) <= used
    assert {"QRelu", "QLeakyRelu", "QHardSwish", "QPRelu", "QSub", "QRequantizeU8", "Max", "Min", "ReduceMax",
            "ArgMax", "Cast", "Clip", "Transpose", "Slice", "Gather", "Reshape"} <= ir_ops


def test_uint8_model_takes_and_returns_uint8(more_models):
    path, shape = more_models["mbv3_block_uint8"]
    m = edgeinfer.convert(str(path), name="mbv3_u8")
    assert m.input_dtype == np.uint8 and m.output_dtype == np.uint8
    x = _inputs(shape, np.dtype(np.uint8), 5)[:20]
    assert m.predict(x).dtype == np.uint8
    with pytest.raises(InputError, match="uint8"):
        m.predict(x.astype(np.int16) - 1)


@pytest.mark.parametrize("name", ["mbv3_block_uint8", "act_zoo", "compare_sub", "argmax64"])
def test_act_kernels_on_cortex_m4_under_emulation(more_models, name):
    """The generated C built for a Cortex-M4 (arm-none-eabi-gcc, -Werror) and run under QEMU gives the IR
    reference's values on rows walking through every input code."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (scripts/install-toolchains.sh installs it)")
    path, shape = more_models[name]
    dt = _dtype(path)
    x = _inputs(shape, dt, 3)[2:2 + -(-256 // int(np.prod(shape)))]
    r = edgeinfer.convert(str(path), name=name).measure(target="cortex-m4", inputs=x)
    assert r["outputs_match"], r["max_abs_diff"]


# ------------------------------------------------------------------ other quantization parameters
def _randomize(rng: np.random.Generator, in_s: float):
    """A flatbuffer edit giving the model input scale ``in_s`` and a random zero point, every int8 op output a
    random scale (within a factor 1/100 .. 2 of the input's) and zero point, LEAKY_RELU a random alpha and
    PRELU's alpha random parameters."""
    def fn(m, sg, s):

        def requant(t, scale):
            t.quantization.scale = np.array([scale], np.float32)
            t.quantization.zeroPoint = np.array([int(rng.integers(-128, 128))], np.int64)
        requant(sg.tensors[sg.inputs[0]], in_s)
        for op in sg.operators:
            code = m.operatorCodes[op.opcodeIndex].builtinCode
            t = sg.tensors[op.outputs[0]]
            if t.type == s.TensorType.INT8 and code not in (s.BuiltinOperator.MAXIMUM, s.BuiltinOperator.MINIMUM):
                requant(t, in_s * float(np.exp(rng.uniform(np.log(0.01), np.log(2.0)))))
            if code == s.BuiltinOperator.LEAKY_RELU:
                op.builtinOptions.alpha = float(rng.uniform(-1.5, 1.5))
            if code == s.BuiltinOperator.PRELU:
                requant(sg.tensors[op.inputs[1]], float(np.exp(rng.uniform(np.log(1e-3), np.log(0.05)))))
    return fn


@pytest.mark.parametrize("name", ["act_zoo", "prelu", "compare_sub"])
def test_random_quantization_parameters_equal_tflite_micro(more_models, tmp_path, name):
    """The fixed-point arithmetic over parameters TensorFlow happened not to pick: HARD_SWISH's right-shift
    branch (input scale below 3/256), negative and > 1 LEAKY_RELU alphas, zero points across the range."""
    src, shape = more_models[name]
    rng = np.random.default_rng(7)
    x = _inputs(shape, np.dtype(np.int8), 2)[:40]
    relu_exps = set()
    for k, in_s in enumerate(np.geomspace(1e-3, 0.3, 10)):
        path = _mutated(src, tmp_path, _randomize(rng, float(in_s)), f"p{k}")
        want = mm.run_tflm_all(path, x)
        g = from_tflite(path)
        relu_exps |= {hard_swish_params(n)["relu_exp"] for n in g.nodes if n.op == "QHardSwish"}
        got = run(g, x)
        if k == 0:
            c = edgeinfer.convert(path, name=f"{name}_p").run(x)
        for j, (o, w) in enumerate(zip(g.outputs, want, strict=True)):
            np.testing.assert_array_equal(got[o].reshape(w.shape), w, err_msg=f"{name} set {k} output {j}: IR")
            if k == 0:
                np.testing.assert_array_equal(c[o].reshape(w.shape), w, err_msg=f"{name} set {k} output {j}: C")
    if name == "act_zoo":   # both of HARD_SWISH's rescaling branches ran
        assert min(relu_exps) < 0 < max(relu_exps), relu_exps


# ------------------------------------------------------------------ how the multipliers are formed
def _float32_forms():
    """The multipliers of LEAKY_RELU, HARD_SWISH and SUB formed with float32 divisions (as some TFLite Micro
    sources write them): the alternative the double forms of ir/ops/quantized_act.py are told apart from."""
    from edgeinfer.ir import quant_math as qm
    from edgeinfer.ir.ops import quantized_act as qa

    f = np.float32

    def leaky(node):
        si, so, al = f(node.attr("in_scale")), f(node.attr("out_scale")), f(node.attr("alpha"))
        return (*qm.quantize_multiplier(float(si / so)), *qm.quantize_multiplier(float(si * al / so)))

    def hswish(node):
        hires = f(1 / 128) * f(node.attr("in_scale"))
        om, oe = qa._int16_multiplier(float(hires / f(node.attr("out_scale"))))
        rm, re = qa._int16_multiplier(float(hires / (f(3) / f(32768))))
        return {"out_mult": om, "out_exp": oe, "relu_mult": rm, "relu_exp": re}

    def sub(node):
        s1, s2, so = f(node.attr("a_scale")), f(node.attr("b_scale")), f(node.attr("out_scale"))
        tm = f(2) * max(s1, s2)
        (m1, e1), (m2, e2) = qm.quantize_multiplier(float(s1 / tm)), qm.quantize_multiplier(float(s2 / tm))
        mo, eo = qm.quantize_multiplier(float(tm / (f(1 << 20) * so)))
        return {"left_shift": 20, "m1": m1, "s1": e1, "m2": m2, "s2": e2, "mo": mo, "so": eo}
    return {"leaky_relu_params": leaky, "hard_swish_params": hswish, "sub_params": sub}


@pytest.mark.parametrize("op", ["LEAKY_RELU", "HARD_SWISH", "SUB"])
def test_multipliers_formed_in_double_as_tflite_micro(more_models, tmp_path, monkeypatch, op):
    """Parameters where a float32-formed multiplier changes some output code (searched for), written into a
    model: TFLite Micro's bytes follow the double form, which the IR and the C use, on every input code."""
    from edgeinfer.ir.node import Node
    from edgeinfer.ir.ops import quantized_act as qa

    codes = np.arange(-128, 128)
    if op == "SUB":
        a, b = np.meshgrid(codes, codes)
        ins, kind, fn = (a.astype(np.int8), b.astype(np.int8)), qa.QSub, "sub_params"
    else:
        ins, fn = (codes.astype(np.int8),), {"LEAKY_RELU": "leaky_relu_params", "HARD_SWISH": "hard_swish_params"}[op]
        kind = qa.QLeakyRelu if op == "LEAKY_RELU" else qa.QHardSwish
    alt, rng = _float32_forms()[fn], np.random.default_rng(1)
    for _ in range(20000):
        si, so = (float(np.float32(np.exp(rng.uniform(-6, -1)))) for _ in range(2))
        so = float(np.float32(si * np.exp(rng.uniform(-4, 0.5)))) if op == "HARD_SWISH" else so
        zi, zo, zb = (int(v) for v in rng.integers(-128, 128, 3))
        sb = float(np.float32(np.exp(rng.uniform(-6, -1))))
        attrs = ({"a_scale": si, "a_zp": zi, "b_scale": sb, "b_zp": zb, "out_scale": so, "out_zp": zo} if op == "SUB"
                 else {"in_scale": si, "in_zp": zi, "out_scale": so, "out_zp": zo,
                       "alpha": float(np.float32(rng.uniform(-1, 1)))})
        node = Node(kind.name, [], [], attrs)
        double = kind.reference(node, *ins)[0]
        with monkeypatch.context() as mp:
            mp.setattr(qa, fn, alt)
            single = kind.reference(node, *ins)[0]
        if (double != single).any():
            break
    else:
        pytest.fail("no parameters found where the float32 form differs")

    def write(m, sg, s):
        def setq(i, scale, zp):
            sg.tensors[i].quantization.scale = np.array([scale], np.float32)
            sg.tensors[i].quantization.zeroPoint = np.array([zp], np.int64)
        target = _ops(m, sg, s, op)[0]
        setq(target.outputs[0], so, zo)
        if op == "SUB":
            setq(target.inputs[0], si, zi)
            setq(target.inputs[1], sb, zb)
        else:
            setq(sg.inputs[0], si, zi)
            if op == "LEAKY_RELU":
                target.builtinOptions.alpha = attrs["alpha"]
    src = more_models["sub_pair" if op == "SUB" else "act_zoo"][0]
    path = _mutated(src, tmp_path, write, op.lower())
    if op == "SUB":   # row r: every code minus code r
        x, j = np.concatenate([ins[0], ins[1]], axis=1), 0
    else:             # the first 256 values of the input walk through every code
        x = np.resize(ins[0], (2, *more_models["act_zoo"][1]))
        g0 = from_tflite(path)
        j = next(k for k, o in enumerate(g0.outputs) if any(n.op == kind.name and o in n.outputs for n in g0.nodes))
    want = mm.run_tflm_all(path, x)[j].reshape(-1)[:double.size]
    assert not np.array_equal(single.reshape(-1), want), "the float32 form should differ from TFLite Micro here"
    np.testing.assert_array_equal(double.reshape(-1), want)
    g = from_tflite(path)
    for got in (run(g, x)[g.outputs[j]], edgeinfer.convert(path, name=f"{op.lower()}_mult").run(x)[g.outputs[j]]):
        np.testing.assert_array_equal(got.reshape(-1)[:double.size], want)


# ------------------------------------------------------------------ bad input
def _mutated(src, tmp_path, fn, tag: str = "bad") -> str:
    """A copy of ``src`` with ``fn(model, subgraph, schema)`` applied to its flatbuffer."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    m = s.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    fn(m, m.subgraphs[0], s)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    out = tmp_path / f"{tag}_{src.stem}.tflite"
    out.write_bytes(bytes(b.Output()))
    return str(out)


def _ops(m, sg, s, op: str) -> list:
    return [o for o in sg.operators if m.operatorCodes[o.opcodeIndex].builtinCode == getattr(s.BuiltinOperator, op)]


def test_uint8_quantize_with_bad_params_is_refused(more_models, tmp_path):
    def bad_zero_point(m, sg, s):
        sg.tensors[sg.inputs[0]].quantization.zeroPoint = np.array([300])

    path = _mutated(more_models["mbv3_block_uint8"][0], tmp_path, bad_zero_point)
    with pytest.raises(UnsupportedModelError, match=r"QUANTIZE .*uint8 tensor .*zero point in \[0, 255\].*re-convert"):
        from_tflite(path)


def test_unsupported_fused_activation_is_named(more_models, tmp_path):
    def tanh_on_sub(m, sg, s):
        _ops(m, sg, s, "SUB")[0].builtinOptions.fusedActivationFunction = s.ActivationFunctionType.TANH

    path = _mutated(more_models["mbv3_block"][0], tmp_path, tanh_on_sub)
    with pytest.raises(UnsupportedModelError, match="SUB .* fused activation TANH.*as its own layer"):
        from_tflite(path)


def test_reduce_max_with_requantization_is_refused(more_models, tmp_path):
    def rescale(m, sg, s):
        sg.tensors[_ops(m, sg, s, "REDUCE_MAX")[0].outputs[0]].quantization.scale = np.array([0.5], np.float32)

    path = _mutated(more_models["seq"][0], tmp_path, rescale)
    with pytest.raises(UnsupportedModelError, match="REDUCE_MAX .*quantization differ"):
        from_tflite(path)


def test_hard_swish_output_scale_tflite_refuses(more_models, tmp_path):
    def tiny_out(m, sg, s):
        sg.tensors[_ops(m, sg, s, "HARD_SWISH")[0].outputs[0]].quantization.scale = np.array([1e-6], np.float32)

    path = _mutated(more_models["act_zoo"][0], tmp_path, tiny_out)
    with pytest.raises(UnsupportedModelError, match="HARD_SWISH .*TFLite refuses this too"):
        from_tflite(path)


# ------------------------------------------------------------------ PTQ of torch graphs onto the new ops
def test_ptq_uses_the_int8_activation_ops():
    """edgeinfer.quantize of a torch CNN with LeakyReLU, hard swish, a subtraction, a ReLU after max pooling
    (nothing to fold it into) and a global max: every layer int8, C bytes equal the IR reference, and the
    output stays close to torch's own."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 1)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            a = torch.nn.functional.leaky_relu(self.c1(x), 0.1)
            h = torch.nn.functional.hardswish(a)
            d = torch.relu(torch.nn.functional.max_pool2d(h - self.c2(a), 2))
            return self.fc(torch.amax(d, dim=(2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    X = np.random.default_rng(0).standard_normal((120, 3, 8, 8)).astype(np.float32)
    graph = edgeinfer.load_graph(net, torch.from_numpy(X[:1]))
    q = edgeinfer.quantize(graph, calibration=X[:80])
    assert {"QLeakyRelu", "QHardSwish", "QSub", "QRelu", "ReduceMax"} <= set(q.ops())
    assert not {"LeakyRelu", "HardSwish", "Sub", "Relu"} & set(q.ops())
    with torch.no_grad():
        want = net(torch.from_numpy(X[80:])).numpy()
    got = edgeinfer.ir.run(q, X[80:])[q.outputs[0]]
    rel = float(np.sqrt(np.mean((got - want) ** 2)) / np.sqrt(np.mean(want ** 2)))
    print(f"PTQ LeakyReLU/hardswish/Sub/ReLU/amax CNN: relative RMS error {rel:.4f} against torch")
    assert rel < 0.05
    np.testing.assert_array_equal(edgeinfer.convert(q, name="act_ptq").predict(X[80:]), got)
