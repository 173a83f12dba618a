using Attend.IO;
using Attend.Nn;
using Attend.Training;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// An in-process stand-in for the other ranks: <see cref="Others"/> gives, for each all-reduce, the sum of what the other
/// ranks would contribute (by default the same as this rank: K identical replicas); broadcasts are recorded as rank 0 or
/// replayed as another rank; <see cref="Started"/> logs each bucket's length and whether a backward was still running.
/// </summary>
sealed class FakeGroup(int rank, int size) : ICollectives
{
    public int Rank => rank;
    public int Size => size;
    public int LocalSize => size;
    public Func<int, float[], float[]>? Others;
    public readonly List<byte[]> Broadcasts = [];
    public Queue<byte[]>? Replay;
    public readonly List<(int Length, bool DuringBackward)> Started = [];
    public bool InBackward;

    public void Broadcast(Span<byte> data, int root)
    {
        if (Replay is { } r) { var b = r.Dequeue(); Assert.Equal(b.Length, data.Length); b.CopyTo(data); }
        else Broadcasts.Add(data.ToArray());
    }

    public void AllReduceSum(Span<double> data) { for (int i = 0; i < data.Length; i++) data[i] *= size; }

    public ICollectiveRequest StartAllReduceSum(Memory<float> data)
    {
        var mine = data.ToArray();
        var others = Others?.Invoke(Started.Count, mine) ?? mine.Select(v => v * (size - 1)).ToArray();
        Started.Add((mine.Length, InBackward));
        for (int i = 0; i < mine.Length; i++) data.Span[i] = mine[i] + others[i];
        return new Done();
    }

    sealed class Done : ICollectiveRequest { public bool Test() => true; public void Wait() { } }
}

/// <summary>
/// DataParallel and the trainer's data-parallel path against what they must compute, with the other ranks simulated:
/// the averaged gradient per bucket, bucket order and launch during the backward, parameters no rank reached, NoSync,
/// the post-accumulate hook it rests on, the trainer's step with identical replicas equal to one process bit for bit,
/// and rank 0's resume state and errors reaching another rank. (Real processes: Attend.Cli.Tests' MpiTrainingTests.)
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class DataParallelTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), $"attend-ddp-{Guid.NewGuid():N}");
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    static Sequential Mlp(int seed) => new(new Linear(6, 64, rng: new Random(seed)), new Linear(64, 64, rng: new Random(seed + 1)), new Linear(64, 3, rng: new Random(seed + 2)));

    static Tensor Loss(Sequential m, int seed)
    {
        var x = Tensor.Randn([5, 6], new Random(seed));
        var y = m.Forward(x);
        return (y * y).Mean();
    }

    [Fact]
    public void TheHookSeesEachLeafsCompleteGradientOncePerBackward()
    {
        var w = Tensor.Randn([3], new Random(1));
        w.RequiresGrad = true;
        var seen = new List<float[]>();
        using (w.RegisterPostAccumulateGradHook(p => seen.Add(p.Grad!.ToArray())))
        {
            ((w * 2f).Sum() + (w * w).Sum()).Backward();           // two uses: the hook runs once, after both arrived
            Assert.Single(seen);
            Assert.Equal(w.Grad!.ToArray(), seen[0]);
            Assert.Equal(w.ToArray().Select(v => 2 + 2 * v), seen[0], (a, b) => Math.Abs(a - b) < 1e-6);
            (w * 3f).Sum().Backward();                             // accumulates: the hook sees the sum
            Assert.Equal(2, seen.Count);
            Assert.Equal(w.Grad!.ToArray(), seen[1]);
        }
        (w * 3f).Sum().Backward();
        Assert.Equal(2, seen.Count);                               // removed
        Assert.Throws<InvalidOperationException>(() => (w * 2f).RegisterPostAccumulateGradHook(_ => { }));
    }

    [Fact]
    public void BucketsAreAveragedInReverseOrderAndStartDuringTheBackward()
    {
        var model = Mlp(1);
        var group = new FakeGroup(0, 3) { Others = (_, mine) => mine.Select((_, i) => 0.5f * (i % 7)).ToArray() };
        // 1 KiB first bucket, then 16 KiB: the 64×64 layer (16 KiB) has a bucket of its own
        using var ddp = new DataParallel(model, group, bucketMegabytes: 16.0 / 1024, firstBucketMegabytes: 1.0 / 1024);
        var ps = model.Parameters().ToArray();
        Assert.Equal([2, 1, 1, 2], ddp.BucketParameters);         // [b2, w2], [b1], [w1], [b0, w0]: reverse order
        var reference = Mlp(1);
        Loss(reference, 7).Backward();
        group.InBackward = true;
        Loss(model, 7).Backward();
        group.InBackward = false;
        Assert.Equal(4, group.Started.Count);
        Assert.All(group.Started, s => Assert.True(s.DuringBackward, "a bucket waited for the end of the backward"));
        ddp.FinishGradients();
        Assert.Equal(ddp.BucketFloats, group.Started.Select(s => s.Length));
        // expected: (mine + others) / 3, where others put 0.5·(i mod 7) at position i of the bucket buffer
        foreach (var bucket in new[] { new[] { 5, 4 }, [3], [2], [1, 0] })
        {
            int offset = 0;
            foreach (int k in bucket)
            {
                var (got, mine) = (ps[k].Grad!.ToArray(), reference.Parameters().ElementAt(k).Grad!.ToArray());
                for (int i = 0; i < got.Length; i++)
                    Assert.Equal((mine[i] + 0.5f * ((offset + i) % 7)) / 3, got[i], 1e-6f);
                offset += got.Length;
            }
        }
        Assert.Equal(4, ddp.Totals.Reductions);
    }

    [Fact]
    public void ABucketOver16MiBIsReducedInPiecesOneAtATime()
    {
        var big = new Linear(2048, 2100, bias: false, rng: new Random(1));   // 4,300,800 floats: 16.4 MiB
        var group = new FakeGroup(0, 2) { Others = (_, mine) => mine.Select(_ => 2f).ToArray() };
        using var ddp = new DataParallel(big, group);
        var x = Tensor.Randn([2, 2048], new Random(2));
        var y = big.Forward(x);
        (y * y).Mean().Backward();
        var mine = big.Weight.Grad!.ToArray();
        ddp.FinishGradients();
        Assert.Equal([DataParallel.MaxMessageFloats, 4_300_800 + 1 - DataParallel.MaxMessageFloats], group.Started.Select(s => s.Length));
        var got = big.Weight.Grad!.ToArray();
        for (int i = 0; i < got.Length; i += 997) Assert.Equal((mine[i] + 2f) / 2, got[i], 1e-6f);
    }

    [Fact]
    public void AParameterNoRankReachedKeepsNoGradientAndOneOtherRanksReachedGetsTheirs()
    {
        Linear l0 = new(6, 64, rng: new Random(2)), l1 = new(64, 64, rng: new Random(3)), l2 = new(64, 3, rng: new Random(4));
        var model = new Sequential(l0, l1, l2);
        var last = l2.Bias!;                                       // the output layer: no rank's loss uses it below
        var group = new FakeGroup(0, 2);
        using var ddp = new DataParallel(model, group);
        var h = l1.Forward(l0.Forward(Tensor.Randn([5, 6], new Random(3))));
        (h * h).Mean().Backward();                                // layers 0 and 1 only
        ddp.FinishGradients();
        Assert.Null(l2.Weight.Grad);
        Assert.Null(last.Grad);
        Assert.NotNull(l0.Weight.Grad);

        group.Others = (_, mine) => mine.Select(_ => 1f).ToArray();  // every float of the other rank is 1, flags included
        ddp.FinishGradients();                                     // a step in which this rank's backward reached nothing
        Assert.All(last.Grad!.ToArray(), v => Assert.Equal(0.5f, v));   // (0 + 1) / 2
    }

    [Fact]
    public void NoSyncAccumulatesLocallyAndTheNextBackwardReducesTheSum()
    {
        var model = Mlp(4); var reference = Mlp(4);
        var group = new FakeGroup(0, 2);
        using var ddp = new DataParallel(model, group);
        using (ddp.NoSync()) Loss(model, 1).Backward();
        Assert.Empty(group.Started);
        Loss(model, 2).Backward();
        ddp.FinishGradients();
        Loss(reference, 1).Backward();
        Loss(reference, 2).Backward();
        foreach (var (p, q) in model.Parameters().Zip(reference.Parameters()))
            Assert.Equal(q.Grad!.ToArray(), p.Grad!.ToArray());   // (g + g) / 2 = g exactly
        Loss(model, 3).Backward();
        Assert.Throws<InvalidOperationException>(() => Loss(model, 3).Backward());   // a second backward after its buckets started
    }

    static Func<long, int, StepLoss> Step(Sequential m, Trainer t) => (step, _) =>
    {
        var rng = SplitMix64.ForStep(t.Seed, step);
        var x = Tensor.FromArray(Enumerable.Range(0, 8 * 6).Select(_ => (float)rng.NextGaussian()).ToArray(), [8, 6]);
        var (start, count) = t.Shard.Of(8);
        var y = m.Forward(x.Narrow(0, start, count));
        return new StepLoss((y * y).Mean(), count);
    };

    [Fact]
    public void IdenticalReplicasTrainAsOneProcessBitForBit()
    {
        var one = Mlp(5); var replica = Mlp(5);
        TrainingResult a, b;
        using (var t = new Trainer(one, new TrainerOptions { Steps = 8, Lr = 1e-2, Seed = 3 })) a = t.Run(Step(one, t));
        // rank 0 of 2 whose partner holds the same half of the batch: the mean of two equal gradients is the gradient
        var group = new FakeGroup(0, 2);
        using (var t = new Trainer(replica, new TrainerOptions { Steps = 8, Lr = 1e-2, Seed = 3, Collectives = group }))
        {
            Assert.Equal(new Shard(0, 2), t.Shard);
            Assert.True(t.IsMain);
            b = t.Run((s, m) => Step(replica, t)(s, m));
        }
        Assert.NotEqual(a.Losses, b.Losses);                      // rank 0 saw half the batch …
        var half = Mlp(5);
        using (var t = new Trainer(half, new TrainerOptions { Steps = 8, Lr = 1e-2, Seed = 3 }))
            a = t.Run((s, m) => { var r = SplitMix64.ForStep(t.Seed, s); var x = Tensor.FromArray(Enumerable.Range(0, 48).Select(_ => (float)r.NextGaussian()).ToArray(), [8, 6]); var y = half.Forward(x.Narrow(0, 0, 4)); return new StepLoss((y * y).Mean(), 4); });
        Assert.Equal(a.Losses, b.Losses);                          // … and trained exactly as one process on that half
        Assert.Equal(half.Parameters().Last().ToArray(), replica.Parameters().Last().ToArray());
    }

    [Fact]
    public void RankZerosResumeAndErrorsReachTheOtherRanks()
    {
        string dir = Path.Combine(root, "ck");
        var first = Mlp(6);
        using (var t = new Trainer(first, new TrainerOptions { Steps = 4, Lr = 1e-2, Seed = 11, CheckpointDir = dir })) t.Run(Step(first, t));

        var zero = new FakeGroup(0, 2);
        var z = Mlp(7);
        using (var t = new Trainer(z, new TrainerOptions { Steps = 9, Lr = 1e-2, CheckpointDir = dir, Resume = true, Collectives = zero }))
            Assert.Equal((4L, 11UL), (t.StartStep, t.Seed));
        var one = new FakeGroup(1, 2) { Replay = new(zero.Broadcasts) };
        var o = Mlp(8);
        using (var t = new Trainer(o, new TrainerOptions { Steps = 9, Lr = 1e-2, Seed = 99, CheckpointDir = Path.Combine(root, "elsewhere"), Resume = true, Collectives = one }))
        {
            Assert.Equal((4L, 11UL), (t.StartStep, t.Seed));        // rank 1 never looked at a folder
            Assert.False(t.IsMain);
            Assert.Equal(first.Parameters().First().ToArray(), o.Parameters().First().ToArray());
            using var saved = Checkpoint.Load(dir);
            var got = t.Optimizer.StateDict();
            Assert.Equal(saved.OptimizerState!.Keys.Order(), got.Keys.Order());
            foreach (var (k, v) in saved.OptimizerState!)
                if (v.DType == DType.Float32) Assert.Equal(v.ToArray(), got[k].ToArray());
        }

        var failing = new FakeGroup(0, 2);                         // a fresh run into a folder that holds a checkpoint
        Assert.Equal(TrainingProblem.HoldsCheckpoint, Assert.Throws<TrainingException>(() =>
            new Trainer(Mlp(1), new TrainerOptions { Steps = 9, CheckpointDir = dir, Collectives = failing })).Problem);
        var told = new FakeGroup(1, 2) { Replay = new(failing.Broadcasts) };
        var e = Assert.Throws<TrainingException>(() => new Trainer(Mlp(1), new TrainerOptions { Steps = 9, CheckpointDir = dir, Collectives = told }));
        Assert.Equal(TrainingProblem.HoldsCheckpoint, e.Problem);
        Assert.StartsWith("rank 0: ", e.Message);
    }

    [Fact]
    public void AShardIsAContiguousEqualPartOfTheGlobalBatch()
    {
        Assert.Equal((6, 3), new Shard(2, 4).Of(12));
        Assert.Equal([6, 7, 8], new Shard(2, 4).Take(Enumerable.Range(0, 12).ToArray()));
        Assert.Equal((0, 5), Shard.Whole.Of(5));
        Assert.Contains("multiple of the 4 ranks", Assert.Throws<ArgumentException>(() => new Shard(0, 4).Of(10)).Message);
    }
}
