namespace Attend.Data;

/// <summary>SplitMix64 (Steele, Lea &amp; Flood 2014): a random generator whose whole state is one ulong. Training data
/// drawn from <see cref="ForStep"/> is a function of (seed, step) alone, so a resumed run draws the very batches an
/// uninterrupted one would.</summary>
public sealed class SplitMix64(ulong state)
{
    /// <summary>The whole state: the seed, advanced by 0x9E3779B97F4A7C15 on each <see cref="Next"/>.</summary>
    public ulong State { get; private set; } = state;

    /// <summary>The next 64 uniformly distributed bits (advances <see cref="State"/>, then mixes it).</summary>
    public ulong Next()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n) (the modulo bias is below 2⁻³⁰ for the n used here).</summary>
    public int NextInt(int n) => (int)(Next() % (ulong)n);

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal (Box–Muller, two uniforms).</summary>
    public double NextGaussian()
    {
        double u1 = 1 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/> in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>The generator of (<paramref name="seed"/>, <paramref name="step"/>), one independent stream per
    /// <paramref name="stream"/> (e.g. 0 for the order, 1 for augmentations).</summary>
    public static SplitMix64 ForStep(ulong seed, long step, int stream = 0) =>
        new(seed ^ new SplitMix64((ulong)step * 0x9E3779B97F4A7C15UL).Next() ^ (ulong)stream);
}
