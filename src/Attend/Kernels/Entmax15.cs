namespace Attend.Kernels;

/// <summary>
/// Row 1.5-entmax (Peters, Niculae &amp; Martins 2019): <c>y = [x/2 − τ]₊²</c> with τ such that Σ y = 1 — between softmax
/// (α = 1) and sparsemax (α = 2), sparse but smoother. Exact, by sorting (the entmax package's <c>_entmax15</c>): with
/// z = x/2 − max the finite entries in decreasing order, for each candidate support size ρ
/// <code>
/// μ_ρ = mean(z_1..z_ρ),  ss_ρ = ρ·(mean(z²) − μ_ρ²),  τ_ρ = μ_ρ − √max((1 − ss_ρ)/ρ, 0)
/// </code>
/// the support is <c>k = #{ρ : τ_ρ ≤ z_ρ}</c> and τ = τ_k. Entries at −∞ get 0; an all −∞ row gives zeros. Float64 sums.
/// </summary>
internal static unsafe class Entmax15
{
    public static void Forward(float* y, float* x, int rows, int n)
    {
        var z = new double[n];
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            int m = 0;
            double max = double.NegativeInfinity;
            for (int j = 0; j < n; j++)
                if (!float.IsNegativeInfinity(xr[j])) { z[m++] = xr[j] / 2.0; max = Math.Max(max, xr[j] / 2.0); }
            if (m == 0) { new Span<float>(yr, n).Clear(); continue; }
            var zs = z.AsSpan(0, m);
            for (int i = 0; i < m; i++) zs[i] -= max;
            zs.Sort(); zs.Reverse();
            double cum = 0, cumSq = 0, tau = 0;
            for (int i = 0; i < m; i++)
            {
                int rho = i + 1;
                cum += zs[i]; cumSq += zs[i] * zs[i];
                double mean = cum / rho, ss = rho * (cumSq / rho - mean * mean);
                double t = mean - Math.Sqrt(Math.Max((1 - ss) / rho, 0));
                if (t <= zs[i]) tau = t;                                         // true on a prefix: the last is τ_k
            }
            for (int j = 0; j < n; j++)
            {
                double d = xr[j] / 2.0 - max - tau;                                          // −∞ for masked entries
                yr[j] = d > 0 ? (float)(d * d) : 0f;
            }
        }
    }

    /// <summary>In the forward pass this was y = [z − τ]₊² with z = x/2; with s = √y (the support's slope / 2),
    /// <c>dx = g∘s − (Σ g∘s / Σ s)·s</c>.</summary>
    public static void Backward(float* dx, float* g, float* y, int rows, int n)
    {
        for (int r = 0; r < rows; r++)
        {
            float* gr = g + (long)r * n, yr = y + (long)r * n, dr = dx + (long)r * n;
            double gs = 0, ss = 0;
            for (int j = 0; j < n; j++)
            {
                double s = Math.Sqrt(yr[j]);
                gs += gr[j] * s; ss += s;
            }
            double q = ss == 0 ? 0 : gs / ss;
            for (int j = 0; j < n; j++)
            {
                double s = Math.Sqrt(yr[j]);
                dr[j] = (float)(gr[j] * s - q * s);
            }
        }
    }
}
