using Attend.Data;

namespace Attend.Nn;

public sealed partial class Seq2Seq
{
    /// <summary>
    /// Greedy outputs (token ids, no BOS or EOS) for token-id sources, in evaluation mode without gradients: the sources
    /// are sorted by length and decoded in batches of <paramref name="chunk"/> (each padded to its longest), source i's
    /// output stopping at EOS or after <paramref name="maxLength"/>(its length) tokens. The model's mode is restored.
    /// </summary>
    public long[][] Generate(IReadOnlyList<long[]> sources, Func<int, int> maxLength, int chunk = 128, bool useCache = true)
    {
        var order = Enumerable.Range(0, sources.Count).OrderBy(i => sources[i].Length).ToArray();
        var result = new long[sources.Count][];
        bool wasTraining = Training;
        Eval();
        try
        {
            foreach (var part in order.Chunk(chunk))
            {
                using var scope = Tensor.NewScope();
                using var noGrad = Autograd.NoGrad();
                var (src, pad) = PadSources(part.Select(i => sources[i]).ToArray());
                var outs = Greedy(Encode(src, pad), pad, part.Select(i => maxLength(sources[i].Length)).ToArray(), useCache);
                for (int j = 0; j < part.Length; j++) result[part[j]] = outs[j];
            }
        }
        finally { Train(wasTraining); }
        return result;
    }

    /// <summary>Token-id sources padded to the longest (at most MaxSource): ids (B, S) and the padding mask (B, S).</summary>
    public (Tensor Ids, Tensor PadMask) PadSources(IReadOnlyList<long[]> sources) => SequenceBatch.Pad(sources, Config.Pad, Config.MaxSource);

    /// <summary>
    /// Greedy decoding of every row of <paramref name="memory"/> (B, S, E) in one batch: each step feeds every row's last
    /// token and takes the most likely next one. Row b stops at EOS (not included) or after <paramref name="maxLengths"/>[b]
    /// tokens. With the cache each step runs the decoder on one new position (earlier keys/values kept, the memory's
    /// projected once); without it, on the whole prefix — the same tokens, slower.
    /// </summary>
    public long[][] Greedy(Tensor memory, Tensor padMask, IReadOnlyList<int> maxLengths, bool useCache = true)
    {
        int B = memory.Size(0);
        if (maxLengths.Count != B) throw new ArgumentException($"Seq2Seq.Greedy: {maxLengths.Count} lengths for a batch of {B}");
        using var noGrad = Autograd.NoGrad();
        using var cache = useCache ? NewCache() : null;
        var outputs = Enumerable.Range(0, B).Select(_ => new List<long>()).ToArray();
        var done = Enumerable.Range(0, B).Select(b => maxLengths[b] <= 0).ToArray();
        var prefix = Enumerable.Range(0, B).Select(_ => new List<long> { Config.Bos }).ToArray();
        int steps = Math.Min(maxLengths.Max(), Config.MaxTarget);
        for (int t = 0; t < steps && done.Contains(false); t++)
        {
            int from = useCache ? t : 0, len = t + 1 - from;                        // positions fed this step
            var ids = Tensor.FromArray(prefix.SelectMany(p => p.Skip(from)).ToArray(), [B, len]);
            var logits = useCache ? DecodeStep(memory, padMask, ids, from, cache!) : Decode(memory, padMask, ids);   // (B, len, V)
            var next = logits.Select(1, len - 1).Max(-1).Indices.ToInt64Array();                                     // (B)
            for (int b = 0; b < B; b++)
            {
                if (!done[b])
                {
                    if (next[b] == Config.Eos) done[b] = true;
                    else outputs[b].Add(next[b]);
                    if (outputs[b].Count >= maxLengths[b]) done[b] = true;
                }
                prefix[b].Add(next[b]);
            }
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }

    /// <summary>
    /// Beam search for one source (memory (1, S, E)). The k live hypotheses run as a batch of k rows on the decoder's KV
    /// cache: each step feeds every hypothesis's last token, and the cache rows are then reordered so that each new
    /// hypothesis keeps the keys/values of the prefix it extends. Each step expands every live hypothesis by its 2k best
    /// tokens, moves those ending in EOS to the finished list and keeps the k best others; it stops when k have finished.
    /// Finished hypotheses are ranked by log p / lp with GNMT's length penalty lp = ((5 + |y|) / 6)^α (α = 0: raw log p).
    /// Width 1 is greedy decoding. Returns the best hypothesis's tokens (no BOS, no EOS).
    /// </summary>
    public long[] Beam(Tensor memory, Tensor padMask, int width, double lengthPenalty, int maxLength)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), $"beam width must be at least 1, not {width}");
        if (memory.Size(0) != 1) throw new ArgumentException($"Seq2Seq.Beam: one source at a time, got a batch of {memory.Size(0)}");
        using var noGrad = Autograd.NoGrad();
        int S = memory.Size(1), E = memory.Size(2);
        var mem = memory.Expand(width, S, E);                                       // (k, S, E)
        var pad = padMask.Expand(width, S);
        using var cache = NewCache();
        var live = new List<(List<long> Tokens, double LogP)> { ([Config.Bos], 0) };
        var finished = new List<(List<long> Tokens, double Score)>();
        double Norm(int len, double logP) => logP / Math.Pow((5.0 + len) / 6.0, lengthPenalty);
        maxLength = Math.Min(maxLength, Config.MaxTarget);
        for (int t = 0; t < maxLength && live.Count > 0; t++)
        {
            int n = live.Count;
            var last = Enumerable.Range(0, width).Select(b => live[Math.Min(b, n - 1)].Tokens[^1]).ToArray();   // rows past n repeat row 0's
            var logits = DecodeStep(mem, pad, Tensor.FromArray(last, [width, 1]), t, cache);                      // (k, 1, V)
            var logp = Functional.LogSoftmax(logits.Select(1, 0), -1).ToArray();                                  // (k, V)
            int V = logp.Length / width;
            var candidates = new List<(int From, long Token, double LogP)>();
            for (int b = 0; b < n; b++)
                foreach (int v in TopIndices(logp, b * V, V, 2 * width))
                    candidates.Add((b, v, live[b].LogP + logp[b * V + v]));
            var next = new List<(List<long> Tokens, double LogP)>();
            var from = new List<int>();
            foreach (var c in candidates.OrderByDescending(c => c.LogP))
            {
                if (c.Token == Config.Eos) finished.Add((live[c.From].Tokens, Norm(live[c.From].Tokens.Count - 1, c.LogP)));
                else if (next.Count < width) { next.Add(([.. live[c.From].Tokens, c.Token], c.LogP)); from.Add(c.From); }
                if (next.Count == width) break;
            }
            live = next;
            if (finished.Count >= width || live.Count == 0) break;                  // k finished: stop (early stopping)
            cache.Reorder(Enumerable.Range(0, width).Select(b => from[Math.Min(b, from.Count - 1)]).ToArray());   // row b extends old row from[b]
        }
        if (finished.Count == 0)                                                    // the length limit came first
            foreach (var h in live) finished.Add((h.Tokens, Norm(h.Tokens.Count - 1, h.LogP)));
        return finished.OrderByDescending(f => f.Score).First().Tokens.Skip(1).ToArray();
    }

    /// <summary>Indices of the <paramref name="k"/> largest of values[offset .. offset+count), best first (ties: lower index first).</summary>
    internal static IEnumerable<int> TopIndices(float[] values, int offset, int count, int k) =>
        Enumerable.Range(0, count).OrderByDescending(i => values[offset + i]).ThenBy(i => i).Take(Math.Min(k, count));
}
