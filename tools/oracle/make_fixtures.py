#!/usr/bin/python3
"""Golden fixtures for Attend's tensor ops, computed by real PyTorch.

Run with Debian's PyTorch 1.13 (not whatever python3 is first on PATH):

    /usr/bin/python3 tools/oracle/make_fixtures.py           # (re)write tests/Attend.Tests/Fixtures/ops/
    /usr/bin/python3 tools/oracle/make_fixtures.py --check   # regenerate into a temp dir, compare byte-for-byte

One file per case, in safetensors format written by hand (the safetensors package is not installable here):
    u64 little-endian N | N bytes of JSON header, space-padded to a multiple of 8 | raw little-endian data
Tensors in a file:
    in0, in1, ...      the op's inputs in call order (F32 inputs with a grad_inK require grad; I64/BOOL never do)
    w                  a float input that does NOT require grad (cross-entropy class weights)
    out | out0, out1   the output(s)
    gout | gout0, ...  a random upstream gradient per float output
    grad_inK           d sum(out * gout) / d inK, from torch.autograd
The header's "__metadata__" holds "op" and the op's arguments, as strings, for readability.

Why float64: inputs are drawn as float32 (so the file holds them exactly), but the forward and backward run in
float64 and are rounded to float32 only when written. The fixture is then the exact answer to within one float32
rounding, and every bit of difference a test sees is Attend's error, not PyTorch's float32 error.

Why these inputs: values sit away from kinks (abs, relu, clamp) and maxima are distinct, so the gradient PyTorch
picks is the only sensible one and a test cannot fail on a tie-break.

Dims legend: B = batch, H = heads or a second batch dim, T = positions, N = samples (rows), C = classes,
             D = feature width, V = vocabulary size, K = inner (contracted) dim of a matmul.
"""

import argparse
import json
import os
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "Attend.Tests", "Fixtures", "ops"))


# ---------------------------------------------------------------------------------------------------------------
# safetensors writer
# ---------------------------------------------------------------------------------------------------------------

def _as_numpy(t):
    """(safetensors dtype, little-endian numpy array) for a float, int64 or bool tensor.

    float16 and bfloat16 keep their 16 bits (F16, BF16); numpy has no bfloat16, so BF16 travels as its raw int16 bits.
    """
    t = t.detach()
    if t.dtype == torch.float16:
        return "F16", t.numpy().astype("<f2")
    if t.dtype == torch.bfloat16:
        return "BF16", t.view(torch.int16).numpy().astype("<i2")
    if t.dtype in (torch.float32, torch.float64):
        return "F32", t.to(torch.float32).numpy().astype("<f4")
    if t.dtype == torch.int64:
        return "I64", t.numpy().astype("<i8")
    if t.dtype == torch.bool:
        return "BOOL", t.numpy().astype(np.uint8)
    raise TypeError(f"no fixture dtype for {t.dtype}")


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, tensor) in file order; metadata: dict of str -> str."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors:
        dtype, arr = _as_numpy(t)
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for raw in blobs:
            f.write(raw)


# ---------------------------------------------------------------------------------------------------------------
# Inputs: float32 draws, made safe for the op
# ---------------------------------------------------------------------------------------------------------------

class NoGrad:
    """A float input that does not require grad; `name` overrides the positional inK name (e.g. "w")."""

    def __init__(self, tensor, name=None):
        self.tensor, self.name = tensor, name


def randn(*shape, scale=1.0):
    return torch.randn(*shape) * scale


def uniform(lo, hi, *shape):
    return torch.rand(*shape) * (hi - lo) + lo


def signed(lo, hi, *shape):
    """Magnitudes in [lo, hi) with random signs: keeps values away from 0 (denominators, abs, relu)."""
    sign = torch.where(torch.rand(*shape) < 0.5, -1.0, 1.0)
    return sign * uniform(lo, hi, *shape)


def avoid(x, kinks, gap=0.05):
    """Push every value within `gap` of a kink out to exactly 2*gap from it, keeping its side."""
    for k in kinks:
        near = (x - k).abs() < gap
        side = torch.where(x >= k, 1.0, -1.0)
        x = torch.where(near, k + side * 2 * gap, x)
    return x


def distinct(*shape, spacing=0.1):
    """A shuffled grid of values `spacing` apart plus jitter below spacing/2: no two values are ever tied."""
    n = int(np.prod(shape))
    grid = (torch.randperm(n).to(torch.float32) - n / 2) * spacing
    return (grid + uniform(0, spacing / 2, n)).reshape(*shape)


# ---------------------------------------------------------------------------------------------------------------
# One case: seed, inputs, forward, backward, write
# ---------------------------------------------------------------------------------------------------------------

def make_case(out_dir, name, op, make_inputs, fn, **args):
    """Write `<name>.safetensors`.

    make_inputs() -> list of inputs in the op's call order: float32 tensors (require grad), NoGrad(...) wrappers,
    int64 or bool tensors. fn(*inputs) -> a tensor or a tuple of tensors, computed in float64.
    """
    torch.manual_seed(zlib.crc32(name.encode()))  # a per-case seed that does not depend on case order
    raw_inputs = make_inputs()

    stored, compute, grad_of = [], [], []  # grad_of: (file name, float64 leaf) for inputs that require grad
    positional = 0
    for item in raw_inputs:
        if isinstance(item, NoGrad) and item.name is not None:
            file_name = item.name
        else:
            file_name = f"in{positional}"
            positional += 1
        t = item.tensor if isinstance(item, NoGrad) else item
        stored.append((file_name, t))
        if t.dtype == torch.float32:
            leaf = t.to(torch.float64)
            if not isinstance(item, NoGrad):
                leaf.requires_grad_(True)
                grad_of.append((file_name, leaf))
            compute.append(leaf)
        else:
            compute.append(t)

    result = fn(*compute)
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    multi = len(outs) > 1
    out_names = [f"out{i}" for i in range(len(outs))] if multi else ["out"]

    # One random upstream gradient per float output; backprop sum(out * gout) through all of them at once.
    gouts, loss = [], 0.0
    for i, o in enumerate(outs):
        if o.is_floating_point():
            g = torch.randn(tuple(o.shape))
            gouts.append((f"gout{i}" if multi else "gout", g))
            loss = loss + (o * g.to(torch.float64)).sum()
    grads = torch.autograd.grad(loss, [leaf for _, leaf in grad_of], allow_unused=True) if grad_of else []

    tensors = list(stored)
    tensors += list(zip(out_names, outs))
    tensors += gouts
    for (file_name, leaf), g in zip(grad_of, grads):
        tensors.append((f"grad_{file_name}", g if g is not None else torch.zeros_like(leaf)))

    metadata = {"op": op, **args}
    if grad_of:
        metadata["requires_grad"] = ",".join(n for n, _ in grad_of)
    write_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors, metadata)
    return name


# ---------------------------------------------------------------------------------------------------------------
# Case groups
# ---------------------------------------------------------------------------------------------------------------

def elementwise_cases(out):
    """Binary ops with and without broadcasting (the grad of a broadcast input is summed back to its shape)."""
    yield make_case(out, "add", "add", lambda: [randn(3, 4, 5), randn(3, 4, 5)], lambda a, b: a + b)
    yield make_case(out, "add_broadcast", "add", lambda: [randn(2, 3, 4), randn(4)], lambda a, b: a + b)
    # [2,1,4] + [3,1] -> [2,3,4]: both inputs broadcast, in different dims
    yield make_case(out, "add_broadcast2", "add", lambda: [randn(2, 1, 4), randn(3, 1)], lambda a, b: a + b)
    yield make_case(out, "sub_broadcast", "sub", lambda: [randn(3, 1, 5), randn(4, 1)], lambda a, b: a - b)
    yield make_case(out, "mul_broadcast", "mul", lambda: [randn(2, 3, 4), randn(3, 1)], lambda a, b: a * b)
    # denominators in ±[0.5, 2): the quotient and its grad stay O(1)
    yield make_case(out, "div_broadcast", "div", lambda: [randn(2, 3, 4), signed(0.5, 2.0, 1, 4)], lambda a, b: a / b)

    # Unary math.
    yield make_case(out, "neg", "neg", lambda: [randn(3, 4, 5)], lambda x: -x)
    # the cube is defined for negative x too; keep |x| >= 0.3 so no value is near 0
    yield make_case(out, "pow_scalar3", "pow", lambda: [signed(0.3, 1.5, 3, 4, 5)], lambda x: x ** 3, exponent="3")
    yield make_case(out, "pow_scalar_half", "pow", lambda: [uniform(0.2, 3.0, 3, 4, 5)], lambda x: x ** 0.5,
                    exponent="0.5")
    # positive base so base ** exponent is real and d/dexp = out * log(base) is defined; exponent broadcast [4,5]
    yield make_case(out, "pow_tensor", "pow", lambda: [uniform(0.5, 2.0, 3, 4, 5), randn(4, 5)], lambda a, b: a ** b)
    yield make_case(out, "sqrt", "sqrt", lambda: [uniform(0.2, 3.0, 3, 4, 5)], torch.sqrt)
    yield make_case(out, "exp", "exp", lambda: [randn(3, 4, 5)], torch.exp)
    yield make_case(out, "log", "log", lambda: [uniform(0.2, 3.0, 3, 4, 5)], torch.log)
    yield make_case(out, "abs", "abs", lambda: [avoid(randn(3, 4, 5), [0.0])], torch.abs)
    yield make_case(out, "clamp", "clamp", lambda: [avoid(randn(3, 4, 5), [-0.5, 0.5])],
                    lambda x: torch.clamp(x, min=-0.5, max=0.5), min="-0.5", max="0.5")
    yield make_case(out, "clamp_min_only", "clamp", lambda: [avoid(randn(3, 4, 5), [0.1])],
                    lambda x: torch.clamp(x, min=0.1), min="0.1", max="None")


def matmul_cases(out):
    """Matmul in every rank combination torch.matmul accepts: 2-D, batched, broadcast batch, and 1-D operands."""
    yield make_case(out, "matmul_2d", "matmul", lambda: [randn(3, 4), randn(4, 5)], torch.matmul)
    # [B,H,N,K] @ [B,H,K,D]
    yield make_case(out, "matmul_batched", "matmul", lambda: [randn(2, 3, 4, 5), randn(2, 3, 5, 6)], torch.matmul)
    # [B,1,N,K] @ [H,K,D] -> [B,H,N,D]: the left batch dim of 1 and the missing right batch dim both broadcast
    yield make_case(out, "matmul_broadcast", "matmul", lambda: [randn(2, 1, 4, 5), randn(3, 5, 6)], torch.matmul)
    # 1-D operands: a vector on the left is a row ([K] @ [K,D] -> [D]), on the right a column ([N,K] @ [K] -> [N])
    yield make_case(out, "matmul_vec_left", "matmul", lambda: [randn(5), randn(5, 6)], torch.matmul)
    yield make_case(out, "matmul_vec_right", "matmul", lambda: [randn(4, 5), randn(5)], torch.matmul)
    yield make_case(out, "matmul_vec_dot", "matmul", lambda: [randn(5), randn(5)], torch.matmul)
    yield make_case(out, "matmul_batched_vec", "matmul", lambda: [randn(2, 4, 5), randn(5)], torch.matmul)


def reduction_cases(out):
    """Sum, mean, max, var over all elements, one dim, and several dims."""
    yield make_case(out, "sum_all", "sum", lambda: [randn(3, 4, 5)], torch.sum)
    yield make_case(out, "sum_dim", "sum", lambda: [randn(3, 4, 5)], lambda x: x.sum(dim=1), dim="1", keepdim="False")
    yield make_case(out, "sum_dims_keepdim", "sum", lambda: [randn(3, 4, 5)],
                    lambda x: x.sum(dim=(0, 2), keepdim=True), dim="[0, 2]", keepdim="True")
    yield make_case(out, "mean_dim", "mean", lambda: [randn(3, 4, 5)], lambda x: x.mean(dim=-1), dim="-1",
                    keepdim="False")
    yield make_case(out, "mean_all", "mean", lambda: [randn(3, 4, 5)], torch.mean)
    # distinct values: the max is unique, so its grad goes to one well-defined element
    yield make_case(out, "max_dim", "max", lambda: [distinct(3, 4, 5)], lambda x: tuple(x.max(dim=1)),
                    dim="1", keepdim="False", outputs="out0 = values, out1 = indices (I64, no grad)")
    yield make_case(out, "max_all", "max", lambda: [distinct(3, 4, 5)], torch.max)
    yield make_case(out, "var_dim", "var", lambda: [randn(3, 4, 5)], lambda x: torch.var(x, dim=1),
                    dim="1", keepdim="False", correction="1")
    yield make_case(out, "var_dims_correction0", "var", lambda: [randn(3, 4, 5)],
                    lambda x: torch.var(x, dim=(0, 2), correction=0), dim="[0, 2]", keepdim="False", correction="0")


def activation_cases(out):
    """Pointwise nonlinearities; inputs scaled by 2 so the curved parts are exercised."""
    yield make_case(out, "relu", "relu", lambda: [avoid(randn(3, 4, 5, scale=2.0), [0.0])], F.relu)
    yield make_case(out, "gelu_erf", "gelu", lambda: [randn(3, 4, 5, scale=2.0)], F.gelu, approximate="none")
    yield make_case(out, "gelu_tanh", "gelu", lambda: [randn(3, 4, 5, scale=2.0)],
                    lambda x: F.gelu(x, approximate="tanh"), approximate="tanh")
    yield make_case(out, "silu", "silu", lambda: [randn(3, 4, 5, scale=2.0)], F.silu)
    yield make_case(out, "tanh", "tanh", lambda: [randn(3, 4, 5, scale=2.0)], torch.tanh)
    yield make_case(out, "sigmoid", "sigmoid", lambda: [randn(3, 4, 5, scale=2.0)], torch.sigmoid)


def softmax_cases(out):
    """Softmax and log-softmax over the last dim (the attention case) and over a leading dim."""
    yield make_case(out, "softmax_last", "softmax", lambda: [randn(3, 4, 5, scale=2.0)],
                    lambda x: F.softmax(x, dim=-1), dim="-1")
    yield make_case(out, "softmax_dim0", "softmax", lambda: [randn(3, 4, 5, scale=2.0)],
                    lambda x: F.softmax(x, dim=0), dim="0")
    yield make_case(out, "log_softmax_last", "log_softmax", lambda: [randn(3, 4, 5, scale=2.0)],
                    lambda x: F.log_softmax(x, dim=-1), dim="-1")
    yield make_case(out, "log_softmax_dim1", "log_softmax", lambda: [randn(3, 4, 5, scale=2.0)],
                    lambda x: F.log_softmax(x, dim=1), dim="1")


def cross_entropy_cases(out):
    """F.cross_entropy: logits [N,C] (or [N,C,d1]) and class-index or probability targets.

    Targets are I64 inputs (no grad); -100 is PyTorch's default ignore_index.
    """
    N, C = 6, 5

    def targets(*shape):
        return torch.randint(0, C, shape)

    def targets_with_ignored():
        t = targets(N)
        t[1] = -100
        t[4] = -100
        return t

    yield make_case(out, "cross_entropy_basic", "cross_entropy", lambda: [randn(N, C, scale=2.0), targets(N)],
                    F.cross_entropy, reduction="mean", ignore_index="-100", label_smoothing="0.0")
    yield make_case(out, "cross_entropy_ignore_index", "cross_entropy",
                    lambda: [randn(N, C, scale=2.0), targets_with_ignored()],
                    F.cross_entropy, reduction="mean", ignore_index="-100", label_smoothing="0.0")
    yield make_case(out, "cross_entropy_label_smoothing", "cross_entropy", lambda: [randn(N, C, scale=2.0), targets(N)],
                    lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                    reduction="mean", ignore_index="-100", label_smoothing="0.1")
    yield make_case(out, "cross_entropy_smoothing_ignore", "cross_entropy",
                    lambda: [randn(N, C, scale=2.0), targets_with_ignored()],
                    lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                    reduction="mean", ignore_index="-100", label_smoothing="0.1")
    # class weights `w` are a float input without grad; with mean reduction PyTorch divides by sum(w[target])
    yield make_case(out, "cross_entropy_weight_smoothing", "cross_entropy",
                    lambda: [randn(N, C, scale=2.0), targets_with_ignored(), NoGrad(uniform(0.5, 2.0, C), name="w")],
                    lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1),
                    reduction="mean", ignore_index="-100", label_smoothing="0.1", weight="w")
    yield make_case(out, "cross_entropy_sum", "cross_entropy", lambda: [randn(N, C, scale=2.0), targets(N)],
                    lambda x, t: F.cross_entropy(x, t, reduction="sum"),
                    reduction="sum", ignore_index="-100", label_smoothing="0.0")
    yield make_case(out, "cross_entropy_none", "cross_entropy", lambda: [randn(N, C, scale=2.0), targets_with_ignored()],
                    lambda x, t: F.cross_entropy(x, t, reduction="none"),
                    reduction="none", ignore_index="-100", label_smoothing="0.0")
    # K-dimensional form: logits [N,C,d1] with targets [N,d1], the class dim is dim 1
    yield make_case(out, "cross_entropy_kdim", "cross_entropy", lambda: [randn(3, C, 4, scale=2.0), targets(3, 4)],
                    F.cross_entropy, reduction="mean", ignore_index="-100", label_smoothing="0.0")
    # probability targets [N,C] (each row sums to 1); a float target, but not one we differentiate
    yield make_case(out, "cross_entropy_probs", "cross_entropy",
                    lambda: [randn(N, C, scale=2.0), NoGrad(torch.softmax(randn(N, C, scale=2.0), dim=1))],
                    F.cross_entropy, reduction="mean", label_smoothing="0.0", target="probabilities")


def layer_norm_cases(out):
    """F.layer_norm over the trailing normalized_shape, eps 1e-5."""
    yield make_case(out, "layer_norm", "layer_norm", lambda: [randn(3, 4, 5), randn(5), randn(5)],
                    lambda x, w, b: F.layer_norm(x, [5], w, b, eps=1e-5), normalized_shape="[5]", eps="1e-05")
    yield make_case(out, "layer_norm_2d", "layer_norm", lambda: [randn(3, 4, 5), randn(4, 5), randn(4, 5)],
                    lambda x, w, b: F.layer_norm(x, [4, 5], w, b, eps=1e-5), normalized_shape="[4, 5]", eps="1e-05")
    yield make_case(out, "layer_norm_noaffine", "layer_norm", lambda: [randn(3, 4, 5)],
                    lambda x: F.layer_norm(x, [5], eps=1e-5), normalized_shape="[5]", eps="1e-05")


def embedding_cases(out):
    """F.embedding(ids [B,T], weight [V,D]); repeated ids accumulate their rows' grads."""
    ids = lambda: torch.tensor([[1, 3, 0, 3, 7], [0, 2, 3, 9, 1]])  # 3 three times, 0 and 1 twice
    yield make_case(out, "embedding", "embedding", lambda: [ids(), randn(10, 4)], F.embedding)
    # padding_idx row gets no grad even though id 0 occurs
    yield make_case(out, "embedding_padding_idx", "embedding", lambda: [ids(), randn(10, 4)],
                    lambda i, w: F.embedding(i, w, padding_idx=0), padding_idx="0")


def shape_cases(out):
    """Joining, splitting, selecting and viewing: the backward of each routes grads back to their source."""
    yield make_case(out, "cat_dim1", "cat", lambda: [randn(2, 3, 4), randn(2, 1, 4), randn(2, 2, 4)],
                    lambda a, b, c: torch.cat([a, b, c], dim=1), dim="1")
    yield make_case(out, "stack_dim0", "stack", lambda: [randn(3, 4), randn(3, 4), randn(3, 4)],
                    lambda a, b, c: torch.stack([a, b, c], dim=0), dim="0")
    yield make_case(out, "split_sizes", "split", lambda: [randn(5, 4)],
                    lambda x: tuple(torch.split(x, [2, 3], dim=0)), split_size_or_sections="[2, 3]", dim="0")
    # 7 columns in 3 chunks -> widths 3, 3, 1 (chunk size is ceil(7/3))
    yield make_case(out, "chunk", "chunk", lambda: [randn(3, 7)], lambda x: tuple(torch.chunk(x, 3, dim=1)),
                    chunks="3", dim="1")
    # mask [3,4] broadcast over x [2,3,4]; the fill value is the usual attention "minus infinity"
    yield make_case(out, "masked_fill", "masked_fill", lambda: [randn(2, 3, 4), torch.rand(3, 4) < 0.4],
                    lambda x, m: x.masked_fill(m, -1e9), value="-1e9")
    # cond [3,4], a [2,3,4], b [4]: all three broadcast to [2,3,4]
    yield make_case(out, "where", "where", lambda: [torch.rand(3, 4) < 0.5, randn(2, 3, 4), randn(4)], torch.where)
    # index [3,4] into x [3,5] along dim 1, with repeats (their grads add up)
    yield make_case(out, "gather_dim1", "gather", lambda: [randn(3, 5), torch.randint(0, 5, (3, 4))],
                    lambda x, i: torch.gather(x, 1, i), dim="1")
    yield make_case(out, "tril", "tril", lambda: [randn(2, 4, 5)], torch.tril, diagonal="0")
    yield make_case(out, "triu_k1", "triu", lambda: [randn(2, 4, 5)], lambda x: torch.triu(x, diagonal=1),
                    diagonal="1")
    yield make_case(out, "transpose_contiguous", "transpose", lambda: [randn(2, 3, 4)],
                    lambda x: x.transpose(0, 2).contiguous(), dim0="0", dim1="2")
    yield make_case(out, "permute", "permute", lambda: [randn(2, 3, 4)], lambda x: x.permute(2, 0, 1),
                    dims="[2, 0, 1]")
    yield make_case(out, "narrow", "narrow", lambda: [randn(3, 5, 2)], lambda x: x.narrow(1, 1, 3),
                    dim="1", start="1", length="3")
    # [3,1] expanded to [2,3,4] (stride 0 in dims 0 and 2), then summed over dim 0: a reduction over a stride-0 view
    yield make_case(out, "expand_sum", "expand+sum", lambda: [randn(3, 1)], lambda x: x.expand(2, 3, 4).sum(dim=0),
                    size="[2, 3, 4]", sum_dim="0")
    yield make_case(out, "reshape", "reshape", lambda: [randn(2, 3, 4)], lambda x: x.reshape(4, 6), shape="[4, 6]")
    # reshape of a transposed (non-contiguous) tensor must copy in logical order
    yield make_case(out, "reshape_noncontig", "transpose+reshape", lambda: [randn(2, 3, 4)],
                    lambda x: x.transpose(1, 2).reshape(2, 12), dim0="1", dim1="2", shape="[2, 12]")


GROUPS = [elementwise_cases, matmul_cases, reduction_cases, activation_cases, softmax_cases, cross_entropy_cases,
          layer_norm_cases, embedding_cases, shape_cases]


def generate_groups(out_dir, groups):
    """Runs every case group into `out_dir`; returns the case names (unique)."""
    os.makedirs(out_dir, exist_ok=True)
    names = [name for group in groups for name in group(out_dir)]
    assert len(names) == len(set(names)), "duplicate case name"
    return names


def check(out_dir, generate, report=None):
    """Regenerate into a temp dir and compare file sets and bytes with `out_dir`. Returns a process exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp)
        fresh = set(os.listdir(tmp))
        have = set(f for f in os.listdir(out_dir) if f.endswith(".safetensors")) if os.path.isdir(out_dir) else set()
        problems = [f"missing: {f}" for f in sorted(fresh - have)] + [f"stale: {f}" for f in sorted(have - fresh)]
        for f in sorted(fresh & have):
            with open(os.path.join(tmp, f), "rb") as a, open(os.path.join(out_dir, f), "rb") as b:
                if a.read() != b.read():
                    problems.append(f"differs: {f}")
    for p in problems:
        print(p)
    if report:
        report()
    print(f"{len(fresh)} cases, {'OK: byte-for-byte identical' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


def cli(description, default_out, generate, report=None):
    """The command line every fixture script shares: write the fixtures (dropping stale ones), or --check them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=default_out, help="fixture folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare byte-for-byte")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread: no chance of a thread-count-dependent summation order
    if args.check:
        sys.exit(check(args.out, generate, report))
    names = generate(args.out)
    for f in sorted(os.listdir(args.out)):  # drop fixtures of cases that no longer exist
        if f.endswith(".safetensors") and f[: -len(".safetensors")] not in names:
            os.remove(os.path.join(args.out, f))
            print(f"removed stale {f}")
    if report:
        report()
    total = sum(os.path.getsize(os.path.join(args.out, n + ".safetensors")) for n in names)
    print(f"wrote {len(names)} cases, {total} bytes, to {args.out}")


def generate(out_dir):
    return generate_groups(out_dir, GROUPS)


if __name__ == "__main__":
    cli(__doc__.split("\n")[0], DEFAULT_OUT, generate)
