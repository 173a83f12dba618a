using Attend;
using F = Attend.Functional;

/// <summary>The attention cases of DESIGN.md at [1, 8, N, 64] float32, as the peer runs them.</summary>
static class AttentionCases
{
    const int B = 1, H = 8, D = 64;

    static Tensor R(int n, int seed) => Tensor.Randn(new[] { B, H, n, D }, new Random(seed));

    /// <summary>FLOPs of QKᵀ and PV (2·2·N·N·D per head), halved for causal.</summary>
    static double Flops(int n, bool causal, double passes) => passes * 4.0 * B * H * n * (double)n * D * (causal ? 0.5 : 1.0);

    public static Program.Result Forward(int n, bool causal)
    {
        var q = R(n, 1); var k = R(n, 2); var v = R(n, 3);
        using var _ = Autograd.NoGrad();
        var (med, min, reps) = Program.Bench(() => F.ScaledDotProductAttention(q, k, v, isCausal: causal).Dispose());
        return new Program.Result(med, min, reps, Flops(n, causal, 1));
    }

    /// <summary>sdpa-shape:B:H:N:D: the forward on [B, H, N, D] from strided views of one (B, N, 3·H·D) projection, as the
    /// BERT and ViT layers call it (BERT-base-like encoders: D = 32 or 64, N up to 512).</summary>
    public static Program.Result Shape(int b, int h, int n, int d)
    {
        var qkv = Tensor.Randn(new[] { b, n, 3, h, d }, new Random(1));
        var q = qkv.Select(2, 0).Permute(0, 2, 1, 3); var k = qkv.Select(2, 1).Permute(0, 2, 1, 3); var v = qkv.Select(2, 2).Permute(0, 2, 1, 3);
        using var _ = Autograd.NoGrad();
        var (med, min, reps) = Program.Bench(() => F.ScaledDotProductAttention(q, k, v).Dispose());
        return new Program.Result(med, min, reps, 4.0 * b * h * n * (double)n * d);
    }

    /// <summary>sdpa-shape-fb:B:H:N:D: forward and backward of out.Sum() on <see cref="Shape"/>'s strided views (the ViT's
    /// attention: 512 problems of 17×17×32 at [128, 4, 17, 32]); FLOPs 3.5× the forward's, as <see cref="ForwardBackward"/>.</summary>
    public static Program.Result ShapeBackward(int b, int h, int n, int d)
    {
        var qkv0 = Tensor.Randn(new[] { b, n, 3, h, d }, new Random(1));
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            var qkv = qkv0.Detach(); qkv.RequiresGrad = true;
            var q = qkv.Select(2, 0).Permute(0, 2, 1, 3); var k = qkv.Select(2, 1).Permute(0, 2, 1, 3); var v = qkv.Select(2, 2).Permute(0, 2, 1, 3);
            F.ScaledDotProductAttention(q, k, v).Sum().Backward();
        });
        return new Program.Result(med, min, reps, 3.5 * 4.0 * b * h * n * (double)n * d);
    }

    /// <summary>Forward and backward of out.Sum(): the backward recomputes QKᵀ and adds dV, dP, dQ, dK (2.5× the forward).</summary>
    public static Program.Result ForwardBackward(int n, bool causal)
    {
        var q0 = R(n, 1); var k0 = R(n, 2); var v0 = R(n, 3);
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            var q = q0.Detach(); q.RequiresGrad = true;
            var k = k0.Detach(); k.RequiresGrad = true;
            var v = v0.Detach(); v.RequiresGrad = true;
            F.ScaledDotProductAttention(q, k, v, isCausal: causal).Sum().Backward();
            q.ZeroGrad(); k.ZeroGrad(); v.ZeroGrad();
        });
        return new Program.Result(med, min, reps, Flops(n, causal, 3.5));
    }

    static long StatusKb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":")) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        return -1;
    }

    /// <summary>Peak RSS growth (MiB) of one forward after q, k, v exist, like the peer's case.</summary>
    public static Program.Result Memory(int n)
    {
        using var _ = Autograd.NoGrad();
        F.ScaledDotProductAttention(R(16, 4).Narrow(1, 0, 1), R(16, 5).Narrow(1, 0, 1), R(16, 6).Narrow(1, 0, 1)).Dispose();   // warm the code and the pool
        var q = R(n, 1); var k = R(n, 2); var v = R(n, 3);
        long before = StatusKb("VmHWM");
        var o = F.ScaledDotProductAttention(q, k, v);
        double mib = (StatusKb("VmHWM") - before) / 1024.0;
        GC.KeepAlive(o);
        Console.Error.WriteLine($"mem-sdpa:{n}\tq+k+v+o = {4.0 * B * H * n * D * 4 / (1 << 20):F1} MiB, growth {mib:F1} MiB");
        return new Program.Result(mib, mib, 1);
    }
}

/// <summary>flash-shape:B:H:N:D: the fused kernels alone (no autograd, no allocation per call) on contiguous [B, H, N, D]:
/// the forward's and the backward's median and best ms on stderr; the timing columns are the backward's.</summary>
static unsafe class FlashCases
{
    public static Program.Result Run(int b, int h, int n, int d)
    {
        var q = Tensor.Randn(new[] { b, h, n, d }, new Random(1)); var k = Tensor.Randn(new[] { b, h, n, d }, new Random(2));
        var v = Tensor.Randn(new[] { b, h, n, d }, new Random(3)); var dO = Tensor.Randn(new[] { b, h, n, d }, new Random(4));
        var o = Tensor.Empty(new[] { b, h, n, d }); var lse = Tensor.Empty(new[] { b, h, n }); var stats = Tensor.Empty(new[] { 2, b, h, n });
        var dq = Tensor.Empty(new[] { b, h, n, d }); var dk = Tensor.Empty(new[] { b, h, n, d }); var dv = Tensor.Empty(new[] { b, h, n, d });
        long rs = (long)n * d;
        var pr = new Attend.Kernels.Attention.AttentionProblem
        {
            B = b, H = h, Hkv = h, L = n, S = n, E = d, Ev = d,
            Q = q.Data, QsB = h * rs, QsH = rs, QsL = d, K = k.Data, KsB = h * rs, KsH = rs, KsS = d, V = v.Data, VsB = h * rs, VsH = rs, VsS = d,
            Scale = 1f / MathF.Sqrt(d), BandLeft = 2L * n, BandRight = 2L * n,
        };
        var scratch = Tensor.Empty(new[] { checked((int)Attend.Kernels.Attention.FlashBackward.ScratchFloats(pr)) });
        var (fm, fmin, _) = Program.Bench(() => Attend.Kernels.Attention.FlashForward.Run(pr, o.Data, lse.Data, stats.Data));
        var (med, min, reps) = Program.Bench(() => Attend.Kernels.Attention.FlashBackward.Run(pr, o.Data, stats.Data, dO.Data, dq.Data, dk.Data, dv.Data, null, scratch.Data));
        Console.Error.WriteLine($"flash-shape:{b}:{h}:{n}:{d}\tforward {fm:F3} ms (best {fmin:F3}), backward {med:F3} ms (best {min:F3})");
        GC.KeepAlive(new[] { q, k, v, dO, o, lse, stats, dq, dk, dv, scratch });
        return new Program.Result(med, min, reps, 2.5 * 4.0 * b * h * n * (double)n * d);
    }
}
