namespace Attend.Nn;

/// <summary>
/// Keys and values of one attention layer kept between decoding steps, already projected and split into heads:
/// K, V (B, H, S, D). A self-attention cache (<see cref="Static"/> false) grows by the new positions on every call;
/// a cross-attention cache (<see cref="Static"/> true) is filled from the encoder memory on its first call and reused.
/// Growing concatenates (O(S) copy per step): fine for the sequence lengths this library decodes.
/// </summary>
public sealed class KvCache(bool isStatic = false)
{
    /// <summary>True for cross-attention: key/value are projected once, on the first call.</summary>
    public bool Static { get; } = isStatic;
    internal Tensor? K { get; set; }
    internal Tensor? V { get; set; }
    /// <summary>Number of cached key positions.</summary>
    public int Length => K?.Shape[2] ?? 0;

    /// <summary>Forgets everything (a new sequence).</summary>
    public void Reset() => (K, V) = (null, null);

    /// <summary>Beam search: row b of the cache becomes old row <paramref name="rows"/>[b] (Hugging Face's _reorder_cache),
    /// so each hypothesis keeps the keys/values of the prefix it extends. Inference only (no gradient).</summary>
    public void Reorder(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (K is null) return;
        int b = K.Size(0);
        if (rows.Any(r => r < 0 || r >= b)) throw new ArgumentOutOfRangeException(nameof(rows), $"KvCache.Reorder: rows must be in [0, {b}), got [{string.Join(", ", rows)}]");
        using var noGrad = Autograd.NoGrad();
        Tensor Pick(Tensor t) => Tensor.Cat(rows.Select(r => t.Narrow(0, r, 1)).ToArray(), 0);            // (rows, H, S, D)
        (K, V) = (Pick(K), Pick(V!));
    }
}

/// <summary>Glorot and Bengio's initializers with PyTorch's fan rules: fan_in = size(1)·receptive, fan_out = size(0)·receptive,
/// receptive = the product of the dims after the first two.</summary>
internal static class Xavier
{
    private static (int FanIn, int FanOut) Fans(int[] shape)
    {
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>xavier_uniform_: U(−a, a), a = √(6 / (fan_in + fan_out)).</summary>
    public static Tensor Uniform(int[] shape, Random? rng)
    {
        var (fi, fo) = Fans(shape);
        return Init.Uniform(shape, MathF.Sqrt(6f / (fi + fo)), rng);
    }

    /// <summary>xavier_normal_: N(0, σ²), σ = √(2 / (fan_in + fan_out)).</summary>
    public static Tensor Normal(int[] shape, Random? rng)
    {
        var (fi, fo) = Fans(shape);
        return Init.Normal(shape, MathF.Sqrt(2f / (fi + fo)), rng);
    }
}
