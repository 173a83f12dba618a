namespace Attend;

/// <summary>Random tensors from a seeded generator (as torch.manual_seed + torch.randn / torch.rand).</summary>
public sealed partial class Tensor
{
    private static Random defaultGenerator = new(0);

    /// <summary>The generator used when none is passed; reset by <see cref="ManualSeed"/>.</summary>
    public static Random DefaultGenerator => defaultGenerator;

    /// <summary>Seeds the default generator, so that Randn/Rand/Dropout without an explicit generator repeat.</summary>
    public static void ManualSeed(int seed) => defaultGenerator = new Random(seed);

    /// <summary>Standard normal samples (Box–Muller on the generator's uniform doubles).</summary>
    public static Tensor Randn(int[] shape, Random? rng = null, bool requiresGrad = false)
    {
        var t = Empty(shape);
        var s = t.Span;
        var r = rng ?? defaultGenerator;
        lock (r)
            for (int i = 0; i < s.Length; i += 2)
            {
                double u1 = 1.0 - r.NextDouble(), u2 = r.NextDouble();
                double rad = Math.Sqrt(-2.0 * Math.Log(u1));
                s[i] = (float)(rad * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < s.Length) s[i + 1] = (float)(rad * Math.Sin(2 * Math.PI * u2));
            }
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(int[] shape, Random? rng = null, bool requiresGrad = false)
    {
        var t = Empty(shape);
        var s = t.Span;
        var r = rng ?? defaultGenerator;
        lock (r) for (int i = 0; i < s.Length; i++) s[i] = r.NextSingle();
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Starts a scope that disposes every tensor created on this thread until it ends (see <see cref="TensorScope"/>).</summary>
    public static TensorScope NewScope() => new();
}
