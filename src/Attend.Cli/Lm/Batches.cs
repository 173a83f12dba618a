namespace Attend.Cli.Lm;

/// <summary>SplitMix64 (Steele, Lea &amp; Flood 2014): a random generator whose whole state is one ulong, so a checkpoint
/// can store it and a resumed run draws the very same batches.</summary>
public sealed class SplitMix64(ulong state)
{
    public ulong State { get; private set; } = state;

    public ulong Next()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n) (the modulo bias is below 2⁻³⁰ for the n used here).</summary>
    public int NextInt(int n) => (int)(Next() % (ulong)n);
}

/// <summary>Language-model batches: random windows of a token stream, inputs x = w[0..T) and targets y = w[1..T].</summary>
public static class Batches
{
    /// <summary>Start offsets of <paramref name="count"/> windows of length <paramref name="t"/> + 1.</summary>
    public static int[] Starts(SplitMix64 rng, int tokens, int t, int count)
    {
        if (tokens < t + 1) throw new LmException($"the text has {tokens} characters, fewer than the context {t} + 1");
        return Enumerable.Range(0, count).Select(_ => rng.NextInt(tokens - t)).ToArray();
    }

    /// <summary>x and y, each (B, T) int64, for windows starting at <paramref name="starts"/>.</summary>
    public static (Tensor X, Tensor Y) Get(long[] tokens, int[] starts, int t)
    {
        var x = new long[starts.Length * t];
        var y = new long[starts.Length * t];
        for (int b = 0; b < starts.Length; b++)
        {
            Array.Copy(tokens, starts[b], x, b * t, t);
            Array.Copy(tokens, starts[b] + 1, y, b * t, t);
        }
        return (Tensor.FromArray(x, [starts.Length, t]), Tensor.FromArray(y, [starts.Length, t]));
    }

    /// <summary>
    /// The bigram baseline: cross-entropy (nats/char) on <paramref name="eval"/> of P(next | current) counted on
    /// <paramref name="train"/> with add-one smoothing — what a model that looks one character back can reach.
    /// </summary>
    public static double BigramNats(long[] train, long[] eval, int vocab)
    {
        var counts = new double[vocab, vocab];
        var rows = new double[vocab];
        for (int i = 0; i + 1 < train.Length; i++) { counts[train[i], train[i + 1]]++; rows[train[i]]++; }
        double nll = 0;
        for (int i = 0; i + 1 < eval.Length; i++)
            nll -= Math.Log((counts[eval[i], eval[i + 1]] + 1) / (rows[eval[i]] + vocab));
        return nll / Math.Max(1, eval.Length - 1);
    }
}
