namespace Attend.Interpret;

/// <summary>
/// Running totals over captured attention weights: the share of exactly-zero weights among keys that are not padding
/// (sparse variants such as sparsemax make many), and the mean entropy (nats) of the rows of real queries.
/// <code>
/// zeros   = #{p_ij = 0 : key j real} / #{key j real}          entropy = mean over real rows of −Σ_j p_ij log p_ij
/// </code>
/// </summary>
public sealed class AttentionStats
{
    long weights, zeros, rows; double entropy;
    /// <summary>The share of weights on non-padding keys that are exactly 0, in [0, 1]; 0 before anything is added.</summary>
    public double ZeroFraction => weights == 0 ? 0 : (double)zeros / weights;
    /// <summary>The mean over counted rows of −Σ_j p_ij ln p_ij (nats, padding keys left out); 0 before anything is added.</summary>
    public double MeanEntropy => rows == 0 ? 0 : entropy / rows;
    /// <summary>The number of rows counted so far: one per batch item, captured head and real query.</summary>
    public long Rows => rows;

    /// <summary>Adds every head of a record [B, n, L, S]; <paramref name="keyPad"/> (B, S) is True for padding keys,
    /// <paramref name="realQuery"/>(b, i) says which query rows count.</summary>
    public void Add(CapturedAttention r, bool[] keyPad, Func<int, int, bool> realQuery)
    {
        int B = r.Batch, H = r.Heads.Length, T = r.Queries, S = r.Keys;
        if (keyPad.Length != B * S) throw new ArgumentException($"AttentionStats: a padding mask of {keyPad.Length} for batch {B} × {S} keys");
        var v = r.Weights;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                {
                    if (!realQuery(b, t)) continue;
                    long row = (((long)b * H + h) * T + t) * S;
                    double e = 0;
                    for (int j = 0; j < S; j++)
                    {
                        if (keyPad[b * S + j]) continue;
                        float p = v[row + j];
                        weights++;
                        if (p == 0f) zeros++;
                        else e -= p * Math.Log(p);
                    }
                    entropy += e; rows++;
                }
    }

    /// <summary>A one-line summary: the zero share as a percentage and the mean row entropy in nats.</summary>
    public override string ToString() =>
        $"{ZeroFraction * 100:F1}% of the weights on real keys are exactly 0; mean row entropy {MeanEntropy:F3} nats";
}
