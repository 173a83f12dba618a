namespace Attend.Data;

/// <summary>Token sequences as padded batches for an encoder-decoder (<c>Attend.Nn.Seq2Seq</c>).</summary>
public static class SequenceBatch
{
    /// <summary>Sequences padded to the longest (at least 1, cut at <paramref name="maxLength"/>): ids (B, T) int64 and
    /// the key padding mask (B, T) bool, True = padding.</summary>
    public static (Tensor Ids, Tensor PadMask) Pad(IReadOnlyList<long[]> seqs, long pad = 0, int maxLength = int.MaxValue)
    {
        if (seqs.Count == 0) throw new ArgumentException("SequenceBatch.Pad: no sequences");
        int B = seqs.Count, T = Math.Max(1, Math.Min(maxLength, seqs.Max(s => s.Length)));
        var ids = new long[B * T]; var mask = new bool[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                if (t < seqs[b].Length) ids[b * T + t] = seqs[b][t];
                else (ids[b * T + t], mask[b * T + t]) = (pad, true);
            }
        return (Tensor.FromArray(ids, [B, T]), Tensor.FromArray(mask, [B, T]));
    }

    /// <summary>
    /// Teacher forcing: decoder input <c>BOS, y₁ … y_n</c> and labels <c>y₁ … y_n, EOS</c>, padded (B, T) int64 with T =
    /// the longest n + 1. Without <paramref name="eos"/> (fixed-length targets) the input is <c>BOS, y₁ … y_{n−1}</c> and the
    /// labels <c>y₁ … y_n</c>.
    /// </summary>
    public static (Tensor Input, Tensor Labels) TeacherForcing(IReadOnlyList<long[]> targets, long bos, long? eos, long pad = 0)
    {
        if (targets.Count == 0) throw new ArgumentException("SequenceBatch.TeacherForcing: no targets");
        int extra = eos is null ? 0 : 1;
        int B = targets.Count, T = Math.Max(1, targets.Max(t => t.Length) + extra);
        var input = new long[B * T]; var labels = new long[B * T];
        Array.Fill(input, pad); Array.Fill(labels, pad);
        for (int b = 0; b < B; b++)
        {
            var y = targets[b];
            for (int t = 0; t < y.Length + extra; t++)
            {
                input[b * T + t] = t == 0 ? bos : y[t - 1];
                labels[b * T + t] = t == y.Length ? eos!.Value : y[t];
            }
        }
        return (Tensor.FromArray(input, [B, T]), Tensor.FromArray(labels, [B, T]));
    }
}
