using Attend.Kernels;

namespace Attend;

/// <summary>The normalizers of the attention variants (see <see cref="Attention.AttentionVariant"/>), usable on any tensor.</summary>
public static unsafe partial class Functional
{
    /// <summary>sparsemax(x) = argmin_{p ∈ Δ} ‖p − x‖² = [x − τ]₊ along <paramref name="dim"/> (Martins &amp; Astudillo 2016):
    /// weights with exact zeros, rows summing to 1. −∞ entries get 0; an all −∞ row gives zeros. Exact sort-based
    /// forward, exact backward (<c>dx = g − mean of g over the support</c>, 0 off it).</summary>
    public static Tensor Sparsemax(Tensor x, int dim = -1) => NormalizerRowOp("sparsemax", x, dim, Kernels.Sparsemax.Forward, Kernels.Sparsemax.Backward);

    /// <summary>1.5-entmax(x) = [x/2 − τ]₊² along <paramref name="dim"/> (Peters et al. 2019): sparse like sparsemax, smooth
    /// like softmax. −∞ entries get 0; an all −∞ row gives zeros. Exact sort-based forward and exact backward.</summary>
    public static Tensor Entmax15(Tensor x, int dim = -1) => NormalizerRowOp("entmax15", x, dim, Kernels.Entmax15.Forward, Kernels.Entmax15.Backward);

    /// <summary>Softmax over the <paramref name="k"/> largest entries along <paramref name="dim"/>, 0 elsewhere (ties broken by
    /// position, the earlier wins); with k ≥ the row length it is softmax. Gradient: softmax's, on the kept entries.</summary>
    public static Tensor TopKSoftmax(Tensor x, int k, int dim = -1)
    {
        Tensor.RequireFloat(x, "topk_softmax", "input");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), $"topk_softmax: k must be ≥ 1, got {k}");
        return OnRows(x, dim, "topk_softmax", rows =>
        {
            var blocked = RowMask(rows, (xr, mr) =>
            {
                var vals = xr.ToArray();
                var order = Enumerable.Range(0, vals.Length).Where(j => !float.IsNegativeInfinity(vals[j]))
                    .OrderByDescending(j => vals[j]).ThenBy(j => j).Take(k).ToArray();
                mr.Fill(true);
                foreach (int j in order) mr[j] = false;
            });
            return Softmax(rows.MaskedFill(blocked, float.NegativeInfinity), -1);
        });
    }

    /// <summary>Straight-through argmax: the forward is one_hot(argmax x) along <paramref name="dim"/> (first maximum; an
    /// all −∞ row gives zeros), the gradient that of softmax(x / <paramref name="temperature"/>):
    /// <c>y = one_hot + softmax(x/T) − detach(softmax(x/T))</c> (Bengio et al. 2013).</summary>
    public static Tensor HardArgmax(Tensor x, int dim = -1, float temperature = 1f)
    {
        Tensor.RequireFloat(x, "hard_argmax", "input");
        CheckTemperature(temperature, "hard_argmax");
        return OnRows(x, dim, "hard_argmax", rows => StraightThrough(temperature == 1f ? rows : rows.Mul(1f / temperature)));
    }

    /// <summary>
    /// torch.nn.functional.gumbel_softmax: <c>y = softmax((x + g)/τ)</c> with g = −log(E), E ~ Exp(1) drawn from
    /// <paramref name="rng"/> (or the default generator); with <paramref name="hard"/>, the forward is one_hot(argmax y) and
    /// the gradient that of y (straight-through). −∞ entries stay at 0. As τ → 0 the soft sample becomes one-hot.
    /// </summary>
    public static Tensor GumbelSoftmax(Tensor logits, float tau = 1f, bool hard = false, int dim = -1, Random? rng = null)
    {
        Tensor.RequireFloat(logits, "gumbel_softmax", "logits");
        CheckTemperature(tau, "gumbel_softmax");
        var r = rng ?? Tensor.DefaultGenerator;
        var noise = Tensor.Empty(logits.ShapeRef);
        var ns = noise.Span;
        lock (r) for (int i = 0; i < ns.Length; i++) ns[i] = (float)-Math.Log(-Math.Log(r.NextDouble() * (1 - 2e-12) + 1e-12));
        var y = logits.Add(noise).Mul(1f / tau);
        return OnRows(y, dim, "gumbel_softmax", rows => hard ? StraightThrough(rows) : Softmax(rows, -1));
    }

    private static void CheckTemperature(float t, string op)
    {
        if (!(t > 0) || !float.IsFinite(t)) throw new ArgumentOutOfRangeException(nameof(t), $"{op}: temperature must be > 0 and finite, got {t}");
    }

    /// <summary>one_hot(argmax s) + softmax(s) − detach(softmax(s)) over the last dim: the values are exactly one-hot.</summary>
    private static Tensor StraightThrough(Tensor s)
    {
        var soft = Softmax(s, -1);
        var oneHot = OneHotArgmax(s);
        return (soft - soft.Detach()) + oneHot;
    }

    /// <summary>one_hot(argmax) of each last-dim row (the first maximum of the finite entries; all −∞ rows give zeros).</summary>
    internal static Tensor OneHotArgmax(Tensor s)
    {
        using var c = s.Detach().Contiguous();
        int n = s.ShapeRef.Length == 0 ? 1 : s.ShapeRef[^1];
        int rows = n == 0 ? 0 : s.NumEl / n;
        var o = Tensor.Zeros(s.ShapeRef);
        float* src = c.Data, dst = o.Data;
        for (int r = 0; r < rows; r++)
        {
            int best = -1; float bv = float.NegativeInfinity;
            for (int j = 0; j < n; j++) if (src[(long)r * n + j] > bv) { bv = src[(long)r * n + j]; best = j; }
            if (best >= 0) dst[(long)r * n + best] = 1f;
        }
        return o;
    }

    /// <summary>A bool tensor of x's shape, filled row by row (last dim) by <paramref name="fill"/>(row values, row mask).</summary>
    private static Tensor RowMask(Tensor x, SpanAction fill)
    {
        using var c = x.Detach().Contiguous();
        int n = x.ShapeRef[^1], rows = n == 0 ? 0 : x.NumEl / n;
        var m = new bool[x.NumEl];
        var vals = new ReadOnlySpan<float>(c.Data, x.NumEl).ToArray();
        for (int r = 0; r < rows; r++) fill(vals.AsSpan(r * n, n), m.AsSpan(r * n, n));
        return Tensor.FromArray(m, (int[])x.ShapeRef.Clone());
    }

    private delegate void SpanAction(ReadOnlySpan<float> row, Span<bool> mask);

    /// <summary>Applies a last-dim function along <paramref name="dim"/> by moving that dim last and back (autograd ops).</summary>
    private static Tensor OnRows(Tensor x, int dim, string op, Func<Tensor, Tensor> f)
    {
        if (x.Rank == 0) throw new ArgumentException($"{op}: input must have at least 1 dim");
        int d = Shapes.Dim(dim, x.ShapeRef, op);
        if (d == x.Rank - 1) return f(x);
        return f(x.Movedim(d, -1)).Movedim(-1, d).Contiguous();
    }

    /// <summary>A normalizer over rows of at least one element (no scalar input), with its kernel pair.</summary>
    private static Tensor NormalizerRowOp(string op, Tensor x, int dim, RowsForward forward, RowsBackward backward)
    {
        Tensor.RequireFloat(x, op, "input");
        if (x.Rank == 0) throw new ArgumentException($"{op}: input must have at least 1 dim");
        return RowOp(op, x, dim, forward, backward);
    }
}
