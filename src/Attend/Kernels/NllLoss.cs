namespace Attend.Kernels;

/// <summary>
/// Negative log-likelihood with label smoothing on log-probabilities logp [M, C] (M = rows, C = classes), as
/// PyTorch's cross_entropy: <c>loss_i = (1−ε)·(−w[y_i]·logp[i, y_i]) + (ε/C)·(−Σ_c w[c]·logp[i, c])</c>,
/// rows with y_i = ignoreIndex contribute nothing; 'mean' divides by Σ w[y_i] over the kept rows.
/// </summary>
internal static unsafe class NllLoss
{
    /// <summary>Per-row losses into <paramref name="loss"/> [M]; returns the mean's denominator Σ w[y_i].</summary>
    public static double Forward(float* loss, float* logp, long* target, float* w, int m, int c, int ignoreIndex, float eps)
    {
        double denom = 0;
        for (int i = 0; i < m; i++)
        {
            long y = target[i];
            if (y == ignoreIndex) { loss[i] = 0f; continue; }
            if (y < 0 || y >= c)
                throw new ArgumentOutOfRangeException(nameof(target), $"cross_entropy: target {y} at position {i} is out of range for {c} classes (ignoreIndex {ignoreIndex})");
            float* row = logp + (long)i * c;
            float wy = w is null ? 1f : w[y];
            double smooth = 0;
            if (eps != 0f)
                for (int k = 0; k < c; k++) smooth -= (w is null ? 1f : w[k]) * row[k];
            loss[i] = (float)((1 - eps) * (-wy * row[y]) + eps / c * smooth);
            denom += wy;
        }
        return denom;
    }

    /// <summary>d loss_i / d logp[i, k] = −scale_i·((1−ε)·w[y_i]·[k = y_i] + (ε/C)·w[k]).</summary>
    public static void Backward(float* dlogp, float* gRow, long* target, float* w, int m, int c, int ignoreIndex, float eps)
    {
        for (int i = 0; i < m; i++)
        {
            float* d = dlogp + (long)i * c;
            long y = target[i];
            if (y == ignoreIndex) { new Span<float>(d, c).Clear(); continue; }
            float gi = gRow[i];
            for (int k = 0; k < c; k++) d[k] = -gi * eps / c * (w is null ? 1f : w[k]);
            d[y] -= gi * (1 - eps) * (w is null ? 1f : w[y]);
        }
    }
}
