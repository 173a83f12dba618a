namespace Attend.Nn;

public sealed partial class Gpt
{
    /// <summary>
    /// Appends <paramref name="maxNewTokens"/> sampled tokens to each row of idx [B, T] (int64) and returns [B, T + n].
    /// Each step: logits of the last position / temperature (≤ 0: greedy), keep the <paramref name="topK"/> largest, then
    /// the smallest set whose probability reaches <paramref name="topP"/> (nucleus), sample from the softmax.
    /// With the cache, the prompt is run once and each new token costs one position; the context is cropped to the last
    /// BlockSize tokens as nanoGPT does, which (positions being re-numbered) means a full re-run, without the cache, for
    /// every token once the context is full.
    /// Dropout stays active in training mode, as in PyTorch: call <see cref="Module.Eval"/> first.
    /// </summary>
    public Tensor Generate(Tensor idx, int maxNewTokens, float temperature = 1f, int? topK = null, float? topP = null,
        Random? rng = null, bool useCache = true)
    {
        if (idx.Rank != 2) throw new ArgumentException($"generate: idx must be [B, T] int64, got {Shapes.Str(idx.ShapeRef)}");
        int B = idx.Size(0), V = Config.VocabSize;
        rng ??= Tensor.DefaultGenerator;
        var flat = idx.ToInt64Array();
        var seqs = Enumerable.Range(0, B).Select(b => flat.Skip(b * idx.Size(1)).Take(idx.Size(1)).ToList()).ToArray();
        using var noGrad = Autograd.NoGrad();
        using var cache = useCache ? NewCache() : null;
        var row = new float[V];
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var scope = Tensor.NewScope();
            // Past the context the window is cropped and its positions re-numbered: every token is a full re-run, and
            // keeping the cache up to date would only cost time, so it is left alone.
            var c = seqs[0].Count > Config.BlockSize ? null : cache;
            bool incremental = c is not null && c.Length > 0;          // then c.Length = Count − 1: one new position
            int ctx = incremental ? 1 : Math.Min(seqs[0].Count, Config.BlockSize);
            var input = Tensor.FromArray(seqs.SelectMany(s => s.Skip(s.Count - ctx)).ToArray(), new[] { B, ctx });
            var logits = Forward(input, c).ToArray();                  // (B, ctx, V)
            for (int b = 0; b < B; b++)
            {
                Array.Copy(logits, ((long)b * ctx + ctx - 1) * V, row, 0, V);
                seqs[b].Add(Sample(row, temperature, topK, topP, rng));
            }
        }
        return Tensor.FromArray(seqs.SelectMany(s => s).ToArray(), new[] { B, seqs[0].Count });
    }

    /// <summary>One draw from softmax(logits / temperature) restricted by top-k and top-p (argmax when temperature ≤ 0).</summary>
    internal static long Sample(float[] logits, float temperature, int? topK, float? topP, Random rng)
    {
        int v = logits.Length;
        var order = Enumerable.Range(0, v).OrderByDescending(i => logits[i]).ToArray();
        if (temperature <= 0f) return order[0];
        int keep = Math.Clamp(topK ?? v, 1, v);
        double max = logits[order[0]];
        var p = new double[keep];
        double sum = 0;
        for (int r = 0; r < keep; r++) sum += p[r] = Math.Exp((logits[order[r]] - max) / temperature);
        if (topP is float tp && tp < 1f)
        {
            double cum = 0; int n = 0;
            while (n < keep && cum < tp * sum) cum += p[n++];
            (keep, sum) = (Math.Max(n, 1), Math.Max(cum, p[0]));
        }
        double u = rng.NextDouble() * sum, acc = 0;
        for (int r = 0; r < keep; r++) if ((acc += p[r]) > u) return order[r];
        return order[keep - 1];
    }
}
