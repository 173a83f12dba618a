using Attend.Attention;

namespace Attend;

public static unsafe partial class Functional
{
    /// <summary>
    /// The attention variants other than soft: the same score modifiers and mask semantics as the fused kernel, on the
    /// materialized scores [B, H, L, S], composed from differentiable ops:
    /// <c>s = modifiers(q·kᵀ·scale)</c> → <c>P = normalizer(s)</c> (the variant's) → dropout → <c>O = P·V</c>.
    /// A row whose keys are all masked gets P = 0, so O = 0, as in the fused kernel.
    /// </summary>
    private static AttentionResult RunMaterialized(Tensor query, Tensor key, Tensor value, AttentionOptions opt, bool batched,
        int B, int H, int Hkv, int L, int S, int E)
    {
        // 1) (B, H, ·, ·) inputs; for grouped-query attention kv head h / (H / Hkv) is repeated for each query head.
        var q = batched ? query : query.Unsqueeze(0);                                   // (B, H, L, E)
        var k = batched ? key : key.Unsqueeze(0);                                       // (B, Hkv, S, E)
        var v = batched ? value : value.Unsqueeze(0);                                   // (B, Hkv, S, Ev)
        if (Hkv != H) (k, v) = (RepeatKv(k, H / Hkv), RepeatKv(v, H / Hkv));           // (B, H, S, ·)

        // 2) Scores with the modifiers in the fused kernel's order: scale, softcap, ALiBi, float mask, then −∞ outside.
        var s = q.Matmul(k.Transpose(-2, -1)).Mul(opt.Scale ?? 1f / MathF.Sqrt(E));    // (B, H, L, S)
        if (opt.Softcap > 0) s = s.Mul(1f / opt.Softcap).Tanh().Mul(opt.Softcap);
        int off = opt.Alignment == CausalAlignment.BottomRight ? S - L : 0;
        if (opt.AlibiSlopes is { } slopes)
        {
            s = s - AlibiBias(slopes, L, S, off);                                       // (1, H, L, S)
        }
        if (opt.Mask is { DType: DType.Float32 } additive) s = s + additive;
        if (Blocked(opt, B, H, L, S, off) is { } blocked)                               // (B, H, L, S) bool; the backward keeps it
            s = s.MaskedFill(blocked, float.NegativeInfinity);

        // 3) The variant's weights; 4) dropout on them, then P·V.
        var p = Normalize(s, opt.Variant, opt.VariantSeed);                             // (B, H, L, S)
        var pd = opt.DropoutP > 0 ? Dropout(p, opt.DropoutP, training: true, rng: SeededRandom(opt.DropoutSeed)) : p;
        var o = pd.Matmul(v);                                                           // (B, H, L, Ev)

        if (AttentionObserver.Current is { } observer) ObserveMaterialized(observer, p, opt.Site);
        var lse = RowLogSumExp(s);                                                      // (B, H, L)
        Tensor? weights = null;
        if (opt.WeightsForHeads is { Length: > 0 } heads)
            using (Autograd.NoGrad())
            {
                using var pdet = p.Detach();
                weights = Tensor.Stack(heads.Select(h => pdet.Select(1, h)).ToArray(), 1);   // (B, n, L, S)
            }
        if (!batched)
        {
            o = o.Squeeze(0);
            using (Autograd.NoGrad()) { lse = lse.Squeeze(0); weights = weights?.Squeeze(0); }
        }
        return new AttentionResult(o, lse, weights);
    }

    /// <summary>Hands the variant's own weights p (B, H, L, S) of the heads it asks for to the installed observer.</summary>
    private static void ObserveMaterialized(AttentionObserver observer, Tensor p, string? site)
    {
        int B = p.ShapeRef[0], H = p.ShapeRef[1], L = p.ShapeRef[2], S = p.ShapeRef[3];
        if (observer.Heads(site, H) is not { Length: > 0 } heads) return;
        var rows = CheckRows(observer.Rows(site, L), L) ?? Enumerable.Range(0, L).ToArray();
        using var c = p.Detach().Contiguous();
        var all = c.ToArray();
        int R = rows.Length;
        var w = new float[(long)B * heads.Length * R * S];
        for (int b = 0; b < B; b++)
            for (int n = 0; n < heads.Length; n++)
                for (int r = 0; r < R; r++)
                    Array.Copy(all, (((long)b * H + heads[n]) * L + rows[r]) * S, w, (((long)b * heads.Length + n) * R + r) * S, S);
        observer.Record(site, H, heads, B, R, S, w);
    }

    /// <summary>The variant's map from score rows (last dim) to weights.</summary>
    internal static Tensor Normalize(Tensor s, AttentionVariant variant, ulong? seed) => variant.Kind switch
    {
        AttentionKind.Soft or AttentionKind.SoftMaterialized => Softmax(s, -1),
        AttentionKind.Sparsemax => Sparsemax(s, -1),
        AttentionKind.Entmax15 => Entmax15(s, -1),
        AttentionKind.TopK => TopKSoftmax(s, variant.K, -1),
        AttentionKind.Hard => HardArgmax(s, -1),
        AttentionKind.Gumbel => seed is ulong g ? GumbelSoftmax(s, variant.Temperature, hard: true, dim: -1, rng: SeededRandom(g))
                                                : HardArgmax(s, -1, variant.Temperature),
        AttentionKind.Reinforce => ReinforceSample(s, seed is ulong r ? SeededRandom(r) : null),
        _ => throw new ArgumentOutOfRangeException(nameof(variant), $"attention: unknown variant {variant}"),
    };

    private static Random SeededRandom(ulong seed) => new(unchecked((int)(seed ^ (seed >> 32))));

    /// <summary>
    /// REINFORCE hard attention on score rows s (B, …, n): one position per row sampled from softmax(s) (the most probable
    /// one without <paramref name="rng"/>), returned one-hot. The samples are recorded in the
    /// <see cref="ReinforceAttention"/> collecting on this thread; their gradient comes from its
    /// <see cref="ReinforceAttention.Loss"/>, and a backward through this op before that loss was formed throws.
    /// </summary>
    internal static Tensor ReinforceSample(Tensor s, Random? rng)
    {
        using var c = s.Detach().Contiguous();
        int n = s.ShapeRef[^1], rows = n == 0 ? 0 : s.NumEl / n, batch = s.Rank > 1 ? s.ShapeRef[0] : 1;
        var probs = Tensor.Empty(s.ShapeRef);
        var choice = new int[rows];
        fixed (int* ch = choice) Kernels.Reinforce.Sample(probs.Data, ch, c.Data, rows, n, rng);
        var oneHot = Tensor.Zeros(s.ShapeRef);
        for (int r = 0; r < rows; r++) if (choice[r] >= 0) oneHot.Data[(long)r * n + choice[r]] = 1f;
        var record = ReinforceAttention.Current?.Add(s, probs, choice, batch, n);
        return oneHot.WithGrad("reinforce_attention", new[] { s }, g =>
        {
            if (record is null)
                throw new InvalidOperationException("reinforce attention: backward without a reward — the forward ran outside ReinforceAttention.Collect(), so no reward can reach its samples; collect them and add ReinforceAttention.Loss(reward) to the loss");
            if (!record.Rewarded)
                throw new InvalidOperationException("reinforce attention: backward without a reward — call ReinforceAttention.Loss(reward) for this step's samples and add it to the loss before Backward()");
            return new[] { Tensor.Zeros(s.ShapeRef) };   // the scores' gradient comes from the surrogate loss alone
        });
    }

    /// <summary>(B, Hkv, S, D) → (B, Hkv·g, S, D), each kv head repeated g times in a row.</summary>
    private static Tensor RepeatKv(Tensor x, int g)
    {
        var sh = x.ShapeRef;
        return x.Unsqueeze(2).Expand(sh[0], sh[1], g, sh[2], sh[3]).Reshape(sh[0], sh[1] * g, sh[2], sh[3]);
    }

    /// <summary>ALiBi's distance penalty slope_h·|i + off − j| as (1, H, L, S).</summary>
    private static Tensor AlibiBias(float[] slopes, int L, int S, int off)
    {
        int H = slopes.Length;
        var b = new float[H * L * S];
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++)
                for (int j = 0; j < S; j++) b[(h * L + i) * S + j] = slopes[h] * Math.Abs(i + off - j);
        return Tensor.FromArray(b, new[] { 1, H, L, S });
    }

    /// <summary>True where the fused kernel puts −∞: a bool mask's False entries and keys outside the causal/window band.
    /// Null when neither applies.</summary>
    private static Tensor? Blocked(AttentionOptions opt, int B, int H, int L, int S, int off)
    {
        bool boolMask = opt.Mask is { DType: DType.Bool };
        bool band = opt.IsCausal || opt.WindowLeft is not null || opt.WindowRight is not null;
        if (!boolMask && !band) return null;
        long left = opt.WindowLeft ?? (long)S + L;
        long right = opt.IsCausal ? Math.Min(0, opt.WindowRight ?? 0) : opt.WindowRight ?? (long)S + L;
        bool[] allowed;
        if (boolMask) using (var e = opt.Mask!.Detach().Expand(B, H, L, S)) allowed = e.ToBoolArray();
        else allowed = Enumerable.Repeat(true, B * H * L * S).ToArray();
        var blocked = new bool[allowed.Length];
        for (int bh = 0; bh < B * H; bh++)
            for (int i = 0; i < L; i++)
                for (int j = 0; j < S; j++)
                {
                    long idx = ((long)bh * L + i) * S + j;
                    blocked[idx] = !allowed[idx] || j < i + off - left || j > i + off + right;
                }
        return Tensor.FromArray(blocked, new[] { B, H, L, S });
    }

    /// <summary>log Σ_j exp(s_j) of each last-dim row, −∞ for a row with no finite score; no gradient.</summary>
    private static Tensor RowLogSumExp(Tensor s)
    {
        using var c = s.Detach().Contiguous();
        int n = s.ShapeRef[^1], rows = n == 0 ? 0 : s.NumEl / n;
        var lse = Tensor.Empty(s.ShapeRef[..^1]);
        for (int r = 0; r < rows; r++)
        {
            float* sr = c.Data + (long)r * n;
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < n; j++) max = Math.Max(max, sr[j]);
            if (double.IsNegativeInfinity(max)) { lse.Data[r] = float.NegativeInfinity; continue; }
            for (int j = 0; j < n; j++) sum += Math.Exp(sr[j] - max);
            lse.Data[r] = (float)(max + Math.Log(sum));
        }
        return lse;
    }
}
