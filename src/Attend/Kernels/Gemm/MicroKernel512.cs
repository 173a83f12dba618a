using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Attend.Kernels.Gemm;

/// <summary>
/// AVX-512F micro-kernel, 12×16 tile: one zmm accumulator per row of C, per step p one load of B and twelve
/// broadcasts of A feed 12 FMAs. The B micro-panel (KC×16 = 384×16, 24 KB) and the A panel (12×384, 18 KB) fit a 48 KB L1
/// together (Zen 5); KC = 384 covers a BERT-size depth in one pass (2–6% over 256 on bert-encode, Zen 5).
/// On double-pumped AVX-512 (Zen 4) this is no faster than <see cref="MicroKernel256"/>.
/// </summary>
internal readonly unsafe struct MicroKernel512 : IMicroKernel
{
    public static int MR => 12;
    public static int NR => 16;
    public static int KC => 384;
    public static int MC => 120;

    public static bool IsSupported => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* ap, float* bp, float* c, long ldc, float beta)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int p = 0; p < kc; p++)
        {
            var b = Avx512F.LoadAlignedVector512(bp);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[0]), b, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[1]), b, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[2]), b, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[3]), b, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[4]), b, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[5]), b, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[6]), b, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[7]), b, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[8]), b, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[9]), b, c9);
            c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[10]), b, c10);
            c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[11]), b, c11);
            ap += 12; bp += 16;
        }
        Store(c, c0, beta); c += ldc; Store(c, c1, beta); c += ldc; Store(c, c2, beta); c += ldc;
        Store(c, c3, beta); c += ldc; Store(c, c4, beta); c += ldc; Store(c, c5, beta); c += ldc;
        Store(c, c6, beta); c += ldc; Store(c, c7, beta); c += ldc; Store(c, c8, beta); c += ldc;
        Store(c, c9, beta); c += ldc; Store(c, c10, beta); c += ldc; Store(c, c11, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> v, float beta)
    {
        if (beta == 0f) { }
        else if (beta == 1f) v += Avx512F.LoadVector512(c);
        else v = Avx512F.FusedMultiplyAdd(Vector512.Create(beta), Avx512F.LoadVector512(c), v);
        Avx512F.Store(c, v);
    }
}
