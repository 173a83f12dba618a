using Attend.Data;

namespace Attend.Cli.Recall;

/// <summary>
/// Multi-query associative recall (MQAR, Arora et al. 2023, "Zoology"): key–value pairs scattered near the start of a
/// long sequence of filler, then queries at its end — a key, and the model must answer with the value that followed that
/// key thousands of tokens earlier.
/// <code>
/// position:  0 … R            (filler)              L−2Q … L
///            k₃ v₃ · k₁ v₁ · · · · · · · · · · · · · k₁ v₁ k₃ v₃ …     ← queries: the target at each kᵢ is vᵢ
///            └── every pair ≥ MinDistance before its query ──┘
/// </code>
/// The needle variant is one pair and one query. Ids: keys [0, Keys), values [Keys, Keys + Values), filler after them.
/// Every sequence is a function of (seed, index) alone (<see cref="SplitMix64.ForStep"/>); held-out sequences use another
/// stream, so the test never sees a training sequence.
/// </summary>
public sealed record RecallSpec(int Length, int MinDistance, int Pairs = 16, int Queries = 8, int Keys = 64, int Values = 64, int Filler = 64)
{
    public int VocabSize => Keys + Values + Filler;

    /// <summary>A token's label: k0… for keys, v0… for values, ·0… for filler.</summary>
    public string Label(long id) => id < Keys ? $"k{id}" : id < Keys + Values ? $"v{id - Keys}" : $"·{id - Keys - Values}";

    /// <summary>The needle variant: one pair, one query.</summary>
    public static RecallSpec Needle(int length, int minDistance) => new(length, minDistance, Pairs: 1, Queries: 1);

    /// <summary>Positions [0, Region) may hold a pair (key and value) that is ≥ MinDistance before every query.</summary>
    public int Region => Length - 2 * Queries - MinDistance;

    /// <summary>Throws unless the pairs fit before the queries at the distance asked.</summary>
    public void Check()
    {
        if (Pairs < 1 || Queries < 1 || Keys < Pairs || Values < 2 || Filler < 1)
            throw new CliException($"recall: need 1 ≤ queries ({Queries}) ≤ pairs ({Pairs}) ≤ keys ({Keys}), values ≥ 2, filler ≥ 1");
        if (MinDistance < 1 || Region / 2 < Pairs)
            throw new CliException($"recall: {Pairs} pairs do not fit ≥ {MinDistance} tokens before {Queries} queries in {Length} tokens (give a longer length or a shorter distance)");
    }
}

/// <summary>One recall sequence: its tokens, its targets (−1 but at the queries: the value to answer) and, per query,
/// its position and how far back its answer's key is.</summary>
public sealed record RecallSequence(long[] Tokens, long[] Targets, int[] QueryPositions, int[] Distances);

public static class RecallTask
{
    /// <summary>The stream of training sequences (step s, item i: stream 0) and of held-out ones (stream 1).</summary>
    public const int TrainStream = 0, TestStream = 1;

    /// <summary>Sequence <paramref name="index"/> of a stream, drawn from SplitMix64.ForStep(seed, index, stream).</summary>
    public static RecallSequence Make(RecallSpec s, ulong seed, long index, int stream)
    {
        var rng = SplitMix64.ForStep(seed, index, stream);
        int L = s.Length;
        var tokens = new long[L];
        var targets = new long[L];
        Array.Fill(targets, -1L);
        for (int i = 0; i < L; i++) tokens[i] = s.Keys + s.Values + rng.NextInt(s.Filler);
        // distinct keys, each with a random value, at distinct two-token slots of the region
        var keys = Enumerable.Range(0, s.Keys).ToArray();
        rng.Shuffle(keys);
        var slots = Enumerable.Range(0, s.Region / 2).ToArray();
        rng.Shuffle(slots);
        var pairAt = new int[s.Pairs];
        var values = new long[s.Pairs];
        for (int p = 0; p < s.Pairs; p++)
        {
            pairAt[p] = 2 * slots[p];
            values[p] = s.Keys + rng.NextInt(s.Values);
            tokens[pairAt[p]] = keys[p];
            tokens[pairAt[p] + 1] = values[p];
        }
        // queries: distinct pairs in random order, each "key value" at the end; the target at the key is the value
        var asked = Enumerable.Range(0, s.Pairs).ToArray();
        rng.Shuffle(asked);
        var queryAt = new int[s.Queries];
        var distances = new int[s.Queries];
        for (int q = 0; q < s.Queries; q++)
        {
            int p = q < s.Pairs ? asked[q] : rng.NextInt(s.Pairs), at = L - 2 * s.Queries + 2 * q;
            tokens[at] = keys[p];
            tokens[at + 1] = values[p];
            targets[at] = values[p];
            queryAt[q] = at;
            distances[q] = at - pairAt[p];   // to the pair, even when an earlier query repeated it
        }
        return new RecallSequence(tokens, targets, queryAt, distances);
    }

    /// <summary>Sequences [first, first + count) of a stream as x and targets, each [count, L] int64.</summary>
    public static (Tensor X, Tensor Y, RecallSequence[] Items) Batch(RecallSpec s, ulong seed, int stream, long first, int count)
    {
        var items = new RecallSequence[count];
        var x = new long[count * s.Length];
        var y = new long[count * s.Length];
        for (int b = 0; b < count; b++)
        {
            items[b] = Make(s, seed, first + b, stream);
            items[b].Tokens.CopyTo(x, b * s.Length);
            items[b].Targets.CopyTo(y, b * s.Length);
        }
        return (Tensor.FromArray(x, [count, s.Length]), Tensor.FromArray(y, [count, s.Length]), items);
    }
}
