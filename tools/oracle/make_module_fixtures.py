#!/usr/bin/python3
"""Golden fixtures for Attend's attention modules, computed by real torch.nn modules (PyTorch 1.13).

    /usr/bin/python3 tools/oracle/make_module_fixtures.py          # (re)write tests/Attend.Tests/Fixtures/modules/
    /usr/bin/python3 tools/oracle/make_module_fixtures.py --check  # regenerate into a temp dir, compare byte-for-byte

Same conventions as make_fixtures.py (whose safetensors writer this reuses): one file per case, seed = crc32(case
name), torch on one thread, everything drawn in float32 and computed in float64 (module.double()), so a fixture is
the exact answer to within one float32 rounding.

Modules: nn.MultiheadAttention in its argument combinations, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer,
nn.Transformer. All in eval mode (dropout off). A file holds:
    state.<name>         the module's state dict under PyTorch's names (the C# test loads it with strict: true)
    in.<arg>             forward inputs by PyTorch argument name (query, key, value, key_padding_mask, attn_mask,
                         src, tgt, memory, src_mask, ...); a self-attention MHA case stores only in.query and the C#
                         side passes the same tensor as query, key and value (PyTorch got the same object too)
    out                  the output;  weights  the attention weights (MHA with need_weights)
    gout                 a random upstream gradient of out
    grad_in.<arg>        d sum(out * gout) / d input, for every float input that is not a mask
    grad.<name>          d sum(out * gout) / d parameter, for every parameter
__metadata__: "module" (mha | encoder_layer | decoder_layer | transformer), "ctor" and "call" (JSON objects with
PyTorch's argument names: constructor arguments, and the forward's non-tensor arguments).

Masks never block a whole row (PyTorch gives NaN there; Attend gives 0, tested on its own).
Dims legend: B batch, L queries, S keys, E embed dim, H heads.
"""

import json
import os
import sys
import zlib

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import cli, generate_groups, write_safetensors  # noqa: E402  (shared writer)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "Attend.Tests", "Fixtures", "modules"))


# ---------------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------------

def randn(*shape):
    return torch.randn(*shape)


def bool_attn_mask(*shape):
    """True = NOT allowed (MHA's convention), ~30% blocked, the first key of every row always allowed."""
    m = torch.rand(*shape) < 0.3
    m[..., 0] = False
    return m


def float_attn_mask(*shape):
    """Added to the scores: N(0, 1) values, ~20% −inf, the first key of every row finite."""
    m = torch.randn(*shape)
    m = torch.where(torch.rand(*shape) < 0.2, torch.tensor(float("-inf")), m)
    m[..., 0] = 0.5
    return m


def bool_padding(B, S):
    """True = padding: batch item b has its last b keys padded (item 0 none), never all of them."""
    m = torch.zeros(B, S, dtype=torch.bool)
    for b in range(B):
        if b:
            m[b, S - min(b, S - 1):] = True
    return m


def float_padding(B, S):
    m = torch.randn(B, S)
    return torch.where(bool_padding(B, S), torch.tensor(float("-inf")), m)


def causal_float(n):
    return nn.Transformer.generate_square_subsequent_mask(n)


# ---------------------------------------------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------------------------------------------

CTORS = {
    "mha": nn.MultiheadAttention,
    "encoder_layer": nn.TransformerEncoderLayer,
    "decoder_layer": nn.TransformerDecoderLayer,
    "transformer": nn.Transformer,
}


def make_case(out_dir, name, module, ctor, make_inputs, call=None):
    """make_inputs() -> dict arg name -> float32/bool tensor (None entries are dropped); call: the forward's other args."""
    call = call or {}
    torch.manual_seed(zlib.crc32(name.encode()))
    m = CTORS[module](**ctor)
    m.eval()
    state = [(f"state.{k}", v.detach().clone()) for k, v in m.state_dict().items()]
    m = m.double()
    raw = {k: v for k, v in make_inputs().items() if v is not None}

    compute, grad_of = {}, []
    for k, t in raw.items():
        if t.is_floating_point():
            x = t.to(torch.float64)
            if not k.endswith("mask"):
                x.requires_grad_(True)
                grad_of.append((f"grad_in.{k}", x))
            compute[k] = x
        else:
            compute[k] = t

    weights = None
    if module == "mha":
        q = compute["query"]
        k = compute.get("key", q)
        v = compute.get("value", k)
        o, weights = m(q, k, v, key_padding_mask=compute.get("key_padding_mask"), attn_mask=compute.get("attn_mask"), **call)
    else:
        o = m(**compute, **call)
    params = [(f"grad.{n}", p) for n, p in m.named_parameters()]
    gout = torch.randn(tuple(o.shape))
    loss = (o * gout.to(torch.float64)).sum()
    leaves = [x for _, x in grad_of] + [p for _, p in params]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)

    tensors = state + [(f"in.{k}", t) for k, t in raw.items()] + [("out", o)]
    if weights is not None:
        tensors.append(("weights", weights))
    tensors.append(("gout", gout))
    for (n, leaf), g in zip(grad_of + params, grads):
        tensors.append((n, g if g is not None else torch.zeros_like(leaf)))
    metadata = {"module": module, "ctor": json.dumps(ctor, sort_keys=True), "call": json.dumps(call, sort_keys=True)}
    write_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors, metadata)
    return name


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------

E, H, B, L, S = 16, 4, 3, 5, 7


def mha_cases(out):
    """nn.MultiheadAttention: layouts, kdim/vdim, bias_kv, zero_attn, every mask kind, weights averaged or not."""
    base = {"embed_dim": E, "num_heads": H}

    def mk(name, ctor=None, inputs=None, call=None):
        return make_case(out, "mha_" + name, "mha", {**base, **(ctor or {})}, inputs, call)

    seq = lambda: {"query": randn(L, B, E), "key": randn(S, B, E), "value": randn(S, B, E)}  # noqa: E731
    yield mk("self_seq_first", inputs=lambda: {"query": randn(L, B, E)})
    yield mk("self_batch_first", {"batch_first": True}, lambda: {"query": randn(B, L, E)})
    yield mk("cross_seq_first", inputs=seq)
    yield mk("cross_batch_first", {"batch_first": True},
             lambda: {"query": randn(B, L, E), "key": randn(B, S, E), "value": randn(B, S, E)})
    yield mk("unbatched", inputs=lambda: {"query": randn(L, E), "key": randn(S, E), "value": randn(S, E)})
    yield mk("unbatched_batch_first_masks", {"batch_first": True},
             lambda: {"query": randn(L, E), "key": randn(S, E), "value": randn(S, E),
                      "key_padding_mask": bool_padding(2, S)[1], "attn_mask": bool_attn_mask(L, S)})
    yield mk("kdim_vdim", {"kdim": 6, "vdim": 10},
             lambda: {"query": randn(L, B, E), "key": randn(S, B, 6), "value": randn(S, B, 10)})
    yield mk("kdim_vdim_no_bias", {"kdim": 6, "vdim": 10, "bias": False, "batch_first": True},
             lambda: {"query": randn(B, L, E), "key": randn(B, S, 6), "value": randn(B, S, 10)})
    yield mk("no_bias", {"bias": False}, seq)
    yield mk("add_bias_kv", {"add_bias_kv": True}, seq)
    yield mk("add_zero_attn", {"add_zero_attn": True}, seq)
    yield mk("bias_kv_zero_attn_masks", {"add_bias_kv": True, "add_zero_attn": True},
             lambda: {**seq(), "key_padding_mask": bool_padding(B, S), "attn_mask": float_attn_mask(L, S)})
    yield mk("kpm_bool", inputs=lambda: {**seq(), "key_padding_mask": bool_padding(B, S)})
    yield mk("kpm_float", inputs=lambda: {**seq(), "key_padding_mask": float_padding(B, S)})
    yield mk("attn_mask_2d_bool", inputs=lambda: {**seq(), "attn_mask": bool_attn_mask(L, S)})
    yield mk("attn_mask_2d_float", inputs=lambda: {**seq(), "attn_mask": float_attn_mask(L, S)})
    yield mk("attn_mask_3d_bool", inputs=lambda: {**seq(), "attn_mask": bool_attn_mask(B * H, L, S)})
    yield mk("attn_mask_3d_float", {"batch_first": True},
             lambda: {"query": randn(B, L, E), "key": randn(B, S, E), "value": randn(B, S, E),
                      "attn_mask": float_attn_mask(B * H, L, S)})
    yield mk("both_masks_bool", inputs=lambda: {**seq(), "key_padding_mask": bool_padding(B, S),
                                                "attn_mask": bool_attn_mask(B * H, L, S)})
    yield mk("float_attn_bool_kpm", inputs=lambda: {**seq(), "key_padding_mask": bool_padding(B, S),
                                                    "attn_mask": float_attn_mask(L, S)})
    yield mk("weights_per_head", inputs=lambda: {**seq(), "key_padding_mask": bool_padding(B, S)},
             call={"average_attn_weights": False})
    yield mk("no_weights", {"batch_first": True}, lambda: {"query": randn(B, L, E)}, call={"need_weights": False})
    yield mk("causal_mask_self", {"batch_first": True},
             lambda: {"query": randn(B, L, E), "attn_mask": causal_float(L)})


def layer_cases(out):
    """Encoder and decoder layers: post-norm and pre-norm, relu and gelu, with masks."""
    d, nh, ff = 16, 4, 24
    for norm_first in (False, True):
        for act in ("relu", "gelu"):
            tag = f"{'pre' if norm_first else 'post'}_{act}"
            ctor = {"d_model": d, "nhead": nh, "dim_feedforward": ff, "activation": act, "norm_first": norm_first}
            yield make_case(out, f"encoder_layer_{tag}", "encoder_layer", ctor,
                            lambda: {"src": randn(L, B, d), "src_mask": bool_attn_mask(L, L),
                                     "src_key_padding_mask": bool_padding(B, L)})
            yield make_case(out, f"decoder_layer_{tag}", "decoder_layer", {**ctor, "batch_first": True},
                            lambda: {"tgt": randn(B, L, d), "memory": randn(B, S, d), "tgt_mask": causal_float(L),
                                     "memory_key_padding_mask": bool_padding(B, S)})
    yield make_case(out, "encoder_layer_no_masks_batch_first", "encoder_layer",
                    {"d_model": d, "nhead": nh, "dim_feedforward": ff, "batch_first": True},
                    lambda: {"src": randn(B, L, d)})
    yield make_case(out, "decoder_layer_all_masks", "decoder_layer", {"d_model": d, "nhead": nh, "dim_feedforward": ff},
                    lambda: {"tgt": randn(L, B, d), "memory": randn(S, B, d), "tgt_mask": bool_attn_mask(L, L),
                             "memory_mask": float_attn_mask(L, S), "tgt_key_padding_mask": bool_padding(B, L),
                             "memory_key_padding_mask": bool_padding(B, S)})


def transformer_cases(out):
    """A 2+2-layer nn.Transformer (with the encoder's and decoder's final LayerNorm), causal target mask."""
    d, nh, ff = 16, 4, 24
    ctor = {"d_model": d, "nhead": nh, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": ff}
    yield make_case(out, "transformer_2_2", "transformer", ctor,
                    lambda: {"src": randn(S, B, d), "tgt": randn(L, B, d), "tgt_mask": causal_float(L),
                             "src_key_padding_mask": bool_padding(B, S), "memory_key_padding_mask": bool_padding(B, S)})
    yield make_case(out, "transformer_2_2_pre_gelu_batch_first", "transformer",
                    {**ctor, "norm_first": True, "activation": "gelu", "batch_first": True},
                    lambda: {"src": randn(B, S, d), "tgt": randn(B, L, d), "tgt_mask": causal_float(L)})


GROUPS = [mha_cases, layer_cases, transformer_cases]


def generate(out_dir):
    return generate_groups(out_dir, GROUPS)


if __name__ == "__main__":
    cli(__doc__.split("\n")[0], DEFAULT_OUT, generate)
