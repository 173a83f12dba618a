using System.Runtime.CompilerServices;

namespace Attend.Kernels.Gemm;

/// <summary>Portable micro-kernel, 4×4 tile of scalar accumulators: the fallback where no SIMD path applies.</summary>
internal readonly unsafe struct MicroKernelScalar : IMicroKernel
{
    public static int MR => 4;
    public static int NR => 4;
    public static int KC => 256;
    public static int MC => 120;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* ap, float* bp, float* c, long ldc, float beta)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = bp[0], b1 = bp[1], b2 = bp[2], b3 = bp[3];
            float a = ap[0]; c00 += a * b0; c01 += a * b1; c02 += a * b2; c03 += a * b3;
            a = ap[1]; c10 += a * b0; c11 += a * b1; c12 += a * b2; c13 += a * b3;
            a = ap[2]; c20 += a * b0; c21 += a * b1; c22 += a * b2; c23 += a * b3;
            a = ap[3]; c30 += a * b0; c31 += a * b1; c32 += a * b2; c33 += a * b3;
            ap += 4; bp += 4;
        }
        Store(c, c00, c01, c02, c03, beta); c += ldc;
        Store(c, c10, c11, c12, c13, beta); c += ldc;
        Store(c, c20, c21, c22, c23, beta); c += ldc;
        Store(c, c30, c31, c32, c33, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float v0, float v1, float v2, float v3, float beta)
    {
        if (beta != 0f) { v0 += beta * c[0]; v1 += beta * c[1]; v2 += beta * c[2]; v3 += beta * c[3]; }
        c[0] = v0; c[1] = v1; c[2] = v2; c[3] = v3;
    }
}
