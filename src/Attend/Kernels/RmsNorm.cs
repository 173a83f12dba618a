using System.Runtime.CompilerServices;

namespace Attend.Kernels;

/// <summary>
/// RMS normalization over the last D elements of each of B rows: <c>y = x·rstd·w</c>, <c>rstd = 1/√(mean(x²) + eps)</c>.
/// </summary>
internal static unsafe class RmsNorm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* y, float* rstd, float* x, float* w, int rows, int d, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * d; float* yr = y + (long)r * d;
            double ss = 0; for (int i = 0; i < d; i++) ss += xr[i] * xr[i];
            float rs = 1f / MathF.Sqrt((float)(ss / d) + eps);
            for (int i = 0; i < d; i++) yr[i] = xr[i] * rs * (w is null ? 1f : w[i]);
            rstd[r] = rs;
        }
    }

    /// <summary>With x̂ = x·rstd and ĝ = dy∘w: <c>dx = rstd·(ĝ − x̂·mean(ĝ∘x̂))</c>, <c>dw += Σ dy∘x̂</c> (dw may be null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* dx, float* dw, float* dy, float* x, float* w, float* rstd, int rows, int d)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * d; float* gr = dy + (long)r * d;
            float rs = rstd[r], dot = 0;
            for (int i = 0; i < d; i++)
            {
                float xh = xr[i] * rs;
                dot += gr[i] * (w is null ? 1f : w[i]) * xh;
                if (dw is not null) dw[i] += gr[i] * xh;
            }
            float meanDot = dot / d;
            if (dx is null) continue;
            float* dr = dx + (long)r * d;
            for (int i = 0; i < d; i++)
                dr[i] = rs * (gr[i] * (w is null ? 1f : w[i]) - xr[i] * rs * meanDot);
        }
    }
}
