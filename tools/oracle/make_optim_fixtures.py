#!/usr/bin/python3
"""Golden fixtures for Attend's optimizers, schedules and gradient clipping, computed by real PyTorch.

Run with Debian's PyTorch 1.13 (not whatever python3 is first on PATH):

    /usr/bin/python3 tools/oracle/make_optim_fixtures.py           # (re)write tests/Attend.Tests/Fixtures/optim/
    /usr/bin/python3 tools/oracle/make_optim_fixtures.py --check   # regenerate into a temp dir, compare byte-for-byte

Two kinds of case, one file each, in the safetensors layout of make_fixtures.py (whose writer this imports).

Optimizer cases (sgd_*, adam*, adamw*): two parameters, `weight` [5, 7] (2-D: 35 values = four 8-wide vectors and
a tail of 3) and `bias` [7] (1-D), take 10 steps of torch.optim.{SGD, Adam, AdamW} on a fixed sequence of gradients.
    weight, bias                  the parameters before the first step
    grad.weight  [10, 5, 7]       the gradient fed before step k (row k)
    grad.bias    [10, 7]
    has_grad.weight, has_grad.bias  BOOL [10]: False = that parameter has no grad at step k (p.grad = None), so
                                  the optimizer skips it, as PyTorch does; its step count does not advance
    lr           [10]             the learning rate of step k (constant, or from the warmup+cosine schedule)
    after.weight [10, 5, 7]       the parameter after step k
    after.bias   [10, 7]
__metadata__ holds the optimizer, its arguments and the parameter groups, as strings (the C# table hard-codes them).

Clip cases (clip_*): three gradients `grad.weight` [5, 7], `grad.bias` [7], `grad.scale` [1], the result of
torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type): `total_norm` (0-d) and `clipped.<name>`.

Why float64: parameters and gradients are drawn as float32 (so the file holds them exactly), but every step runs in
float64 and the trajectory is rounded to float32 only when written. The fixture is then the exact answer to within
one float32 rounding, and every bit of difference a test sees is Attend's float32 error. The script also runs each
case in float32 PyTorch and prints the largest difference from float64, to show what float32 itself costs.
Hyper-parameters are decimal literals that C# reads as the same doubles.
"""

import argparse
import math
import os
import sys
import tempfile
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402  (same folder; the writer is shared, not copied)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "Attend.Tests", "Fixtures", "optim"))

STEPS = 10
SHAPES = {"weight": (5, 7), "bias": (7,)}

# The tolerance the C# test uses: |actual - expected| <= ATOL + RTOL * |expected|.
ATOL, RTOL = 1e-6, 1e-5

float32_report = []  # (case, max |float32 torch - float64 torch|)


def get_lr(it, learning_rate, warmup_iters, lr_decay_iters, min_lr):
    """nanoGPT's get_lr (train.py): linear warmup, then cosine decay to min_lr at lr_decay_iters, then min_lr."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


# ---------------------------------------------------------------------------------------------------------------
# Optimizer cases
# ---------------------------------------------------------------------------------------------------------------

def run_trajectory(dtype, init, grads, has_grad, make_opt, lrs):
    """Run STEPS optimizer steps in `dtype`; returns {name: [STEPS, *shape] float64 tensor of the values after each step}."""
    params = {n: init[n].to(dtype).clone().requires_grad_(True) for n in SHAPES}
    opt = make_opt(params)
    after = {n: [] for n in SHAPES}
    for k in range(STEPS):
        for n, p in params.items():
            p.grad = grads[n][k].to(dtype).clone() if has_grad[n][k] else None
        if lrs is not None:
            for g in opt.param_groups:
                g["lr"] = lrs[k]
        opt.step()
        for n, p in params.items():
            after[n].append(p.detach().to(torch.float64).clone())
    return {n: torch.stack(v) for n, v in after.items()}


def optim_case(out_dir, name, make_opt, lr, schedule=None, skip=None, **meta):
    """make_opt(params: dict name -> tensor) -> a torch optimizer. schedule: get_lr kwargs (lr per step) or None.
    skip: {name: [steps without a grad]}."""
    torch.manual_seed(zlib.crc32(name.encode()))  # a per-case seed that does not depend on case order
    init = {n: torch.randn(*s) for n, s in SHAPES.items()}
    grads = {n: torch.randn(STEPS, *s) for n, s in SHAPES.items()}
    has_grad = {n: torch.tensor([k not in (skip or {}).get(n, ()) for k in range(STEPS)]) for n in SHAPES}
    lrs = [get_lr(k, **schedule) for k in range(STEPS)] if schedule else None

    exact = run_trajectory(torch.float64, init, grads, has_grad, make_opt, lrs)
    single = run_trajectory(torch.float32, init, grads, has_grad, make_opt, lrs)
    float32_report.append((name, max((exact[n] - single[n]).abs().max().item() for n in SHAPES)))

    tensors = [(n, init[n]) for n in SHAPES]
    tensors += [(f"grad.{n}", grads[n]) for n in SHAPES]
    tensors += [(f"has_grad.{n}", has_grad[n]) for n in SHAPES]
    tensors += [("lr", torch.tensor(lrs if lrs else [lr] * STEPS, dtype=torch.float64))]
    tensors += [(f"after.{n}", exact[n]) for n in SHAPES]
    if schedule:
        meta["schedule"] = "warmup_cosine(" + ", ".join(f"{k}={v}" for k, v in schedule.items()) + ")"
    write_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors, {"lr": lr, **meta})
    return name


def optimizer_cases(out):
    SGD, Adam, AdamW = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW

    def all_params(p):
        return [p["weight"], p["bias"]]

    def nanogpt_groups(p, wd):
        # nanoGPT's configure_optimizers: decay every parameter with dim >= 2, none with dim < 2
        return [{"params": [t for t in p.values() if t.dim() >= 2], "weight_decay": wd},
                {"params": [t for t in p.values() if t.dim() < 2], "weight_decay": 0.0}]

    cos = dict(learning_rate=0.01, warmup_iters=3, lr_decay_iters=8, min_lr=0.001)
    return [
        optim_case(out, "sgd_plain", lambda p: SGD(all_params(p), lr=0.1), 0.1, optimizer="SGD"),
        optim_case(out, "sgd_momentum", lambda p: SGD(all_params(p), lr=0.1, momentum=0.9), 0.1,
                   optimizer="SGD", momentum=0.9),
        optim_case(out, "sgd_nesterov", lambda p: SGD(all_params(p), lr=0.1, momentum=0.9, nesterov=True), 0.1,
                   optimizer="SGD", momentum=0.9, nesterov=True),
        optim_case(out, "sgd_weight_decay",
                   lambda p: SGD(all_params(p), lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01), 0.05,
                   optimizer="SGD", momentum=0.8, dampening=0.3, weight_decay=0.01),
        optim_case(out, "sgd_momentum_skip", lambda p: SGD(all_params(p), lr=0.1, momentum=0.9), 0.1,
                   skip={"bias": [0, 4, 5]}, optimizer="SGD", momentum=0.9, skipped="bias at steps 0, 4, 5"),
        optim_case(out, "adam", lambda p: Adam(all_params(p), lr=0.01), 0.01, optimizer="Adam"),
        optim_case(out, "adam_weight_decay",
                   lambda p: Adam(all_params(p), lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), 0.01,
                   optimizer="Adam", betas="(0.8, 0.99)", eps=1e-6, weight_decay=0.1),
        optim_case(out, "adam_skip", lambda p: Adam(all_params(p), lr=0.01), 0.01,
                   skip={"bias": [2, 3], "weight": [6]}, optimizer="Adam", skipped="bias at steps 2, 3; weight at 6"),
        optim_case(out, "adamw", lambda p: AdamW(all_params(p), lr=0.01, weight_decay=0.1), 0.01,
                   optimizer="AdamW", weight_decay=0.1),
        optim_case(out, "adamw_groups",
                   lambda p: AdamW(nanogpt_groups(p, 0.1), lr=0.01, betas=(0.9, 0.95)), 0.01,
                   optimizer="AdamW", betas="(0.9, 0.95)", groups="weight: weight_decay 0.1; bias: weight_decay 0"),
        optim_case(out, "adamw_groups_cosine",
                   lambda p: AdamW(nanogpt_groups(p, 0.1), lr=0.01, betas=(0.9, 0.95)), 0.01, schedule=cos,
                   optimizer="AdamW", betas="(0.9, 0.95)", groups="weight: weight_decay 0.1; bias: weight_decay 0"),
        optim_case(out, "sgd_nesterov_cosine",
                   lambda p: SGD(all_params(p), lr=0.01, momentum=0.9, nesterov=True), 0.01,
                   schedule=dict(learning_rate=0.1, warmup_iters=2, lr_decay_iters=9, min_lr=0.01),
                   optimizer="SGD", momentum=0.9, nesterov=True),
    ]


# ---------------------------------------------------------------------------------------------------------------
# Clip cases
# ---------------------------------------------------------------------------------------------------------------

CLIP_SHAPES = {"weight": (5, 7), "bias": (7,), "scale": (1,)}


def clip_case(out_dir, name, max_norm, norm_type):
    torch.manual_seed(zlib.crc32(name.encode()))
    grads = {n: torch.randn(*s) for n, s in CLIP_SHAPES.items()}
    params = []
    for n in CLIP_SHAPES:
        p = torch.zeros(*CLIP_SHAPES[n], dtype=torch.float64, requires_grad=True)
        p.grad = grads[n].to(torch.float64).clone()
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    tensors = [(f"grad.{n}", grads[n]) for n in CLIP_SHAPES]
    tensors += [("total_norm", total.reshape(()))]
    tensors += [(f"clipped.{n}", p.grad) for n, p in zip(CLIP_SHAPES, params)]
    write_safetensors(os.path.join(out_dir, name + ".safetensors"), tensors,
                      {"op": "clip_grad_norm_", "max_norm": max_norm, "norm_type": norm_type})
    return name


def clip_cases(out):
    return [
        clip_case(out, "clip_l2", 1.0, 2.0),
        clip_case(out, "clip_l2_noclip", 100.0, 2.0),
        clip_case(out, "clip_l1", 2.0, 1.0),
        clip_case(out, "clip_inf", 0.5, math.inf),
        clip_case(out, "clip_p3", 1.5, 3.0),
    ]


# ---------------------------------------------------------------------------------------------------------------

GROUPS = [optimizer_cases, clip_cases]


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    names = [name for group in GROUPS for name in group(out_dir)]
    assert len(names) == len(set(names)), "duplicate case name"
    return names


def check(out_dir):
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
    print(f"{len(fresh)} cases, {'OK: byte-for-byte identical' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


def report():
    """How far float32 PyTorch itself lands from float64 after 10 steps (the C# test allows ATOL + RTOL·|x|)."""
    for name, diff in float32_report:
        print(f"  {name:24s} float32 torch vs float64: max |diff| {diff:.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="fixture folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare byte-for-byte")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread: no chance of a thread-count-dependent summation order
    if args.check:
        sys.exit(check(args.out))
    names = generate(args.out)
    for f in sorted(os.listdir(args.out)):  # drop fixtures of cases that no longer exist
        if f.endswith(".safetensors") and f[: -len(".safetensors")] not in names:
            os.remove(os.path.join(args.out, f))
            print(f"removed stale {f}")
    report()
    total = sum(os.path.getsize(os.path.join(args.out, n + ".safetensors")) for n in names)
    print(f"wrote {len(names)} cases, {total} bytes, to {args.out}")


if __name__ == "__main__":
    main()
