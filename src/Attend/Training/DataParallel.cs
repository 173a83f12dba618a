using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Attend.Nn;

namespace Attend.Training;

/// <summary>
/// Data-parallel training as PyTorch's DistributedDataParallel does it: every rank holds a replica of the model, takes its
/// <see cref="Shard"/> of each global batch, and after its backward holds the gradient averaged over the ranks,
/// <code>
/// ḡ = (1/K) · Σ_r g_r        (g_r: the gradient of rank r's mean loss over its B/K items)
/// </code>
/// which for a loss that is a mean over items equals the gradient of the global batch's mean loss. The averaging
/// overlaps the backward: the parameters are grouped into buckets in reverse registration order (the order the backward
/// finishes them; the first bucket small so that it starts early, the rest up to <c>bucketMegabytes</c>), and a bucket's
/// all-reduce starts as soon as its last gradient is accumulated (<see cref="Tensor.RegisterPostAccumulateGradHook"/>) —
/// always in bucket order, so that every rank starts the same collectives in the same order, and one at a time.
/// <code>
/// using var ddp = new DataParallel(model, group);   // rank 0's parameters copied to every rank
/// var (x, y) = Batch(seed, step, ddp.Shard);          // this rank's B/K items
/// loss.Backward();                                    // buckets reduced while it runs
/// ddp.FinishGradients();                              // waits; every Grad is now the average
/// optimizer.Step();
/// </code>
/// A parameter that no rank's backward reached keeps a null <see cref="Tensor.Grad"/> (each bucket carries one flag per
/// parameter: how many ranks had its gradient). Wrap all but the last micro-batch of an accumulated step in
/// <see cref="NoSync"/>. With one rank every call returns at once.
/// </summary>
public sealed class DataParallel : IDisposable
{
    /// <summary>PyTorch DDP's defaults: 25 MiB buckets, the first 1 MiB.</summary>
    public const double DefaultBucketMegabytes = 25, FirstBucketMegabytes = 1;

    private readonly Bucket[] buckets;
    private readonly Dictionary<Tensor, (Bucket Bucket, int Index)> where = new(ReferenceEqualityComparer.Instance);
    private readonly List<IDisposable> hooks = [];
    private readonly Queue<Memory<float>> queue = new();
    private ICollectiveRequest? running;
    private int nextLaunch, syncOff;

    /// <summary>The largest single all-reduce: 16 MiB of floats (a bucket beyond it goes in pieces).</summary>
    public const int MaxMessageFloats = 4 << 20;

    /// <summary>The ranks this replica trains with.</summary>
    public ICollectives Group { get; }
    /// <summary>This rank's part of each global batch.</summary>
    public Shard Shard => new(Group.Rank, Group.Size);
    /// <summary>Parameters per bucket, in the order the buckets are reduced.</summary>
    public IReadOnlyList<int> BucketParameters => buckets.Select(b => b.Params.Length).ToArray();
    /// <summary>Floats reduced per step (gradients and flags), per bucket.</summary>
    public IReadOnlyList<int> BucketFloats => buckets.Select(b => b.Buffer.Length).ToArray();
    /// <summary>All-reduces, bytes and seconds this rank has spent blocked in <see cref="FinishGradients"/> so far.</summary>
    public (long Reductions, long Bytes, double WaitSeconds) Totals { get; private set; }

    /// <summary>Copies rank 0's parameters to every rank and hooks the parameters' gradients.</summary>
    public DataParallel(Module model, ICollectives group, double bucketMegabytes = DefaultBucketMegabytes, double firstBucketMegabytes = FirstBucketMegabytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        Group = group ?? throw new ArgumentNullException(nameof(group));
        if (group.Size < 1 || group.Rank < 0 || group.Rank >= group.Size) throw new ArgumentException($"DataParallel: rank {group.Rank} of {group.Size} ranks");
        if (!(bucketMegabytes > 0) || !(firstBucketMegabytes > 0)) throw new ArgumentOutOfRangeException(nameof(bucketMegabytes), "bucket sizes must be positive");
        var ps = model.Parameters().Where(p => p.RequiresGrad).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToArray();
        foreach (var p in ps) if (!p.IsContiguous) throw new ArgumentException($"DataParallel: parameter {Shapes.Str(p.ShapeRef)} is not contiguous");
        buckets = Split(ps, bucketMegabytes, firstBucketMegabytes);
        for (int b = 0; b < buckets.Length; b++)
            for (int i = 0; i < buckets[b].Params.Length; i++) where[buckets[b].Params[i]] = (buckets[b], i);
        BroadcastParameters(ps);
        if (group.Size == 1) return;
        foreach (var p in ps) hooks.Add(p.RegisterPostAccumulateGradHook(OnGradient));
    }

    /// <summary>Reverse registration order, cut into buckets: the first up to <paramref name="firstMb"/>, the rest up to <paramref name="mb"/>.</summary>
    private static Bucket[] Split(Tensor[] ps, double mb, double firstMb)
    {
        var result = new List<Bucket>();
        var current = new List<Tensor>();
        long bytes = 0;
        foreach (var p in ps.Reverse())
        {
            double cap = (result.Count == 0 ? firstMb : mb) * (1 << 20);
            if (current.Count > 0 && bytes + 4L * p.NumEl > cap) { result.Add(new Bucket([.. current])); current.Clear(); bytes = 0; }
            current.Add(p);
            bytes += 4L * p.NumEl;
        }
        if (current.Count > 0) result.Add(new Bucket([.. current]));
        return [.. result];
    }

    private void BroadcastParameters(Tensor[] ps)
    {
        if (Group.Size == 1) return;
        foreach (var p in ps) Group.Broadcast(MemoryMarshal.AsBytes(p.Span), root: 0);
    }

    /// <summary>Gradients accumulate locally, without reduction, until the result is disposed (PyTorch's
    /// <c>no_sync()</c>): for all but the last micro-batch of an accumulated step.</summary>
    public IDisposable NoSync()
    {
        syncOff++;
        return new OnDispose(() => syncOff--);
    }

    private void OnGradient(Tensor p)
    {
        if (syncOff > 0) return;
        var (bucket, i) = where[p];
        if (bucket.Started)
            throw new InvalidOperationException("DataParallel: a gradient changed after its bucket's all-reduce started (a second Backward before FinishGradients? wrap the earlier micro-batches in NoSync)");
        p.Grad!.Span.CopyTo(bucket.Buffer.AsSpan(bucket.Offsets[i], (int)p.NumEl));
        bucket.Buffer[bucket.FlagAt + i] = 1;
        if (!bucket.Ready[i]) { bucket.Ready[i] = true; bucket.Missing--; }
        LaunchReady();
        Pump(block: false);
    }

    private void LaunchReady()
    {
        while (nextLaunch < buckets.Length && buckets[nextLaunch].Missing == 0) Launch(buckets[nextLaunch++]);
    }

    /// <summary>Queues the bucket's all-reduce, in pieces of at most <see cref="MaxMessageFloats"/>.</summary>
    private void Launch(Bucket b)
    {
        b.Started = true;
        for (int at = 0; at < b.Buffer.Length; at += MaxMessageFloats)
            queue.Enqueue(b.Buffer.AsMemory(at, Math.Min(MaxMessageFloats, b.Buffer.Length - at)));
        Totals = Totals with { Reductions = Totals.Reductions + 1, Bytes = Totals.Bytes + 4L * b.Buffer.Length };
    }

    /// <summary>
    /// Keeps one all-reduce in flight: tests (or, with <paramref name="block"/>, waits for) the one running and starts the
    /// next queued piece when it is done. One at a time, and pieces of at most 16 MiB, because Open MPI 4.1's non-blocking
    /// all-reduce fell from ~1.6–2.0 GB/s to ~0.27 GB/s here with several in flight or one of 43 MB
    /// (docs/results/allreduce-inflight.txt). MPI progresses them only inside its calls, hence the test at each gradient.
    /// </summary>
    private void Pump(bool block)
    {
        while (true)
        {
            if (running is not null)
            {
                if (block) running.Wait();
                else if (!running.Test()) return;
                running = null;
            }
            if (!queue.TryDequeue(out var next)) return;
            running = Group.StartAllReduceSum(next);
        }
    }

    /// <summary>
    /// After the last backward of a step: starts the buckets still waiting (a parameter no backward reached counts as a
    /// zero gradient with flag 0), waits for every reduction, and sets each parameter's <see cref="Tensor.Grad"/> to the
    /// average over the ranks (null when no rank had one). Every rank must call it once per step, even when its backward
    /// did not run (it then contributes no gradients).
    /// </summary>
    public void FinishGradients()
    {
        if (Group.Size == 1) return;
        if (syncOff > 0) throw new InvalidOperationException("DataParallel: FinishGradients inside NoSync");
        for (int b = nextLaunch; b < buckets.Length; b++)
        {
            var bucket = buckets[b];
            for (int i = 0; i < bucket.Params.Length; i++)
            {
                if (bucket.Ready[i]) continue;
                bucket.Buffer.AsSpan(bucket.Offsets[i], (int)bucket.Params[i].NumEl).Clear();
                bucket.Buffer[bucket.FlagAt + i] = 0;
            }
            Launch(bucket);
        }
        nextLaunch = buckets.Length;
        long t0 = Stopwatch.GetTimestamp();
        Pump(block: true);
        Totals = Totals with { WaitSeconds = Totals.WaitSeconds + Stopwatch.GetElapsedTime(t0).TotalSeconds };
        float inv = 1f / Group.Size;
        foreach (var b in buckets)
        {
            for (int i = 0; i < b.Params.Length; i++)
            {
                var p = b.Params[i];
                if (b.Buffer[b.FlagAt + i] == 0) { p.ZeroGrad(); continue; }
                if (p.Grad is null) { var g = Tensor.Zeros(p.ShapeRef); g.Scope = null; p.Grad = g; }
                TensorPrimitives.Multiply(b.Buffer.AsSpan(b.Offsets[i], (int)p.NumEl), inv, p.Grad.Span);
            }
            b.Reset();
        }
        nextLaunch = 0;
    }

    /// <summary>Removes the gradient hooks from the parameters, so later backwards are no longer reduced; neither the model
    /// nor <see cref="Group"/> is disposed.</summary>
    public void Dispose()
    {
        foreach (var h in hooks) h.Dispose();
        hooks.Clear();
    }

    /// <summary>Parameters reduced together: their gradients back to back in one pinned buffer, then one flag per parameter.</summary>
    private sealed class Bucket
    {
        public readonly Tensor[] Params;
        public readonly int[] Offsets;
        public readonly int FlagAt;
        public readonly float[] Buffer;
        public readonly bool[] Ready;
        public int Missing;
        public bool Started;

        public Bucket(Tensor[] ps)
        {
            Params = ps;
            Offsets = new int[ps.Length];
            int n = 0;
            for (int i = 0; i < ps.Length; i++) { Offsets[i] = n; n += (int)ps[i].NumEl; }
            FlagAt = n;
            Buffer = GC.AllocateArray<float>(n + ps.Length, pinned: true);
            Ready = new bool[ps.Length];
            Missing = ps.Length;
        }

        public void Reset()
        {
            Array.Clear(Ready);
            Missing = Params.Length;
            Started = false;
        }
    }
}
