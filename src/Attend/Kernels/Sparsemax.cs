namespace Attend.Kernels;

/// <summary>
/// Row sparsemax (Martins &amp; Astudillo 2016), the Euclidean projection of a row onto the probability simplex:
/// <c>y = [x − τ]₊</c> with τ such that Σ y = 1. Exact, by sorting: with z the finite entries sorted in decreasing
/// order, the support size is <c>k = max{k : 1 + k·z_k &gt; Σ_{j≤k} z_j}</c> and <c>τ = (Σ_{j≤k} z_j − 1)/k</c>.
/// Entries at −∞ (masked) get 0; a row that is all −∞ gives zeros. Sums run in float64. Rows = rows, n = row length.
/// </summary>
internal static unsafe class Sparsemax
{
    public static void Forward(float* y, float* x, int rows, int n)
    {
        var z = new double[n];
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * n, yr = y + (long)r * n;
            int m = 0;
            for (int j = 0; j < n; j++) if (!float.IsNegativeInfinity(xr[j])) z[m++] = xr[j];
            if (m == 0) { new Span<float>(yr, n).Clear(); continue; }
            var zs = z.AsSpan(0, m);
            zs.Sort(); zs.Reverse();
            double cum = 0, supportSum = 0; int k = 0;
            for (int i = 0; i < m; i++)
            {
                cum += zs[i];
                if (1 + (i + 1) * zs[i] > cum) { k = i + 1; supportSum = cum; }
            }
            double tau = (supportSum - 1) / k;
            for (int j = 0; j < n; j++) yr[j] = (float)Math.Max(xr[j] - tau, 0.0);   // −∞ − τ → 0
        }
    }

    /// <summary>In the forward pass this was y = [x − τ]₊; on the support S = {y &gt; 0} the Jacobian is I − 𝟙𝟙ᵀ/|S|, so
    /// <c>dx_j = g_j − mean_{S} g</c> for j ∈ S and 0 elsewhere.</summary>
    public static void Backward(float* dx, float* g, float* y, int rows, int n)
    {
        for (int r = 0; r < rows; r++)
        {
            float* gr = g + (long)r * n, yr = y + (long)r * n, dr = dx + (long)r * n;
            double sum = 0; int size = 0;
            for (int j = 0; j < n; j++) if (yr[j] > 0) { sum += gr[j]; size++; }
            double mean = size == 0 ? 0 : sum / size;
            for (int j = 0; j < n; j++) dr[j] = yr[j] > 0 ? (float)(gr[j] - mean) : 0f;
        }
    }
}
