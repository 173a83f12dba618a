#!/usr/bin/python3
"""Golden fixtures for Attend's GPT and positional encodings, computed by real PyTorch.

    /usr/bin/python3 tools/oracle/make_gpt_fixtures.py           # (re)write tests/Attend.Tests/Fixtures/gpt/
    /usr/bin/python3 tools/oracle/make_gpt_fixtures.py --check   # regenerate into a temp dir, compare byte-for-byte

Files (same hand-written safetensors layout and conventions as make_fixtures.py; seeds from crc32(file name)):

gpt_state.safetensors   the state dict of a small nanoGPT-structured model written below (2 layers, C 32, 4 heads,
                        vocab 17, block 16, bias, dropout 0), float32, exactly as torch's state_dict() lists it:
                        the tied weight appears under both transformer.wte.weight and lm_head.weight (same values).
gpt_io.safetensors      idx [4,16] I64, targets [4,16] I64 (two of them -1 = ignored, as nanoGPT), logits [4,16,17],
                        loss [], grad.<name> for every parameter of named_parameters() (the tied weight once, under
                        transformer.wte.weight), and adamw_losses [10]: the loss before each of 10 AdamW steps
                        (lr 1e-3, betas 0.9/0.95, eps 1e-8, weight decay 0.1 on dim >= 2 parameters only, as
                        nanoGPT's configure_optimizers), llm.c's test_gpt2 idea.
rope_half, rope_interleaved   x [2,3,5,8] rotated at positions 3..7 (base 10000) by a torch RoPE written below
                        (GPT-NeoX rotate_half / GPT-J rotate_every_two), gout, grad_x.
t5_buckets              rel [601] I64 = -300..300 and the HF T5 bucket of each for three (bidirectional, buckets,
                        max distance) settings, from a torch port of _relative_position_bucket (float32 math, as HF).
t5_bias                 table [32, 4] and compute_bias(5, 7) [1, 4, 5, 7] as HF's T5Attention.
alibi_slopes            slopes for 1..12 heads by the ALiBi paper's rule (geometric 2^(-8i/n); non-powers of two
                        take the power of two below and every other slope of the one above), concatenated.

Everything runs in float64 from float32-exact inputs and is rounded to float32 when written.
"""

import math
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import cli, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "Attend.Tests", "Fixtures", "gpt"))


def seed(name):
    torch.manual_seed(zlib.crc32(name.encode()))


# ---------------------------------------------------------------------------------------------------------------
# A nanoGPT-structured model (pre-LN, fused c_attn, GELU MLP, tied lm_head); manual causal attention (torch 1.13)
# ---------------------------------------------------------------------------------------------------------------

class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head = n_head

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block, n_layer, n_head, n_embd):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, n_embd), wpe=nn.Embedding(block, n_embd),
            h=nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)]), ln_f=nn.LayerNorm(n_embd)))
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))

    def forward(self, idx, targets):
        B, T = idx.size()
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def gpt_files(out):
    V, T, L, H, C, B = 17, 16, 2, 4, 32, 4
    seed("gpt_state")
    model = GPT(V, T, L, H, C)
    state = model.state_dict()
    assert "lm_head.weight" in state and "transformer.wte.weight" in state
    write_safetensors(os.path.join(out, "gpt_state.safetensors"), list(state.items()),
                      {"model": "nanoGPT structure", "block_size": T, "vocab_size": V, "n_layer": L, "n_head": H,
                       "n_embd": C, "bias": True, "dropout": 0.0, "tied": "lm_head.weight = transformer.wte.weight"})

    seed("gpt_io")
    idx = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    targets[1, 3] = -1
    targets[3, 15] = -1
    model = model.double()
    logits, loss = model(idx, targets)
    loss.backward()
    tensors = [("idx", idx), ("targets", targets), ("logits", logits), ("loss", loss)]
    tensors += [(f"grad.{n}", p.grad) for n, p in model.named_parameters()]

    # 10 AdamW steps from the same start, nanoGPT's decay groups.
    model = GPT(V, T, L, H, C).double()
    model.load_state_dict({k: v.double() for k, v in state.items()})
    params = [p for p in model.parameters()]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(10):
        opt.zero_grad(set_to_none=True)
        _, l = model(idx, targets)
        losses.append(l.item())
        l.backward()
        opt.step()
    tensors.append(("adamw_losses", torch.tensor(losses, dtype=torch.float64)))
    write_safetensors(os.path.join(out, "gpt_io.safetensors"), tensors,
                      {"adamw": "lr=1e-3 betas=(0.9,0.95) eps=1e-8 weight_decay=0.1 on dim>=2 params, 0 otherwise",
                       "loss": "cross_entropy(ignore_index=-1)", "precision": "float64 from the float32 state"})
    return ["gpt_state", "gpt_io"]


# ---------------------------------------------------------------------------------------------------------------
# Positional encodings
# ---------------------------------------------------------------------------------------------------------------

def rope_angles(d, positions, base=10000.0):
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))  # (d/2,)
    return torch.outer(positions.to(torch.float64), inv_freq)                    # (T, d/2)


def rope_half(x, offset):
    """GPT-NeoX / LLaMA: pairs (x[i], x[i + d/2]); x*cos + rotate_half(x)*sin."""
    d = x.size(-1)
    freqs = rope_angles(d, torch.arange(offset, offset + x.size(-2)))
    emb = torch.cat([freqs, freqs], dim=-1)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * emb.cos() + torch.cat([-x2, x1], dim=-1) * emb.sin()


def rope_interleaved(x, offset):
    """GPT-J / RoFormer: pairs (x[2i], x[2i+1]); x*cos + rotate_every_two(x)*sin."""
    freqs = rope_angles(x.size(-1), torch.arange(offset, offset + x.size(-2)))
    cos, sin = freqs.cos().repeat_interleave(2, dim=-1), freqs.sin().repeat_interleave(2, dim=-1)
    rotated = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)
    return x * cos + rotated * sin


def rope_file(out, name, fn):
    seed(name)
    x32 = torch.randn(2, 3, 5, 8)
    x = x32.double().requires_grad_(True)
    y = fn(x, 3)
    g = torch.randn(y.shape)
    (gx,) = torch.autograd.grad((y * g.double()).sum(), [x])
    write_safetensors(os.path.join(out, name + ".safetensors"),
                      [("x", x32), ("out", y), ("gout", g), ("grad_x", gx)], {"offset": 3, "base": 10000.0})
    return name


def t5_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """Hugging Face T5Attention._relative_position_bucket, re-typed here (float32 log math, as in HF)."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        n = torch.abs(relative_position)
    else:
        n = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, n, large)


T5_SETTINGS = [(True, 32, 128), (False, 32, 128), (True, 8, 20)]


def t5_files(out):
    rel = torch.arange(-300, 301)
    tensors = [("rel", rel)] + [(f"bucket_{'bi' if b else 'uni'}_{nb}_{md}", t5_bucket(rel, b, nb, md))
                                for b, nb, md in T5_SETTINGS]
    write_safetensors(os.path.join(out, "t5_buckets.safetensors"), tensors,
                      {"settings": "bidirectional, num_buckets, max_distance per name", "rel": "key - query"})
    seed("t5_bias")
    table = torch.randn(32, 4)
    q, k = 5, 7
    rp = torch.arange(k)[None, :] - torch.arange(q)[:, None]                       # memory - context
    bias = F.embedding(t5_bucket(rp, True, 32, 128), table.double()).permute(2, 0, 1).unsqueeze(0)  # (1, H, q, k)
    write_safetensors(os.path.join(out, "t5_bias.safetensors"), [("table", table), ("bias", bias)],
                      {"bidirectional": True, "num_buckets": 32, "max_distance": 128, "query_length": q, "key_length": k})
    return ["t5_buckets", "t5_bias"]


def alibi_slopes(n):
    def power_of_two(k):
        return [2.0 ** (-8.0 * (i + 1) / k) for i in range(k)]
    k = 2 ** math.floor(math.log2(n))
    return power_of_two(k) + power_of_two(2 * k)[0::2][: n - k]


def alibi_file(out):
    slopes = [s for n in range(1, 13) for s in alibi_slopes(n)]
    write_safetensors(os.path.join(out, "alibi_slopes.safetensors"), [("slopes", torch.tensor(slopes, dtype=torch.float64))],
                      {"layout": "slopes for n = 1, 2, ..., 12 heads, concatenated"})
    return "alibi_slopes"


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    names = gpt_files(out_dir)
    names += [rope_file(out_dir, "rope_half", rope_half), rope_file(out_dir, "rope_interleaved", rope_interleaved)]
    names += t5_files(out_dir)
    names.append(alibi_file(out_dir))
    return names


if __name__ == "__main__":
    cli(__doc__.split("\n")[0], DEFAULT_OUT, generate)
