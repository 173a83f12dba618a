namespace Attend.Kernels.Reference;

/// <summary>
/// The naive twin of the fused attention kernel, for tests only: materializes every score in float64, applies the
/// same modifiers in the same order (see <c>Attend.Attention.AttentionOptions</c>), and differentiates by the textbook formulas.
/// Inputs and outputs are dense row-major arrays: q [B,H,L,E], k [B,Hkv,S,E], v [B,Hkv,S,Ev], mask [B,H,L,S] (expanded).
/// </summary>
internal static class AttentionReference
{
    public sealed record Problem(int B, int H, int Hkv, int L, int S, int E, int Ev, double[] Q, double[] K, double[] V,
        bool[]? BoolMask = null, double[]? AddMask = null, bool Causal = false, bool BottomRight = false,
        int? WindowLeft = null, int? WindowRight = null, double[]? Alibi = null, double Softcap = 0, double? Scale = null,
        double DropP = 0, Func<int, int, int, int, double>? DropScale = null);

    public sealed record Result(double[] O, double[] Lse, double[] P, double[] DQ, double[] DK, double[] DV, double[] DMask);

    /// <summary>Forward, and the backward of Σ O∘gO when <paramref name="gO"/> is given.</summary>
    public static Result Run(Problem p, double[]? gO = null)
    {
        int g = p.H / p.Hkv, off = p.BottomRight ? p.S - p.L : 0;
        double scale = p.Scale ?? 1.0 / Math.Sqrt(p.E);
        var o = new double[p.B * p.H * p.L * p.Ev];
        var lse = new double[p.B * p.H * p.L];
        var P = new double[p.B * p.H * p.L * p.S];
        var dq = new double[p.Q.Length]; var dk = new double[p.K.Length]; var dv = new double[p.V.Length];
        var dmask = new double[p.B * p.H * p.L * p.S];
        var raw = new double[p.S]; var s = new double[p.S]; var pr = new double[p.S]; var z = new double[p.S];
        for (int b = 0; b < p.B; b++)
            for (int h = 0; h < p.H; h++)
            {
                int hk = h / g;
                for (int i = 0; i < p.L; i++)
                {
                    long row = ((long)b * p.H + h) * p.L + i;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < p.S; j++)
                    {
                        double dot = 0;
                        for (int x = 0; x < p.E; x++) dot += p.Q[row * p.E + x] * p.K[(((long)b * p.Hkv + hk) * p.S + j) * p.E + x];
                        double v = raw[j] = dot * scale;
                        if (p.Softcap > 0) v = p.Softcap * Math.Tanh(v / p.Softcap);
                        if (p.Alibi is not null) v -= p.Alibi[h] * Math.Abs(i + off - j);
                        long mi = row * p.S + j;
                        if (p.AddMask is not null) v += p.AddMask[mi];
                        if (p.BoolMask is not null && !p.BoolMask[mi]) v = double.NegativeInfinity;
                        if (p.Causal && j > i + off) v = double.NegativeInfinity;
                        if (p.WindowLeft is int wl && j < i + off - wl) v = double.NegativeInfinity;
                        if (p.WindowRight is int wr && j > i + off + wr) v = double.NegativeInfinity;
                        s[j] = v; max = Math.Max(max, v);
                    }
                    if (double.IsNegativeInfinity(max)) { lse[row] = double.NegativeInfinity; continue; }   // O = 0, grads 0
                    double sum = 0;
                    for (int j = 0; j < p.S; j++) sum += Math.Exp(s[j] - max);
                    lse[row] = max + Math.Log(sum);
                    for (int j = 0; j < p.S; j++)
                    {
                        pr[j] = Math.Exp(s[j] - lse[row]);
                        P[row * p.S + j] = pr[j];
                        z[j] = p.DropP > 0 ? p.DropScale!(b, h, i, j) : 1.0;
                        for (int x = 0; x < p.Ev; x++) o[row * p.Ev + x] += pr[j] * z[j] * p.V[(((long)b * p.Hkv + hk) * p.S + j) * p.Ev + x];
                    }
                    if (gO is null) continue;
                    // Backward of this row: dP̃_j = gO·V_j, dP_j = dP̃_j·z_j, dS_j = P_j (dP_j − Σ_k P_k dP_k).
                    var dP = new double[p.S];
                    double dot2 = 0;
                    for (int j = 0; j < p.S; j++)
                    {
                        double t = 0;
                        for (int x = 0; x < p.Ev; x++)
                        {
                            long vi = (((long)b * p.Hkv + hk) * p.S + j) * p.Ev + x;
                            t += gO[row * p.Ev + x] * p.V[vi];
                            dv[vi] += pr[j] * z[j] * gO[row * p.Ev + x];
                        }
                        dP[j] = t * z[j];
                        dot2 += pr[j] * dP[j];
                    }
                    for (int j = 0; j < p.S; j++)
                    {
                        double ds = pr[j] * (dP[j] - dot2);
                        dmask[row * p.S + j] = ds;
                        if (p.Softcap > 0) { double t = Math.Tanh(raw[j] / p.Softcap); ds *= 1 - t * t; }
                        for (int x = 0; x < p.E; x++)
                        {
                            long ki = (((long)b * p.Hkv + hk) * p.S + j) * p.E + x;
                            dq[row * p.E + x] += ds * scale * p.K[ki];
                            dk[ki] += ds * scale * p.Q[row * p.E + x];
                        }
                    }
                }
            }
        return new Result(o, lse, P, dq, dk, dv, dmask);
    }
}
