using F = Attend.Functional;

namespace Attend.Cli.Translate;

/// <summary>
/// Beam search over the decoder for one sentence. The k live hypotheses run as a batch of k rows with the decoder's KV
/// cache: each step feeds only every hypothesis's last token, and the cache rows are then reordered so that each new
/// hypothesis keeps the keys/values of the prefix it extends. Each step expands every live hypothesis by its 2k best
/// tokens, moves those ending in EOS to the finished list and keeps the k best others. Finished hypotheses are ranked by
/// log p / lp with GNMT's length penalty lp = ((5 + |y|) / 6)^α (α = 0: raw log p). Width 1 is greedy decoding.
/// </summary>
public static class BeamSearch
{
    public static string Translate(TranslateModel model, string source, int width, double lengthPenalty)
    {
        if (width < 1) throw new TranslateException($"--beam must be at least 1, not {width}");
        bool wasTraining = model.Training;
        model.Eval();
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        var srcIds = model.Config.Source.Encode(source);
        var (src, pad) = TranslateModel.SourceIds(Enumerable.Repeat(srcIds, width).ToArray());
        var memory = model.Encode(src, pad);                                       // (k, S, E)
        var cache = model.NewCache();
        var live = new List<(List<long> Tokens, double LogP)> { ([Vocab.Bos], 0) };
        var finished = new List<(List<long> Tokens, double Score)>();
        double Norm(int len, double logP) => logP / Math.Pow((5.0 + len) / 6.0, lengthPenalty);
        int maxLen = TranslateModel.MaxOutput(srcIds.Length);
        for (int t = 0; t < maxLen && live.Count > 0; t++)
        {
            int n = live.Count;
            var last = Enumerable.Range(0, width).Select(b => live[Math.Min(b, n - 1)].Tokens[^1]).ToArray();   // rows past n repeat row 0's
            var logits = model.DecodeStep(memory, pad, Tensor.FromArray(last, new[] { width, 1 }), t, cache);  // (k, 1, V)
            var logp = F.LogSoftmax(logits.Select(1, 0), -1).ToArray();                                       // (k, V)
            int V = logp.Length / width;
            var candidates = new List<(int From, long Token, double LogP)>();
            for (int b = 0; b < n; b++)
                foreach (int v in TopIndices(logp, b * V, V, 2 * width))
                    candidates.Add((b, v, live[b].LogP + logp[b * V + v]));
            var next = new List<(List<long> Tokens, double LogP)>();
            var from = new List<int>();
            foreach (var c in candidates.OrderByDescending(c => c.LogP))
            {
                if (c.Token == Vocab.Eos) finished.Add((live[c.From].Tokens, Norm(live[c.From].Tokens.Count - 1, c.LogP)));
                else if (next.Count < width) { next.Add(([.. live[c.From].Tokens, c.Token], c.LogP)); from.Add(c.From); }
                if (next.Count == width) break;
            }
            live = next;
            if (finished.Count >= width || live.Count == 0) break;                  // k finished: stop (early stopping)
            var rows = Enumerable.Range(0, width).Select(b => from[Math.Min(b, from.Count - 1)]).ToArray();      // row b extends old row rows[b]
            foreach (var layer in cache) layer.Reorder(rows);
        }
        if (finished.Count == 0)                                                    // the length limit came first
            foreach (var h in live) finished.Add((h.Tokens, Norm(h.Tokens.Count - 1, h.LogP)));
        model.Train(wasTraining);
        var best = finished.OrderByDescending(f => f.Score).First();
        return model.Config.Target.Decode(best.Tokens.Skip(1));
    }

    /// <summary>Indices of the <paramref name="k"/> largest of values[offset .. offset+count), best first (ties: lower index first).</summary>
    internal static IEnumerable<int> TopIndices(float[] values, int offset, int count, int k) =>
        Enumerable.Range(0, count).OrderByDescending(i => values[offset + i]).ThenBy(i => i).Take(Math.Min(k, count));
}
