using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// FlashAttention-2 forward on the CPU. For each group of queries (30 in two zmm on full-width AVX-512 hosts, else 24
/// in three ymm) and each tile of Bc keys, never forming the L×S matrix:
/// <code>
/// S  = (scale·Q_i)·K_jᵀ  (+ softcap / ALiBi / mask / band; keys outside the group's band are never visited)
/// m' = max(m, rowmax S);   P = exp(S − m');   l = exp(m − m')·l + rowsum P
/// O_i = exp(m − m')·O_i + P·V_j;   m = m'
/// end:  O_i /= l;   LSE_i = m + log l      (l = 0, a fully masked row: O = 0, LSE = −∞)
/// </code>
/// Besides the LSE it keeps each row's final m (log₂ units) and 1/l, from which <see cref="Probabilities"/> recomputes
/// exactly this forward's P for the backward and for the weights.
/// The score tile is kept transposed (keys × queries), so max, exp and sums run along vectors of queries and the
/// row max falls out of the score kernel. Scores are carried in log₂ units (log₂e folded into the query scale), so
/// that P = 2^(S − m') needs no multiply and no ln2 reduction; the modifiers see natural units.
/// Work is split over (batch, head, block of query rows).
/// Memory beyond Q, K, V, O, LSE: per-thread tiles.
/// </summary>
internal static unsafe class FlashForward
{
    public const int Bc = 256;   // keys per tile
    private const int QG = TileKernels.QG;

    /// <summary>True where the host runs 512-bit vectors at full width (<see cref="Gemm.HostWidth"/> chose them for the
    /// GEMM): a query group is then 30 queries in two zmm, and P·V runs 12 rows a pass in zmm.</summary>
    internal static bool Wide => Gemm.Sgemm.Path == Gemm.GemmPath.Vector512;

    /// <summary>Queries per group and the tile's row stride (floats between one key's scores and the next's).</summary>
    internal static (int Rows, int Ld) GroupShape => Wide ? (TileKernels.QG512, TileKernels.Ld512) : (QG, QG);

    /// <param name="pr">The problem.</param>
    /// <param name="o">Out: [B, H, L, Ev], contiguous.</param>
    /// <param name="lse">Out: [B, H, L], natural units.</param>
    /// <param name="stats">Out: 2·B·H·L floats, the rows' m then their 1/l (<see cref="Probabilities"/>).</param>
    public static void Run(in AttentionProblem pr, float* o, float* lse, float* stats)
    {
        var (qg, ld) = GroupShape;
        int blockRows = ChooseBlockRows(pr.B * pr.H, pr.L, qg);
        int blocks = (pr.L + blockRows - 1) / blockRows;
        var item = new Item { Pr = pr, O = o, Lse = lse, Stats = stats, BlockRows = blockRows, Blocks = blocks, Qg = qg, Ld = ld };
        Workers.For(pr.B * pr.H * blocks, in item);
    }

    /// <summary>A multiple of qg rows per work item, up to 6 groups (all 128 queries of a BERT-length head in one item, so
    /// one thread reads its keys and values: +20% at [32, 12, 128, 32] over 4 groups of 24), giving every thread at least 4
    /// items where the shape allows.</summary>
    internal static int ChooseBlockRows(int heads, int l, int qg)
    {
        int rows = 6 * qg;
        while (rows > qg && (long)heads * ((l + rows - 1) / rows) < 4L * Workers.Count) rows -= qg;
        return rows;
    }

    private struct Item : IWorkItem
    {
        public AttentionProblem Pr; public float* O, Lse, Stats; public int BlockRows, Blocks, Qg, Ld;
        public void Invoke(int index)
        {
            int bh = index / Blocks, blk = index % Blocks;
            int end = Math.Min(Pr.L, (blk + 1) * BlockRows);
            for (int i0 = blk * BlockRows; i0 < end; i0 += Qg)
                Group(Pr, bh / Pr.H, bh % Pr.H, i0, Math.Min(Qg, end - i0), Qg, Ld, O, Lse, Stats);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group(in AttentionProblem pr, int b, int h, int i0, int rows, int qg, int ld, float* oOut, float* lseOut, float* stats)
    {
        int e = pr.E, ev = pr.Ev, hk = h / pr.Group;
        int ldo = (ev + 7) & ~7;
        float* qt = Scratch.Get(0, (long)ld * e);
        float* st = Scratch.Get(1, (long)Bc * ld);
        float* acc = Scratch.Get(2, (long)qg * ldo);
        float* stat = Scratch.Get(3, 4 * ld);               // m, l, tile max, scratch
        float* m = stat, l = stat + ld;

        TileKernels.PackQueries(qt, pr.QRow(b, h, i0), pr.QsL, rows, e, pr.Scale * FastExp.Log2E, ld);
        new Span<float>(acc, qg * ldo).Clear();
        new Span<float>(m, ld).Fill(float.NegativeInfinity);
        new Span<float>(l, ld).Clear();

        // Keys every row of the group may see need no masking; only the ragged edges of the band (at most qg − 1 keys
        // each side for causal) go through the modifier path — so causal costs about half of full.
        int keyLo = pr.Band(i0).lo, keyHi = pr.Band(i0 + rows - 1).hi;
        int fastLo = Math.Max(keyLo, pr.Band(i0 + rows - 1).lo), fastHi = Math.Min(keyHi, pr.Band(i0).hi);
        if (fastLo > fastHi) Segment(pr, b, h, hk, i0, rows, qg, ld, keyLo, keyHi, true, qt, st, acc, ldo, stat);
        else
        {
            Segment(pr, b, h, hk, i0, rows, qg, ld, keyLo, fastLo - 1, true, qt, st, acc, ldo, stat);
            Segment(pr, b, h, hk, i0, rows, qg, ld, fastLo, fastHi, pr.HasMods, qt, st, acc, ldo, stat);
            Segment(pr, b, h, hk, i0, rows, qg, ld, fastHi + 1, keyHi, true, qt, st, acc, ldo, stat);
        }

        for (int r = 0; r < rows; r++)
        {
            long row = ((long)b * pr.H + h) * pr.L + i0 + r;
            var dst = new Span<float>(oOut + row * ev, ev);
            long all = (long)pr.B * pr.H * pr.L;
            if (l[r] > 0)
            {
                float rl = 1f / l[r];
                Scale(acc + r * ldo, ev, rl, oOut + row * ev);
                lseOut[row] = m[r] * FastExp.Ln2 + MathF.Log(l[r]);
                (stats[row], stats[all + row]) = (m[r], rl);
            }
            else
            {
                dst.Clear();
                lseOut[row] = float.NegativeInfinity;
                (stats[row], stats[all + row]) = (0f, 0f);
            }
        }
    }

    /// <summary>Keys j0..j1 (inclusive) in tiles of Bc: scores, modifiers when <paramref name="mods"/>, online softmax, P·V.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Segment(in AttentionProblem pr, int b, int h, int hk, int i0, int rows, int qg, int ld, int j0, int j1, bool mods,
        float* qt, float* st, float* acc, int ldo, float* stat)
    {
        const int MR = TileKernels.MR;
        float* m = stat, l = stat + ld, tmax = stat + 2 * ld, alpha = stat + 3 * ld;
        for (; j0 <= j1; j0 += Bc)
        {
            int n = Math.Min(Bc, j1 + 1 - j0);
            Probabilities.Scores(qt, pr.E, pr.KRow(b, hk, j0), pr.KsS, n, st, tmax, ld);
            if (mods)
            {
                Probabilities.Modify(pr, b, h, i0, rows, j0, n, st, ld, null);   // in natural units when there are modifiers
                ColumnMax(st, n, tmax, ld);
            }
            if (ld == TileKernels.Ld512) OnlineSoftmax32(st, n, m, l, tmax, alpha, acc, ldo, pr.Ev, qg);
            else OnlineSoftmax(st, n, m, l, tmax, alpha, acc, ldo, pr.Ev);
            if (pr.DropP > 0)
                for (int c = 0; c < n; c++)
                    for (int r = 0; r < rows; r++) st[c * ld + r] *= pr.DropScale(b, h, i0 + r, j0 + c);
            float* v = pr.VRow(b, hk, j0);
            // O[r] += Σ_c P[c][r]·V[c] (rows past `rows` are padding, never read): 12 rows × 32 columns in zmm where V's
            // rows are 32 (not 64) wide on full-width hosts, else the products kernel (6 rows × 64 in zmm, × 32 in ymm).
            int r0 = 0;
            if (Wide && pr.Ev % 64 != 0 && pr.Ev % 32 == 0)
                for (; r0 + MR < rows; r0 += 2 * MR) TileKernels.AccumulatePV12(st + r0, ld, n, v, pr.VsS, pr.Ev, acc + r0 * ldo, ldo);
            if (r0 < rows) TileProducts.AccumulateRows(st + r0, 1, ld, (rows - r0 + MR - 1) / MR * MR, n, v, pr.VsS, pr.Ev, acc + r0 * ldo, ldo);
        }
    }

    /// <summary>tmax[q] = max over the n key rows of the transposed tile (after masks changed it), for the ld lanes.</summary>
    private static void ColumnMax(float* st, int n, float* tmax, int ld)
    {
        if (ld == TileKernels.Ld512)
        {
            var z0 = Vector512.Create(float.NegativeInfinity); var z1 = z0;
            for (int c = 0; c < n; c++) { z0 = Vector512.Max(z0, Vector512.Load(st + c * ld)); z1 = Vector512.Max(z1, Vector512.Load(st + c * ld + 16)); }
            z0.Store(tmax); z1.Store(tmax + 16);
            return;
        }
        var m0 = Vector256.Create(float.NegativeInfinity); var m1 = m0; var m2 = m0;
        for (int c = 0; c < n; c++)
        {
            float* s = st + c * QG;
            m0 = Vector256.Max(m0, Vector256.Load(s)); m1 = Vector256.Max(m1, Vector256.Load(s + 8)); m2 = Vector256.Max(m2, Vector256.Load(s + 16));
        }
        m0.Store(tmax); m1.Store(tmax + 8); m2.Store(tmax + 16);
    }

    /// <summary>
    /// The online-softmax step for 24 queries at once (log₂ units): m' = max(m, tile max); each query's accumulator and
    /// l are rescaled by 2^(m − m') when m' moved; P = 2^(S − m') replaces S in the tile; l += Σ P.
    /// A query whose keys are all masked so far keeps m = −∞ and gets P = 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OnlineSoftmax(float* st, int n, float* m, float* l, float* tmax, float* alpha, float* acc, int ldo, int ev)
    {
        var ninf = Vector256.Create(float.NegativeInfinity);
        Vector256<float> sh0, sh1, sh2;
        {
            var n0 = Vector256.Max(Vector256.Load(m), Vector256.Load(tmax));
            var n1 = Vector256.Max(Vector256.Load(m + 8), Vector256.Load(tmax + 8));
            var n2 = Vector256.Max(Vector256.Load(m + 16), Vector256.Load(tmax + 16));
            // Shift by m' (by 0 where m' = −∞, so that exp(−∞ − shift) = 0 instead of NaN).
            sh0 = Vector256.ConditionalSelect(Vector256.Equals(n0, ninf), Vector256<float>.Zero, n0);
            sh1 = Vector256.ConditionalSelect(Vector256.Equals(n1, ninf), Vector256<float>.Zero, n1);
            sh2 = Vector256.ConditionalSelect(Vector256.Equals(n2, ninf), Vector256<float>.Zero, n2);
            FastExp.Exp2(Vector256.Load(m) - sh0).Store(alpha);
            FastExp.Exp2(Vector256.Load(m + 8) - sh1).Store(alpha + 8);
            FastExp.Exp2(Vector256.Load(m + 16) - sh2).Store(alpha + 16);
            n0.Store(m); n1.Store(m + 8); n2.Store(m + 16);
        }
        Rescale(QG, m, l, alpha, acc, ldo, ev);
        Vector256<float> s0 = default, s1 = default, s2 = default;
        for (int c = 0; c < n; c++)
        {
            float* s = st + c * QG;
            var p0 = FastExp.Exp2(Vector256.Load(s) - sh0); p0.Store(s); s0 += p0;
            var p1 = FastExp.Exp2(Vector256.Load(s + 8) - sh1); p1.Store(s + 8); s1 += p1;
            var p2 = FastExp.Exp2(Vector256.Load(s + 16) - sh2); p2.Store(s + 16); s2 += p2;
        }
        (Vector256.Load(l) + s0).Store(l); (Vector256.Load(l + 8) + s1).Store(l + 8); (Vector256.Load(l + 16) + s2).Store(l + 16);
    }

    /// <summary><see cref="OnlineSoftmax"/> for the 32 lanes of a full-width host's group (30 queries, two of padding) in two
    /// zmm; the same operations lane by lane, so the same numbers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OnlineSoftmax32(float* st, int n, float* m, float* l, float* tmax, float* alpha, float* acc, int ldo, int ev, int qg)
    {
        const int ld = TileKernels.Ld512;
        var ninf = Vector512.Create(float.NegativeInfinity);
        Vector512<float> sh0, sh1;
        {
            var n0 = Vector512.Max(Vector512.Load(m), Vector512.Load(tmax));
            var n1 = Vector512.Max(Vector512.Load(m + 16), Vector512.Load(tmax + 16));
            sh0 = Vector512.ConditionalSelect(Vector512.Equals(n0, ninf), Vector512<float>.Zero, n0);
            sh1 = Vector512.ConditionalSelect(Vector512.Equals(n1, ninf), Vector512<float>.Zero, n1);
            FastExp.Exp2(Vector512.Load(m) - sh0).Store(alpha);
            FastExp.Exp2(Vector512.Load(m + 16) - sh1).Store(alpha + 16);
            n0.Store(m); n1.Store(m + 16);
        }
        Rescale(qg, m, l, alpha, acc, ldo, ev);
        Vector512<float> s0 = default, s1 = default;
        for (int c = 0; c < n; c++)
        {
            float* s = st + c * ld;
            var p0 = FastExp.Exp2(Vector512.Load(s) - sh0); p0.Store(s); s0 += p0;
            var p1 = FastExp.Exp2(Vector512.Load(s + 16) - sh1); p1.Store(s + 16); s1 += p1;
        }
        (Vector512.Load(l) + s0).Store(l); (Vector512.Load(l + 16) + s1).Store(l + 16);
    }

    /// <summary>Rescales the accumulator rows and l of the queries whose max moved (alpha ≠ 1) and that have something
    /// accumulated (l ≠ 0; otherwise the row is still 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rescale(int qg, float* m, float* l, float* alpha, float* acc, int ldo, int ev)
    {
        for (int q = 0; q < qg; q++)
            if (alpha[q] != 1f && l[q] != 0f)
            {
                l[q] *= alpha[q];
                Scale(acc + q * ldo, ev, alpha[q], acc + q * ldo);
            }
    }

    /// <summary>dst[c] = a·x[c] for c &lt; n (dst may be x): short rows of one head, inline rather than a library call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* x, int n, float a, float* dst)
    {
        var va = Vector256.Create(a);
        int c = 0;
        for (; c + 8 <= n; c += 8) (Vector256.Load(x + c) * va).Store(dst + c);
        for (; c < n; c++) dst[c] = a * x[c];
    }

    /// <summary>x[c] = exp(x[c] − shift) in place; returns the sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ExpShifted(float* x, int n, float shift)
    {
        var sh = Vector256.Create(shift);
        var sum = Vector256<float>.Zero;
        int c = 0;
        for (; c + 8 <= n; c += 8)
        {
            var v = FastExp.Exp(Vector256.Load(x + c) - sh);
            v.Store(x + c);
            sum += v;
        }
        float t = Vector256.Sum(sum);
        for (; c < n; c++) { x[c] = FastExp.Exp(x[c] - shift); t += x[c]; }
        return t;
    }
}
