using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Gemm;

/// <summary>
/// A few rows against a large weight, <c>C = alpha·A·Bᵀ + beta·C</c> with A [m, k] (m ≤ <see cref="MaxRows"/>) and B
/// [n, k] both read along k as stored — the shape of <c>Linear</c> on a short input (one sentence of 16 tokens through a
/// 384×1536 layer). The packed path would copy all of B into panels for a handful of rows and fill half-empty 12-row
/// tiles; here each B row is read once per group of 4 A rows, straight from memory:
/// <code>
/// for j in steps of 4 (threads split j):  for i in steps of 4:
///   acc[r, s] = Σ_p A[i+r, p:p+16] ∘ B[j+s, p:p+16]       16 Vector512 accumulators, 16 floats of p per step
///   C[i+r, j+s] = alpha·sum(acc[r, s]) + beta·C[i+r, j+s]  horizontal sums once per tile
/// </code>
/// Leftover rows (m mod 4) and columns (n mod 4) take 1-wide tiles; the k tail (k mod 16) is summed in scalars.
/// </summary>
internal static unsafe class SkinnyGemm
{
    /// <summary>The most rows of A for which this beats the packed kernel.</summary>
    public const int MaxRows = 48;

    /// <summary>True where this path should run: Vector512 hosts, A·Bᵀ, few rows, a B worth not packing.</summary>
    public static bool Prefers(bool transA, bool transB, int m, int n, int k) =>
        !transA && transB && m <= MaxRows && k >= 64 && n >= 64 && Vector512.IsHardwareAccelerated;

    /// <summary>Runs the product, columns of C split over <paramref name="threads"/>; <paramref name="bias"/>: null, or
    /// [n] added to every row of C (with beta = 0: Linear's forward).</summary>
    public static void Run(int m, int n, int k, float alpha, float* a, long lda, float* b, long ldb, float beta, float* c, long ldc, int threads, float* bias = null)
    {
        int quads = (n + 3) / 4;
        int tasks = threads > 1 ? Math.Min(quads, threads) : 1;                     // one long stream of B per thread
        var item = new Item { M = m, N = n, K = k, Alpha = alpha, A = a, Lda = lda, B = b, Ldb = ldb, Beta = beta, C = c, Ldc = ldc, Quads = quads, Tasks = tasks, Bias = bias };
        if (tasks > 1) Workers.For(tasks, in item);
        else item.Invoke(0);
    }

    private struct Item : IWorkItem
    {
        public int M, N, K, Quads, Tasks; public float Alpha, Beta; public float* A, B, C, Bias; public long Lda, Ldb, Ldc;

        public readonly void Invoke(int index)
        {
            int j0 = (int)((long)Quads * index / Tasks) * 4, j1 = Math.Min(N, (int)((long)Quads * (index + 1) / Tasks) * 4);
            Columns(j0, j1, M, K, Alpha, A, Lda, B, Ldb, Beta, C, Ldc);
            if (Bias != null)
                for (int i = 0; i < M; i++)
                    for (int j = j0; j < j1; j++) C[i * Ldc + j] += Bias[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Columns(int j0, int j1, int m, int k, float alpha, float* a, long lda, float* b, long ldb, float beta, float* c, long ldc)
    {
        int j = j0;
        for (; j + 4 <= j1; j += 4)
        {
            int i = 0;
            bool fetch = j + 12 <= j1;                                             // the next 8 rows of B exist
            for (; i + 4 <= m; i += 4) Tile4x4(k, alpha, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc, fetch && i == 0);
            for (; i < m; i++)
                for (int s = 0; s < 4; s++) Dot(k, alpha, a + i * lda, b + (j + s) * ldb, beta, c + i * ldc + j + s);
        }
        for (; j < j1; j++)
            for (int i = 0; i < m; i++) Dot(k, alpha, a + i * lda, b + j * ldb, beta, c + i * ldc + j);
    }

    /// <summary>C[0:4, 0:4] from A rows a, a+lda, … and B rows b, b+ldb, …: 16 accumulators along k. With
    /// <paramref name="prefetch"/>, the next 4 rows of B are fetched into cache meanwhile (B comes from memory once:
    /// a weight too large to stay cached between calls, whose short rows the hardware prefetcher picks up late).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(int k, float alpha, float* a, long lda, float* b, long ldb, float beta, float* c, long ldc, bool prefetch)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        int p = 0;
        if (prefetch)
            for (long o = 4 * ldb; o < 8 * ldb; o += 16) Sse.Prefetch0(b + o);
        float* f0 = prefetch ? b + 8 * ldb : b, f1 = f0 + ldb, f2 = f1 + ldb, f3 = f2 + ldb;   // two tiles ahead, into L2
        for (; p + 16 <= k; p += 16)
        {
            if (prefetch) { Sse.Prefetch1(f0 + p); Sse.Prefetch1(f1 + p); Sse.Prefetch1(f2 + p); Sse.Prefetch1(f3 + p); }
            var w0 = Vector512.Load(b + p); var w1 = Vector512.Load(b1 + p); var w2 = Vector512.Load(b2 + p); var w3 = Vector512.Load(b3 + p);
            var x = Vector512.Load(a + p);
            c00 = Vector512.FusedMultiplyAdd(x, w0, c00); c01 = Vector512.FusedMultiplyAdd(x, w1, c01); c02 = Vector512.FusedMultiplyAdd(x, w2, c02); c03 = Vector512.FusedMultiplyAdd(x, w3, c03);
            x = Vector512.Load(a1 + p);
            c10 = Vector512.FusedMultiplyAdd(x, w0, c10); c11 = Vector512.FusedMultiplyAdd(x, w1, c11); c12 = Vector512.FusedMultiplyAdd(x, w2, c12); c13 = Vector512.FusedMultiplyAdd(x, w3, c13);
            x = Vector512.Load(a2 + p);
            c20 = Vector512.FusedMultiplyAdd(x, w0, c20); c21 = Vector512.FusedMultiplyAdd(x, w1, c21); c22 = Vector512.FusedMultiplyAdd(x, w2, c22); c23 = Vector512.FusedMultiplyAdd(x, w3, c23);
            x = Vector512.Load(a3 + p);
            c30 = Vector512.FusedMultiplyAdd(x, w0, c30); c31 = Vector512.FusedMultiplyAdd(x, w1, c31); c32 = Vector512.FusedMultiplyAdd(x, w2, c32); c33 = Vector512.FusedMultiplyAdd(x, w3, c33);
        }
        float* s = stackalloc float[16]
        {
            Vector512.Sum(c00), Vector512.Sum(c01), Vector512.Sum(c02), Vector512.Sum(c03),
            Vector512.Sum(c10), Vector512.Sum(c11), Vector512.Sum(c12), Vector512.Sum(c13),
            Vector512.Sum(c20), Vector512.Sum(c21), Vector512.Sum(c22), Vector512.Sum(c23),
            Vector512.Sum(c30), Vector512.Sum(c31), Vector512.Sum(c32), Vector512.Sum(c33),
        };
        for (int r = 0; r < 4; r++)
        {
            float* ar = a + r * lda;
            for (int t = 0; t < 4; t++)
            {
                float* bt = b + t * ldb;
                float v = s[r * 4 + t];
                for (int q = p; q < k; q++) v += ar[q] * bt[q];
                float* o = c + r * ldc + t;
                *o = beta == 0f ? alpha * v : alpha * v + beta * *o;
            }
        }
    }

    /// <summary>One output: C = alpha·(a·b) + beta·C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot(int k, float alpha, float* a, float* b, float beta, float* c)
    {
        var acc = Vector512<float>.Zero;
        int p = 0;
        for (; p + 16 <= k; p += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + p), Vector512.Load(b + p), acc);
        float v = Vector512.Sum(acc);
        for (; p < k; p++) v += a[p] * b[p];
        *c = beta == 0f ? alpha * v : alpha * v + beta * *c;
    }
}
