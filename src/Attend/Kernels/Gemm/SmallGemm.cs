using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Unpacked GEMM for small products (autograd makes many): no packing, no threads, straight off the caller's strides.
/// Two vector forms, both computing <c>C = alpha·op(A)·op(B) + beta·C</c>:
/// <list type="bullet">
/// <item>op(B) = B (rows of B contiguous): row i of C is Σ_p op(A)[i,p]·B[p,:], 8-wide along j (any op(A)).</item>
/// <item>op(B) = Bᵀ, op(A) = A: C[i,j] = A[i,:]·B[j,:], dot products 8-wide along p.</item>
/// </list>
/// Aᵀ·Bᵀ is left to the blocked path; the scalar form handles every case.
/// </summary>
internal static unsafe class SmallGemm
{
    /// <summary>Vector forms; false when the case (Aᵀ·Bᵀ) is not handled here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryRunVector(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        if (!transB) { RowTimesB(transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return true; }
        if (!transA) { DotRows(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); return true; }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(Vector256<float> acc, float alpha, float beta, float* c)
        => beta == 0f ? acc * alpha : acc * alpha + Vector256.Create(beta) * Vector256.Load(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(float acc, float alpha, float beta, float* c)
        => beta == 0f ? alpha * acc : alpha * acc + beta * *c;

    /// <summary>C[i,:] = alpha·Σ_p op(A)[i,p]·B[p,:] + beta·C[i,:], 32 then 8 columns per pass, scalar tail.</summary>
    private static void RowTimesB(bool transA, int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        long sp = transA ? lda : 1, si = transA ? 1 : lda; // A(i,p) = a[i·si + p·sp]
        for (int i = 0; i < m; i++)
        {
            float* ai = a + i * si;
            float* ci = c + i * ldc;
            int j = 0;
            for (; j + 32 <= n; j += 32)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb)
                {
                    var av = Vector256.Create(ai[p * sp]);
                    s0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp), s0);
                    s1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 8), s1);
                    s2 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 16), s2);
                    s3 = Vector256.FusedMultiplyAdd(av, Vector256.Load(bp + 24), s3);
                }
                Finish(s0, alpha, beta, ci + j).Store(ci + j);
                Finish(s1, alpha, beta, ci + j + 8).Store(ci + j + 8);
                Finish(s2, alpha, beta, ci + j + 16).Store(ci + j + 16);
                Finish(s3, alpha, beta, ci + j + 24).Store(ci + j + 24);
            }
            for (; j + 8 <= n; j += 8)
            {
                Vector256<float> s0 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb) s0 = Vector256.FusedMultiplyAdd(Vector256.Create(ai[p * sp]), Vector256.Load(bp), s0);
                Finish(s0, alpha, beta, ci + j).Store(ci + j);
            }
            for (; j < n; j++)
            {
                float s = 0f;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += ldb) s += ai[p * sp] * *bp;
                ci[j] = Finish(s, alpha, beta, ci + j);
            }
        }
    }

    /// <summary>C[i,j] = alpha·A[i,:]·B[j,:] + beta·C[i,j]: four dot products at a time, 8 lanes along p.</summary>
    private static void DotRows(int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        int k8 = k & ~7;
        for (int i = 0; i < m; i++)
        {
            float* ai = a + i * lda;
            float* ci = c + i * ldc;
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = b + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                int p = 0;
                for (; p < k8; p += 8)
                {
                    var av = Vector256.Load(ai + p);
                    s0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b0 + p), s0);
                    s1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b1 + p), s1);
                    s2 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b2 + p), s2);
                    s3 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b3 + p), s3);
                }
                float d0 = Vector256.Sum(s0), d1 = Vector256.Sum(s1), d2 = Vector256.Sum(s2), d3 = Vector256.Sum(s3);
                for (; p < k; p++) { float x = ai[p]; d0 += x * b0[p]; d1 += x * b1[p]; d2 += x * b2[p]; d3 += x * b3[p]; }
                ci[j] = Finish(d0, alpha, beta, ci + j);
                ci[j + 1] = Finish(d1, alpha, beta, ci + j + 1);
                ci[j + 2] = Finish(d2, alpha, beta, ci + j + 2);
                ci[j + 3] = Finish(d3, alpha, beta, ci + j + 3);
            }
            for (; j < n; j++)
            {
                float* bj = b + j * ldb;
                var s0 = Vector256<float>.Zero;
                int p = 0;
                for (; p < k8; p += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(ai + p), Vector256.Load(bj + p), s0);
                float d = Vector256.Sum(s0);
                for (; p < k; p++) d += ai[p] * bj[p];
                ci[j] = Finish(d, alpha, beta, ci + j);
            }
        }
    }

    /// <summary>Scalar form for every transpose case: C[i,j] = alpha·Σ_p op(A)[i,p]·op(B)[p,j] + beta·C[i,j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunScalar(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        long sai = transA ? 1 : lda, sap = transA ? lda : 1; // op(A)[i,p] = a[i·sai + p·sap]
        long sbp = transB ? 1 : ldb, sbj = transB ? ldb : 1; // op(B)[p,j] = b[p·sbp + j·sbj]
        for (int i = 0; i < m; i++)
        {
            float* ai = a + i * sai;
            float* ci = c + i * ldc;
            for (int j = 0; j < n; j++)
            {
                float* bj = b + j * sbj;
                float s = 0f;
                for (int p = 0; p < k; p++) s += ai[p * sap] * bj[p * sbp];
                ci[j] = Finish(s, alpha, beta, ci + j);
            }
        }
    }
}
