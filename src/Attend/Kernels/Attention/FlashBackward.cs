using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// FlashAttention-2 backward: recomputes P from Q, K and the forward's row statistics instead of storing it. For each
/// query tile i and each key tile j (key tiles owned by one work item, so dK_j, dV_j need no locks):
/// <code>
/// D   = rowsum(dO ∘ O)                              (once per row, before the loop)
/// P   = the forward's P, recomputed by <see cref="Probabilities"/>;   P̃ = P ∘ Z  (dropout keep-scales, regenerated)
/// dV_j += P̃ᵀ dO_i;   dP = (dO_i V_jᵀ) ∘ Z;   dS = P ∘ (dP − D_i)   [· (1 − tanh²) under softcap]
/// dQ_i += scale · dS K_j;   dK_j += scale · dSᵀ Q_i
/// </code>
/// The tiles are kept transposed (keys × queries), and all five products run in <see cref="TileProducts"/>.
/// Work items are (batch, kv head, chunk of key tiles); the query heads sharing a kv head (GQA) run in the same item.
/// When a kv head's keys are split over several items, each accumulates its dQ privately and the parts are summed.
/// <para>Accuracy: P is the forward's own (not <c>exp(S − LSE)</c>, which at scores in the hundreds is off by ~1e-4
/// relative), and dP = dO·Vᵀ and D = dO·O are dot products in the same order (one FMA chain each), so where the
/// mathematics is exact the gradients are too: one visible key gives P = 1, O = V, D = dP, dS = 0, dQ = dK = 0.</para>
/// </summary>
internal static unsafe class FlashBackward
{
    public const int Bq = 128, Bk = 128;

    /// <summary>The floats of scratch <see cref="Run"/> needs: one D per query row, and one private dQ per extra chunk
    /// of key tiles when a kv head's keys are split over several work items.</summary>
    public static long ScratchFloats(in AttentionProblem pr)
    {
        int chunks = Chunks(pr);
        return (long)pr.B * pr.H * pr.L + (chunks > 1 ? chunks * ((long)pr.B * pr.H * pr.L * pr.E) : 0);
    }

    private static int Chunks(in AttentionProblem pr)
    {
        int tiles = (pr.S + Bk - 1) / Bk, heads = pr.B * pr.Hkv;
        return Math.Max(1, Math.Min(tiles, (2 * Workers.Count + heads - 1) / heads));
    }

    /// <param name="pr">The problem as in the forward.</param>
    /// <param name="o">Forward output, contiguous [B, H, L, Ev].</param>
    /// <param name="stats">The forward's row statistics (<see cref="FlashForward.Run"/>).</param>
    /// <param name="dO">Upstream gradient, contiguous [B, H, L, Ev].</param>
    /// <param name="dq">Out: [B, H, L, E], contiguous.</param>
    /// <param name="dk">Out: [B, Hkv, S, E], contiguous.</param>
    /// <param name="dv">Out: [B, Hkv, S, Ev], contiguous.</param>
    /// <param name="dMask">Out, optional: gradient of the additive mask, [B, H, L, S] (dS itself).</param>
    /// <param name="scratch">The caller's scratch, at least <see cref="ScratchFloats"/> floats (contents undefined).</param>
    public static void Run(in AttentionProblem pr, float* o, float* stats, float* dO, float* dq, float* dk, float* dv, float* dMask, float* scratch)
    {
        long rowsAll = (long)pr.B * pr.H * pr.L;
        float* d = scratch;                                            // D, one per query row, in dP's order
        Probabilities.ChainDots(dO, o, rowsAll, pr.Ev, d);

        int tiles = (pr.S + Bk - 1) / Bk;
        int heads = pr.B * pr.Hkv;
        int chunks = Chunks(pr);
        long dqCount = (long)pr.B * pr.H * pr.L * pr.E;
        new Span<float>(dk, checked((int)((long)pr.B * pr.Hkv * pr.S * pr.E))).Clear();
        new Span<float>(dv, checked((int)((long)pr.B * pr.Hkv * pr.S * pr.Ev))).Clear();
        if (dMask != null) new Span<float>(dMask, checked((int)((long)pr.B * pr.H * pr.L * pr.S))).Clear();

        float* parts = chunks > 1 ? scratch + rowsAll : null;          // chunks private dQ, summed at the end
        if (parts is null) new Span<float>(dq, (int)dqCount).Clear();
        else new Span<float>(parts, checked((int)(chunks * dqCount))).Clear();
        var item = new Item
        {
            Pr = pr, Stats = stats, D = d, DO = dO, DQ = dq, DQParts = parts, DK = dk, DV = dv, DMask = dMask,
            Chunks = chunks, TilesPerChunk = (tiles + chunks - 1) / chunks,
        };
        Workers.For(heads * chunks, in item);
        if (parts is not null)
        {
            var sum = new Span<float>(dq, (int)dqCount);
            new ReadOnlySpan<float>(parts, (int)dqCount).CopyTo(sum);
            for (int c = 1; c < chunks; c++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(parts + c * dqCount, (int)dqCount), sum);
        }
    }

    private struct Item : IWorkItem
    {
        public AttentionProblem Pr; public float* Stats, D, DO, DQ, DQParts, DK, DV, DMask; public int Chunks, TilesPerChunk;

        public void Invoke(int index)
        {
            int head = index / Chunks, chunk = index % Chunks;
            int b = head / Pr.Hkv, hk = head % Pr.Hkv;
            int js = chunk * TilesPerChunk * Bk, je = Math.Min(Pr.S, (chunk + 1) * TilesPerChunk * Bk);
            float* dq = DQParts == null ? DQ : DQParts + chunk * ((long)Pr.B * Pr.H * Pr.L * Pr.E);
            for (int h = hk * Pr.Group; h < (hk + 1) * Pr.Group; h++)
                for (int i0 = 0; i0 < Pr.L; i0 += Bq)
                    QueryTile(Pr, b, h, hk, i0, Math.Min(Bq, Pr.L - i0), js, je, Stats, D, DO, dq, DK, DV, DMask);
        }
    }

    /// <summary>
    /// Query tile i0 against the item's key tiles js … je: its queries (scaled by scale·log₂e, as the forward packs
    /// them) and its rows of dO are transposed once, [E × Bq] and [Ev × Bq], for every key tile. A key tile the band
    /// cuts through (a diagonal tile) goes in strips of 64 queries, each trimmed to the keys its rows may see.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QueryTile(in AttentionProblem pr, int b, int h, int hk, int i0, int mq, int js, int je,
        float* stats, float* dRow, float* dO, float* dq, float* dk, float* dv, float* dMask)
    {
        if (pr.Band(i0 + mq - 1).hi < js || pr.Band(i0).lo >= je) return;        // sees none of these keys
        float* qp = Scratch.Get(4, (long)Bq * pr.E), op = Scratch.Get(5, (long)Bq * pr.Ev);   // [E × Bq], [Ev × Bq]
        long rowBase = ((long)b * pr.H + h) * pr.L;
        TileKernels.TransposeScaled(pr.QRow(b, h, i0), pr.QsL, mq, pr.E, pr.Scale * FastExp.Log2E, qp, Bq);   // as the forward packs them
        TileKernels.TransposeScaled(dO + (rowBase + i0) * pr.Ev, pr.Ev, mq, pr.Ev, 1f, op, Bq);
        int pad = ((mq + 15) & ~15) - mq;                  // zero columns up to a multiple of 16: the products run whole vectors
        if (pad > 0)
        {
            for (int x = 0; x < pr.E; x++) new Span<float>(qp + x * Bq + mq, pad).Clear();
            for (int x = 0; x < pr.Ev; x++) new Span<float>(op + x * Bq + mq, pad).Clear();
        }
        for (int j0 = js; j0 < je; j0 += Bk)
        {
            int n = Math.Min(Bk, je - j0);
            bool cut = pr.Band(i0 + mq - 1).lo > j0 || pr.Band(i0).hi < j0 + n - 1;
            int step = cut ? 64 : mq;                                              // 64: whole zmm rows in the products
            for (int a = 0; a < mq; a += step)
            {
                int rows = Math.Min(step, mq - a);
                int k0 = Math.Max(j0, pr.Band(i0 + a).lo), k1 = Math.Min(j0 + n - 1, pr.Band(i0 + a + rows - 1).hi);
                if (k1 < k0) continue;
                Pair(pr, b, h, hk, i0 + a, rows, k0, k1 - k0 + 1, qp + a, op + a, stats, dRow, dO, dq, dk, dv, dMask);
            }
        }
    }

    /// <summary>Row stride of the transposed tiles: a query tile's rows rounded up to 16 floats.</summary>
    private const int LdMax = (Bq + 15) & ~15;

    /// <summary>
    /// Pᵀ (the forward's P) and dPᵀ = (dO_i·V_jᵀ)ᵀ of a pair, transposed — <c>pt[c·ld + i]</c>, keys × queries, all ld
    /// columns (those past mq are 0: qp and op are zero there) — with
    /// the products kernel on the transposed queries and dO (qp, op: row stride Bq): each score and each dP is one FMA
    /// chain from 0 in e order, the forward's score kernel's order (so Pᵀ is the forward's P, <see cref="Probabilities"/>)
    /// and D's (so D = dP where O = V). tanh(S/c)ᵀ under softcap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Recompute(in AttentionProblem pr, int b, int h, int hk, int i0, int mq, int j0, int n, int ld,
        float* qp, float* op, float* stats, float* pt, float* dpt, float* tht)
    {
        TileProducts.AccumulateRows(pr.KRow(b, hk, j0), pr.KsS, 1, n, pr.E, qp, Bq, ld, pt, ld, add: false);     // sᵀ, log₂ units
        Probabilities.FromScores(pr, b, h, i0, mq, j0, n, stats, pt, ld, tht);
        TileProducts.AccumulateRows(pr.VRow(b, hk, j0), pr.VsS, 1, n, pr.Ev, op, Bq, ld, dpt, ld, add: false);   // dPᵀ
    }

    /// <summary>One (query tile, key tile) pair on transposed tiles (keys × queries): Pᵀ and dPᵀ recomputed, dSᵀ
    /// elementwise, and the three products.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pair(in AttentionProblem pr, int b, int h, int hk, int i0, int mq, int j0, int n, float* qp, float* op,
        float* stats, float* dRow, float* dO, float* dq, float* dk, float* dv, float* dMask)
    {
        int e = pr.E, ev = pr.Ev;
        int ld = (mq + 15) & ~15;
        float* pt = Scratch.Get(0, (long)Bk * LdMax);                              // Pᵀ
        float* dst = Scratch.Get(1, (long)Bk * LdMax);                             // dPᵀ, then dSᵀ
        float* tht = pr.Softcap > 0 ? Scratch.Get(2, (long)Bk * LdMax) : null;     // tanh(s/c)ᵀ under softcap
        float* pdt = pr.DropP > 0 ? Scratch.Get(3, (long)Bk * LdMax) : null;       // (P ∘ Z)ᵀ under dropout
        long rowBase = ((long)b * pr.H + h) * pr.L;
        float* kj = pr.KRow(b, hk, j0);
        float* dkj = dk + (((long)b * pr.Hkv + hk) * pr.S + j0) * e;
        float* dvj = dv + (((long)b * pr.Hkv + hk) * pr.S + j0) * ev;
        float* qi = pr.QRow(b, h, i0);
        float* dOi = dO + (rowBase + i0) * ev;
        var d = new ReadOnlySpan<float>(dRow + rowBase + i0, mq);

        Recompute(pr, b, h, hk, i0, mq, j0, n, ld, qp, op, stats, pt, dst, tht);
        float* pv = pt;
        if (pdt != null)
        {
            for (int c = 0; c < n; c++)
                for (int r = 0; r < mq; r++) pdt[c * ld + r] = pt[c * ld + r] * pr.DropScale(b, h, i0 + r, j0 + c);
            pv = pdt;
        }

        // dV_j += P̃ᵀ dO_i.
        TileProducts.AccumulateRows(pv, ld, 1, n, mq, dOi, ev, ev, dvj, ev);

        // dSᵀ = Pᵀ ∘ (dPᵀ∘Z − D), then through the softcap (dMask is dS before that), then × scale for both products;
        // whole vectors over the ld columns (past mq: P = dP = D = 0, so dS = 0).
        float* dPad = stackalloc float[LdMax];
        d.CopyTo(new Span<float>(dPad, mq));
        new Span<float>(dPad + mq, ld - mq).Clear();
        var scale = Vector256.Create(pr.Scale);
        for (int c = 0; c < n; c++)
        {
            float* row = dst + (long)c * ld, p = pt + (long)c * ld;
            if (pdt != null)
                for (int r = 0; r < mq; r++) row[r] *= pr.DropScale(b, h, i0 + r, j0 + c);
            if (dMask == null && tht == null)
                for (int r = 0; r < ld; r += 8) ((Vector256.Load(row + r) - Vector256.Load(dPad + r)) * Vector256.Load(p + r) * scale).Store(row + r);
            else
                for (int r = 0; r < mq; r++)
                {
                    float ds = (row[r] - dPad[r]) * p[r];
                    if (dMask != null) dMask[(rowBase + i0 + r) * pr.S + j0 + c] = ds;
                    if (tht != null) { float t = tht[c * ld + r]; ds *= 1f - t * t; }
                    row[r] = ds * pr.Scale;
                }
        }

        // dQ_i += (scale·dS) K_j;  dK_j += (scale·dS)ᵀ Q_i.
        TileProducts.AccumulateRows(dst, 1, ld, mq, n, kj, pr.KsS, e, dq + (rowBase + i0) * e, e);
        TileProducts.AccumulateRows(dst, ld, 1, n, mq, qi, pr.QsL, e, dkj, e);
    }
}
