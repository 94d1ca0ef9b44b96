"""C for the MLP op: float32 layers, certified label, double recomputation when unsure (see ``dense.py``)."""

from __future__ import annotations

from edgeinfer.backends.c.ops.dense import call_core, core_helper, exact_helper, make_layers, regress
from edgeinfer.backends.c.registry import c_op


@c_op("MLP")
def mlp(ctx, node) -> str:
    consts = [ctx.graph.const(t) for t in node.inputs[1:]]
    params = list(zip(consts[0::2], consts[1::2], strict=True))
    act, out_act = node.attr("activation", "relu"), node.attr("out_activation", "identity")
    x = ctx.ref(node.inputs[0])
    if node.attr("task", "classifier") != "classifier":
        layers = make_layers(ctx, node.name, params, exact=False, input_major=True)
        return regress(ctx, x, layers, act, ctx.ref(node.outputs[0]))
    exact = bool(ctx.options.get("exact", True))
    layers = make_layers(ctx, node.name, params, exact, input_major=True)
    k = layers[-1].n_out
    label, proba = ctx.ref(node.outputs[0]), ctx.ref(node.outputs[1])
    fn = None
    if exact:
        # the label from the double logits: the output activation is increasing, so it cannot
        # change the sign / argmax (except by rounding two logits closer than 1e-16 into one
        # probability, far below what the double path resolves anyway); skipping it keeps soft
        # double exp / division out of flash on an FPU-single MCU
        if k == 1:
            decide = "return zz[0] > 0.0;"
        else:
            ctx.use_kernel("ei_reduce")
            decide = f"return ei_argmax_f64(zz, {k});"
        fn = exact_helper(ctx, node.name, layers, act, decide)
    core = core_helper(ctx, node, layers, act, k, fn)
    lines = [f"float *sc = {proba};", *call_core(core, x, label, "sc", k, layers[-1].n_pad)]
    if k == 1:
        lines += ["sc[1] = 1.0f / (1.0f + expf(-z[0]));", "sc[0] = 1.0f - sc[1];"]
    else:
        ctx.use_kernel("ei_activation")
        lines.append(f"ei_{'softmax' if out_act == 'softmax' else 'sigmoid'}_f32(sc, {k});")
    return "\n".join(lines)
