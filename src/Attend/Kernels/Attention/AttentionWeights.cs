using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// The attention weights of chosen heads, recomputed from the forward's saved row statistics with the forward's own
/// tile code (<see cref="Probabilities"/>: the forward's P, not an approximation of it) — no second implementation,
/// and nothing extra when no weights are asked for.
/// </summary>
internal static unsafe class AttentionWeights
{
    /// <param name="pr">The problem as in the forward.</param>
    /// <param name="stats">The forward's row statistics (<see cref="FlashForward.Run"/>).</param>
    /// <param name="heads">Query heads to return.</param>
    /// <param name="w">Out: [B, heads.Length, L, S], or [B, heads.Length, R, S] with <paramref name="queryRows"/>.</param>
    /// <param name="queryRows">Only these R query rows (each in [0, L)), one at a time: memory O(R·S), never L·S; null: all.</param>
    public static void Run(in AttentionProblem pr, float* stats, int[] heads, float* w, int[]? queryRows = null)
    {
        var (qg, ld) = FlashForward.GroupShape;                             // the forward's groups and score kernel
        var item = new Item { Pr = pr, Stats = stats, Heads = heads, W = w, Groups = (pr.L + qg - 1) / qg, Qg = qg, Ld = ld, QueryRows = queryRows };
        if (queryRows is not null) item.Groups = queryRows.Length;
        Workers.For(pr.B * heads.Length * item.Groups, in item);
    }

    private struct Item : IWorkItem
    {
        public AttentionProblem Pr; public float* Stats, W; public int[] Heads; public int Groups, Qg, Ld;
        public int[]? QueryRows;

        public void Invoke(int index)
        {
            const int Bc = FlashForward.Bc;
            int bn = index / Groups, g = index % Groups;
            int b = bn / Heads.Length, n = bn % Heads.Length, h = Heads[n];
            // a group of Qg rows, or (queryRows) the one row g asked for, written as row g of the output
            int i0 = QueryRows is null ? g * Qg : QueryRows[g], rows = QueryRows is null ? Math.Min(Qg, Pr.L - i0) : 1;
            int outRow = QueryRows is null ? i0 : g, outRows = QueryRows is null ? Pr.L : Groups;
            float* qt = Scratch.Get(0, (long)Ld * Pr.E);
            float* pt = Scratch.Get(1, (long)Bc * Ld);
            TileKernels.PackQueries(qt, Pr.QRow(b, h, i0), Pr.QsL, rows, Pr.E, Pr.Scale * FastExp.Log2E, Ld);
            float* wOut = W + (((long)b * Heads.Length + n) * outRows + outRow) * Pr.S;
            for (int j0 = 0; j0 < Pr.S; j0 += Bc)
            {
                int cols = Math.Min(Bc, Pr.S - j0);
                Probabilities.Tile(Pr, b, h, i0, rows, j0, cols, qt, Stats, pt, Ld, null);
                for (int r = 0; r < rows; r++)
                {
                    float* dst = wOut + (long)r * Pr.S + j0;
                    for (int c = 0; c < cols; c++) dst[c] = pt[c * Ld + r];
                }
            }
        }
    }
}
