using System.Diagnostics;
using Attend;
using Attend.Distributed;
using Attend.Nn;
using Attend.Optim;
using Attend.Training;

/// <summary>
/// gpt-ddp: the gpt-step (GptCases) as data-parallel training: under <c>mpirun -np K</c> each rank takes B/K of the
/// global batch of 8 and the gradients are averaged by <see cref="DataParallel"/>; without mpirun one process takes all
/// 8. Tokens per step are the same, so step times compare directly (bench/ddp-scaling.sh). Every rank runs the same
/// fixed number of steps (collectives must match); rank 0 prints the line, and on stderr the share of step time spent
/// waiting for the all-reduce.
/// allreduce:N: MPI_Iallreduce + MPI_Wait of N floats (stderr: algorithm bandwidth, bytes / time).
/// Only rank 0 prints the CASE line.
/// </summary>
static class DdpCases
{
    const int Warm = 3, Reps = 15;

    static MpiCollectives? World() => MpiCollectives.UnderMpirun ? MpiCollectives.Start() : null;

    public static Program.Result Step()
    {
        var world = World();
        int k = world?.Size ?? 1, rank = world?.Rank ?? 0;
        var model = new Gpt(GptCases.Config, new Random(42));
        model.Train();
        using var ddp = world is { Size: > 1 } ? new DataParallel(model, world) : null;
        var opt = new AdamW(model.NamedParameters(), lr: 3e-4, weightDecay: 0.01);
        var (x, y) = GptCases.Batch();                                                     // (8, 256) each: the global batch
        var (start, count) = new Shard(rank, k).Of(x.Size(0));
        var (xs, ys) = (x.Narrow(0, start, count).Contiguous(), y.Narrow(0, start, count).Contiguous());
        var times = new List<double>();
        double waitAtStart = 0;
        for (int i = 0; i < Warm + Reps; i++)
        {
            if (i == Warm) waitAtStart = ddp?.Totals.WaitSeconds ?? 0;
            long t0 = Stopwatch.GetTimestamp();
            using (Tensor.NewScope())
            {
                opt.ZeroGrad();
                var loss = Functional.CrossEntropy(model.Forward(xs).Logits.View(-1, GptCases.V), ys.View(-1));
                loss.Backward();
                ddp?.FinishGradients();
                opt.Step();
            }
            if (i >= Warm) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        if (ddp is not null && rank == 0)
        {
            double wait = (ddp.Totals.WaitSeconds - waitAtStart) * 1000 / Reps;
            long bytes = ddp.BucketFloats.Sum(f => 4L * f);
            Console.Error.WriteLine($"gpt-ddp: {k} ranks × {Tensor.GetNumThreads()} thread(s), {count} of 8 sequences each; {ddp.BucketFloats.Count} buckets, " +
                $"{bytes / 1e6:F1} MB all-reduced per step; mean wait in FinishGradients {wait:F1} ms of a {times.Average():F1} ms step ({100 * wait / times.Average():F1}%)");
        }
        if (world is not null && rank != 0) Console.SetOut(TextWriter.Null);
        world?.Dispose();   // MPI_Finalize: one case per mpirun
        times.Sort();
        return new Program.Result(times[times.Count / 2], times[0], Reps);
    }

    /// <summary>allreduce:N[:MB[:one]]: N floats all-reduced in buckets of <paramref name="mb"/> MiB (PyTorch DDP's 25 by
    /// default), all started back to back and then waited for; with <paramref name="oneInFlight"/> one at a time, as
    /// DataParallel does (in pieces of at most 16 MiB there).</summary>
    public static Program.Result AllReduce(int n, double mb, bool oneInFlight)
    {
        var world = World() ?? throw new ArgumentException("allreduce: start under mpirun");
        int per = (int)(mb * (1 << 20) / 4);
        var buckets = Enumerable.Range(0, (n + per - 1) / per).Select(b => GC.AllocateArray<float>(Math.Min(per, n - b * per), pinned: true)).ToArray();
        var times = new List<double>();
        for (int i = 0; i < Warm + Reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            if (oneInFlight) foreach (var b in buckets) world.StartAllReduceSum(b).Wait();
            else foreach (var r in buckets.Select(b => world.StartAllReduceSum(b)).ToArray()) r.Wait();
            if (i >= Warm) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        times.Sort();
        if (world.Rank == 0)
            Console.Error.WriteLine($"allreduce: {world.Size} ranks, {4.0 * n / 1e6:F1} MB in {buckets.Length} bucket(s) of ≤ {mb:G3} MiB{(oneInFlight ? ", one in flight" : ", all in flight")}: " +
                $"{4.0 * n / 1e6 / times[times.Count / 2]:F2} GB/s algorithm bandwidth (bytes / median time)");
        else Console.SetOut(TextWriter.Null);
        world.Dispose();
        return new Program.Result(times[times.Count / 2], times[0], Reps);
    }
}
