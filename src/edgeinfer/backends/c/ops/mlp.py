"""C for the MLP op: float32 layers, certified label, double recomputation when unsure (see ``dense.py``)."""

from __future__ import annotations

from edgeinfer.backends.c.ops.dense import certified_label, exact_helper, fast_path, make_layers
from edgeinfer.backends.c.registry import c_op


@c_op("MLP")
def mlp(ctx, node) -> str:
    consts = [ctx.graph.const(t) for t in node.inputs[1:]]
    params = list(zip(consts[0::2], consts[1::2], strict=True))
    act, out_act = node.attr("activation", "relu"), node.attr("out_activation", "identity")
    x = ctx.ref(node.inputs[0])
    if node.attr("task", "classifier") != "classifier":
        layers = make_layers(ctx, node.name, params, exact=False)
        return "\n".join(fast_path(ctx, x, layers, act, ctx.ref(node.outputs[0]), certify=False))
    exact = bool(ctx.options.get("exact", True))
    layers = make_layers(ctx, node.name, params, exact)
    k = layers[-1].n_out
    label, proba = ctx.ref(node.outputs[0]), ctx.ref(node.outputs[1])
    lines = [f"const float *x = {x};", f"float *sc = {proba};"]
    z = "z" if k == 1 else "sc"
    if k == 1:
        lines.append("float z[1];")
    lines += fast_path(ctx, "x", layers, act, z, certify=exact)
    fn = None
    if exact:
        ctx.use_kernel("ei_activation_f64")
        if k == 1:
            decide = "ei_sigmoid_f64(z, 1);\nreturn z[0] > 0.5;"
        else:
            ctx.use_kernel("ei_reduce")
            decide = f"ei_softmax_f64(z, {k});\nreturn ei_argmax_f64(z, {k});"
        fn = exact_helper(ctx, node.name, layers, act, decide)
    lines += certified_label(ctx, label, z, k, fn)
    if k == 1:
        lines += ["sc[1] = 1.0f / (1.0f + expf(-z[0]));", "sc[0] = 1.0f - sc[1];"]
    else:
        ctx.use_kernel("ei_activation")
        lines.append(f"ei_{'softmax' if out_act == 'softmax' else 'sigmoid'}_f32(sc, {k});")
    return "\n".join(lines)
