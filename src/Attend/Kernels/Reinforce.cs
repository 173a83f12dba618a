namespace Attend.Kernels;

/// <summary>
/// Stochastic hard attention trained by REINFORCE (Williams 1992; Xu et al. 2015). Rows of n scores; p = softmax(s).
/// Forward samples one position per row, <c>j ~ p</c> (or the argmax without a generator). The surrogate loss over all
/// sampled rows r (in batch element b(r), B batch elements, R valid rows, advantage A_b = reward_b − baseline, entropy
/// bonus β) is
/// <code>
/// ℒ = −(1/B) Σ_r A_b(r) · log p_r[j_r]  −  (β/R) Σ_r H_r,      H_r = −Σ_i p_ri log p_ri
/// </code>
/// whose gradient is an unbiased estimate of −∇(E[reward] + β·mean H) for any baseline that does not depend on the sample.
/// </summary>
internal static unsafe class Reinforce
{
    /// <summary>p = softmax(s) per row (−∞ → 0), and one sampled index per row (−1 for an all −∞ row).</summary>
    public static void Sample(float* p, int* choice, float* s, int rows, int n, Random? rng)
    {
        Softmax.Forward(p, s, rows, n, log: false);
        for (int r = 0; r < rows; r++)
        {
            float* pr = p + (long)r * n;
            int pick = -1;
            if (rng is null)
            {
                float best = 0;
                for (int j = 0; j < n; j++) if (pr[j] > best) { best = pr[j]; pick = j; }
            }
            else
            {
                double u = rng.NextDouble(), cum = 0, total = 0;
                for (int j = 0; j < n; j++) total += pr[j];
                if (total > 0)
                {
                    u *= total;
                    for (int j = 0; j < n; j++)
                    {
                        if (pr[j] <= 0) continue;
                        pick = j;                                   // the last positive entry absorbs rounding
                        cum += pr[j];
                        if (u < cum) break;
                    }
                }
            }
            choice[r] = pick;
        }
    }

    /// <summary>The surrogate ℒ of one block of rows (accumulated into the sums); rows of batch element b = r / rowsPerBatch.</summary>
    public static void LossForward(ref double policy, ref double entropy, ref int valid, float* p, int* choice, int rows, int n,
        int rowsPerBatch, double[] advantage, int B)
    {
        for (int r = 0; r < rows; r++)
        {
            if (choice[r] < 0) continue;
            float* pr = p + (long)r * n;
            policy -= advantage[r / rowsPerBatch] / B * Math.Log(pr[choice[r]]);
            double h = 0;
            for (int i = 0; i < n; i++) if (pr[i] > 0) h -= pr[i] * Math.Log(pr[i]);
            entropy += h; valid++;
        }
    }

    /// <summary>In the forward pass this was ℒ = −(A/B)·log p_j − (β/R)·H per row; with ∂log p_j/∂s_i = δ_ij − p_i and
    /// ∂H/∂s_i = −p_i (log p_i + H): <c>ds_i = g·[−(A/B)(δ_ij − p_i) + (β/R)·p_i (log p_i + H)]</c>.</summary>
    public static void LossBackward(float* ds, float g, float* p, int* choice, int rows, int n, int rowsPerBatch,
        double[] advantage, int B, double beta, int valid)
    {
        for (int r = 0; r < rows; r++)
        {
            float* pr = p + (long)r * n, dr = ds + (long)r * n;
            if (choice[r] < 0) { new Span<float>(dr, n).Clear(); continue; }
            double a = advantage[r / rowsPerBatch] / B, h = 0;
            for (int i = 0; i < n; i++) if (pr[i] > 0) h -= pr[i] * Math.Log(pr[i]);
            for (int i = 0; i < n; i++)
            {
                if (pr[i] <= 0) { dr[i] = 0; continue; }
                double d = -a * ((i == choice[r] ? 1 : 0) - pr[i]) + beta / valid * pr[i] * (Math.Log(pr[i]) + h);
                dr[i] = (float)(g * d);
            }
        }
    }
}
