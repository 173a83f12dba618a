#!/usr/bin/python3
"""The attention accuracy grid: float64 answers and PyTorch fp32's own errors, for large-magnitude inputs.

Run with Debian's PyTorch 1.13 (not whatever python3 is first on PATH):

    /usr/bin/python3 tools/oracle/make_accuracy_fixtures.py          # (re)write tests/Attend.Tests/Fixtures/attention/accuracy.json
    /usr/bin/python3 tools/oracle/make_accuracy_fixtures.py --check  # regenerate in memory, compare with the committed file

Each case draws q, k (uniform with standard deviation 1, 3 or 10: scores then reach the hundreds), v, an upstream
gradient gout (standard deviation 1) and a mask from SplitMix64 seeded with the case's seed — the same generator and
the same arithmetic as Attend.Data.SplitMix64 in C#, so both sides get bit-identical float32 inputs without
committing them:  x = float32((u·2 − 1)·√3·std),  u = (next >> 11)·2⁻⁵³.

For each case the file holds
    torch_units   {out, dq, dk, dv}: PyTorch's fp32 attention (its math path: the reference below run in float32)
                  against the float64 answer, worst |err| / (1e-4 + 1e-3·|ref|) — the issue's tolerance unit
    samples       {out, dq, dk, dv}: 12 float64 reference values [index, value] each, so that the C# test can check
                  that its own float64 reference (Kernels/Reference/AttentionReference.cs) is PyTorch's
    torch_dk_zero for a case with one key (S = 1): whether PyTorch fp32's dK is exactly 0 (it is: softmax of one
                  score is 1, and the softmax backward cancels exactly)
The float64 answer is make_attention_fixtures.reference_attention (primitives, scores materialized) on float64
copies of the float32 inputs.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_attention_fixtures import Options, reference_attention  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "Attend.Tests", "Fixtures", "attention", "accuracy.json")
ATOL, RTOL = 1e-4, 1e-3
MASK64 = (1 << 64) - 1

# name, B, H, Hkv, L, S, E, mask kind, causal, alignment
SHAPES = [
    ("one_key", 1, 2, 2, 37, 1, 64, "none", False, "top_left"),
    ("one_query", 1, 2, 2, 1, 200, 32, "none", False, "top_left"),
    ("single", 1, 1, 1, 1, 1, 8, "none", False, "top_left"),
    ("vit17", 2, 3, 3, 17, 17, 32, "none", False, "top_left"),
    ("square64", 1, 2, 2, 64, 64, 64, "none", False, "top_left"),
    ("rect_e80", 1, 2, 2, 150, 130, 80, "none", False, "top_left"),
    ("e8_200", 1, 2, 2, 200, 200, 8, "none", False, "top_left"),
    ("causal200", 1, 2, 2, 200, 200, 16, "none", True, "top_left"),
    ("causal_bottom_right", 1, 2, 2, 60, 160, 48, "none", True, "bottom_right"),
    ("gqa_causal", 1, 4, 2, 90, 110, 32, "none", True, "top_left"),
    ("bool_one_key_rows", 1, 2, 2, 70, 90, 40, "bool", False, "top_left"),
    ("float_mask", 1, 2, 2, 50, 120, 24, "float", False, "top_left"),
    ("key_padding", 2, 2, 2, 80, 100, 64, "padding", False, "top_left"),
]
MAGNITUDES = [1, 3, 10]


class SplitMix64:
    """Attend.Data.SplitMix64, step for step."""

    def __init__(self, state):
        self.state = state & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / (1 << 53))

    def floats(self, shape, std):
        n = int(np.prod(shape))
        a = np.array([np.float32((self.uniform() * 2 - 1) * math.sqrt(3) * std) for _ in range(n)], dtype=np.float32)
        return torch.from_numpy(a.reshape(shape))


def inputs(case):
    """q, k, v, gout (float32) and the mask (None, BOOL [L,S] True = may attend, F32 [L,S] added, BOOL [B,1,1,S])."""
    B, H, Hkv, L, S, E, kind, mag = (case[k] for k in ("B", "H", "Hkv", "L", "S", "E", "mask", "magnitude"))
    g = SplitMix64(case["seed"])
    q = g.floats((B, H, L, E), mag)
    k = g.floats((B, Hkv, S, E), mag)
    v = g.floats((B, Hkv, S, E), 1.0)
    gout = g.floats((B, H, L, E), 1.0)
    mask = None
    if kind == "bool":   # 70% of keys kept; every fifth row keeps exactly one key
        m = np.array([g.uniform() < 0.7 for _ in range(L * S)]).reshape(L, S)
        for i in range(0, L, 5):
            m[i, :] = False
            m[i, g.next() % S] = True
        mask = torch.from_numpy(m)
    elif kind == "float":
        mask = g.floats((L, S), math.sqrt(3))   # uniform in [-3, 3]
    elif kind == "padding":
        lengths = [S, S // 3]
        mask = (torch.arange(S).reshape(1, S) < torch.tensor(lengths).reshape(B, 1)).reshape(B, 1, 1, S)
    return q, k, v, gout, mask


def run(case, dtype):
    q, k, v, gout, mask = inputs(case)
    leaves = [t.to(dtype).requires_grad_(True) for t in (q, k, v)]
    m = None if mask is None else (mask if mask.dtype == torch.bool else mask.to(dtype))
    opts = Options(is_causal=case["causal"], alignment=case["alignment"], enable_gqa=case["H"] != case["Hkv"])
    out, _, _ = reference_attention(*leaves, m, opts)
    grads = torch.autograd.grad(out, leaves, grad_outputs=gout.to(dtype))
    return [out.detach()] + [g.detach() for g in grads]


def units(got, want):
    got, want = got.to(torch.float64), want
    return ((got - want).abs() / (ATOL + RTOL * want.abs())).max().item()


def cases():
    seed = 1
    for (name, B, H, Hkv, L, S, E, mask, causal, alignment) in SHAPES:
        for mag in MAGNITUDES:
            yield {"name": f"{name}_m{mag}", "B": B, "H": H, "Hkv": Hkv, "L": L, "S": S, "E": E, "mask": mask,
                   "causal": causal, "alignment": alignment, "magnitude": mag, "seed": seed}
            seed += 1


def generate():
    torch.set_num_threads(1)
    result = []
    for case in cases():
        ref = run(case, torch.float64)
        f32 = run(case, torch.float32)
        names = ["out", "dq", "dk", "dv"]
        case["torch_units"] = {n: round(units(g, r), 6) for n, g, r in zip(names, f32, ref)}
        case["samples"] = {}
        for n, r in zip(names, ref):
            flat = r.reshape(-1)
            idx = np.linspace(0, flat.numel() - 1, 12).round().astype(int)
            case["samples"][n] = [[int(i), float(flat[i])] for i in idx]
        if case["S"] == 1:
            case["torch_dk_zero"] = bool((f32[2] == 0).all())
        result.append(case)
        print(f"{case['name']:28s} torch fp32 units: " + ", ".join(f"{n} {u:.3f}" for n, u in case["torch_units"].items()), flush=True)
    return json.dumps(result, indent=1) + "\n"


if __name__ == "__main__":
    text = generate()
    if "--check" in sys.argv:
        same = os.path.exists(OUT) and open(OUT).read() == text
        print("accuracy.json is up to date" if same else "accuracy.json differs from a fresh run: regenerate it")
        sys.exit(0 if same else 1)
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT)}")
