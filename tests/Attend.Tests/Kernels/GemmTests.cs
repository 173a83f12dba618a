using System.Runtime.InteropServices;
using Attend.Kernels.Gemm;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// Sgemm against a double-accumulated triple loop, on every path this CPU has. Tolerance is relative to magnitude:
/// |C − ref| ≤ 1e-5·Σ|alpha·a·b| + 1e-6·|beta·C₀| + 1e-6. Serial: forcing a path is global, and a model test running
/// meanwhile would switch kernels (and rounding) mid-forward.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class GemmTests
{
    /// <summary>The paths this CPU can run, by name (GemmPath is internal, theory parameters must be public).</summary>
    public static TheoryData<string> Paths()
    {
        var d = new TheoryData<string> { nameof(GemmPath.Scalar) };
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported && System.Runtime.Intrinsics.X86.Avx2.IsSupported) d.Add(nameof(GemmPath.Vector256));
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) d.Add(nameof(GemmPath.Vector512));
        return d;
    }

    /// <summary>Restores the default path when a test ends.</summary>
    private sealed class Forced : IDisposable
    {
        public Forced(string p) => Sgemm.ForcedPath = Enum.Parse<GemmPath>(p);
        public void Dispose() => Sgemm.ForcedPath = null;
    }

    private static float[] RandomArray(int count, Random rng)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Stores the m×k values g (row-major, ld = k) as op's input: itself, or transposed (k×m), with row stride ld.</summary>
    private static float[] Store(float[] g, int rows, int cols, bool trans, int ld)
    {
        int sr = trans ? cols : rows;
        var s = new float[Math.Max(1, (sr - 1) * ld + (trans ? rows : cols)) + ld];
        Array.Fill(s, float.NaN); // padding past the width must never be read
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                s[trans ? j * ld + i : i * ld + j] = g[i * cols + j];
        return s;
    }

    /// <summary>Runs Sgemm on op-values ga [m×k], gb [k×n] with the given storage and checks every element of C.</summary>
    private static void Check(bool tA, bool tB, int m, int n, int k, float alpha, float beta, int padA, int padB, int padC, Random rng,
        float[]? ga = null, float[]? gb = null, GemmFn? run = null)
    {
        run ??= Sgemm.Run;
        ga ??= RandomArray(m * k, rng);
        gb ??= RandomArray(k * n, rng);
        int lda = (tA ? m : k) + padA, ldb = (tB ? k : n) + padB, ldc = n + padC;
        var a = Store(ga, m, k, tA, lda);
        var b = Store(gb, k, n, tB, ldb);
        var c = new float[Math.Max(1, m * ldc)];
        for (int i = 0; i < c.Length; i++) c[i] = beta == 0 ? float.NaN : (float)(rng.NextDouble() * 2 - 1);
        var c0 = (float[])c.Clone();
        fixed (float* pa = a, pb = b, pc = c)
            run(tA, tB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double t = (double)ga[i * k + p] * gb[p * n + j];
                    s += t; mag += Math.Abs(t);
                }
                double want = alpha * s + (beta == 0 ? 0 : (double)beta * c0[i * ldc + j]);
                double tol = 1e-5 * Math.Abs(alpha) * mag + 1e-6 * Math.Abs(beta * (beta == 0 ? 0 : c0[i * ldc + j])) + 1e-6;
                double got = c[i * ldc + j];
                if (!(Math.Abs(got - want) <= tol))
                    Assert.Fail($"path {Sgemm.Path} tA={tA} tB={tB} m={m} n={n} k={k} alpha={alpha} beta={beta}: C[{i},{j}] = {got}, want {want} (tol {tol:E2})");
            }
            for (int j = n; j < ldc && i * ldc + j < c.Length; j++) // padding of C untouched
                if (BitConverter.SingleToInt32Bits(c[i * ldc + j]) != BitConverter.SingleToInt32Bits(c0[i * ldc + j]))
                    Assert.Fail($"C padding written at [{i},{j}] (m={m} n={n} k={k})");
        }
    }

    private delegate void GemmFn(bool tA, bool tB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    /// <summary>The entry points the size sweep runs: the dispatcher (which sends most small sizes to the unpacked
    /// kernels) and the packed kernel called directly, single-threaded, so every edge-tile case runs through it too.</summary>
    private static GemmFn Engine(string name) => name switch
    {
        "Sgemm" => Sgemm.Run,
        "Blocked256" => (tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc) => BlockedGemm<MicroKernel256>.Run(tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc, 1),
        "Blocked512" => (tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc) => BlockedGemm<MicroKernel512>.Run(tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc, 1),
        "Skinny" => (tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc) => SkinnyGemm.Run(m, n, k, al, a, lda, b, ldb, be, c, ldc, 2),
        "BlockedScalar" => (tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc) => BlockedGemm<MicroKernelScalar>.Run(tA, tB, m, n, k, al, a, lda, b, ldb, be, c, ldc, 1),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string> SweepEngines()
    {
        var d = new TheoryData<string> { "Sgemm" };
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported && System.Runtime.Intrinsics.X86.Avx2.IsSupported) d.Add("Blocked256");
        return d;
    }

    /// <summary>
    /// Every (m, n, k) in 1..67 through the dispatcher, all four transpose cases; through the packed kernel directly,
    /// every (m, n) with k in a sample (edge tiles depend on m and n; the kernel's depth loop has no tail).
    /// op-values are leading blocks of fixed 67×67 matrices, so the reference for every size comes from prefix sums
    /// over k computed once. C starts as NaN and beta = 0; lda = ldb = 67 and ldc = 70, wider than most widths.
    /// </summary>
    [Theory, MemberData(nameof(SweepEngines))]
    public void EverySizeUpTo67_AllTransposes(string engine)
    {
        var run = Engine(engine);
        int[] ks = engine == "Sgemm" ? Enumerable.Range(1, 67).ToArray() : [1, 2, 3, 5, 8, 13, 16, 17, 31, 48, 64, 67];
        const int N = 67, Ldc = 70;
        var rng = new Random(1);
        float[] g = RandomArray(N * N, rng), h = RandomArray(N * N, rng);
        var gT = new float[N * N]; var hT = new float[N * N];
        for (int i = 0; i < N; i++) for (int j = 0; j < N; j++) { gT[j * N + i] = g[i * N + j]; hT[j * N + i] = h[i * N + j]; }
        // pre[k][i][j] = Σ_{p<k} g[i,p]·h[p,j];  mag likewise with absolute values.
        var pre = new double[(N + 1) * N * N]; var mag = new double[(N + 1) * N * N];
        for (int k = 1; k <= N; k++)
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++)
                {
                    int o = (k * N + i) * N + j, q = o - N * N;
                    double t = (double)g[i * N + k - 1] * h[(k - 1) * N + j];
                    pre[o] = pre[q] + t; mag[o] = mag[q] + Math.Abs(t);
                }

        string? failure = null;
        System.Threading.Tasks.Parallel.For(0, 4 * N, job =>
        {
            bool tA = (job & 1) != 0, tB = (job & 2) != 0;
            int m = job / 4 + 1;
            var c = new float[N * Ldc];
            fixed (float* pa = tA ? gT : g, pb = tB ? hT : h, pc = c)
                for (int n = 1; n <= N; n++)
                    foreach (int k in ks)
                    {
                        new Span<float>(c).Fill(float.NaN);
                        run(tA, tB, m, n, k, 1f, pa, N, pb, N, 0f, pc, Ldc);
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++)
                            {
                                int o = (k * N + i) * N + j;
                                double d = Math.Abs(c[i * Ldc + j] - pre[o]);
                                if (!(d <= 1e-5 * mag[o] + 1e-6))
                                    failure ??= $"tA={tA} tB={tB} m={m} n={n} k={k}: C[{i},{j}] = {c[i * Ldc + j]}, want {pre[o]}";
                            }
                        for (int i = 0; i < m; i++)
                            for (int j = n; j < Ldc; j++)
                                if (!float.IsNaN(c[i * Ldc + j])) failure ??= $"wrote past n at m={m} n={n} k={k}";
                    }
        });
        Assert.True(failure == null, failure);
    }

    private static string BlockedFor(string path) => path switch { "Vector256" => "Blocked256", "Vector512" => "Blocked512", _ => "BlockedScalar" };

    /// <summary>Sampled sizes 1..67 on each path, through the dispatcher and through the packed kernel directly (each m, n and k value appears), all transposes, mixed alpha/beta and strides.</summary>
    [Theory, MemberData(nameof(Paths))]
    public void SampledSmallSizes(string path)
    {
        using var _ = new Forced(path);
        var rng = new Random(2);
        (float alpha, float beta)[] ab = [(1f, 0f), (1f, 1f), (-0.75f, 0.5f), (2f, 0f)];
        for (int s = 1; s <= 67; s++)
            for (int t = 0; t < 4; t++)
            {
                int other1 = rng.Next(1, 68), other2 = rng.Next(1, 68);
                var (m, n, k) = ((s + t) % 3) switch { 0 => (s, other1, other2), 1 => (other1, s, other2), _ => (other1, other2, s) };
                var (alpha, beta) = ab[rng.Next(ab.Length)];
                Check((t & 1) != 0, (t & 2) != 0, m, n, k, alpha, beta, rng.Next(3), rng.Next(3), rng.Next(3), rng);
                Check((t & 1) != 0, (t & 2) != 0, m, n, k, alpha, beta, rng.Next(3), rng.Next(3), rng.Next(3), rng, run: Engine(BlockedFor(path)));
            }
    }

    /// <summary>Large odd sizes (threaded, several KC blocks, edge tiles everywhere) with padded strides.</summary>
    [Theory, MemberData(nameof(Paths))]
    public void LargeOddSizes(string path)
    {
        using var _ = new Forced(path);
        var rng = new Random(3);
        var ga = RandomArray(257 * 511, rng); var gb = RandomArray(511 * 383, rng);
        Check(false, false, 257, 383, 511, 1f, 0f, 0, 0, 0, rng, ga, gb);
        Check(true, false, 257, 383, 511, 0.5f, 1f, 3, 0, 5, rng, ga, gb);
        Check(false, true, 257, 383, 511, 1f, -1f, 0, 7, 0, rng, ga, gb);
        Check(true, true, 257, 383, 511, -2f, 0f, 1, 1, 1, rng, ga, gb);
    }

    /// <summary>Skinny shapes: one dimension small, another large (vector-like and thin-panel edge cases).</summary>
    [Theory, MemberData(nameof(Paths))]
    public void SkinnyShapes(string path)
    {
        using var _ = new Forced(path);
        var rng = new Random(4);
        foreach (var (m, n, k) in new[] { (1, 700, 300), (700, 1, 300), (300, 700, 1), (5, 1100, 260), (1100, 7, 260), (70, 70, 1500) })
            for (int t = 0; t < 4; t++)
                Check((t & 1) != 0, (t & 2) != 0, m, n, k, 1f, t == 3 ? 1f : 0f, 0, 1, 2, rng);
    }

    [Fact]
    public void ZeroSizes_AndKZero_GiveBetaTimesC()
    {
        float[] a = [1, 2], b = [3, 4], c = [float.NaN, float.NaN, float.NaN, float.NaN];
        fixed (float* pa = a, pb = b, pc = c)
        {
            Sgemm.Run(false, false, 0, 2, 2, 1f, pa, 2, pb, 2, 0f, pc, 2); // m = 0: nothing touched
            Assert.True(float.IsNaN(c[0]));
            Sgemm.Run(false, false, 2, 2, 0, 1f, pa, 1, pb, 2, 0f, pc, 2); // k = 0, beta = 0: zeros
            Assert.Equal([0f, 0f, 0f, 0f], c);
            c[0] = 1; c[1] = 2; c[2] = 3; c[3] = 4;
            Sgemm.Run(false, false, 2, 2, 0, 1f, pa, 1, pb, 2, 2f, pc, 2);  // k = 0, beta = 2: doubled
            Assert.Equal([2f, 4f, 6f, 8f], c);
            Sgemm.Run(false, false, 2, 2, 1, 0f, pa, 1, pb, 2, 0.5f, pc, 2); // alpha = 0: beta·C
            Assert.Equal([1f, 2f, 3f, 4f], c);
        }
    }

    [Fact]
    public void BadStrides_Throw()
    {
        float* x = stackalloc float[1];
        var p = (IntPtr)x;
        Assert.Throws<ArgumentOutOfRangeException>(() => Sgemm.Run(false, false, 2, 2, 3, 1f, (float*)p, 2, (float*)p, 2, 0f, (float*)p, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sgemm.Run(false, false, 2, 4, 3, 1f, (float*)p, 3, (float*)p, 4, 0f, (float*)p, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sgemm.Run(false, false, -1, 4, 3, 1f, (float*)p, 3, (float*)p, 4, 0f, (float*)p, 4));
    }

    /// <summary>Strided batches: small products (split across threads by batch) and large ones (split within), each checked.</summary>
    [Theory, MemberData(nameof(Paths))]
    public void Batched(string path)
    {
        using var _ = new Forced(path);
        var rng = new Random(5);
        foreach (var (batch, m, n, k, tA, tB, beta) in new[] { (37, 9, 13, 11, false, true, 0f), (16, 64, 64, 32, true, false, 1f), (3, 130, 150, 140, false, false, 0.5f) })
        {
            int lda = tA ? m : k, ldb = tB ? k : n, ldc = n + 1;
            long sa = (long)(tA ? k : m) * lda + 5, sb = (long)(tB ? n : k) * ldb + 3, sc = (long)m * ldc + 2;
            var a = RandomArray((int)(sa * batch), rng); var b = RandomArray((int)(sb * batch), rng);
            var c = RandomArray((int)(sc * batch), rng); var c0 = (float[])c.Clone();
            fixed (float* pa = a, pb = b, pc = c)
                Sgemm.RunBatched(tA, tB, m, n, k, 1.5f, pa, lda, sa, pb, ldb, sb, beta, pc, ldc, sc, batch);
            for (int t = 0; t < batch; t++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double s = 0, mag = 0;
                        for (int p = 0; p < k; p++)
                        {
                            double x = (double)a[t * sa + (tA ? p * lda + i : i * lda + p)] * b[t * sb + (tB ? j * ldb + p : p * ldb + j)];
                            s += x; mag += Math.Abs(x);
                        }
                        long o = t * sc + i * ldc + j;
                        double want = 1.5 * s + beta * c0[o];
                        Assert.True(Math.Abs(c[o] - want) <= 1.5e-5 * mag + 1e-6, $"batch {t} [{i},{j}]: {c[o]} vs {want}");
                    }
            for (int t = 0; t < batch; t++) // the gap between batch entries is untouched
                for (long o = t * sc + (long)m * ldc; o < (t + 1) * sc; o++) Assert.Equal(c0[o], c[o]);
        }
    }

    /// <summary>The skinny A·Bᵀ kernel (few rows of A against a large B, read unpacked): every row count 1…13 and 45…48
    /// (full 4×4 tiles and every leftover), column counts around the 4-column tiles and the two-thread split, depths
    /// with and without a tail after the 16-wide steps; padded strides, alpha/beta both ways.</summary>
    [Fact]
    public void Skinny_MatchesFloat64()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return;   // the kernel needs AVX-512 (Prefers says so)
        var rng = new Random(17);
        var run = Engine("Skinny");
        foreach (int m in Enumerable.Range(1, 13).Concat(Enumerable.Range(45, 4)))
            foreach (var (n, k) in new[] { (64, 64), (67, 83), (130, 384), (9, 16), (5, 15) })
                Check(false, true, m, n, k, m % 2 == 0 ? 1f : 0.5f, m % 3 == 0 ? 0.75f : 0f, 3, 5, 2, rng, run: run);
        Assert.True(SkinnyGemm.Prefers(false, true, 16, 1536, 384));
        Assert.False(SkinnyGemm.Prefers(true, true, 16, 1536, 384));
        Assert.False(SkinnyGemm.Prefers(false, true, SkinnyGemm.MaxRows + 1, 1536, 384));
    }

    /// <summary>C = A·Bᵀ + bias (Linear's forward) on every path: skinny (few rows), packed (edge tiles, more than one
    /// depth block, more than one column block), small; against float64. C starts as NaN: it must be written, not read.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void RunWithBias_AddsTheBiasToEveryRow(string path)
    {
        using var _ = new Forced(path);
        var rng = new Random(5);
        foreach (var (m, n, k) in new[] { (3, 70, 100), (16, 129, 384), (50, 33, 17), (131, 67, 900), (7, 5000, 64), (2, 3, 4) })
        {
            var a = RandomArray(m * k, rng); var b = RandomArray(n * k, rng); var bias = RandomArray(n, rng);
            var c = new float[m * n];
            Array.Fill(c, float.NaN);
            fixed (float* pa = a, pb = b, pbias = bias, pc = c) Sgemm.RunWithBias(false, true, m, n, k, 0.5f, pa, k, pb, k, pbias, pc, n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double want = bias[j], mag = Math.Abs(bias[j]);
                    for (int p = 0; p < k; p++) { double t = 0.5 * a[i * k + p] * b[j * k + p]; want += t; mag += Math.Abs(t); }
                    Assert.True(Math.Abs(c[i * n + j] - want) <= 1e-5 * mag + 1e-6, $"{path} m={m} n={n} k={k}: C[{i},{j}] = {c[i * n + j]}, want {want}");
                }
        }
    }

    [Fact]
    public void DefaultPath_IsTheFastestMeasured()
    {
        bool has256 = System.Runtime.Intrinsics.X86.Fma.IsSupported && System.Runtime.Intrinsics.X86.Avx2.IsSupported;
        bool has512 = System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        Assert.Null(Sgemm.ForcedPath);
        if (Environment.GetEnvironmentVariable("ATTEND_ISA") is { Length: > 0 }) return;   // an override, not a measurement
        if (has256 && has512)
        {
            var (v256, v512) = HostWidth.Ceiling;
            Assert.True(v256 > 1 && v512 > 1, $"ceilings not measured: {v256:F1}, {v512:F1} GFLOP/s");
            Assert.Equal(v512 >= HostWidth.Advantage * v256 ? GemmPath.Vector512 : GemmPath.Vector256, Sgemm.DefaultPath);
        }
        else Assert.Equal(has256 ? GemmPath.Vector256 : has512 ? GemmPath.Vector512 : GemmPath.Scalar, Sgemm.DefaultPath);
    }
}
