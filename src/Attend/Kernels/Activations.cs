using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Attend.Kernels.Attention;
using Attend.Kernels.Parallel;

namespace Attend.Kernels;

/// <summary>Pointwise activations without a TensorPrimitives counterpart, each forward next to its backward.</summary>
internal static unsafe class Activations
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;   // 1/√(2π)
    private const float Sqrt2OverPi = 0.79788456080286536f;  // √(2/π)

    /// <summary>erf(x) to ~1.2e-7 absolute (Numerical Recipes' erfc Chebyshev fit), enough for float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Erf(float x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                   t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                   t * (-0.82215223 + t * 0.17087277)))))))));
        return (float)(x >= 0 ? 1.0 - r : r - 1.0);
    }

    /// <summary>GELU, exact: <c>y = x·Φ(x) = ½x(1 + erf(x/√2))</c>; tanh form: <c>½x(1 + tanh(√(2/π)(x + 0.044715x³)))</c>.
    /// The exact form runs vectorized (see <see cref="CdfVec"/>) and on every thread for large n.</summary>
    public static void GeluForward(float* y, float* x, int n, bool tanh)
    {
        if (tanh) { GeluTanhForward(y, x, n); return; }
        Chunks.For(n, Chunks.Grain, (s, len) => GeluForwardRange(y + s, x + s, (int)len));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluForwardRange(float* y, float* x, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.Load(x + i);
                (Vector256.Multiply(v, CdfVec(v, out _))).Store(y + i);
            }
        for (; i < n; i++) y[i] = 0.5f * x[i] * (1f + Erf(x[i] * InvSqrt2));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluTanhForward(float* y, float* x, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            y[i] = 0.5f * v * (1f + MathF.Tanh(Sqrt2OverPi * (v + 0.044715f * v * v * v)));
        }
    }

    /// <summary>
    /// Φ(x) = ½(1 + erf(x/√2)) for 8 lanes, with erf(z) = 1 − t·(a₁ + a₂t + … + a₅t⁴)·e^(−z²), t = 1/(1 + p·z), z ≥ 0
    /// (Abramowitz &amp; Stegun 7.1.26, |error| ≤ 1.5e-7) and odd symmetry; also returns <paramref name="gauss"/> =
    /// e^(−x²/2), which the backward reuses for the density φ(x) = e^(−x²/2)/√(2π).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> CdfVec(Vector256<float> x, out Vector256<float> gauss)
    {
        var z = Vector256.Abs(x) * InvSqrt2;
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(z, Vector256.Create(0.3275911f), Vector256<float>.One);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1.061405429f), t, Vector256.Create(-1.453152027f));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(1.421413741f));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(-0.284496736f));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(0.254829592f));
        gauss = FastExp.Exp(x * x * -0.5f);
        var erfAbs = Vector256.FusedMultiplyAdd(-(p * t), gauss, Vector256<float>.One);
        var erf = erfAbs | (x & Vector256.Create(-0.0f));   // erf(−z) = −erf(z): copy x's sign
        return Vector256.FusedMultiplyAdd(erf, Vector256.Create(0.5f), Vector256.Create(0.5f));
    }

    /// <summary>dx = g·(Φ(x) + x·φ(x)) exactly; for the tanh form, the derivative of that formula.</summary>
    public static void GeluBackward(float* dx, float* g, float* x, int n, bool tanh)
    {
        if (tanh) { GeluTanhBackward(dx, g, x, n); return; }
        Chunks.For(n, Chunks.Grain, (s, len) => GeluBackwardRange(dx + s, g + s, x + s, (int)len));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluBackwardRange(float* dx, float* g, float* x, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.Load(x + i);
                var cdf = CdfVec(v, out var gauss);
                var d = Vector256.FusedMultiplyAdd(v * InvSqrt2Pi, gauss, cdf);
                (Vector256.Load(g + i) * d).Store(dx + i);
            }
        for (; i < n; i++)
        {
            float v = x[i];
            float cdf = 0.5f * (1f + Erf(v * InvSqrt2));
            float pdf = InvSqrt2Pi * MathF.Exp(-0.5f * v * v);
            dx[i] = g[i] * (cdf + v * pdf);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluTanhBackward(float* dx, float* g, float* x, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            float u = Sqrt2OverPi * (v + 0.044715f * v * v * v);
            float th = MathF.Tanh(u);
            float du = Sqrt2OverPi * (1f + 3f * 0.044715f * v * v);
            dx[i] = g[i] * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * du);
        }
    }

    /// <summary>SiLU: <c>y = x·σ(x)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluForward(float* y, float* x, int n)
    {
        for (int i = 0; i < n; i++) y[i] = x[i] / (1f + MathF.Exp(-x[i]));
    }

    /// <summary>dx = g·σ(x)·(1 + x·(1 − σ(x))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluBackward(float* dx, float* g, float* x, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float s = 1f / (1f + MathF.Exp(-x[i]));
            dx[i] = g[i] * s * (1f + x[i] * (1f - s));
        }
    }

    /// <summary>dx = g where the mask predicate on x holds, else 0 (relu: x &gt; 0; clamp: min ≤ x ≤ max).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PassBackward(float* dx, float* g, float* x, int n, float lo, float hi, bool strictLo)
    {
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            bool pass = (strictLo ? v > lo : v >= lo) && v <= hi;
            dx[i] = pass ? g[i] : 0f;
        }
    }
}
