using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Attention;

/// <summary>
/// FlashAttention-2 forward on the CPU. For each block of query rows and each tile of Bc keys, never forming the L×S
/// matrix:
/// <code>
/// S  = (scale·Q_i)·K_jᵀ  (+ softcap / ALiBi / mask / band; tiles outside the band are skipped)
/// m' = max(m, rowmax S);   P = exp(S − m');   l = exp(m − m')·l + rowsum P
/// O_i = exp(m − m')·O_i + P·V_j;   m = m'
/// end:  O_i /= l;   LSE_i = m + log l      (l = 0, a fully masked row: O = 0, LSE = −∞)
/// </code>
/// Work is split over (batch, head, block of query rows); each block packs a key tile once and reuses it for all of
/// its 6-row micro-blocks. Memory beyond Q, K, V, O, LSE: per-thread tiles.
/// </summary>
internal static unsafe class FlashForward
{
    public const int Bc = 256;   // keys per tile

    public static void Run(in AttentionProblem pr, float* o, float* lse)
    {
        int blockRows = ChooseBlockRows(pr.B * pr.H, pr.L);
        int blocks = (pr.L + blockRows - 1) / blockRows;
        var item = new Item { Pr = pr, O = o, Lse = lse, BlockRows = blockRows, Blocks = blocks };
        Workers.For(pr.B * pr.H * blocks, in item);
    }

    /// <summary>A multiple of 6 rows, large enough to amortize key packing, small enough to give every thread ≥ 4 items.</summary>
    internal static int ChooseBlockRows(int heads, int l)
    {
        int rows = 96;
        while (rows > TileKernels.MR && (long)heads * ((l + rows - 1) / rows) < 4L * Workers.Count) rows -= TileKernels.MR;
        return rows;
    }

    private struct Item : IWorkItem
    {
        public AttentionProblem Pr; public float* O; public float* Lse; public int BlockRows, Blocks;
        public void Invoke(int index)
        {
            int bh = index / Blocks, blk = index % Blocks;
            Block(Pr, bh / Pr.H, bh % Pr.H, blk * BlockRows, Math.Min(Pr.L, (blk + 1) * BlockRows), O, Lse);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(in AttentionProblem pr, int b, int h, int ib, int ie, float* oOut, float* lseOut)
    {
        const int MR = TileKernels.MR;
        int e = pr.E, ev = pr.Ev, hk = h / pr.Group;
        int rowsPad = (ie - ib + MR - 1) / MR * MR;
        int ldo = (ev + 7) & ~7;
        float* qs = Scratch.Get(0, (long)rowsPad * e);
        float* kp = Scratch.Get(1, (long)Bc * e);
        float* s = Scratch.Get(2, (long)MR * Bc);
        float* acc = Scratch.Get(3, (long)rowsPad * ldo);
        float* m = Scratch.Get(4, rowsPad);
        float* l = Scratch.Get(5, rowsPad);

        // Q rows scaled once (the scale folds into Q); padding rows are zero.
        for (int r = 0; r < rowsPad; r++)
        {
            var dst = new Span<float>(qs + (long)r * e, e);
            if (ib + r < ie) TensorPrimitives.Multiply(new ReadOnlySpan<float>(pr.QRow(b, h, ib + r), e), pr.Scale, dst);
            else dst.Clear();
        }
        new Span<float>(acc, rowsPad * ldo).Clear();
        new Span<float>(m, rowsPad).Fill(float.NegativeInfinity);
        new Span<float>(l, rowsPad).Clear();

        int keyLo = pr.Band(ib).lo, keyHi = pr.Band(ie - 1).hi;
        for (int j0 = keyLo; j0 <= keyHi; j0 += Bc)
        {
            int n = Math.Min(Bc, keyHi + 1 - j0);
            TileKernels.PackKeys(kp, pr.KRow(b, hk, j0), pr.KsS, n, e);
            float* vTile = pr.VRow(b, hk, j0);
            for (int i0 = ib; i0 < ie; i0 += MR)
            {
                int rows = Math.Min(MR, ie - i0), r0 = i0 - ib;
                // Columns this micro-block needs: the union of its rows' bands, in whole 16-key panels.
                int lo = Math.Max(pr.Band(i0).lo, j0) - j0, hi = Math.Min(pr.Band(i0 + rows - 1).hi, j0 + n - 1) - j0;
                if (hi < lo) continue;
                int p0 = lo / TileKernels.NR, p1 = hi / TileKernels.NR + 1;
                int cs = p0 * TileKernels.NR, ce = Math.Min(p1 * TileKernels.NR, n);
                TileKernels.Scores(qs + (long)r0 * e, e, kp, p0, p1, s, Bc);
                bool inside = j0 + cs >= pr.Band(i0 + rows - 1).lo && j0 + ce - 1 <= pr.Band(i0).hi;
                if (pr.HasMods || !inside) pr.ApplyMods(s + cs, Bc, rows, b, h, i0, j0 + cs, ce - cs, null);
                for (int r = 0; r < rows; r++)
                    OnlineSoftmaxRow(pr, s + r * Bc, cs, ce, ref m[r0 + r], ref l[r0 + r], acc + (long)(r0 + r) * ldo, ev, b, h, i0 + r, j0);
                for (int r = rows; r < MR; r++) new Span<float>(s + r * Bc + cs, ce - cs).Clear();
                TileKernels.AccumulatePV(s, Bc, cs, ce, vTile, pr.VsS, ev, acc + (long)r0 * ldo, ldo);
            }
        }

        for (int i = ib; i < ie; i++)
        {
            int r = i - ib;
            float* dst = oOut + (((long)b * pr.H + h) * pr.L + i) * ev;
            var src = new ReadOnlySpan<float>(acc + (long)r * ldo, ev);
            if (l[r] > 0)
            {
                TensorPrimitives.Multiply(src, 1f / l[r], new Span<float>(dst, ev));
                lseOut[((long)b * pr.H + h) * pr.L + i] = m[r] + MathF.Log(l[r]);
            }
            else
            {
                new Span<float>(dst, ev).Clear();
                lseOut[((long)b * pr.H + h) * pr.L + i] = float.NegativeInfinity;
            }
        }
    }

    /// <summary>One row of the online softmax over columns [cs, ce) of the tile: updates m and l, rescales the row's
    /// accumulator by exp(m − m'), and leaves P = exp(S − m') (times the dropout scale) in place of S.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OnlineSoftmaxRow(in AttentionProblem pr, float* srow, int cs, int ce, ref float m, ref float l,
        float* accRow, int ev, int b, int h, int i, int j0)
    {
        var span = new Span<float>(srow + cs, ce - cs);
        float mNew = Math.Max(m, TensorPrimitives.Max(span));
        if (float.IsNegativeInfinity(mNew)) { span.Clear(); return; }   // every key so far masked
        float sum = ExpShifted(srow + cs, ce - cs, mNew);
        if (mNew != m)
        {
            float alpha = FastExp.Exp(m - mNew);
            l *= alpha;
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(accRow, ev), alpha, new Span<float>(accRow, ev));
            m = mNew;
        }
        l += sum;
        if (pr.DropP > 0)
            for (int c = cs; c < ce; c++) srow[c] *= pr.DropScale(b, h, i, j0 + c);
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
