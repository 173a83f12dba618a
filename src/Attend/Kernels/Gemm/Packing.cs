using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Copies blocks of op(A) and op(B) into the panel layouts the micro-kernels read with unit stride:
/// A block rows [i0, i0+mc) × depth [p0, p0+kc) → ⌈mc/MR⌉ panels, panel r holding <c>Ap[p·MR + i] = alpha·op(A)[i0 + r·MR + i, p0 + p]</c>;
/// B block depth [p0, p0+kc) × columns [j0, j0+nc) → ⌈nc/NR⌉ panels, panel s holding <c>Bp[p·NR + j] = op(B)[p0 + p, j0 + s·NR + j]</c>.
/// Rows/columns past the matrix edge are zero, so edge tiles run the same full-size kernel.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>Packs A panels [r0, r1) of the block starting at row i0 (m = rows of op(A) in total).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<TK>(bool transA, float alpha, float* a, long lda, int m, int i0, int p0, int kc, int r0, int r1, float* dst)
        where TK : struct, IMicroKernel
    {
        int mrFull = TK.MR;
        for (int r = r0; r < r1; r++)
        {
            int row = i0 + r * mrFull;
            int mr = Math.Min(mrFull, m - row);
            float* d = dst + (long)r * mrFull * kc;
            if (!transA)
            {
                for (int ii = 0; ii < mr; ii++)
                {
                    float* s = a + (row + ii) * lda + p0;
                    float* di = d + ii;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        di[0] = alpha * s[p]; di[mrFull] = alpha * s[p + 1];
                        di[2 * mrFull] = alpha * s[p + 2]; di[3 * mrFull] = alpha * s[p + 3];
                        di += 4 * mrFull;
                    }
                    for (; p < kc; p++) { *di = alpha * s[p]; di += mrFull; }
                }
                if (mr < mrFull)
                    for (int p = 0; p < kc; p++)
                        for (int ii = mr; ii < mrFull; ii++) d[p * mrFull + ii] = 0f;
            }
            else
            {
                float* s = a + (long)p0 * lda + row;
                for (int p = 0; p < kc; p++)
                {
                    int ii = 0;
                    for (; ii < mr; ii++) d[ii] = alpha * s[ii];
                    for (; ii < mrFull; ii++) d[ii] = 0f;
                    d += mrFull; s += lda;
                }
            }
        }
    }

    /// <summary>Packs B panels [s0, s1) of the block starting at column j0 (n = columns of op(B) in total).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<TK>(bool transB, float* b, long ldb, int n, int j0, int p0, int kc, int s0, int s1, float* dst)
        where TK : struct, IMicroKernel
    {
        int nrFull = TK.NR;
        for (int s = s0; s < s1; s++)
        {
            int col = j0 + s * nrFull;
            int nr = Math.Min(nrFull, n - col);
            float* d = dst + (long)s * nrFull * kc;
            if (!transB)
            {
                float* src = b + (long)p0 * ldb + col;
                if (nr == nrFull && nrFull % 8 == 0 && Vector256.IsHardwareAccelerated)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        for (int j = 0; j < nrFull; j += 8) Vector256.Store(Vector256.Load(src + j), d + j);
                        d += nrFull; src += ldb;
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        int j = 0;
                        for (; j < nr; j++) d[j] = src[j];
                        for (; j < nrFull; j++) d[j] = 0f;
                        d += nrFull; src += ldb;
                    }
                }
            }
            else
            {
                for (int jj = 0; jj < nr; jj++)
                {
                    float* src = b + (col + jj) * ldb + p0;
                    float* dj = d + jj;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        dj[0] = src[p]; dj[nrFull] = src[p + 1]; dj[2 * nrFull] = src[p + 2]; dj[3 * nrFull] = src[p + 3];
                        dj += 4 * nrFull;
                    }
                    for (; p < kc; p++) { *dj = src[p]; dj += nrFull; }
                }
                if (nr < nrFull)
                    for (int p = 0; p < kc; p++)
                        for (int jj = nr; jj < nrFull; jj++) d[p * nrFull + jj] = 0f;
            }
        }
    }
}
