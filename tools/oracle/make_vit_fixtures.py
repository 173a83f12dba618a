#!/usr/bin/python3
"""Golden fixture for Attend's VisionTransformer: a timm-layout ViT written in PyTorch, with timm's state-dict names.

    /usr/bin/python3 tools/oracle/make_vit_fixtures.py           # (re)write tests/Attend.Tests/Fixtures/vit/
    /usr/bin/python3 tools/oracle/make_vit_fixtures.py --check   # regenerate into a temp dir, compare byte-for-byte

timm is not installed here (Debian ships torch 1.13 only), so the model below re-types the parts of
timm.models.vision_transformer.VisionTransformer that a plain ViT uses, under timm's module names:
PatchEmbed (a Ch -> D Conv2d with kernel = stride = P, then flatten(2).transpose(1, 2)), a class token, learned
absolute positions, pre-LN Blocks (norm1 -> Attention with a fused qkv and proj; norm2 -> Mlp fc1 -> exact GELU -> fc2),
LayerNorm eps 1e-6 everywhere, the final norm and a Linear head on token 0. It is exactly timm's forward with
class_token=True, global_pool='token', no register tokens, no layer scale, qk_norm off, every dropout and drop-path 0
(timm's Identity modules hold no parameters, so the state dict is timm's key for key).

vit_timm.safetensors (same hand-written safetensors layout and conventions as make_fixtures.py; seed crc32(file name)):

  state.<name>   the state dict as timm names it, float32, patch_embed.proj.weight the 4-D conv kernel [D, Ch, P, P]
  in.x           images [B, Ch, H, W], float32 N(0, 1)
  out            logits [B, K]
  gout           a random upstream gradient of the logits, [B, K]
  grad_in.x      d sum(out * gout) / d x
  grad.<name>    d sum(out * gout) / d each parameter, in timm's shape (the conv weight 4-D)

__metadata__ holds the constructor arguments under timm's names (img_size, patch_size, in_chans, num_classes,
embed_dim, depth, num_heads, mlp_ratio, qkv_bias, class_token, global_pool, norm_eps). The values are not timm's init:
every tensor — biases, LayerNorm affines, cls_token, pos_embed included — is drawn at random, so that a
wrongly mapped or transposed tensor cannot hide behind zeros and ones, and qkv.weight is scaled by 2.5 so that the
attention is far from uniform. Forward and backward run in float64 from the
float32 state and input, rounded to float32 when written. The report also reruns the model in float32 torch and
prints how far that lands from the float64 answer, in units of the C# test's tolerance.
"""

import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import cli, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "Attend.Tests", "Fixtures", "vit"))

CONFIG = dict(img_size=16, patch_size=4, in_chans=3, num_classes=10, embed_dim=48, depth=2, num_heads=3, mlp_ratio=4.0)
BATCH = 3
ATOL, RTOL = 1e-5, 1e-4  # VitTimmParityTests.cs


def seed(name):
    torch.manual_seed(zlib.crc32(name.encode()))


# ---------------------------------------------------------------------------------------------------------------
# timm's ViT, the parts a plain ViT uses (B batch, N patches, D width, nh heads, hs head size, K classes)
# ---------------------------------------------------------------------------------------------------------------

class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, D, gh, gw) -> (B, N, D)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, B, nh, N, hs)
        q, k, v = qkv.unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)                           # (B, nh, N, N)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf), timm's default act_layer
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)                                                        # (B, N, D)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)          # (B, N + 1, D)
        x = x + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])                                                      # global_pool='token': (B, K)


def build():
    """The float32 model (PyTorch's default Linear/Conv2d init, then random norms and embeddings), images and gout."""
    seed("vit_timm")
    model = VisionTransformer(**CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("cls_token", "pos_embed"):
                p.copy_(torch.randn(p.shape) * 0.5)
            elif ".norm" in name or name.startswith("norm."):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape))
            elif name.endswith("attn.qkv.weight"):
                p.mul_(2.5)  # scores of std ~2 rather than ~0.3: attention far from uniform, so softmax is exercised
    c = CONFIG
    x = torch.randn(BATCH, c["in_chans"], c["img_size"], c["img_size"])
    gout = torch.randn(BATCH, c["num_classes"])
    return model, x, gout


def run(model, x, gout):
    """logits and d sum(logits * gout) / d (x, every parameter)."""
    x = x.clone().requires_grad_(True)
    out = model(x)
    params = [p for _, p in model.named_parameters()]
    grads = torch.autograd.grad((out * gout).sum(), [x] + params)
    return out, grads[0], dict(zip([n for n, _ in model.named_parameters()], grads[1:]))


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model, x, gout = build()
    state = {k: v.clone() for k, v in model.state_dict().items()}  # float32, before .double()
    assert state["patch_embed.proj.weight"].dim() == 4
    out, gx, grads = run(model.double(), x.double(), gout.double())
    tensors = [(f"state.{k}", v) for k, v in state.items()]
    tensors += [("in.x", x), ("out", out), ("gout", gout), ("grad_in.x", gx)]
    tensors += [(f"grad.{k}", g) for k, g in grads.items()]
    meta = dict(CONFIG, qkv_bias=True, class_token=True, global_pool="token", norm_eps=1e-6, act="gelu (exact)",
                model="timm VisionTransformer layout, re-typed in make_vit_fixtures.py",
                precision="float64 from the float32 state and input")
    write_safetensors(os.path.join(out_dir, "vit_timm.safetensors"), tensors, meta)
    return ["vit_timm"]


def report():
    """How far float32 torch lands from the float64 answer, in units of atol + rtol·|expected|."""
    model, x, gout = build()
    out32, gx32, g32 = run(model, x, gout)
    out64, gx64, g64 = run(model.double(), x.double(), gout.double())
    pairs = [("out", out32, out64), ("grad_in.x", gx32, gx64)] + [(f"grad.{k}", g32[k], g64[k]) for k in g64]
    worst = max(pairs, key=lambda p: ((p[1].double() - p[2]).abs() / (ATOL + RTOL * p[2].abs())).max().item())
    ratio = ((worst[1].double() - worst[2]).abs() / (ATOL + RTOL * worst[2].abs())).max().item()
    err = max((a.double() - b).abs().max().item() for _, a, b in pairs)
    print(f"float32 torch vs float64: max |Δ| {err:.2e} over {len(pairs)} tensors; worst {ratio:.3f}× the C# tolerance "
          f"({worst[0]})")
    # The layout claim behind Attend's loader: the stride-P conv is patches flattened in (Ch, P, P) order times the
    # kernel read as [D, Ch·P·P].
    c, P, xd = CONFIG, CONFIG["patch_size"], x.double()
    g = c["img_size"] // P
    patches = xd.reshape(BATCH, c["in_chans"], g, P, g, P).permute(0, 2, 4, 1, 3, 5).reshape(BATCH, g * g, -1)
    proj = model.patch_embed.proj
    diff = (patches @ proj.weight.reshape(c["embed_dim"], -1).t() + proj.bias - model.patch_embed(xd)).abs().max().item()
    print(f"conv patch embedding vs (Ch, P, P)-flattened patches @ W[D, Ch·P·P]ᵀ: max |Δ| {diff:.1e}")
    assert diff < 1e-12


if __name__ == "__main__":
    cli(__doc__.split("\n")[0], DEFAULT_OUT, generate, report)
