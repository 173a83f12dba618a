using System.Runtime.CompilerServices;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Single-precision GEMM on row-major matrices:
/// <c>C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C</c>, where op(X) is X or Xᵀ.
/// <c>lda</c>, <c>ldb</c>, <c>ldc</c> are row strides in elements of the matrices as stored
/// (A is m×k when not transposed, k×m when transposed; likewise B). beta = 0 ignores C's old contents (NaN included).
/// </summary>
/// <remarks>Placeholder: a simple correct kernel. Issue 3 replaces it with the packed, blocked, threaded one.</remarks>
internal static unsafe class Sgemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            float* ci = c + (long)i * ldc;
            if (beta == 0f) new Span<float>(ci, n).Clear();
            else if (beta != 1f) for (int j = 0; j < n; j++) ci[j] *= beta;
            for (int p = 0; p < k; p++)
            {
                float aip = alpha * (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]);
                if (aip == 0f) continue;
                if (!transB)
                {
                    float* bp = b + (long)p * ldb;
                    for (int j = 0; j < n; j++) ci[j] += aip * bp[j];
                }
                else
                {
                    for (int j = 0; j < n; j++) ci[j] += aip * b[(long)j * ldb + p];
                }
            }
        }
    }

    /// <summary>Strided batched GEMM: for each batch index t, runs <see cref="Run"/> on A + t·strideA, B + t·strideB, C + t·strideC.</summary>
    public static void RunBatched(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float beta, float* c, int ldc, long strideC, int batch)
    {
        for (int t = 0; t < batch; t++)
            Run(transA, transB, m, n, k, alpha, a + t * strideA, lda, b + t * strideB, ldb, beta, c + t * strideC, ldc);
    }
}
