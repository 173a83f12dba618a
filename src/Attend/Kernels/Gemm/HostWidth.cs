using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Attend.Kernels.Gemm;

/// <summary>
/// Which vector width this host really runs fastest, measured once per process (about 1 ms): the Vector256 and the
/// Vector512 GEMM micro-kernels (<see cref="MicroKernel256"/>, <see cref="MicroKernel512"/>) on panels that sit in L1,
/// on one thread, best of several short runs each. Full-width AVX-512 (Zen 5, server Intel) does about twice the FLOPs with Vector512; double-pumped
/// AVX-512 (Zen 4) does the same with either, and there the 256-bit kernels win on their smaller tiles. Vector512 is
/// chosen when it gives at least <see cref="Advantage"/> times the Vector256 rate. <c>ATTEND_ISA=scalar|v256|v512</c>
/// overrides the measurement (an unsupported choice falls back to the best supported path).
/// </summary>
internal static class HostWidth
{
    /// <summary>How much faster Vector512 must measure to be chosen.</summary>
    public const double Advantage = 1.3;
    private const int Tiles = 400, Runs = 4;

    /// <summary>Measured single-thread GEMM micro-kernel throughput, GFLOP/s, of each width (0 where unsupported or not measured).</summary>
    public static (double V256, double V512) Ceiling { get; private set; }

    /// <summary>Where the choice came from: "measured", "ATTEND_ISA", or "only one supported".</summary>
    public static string Reason { get; private set; } = "";

    /// <summary>The path to use by default on this host.</summary>
    public static GemmPath Choose()
    {
        bool has256 = MicroKernel256.IsSupported, has512 = MicroKernel512.IsSupported;
        GemmPath best = has256 ? GemmPath.Vector256 : has512 ? GemmPath.Vector512 : GemmPath.Scalar;
        switch (Environment.GetEnvironmentVariable("ATTEND_ISA")?.Trim().ToLowerInvariant())
        {
            case "scalar": Reason = "ATTEND_ISA"; return GemmPath.Scalar;
            case "v256" when has256: Reason = "ATTEND_ISA"; return GemmPath.Vector256;
            case "v512" when has512: Reason = "ATTEND_ISA"; return GemmPath.Vector512;
        }
        if (!(has256 && has512)) { Reason = "only one supported"; return best; }
        var (v256, v512) = Measure();
        Ceiling = (v256, v512);
        Reason = "measured";
        return v512 >= Advantage * v256 ? GemmPath.Vector512 : GemmPath.Vector256;
    }

    /// <summary>GFLOP/s of each width's GEMM micro-kernel on L1-resident panels: the best of <see cref="Runs"/> runs,
    /// the two widths alternated (after a warm-up of both) so that a clock ramping up or a neighbour's burst does not
    /// favour one.</summary>
    private static unsafe (double V256, double V512) Measure()
    {
        const int kc = 128;
        int aLen = kc * MicroKernel512.MR, bLen = kc * MicroKernel512.NR, cLen = MicroKernel512.MR * MicroKernel512.NR;
        float* buf = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)((aLen + bLen + cLen) * sizeof(float)), 64);
        try
        {
            new Span<float>(buf, aLen + bLen + cLen).Fill(1e-3f);
            float* ap = buf, bp = buf + aLen, c = bp + bLen;
            long Run256() { for (int i = 0; i < Tiles; i++) MicroKernel256.Tile(kc, ap, bp, c, MicroKernel512.NR, 0f); return 2L * Tiles * kc * MicroKernel256.MR * MicroKernel256.NR; }
            long Run512() { for (int i = 0; i < Tiles; i++) MicroKernel512.Tile(kc, ap, bp, c, MicroKernel512.NR, 0f); return 2L * Tiles * kc * MicroKernel512.MR * MicroKernel512.NR; }
            Run256(); Run512();
            long b256 = long.MaxValue, b512 = long.MaxValue, f256 = 0, f512 = 0;
            for (int r = 0; r < Runs; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                f256 = Run256();
                long t1 = Stopwatch.GetTimestamp();
                f512 = Run512();
                long t2 = Stopwatch.GetTimestamp();
                b256 = Math.Min(b256, t1 - t0); b512 = Math.Min(b512, t2 - t1);
            }
            double Rate(long flops, long ticks) => flops / (ticks / (double)Stopwatch.Frequency) / 1e9;
            return (Rate(f256, b256), Rate(f512, b512));
        }
        finally { System.Runtime.InteropServices.NativeMemory.AlignedFree(buf); }
    }
}
