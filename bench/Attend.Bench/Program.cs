// Benchmark case runner: the same workloads and output as the libtorch peer (../shared/peers/torchsharp/run.sh).
// Usage: dotnet run -c Release --project bench/Attend.Bench -- [--gflops] CASE [CASE ...]
// Prints one line per case on stdout:  CASE<TAB>median_ms<TAB>min_ms<TAB>reps
// With --gflops, cases with a known FLOP count also print "CASE<TAB>GFLOP/s(median)<TAB>GFLOP/s(best)" on stderr.
// --isa prints on stderr what the build may use: Vector256/Vector512 acceleration, FMA, AVX-512F and the GEMM path (a
// NativeAOT build fixes these when it is compiled; bench/aot-vs-jit.sh prints both builds').
// --path=Vector512|Vector256|Scalar forces the GEMM micro-kernel family (default: the library's choice).
// Cases:
//   mm:N                     square matmul N×N×N through Tensor.Matmul (allocates C, as torch.mm)
//   sdpa-fwd:N:full|causal   ScaledDotProductAttention forward at [1,8,N,64], no grad
//   sdpa-shape:B:H:N:D       the forward on [B,H,N,D] strided views of one projection (as BERT calls it), no grad
//   sdpa-shape-fb:B:H:N:D    forward + backward of out.Sum() on those views (the ViT's 512 problems: 128:4:17:32)
//   flash-shape:B:H:N:D      the fused forward and backward kernels alone on contiguous [B,H,N,D] (stderr: both; columns: backward)
//   sdpa-fwdbwd:N:full|causal  forward + backward of out.Sum()
//   mem-sdpa:N               one SDPA forward at [1,8,N,64]; the 'median' column is peak RSS growth in MiB
//   mha-fwd                  MultiheadAttention self-attention forward, E=512, 8 heads, batch 8, seq 256, batch-first, eval, no grad
//   mha-fwd:capture          the same inside an AttentionCapture of all 8 heads (bench/capture-overhead.sh compares capture off
//                            with the build before the capture existed)
//   capture-check            10⁸ calls of the check every attention call makes when no observer (AttentionCapture) is open (ns per
//                            call on stderr; an upper bound: each goes through a non-inlined call)
//   bert-encode:B:T[:minilm|arctic]  pretrained BERT encoder forward on B×T tokens, the ONNX Runtime peer's input (see BertCases)
//   gpt-step                 one AdamW step of the peer's 6-layer, d 384, ctx 256, batch 8 GPT (see GptCases)
//   gpt-ddp                  the gpt-step data-parallel: under mpirun -np K each rank takes 8/K sequences (see DdpCases)
//   allreduce:N[:MB[:one]]   under mpirun: N floats all-reduced in buckets of MB MiB (default 25, as DataParallel), all in
//                            flight at once or (one) one at a time as DataParallel does; stderr: GB/s
//   gpt-profile              the gpt-step timed per phase and per op (stderr)
//   linear:ROWS:IN:OUT[:fwd]  Functional.Linear forward + backward through autograd (or the forward alone)
//   vit-profile[:PATCH:DIM]  one AdamW step of `attend train vit`'s base model (batch 128, 28×28, 4 blocks) timed per op (stderr)
//   gpt-gen:cache|nocache    greedy generation tokens/s with and without the KV cache (stderr)
//   gemm:M:N:K[:tA[:tB]]     C[M×N] = op(A)·op(B) with op = n (as stored) or t (transposed), e.g. gemm:2048:1152:384:n:t
//   gemm-batch:B:M:N:K[:tA[:tB]]  B independent products (strided batch), e.g. gemm-batch:64:64:256:64:n:t
//   for:workers | for:parallel   1000 empty parallel loops over the thread count (dispatch + join overhead)
//   kernel:KC                the micro-kernels alone on L1-resident panels (prints GFLOP/s on stderr; timing columns 0)
// Thread count: ATTEND_NUM_THREADS (default: processor count), as the library.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Attend.Kernels.Gemm;
using Attend.Kernels.Parallel;

static unsafe class Program
{
    static int Main(string[] args)
    {
        bool gflops = args.Contains("--gflops");
        foreach (var a in args.Where(a => a.StartsWith("--path=")))
            Sgemm.ForcedPath = Enum.Parse<GemmPath>(a["--path=".Length..], ignoreCase: true);
        int status = 0;
        if (gflops) Console.Error.WriteLine($"host: {CpuModel()}, {Environment.ProcessorCount} cores");
        if (args.Contains("--isa"))
            Console.Error.WriteLine($"isa: {(RuntimeFeature.IsDynamicCodeCompiled ? "JIT" : "NativeAOT")}, Vector256 {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}, " +
                $"Vector512 {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, Fma {System.Runtime.Intrinsics.X86.Fma.IsSupported}, " +
                $"Avx512F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, GEMM path {Sgemm.Path}");
        foreach (var c in args.Where(a => !a.StartsWith("--")))
        {
            var p = c.Split(':');
            Result r;
            try
            {
                r = p[0] switch
                {
                    "mm" => Mm(Int(p, 1)),
                    "sdpa-fwd" => AttentionCases.Forward(Int(p, 1), Causal(p)),
                    "sdpa-shape" => AttentionCases.Shape(Int(p, 1), Int(p, 2), Int(p, 3), Int(p, 4)),
                    "sdpa-shape-fb" => AttentionCases.ShapeBackward(Int(p, 1), Int(p, 2), Int(p, 3), Int(p, 4)),
                    "flash-shape" => FlashCases.Run(Int(p, 1), Int(p, 2), Int(p, 3), Int(p, 4)),
                    "sdpa-fwdbwd" => AttentionCases.ForwardBackward(Int(p, 1), Causal(p)),
                    "mem-sdpa" => AttentionCases.Memory(Int(p, 1)),
                    "mha-fwd" => ModuleCases.MhaForward(p.Length > 1 && p[1] == "capture"),
                    "gpt-step" => GptCases.Step(),
                    "gpt-ddp" => DdpCases.Step(),
                    "allreduce" => DdpCases.AllReduce(Int(p, 1), p.Length > 2 ? double.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture) : Attend.Training.DataParallel.DefaultBucketMegabytes, p.Length > 3 && p[3] == "one"),
                    "bert-encode" => BertCases.Encode(Int(p, 1), Int(p, 2), p.Length > 3 ? p[3] : "minilm"),
                    "gpt-profile" => GptCases.Profile(),
                    "linear" => LinearCases.Run(Int(p, 1), Int(p, 2), Int(p, 3), p.Length > 4 && p[4] == "fwd"),
                    "vit-profile" => VitCases.Profile(p.Length > 1 ? Int(p, 1) : 7, p.Length > 2 ? Int(p, 2) : 128),
                    "gpt-gen" => GptCases.Generate(p.Length < 2 || p[1] != "nocache"),
                    "capture-check" => CaptureCheck(),
                    "gemm" => Gemm(Int(p, 1), Int(p, 2), Int(p, 3), Flag(p, 4), Flag(p, 5)),
                    "gemm-batch" => GemmBatch(Int(p, 1), Int(p, 2), Int(p, 3), Int(p, 4), Flag(p, 5), Flag(p, 6)),
                    "kernel" => KernelOnly(Int(p, 1)),
                    "for" => ForOverhead(p.Length > 1 ? p[1] : ""),
                    "for-split" => ForSplit(Int(p, 1)),
                    _ => throw new ArgumentException($"unknown case '{c}' (known: mm:N, gemm:M:N:K[:tA[:tB]], gemm-batch:B:M:N:K[:tA[:tB]], for:workers|parallel, kernel:KC)"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException or IndexOutOfRangeException)
            {
                Console.Error.WriteLine($"error: {c}: {e.Message}");
                status = 2;
                continue;
            }
            Console.WriteLine($"{c}\t{r.Med:F3}\t{r.Min:F3}\t{r.Reps}");
            if (gflops && r.Flops > 0)
            {
                double ceiling = Workers.Count * (Sgemm.Path == GemmPath.Vector512 ? HostWidth.Ceiling.V512 : HostWidth.Ceiling.V256);
                Console.Error.WriteLine($"{c}\t{r.Flops / r.Med / 1e6:F1}\t{r.Flops / r.Min / 1e6:F1}\tGFLOP/s (median, best) = {100 * r.Flops / r.Med / 1e6 / ceiling:F0}% of the " +
                    $"measured micro-kernel rate ({ceiling:F0} GFLOP/s); path {Sgemm.Path}, {Workers.Count} threads; " +
                    $"micro-kernel GFLOP/s per thread {HostWidth.Ceiling.V256:F0} (Vector256) / {HostWidth.Ceiling.V512:F0} (Vector512) GFLOP/s ({HostWidth.Reason})");
            }
        }
        return status;
    }

    /// <summary>/proc/cpuinfo's model name, with "full-width AVX-512 flags" noted (avx512_vp2intersect, Zen 5).</summary>
    static string CpuModel()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string model = lines.FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
            bool zen5 = lines.Any(l => l.StartsWith("flags") && l.Contains("avx512_vp2intersect"));
            return model + (zen5 ? " (avx512_vp2intersect)" : "");
        }
        catch (IOException) { return "unknown CPU"; }
    }

    internal readonly record struct Result(double Med, double Min, int Reps, double Flops = 0);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static bool CaptureProbe() => Attend.Attention.AttentionObserver.Current is not null;

    static Result CaptureCheck()
    {
        const int N = 100_000_000;
        int hits = 0;
        var r = Bench(() => { for (int i = 0; i < N; i++) if (CaptureProbe()) hits++; }, warm: 1, minReps: 5, minSeconds: 1);
        if (hits != 0) throw new InvalidOperationException("a capture is open");
        Console.Error.WriteLine($"capture-check\t{r.med * 1e6 / N:F2} ns per attention call (median), {r.min * 1e6 / N:F2} (best)");
        return new Result(r.med, r.min, r.reps);
    }

    static bool Causal(string[] p) => p.Length > 2 && p[2] switch
    {
        "causal" => true, "full" => false,
        _ => throw new ArgumentException($"mask must be full or causal, got '{p[2]}'"),
    };

    static Result Mm(int n)
    {
        var a = Attend.Tensor.Randn(new[] { n, n }, new Random(1)); var b = Attend.Tensor.Randn(new[] { n, n }, new Random(2));
        var (med, min, reps) = Bench(() => a.Matmul(b).Dispose());
        return new Result(med, min, reps, 2.0 * n * n * n);
    }

    static int Int(string[] p, int i) => i < p.Length ? int.Parse(p[i]) : throw new ArgumentException($"missing field {i}");

    static bool Flag(string[] p, int i) => i < p.Length && p[i] switch
    {
        "t" or "T" or "1" => true,
        "n" or "N" or "0" => false,
        _ => throw new ArgumentException($"transpose flag must be n or t, got '{p[i]}'"),
    };

    // Warm up, then repeat until at least minSeconds have passed (minReps..maxReps); median and min in ms. Same as the peer.
    internal static (double med, double min, int reps) Bench(Action body, int warm = 3, int minReps = 10, double minSeconds = 1.5, int maxReps = 300)
    {
        var sw = new Stopwatch();
        for (int i = 0; i < warm; i++) body();
        sw.Restart(); body(); sw.Stop();
        int reps = (int)Math.Clamp(Math.Ceiling(minSeconds / Math.Max(sw.Elapsed.TotalSeconds, 1e-6)), minReps, maxReps);
        var t = new double[reps];
        for (int i = 0; i < reps; i++) { sw.Restart(); body(); sw.Stop(); t[i] = sw.Elapsed.TotalMilliseconds; }
        Array.Sort(t);
        return (reps % 2 == 1 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]), t[0], reps);
    }

    /// <summary>A 64-byte-aligned native array of standard-normal floats (fixed seed).</summary>
    static float* Randn(long count, int seed)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        var rng = new Random(seed);
        for (long i = 0; i < count; i++)
            p[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return p;
    }

    static Result Gemm(int m, int n, int k, bool tA, bool tB)
    {
        float* a = Randn((long)m * k, 1), b = Randn((long)k * n, 2), c = Randn((long)m * n, 3);
        int lda = tA ? m : k, ldb = tB ? k : n;
        try
        {
            var r = Bench(() => Sgemm.Run(tA, tB, m, n, k, 1f, a, lda, b, ldb, 0f, c, n));
            return new(r.med, r.min, r.reps, 2.0 * m * n * k);
        }
        finally { NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c); }
    }

    static Result GemmBatch(int batch, int m, int n, int k, bool tA, bool tB)
    {
        long sa = (long)m * k, sb = (long)k * n, sc = (long)m * n;
        float* a = Randn(sa * batch, 1), b = Randn(sb * batch, 2), c = Randn(sc * batch, 3);
        int lda = tA ? m : k, ldb = tB ? k : n;
        try
        {
            var r = Bench(() => Sgemm.RunBatched(tA, tB, m, n, k, 1f, a, lda, sa, b, ldb, sb, 0f, c, n, sc, batch));
            return new(r.med, r.min, r.reps, 2.0 * m * n * k * batch);
        }
        finally { NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c); }
    }

    // The micro-kernels alone on L1-resident panels, one thread: the ceiling the blocked GEMM can approach.
    static Result KernelOnly(int kc)
    {
        float* ap = Randn(12 * kc, 1), bp = Randn(32 * kc, 2), c = Randn(12 * 64, 3);
        const int iters = 200000;
        foreach (var kind in new[] { 0, 2, 0, 2 })
        {
            if (kind == 2 && !MicroKernel512.IsSupported) continue;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < iters; i++)
            {
                if (kind == 0) MicroKernel256.Tile(kc, ap, bp, c, 64, 1f);
                else MicroKernel512.Tile(kc, ap, bp, c, 64, 1f);
            }
            sw.Stop();
            double flops = 2.0 * (kind == 2 ? 12 * 16 : 6 * 16) * kc * iters;
            Console.Error.WriteLine($"kernel {(kind == 0 ? "Vector256 6x16" : "Vector512 12x16")} kc={kc}: {flops / sw.Elapsed.TotalSeconds / 1e9:F1} GFLOP/s");
        }
        return new(0, 0, 0);
    }

    // for-split:US — For(Count) whose bodies each busy-wait US µs: the median is ~US when every worker joins in
    // time, up to Count·US when the caller ends up doing the work alone (workers too slow to wake). Also prints the
    // share of bodies run by workers on stderr.
    static Result ForSplit(int us)
    {
        int n = Workers.Count, callerId = Environment.CurrentManagedThreadId;
        long onWorkers = 0, total = 0;
        long ticks = (long)(us * 1e-6 * Stopwatch.Frequency);
        var r = Bench(() =>
        {
            Workers.For(n, j =>
            {
                long t0 = Stopwatch.GetTimestamp();
                while (Stopwatch.GetTimestamp() - t0 < ticks) { }
                if (Environment.CurrentManagedThreadId != callerId) Interlocked.Increment(ref onWorkers);
                Interlocked.Increment(ref total);
            });
        }, minSeconds: 0.5);
        Console.Error.WriteLine($"for-split:{us}: {100.0 * onWorkers / total:F0}% of bodies ran on workers");
        return new(r.med, r.min, r.reps);
    }

    // 1000 parallel loops of Count empty bodies: the fixed cost of one fork/join (ms per 1000 = µs per loop).
    static Result ForOverhead(string which)
    {
        int n = Workers.Count;
        long sink = 0;
        Action body = which switch
        {
            "workers" => () => { for (int i = 0; i < 1000; i++) Workers.For(n, j => Interlocked.Add(ref sink, j)); },
            "parallel" => () => { for (int i = 0; i < 1000; i++) System.Threading.Tasks.Parallel.For(0, n, j => Interlocked.Add(ref sink, j)); },
            _ => throw new ArgumentException("for:workers or for:parallel"),
        };
        var r = Bench(body);
        return new(r.med, r.min, r.reps);
    }
}
