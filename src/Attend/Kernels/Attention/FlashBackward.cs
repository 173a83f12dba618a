using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Attend.Kernels.Gemm;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// FlashAttention-2 backward: recomputes P from Q, K and the saved LSE instead of storing it. For each key tile j
/// (owned by one work item, so dK_j, dV_j need no locks) and each query tile i:
/// <code>
/// D   = rowsum(dO ∘ O)                              (once per row, before the loop)
/// P   = exp(S_ij − LSE_i),  S_ij = (scale·Q_i)K_jᵀ + mods;   P̃ = P ∘ Z  (dropout keep-scales, regenerated)
/// dV_j += P̃ᵀ dO_i;   dP = (dO_i V_jᵀ) ∘ Z;   dS = P ∘ (dP − D_i)   [· (1 − tanh²) under softcap]
/// dQ_i += scale · dS K_j;   dK_j += scale · dSᵀ Q_i
/// </code>
/// Work items are (batch, kv head, chunk of key tiles); the query heads sharing a kv head (GQA) run in the same item.
/// When a kv head's keys are split over several items, each accumulates its dQ privately and the parts are summed.
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
    /// <param name="lse">Saved log-sum-exp [B, H, L].</param>
    /// <param name="dO">Upstream gradient, contiguous [B, H, L, Ev].</param>
    /// <param name="dq">Out: [B, H, L, E], contiguous.</param>
    /// <param name="dk">Out: [B, Hkv, S, E], contiguous.</param>
    /// <param name="dv">Out: [B, Hkv, S, Ev], contiguous.</param>
    /// <param name="dMask">Out, optional: gradient of the additive mask, [B, H, L, S] (dS itself).</param>
    /// <param name="scratch">The caller's scratch, at least <see cref="ScratchFloats"/> floats (contents undefined).</param>
    public static void Run(in AttentionProblem pr, float* o, float* lse, float* dO, float* dq, float* dk, float* dv, float* dMask, float* scratch)
    {
        long rowsAll = (long)pr.B * pr.H * pr.L;
        float* d = scratch;                                            // D, one per query row
        for (long r = 0; r < rowsAll; r++)
            d[r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(dO + r * pr.Ev, pr.Ev), new ReadOnlySpan<float>(o + r * pr.Ev, pr.Ev));

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
            Pr = pr, Lse = lse, D = d, DO = dO, DQ = dq, DQParts = parts, DK = dk, DV = dv, DMask = dMask,
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
        public AttentionProblem Pr; public float* Lse, D, DO, DQ, DQParts, DK, DV, DMask; public int Chunks, TilesPerChunk;

        public void Invoke(int index)
        {
            int head = index / Chunks, chunk = index % Chunks;
            int b = head / Pr.Hkv, hk = head % Pr.Hkv;
            int js = chunk * TilesPerChunk * Bk, je = Math.Min(Pr.S, (chunk + 1) * TilesPerChunk * Bk);
            float* dq = DQParts == null ? DQ : DQParts + chunk * ((long)Pr.B * Pr.H * Pr.L * Pr.E);
            for (int h = hk * Pr.Group; h < (hk + 1) * Pr.Group; h++)
                for (int j0 = js; j0 < je; j0 += Bk)
                    KeyTile(Pr, b, h, hk, j0, Math.Min(Bk, je - j0), Lse, D, DO, dq, DK, DV, DMask);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KeyTile(in AttentionProblem pr, int b, int h, int hk, int j0, int n,
        float* lse, float* dRow, float* dO, float* dq, float* dk, float* dv, float* dMask)
    {
        // Kᵀ and Vᵀ of this tile, once: the two products with them (S = Q·Kᵀ, dP = dO·Vᵀ) then run as plain GEMMs.
        float* kt = Scratch.Get(4, (long)pr.E * Bk), vt = Scratch.Get(5, (long)pr.Ev * Bk);
        Transpose(pr.KRow(b, hk, j0), pr.KsS, n, pr.E, kt);
        Transpose(pr.VRow(b, hk, j0), pr.VsS, n, pr.Ev, vt);
        for (int i0 = 0; i0 < pr.L; i0 += Bq)
        {
            int mq = Math.Min(Bq, pr.L - i0);
            // A query tile the band cuts through (a diagonal tile) goes in quarter-height strips, each trimmed to the
            // keys its rows may see, so the masked part is mostly not computed; other tiles go whole.
            bool cut = pr.Band(i0 + mq - 1).lo > j0 || pr.Band(i0).hi < j0 + n - 1;
            int step = cut ? Bq / 4 : Bq;
            for (int a = i0; a < i0 + mq; a += step)
            {
                int rows = Math.Min(step, i0 + mq - a);
                int k0 = Math.Max(j0, pr.Band(a).lo), k1 = Math.Min(j0 + n - 1, pr.Band(a + rows - 1).hi);
                if (k1 < k0) continue;
                Pair(pr, b, h, hk, a, rows, k0, k1 - k0 + 1, kt + (k0 - j0), vt + (k0 - j0), n, lse, dRow, dO, dq, dk, dv, dMask);
            }
        }
    }

    /// <summary><c>dst[c][r] = src[r][c]</c> for r &lt; rows (source row stride rs), c &lt; cols; dst rows are <paramref name="rows"/> long.</summary>
    private static void Transpose(float* src, long rs, int rows, int cols, float* dst)
    {
        for (int r = 0; r < rows; r++)
        {
            float* s = src + r * rs;
            for (int c = 0; c < cols; c++) dst[(long)c * rows + r] = s[c];
        }
    }

    /// <summary>One (query tile, key tile) pair: the five products and the elementwise steps between them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pair(in AttentionProblem pr, int b, int h, int hk, int i0, int mq, int j0, int n,
        float* kt, float* vt, int ldt, float* lse, float* dRow, float* dO, float* dq, float* dk, float* dv, float* dMask)
    {
        int e = pr.E, ev = pr.Ev;
        float* s = Scratch.Get(0, (long)Bq * Bk);      // scores, then P
        float* dp = Scratch.Get(1, (long)Bq * Bk);     // dP, then dS
        float* th = pr.Softcap > 0 ? Scratch.Get(2, (long)Bq * Bk) : null;   // tanh(s/c) under softcap
        float* pd = pr.DropP > 0 ? Scratch.Get(3, (long)Bq * Bk) : null;     // P ∘ Z under dropout
        long rowBase = ((long)b * pr.H + h) * pr.L;
        float* kj = pr.KRow(b, hk, j0);
        float* dkj = dk + (((long)b * pr.Hkv + hk) * pr.S + j0) * e;
        float* dvj = dv + (((long)b * pr.Hkv + hk) * pr.S + j0) * ev;
        float* qi = pr.QRow(b, h, i0);
        float* dOi = dO + (rowBase + i0) * ev;

        // S = scale·Q_i K_jᵀ (+ mods); P = exp(S − LSE).
        Sgemm.Run(false, false, mq, n, e, pr.Scale, qi, (int)pr.QsL, kt, ldt, 0f, s, n);
        bool inside = j0 >= pr.Band(i0 + mq - 1).lo && j0 + n - 1 <= pr.Band(i0).hi;
        if (pr.HasMods || !inside) pr.ApplyMods(s, n, 1, mq, b, h, i0, j0, n, th);
        for (int r = 0; r < mq; r++)
        {
            float l = lse[rowBase + i0 + r];
            float* row = s + r * n;
            if (float.IsNegativeInfinity(l)) new Span<float>(row, n).Clear();
            else FlashForward.ExpShifted(row, n, l);
        }
        float* pv = s;
        if (pd != null)
        {
            for (int r = 0; r < mq; r++)
                for (int c = 0; c < n; c++) pd[r * n + c] = s[r * n + c] * pr.DropScale(b, h, i0 + r, j0 + c);
            pv = pd;
        }

        // dV_j += P̃ᵀ dO_i;  dP = dO_i V_jᵀ.
        Sgemm.Run(true, false, n, ev, mq, 1f, pv, n, dOi, ev, 1f, dvj, ev);
        Sgemm.Run(false, false, mq, n, ev, 1f, dOi, ev, vt, ldt, 0f, dp, n);

        // dS = P ∘ (dP∘Z − D), then through the softcap; dMask is dS before the softcap factor.
        for (int r = 0; r < mq; r++)
        {
            float dr = dRow[rowBase + i0 + r];
            float* pRow = s + r * n, dpRow = dp + r * n;
            var dpSpan = new Span<float>(dpRow, n);
            if (pd != null)
                for (int c = 0; c < n; c++) dpRow[c] *= pr.DropScale(b, h, i0 + r, j0 + c);
            TensorPrimitives.Subtract(dpSpan, dr, dpSpan);
            TensorPrimitives.Multiply(dpSpan, new ReadOnlySpan<float>(pRow, n), dpSpan);
            if (dMask != null)
                new ReadOnlySpan<float>(dpRow, n).CopyTo(new Span<float>(dMask + (rowBase + i0 + r) * pr.S + j0, n));
            if (th != null)
                for (int c = 0; c < n; c++) { float t = th[r * n + c]; dpRow[c] *= 1f - t * t; }
        }

        // dQ_i += scale·dS K_j;  dK_j += scale·dSᵀ Q_i.
        Sgemm.Run(false, false, mq, e, n, pr.Scale, dp, n, kj, (int)pr.KsS, 1f, dq + (rowBase + i0) * e, e);
        Sgemm.Run(true, false, n, e, mq, pr.Scale, dp, n, qi, (int)pr.QsL, 1f, dkj, e);
    }
}
