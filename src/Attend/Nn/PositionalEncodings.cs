namespace Attend.Nn;

// Position information for attention, which is otherwise permutation-invariant. Dims legend: B = batch, T = positions,
// D = model width, H = heads, hs = head size, L = queries, S = keys.

/// <summary>
/// The fixed sinusoidal encoding of "Attention Is All You Need":
/// <c>PE[p, 2i] = sin(p / 10000^(2i/D))</c>, <c>PE[p, 2i+1] = cos(p / 10000^(2i/D))</c>, added to the embeddings, then
/// dropout (as the PyTorch tutorial's PositionalEncoding, batch-first). The wavelengths form a geometric progression from
/// 2π to 10000·2π, so PE[p + k] is a linear function of PE[p] for every offset k. The table is a non-persistent buffer "pe".
/// </summary>
public sealed class SinusoidalPositionalEncoding : Module, IUnaryModule
{
    private readonly Tensor pe;
    private readonly Dropout dropout;

    /// <summary>The table for <paramref name="maxLen"/> positions of width <paramref name="dModel"/>, and dropout with
    /// probability <paramref name="dropout"/> after the addition (<paramref name="rng"/> seeds it).</summary>
    public SinusoidalPositionalEncoding(int dModel, int maxLen = 5000, float dropout = 0f, Random? rng = null)
    {
        pe = RegisterBuffer("pe", Table(maxLen, dModel), persistent: false);
        this.dropout = RegisterModule("dropout", new Dropout(dropout, rng));
    }

    /// <summary>The table [maxLen, D], computed in float64 and rounded once.</summary>
    public static Tensor Table(int maxLen, int dModel)
    {
        if (maxLen <= 0 || dModel <= 0) throw new ArgumentOutOfRangeException(nameof(maxLen), $"sinusoidal table: sizes must be positive, got ({maxLen}, {dModel})");
        var v = new float[maxLen * dModel];
        for (int p = 0; p < maxLen; p++)
            for (int j = 0; j < dModel; j++)
            {
                double angle = p / Math.Pow(10000.0, (j & ~1) / (double)dModel);   // (2i)/D for both 2i and 2i+1
                v[p * dModel + j] = (float)((j & 1) == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
        return Tensor.FromArray(v, new[] { maxLen, dModel });
    }

    /// <summary>x [B, T, D] → dropout(x + PE[offset : offset + T]).</summary>
    public Tensor Forward(Tensor x) => Forward(x, 0);

    /// <summary>x [B, T, D] → dropout(x + PE[offset : offset + T]): positions continuing from <paramref name="offset"/>
    /// (e.g. the tokens already in a KV cache).</summary>
    public Tensor Forward(Tensor x, int offset)
    {
        using var p = pe.Narrow(0, offset, x.Size(-2));   // (T, D), a view
        return dropout.Forward(x.Add(p));
    }
}

/// <summary>Learned absolute positions (GPT-2's wpe): a table [maxLen, D] (parameter "weight", N(0, 1) as nn.Embedding)
/// whose rows offset … offset + T − 1 are added to x [B, T, D].</summary>
public sealed class LearnedPositionalEmbedding : Module, IUnaryModule
{
    /// <summary>The table [maxLen, D] (parameter "weight").</summary>
    public Tensor Weight { get; }

    /// <summary>A table of <paramref name="maxLen"/> positions × <paramref name="dModel"/>, initialized N(0, 1) from <paramref name="rng"/>.</summary>
    public LearnedPositionalEmbedding(int maxLen, int dModel, Random? rng = null) =>
        Weight = RegisterParameter("weight", Init.Normal(new[] { maxLen, dModel }, 1f, rng));

    /// <summary>The rows for positions offset … offset + T − 1, [T, D] (a differentiable view).</summary>
    public Tensor Positions(int length, int offset = 0)
    {
        if (offset < 0 || offset + length > Weight.ShapeRef[0])
            throw new ArgumentOutOfRangeException(nameof(length), $"learned positions: {offset} + {length} exceeds the table's {Weight.ShapeRef[0]} positions");
        return Weight.Narrow(0, offset, length);
    }

    /// <summary>x [B, T, D] → x + weight[0 : T].</summary>
    public Tensor Forward(Tensor x) => Forward(x, 0);

    /// <summary>x [B, T, D] → x + weight[offset : offset + T] (offset = tokens already in a KV cache); throws when the
    /// table has fewer than offset + T rows.</summary>
    public Tensor Forward(Tensor x, int offset)
    {
        using var p = Positions(x.Size(-2), offset);   // (T, D)
        return x.Add(p);
    }
}

/// <summary>
/// Rotary position embedding (RoPE, Su et al. 2021) for q and k [B, H, T, hs]: each feature pair is rotated by
/// <c>θ_p,i = p·base^(−2i/hs)</c>, so <c>q_p·k_s</c> depends only on p − s. Interleaved pairs
/// (x0, x1), (x2, x3), … as GPT-J/RoFormer; otherwise (x[i], x[i + hs/2]) as GPT-NeoX/LLaMA. The cos/sin tables are
/// non-persistent buffers that grow on demand. No parameters.
/// </summary>
public sealed class RotaryEmbedding : Module
{
    /// <summary>hs, the size of the head vectors rotated (positive and even).</summary>
    public int HeadDim { get; }
    /// <summary>The base of the angles' geometric progression (default 10000).</summary>
    public double Base { get; }
    /// <summary>True to rotate adjacent pairs (x0, x1), (x2, x3), … (GPT-J/RoFormer); false (default) for the pairs
    /// (x[i], x[i + hs/2]) (GPT-NeoX/LLaMA).</summary>
    public bool Interleaved { get; }
    private volatile Rotations tables;                 // replaced whole when it grows, never changed in place
    private readonly object growing = new();

    /// <summary>cos and sin of every position's angles, (P, hs/2) each.</summary>
    internal sealed record Rotations(Tensor Cos, Tensor Sin);

    /// <summary>Rotations for head size <paramref name="headDim"/> (positive and even).</summary>
    /// <param name="maxPositions">positions to precompute the tables for; they grow on demand beyond it.</param>
    /// <param name="headDim">the width of one head (even).</param>
    /// <param name="base">θ, the base of the rotation frequencies θ^(−2i/d) (10000 in RoFormer).</param>
    /// <param name="interleaved">rotates pairs (x0, x1), (x2, x3)… (GPT-J, RoFormer) instead of halves (x_i, x_{i+d/2}) (GPT-NeoX, Llama).</param>
    public RotaryEmbedding(int headDim, double @base = 10000, bool interleaved = false, int maxPositions = 2048)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RotaryEmbedding: head dim must be positive and even, got {headDim}");
        (HeadDim, Base, Interleaved) = (headDim, @base, interleaved);
        tables = Tables(Math.Max(1, maxPositions));
    }

    internal Rotations Tables(int positions)
    {
        int half = HeadDim / 2;
        var c = new float[positions * half]; var s = new float[positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++)
            {
                double theta = p * Math.Pow(Base, -2.0 * i / HeadDim);
                c[p * half + i] = (float)Math.Cos(theta);
                s[p * half + i] = (float)Math.Sin(theta);
            }
        var (tc, ts) = (Tensor.FromArray(c, new[] { positions, half }), Tensor.FromArray(s, new[] { positions, half }));
        tc.Scope = ts.Scope = null;   // owned by this module, never by a TensorScope
        return new Rotations(tc, ts);
    }

    /// <summary>Rotates x [B, H, T, hs] as positions offset … offset + T − 1 (offset = tokens already in a KV cache).
    /// Safe from several threads at once: tables that must grow are replaced whole under a lock, and the old ones are
    /// left to the garbage collector (a thread may still be reading them), never disposed under a reader.</summary>
    public Tensor Forward(Tensor x, int offset = 0)
    {
        int need = offset + x.Size(-2);
        var t = tables;
        if (need > t.Cos.ShapeRef[0])
            lock (growing)
            {
                t = tables;
                if (need > t.Cos.ShapeRef[0]) tables = t = Tables(Math.Max(need, 2 * t.Cos.ShapeRef[0]));
            }
        return Functional.RotaryEmbedding(x, t.Cos, t.Sin, offset, Interleaved);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"head_dim={HeadDim}, base={Base}, interleaved={Interleaved}";
}

/// <summary>ALiBi (Press et al. 2022, "Train Short, Test Long"): no position embedding; the score of query i and key j
/// gets <c>−m_h·|i − j|</c>, one slope m_h per head, applied inside the attention kernel (<see cref="Attention.AttentionOptions.AlibiSlopes"/>).</summary>
public static class Alibi
{
    /// <summary>
    /// The paper's slopes: for n a power of two, the geometric sequence <c>m_h = 2^(−8h/n)</c>, h = 1 … n
    /// (n = 8: 1/2, 1/4, …, 1/256). Otherwise the slopes of the largest power of two k &lt; n, followed by every
    /// other slope of 2k (the odd-indexed ones 2^(−8·1/(2k)), 2^(−8·3/(2k)), …) until there are n.
    /// </summary>
    public static float[] Slopes(int numHeads)
    {
        if (numHeads <= 0) throw new ArgumentOutOfRangeException(nameof(numHeads), $"Alibi.Slopes: need at least one head, got {numHeads}");
        static double[] PowerOfTwo(int n) => Enumerable.Range(1, n).Select(h => Math.Pow(2, -8.0 * h / n)).ToArray();
        int k = 1 << (int)Math.Floor(Math.Log2(numHeads));
        var slopes = PowerOfTwo(k).ToList();
        if (k < numHeads) slopes.AddRange(PowerOfTwo(2 * k).Where((_, i) => i % 2 == 0).Take(numHeads - k));
        return slopes.Select(x => (float)x).ToArray();
    }
}

/// <summary>
/// T5's learned relative position bias (Raffel et al. 2020): the distance j − i between key j and query i falls into
/// one of <c>numBuckets</c> buckets — exact for small distances, logarithmic up to <c>maxDistance</c>, one shared bucket
/// beyond — and each bucket has a learned scalar per head, added to the attention scores. Parameter names as Hugging
/// Face's T5: <c>relative_attention_bias.weight</c> [numBuckets, H].
/// </summary>
public sealed class RelativePositionBias : Module
{
    /// <summary>H, the heads (one learned bias per bucket each).</summary>
    public int NumHeads { get; }
    /// <summary>True (the default, an encoder's) to bucket keys after the query apart from those at or before it; false (a
    /// causal decoder's) to bucket only the distance back to earlier keys, the query's own and later keys all in bucket 0.</summary>
    public bool Bidirectional { get; }
    /// <summary>The number of buckets (default 32), both directions together when bidirectional.</summary>
    public int NumBuckets { get; }
    /// <summary>The distance where the logarithmic buckets end (default 128); farther keys share the last bucket.</summary>
    public int MaxDistance { get; }
    /// <summary>The bucket table [numBuckets, H] (<c>relative_attention_bias</c>), initialized N(0, 1) as <see cref="Embedding"/>.</summary>
    public Embedding RelativeAttentionBias { get; }

    /// <summary>As Hugging Face's T5Attention relative bias, with its defaults; needs numBuckets ≥ 2 and maxDistance ≥ 1.
    /// <paramref name="rng"/> seeds the table's initialization.</summary>
    public RelativePositionBias(int numHeads, bool bidirectional = true, int numBuckets = 32, int maxDistance = 128, Random? rng = null)
    {
        if (numBuckets < 2 || maxDistance < 1) throw new ArgumentOutOfRangeException(nameof(numBuckets), $"RelativePositionBias: need numBuckets ≥ 2 and maxDistance ≥ 1, got {numBuckets}, {maxDistance}");
        (NumHeads, Bidirectional, NumBuckets, MaxDistance) = (numHeads, bidirectional, numBuckets, maxDistance);
        RelativeAttentionBias = RegisterModule("relative_attention_bias", new Embedding(numBuckets, numHeads, rng: rng));
    }

    /// <summary>
    /// The bucket of relative position r = key − query, as HF's <c>_relative_position_bucket</c>. Bidirectional: half the
    /// buckets for r &gt; 0 (offset by nb/2), half for r ≤ 0, on |r|; causal: r ≥ 0 all share bucket 0 and n = −r.
    /// Within a half of nb buckets, n &lt; nb/2 is its own bucket; larger n go to
    /// <c>nb/2 + ⌊log(n/(nb/2)) / log(maxDistance/(nb/2)) · (nb − nb/2)⌋</c>, capped at nb − 1 (computed in float32, as torch).
    /// </summary>
    public static int Bucket(int relativePosition, bool bidirectional, int numBuckets = 32, int maxDistance = 128)
    {
        int bucket = 0, n;
        if (bidirectional)
        {
            numBuckets /= 2;
            if (relativePosition > 0) bucket += numBuckets;
            n = Math.Abs(relativePosition);
        }
        else n = -Math.Min(relativePosition, 0);
        int maxExact = numBuckets / 2;
        if (n < maxExact) return bucket + n;
        float ratio = MathF.Log((float)n / maxExact) / (float)Math.Log(maxDistance / (double)maxExact);
        int large = maxExact + (int)(ratio * (numBuckets - maxExact));
        return bucket + Math.Min(large, numBuckets - 1);
    }

    /// <summary>Bucket ids [L, S] (int64) for queries at positions queryOffset … queryOffset + L − 1 and keys 0 … S − 1.</summary>
    public Tensor Buckets(int queryLength, int keyLength, int queryOffset = 0)
    {
        var ids = new long[queryLength * keyLength];
        for (int i = 0; i < queryLength; i++)
            for (int j = 0; j < keyLength; j++)
                ids[i * keyLength + j] = Bucket(j - (i + queryOffset), Bidirectional, NumBuckets, MaxDistance);
        return Tensor.FromArray(ids, new[] { queryLength, keyLength });
    }

    /// <summary>The bias [1, H, L, S], differentiable in the bucket table: pass it as the float (additive) attention mask.</summary>
    public Tensor Forward(int queryLength, int keyLength, int queryOffset = 0)
    {
        var ids = Buckets(queryLength, keyLength, queryOffset);
        var values = RelativeAttentionBias.Forward(ids);          // (L, S, H)
        return values.Permute(2, 0, 1).Unsqueeze(0);              // (1, H, L, S)
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_heads={NumHeads}, bidirectional={Bidirectional}, num_buckets={NumBuckets}, max_distance={MaxDistance}";
}
