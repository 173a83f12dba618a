using System.Runtime.CompilerServices;

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

    /// <summary>GELU, exact: <c>y = x·Φ(x) = ½x(1 + erf(x/√2))</c>; tanh form: <c>½x(1 + tanh(√(2/π)(x + 0.044715x³)))</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GeluForward(float* y, float* x, int n, bool tanh)
    {
        if (tanh)
            for (int i = 0; i < n; i++)
            {
                float v = x[i];
                y[i] = 0.5f * v * (1f + MathF.Tanh(Sqrt2OverPi * (v + 0.044715f * v * v * v)));
            }
        else
            for (int i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1f + Erf(x[i] * InvSqrt2));
    }

    /// <summary>dx = g·(Φ(x) + x·φ(x)) exactly; for the tanh form, the derivative of that formula.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GeluBackward(float* dx, float* g, float* x, int n, bool tanh)
    {
        if (tanh)
            for (int i = 0; i < n; i++)
            {
                float v = x[i];
                float u = Sqrt2OverPi * (v + 0.044715f * v * v * v);
                float th = MathF.Tanh(u);
                float du = Sqrt2OverPi * (1f + 3f * 0.044715f * v * v);
                dx[i] = g[i] * (0.5f * (1f + th) + 0.5f * v * (1f - th * th) * du);
            }
        else
            for (int i = 0; i < n; i++)
            {
                float v = x[i];
                float cdf = 0.5f * (1f + Erf(v * InvSqrt2));
                float pdf = InvSqrt2Pi * MathF.Exp(-0.5f * v * v);
                dx[i] = g[i] * (cdf + v * pdf);
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
