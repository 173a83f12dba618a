using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Unpacked GEMM for small products (autograd makes many): no packing, no threads, straight off the caller's strides.
/// Two vector forms, both computing <c>C = alpha·op(A)·op(B) + beta·C</c>:
/// <list type="bullet">
/// <item>op(B) = B (rows of B contiguous): C[i,:] = Σ_p op(A)[i,p]·B[p,:], register tiles of 4 rows × 16 columns
/// read straight from B (any op(A)); near peak while B stays in L1/L2.</item>
/// <item>op(B) = Bᵀ, op(A) = A: C[i,j] = A[i,:]·B[j,:], 2×4 dot products at a time, 8-wide along p.</item>
/// </list>
/// Aᵀ·Bᵀ is left to the blocked path; the scalar form handles every case.
/// </summary>
internal static unsafe class SmallGemm
{
    /// <summary>
    /// True where the unpacked vector forms beat the packed kernel on one thread (measured on Zen 4): op(B) = B while
    /// B's k×n block fits in L2 (~106 GFLOP/s, the packed path pays packing on top); A·x with contiguous x; dot-product
    /// form (A·Bᵀ) only for tiny products (it runs at ~50–65 GFLOP/s, the packed path at ~100 from 64³ up).
    /// </summary>
    public static bool Prefers(bool transA, bool transB, int m, int n, int k, long ldb)
    {
        if (!transB) return (long)k * n <= 64 * 1024 || (n == 1 && ldb == 1 && !transA);
        return !transA && (long)m * n * k < 64 * 1024;
    }

    /// <summary>Runs a case <see cref="Prefers"/> accepted (!transB, or transB with !transA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunVector(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        if (n == 1 && !transB && ldb == 1 && !transA) DotRows(m, 1, k, alpha, a, lda, b, k, beta, c, ldc); // A·x: x is a row
        else if (!transB) RowTimesB(transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else if (!transA) DotRows(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else throw new InvalidOperationException("SmallGemm has no Aᵀ·Bᵀ form.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(Vector256<float> acc, float alpha, float beta, float* c)
        => beta == 0f ? acc * alpha : acc * alpha + Vector256.Create(beta) * Vector256.Load(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(float acc, float alpha, float beta, float* c)
        => beta == 0f ? alpha * acc : alpha * acc + beta * *c;

    /// <summary>C[i,:] = alpha·Σ_p op(A)[i,p]·B[p,:] + beta·C[i,:]: register tiles of 4 rows × 16 columns (8 accumulators),
    /// then 4 × 8, then scalar columns; leftover rows one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimesB(bool transA, int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        long sp = transA ? lda : 1, si = transA ? 1 : lda; // op(A)[i,p] = a[i·si + p·sp]
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            float* a0 = a + i * si, a1 = a0 + si, a2 = a1 + si, a3 = a2 + si;
            float* c0 = c + i * ldc;
            int j = 0;
            for (; j + 16 <= n; j += 16)
            {
                Vector256<float> s00 = default, s01 = default, s10 = default, s11 = default;
                Vector256<float> s20 = default, s21 = default, s30 = default, s31 = default;
                float* bp = b + j;
                for (long p = 0; p < k; p++, bp += ldb)
                {
                    var b0 = Vector256.Load(bp); var b1 = Vector256.Load(bp + 8);
                    long o = p * sp;
                    var x = Vector256.Create(a0[o]); s00 = Vector256.FusedMultiplyAdd(x, b0, s00); s01 = Vector256.FusedMultiplyAdd(x, b1, s01);
                    x = Vector256.Create(a1[o]); s10 = Vector256.FusedMultiplyAdd(x, b0, s10); s11 = Vector256.FusedMultiplyAdd(x, b1, s11);
                    x = Vector256.Create(a2[o]); s20 = Vector256.FusedMultiplyAdd(x, b0, s20); s21 = Vector256.FusedMultiplyAdd(x, b1, s21);
                    x = Vector256.Create(a3[o]); s30 = Vector256.FusedMultiplyAdd(x, b0, s30); s31 = Vector256.FusedMultiplyAdd(x, b1, s31);
                }
                float* cj = c0 + j;
                Finish(s00, alpha, beta, cj).Store(cj); Finish(s01, alpha, beta, cj + 8).Store(cj + 8); cj += ldc;
                Finish(s10, alpha, beta, cj).Store(cj); Finish(s11, alpha, beta, cj + 8).Store(cj + 8); cj += ldc;
                Finish(s20, alpha, beta, cj).Store(cj); Finish(s21, alpha, beta, cj + 8).Store(cj + 8); cj += ldc;
                Finish(s30, alpha, beta, cj).Store(cj); Finish(s31, alpha, beta, cj + 8).Store(cj + 8);
            }
            for (; j + 8 <= n; j += 8)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* bp = b + j;
                for (long p = 0; p < k; p++, bp += ldb)
                {
                    var b0 = Vector256.Load(bp);
                    long o = p * sp;
                    s0 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[o]), b0, s0);
                    s1 = Vector256.FusedMultiplyAdd(Vector256.Create(a1[o]), b0, s1);
                    s2 = Vector256.FusedMultiplyAdd(Vector256.Create(a2[o]), b0, s2);
                    s3 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[o]), b0, s3);
                }
                float* cj = c0 + j;
                Finish(s0, alpha, beta, cj).Store(cj); cj += ldc;
                Finish(s1, alpha, beta, cj).Store(cj); cj += ldc;
                Finish(s2, alpha, beta, cj).Store(cj); cj += ldc;
                Finish(s3, alpha, beta, cj).Store(cj);
            }
            for (; j < n; j++)
            {
                float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                float* bp = b + j;
                for (long p = 0; p < k; p++, bp += ldb)
                {
                    float x = *bp; long o = p * sp;
                    t0 += a0[o] * x; t1 += a1[o] * x; t2 += a2[o] * x; t3 += a3[o] * x;
                }
                float* cj = c0 + j;
                *cj = Finish(t0, alpha, beta, cj); cj += ldc;
                *cj = Finish(t1, alpha, beta, cj); cj += ldc;
                *cj = Finish(t2, alpha, beta, cj); cj += ldc;
                *cj = Finish(t3, alpha, beta, cj);
            }
        }
        for (; i < m; i++)
        {
            float* ai = a + i * si;
            float* ci = c + i * ldc;
            int j = 0;
            for (; j + 16 <= n; j += 16)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default; // two chains per half
                float* bp = b + j;
                long p = 0;
                for (; p + 2 <= k; p += 2, bp += 2 * ldb)
                {
                    var x = Vector256.Create(ai[p * sp]); var y = Vector256.Create(ai[(p + 1) * sp]);
                    s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp), s0); s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 8), s1);
                    s2 = Vector256.FusedMultiplyAdd(y, Vector256.Load(bp + ldb), s2); s3 = Vector256.FusedMultiplyAdd(y, Vector256.Load(bp + ldb + 8), s3);
                }
                if (p < k)
                {
                    var x = Vector256.Create(ai[p * sp]);
                    s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp), s0); s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 8), s1);
                }
                Finish(s0 + s2, alpha, beta, ci + j).Store(ci + j);
                Finish(s1 + s3, alpha, beta, ci + j + 8).Store(ci + j + 8);
            }
            for (; j + 8 <= n; j += 8)
            {
                Vector256<float> s0 = default;
                float* bp = b + j;
                for (long p = 0; p < k; p++, bp += ldb) s0 = Vector256.FusedMultiplyAdd(Vector256.Create(ai[p * sp]), Vector256.Load(bp), s0);
                Finish(s0, alpha, beta, ci + j).Store(ci + j);
            }
            for (; j < n; j++)
            {
                float t = 0f;
                float* bp = b + j;
                for (long p = 0; p < k; p++, bp += ldb) t += ai[p * sp] * *bp;
                ci[j] = Finish(t, alpha, beta, ci + j);
            }
        }
    }

    /// <summary>C[i,j] = alpha·A[i,:]·B[j,:] + beta·C[i,j]: 2 rows × 4 columns of dot products at a time
    /// (8 accumulators, 8 lanes along p), then leftovers one dot product at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotRows(int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        int k8 = k & ~7;
        int i = 0;
        for (; i + 2 <= m; i += 2)
        {
            float* x0 = a + i * lda, x1 = x0 + lda;
            float* c0 = c + i * ldc, c1 = c0 + ldc;
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = b + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
                Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
                Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
                int p = 0;
                for (; p < k8; p += 8)
                {
                    var u = Vector256.Load(x0 + p); var v = Vector256.Load(x1 + p);
                    var w = Vector256.Load(b0 + p); s00 = Vector256.FusedMultiplyAdd(u, w, s00); s10 = Vector256.FusedMultiplyAdd(v, w, s10);
                    w = Vector256.Load(b1 + p); s01 = Vector256.FusedMultiplyAdd(u, w, s01); s11 = Vector256.FusedMultiplyAdd(v, w, s11);
                    w = Vector256.Load(b2 + p); s02 = Vector256.FusedMultiplyAdd(u, w, s02); s12 = Vector256.FusedMultiplyAdd(v, w, s12);
                    w = Vector256.Load(b3 + p); s03 = Vector256.FusedMultiplyAdd(u, w, s03); s13 = Vector256.FusedMultiplyAdd(v, w, s13);
                }
                float d00 = Vector256.Sum(s00), d01 = Vector256.Sum(s01), d02 = Vector256.Sum(s02), d03 = Vector256.Sum(s03);
                float d10 = Vector256.Sum(s10), d11 = Vector256.Sum(s11), d12 = Vector256.Sum(s12), d13 = Vector256.Sum(s13);
                for (; p < k; p++)
                {
                    float u = x0[p], v = x1[p];
                    d00 += u * b0[p]; d01 += u * b1[p]; d02 += u * b2[p]; d03 += u * b3[p];
                    d10 += v * b0[p]; d11 += v * b1[p]; d12 += v * b2[p]; d13 += v * b3[p];
                }
                c0[j] = Finish(d00, alpha, beta, c0 + j); c0[j + 1] = Finish(d01, alpha, beta, c0 + j + 1);
                c0[j + 2] = Finish(d02, alpha, beta, c0 + j + 2); c0[j + 3] = Finish(d03, alpha, beta, c0 + j + 3);
                c1[j] = Finish(d10, alpha, beta, c1 + j); c1[j + 1] = Finish(d11, alpha, beta, c1 + j + 1);
                c1[j + 2] = Finish(d12, alpha, beta, c1 + j + 2); c1[j + 3] = Finish(d13, alpha, beta, c1 + j + 3);
            }
            for (; j < n; j++)
            {
                c0[j] = Finish(Dot(x0, b + j * ldb, k), alpha, beta, c0 + j);
                c1[j] = Finish(Dot(x1, b + j * ldb, k), alpha, beta, c1 + j);
            }
        }
        for (; i < m; i++)
        {
            float* x0 = a + i * lda, c0 = c + i * ldc;
            for (int j = 0; j < n; j++) c0[j] = Finish(Dot(x0, b + j * ldb, k), alpha, beta, c0 + j);
        }
    }

    /// <summary>x·y over k elements, two 8-lane chains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* x, float* y, int k)
    {
        Vector256<float> s0 = default, s1 = default;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p + 8), Vector256.Load(y + p + 8), s1);
        }
        if (p + 8 <= k) { s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s0); p += 8; }
        float d = Vector256.Sum(s0 + s1);
        for (; p < k; p++) d += x[p] * y[p];
        return d;
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
