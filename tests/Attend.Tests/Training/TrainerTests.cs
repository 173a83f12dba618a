using Attend.IO;
using Attend.Nn;
using Attend.Training;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// The library's training loop on a small regression model whose batches are a function of (seed, step): its schedule
/// against the formula, gradient accumulation against one large batch, exact resume after a stop, budgets, evaluation
/// and report cadence, REINFORCE's surrogate added, and the checkpoint folder's checks.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class TrainerTests : IDisposable
{
    readonly string root = Path.Combine(Path.GetTempPath(), $"attend-trainer-{Guid.NewGuid():N}");
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }
    string P(string name) => Path.Combine(root, name);

    /// <summary>y = x·w* + noise: rows of step s (and micro-batch m of n) drawn from SplitMix64.ForStep(seed, s).</summary>
    static (Tensor X, Tensor Y) Batch(ulong seed, long step, int rows = 16, int micro = 0, int micros = 1)
    {
        var rng = SplitMix64.ForStep(seed, step);
        var x = new float[rows * 4]; var y = new float[rows];
        for (int i = 0; i < rows; i++)
        {
            double t = 0;
            for (int j = 0; j < 4; j++) { x[i * 4 + j] = (float)rng.NextGaussian(); t += x[i * 4 + j] * (j + 1); }
            y[i] = (float)(t + 0.1 * rng.NextGaussian());
        }
        int per = rows / micros;
        var xs = Tensor.FromArray(x, [rows, 4]).Narrow(0, micro * per, per).Contiguous();
        var ys = Tensor.FromArray(y, [rows, 1]).Narrow(0, micro * per, per).Contiguous();
        return (xs, ys);
    }

    static Sequential Model(int seed) => new(new Linear(4, 8, rng: new Random(seed)), new Linear(8, 1, rng: new Random(seed + 1)));

    static Func<long, int, StepLoss> Step(Module model, Trainer t, int micros = 1) => (step, micro) =>
    {
        var (x, y) = Batch(t.Seed, step, micro: micro, micros: micros);
        var d = ((Sequential)model).Forward(x) - y;
        return new StepLoss((d * d).Mean(), x.Size(0));
    };

    [Fact]
    public void TheScheduleIsLinearWarmupThenACosineOverTheBudget()
    {
        using var t = new Trainer(Model(0), new TrainerOptions { Steps = 110, Lr = 1e-2, MinLr = 1e-3, WarmupSteps = 10 });
        Assert.Equal(1e-2 * 1 / 11, t.LearningRate(0, 0), 12);
        Assert.Equal(1e-2 * 10 / 11, t.LearningRate(9, 0), 12);
        Assert.Equal(1e-2, t.LearningRate(10, 0), 12);                                   // the cosine starts at the peak
        Assert.Equal(1e-3 + 0.5 * (1 + Math.Cos(Math.PI * 0.25)) * 9e-3, t.LearningRate(35, 0), 12);   // r = 25 / 100
        Assert.Equal(1e-3, t.LearningRate(110, 0), 12);
        using var timed = new Trainer(Model(0), new TrainerOptions { Seconds = 100, Lr = 1e-2, MinLr = 0, WarmupSteps = 0 });
        Assert.Equal(0.5e-2, timed.LearningRate(1_000_000, 50), 12);                     // a time budget: r = seconds / budget
        Assert.Equal(0.25, timed.Fraction(7, 25), 12);
    }

    [Fact]
    public void AccumulatingTwoHalfBatchesEqualsOneBatch()
    {
        var one = Model(3); var two = Model(3);
        using (var a = new Trainer(one, new TrainerOptions { Steps = 5, Lr = 1e-2, Seed = 9 })) a.Run(Step(one, a));
        using (var b = new Trainer(two, new TrainerOptions { Steps = 5, Lr = 1e-2, Seed = 9, Accumulate = 2 })) b.Run(Step(two, b, micros: 2));
        foreach (var ((name, p), (_, q)) in one.NamedParameters().Zip(two.NamedParameters()))
        {
            var (x, y) = (p.ToArray(), q.ToArray());
            for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-5 + 1e-4 * Math.Abs(x[i]), $"{name}[{i}]: {x[i]} vs {y[i]}");
        }
    }

    [Fact]
    public void AStoppedAndResumedRunHasTheLossesOfAnUninterruptedOne()
    {
        TrainerOptions O(string dir, bool resume = false) => new() { Steps = 60, Lr = 3e-2, WarmupSteps = 5, Seed = 21, CheckpointDir = dir, Resume = resume, SaveEvery = 100 };
        var full = Model(1);
        TrainingResult whole;
        using (var t = new Trainer(full, O(P("full")))) whole = t.Run(Step(full, t));
        Assert.False(whole.Interrupted);
        double start = whole.Losses.Take(5).Average(l => l.Loss), end = whole.Losses.TakeLast(5).Average(l => l.Loss);
        Assert.True(end < 0.2 * start, $"loss {start} → {end}");

        var cut = Model(1);
        using var stop = new CancellationTokenSource();
        TrainingResult first;
        using (var t = new Trainer(cut, O(P("cut")) with { Seed = 21 }))
        {
            t.StepDone += s => { if (s.Step == 17) stop.Cancel(); };
            first = t.Run(Step(cut, t), stop.Token);
        }
        Assert.True(first.Interrupted);
        Assert.Equal(17, first.Steps);
        var again = Model(99);                                                         // other initial weights: the checkpoint's win
        using var r = new Trainer(again, O(P("cut"), resume: true) with { Seed = 12345 });   // and the first run's seed
        Assert.Equal((17L, 21UL), (r.StartStep, r.Seed));
        var rest = r.Run(Step(again, r));
        Assert.Equal(whole.Losses, first.Losses.Concat(rest.Losses));
        Assert.Equal(full.StateDict()["1.weight"].ToArray(), again.StateDict()["1.weight"].ToArray());
    }

    [Fact]
    public void EvaluationsAndReportsComeAtTheirCadenceAndTheEnd()
    {
        var m = Model(2);
        using var t = new Trainer(m, new TrainerOptions { Steps = 25, Lr = 1e-3, LogEvery = 4, EvalEvery = 10, StepsPerEpoch = 5 });
        var modes = new List<bool>();
        t.Evaluate = step => { modes.Add(m.Training); return [new Metric("steps", step, $"{step}")]; };
        var reports = new List<TrainingReport>();
        t.Reported += reports.Add;
        var result = t.Run(Step(m, t));
        Assert.Equal([4L, 8, 10, 12, 16, 20, 24, 25], reports.Select(r => r.Step));
        Assert.Equal([10L, 20, 25], result.Evaluations.Select(r => r.Step));
        Assert.All(modes, training => Assert.False(training));                         // evaluated in evaluation mode
        Assert.True(m.Training);
        Assert.Equal(5.0, reports[^1].Epoch);
        Assert.True(reports[^1].Final);
        Assert.Equal(25, result.Losses.Count);
    }

    [Fact]
    public void ATimeBudgetStopsTheRun()
    {
        var m = Model(4);
        using var t = new Trainer(m, new TrainerOptions { Seconds = 0.3, Lr = 1e-3 });
        var result = t.Run((step, _) => { Thread.Sleep(20); return Step(m, t)(step, 0); });
        Assert.InRange(result.Seconds, 0.3, 5);
        Assert.InRange(result.Steps, 2, 20);
        Assert.False(result.Interrupted);
    }

    [Fact]
    public void ReinforceAttentionGetsItsSurrogateWithTheReward()
    {
        var mha = new MultiheadAttention(8, 2, batchFirst: true, rng: new Random(5), attention: AttentionVariant.Reinforce);
        var rl = new ReinforceAttention();
        using var t = new Trainer(mha, new TrainerOptions { Steps = 3, Lr = 1e-3, Reinforce = rl });
        var result = t.Run((step, _) =>
        {
            var x = Tensor.Randn([2, 5, 8], new Random((int)step));
            var (y, _) = mha.Forward(x, x, x, needWeights: false);
            var perRow = (y * y).Mean(-1).Mean(-1);                                   // (B)
            return new StepLoss(perRow.Mean(), 2) { Reward = perRow.Detach().Neg() };
        });
        Assert.Equal(3, result.Steps);
        Assert.Equal(0, rl.PendingCalls);                                              // every step's samples were rewarded
        Assert.NotEqual(0.0, rl.Baseline);
        Assert.Throws<InvalidOperationException>(() => new Trainer(mha, new TrainerOptions { Steps = 1, Reinforce = new ReinforceAttention() })
            .Run((step, _) => { var x = Tensor.Randn([1, 3, 8]); return new StepLoss(mha.Forward(x, x, x, needWeights: false).Output.Sum(), 1); }));
    }

    [Fact]
    public void TheCheckpointFolderAndTheOptionsAreCheckedBeforeAnyStep()
    {
        var m = Model(6);
        var e = Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Lr = 1e-3 }));
        Assert.Contains("budget", e.Message);
        Assert.Contains("MinLr", Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Steps = 1, Lr = 1e-3, MinLr = 1 })).Message);

        Directory.CreateDirectory(P("busy"));
        File.WriteAllText(Path.Combine(P("busy"), "notes.txt"), "mine");
        Assert.Equal(TrainingProblem.FolderInUse, Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Steps = 1, CheckpointDir = P("busy") })).Problem);
        using (var t = new Trainer(m, new TrainerOptions { Steps = 2, CheckpointDir = P("done") })) t.Run(Step(m, t));
        var held = Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Steps = 4, CheckpointDir = P("done") }));
        Assert.Equal(TrainingProblem.HoldsCheckpoint, held.Problem);
        var at = Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Steps = 2, CheckpointDir = P("done"), Resume = true }));
        Assert.Contains("already at step 2", at.Message);
        var refused = Assert.Throws<InvalidOperationException>(() => new Trainer(m, new TrainerOptions
        {
            Steps = 4, CheckpointDir = P("done"), Resume = true, CheckResume = _ => throw new InvalidOperationException("another model"),
        }));
        Assert.Equal("another model", refused.Message);
        var other = new Sequential(new Linear(4, 3));
        Assert.Contains("does not fit this model", Assert.Throws<TrainingException>(() => new Trainer(other, new TrainerOptions { Steps = 4, CheckpointDir = P("done"), Resume = true })).Message);
        Assert.Contains("holds no checkpoint", Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Steps = 4, CheckpointDir = P("none"), Resume = true })).Message);
    }

    [Theory]
    [InlineData(false)]                                   // the loss itself is NaN
    [InlineData(true)]                                    // the loss is finite, a gradient is not (d√u/du at u = 0)
    public void ANonFiniteLossOrGradientStopsTheRunBeforeItsStep(bool inGradient)
    {
        var m = Model(8);
        using var t = new Trainer(m, new TrainerOptions { Steps = 10, Lr = 1e-2, CheckpointDir = P("nan"), SaveEvery = 2 });
        float[] before = [];
        t.StepDone += s => before = m.StateDict()["0.weight"].ToArray();
        var ok = Step(m, t);
        var e = Assert.Throws<TrainingException>(() => t.Run((step, micro) =>
        {
            var s = ok(step, micro);
            if (step < 4) return s;
            var w = m.StateDict()["0.weight"];
            return s with { Loss = inGradient ? s.Loss + (w * 0f).Sum().Sqrt() : s.Loss * float.NaN };
        }));
        Assert.Equal(TrainingProblem.Diverged, e.Problem);
        Assert.Contains("step 5", e.Message);
        Assert.Contains(inGradient ? "the gradient of parameter '0.weight' [8, 4] (32 of its 32 values are NaN or ∞) at step 5"
            : "the loss of step 5, NaN: first non-finite at op 'mul' → [] from finite inputs, below parameter '1.weight'", e.Message);
        Assert.Equal(before, m.StateDict()["0.weight"].ToArray());                   // step 5 was not taken
        using var saved = Checkpoint.Load(P("nan"));
        Assert.Equal("4", saved.Extra[Checkpoints.StepKey]);                          // the checkpoint of step 4 stands
        Assert.DoesNotContain(saved.Weights["0.weight"].ToArray(), v => !float.IsFinite(v));
    }

    [Fact]
    public void TheMessageNamesTheOpAndTheLayerWhereANaNFirstAppears()
    {
        var m = Model(9);
        using var t = new Trainer(m, new TrainerOptions { Steps = 3, Lr = 1e-2 });
        var e = Assert.Throws<TrainingException>(() => t.Run((step, micro) =>
        {
            var (x, _) = Batch(t.Seed, step);
            var h = ((Sequential)m).Forward(x);                                        // (16, 1), some < 0
            return new StepLoss(h.Log().Mean(), x.Size(0));                             // log of a negative: NaN
        }));
        Assert.Contains("the loss of step 1, NaN: first non-finite at op 'log' → [16, 1] from finite inputs, below parameter '1.weight'", e.Message);
    }

    [Fact]
    public void SkipLeavesTheWeightsOfANonFiniteStepAndGoesOn()
    {
        var m = Model(10);
        using var t = new Trainer(m, new TrainerOptions { Steps = 10, Lr = 1e-2, OnNonFinite = NonFinitePolicy.Skip, CheckpointDir = P("skip"), SaveEvery = 1 });
        var weights = new Dictionary<long, float[]>();
        var skips = new List<SkippedStep>();
        t.StepDone += s => weights[s.Step] = m.StateDict()["0.weight"].ToArray();
        t.Skipped += s => { skips.Add(s); weights[s.Step] = m.StateDict()["0.weight"].ToArray(); };
        var ok = Step(m, t);
        var r = t.Run((step, micro) =>
        {
            var s = ok(step, micro);
            return step is 4 or 6 ? s with { Loss = s.Loss * float.NaN } : step == 7 ? s with { Loss = s.Loss + (m.StateDict()["1.weight"] * 0f).Sum().Sqrt() } : s;
        });
        Assert.Equal(new long[] { 5, 7, 8 }, r.Skipped);
        Assert.Equal(new long[] { 5, 7, 8 }, skips.Select(s => s.Step));
        Assert.Contains("op 'mul'", skips[0].Why);
        Assert.Contains("the gradient of parameter '1.weight'", skips[2].Why);
        Assert.Equal(weights[4], weights[5]);                                            // skipped: unchanged
        Assert.Equal(weights[6], weights[8]);
        Assert.NotEqual(weights[5], weights[6]);                                         // and training goes on
        Assert.Equal(7, r.Losses.Count);
        Assert.All(r.Losses, l => Assert.True(float.IsFinite(l.Loss)));
        using var saved = Checkpoint.Load(P("skip"));
        Assert.Equal("10", saved.Extra[Checkpoints.StepKey]);
        Assert.All(saved.Weights.Values, w => Assert.DoesNotContain(w.ToArray(), v => !float.IsFinite(v)));
    }

    [Fact]
    public void TooManySkipsInARowStopTheRun()
    {
        var m = Model(11);
        using var t = new Trainer(m, new TrainerOptions { Steps = 20, Lr = 1e-2, OnNonFinite = NonFinitePolicy.Skip, MaxSkipsInARow = 3 });
        var ok = Step(m, t);
        var e = Assert.Throws<TrainingException>(() => t.Run((step, micro) => step < 2 ? ok(step, micro) : ok(step, micro) with { Loss = ok(step, micro).Loss * float.NaN }));
        Assert.Equal(TrainingProblem.Diverged, e.Problem);
        Assert.Contains("3 steps in a row were skipped for a NaN or ∞, the last (step 5)", e.Message);
        Assert.Throws<TrainingException>(() => new Trainer(m, new TrainerOptions { Steps = 1, MaxSkipsInARow = 0 }));
    }

    [Fact]
    public async Task Training_one_model_from_two_threads_at_once_is_refused_clearly()
    {
        var m = Model(12);
        using var a = new Trainer(m, new TrainerOptions { Steps = 5, Lr = 1e-2 });
        using var b = new Trainer(m, new TrainerOptions { Steps = 5, Lr = 1e-2 });
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var ok = Step(m, a);
        var first = Task.Run(() => a.Run((step, micro) => { inside.Set(); release.Wait(); return ok(step, micro); }));
        inside.Wait();
        var e = Assert.Throws<InvalidOperationException>(() => b.Run(Step(m, b)));
        Assert.Contains("already being trained by another Trainer.Run", e.Message);
        release.Set();
        Assert.Equal(5, (await first).Steps);
        Assert.Equal(5, b.Run(Step(m, b)).Steps);                                        // once the first is done, it may
    }

    [Fact]
    public void A_save_that_fails_names_the_step_and_the_intact_checkpoint()
    {
        var m = Model(13);
        string parent = P("p"), dir = Path.Combine(parent, "ckpt");
        Directory.CreateDirectory(parent);
        using var t = new Trainer(m, new TrainerOptions { Steps = 6, Lr = 1e-2, CheckpointDir = dir, SaveEvery = 1 });
        t.Saved += step =>
        {
            if (step != 2) return;
            Directory.Move(parent, P("p-moved"));                                        // the folder vanishes: the next save cannot be written
            File.WriteAllText(parent, "a file where the folder was");
        };
        var e = Assert.Throws<TrainingException>(() => t.Run(Step(m, t)));
        Assert.Equal(TrainingProblem.CannotSave, e.Problem);
        Assert.Contains($"cannot save the checkpoint of step 3 in '{dir}'", e.Message);
        Assert.Contains("the checkpoint of step 2 there is intact", e.Message);
        using var kept = Checkpoint.Load(Path.Combine(P("p-moved"), "ckpt"));
        Assert.Equal("2", kept.Extra[Checkpoints.StepKey]);
    }
}
