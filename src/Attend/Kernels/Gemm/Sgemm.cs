using System.Runtime.CompilerServices;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Single-precision GEMM on row-major matrices:
/// <c>C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C</c>, where op(X) is X or Xᵀ.
/// <c>lda</c>, <c>ldb</c>, <c>ldc</c> are row strides in elements of the matrices as stored
/// (A is m×k when not transposed, k×m when transposed; likewise B). beta = 0 ignores C's old contents (NaN included);
/// k = 0 or alpha = 0 gives C = beta·C without reading A or B.
/// </summary>
/// <remarks>
/// Three regimes, chosen by the work m·n·k:
/// <list type="bullet">
/// <item>at or above <see cref="ParallelWork"/> (with more than one worker): <see cref="BlockedGemm{TK}"/> split over <see cref="Workers"/>;</item>
/// <item>below it, on the calling thread: <see cref="SmallGemm"/> (unpacked) where <see cref="SmallGemm.Prefers"/> says it is
/// faster — op(B) = B small enough to stay in L2, or tiny products — else <see cref="BlockedGemm{TK}"/>.</item>
/// </list>
/// The micro-kernel family is picked once from the CPU (<see cref="DefaultPath"/>); tests force one with <see cref="ForcedPath"/>.
/// </remarks>
internal static unsafe class Sgemm
{
    /// <summary>Scalar path: products with m·n·k below this skip packing.</summary>
    internal const long SmallWork = 32 * 1024;
    /// <summary>Products with m·n·k at or above this (≈ 92³) use all <see cref="Workers"/>; below, one thread is faster
    /// (measured: 80³ runs at ~107 GFLOP/s unpacked on one thread, ~85 split over two).</summary>
    internal const long ParallelWork = 3L << 18;
    /// <summary>In a batch, products below this run whole on one thread each, the batch split across threads.</summary>
    internal const long BatchSplitWork = 1L << 23;

    /// <summary>When set, every call uses this path (tests). Vector512 needs AVX-512F, Vector256 AVX2 + FMA.</summary>
    internal static GemmPath? ForcedPath;

    /// <summary>The path used when none is forced: what <see cref="HostWidth"/> measures this host to run fastest
    /// (Vector512 on full-width AVX-512, Vector256 where 512-bit vectors are double-pumped, as on Zen 4; Scalar
    /// without AVX2/AVX-512), or <c>ATTEND_ISA</c>'s choice.</summary>
    internal static readonly GemmPath DefaultPath = HostWidth.Choose();

    /// <summary>The path the next call takes.</summary>
    internal static GemmPath Path
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ForcedPath ?? DefaultPath;
    }

    /// <summary>C[m×n] = alpha·op(A)·op(B) + beta·C (see the class summary).</summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        Validate(transA, transB, m, n, k, lda, ldb, ldc);
        RunCore(Path, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Workers.IsInsideFor ? 1 : Workers.Count);
    }

    /// <summary><c>C[m×n] = alpha·op(A)·op(B) + 1·biasᵀ</c>: <paramref name="bias"/> [n] added to every row of C (Linear's
    /// forward). The packed and skinny kernels add it to each tile as it is stored (C is written once, never read);
    /// the other paths fill C with the bias first and accumulate onto it.</summary>
    public static void RunWithBias(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float* bias, float* c, int ldc)
    {
        Validate(transA, transB, m, n, k, lda, ldb, ldc);
        RunCore(Path, transA, transB, m, n, k, alpha, a, lda, b, ldb, 0f, c, ldc, Workers.IsInsideFor ? 1 : Workers.Count, bias);
    }

    /// <summary>Strided batched GEMM: for each batch index t, runs <see cref="Run"/> on A + t·strideA, B + t·strideB, C + t·strideC.</summary>
    /// <remarks>Small products (m·n·k below <see cref="BatchSplitWork"/>) run one per thread, the batch split across
    /// <see cref="Workers"/>; larger ones run one after the other, each split across the threads.</remarks>
    public static void RunBatched(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float beta, float* c, int ldc, long strideC, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        Validate(transA, transB, m, n, k, lda, ldb, ldc);
        long work = (long)m * n * k;
        var path = Path;
        if (batch > 1 && work < BatchSplitWork && Workers.Count > 1 && !Workers.IsInsideFor)
        {
            // Enough products per index that each is worth a hand-off (~64K multiply-adds), but keep every thread busy.
            int per = (int)Math.Clamp(65536 / Math.Max(work, 1), 1, Math.Max(1, batch / (4 * Workers.Count)));
            var item = new BatchItem
            {
                Path = path, TransA = transA, TransB = transB, M = m, N = n, K = k, Alpha = alpha, A = a, Lda = lda, StrideA = strideA,
                B = b, Ldb = ldb, StrideB = strideB, Beta = beta, C = c, Ldc = ldc, StrideC = strideC, Batch = batch, Per = per,
            };
            Workers.For((batch + per - 1) / per, in item);
            return;
        }
        int threads = Workers.IsInsideFor ? 1 : Workers.Count;
        for (int t = 0; t < batch; t++)
            RunCore(path, transA, transB, m, n, k, alpha, a + t * strideA, lda, b + t * strideB, ldb, beta, c + t * strideC, ldc, threads);
    }

    private struct BatchItem : IWorkItem
    {
        public GemmPath Path; public bool TransA, TransB; public int M, N, K; public float Alpha, Beta;
        public float* A, B, C; public int Lda, Ldb, Ldc; public long StrideA, StrideB, StrideC; public int Batch, Per;

        public readonly void Invoke(int index)
        {
            int t1 = Math.Min(Batch, (index + 1) * Per);
            for (int t = index * Per; t < t1; t++)
                RunCore(Path, TransA, TransB, M, N, K, Alpha, A + t * StrideA, Lda, B + t * StrideB, Ldb, Beta, C + t * StrideC, Ldc, 1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunCore(GemmPath path, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, long lda, float* b, long ldb, float beta, float* c, long ldc, int threads, float* bias = null)
    {
        if (m == 0 || n == 0) return;
        long work = (long)m * n * k;
        if (work < ParallelWork) threads = 1;
        bool small = threads == 1 && SmallGemm.Prefers(transA, transB, m, n, k, ldb);
        bool skinny = path == GemmPath.Vector512 && SkinnyGemm.Prefers(transA, transB, m, n, k);
        // Only the skinny and the packed Vector512 kernels add a bias as they store; for the rest C starts as the bias.
        if (bias != null && (k == 0 || alpha == 0f || path != GemmPath.Vector512 || (small && !skinny)))
        {
            for (int r = 0; r < m; r++) new ReadOnlySpan<float>(bias, n).CopyTo(new Span<float>(c + r * ldc, n));
            beta = 1f;
            bias = null;
        }
        if (k == 0 || alpha == 0f) { ScaleC(m, n, beta, c, ldc); return; }
        switch (path)
        {
            case GemmPath.Vector512:
                if (!MicroKernel512.IsSupported) throw new PlatformNotSupportedException("GemmPath.Vector512 needs AVX-512F.");
                if (skinny) SkinnyGemm.Run(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, bias);
                else if (small) SmallGemm.RunVector(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                else BlockedGemm<MicroKernel512>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, bias);
                return;
            case GemmPath.Vector256:
                if (!MicroKernel256.IsSupported) throw new PlatformNotSupportedException("GemmPath.Vector256 needs AVX2 and FMA.");
                if (small) SmallGemm.RunVector(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                else BlockedGemm<MicroKernel256>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
                return;
            default:
                if (work < SmallWork) SmallGemm.RunScalar(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                else BlockedGemm<MicroKernelScalar>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
                return;
        }
    }

    /// <summary>C = beta·C (beta = 0 writes zeros, whatever C held).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleC(int m, int n, float beta, float* c, long ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0f) row.Clear();
            else for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (lda < Math.Max(1, transA ? m : k)) throw new ArgumentOutOfRangeException(nameof(lda), lda, "lda is less than the row width of A as stored.");
        if (ldb < Math.Max(1, transB ? k : n)) throw new ArgumentOutOfRangeException(nameof(ldb), ldb, "ldb is less than the row width of B as stored.");
        if (ldc < Math.Max(1, n)) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, "ldc is less than n.");
    }
}
