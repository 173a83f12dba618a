using System.CommandLine;
using F = Attend.Functional;

namespace Attend.Cli;

/// <summary>The <c>--attention</c> option shared by the training commands, the reward that REINFORCE attention gets in
/// their loops, and the sparsity/entropy figures of cross-attention weights.</summary>
public static class AttentionChoice
{
    public static Option<string> Option() => new("--attention")
    {
        Description = $"attention variant: {AttentionVariant.Choices} (reinforce: reward = −per-sequence loss)",
        DefaultValueFactory = _ => "soft",
    };

    /// <summary>Parses <paramref name="text"/>; a bad name or argument becomes <paramref name="error"/>'s exception (a one-line CLI error).</summary>
    public static AttentionVariant Parse(string text, Func<string, Exception> error)
    {
        try { return AttentionVariant.Parse(text); }
        catch (Exception ex) when (ex is FormatException or ArgumentException) { throw error($"--attention: {ex.Message}"); }
    }

    /// <summary>The reward of each sequence for REINFORCE attention: minus its mean token cross-entropy (padding ignored),
    /// [B], no gradient. logits (B, T, V), labels (B, T) int64.</summary>
    public static Tensor Reward(Tensor logits, Tensor labels, int ignoreIndex)
    {
        int B = labels.Shape[0], T = labels.Shape[1], V = logits.Shape[2];
        float[] ce;
        using (Autograd.NoGrad())
            ce = F.CrossEntropy(logits.Reshape(-1, V), labels.Reshape(-1), ignoreIndex: ignoreIndex, reduction: Reduction.None).ToArray();   // (B·T)
        var lab = labels.ToInt64Array();
        var r = new float[B];
        for (int b = 0; b < B; b++)
        {
            double sum = 0; int n = 0;
            for (int t = 0; t < T; t++) if (lab[b * T + t] != ignoreIndex) { sum += ce[b * T + t]; n++; }
            r[b] = n == 0 ? 0f : (float)(-sum / n);
        }
        return Tensor.FromArray(r, new[] { B });
    }

    /// <summary>Running totals over cross-attention weights: the share of exactly-zero weights among keys that are not
    /// padding, and the mean entropy (nats) of the weight rows of real (non-padding) queries.</summary>
    public sealed class Stats
    {
        long weights, zeros, rows; double entropy;
        public double ZeroFraction => weights == 0 ? 0 : (double)zeros / weights;
        public double MeanEntropy => rows == 0 ? 0 : entropy / rows;
        public long Rows => rows;

        /// <summary>w (B, H, T, S) per head; srcPad (B, S) True = padding; realQuery(b, t) says which rows count.</summary>
        public void Add(Tensor w, bool[] srcPad, Func<int, int, bool> realQuery)
        {
            var s = w.Shape;
            int B = s[0], H = s[1], T = s[2], S = s[3];
            var v = w.ToArray();
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++)
                    for (int t = 0; t < T; t++)
                    {
                        if (!realQuery(b, t)) continue;
                        long row = (((long)b * H + h) * T + t) * S;
                        double e = 0;
                        for (int j = 0; j < S; j++)
                        {
                            if (srcPad[b * S + j]) continue;
                            float p = v[row + j];
                            weights++;
                            if (p == 0f) zeros++;
                            else e -= p * Math.Log(p);
                        }
                        entropy += e; rows++;
                    }
        }

        public override string ToString() =>
            $"{ZeroFraction * 100:F1}% of the weights on real keys are exactly 0; mean row entropy {MeanEntropy:F3} nats";
    }
}
