using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// The attention weights of chosen heads, recomputed from the forward's saved LSE with the forward's own tile code:
/// <c>P = exp(S − LSE)</c> — no second implementation, and nothing extra when no weights are asked for.
/// </summary>
internal static unsafe class AttentionWeights
{
    private const int QG = TileKernels.QG;

    /// <param name="pr">The problem as in the forward.</param>
    /// <param name="lse">[B, H, L] from the forward.</param>
    /// <param name="heads">Query heads to return.</param>
    /// <param name="w">Out: [B, heads.Length, L, S].</param>
    public static void Run(in AttentionProblem pr, float* lse, int[] heads, float* w)
    {
        var item = new Item { Pr = pr, Lse = lse, Heads = heads, W = w, Groups = (pr.L + QG - 1) / QG };
        Workers.For(pr.B * heads.Length * item.Groups, in item);
    }

    private struct Item : IWorkItem
    {
        public AttentionProblem Pr; public float* Lse, W; public int[] Heads; public int Groups;

        public void Invoke(int index)
        {
            const int Bc = FlashForward.Bc;
            int bn = index / Groups, i0 = index % Groups * QG;
            int b = bn / Heads.Length, n = bn % Heads.Length, h = Heads[n], hk = h / Pr.Group;
            int rows = Math.Min(QG, Pr.L - i0);
            float* qt = Scratch.Get(0, (long)QG * Pr.E);
            float* st = Scratch.Get(1, (long)Bc * QG);
            float* tmax = Scratch.Get(3, QG);
            TileKernels.PackQueries(qt, Pr.QRow(b, h, i0), Pr.QsL, rows, Pr.E, Pr.Scale);
            float* wOut = W + (((long)b * Heads.Length + n) * Pr.L + i0) * Pr.S;
            for (int j0 = 0; j0 < Pr.S; j0 += Bc)
            {
                int cols = Math.Min(Bc, Pr.S - j0);
                TileKernels.Scores(qt, Pr.E, Pr.KRow(b, hk, j0), Pr.KsS, cols, st, tmax);
                Pr.ApplyMods(st, 1, QG, rows, b, h, i0, j0, cols, null);
                for (int r = 0; r < rows; r++)
                {
                    float l = Lse[((long)b * Pr.H + h) * Pr.L + i0 + r];
                    float* dst = wOut + (long)r * Pr.S + j0;
                    for (int c = 0; c < cols; c++)
                        dst[c] = float.IsNegativeInfinity(l) ? 0f : FastExp.Exp(st[c * QG + r] - l);
                }
            }
        }
    }
}
