#!/usr/bin/env python3
"""Expected data-parallel efficiency at K = 8 and 64 nodes over 10 and 100 Gb/s Ethernet (docs/distributed.md).

Weak scaling: every node keeps its batch, so the compute per step per node stays t_c and each step adds one all-reduce of
the gradients (S = 4 bytes x parameters, plus a flag per parameter) and one of the loss. A ring all-reduce sends
2(K-1)/K x S per node and takes 2(K-1) latency hops per message (Open MPI's ring for large messages; the latency term
counts each 16 MiB piece as a message). DataParallel overlaps the reduction with the backward (about 2/3 of t_c), but
one piece is in flight at a time and the last bucket cannot overlap.

    t_comm = 2(K-1)/K * S / B  +  2(K-1) * alpha * (pieces + 1)
    efficiency, no overlap    = t_c / (t_c + t_comm)
    efficiency, best overlap  = t_c / (t_c + max(t_comm - 2/3 t_c, t_last))     t_last: the last bucket (1 MiB) alone

Inputs, measured on this host (docs/results/*): t_c of the GPT small preset from lm-small-step.txt (tokens/s of one
process on both cores); the BERT-base step from the gpt-step's achieved FLOP rate (ddp-scaling.txt) times BERT-base's
FLOPs; alpha from allreduce:1 between the two namespaces over TCP (distributed-tcp.txt), and 0.1 ms as a what-if for a
real network's switches and busy hosts. B is the link rate at 90 %.
"""
import math

CORES = 2
ALPHA = {"TCP over the veth pair, measured 0.027 ms": 27e-6, "assumed 0.1 ms (switches, busy hosts)": 100e-6}
LINKS = {"10 Gb/s": 10e9 / 8 * 0.9, "100 Gb/s": 100e9 / 8 * 0.9}
MIB = 1 << 20


def gpt_step_flops_per_s(median_ms=572.2):
    # gpt-step: 6 layers, d 384, ctx 256, batch 8: 6 x params + attention 12 x L x T x d per token
    params, tokens = 10_795_776, 8 * 256
    per_token = 6 * params + 12 * 6 * 256 * 384
    return per_token * tokens / (median_ms / 1000)


MODELS = {
    # name: (parameters, seconds of compute per step per node)
    "GPT small preset (619,904 params, batch 32 x 128)": (619_904, 32 * 128 / 33.5e3),
    "BERT-base size (109.5M params, batch 32 x 128)": (109_482_240, 32 * 128 * (6 * 109_482_240 + 12 * 12 * 128 * 768) / gpt_step_flops_per_s()),
}


def efficiency(params, t_c, k, bw, alpha):
    s = 4 * params * 1.0 + 4 * params / 1e3                      # gradients (+ flags, negligible)
    pieces = math.ceil(s / (16 * MIB)) + (1 if s > MIB else 0)     # 16 MiB pieces, the first bucket 1 MiB
    t_comm = 2 * (k - 1) / k * s / bw + 2 * (k - 1) * alpha * (pieces + 1)
    last = 2 * (k - 1) / k * min(s, MIB) / bw + 2 * (k - 1) * alpha * 2
    return t_comm, t_c / (t_c + t_comm), t_c / (t_c + max(t_comm - 2 / 3 * t_c, last))


def main():
    print(f"gpt-step achieved {gpt_step_flops_per_s() / 1e9:.0f} GFLOP/s on {CORES} cores (compute model for BERT-base)")
    for name, (params, t_c) in MODELS.items():
        print(f"\n{name}: compute {t_c * 1000:.0f} ms per step per node, {4 * params / 1e6:.1f} MB all-reduced per step")
        print(f"  {'latency':<42} {'link':>8} {'K':>3} {'t_comm ms':>10} {'eff. no overlap':>16} {'eff. overlap':>13}")
        for aname, alpha in ALPHA.items():
            for lname, bw in LINKS.items():
                for k in (8, 64):
                    t, lo, hi = efficiency(params, t_c, k, bw, alpha)
                    print(f"  {aname:<42} {lname:>8} {k:>3} {t * 1000:>10.1f} {lo:>16.3f} {hi:>13.3f}")
    # where it breaks down: the node speed-up (fewer cores' worth of time per step) at which efficiency falls below 0.5
    print("\nwhere it breaks down (efficiency without overlap < 0.5): node throughput x this host's, alpha 0.027 ms")
    for name, (params, t_c) in MODELS.items():
        for lname, bw in LINKS.items():
            for k in (8, 64):
                t, _, _ = efficiency(params, t_c, k, bw, 27e-6)
                print(f"  {name[:22]:<22} {lname:>8} K={k:<3} breaks down once a node computes {t_c / t:.1f}x faster than this 2-core host")


if __name__ == "__main__":
    main()
