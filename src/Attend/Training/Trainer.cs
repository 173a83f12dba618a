using System.Diagnostics;
using System.Globalization;
using Attend.Nn;
using Attend.Optim;

namespace Attend.Training;

/// <summary>
/// The one training loop. The caller brings a model and a step function that computes one micro-batch's loss for a
/// given step (its data a function of (seed, step), so that a resumed run sees the batches an uninterrupted one would);
/// the trainer owns the rest: AdamW and its warmup-cosine schedule over steps or a time budget, gradient accumulation and
/// clipping, reports and evaluations at their cadence, checkpoints (weights, optimizer state, config, step, seconds,
/// seed) and exact resume, and stopping cleanly on cancellation. It raises events; a front end renders them.
/// <code>
/// using var trainer = new Trainer(model, new TrainerOptions { Steps = 1000, Lr = 3e-3, WarmupSteps = 100, CheckpointDir = "ckpt" });
/// trainer.Reported += r => Console.WriteLine($"step {r.Step} loss {r.Loss:F3}");
/// var result = trainer.Run((step, micro) =>
/// {
///     var (x, y) = Batch(trainer.Seed, step);                       // (B, T) each
///     return new StepLoss(Functional.CrossEntropy(model.Forward(x).Reshape(-1, V), y.Reshape(-1)), Items: x.NumEl);
/// }, cancellationToken);
/// </code>
/// Each step: lr from the schedule; for each micro-batch the loss (plus REINFORCE's surrogate), divided by the micro-batch
/// count, is backpropagated; the gradient norm is clipped; AdamW steps. Steps run inside a <see cref="TensorScope"/>.
/// Evaluations run in evaluation mode without gradients, at <see cref="TrainerOptions.EvalEvery"/> and at the end.
/// A NaN or ∞ in a loss or a gradient stops the run with <see cref="TrainingProblem.Diverged"/> before that step changes
/// a weight, naming where it first appeared (the op of the forward, the layer's parameter, the first gradient); the last
/// checkpoint stays as it was. With <see cref="NonFinitePolicy.Skip"/> the step is skipped instead (<see cref="Skipped"/>).
/// No checkpoint is ever written with a non-finite weight.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Module model;
    private readonly TrainerOptions o;
    private readonly Tensor[] parameters;
    private readonly (string Name, Tensor Parameter)[] named;
    private long lastSaved;   // the step of the checkpoint now in the folder (the resumed one's at first)
    private readonly string? dir;
    private readonly ICollectives? group;
    private readonly DataParallel? ddp;

    /// <summary>What this trainer was asked to do.</summary>
    public TrainerOptions Options => o;
    /// <summary>The checkpoint folder, as a full path (null: none).</summary>
    public string? CheckpointDir => dir;

    /// <summary>True on the rank that reports, evaluates and saves: rank 0, or the only process.</summary>
    public bool IsMain => group is null || group.Rank == 0;
    /// <summary>This rank's part of each global batch (<see cref="Shard.Whole"/> for one process).</summary>
    public Shard Shard => group is null ? Shard.Whole : new(group.Rank, group.Size);
    /// <summary>The data-parallel reducer (null for one process): its buckets and the time spent waiting on them.</summary>
    public DataParallel? DataParallel => ddp;

    /// <summary>The optimizer (AdamW over the model's parameters; restored from the checkpoint on resume).</summary>
    public Optimizer Optimizer { get; }
    /// <summary>The step this run starts from: 0, or the resumed checkpoint's.</summary>
    public long StartStep { get; }
    /// <summary>Seconds trained before this run (a resumed checkpoint's), counted in the time budget.</summary>
    public double SecondsBefore { get; }
    /// <summary>The data seed: the options', or the resumed checkpoint's.</summary>
    public ulong Seed { get; }
    /// <summary>The resumed checkpoint's extra strings (empty for a fresh run).</summary>
    public IReadOnlyDictionary<string, string> ResumedExtra { get; } = new Dictionary<string, string>();

    /// <summary>Runs after each evaluation-mode pass it asks for: the metrics of the model at this step.</summary>
    public Func<long, IReadOnlyList<Metric>>? Evaluate { get; set; }
    /// <summary>After every optimizer step (not after a skipped one: <see cref="Skipped"/>).</summary>
    public event Action<StepInfo>? StepDone;
    /// <summary>At every report (and evaluation).</summary>
    public event Action<TrainingReport>? Reported;
    /// <summary>After a step skipped for a NaN or ∞ (<see cref="NonFinitePolicy.Skip"/>).</summary>
    public event Action<SkippedStep>? Skipped;

    /// <summary>After each checkpoint is complete on disk: the step it holds.</summary>
    public event Action<long>? Saved;

    /// <summary>Checks the options and the checkpoint folder — loading the checkpoint when resuming — before any step.
    /// With <see cref="TrainerOptions.Collectives"/> of more than one rank, rank 0 does this and sends the outcome to every
    /// rank: its parameters (and a resumed optimizer state, step and seed), or its error, thrown on every rank.</summary>
    /// <exception cref="TrainingException">bad options, a folder that cannot take a new checkpoint, or one that cannot be resumed.</exception>
    public Trainer(Module model, TrainerOptions options)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        o = options ?? throw new ArgumentNullException(nameof(options));
        Check(o);
        parameters = model.Parameters().ToArray();
        named = model.NamedParameters().ToArray();
        Optimizer = new AdamW(AdamW.Groups(model.NamedParameters(), o.WeightDecay), lr: o.Lr, betas: o.Betas);
        Seed = o.Seed;
        group = o.Collectives is { Size: > 1 } g ? g : null;
        if (o.CheckpointDir is not null) dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.CheckpointDir));
        var resumed = group is null ? Open() : Replicas.Start(group, Optimizer, Open);
        if (resumed is var (step, seconds, seed, extra))
        {
            if (o.Steps is long total && step >= total) throw new TrainingException($"the checkpoint in '{dir}' is already at step {step}: ask for more than {step} steps", TrainingProblem.CannotResume);
            (StartStep, SecondsBefore, Seed, ResumedExtra) = (step, seconds, seed ?? o.Seed, extra);
            lastSaved = step;
        }
        if (group is not null) ddp = new DataParallel(model, group, o.BucketMegabytes);
    }

    /// <summary>A fresh folder's checks, or the resumed checkpoint loaded into the model and optimizer.</summary>
    private (long, double, ulong?, IReadOnlyDictionary<string, string>)? Open()
    {
        if (dir is null) return null;
        if (!o.Resume) { Checkpoints.RequireFresh(dir); return null; }
        return Checkpoints.Resume(dir, model, Optimizer, o.CheckResume);
    }

    private static void Check(TrainerOptions o)
    {
        if (o.Steps is null && o.Seconds is null) throw new TrainingException("training: give a budget in steps, in seconds, or both");
        if (o.Steps is <= 0 || o.Seconds is <= 0) throw new TrainingException($"training: the budget must be positive (steps {o.Steps}, seconds {o.Seconds})");
        if (!(o.Lr > 0) || !(o.MinLr >= 0) || o.MinLr > o.Lr) throw new TrainingException($"training: need 0 ≤ MinLr ({o.MinLr}) ≤ Lr ({o.Lr}), Lr > 0");
        if (o.WarmupSteps < 0 || o.Accumulate < 1 || o.ClipNorm < 0 || o.LogEvery < 0 || o.EvalEvery < 0 || o.SaveEvery < 0 || o.StepsPerEpoch < 0)
            throw new TrainingException("training: warmup, clip norm and every cadence must be ≥ 0, accumulation ≥ 1");
        if (o.Resume && o.CheckpointDir is null) throw new TrainingException("training: resuming needs a checkpoint folder");
        if (o.MaxSkipsInARow < 1) throw new TrainingException($"training: MaxSkipsInARow must be ≥ 1, not {o.MaxSkipsInARow}");
    }

    /// <summary>The learning rate of <paramref name="step"/> (0-based) when <paramref name="seconds"/> have been trained.</summary>
    public double LearningRate(long step, double seconds)
    {
        if (o.Schedule is { } custom) return custom(step, Fraction(step, seconds));
        if (step < o.WarmupSteps) return o.Lr * (step + 1) / (o.WarmupSteps + 1);
        double r = Math.Min(1, Math.Max(o.Steps is long s && s > o.WarmupSteps ? (double)(step - o.WarmupSteps) / (s - o.WarmupSteps) : 0,
                                         o.Seconds is double t ? seconds / t : 0));
        return o.MinLr + 0.5 * (1 + Math.Cos(Math.PI * Math.Max(0, r))) * (o.Lr - o.MinLr);
    }

    /// <summary>The fraction of the budget used after <paramref name="steps"/> steps and <paramref name="seconds"/>.</summary>
    public double Fraction(long steps, double seconds) =>
        Math.Min(1, Math.Max(o.Steps is long s ? (double)steps / s : 0, o.Seconds is double t ? seconds / t : 0));

    /// <summary>
    /// Trains from <see cref="StartStep"/> until the budget is spent or <paramref name="stop"/> is cancelled (the current
    /// step finishes, a checkpoint is saved, and the result says Interrupted). <paramref name="step"/>(step, micro) gives
    /// micro-batch <c>micro</c> of 0-based step <c>step</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">another <c>Run</c> is training the same model (on another thread): its
    /// weights, gradients and optimizer would be shared. Inference on one model from many threads is fine; training is one
    /// thread per model.</exception>
    public TrainingResult Run(Func<long, int, StepLoss> step, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (!Training.TryAdd(model, this))
            throw new InvalidOperationException($"Trainer.Run: this {model.GetType().Name} is already being trained by another Trainer.Run (another thread?); " +
                "a model trains on one thread at a time, since its weights and gradients are shared (inference from many threads is fine)");
        try { return RunLoop(step, stop); }
        finally { Training.Remove(model); }
    }

    /// <summary>The models some <see cref="Run"/> is training now.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Module, Trainer> Training = new();

    private TrainingResult RunLoop(Func<long, int, StepLoss> step, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        // Ranks must agree on the schedule and on when to stop: they use rank 0's clock as of the last step.
        double agreed = SecondsBefore;
        double Seconds() => group is null ? SecondsBefore + clock.Elapsed.TotalSeconds : agreed;
        var losses = new List<(long, float)>();
        var evaluations = new List<TrainingReport>();
        var window = new Window();
        var skipped = new List<long>();
        int inARow = 0;
        double lastLog = 0, lastEval = 0, trainSeconds = 0, items = 0;
        long done = StartStep;
        model.Train();
        while (true)
        {
            double t0 = clock.Elapsed.TotalSeconds;
            double lr = LearningRate(done, Seconds());
            var s = OneStep(step, done, lr, stop, clock);
            if (group is not null) agreed = SecondsBefore + s.Rank0Seconds;
            done++;
            trainSeconds += clock.Elapsed.TotalSeconds - t0;
            items += s.Items;
            if (s.Skip is { } why)
            {
                skipped.Add(done);
                Skipped?.Invoke(new SkippedStep(done, why));
                if (++inARow >= o.MaxSkipsInARow) throw Diverged($"{inARow} steps in a row were skipped for a NaN or ∞, the last (step {done}) for {why}");
            }
            else
            {
                inARow = 0;
                losses.Add((done, s.Loss));
                window.Add(s.Loss, s.Items, clock.Elapsed.TotalSeconds - t0, s.Metrics);
                StepDone?.Invoke(new StepInfo(done, s.Loss, Fraction(done, Seconds()), lr, items / Math.Max(1e-9, trainSeconds)));
            }

            bool last = done == o.Steps || (o.Seconds is double budget && Seconds() >= budget), interrupted = group is null ? stop.IsCancellationRequested : s.Stop;
            double now = clock.Elapsed.TotalSeconds;
            bool evaluate = Evaluate is not null && IsMain && !interrupted && (last || Every(done, o.EvalEvery) || (o.EvalEverySeconds > 0 && now - lastEval >= o.EvalEverySeconds));
            bool log = evaluate || last || interrupted || Every(done, o.LogEvery) || (o.LogEverySeconds > 0 && now - lastLog >= o.LogEverySeconds);
            if (log)
            {
                var evaluation = evaluate ? RunEvaluation(done) : null;
                if (evaluate) lastEval = clock.Elapsed.TotalSeconds;
                var report = window.Report(done, o.StepsPerEpoch, Seconds(), Fraction(done, Seconds()), lr, evaluation, last || interrupted);
                if (evaluation is not null) evaluations.Add(report);
                Reported?.Invoke(report);
                lastLog = clock.Elapsed.TotalSeconds;
            }
            if (dir is not null && IsMain && (last || interrupted || Every(done, o.SaveEvery))) Save(done, Seconds());
            if (last || interrupted) return new TrainingResult(interrupted && !last, done, Seconds(), losses, evaluations) { Skipped = skipped };
        }
    }

    private static bool Every(long step, int every) => every > 0 && step % every == 0;

    /// <summary>What one step gives the loop: its shown loss and items (over all ranks), metrics, whether any rank was
    /// asked to stop, and rank 0's clock when the ranks last agreed.</summary>
    private readonly record struct StepOutcome(float Loss, double Items, IReadOnlyDictionary<string, double>? Metrics, bool Stop, double Rank0Seconds, string? Skip = null);

    /// <summary>One optimizer step over <see cref="TrainerOptions.Accumulate"/> micro-batches. With several ranks the
    /// last micro-batch's backward reduces the gradients, and one more small all-reduce sums the shown loss, the items,
    /// the metrics and the stop requests, so that every rank decides the same (diverged, stopped) at the same step.</summary>
    private StepOutcome OneStep(Func<long, int, StepLoss> step, long index, double lr, CancellationToken stop, Stopwatch clock)
    {
        using var scope = Tensor.NewScope();
        Optimizer.Lr = lr;
        Optimizer.ZeroGrad();
        int n = o.Accumulate;
        double shown = 0, items = 0;
        Dictionary<string, double>? metrics = null;
        string? bad = null;
        for (int micro = 0; micro < n; micro++)
        {
            StepLoss s;
            using (o.Reinforce?.Collect()) s = step(index, micro);
            float value = s.Shown ?? s.Loss.Item();
            // With several ranks a non-finite loss is found after the reduction below, on every rank at once.
            if (group is null && !float.IsFinite(value))
            {
                bad = $"the loss of step {index + 1}{(n > 1 ? $" (micro-batch {micro})" : "")}, {value}: first non-finite at " +
                      (NonFinite.Origin(s.Loss, named) ?? "a value computed outside the graph");
                break;
            }
            shown += value / n;
            items += s.Items;
            var loss = s.Loss;
            if (o.Reinforce is { } rl)
                loss = loss + rl.Loss(s.Reward ?? throw new InvalidOperationException("training: REINFORCE attention needs each step's Reward"));
            using (micro < n - 1 ? ddp?.NoSync() : null) (n == 1 ? loss : loss * (1f / n)).Backward();
            foreach (var (k, v) in s.Metrics ?? new Dictionary<string, double>())
                (metrics ??= new())[k] = metrics.GetValueOrDefault(k) + v / n;
        }
        bool stopNow = stop.IsCancellationRequested;
        double rank0Seconds = 0;
        if (group is not null) (shown, items, stopNow, rank0Seconds) = Agree(shown, items, metrics, stopNow, clock.Elapsed.TotalSeconds);
        if (bad is null && group is not null && !double.IsFinite(shown)) bad = $"the loss of step {index + 1}, averaged over the {group.Size} ranks, {shown}";
        if (bad is null && NonFinite.FirstInGradients(named) is { } where) bad = $"{where} at step {index + 1}";
        if (bad is not null)
        {
            if (o.OnNonFinite == NonFinitePolicy.Stop) throw Diverged(bad);
            Optimizer.ZeroGrad();                                    // the skipped step leaves weights and moments as they were
            return new StepOutcome(float.NaN, items, metrics, stopNow, rank0Seconds, bad);
        }
        if (o.ClipNorm > 0) Gradients.ClipGradNorm(parameters, o.ClipNorm);   // finite: checked above
        Optimizer.Step();
        return new StepOutcome((float)shown, items, metrics, stopNow, rank0Seconds);
    }

    /// <summary>Averages the gradients over the ranks, then sums [loss, items, stop, rank 0's seconds, metrics…] over them:
    /// the mean loss and metrics, the total items, whether any rank stops, and rank 0's clock.</summary>
    private (double Shown, double Items, bool Stop, double Rank0Seconds) Agree(double shown, double items, Dictionary<string, double>? metrics, bool stop, double seconds)
    {
        ddp!.FinishGradients();
        var keys = metrics?.Keys.Order(StringComparer.Ordinal).ToArray() ?? [];
        var v = new double[4 + keys.Length];
        (v[0], v[1], v[2], v[3]) = (shown, items, stop ? 1 : 0, group!.Rank == 0 ? seconds : 0);
        for (int i = 0; i < keys.Length; i++) v[4 + i] = metrics![keys[i]];
        group.AllReduceSum(v);
        for (int i = 0; i < keys.Length; i++) metrics![keys[i]] = v[4 + i] / group.Size;
        return (v[0] / group.Size, v[1], v[2] > 0, v[3]);
    }

    private TrainingException Diverged(string what) => new(
        $"training diverged: {what}; the step was not taken{(dir is null ? "" : $" and the last checkpoint in '{dir}' is unchanged")} (try a lower learning rate or look at the data)",
        TrainingProblem.Diverged);

    private IReadOnlyList<Metric> RunEvaluation(long step)
    {
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            return Evaluate!(step);
        }
        finally { model.Train(); }
    }

    private void Save(long step, double seconds)
    {
        if (NonFinite.FirstInParameters(named) is { } p)
            throw new TrainingException($"training: not saving step {step}: parameter '{p}' holds NaN or ∞; the last checkpoint in '{dir}' is unchanged", TrainingProblem.Diverged);
        var extra = new Dictionary<string, string>(o.Extra ?? new Dictionary<string, string>())
        {
            [Checkpoints.StepKey] = step.ToString(CultureInfo.InvariantCulture),
            [Checkpoints.SecondsKey] = seconds.ToString("R", CultureInfo.InvariantCulture),
            [Checkpoints.SeedKey] = Seed.ToString(CultureInfo.InvariantCulture),
        };
        try { Checkpoints.Save(dir!, model, Optimizer, o.ConfigJson, extra); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TrainingException($"training: cannot save the checkpoint of step {step} in '{dir}': {ex.Message}; " +
                $"{(lastSaved > 0 ? $"the checkpoint of step {lastSaved} there is intact" : "nothing was saved")} (resume from it once there is room)", TrainingProblem.CannotSave);
        }
        lastSaved = step;
        Saved?.Invoke(step);
    }

    /// <summary>Unhooks the data-parallel reducer, if any, and frees the optimizer's state tensors; the model and
    /// <see cref="TrainerOptions.Collectives"/> are left to the caller.</summary>
    public void Dispose()
    {
        ddp?.Dispose();
        Optimizer.Dispose();
    }

    /// <summary>Sums since the last report: losses, items, training seconds, metrics.</summary>
    private sealed class Window
    {
        double loss, items, seconds; int count;
        readonly Dictionary<string, double> metrics = new();

        public void Add(float l, double n, double secs, IReadOnlyDictionary<string, double>? m)
        {
            (loss, items, seconds, count) = (loss + l, items + n, seconds + secs, count + 1);
            foreach (var (k, v) in m ?? new Dictionary<string, double>()) metrics[k] = metrics.GetValueOrDefault(k) + v;
        }

        public TrainingReport Report(long step, int perEpoch, double seconds, double fraction, double lr, IReadOnlyList<Metric>? evaluation, bool final)
        {
            var r = new TrainingReport(step, perEpoch > 0 ? (double)step / perEpoch : 0, seconds, fraction, loss / Math.Max(1, count),
                metrics.ToDictionary(p => p.Key, p => p.Value / Math.Max(1, count)), lr, items / Math.Max(1e-9, this.seconds), evaluation, final);
            (loss, items, this.seconds, count) = (0, 0, 0, 0);
            metrics.Clear();
            return r;
        }
    }
}
