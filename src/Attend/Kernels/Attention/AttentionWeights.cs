using System.Numerics.Tensors;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// The attention weights of chosen heads, recomputed from the forward's saved LSE with the forward's own tile code:
/// <c>P = exp(S − LSE)</c> — no second implementation, and nothing extra when no weights are asked for.
/// </summary>
internal static unsafe class AttentionWeights
{
    /// <param name="pr">The problem as in the forward.</param>
    /// <param name="lse">[B, H, L] from the forward.</param>
    /// <param name="heads">Query heads to return.</param>
    /// <param name="w">Out: [B, heads.Length, L, S].</param>
    public static void Run(in AttentionProblem pr, float* lse, int[] heads, float* w)
    {
        var item = new Item { Pr = pr, Lse = lse, Heads = heads, W = w, Blocks = (pr.L + TileKernels.MR - 1) / TileKernels.MR };
        Workers.For(pr.B * heads.Length * item.Blocks, in item);
    }

    private struct Item : IWorkItem
    {
        public AttentionProblem Pr; public float* Lse, W; public int[] Heads; public int Blocks;

        public void Invoke(int index)
        {
            const int MR = TileKernels.MR, Bc = FlashForward.Bc;
            int bn = index / Blocks, i0 = index % Blocks * MR;
            int b = bn / Heads.Length, n = bn % Heads.Length, h = Heads[n], hk = h / Pr.Group;
            int rows = Math.Min(MR, Pr.L - i0), e = Pr.E;
            float* qs = Scratch.Get(0, (long)MR * e);
            float* kp = Scratch.Get(1, (long)Bc * e);
            float* s = Scratch.Get(2, (long)MR * Bc);
            for (int r = 0; r < MR; r++)
            {
                var dst = new Span<float>(qs + (long)r * e, e);
                if (r < rows) TensorPrimitives.Multiply(new ReadOnlySpan<float>(Pr.QRow(b, h, i0 + r), e), Pr.Scale, dst);
                else dst.Clear();
            }
            float* wOut = W + (((long)b * Heads.Length + n) * Pr.L + i0) * Pr.S;
            for (int j0 = 0; j0 < Pr.S; j0 += Bc)
            {
                int cols = Math.Min(Bc, Pr.S - j0);
                TileKernels.PackKeys(kp, Pr.KRow(b, hk, j0), Pr.KsS, cols, e);
                TileKernels.Scores(qs, e, kp, 0, (cols + TileKernels.NR - 1) / TileKernels.NR, s, Bc);
                Pr.ApplyMods(s, Bc, rows, b, h, i0, j0, cols, null);
                for (int r = 0; r < rows; r++)
                {
                    float l = Lse[((long)b * Pr.H + h) * Pr.L + i0 + r];
                    float* row = s + r * Bc;
                    if (float.IsNegativeInfinity(l)) new Span<float>(row, cols).Clear();
                    else FlashForward.ExpShifted(row, cols, l);
                    new ReadOnlySpan<float>(row, cols).CopyTo(new Span<float>(wOut + (long)r * Pr.S + j0, cols));
                }
            }
        }
    }
}
