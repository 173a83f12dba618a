namespace Attend.Kernels;

/// <summary>
/// Connectionist Temporal Classification (Graves et al. 2006) on log-probabilities lp [T, N, C], in float64 log space.
/// Dims: T input steps, N batch, C classes, L a sample's target length, S = 2L + 1 extended labels
/// l' = (blank, l1, blank, l2, …, lL, blank). Both recursions include the emission at t:
/// <code>
/// α_0(0) = lp[0, blank],  α_0(1) = lp[0, l1]
/// α_t(s) = lse(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) if l'(s) ≠ blank and l'(s) ≠ l'(s−2)) + lp[t, l'(s)]
/// β_{T−1}(S−1), β_{T−1}(S−2) = lp[T−1, ·];   β_t(s) = lse(β_{t+1}(s), β_{t+1}(s+1), β_{t+1}(s+2) if allowed) + lp[t, l'(s)]
/// loss = −log p,   log p = lse(α_{T−1}(S−1), α_{T−1}(S−2))
/// ∂loss/∂lp[t, k] = −exp(lse_{s: l'(s) = k}(α_t(s) + β_t(s)) − lp[t, k] − log p)       (0 for t ≥ T_n)
/// </code>
/// That last line is the true partial derivative with respect to lp as a free input. (PyTorch's ctc_loss returns
/// exp(lp) plus it, which is the same gradient once it flows back through the log_softmax that made lp.)
/// </summary>
internal static unsafe class CtcLoss
{
    static double Lse(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        double m = Math.Max(a, b);
        return m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m));
    }

    /// <summary>The extended label s of a target: blank at even s, target[(s − 1) / 2] at odd s.</summary>
    static int Label(long* target, int s, int blank) => (s & 1) == 0 ? blank : (int)target[s >> 1];

    /// <summary>−log p of sample n (may be +∞ when no alignment fits) and, when <paramref name="grad"/> is given,
    /// adds g · ∂loss/∂lp into grad [T, N, C] at the sample's column.</summary>
    public static double Sample(float* lp, int tMax, int n, int batch, int c, long* target, int inputLength, int targetLength, int blank, float* grad, double g)
    {
        int S = 2 * targetLength + 1, T = inputLength;
        float* At(int t) => lp + ((long)t * batch + n) * c;
        var alpha = new double[T * S]; var beta = new double[T * S];
        Array.Fill(alpha, double.NegativeInfinity); Array.Fill(beta, double.NegativeInfinity);
        if (T == 0) return targetLength == 0 ? 0 : double.PositiveInfinity;
        // 1) forward
        alpha[0] = At(0)[blank];
        if (S > 1) alpha[1] = At(0)[Label(target, 1, blank)];
        for (int t = 1; t < T; t++)
            for (int s = 0; s < S; s++)
            {
                int l = Label(target, s, blank);
                double a = alpha[(t - 1) * S + s];
                if (s >= 1) a = Lse(a, alpha[(t - 1) * S + s - 1]);
                if (s >= 2 && l != blank && l != Label(target, s - 2, blank)) a = Lse(a, alpha[(t - 1) * S + s - 2]);
                alpha[t * S + s] = double.IsNegativeInfinity(a) ? a : a + At(t)[l];
            }
        double logp = Lse(alpha[(T - 1) * S + S - 1], S > 1 ? alpha[(T - 1) * S + S - 2] : double.NegativeInfinity);
        if (grad is null || double.IsNegativeInfinity(logp) || g == 0) return -logp;
        // 2) backward recursion
        beta[(T - 1) * S + S - 1] = At(T - 1)[blank];
        if (S > 1) beta[(T - 1) * S + S - 2] = At(T - 1)[Label(target, S - 2, blank)];
        for (int t = T - 2; t >= 0; t--)
            for (int s = 0; s < S; s++)
            {
                int l = Label(target, s, blank);
                double b = beta[(t + 1) * S + s];
                if (s + 1 < S) b = Lse(b, beta[(t + 1) * S + s + 1]);
                if (s + 2 < S && l != blank && l != Label(target, s + 2, blank)) b = Lse(b, beta[(t + 1) * S + s + 2]);
                beta[t * S + s] = double.IsNegativeInfinity(b) ? b : b + At(t)[l];
            }
        // 3) gradient: per class, the log-sum of α + β over the extended labels that are that class
        var occ = new double[c];
        for (int t = 0; t < T; t++)
        {
            Array.Fill(occ, double.NegativeInfinity);
            for (int s = 0; s < S; s++) { int l = Label(target, s, blank); occ[l] = Lse(occ[l], alpha[t * S + s] + beta[t * S + s]); }
            float* row = grad + ((long)t * batch + n) * c;
            for (int k = 0; k < c; k++)
                if (!double.IsNegativeInfinity(occ[k])) row[k] += (float)(-g * Math.Exp(occ[k] - At(t)[k] - logp));
        }
        return -logp;
    }
}
