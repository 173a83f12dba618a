"""What PyTorch 1.13's math attention costs for the recall model at long lengths (docs/long-context.md).

The same shape as `attend train recall`'s model (2 layers, d 64, 2 heads, RoPE-free: positions do not change the cost),
one training step (forward, backward, AdamW) on one sequence of L tokens, with attention written as PyTorch 1.13's
math path computes it: scores = q·kᵀ/√d (B, H, L, L), causal mask, softmax, ·v — every L×L matrix is formed and kept
for the backward. Prints L, peak RSS (ru_maxrss, the whole process) and the step's seconds.
Usage: /usr/bin/python3 tools/recall/torch_math_16k.py L
"""
import math, resource, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(2)
L = int(sys.argv[1])
d, H, V = 64, 2, 192


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        B, T, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, H, d // H).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d // H)           # (B, H, T, T)
        p = s.masked_fill(mask, float('-inf')).softmax(-1)          # (B, H, T, T), kept for the backward
        x = x + self.proj((p @ v).transpose(1, 2).reshape(B, T, d))
        return x + self.mlp(self.ln2(x))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, d)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, V, bias=False)

    def forward(self, x):
        mask = torch.triu(torch.ones(x.shape[1], x.shape[1], dtype=torch.bool), 1)
        h = self.emb(x)
        for b in self.blocks:
            h = b(h, mask)
        return self.head(self.ln(h))


m = Model()
opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
x = torch.randint(0, V, (1, L))
y = torch.randint(0, V, (1, L))
t0 = time.time()
loss = F.cross_entropy(m(x).view(-1, V), y.view(-1))
opt.zero_grad()
loss.backward()
opt.step()
seconds = time.time() - t0
print(f"torch {torch.__version__}\tL {L}\tpeak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\tstep_s {seconds:.2f}\tloss {loss.item():.4f}")
