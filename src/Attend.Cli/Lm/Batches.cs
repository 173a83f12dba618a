using Attend.Data;

namespace Attend.Cli.Lm;

/// <summary>Language-model batches: random windows of a token stream, inputs x = w[0..T) and targets y = w[1..T].</summary>
public static class Batches
{
    /// <summary>Start offsets of <paramref name="count"/> windows of length <paramref name="t"/> + 1.</summary>
    public static int[] Starts(SplitMix64 rng, int tokens, int t, int count)
    {
        if (tokens < t + 1) throw new CliException($"the text has {tokens} characters, fewer than the context {t} + 1");
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
