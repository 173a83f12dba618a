using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Attend.Kernels.Gemm;

/// <summary>
/// AVX2 + FMA micro-kernel, 6×16 tile: 12 ymm accumulators c[r][h] (row r, half h), per step p two loads of B
/// and six broadcasts of A feed 12 FMAs. Measured here at ~89% of one core's peak (see DESIGN.md).
/// </summary>
internal readonly unsafe struct MicroKernel256 : IMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static int KC => 256;
    public static int MC => 120;

    public static bool IsSupported => Fma.IsSupported && Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* ap, float* bp, float* c, long ldc, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadAlignedVector256(bp);
            var b1 = Avx.LoadAlignedVector256(bp + 8);
            var a = Vector256.Create(ap[0]); c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(ap[1]); c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(ap[2]); c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(ap[3]); c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(ap[4]); c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(ap[5]); c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
            ap += 6; bp += 16;
        }
        Store(c, c00, c01, beta); c += ldc;
        Store(c, c10, c11, beta); c += ldc;
        Store(c, c20, c21, beta); c += ldc;
        Store(c, c30, c31, beta); c += ldc;
        Store(c, c40, c41, beta); c += ldc;
        Store(c, c50, c51, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> lo, Vector256<float> hi, float beta)
    {
        if (beta == 0f) { }
        else if (beta == 1f) { lo += Avx.LoadVector256(c); hi += Avx.LoadVector256(c + 8); }
        else
        {
            var vb = Vector256.Create(beta);
            lo = Fma.MultiplyAdd(vb, Avx.LoadVector256(c), lo);
            hi = Fma.MultiplyAdd(vb, Avx.LoadVector256(c + 8), hi);
        }
        Avx.Store(c, lo);
        Avx.Store(c + 8, hi);
    }
}
