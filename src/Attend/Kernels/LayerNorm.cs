using System.Runtime.CompilerServices;

namespace Attend.Kernels;

/// <summary>
/// Layer normalization over the last D elements of each of B rows (llm.c layout: outputs, caches, inputs, dims).
/// <c>y = (x − μ)·rstd·w + b</c>, <c>rstd = 1/√(σ² + eps)</c>, σ² the biased variance of the row.
/// </summary>
internal static unsafe class LayerNorm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* y, float* mean, float* rstd, float* x, float* w, float* b, int rows, int d, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * d; float* yr = y + (long)r * d;
            double s = 0; for (int i = 0; i < d; i++) s += xr[i];
            float m = (float)(s / d);
            double v = 0; for (int i = 0; i < d; i++) { float c = xr[i] - m; v += c * c; }
            float rs = 1f / MathF.Sqrt((float)(v / d) + eps);
            for (int i = 0; i < d; i++)
            {
                float n = (xr[i] - m) * rs;
                yr[i] = n * (w is null ? 1f : w[i]) + (b is null ? 0f : b[i]);
            }
            mean[r] = m; rstd[r] = rs;
        }
    }

    /// <summary>
    /// With x̂ = (x − μ)·rstd and ĝ = dy∘w: <c>dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ∘x̂))</c>, <c>dw += Σ dy∘x̂</c>, <c>db += Σ dy</c>.
    /// dw, db may be null when not needed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* dx, float* dw, float* db, float* dy, float* x, float* w, float* mean, float* rstd, int rows, int d)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * d; float* gr = dy + (long)r * d;
            float m = mean[r], rs = rstd[r];
            float sumG = 0, sumGx = 0;
            for (int i = 0; i < d; i++)
            {
                float xh = (xr[i] - m) * rs;
                float gh = gr[i] * (w is null ? 1f : w[i]);
                sumG += gh; sumGx += gh * xh;
                if (dw is not null) dw[i] += gr[i] * xh;
                if (db is not null) db[i] += gr[i];
            }
            float meanG = sumG / d, meanGx = sumGx / d;
            if (dx is null) continue;
            float* dr = dx + (long)r * d;
            for (int i = 0; i < d; i++)
            {
                float xh = (xr[i] - m) * rs;
                float gh = gr[i] * (w is null ? 1f : w[i]);
                dr[i] = rs * (gh - meanG - xh * meanGx);
            }
        }
    }
}
