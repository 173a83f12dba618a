using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Copies blocks of op(A) and op(B) into the panel layouts the micro-kernels read with unit stride:
/// A block rows [i0, i0+mc) × depth [p0, p0+kc) → ⌈mc/MR⌉ panels, panel r holding <c>Ap[p·MR + i] = alpha·op(A)[i0 + r·MR + i, p0 + p]</c>;
/// B block depth [p0, p0+kc) × columns [j0, j0+nc) → ⌈nc/NR⌉ panels, panel s holding <c>Bp[p·NR + j] = op(B)[p0 + p, j0 + s·NR + j]</c>.
/// Rows/columns past the matrix edge are zero, so edge tiles run the same full-size kernel.
/// Where the stored matrix runs the other way (A as stored, Bᵀ), 8×8 blocks are transposed in registers.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>Packs A panels [r0, r1) of the block starting at row i0 (m = rows of op(A) in total).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<TK>(bool transA, float alpha, float* a, long lda, int m, int i0, int p0, int kc, int r0, int r1, float* dst)
        where TK : struct, IMicroKernel
    {
        int mrFull = TK.MR;
        bool avx = Avx.IsSupported;
        if (transA && avx && mrFull % 6 == 0)
        {
            int full = Math.Clamp((m - i0) / mrFull, r0, r1); // panels [r0, full) are whole
            if (full > r0) PackAColsT(a + (long)p0 * lda + i0, lda, kc, alpha, mrFull, r0, full, dst);
            for (int r = full; r < r1; r++)
                PackAPanelScalar(true, a, lda, i0 + r * mrFull, Math.Min(mrFull, m - i0 - r * mrFull), mrFull, p0, kc, alpha, dst + (long)(r - r0) * mrFull * kc);
            return;
        }
        for (int r = r0; r < r1; r++)
        {
            int row = i0 + r * mrFull;
            int mr = Math.Min(mrFull, m - row);
            float* d = dst + (long)(r - r0) * mrFull * kc;
            if (mr == mrFull && avx && mrFull % 6 == 0)
            {
                PackAPanelRows(a + row * lda + p0, lda, kc, alpha, mrFull, d, r + 1 < r1);
            }
            else PackAPanelScalar(transA, a, lda, row, mr, mrFull, p0, kc, alpha, d);
        }
    }

    /// <summary>A as stored (rows contiguous along p): 6 rows × 8 steps at a time, transposed in registers.
    /// The next panel's rows are prefetched a cache line per 16 steps (they usually come from DRAM).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackAPanelRows(float* s, long lda, int kc, float alpha, int mr, float* d, bool prefetchNext)
    {
        var va = Vector256.Create(alpha);
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            if (prefetchNext && (p & 15) == 0)
                for (int i = 0; i < mr; i++) Sse.Prefetch0(s + (mr + i) * lda + p);
            for (int g = 0; g < mr; g += 6)
            {
                float* sg = s + g * lda + p;
                Transpose8x8(
                    Avx.LoadVector256(sg) * va, Avx.LoadVector256(sg + lda) * va, Avx.LoadVector256(sg + 2 * lda) * va,
                    Avx.LoadVector256(sg + 3 * lda) * va, Avx.LoadVector256(sg + 4 * lda) * va, Avx.LoadVector256(sg + 5 * lda) * va,
                    Vector256<float>.Zero, Vector256<float>.Zero,
                    out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                float* dg = d + p * mr + g;
                Store6(dg, c0); Store6(dg + mr, c1); Store6(dg + 2 * mr, c2); Store6(dg + 3 * mr, c3);
                Store6(dg + 4 * mr, c4); Store6(dg + 5 * mr, c5); Store6(dg + 6 * mr, c6); Store6(dg + 7 * mr, c7);
            }
        }
        for (; p < kc; p++)
            for (int i = 0; i < mr; i++) d[p * mr + i] = alpha * s[i * lda + p];
    }

    /// <summary>Aᵀ as stored, whole panels [r0, r1): step p of every panel lies in one contiguous row of the stored
    /// matrix, read as one run (prefetcher-friendly) and cut into MR-wide pieces going to consecutive panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackAColsT(float* a, long lda, int kc, float alpha, int mr, int r0, int r1, float* dst)
    {
        var va = Vector128.Create(alpha);
        for (int p = 0; p < kc; p++)
        {
            float* s = a + p * lda + (long)r0 * mr;
            float* d = dst + (long)p * mr;
            for (int r = r0; r < r1; r++, d += (long)mr * kc)
                for (int i = 0; i < mr; i += 6, s += 6)
                {
                    Sse.Store(d + i, Sse.LoadVector128(s) * va);
                    Sse2.StoreScalar((double*)(d + i + 4), (Vector128.CreateScalar(*(double*)(s + 4)).AsSingle() * va).AsDouble());
                }
        }
    }

    /// <summary>Any panel, including partial ones (rows past m are zero).</summary>
    private static void PackAPanelScalar(bool transA, float* a, long lda, int row, int mr, int mrFull, int p0, int kc, float alpha, float* d)
    {
        for (int p = 0; p < kc; p++, d += mrFull)
        {
            int i = 0;
            if (!transA) for (; i < mr; i++) d[i] = alpha * a[(row + i) * lda + p0 + p];
            else for (; i < mr; i++) d[i] = alpha * a[(p0 + p) * lda + row + i];
            for (; i < mrFull; i++) d[i] = 0f;
        }
    }

    /// <summary>Packs B panels [s0, s1) of the block starting at column j0 (n = columns of op(B) in total).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<TK>(bool transB, float* b, long ldb, int n, int j0, int p0, int kc, int s0, int s1, float* dst)
        where TK : struct, IMicroKernel
    {
        int nrFull = TK.NR;
        int full = Math.Clamp((n - j0) / nrFull, s0, s1); // panels [s0, full) are whole
        if (nrFull % 8 == 0 && Avx.IsSupported && full > s0)
        {
            if (!transB) PackBRows(b + p0 * ldb + j0, ldb, kc, nrFull, s0, full, dst);
            else for (int s = s0; s < full; s++) PackBPanelCols(b + (j0 + (long)s * nrFull) * ldb + p0, ldb, kc, nrFull, dst + (long)s * nrFull * kc);
            s0 = full;
        }
        for (int s = s0; s < s1; s++)
        {
            int col = j0 + s * nrFull;
            int nr = Math.Min(nrFull, n - col);
            float* d = dst + (long)s * nrFull * kc;
            for (int p = 0; p < kc; p++, d += nrFull)
            {
                int j = 0;
                if (!transB) for (; j < nr; j++) d[j] = b[(p0 + p) * ldb + col + j];
                else for (; j < nr; j++) d[j] = b[(col + j) * ldb + p0 + p];
                for (; j < nrFull; j++) d[j] = 0f;
            }
        }
    }

    /// <summary>B as stored, whole panels [s0, s1): each row of B is read as one contiguous run (prefetcher-friendly),
    /// its NR-wide pieces going to consecutive panels NR·kc apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackBRows(float* b, long ldb, int kc, int nr, int s0, int s1, float* dst)
    {
        for (int p = 0; p < kc; p++)
        {
            float* src = b + p * ldb + (long)s0 * nr;
            float* d = dst + (long)s0 * nr * kc + (long)p * nr;
            for (int s = s0; s < s1; s++, src += nr, d += (long)nr * kc)
                for (int j = 0; j < nr; j += 8) Avx.Store(d + j, Avx.LoadVector256(src + j));
        }
    }

    /// <summary>Bᵀ as stored (column j of op(B) is a contiguous row): 8 columns × 8 steps transposed in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackBPanelCols(float* s, long ldb, int kc, int nr, float* d)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
            for (int j = 0; j < nr; j += 8)
            {
                float* sj = s + j * ldb + p;
                Transpose8x8(
                    Avx.LoadVector256(sj), Avx.LoadVector256(sj + ldb), Avx.LoadVector256(sj + 2 * ldb), Avx.LoadVector256(sj + 3 * ldb),
                    Avx.LoadVector256(sj + 4 * ldb), Avx.LoadVector256(sj + 5 * ldb), Avx.LoadVector256(sj + 6 * ldb), Avx.LoadVector256(sj + 7 * ldb),
                    out var c0, out var c1, out var c2, out var c3, out var c4, out var c5, out var c6, out var c7);
                float* dj = d + p * nr + j;
                Avx.Store(dj, c0); Avx.Store(dj + nr, c1); Avx.Store(dj + 2 * nr, c2); Avx.Store(dj + 3 * nr, c3);
                Avx.Store(dj + 4 * nr, c4); Avx.Store(dj + 5 * nr, c5); Avx.Store(dj + 6 * nr, c6); Avx.Store(dj + 7 * nr, c7);
            }
        for (; p < kc; p++)
            for (int j = 0; j < nr; j++) d[p * nr + j] = s[j * ldb + p];
    }

    /// <summary>Stores the low 6 lanes of v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store6(float* d, Vector256<float> v)
    {
        Sse.Store(d, v.GetLower());
        Sse2.StoreScalar((double*)(d + 4), v.GetUpper().AsDouble());
    }

    /// <summary>Rows r0..r7 (8 lanes each) → columns c0..c7: c_j[i] = r_i[j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2, out Vector256<float> c3,
        out Vector256<float> c4, out Vector256<float> c5, out Vector256<float> c6, out Vector256<float> c7)
    {
        // Interleave pairs of rows, then pairs of pairs (within 128-bit lanes), then swap 128-bit halves.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);   // r0_0 r1_0 r0_1 r1_1 | r0_4 r1_4 r0_5 r1_5 ; …_2,3 | …_6,7
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);  // rows 0-3 of columns 0|4 ; 1|5
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);  // columns 2|6 ; 3|7
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);  // rows 4-7 likewise
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        c0 = Avx.Permute2x128(u0, u4, 0x20); c4 = Avx.Permute2x128(u0, u4, 0x31);
        c1 = Avx.Permute2x128(u1, u5, 0x20); c5 = Avx.Permute2x128(u1, u5, 0x31);
        c2 = Avx.Permute2x128(u2, u6, 0x20); c6 = Avx.Permute2x128(u2, u6, 0x31);
        c3 = Avx.Permute2x128(u3, u7, 0x20); c7 = Avx.Permute2x128(u3, u7, 0x31);
    }
}
