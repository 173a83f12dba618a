using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Attention;

/// <summary>
/// The attention weights P recomputed after the forward — for the backward and for the weights users ask for — with
/// the forward's own arithmetic: the scores are the forward's bit for bit, and P differs from the P inside the
/// forward's output only by the online softmax's rescaling (~1e-7 relative):
/// <code>
/// s = Σ_e k[j][e]·(scale·log₂e·q[i][e])      the forward's score kernel: one fused multiply-add chain per score
/// s = log₂e·mods(ln2·s)                        only when the problem has modifiers (masks, ALiBi, softcap); the band is −∞
/// P = 2^(s − m_i) · r_i                        m_i the forward's final row max, r_i = 1 / l_i its row sum's reciprocal
/// </code>
/// Why not <c>exp(S − LSE)</c>: at large scores (|S| in the hundreds) the LSE and a score recomputed in another order
/// each round by a few units in the last place of |S| (~3e-5 at 400), which moves every P by ~1e-4 relative; the
/// backward's <c>dS = P ∘ (dP − D)</c> then cancels badly. Here the only rounding left is the score's own, as in any
/// fp32 softmax, and where the mathematics is exact the result is too: a row with one visible key gets P = 2⁰·1 = 1.
/// The row statistics are the forward's <c>stats</c>: m for every row [B·H·L], then r for every row; a row with no
/// visible key has m = 0, r = 0 (so P = 0).
/// </summary>
internal static unsafe class Probabilities
{
    private const int QG = TileKernels.QG;

    /// <summary>
    /// P of queries i0 … i0 + rows − 1 (a group of <see cref="FlashForward.GroupShape"/>, ld its stride) of head h against keys j0 … j0 + n − 1, transposed:
    /// <c>pt[c·ld + r]</c>, by the forward's score kernel on <paramref name="qt"/> (the queries packed by
    /// <see cref="TileKernels.PackQueries"/> with scale·log₂e), then <see cref="FromScores"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(in AttentionProblem pr, int b, int h, int i0, int rows, int j0, int n, float* qt, float* stats,
        float* pt, int ld, float* tanh)
    {
        float* colMax = stackalloc float[TileKernels.Ld512];
        Scores(qt, pr.E, pr.KRow(b, h / pr.Group, j0), pr.KsS, n, pt, colMax, ld);
        FromScores(pr, b, h, i0, rows, j0, n, stats, pt, ld, tanh);
    }

    /// <summary>
    /// P from a transposed tile of scores in log₂ units (<c>pt[c·ld + i]</c>, i &lt; rows, ld ≥ rows rounded up to 8;
    /// the columns from rows to that multiple of 8 are overwritten with 0 where their scores are finite), each score computed in
    /// the forward's order: one FMA chain from 0): the modifiers as the forward applies them (<see cref="Modify"/>), then
    /// <c>P = 2^(s − m_i)·r_i</c> along each key's row of queries; <paramref name="tanh"/> (same layout, may be null)
    /// receives tanh(S/softcap) for the backward.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FromScores(in AttentionProblem pr, int b, int h, int i0, int rows, int j0, int n, float* stats, float* pt, int ld, float* tanh)
    {
        Modify(pr, b, h, i0, rows, j0, n, pt, ld, tanh);
        long row = ((long)b * pr.H + h) * pr.L + i0, all = (long)pr.B * pr.H * pr.L;
        float* m = stats + row, r = stats + all + row;
        int full = rows & ~7;
        // The last rows % 8 queries as one more vector (ld ≥ rows rounded up to 8): m = r = 0 past the last row, so the
        // padding columns get P = 2^(s − 0)·0 = 0 where their scores are finite (the zero columns of packed queries).
        var mt = Vector256<float>.Zero; var rt = Vector256<float>.Zero;
        if (full < rows)
            for (int q = 0; q < rows - full; q++) (mt, rt) = (mt.WithElement(q, m[full + q]), rt.WithElement(q, r[full + q]));
        for (int c = 0; c < n; c++)
        {
            float* s = pt + (long)c * ld;
            for (int i = 0; i < full; i += 8)
                (FastExp.Exp2(Vector256.Load(s + i) - Vector256.Load(m + i)) * Vector256.Load(r + i)).Store(s + i);
            if (full < rows) (FastExp.Exp2(Vector256.Load(s + full) - mt) * rt).Store(s + full);
        }
    }

    /// <summary>The forward's score kernel for its group shape (every width gives the same numbers: one FMA chain per
    /// score), into <c>st[j·ld + q]</c>: 32 lanes in two zmm (<see cref="TileKernels.Scores32"/>) where ld is
    /// <see cref="TileKernels.Ld512"/> (full-width hosts), else 24 queries in three ymm.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scores(float* qt, int e, float* k0, long ks, int n, float* st, float* colMax, int ld = QG)
    {
        if (ld == TileKernels.Ld512)
        {
            new Span<float>(colMax, TileKernels.Ld512).Fill(float.NegativeInfinity);
            TileKernels.Scores32(qt, e, k0, ks, n, st, colMax);
            return;
        }
        new Span<float>(colMax, QG).Fill(float.NegativeInfinity);
        TileKernels.Scores(qt, e, k0, ks, n, st, colMax, ld);
    }

    /// <summary>The modifiers on a transposed tile of scores in log₂ units (<c>st[c·ld + r]</c>, r &lt; rows), exactly as
    /// the forward applies them: through natural units when the problem has any, the band alone (−∞, unit-free) otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Modify(in AttentionProblem pr, int b, int h, int i0, int rows, int j0, int n, float* st, int ld, float* tanh)
    {
        if (!pr.HasMods)
        {
            pr.ApplyMods(st, 1, ld, rows, b, h, i0, j0, n, null);
            return;
        }
        for (int c = 0; c < n; c++) ScaleRow(st + (long)c * ld, rows, FastExp.Ln2);
        pr.ApplyMods(st, 1, ld, rows, b, h, i0, j0, n, tanh);
        for (int c = 0; c < n; c++) ScaleRow(st + (long)c * ld, rows, FastExp.Log2E);
    }

    /// <summary>x·a on the first n floats of a row (vectors, then single floats: one rounding each either way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleRow(float* x, int n, float a)
    {
        var va = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * va).Store(x + i);
        for (; i < n; i++) x[i] *= a;
    }

    /// <summary><c>Σ_x a[x]·b[x]</c> as one fused multiply-add chain from 0 in x order — the order in which the score
    /// kernel computes each of its dot products, so that <c>D = dO·O</c> equals <c>dP = dO·V</c> bit for bit when O = V.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ChainDot(float* a, float* b, int n)
    {
        float acc = 0f;
        for (int x = 0; x < n; x++) acc = MathF.FusedMultiplyAdd(b[x], a[x], acc);
        return acc;
    }

    /// <summary><c>d[r] = ChainDot(a + r·n, b + r·n, n)</c> for r &lt; rows, four rows' chains interleaved so that the
    /// FMA latency overlaps (each row's chain is still one chain, in x order: the same numbers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChainDots(float* a, float* b, long rows, int n, float* d)
    {
        long r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            float* a0 = a + r * n, b0 = b + r * n;
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int x = 0; x < n; x++)
            {
                s0 = MathF.FusedMultiplyAdd(b0[x], a0[x], s0);
                s1 = MathF.FusedMultiplyAdd(b0[n + x], a0[n + x], s1);
                s2 = MathF.FusedMultiplyAdd(b0[2 * n + x], a0[2 * n + x], s2);
                s3 = MathF.FusedMultiplyAdd(b0[3 * n + x], a0[3 * n + x], s3);
            }
            (d[r], d[r + 1], d[r + 2], d[r + 3]) = (s0, s1, s2, s3);
        }
        for (; r < rows; r++) d[r] = ChainDot(a + r * n, b + r * n, n);
    }
}
