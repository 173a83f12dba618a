namespace Attend.Kernels.Gemm;

/// <summary>Which micro-kernel family <see cref="Sgemm"/> uses.</summary>
internal enum GemmPath
{
    /// <summary>AVX-512F: 12×16 tile, one zmm per row of C.</summary>
    Vector512,
    /// <summary>AVX2 + FMA: 6×16 tile, two ymm per row of C (OpenBLAS's Haswell shape).</summary>
    Vector256,
    /// <summary>Plain C#: 4×4 tile of scalar accumulators. Correct everywhere, slow.</summary>
    Scalar,
}

/// <summary>
/// A register-tiled GEMM micro-kernel over packed panels, plus the block sizes the blocked driver should use with it.
/// Computes, for one MR×NR tile of C:
/// <c>C[i,j] = Σ_{p&lt;kc} Ap[p·MR + i] · Bp[p·NR + j]  (+ beta·C[i,j] unless beta = 0)</c>,
/// where Ap is an MR-row panel of A packed column by column and Bp a NR-column panel of B packed row by row.
/// Implemented by structs so that the generic driver is specialized (and the constants folded) per kernel.
/// </summary>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }
    /// <summary>Columns of the register tile.</summary>
    static abstract int NR { get; }
    /// <summary>Depth of one packed block (the B micro-panel KC×NR should sit in L1).</summary>
    static abstract int KC { get; }
    /// <summary>Target rows of one packed A block (MC×KC should sit in L2); a multiple of MR.</summary>
    static abstract int MC { get; }
    /// <summary>Full tile: C (row stride ldc) = Ap·Bp + beta·C; beta = 0 stores without reading C, beta = 1 adds.</summary>
    static abstract void Tile(int kc, float* ap, float* bp, float* c, long ldc, float beta);
}
