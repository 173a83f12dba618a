using Attend.Attention;

namespace Attend.Training;

/// <summary>Why a run cannot start — bad options, a folder that already holds a checkpoint (resume it, or choose
/// another), a folder in use otherwise (a file, other files in it, not writable), a checkpoint that cannot be resumed —
/// or cannot go on (it diverged).</summary>
public enum TrainingProblem
{
    /// <summary>The options ask for something impossible.</summary>
    Options,
    /// <summary>A fresh run's folder already holds a checkpoint.</summary>
    HoldsCheckpoint,
    /// <summary>The folder is a file, is not empty, or cannot be written.</summary>
    FolderInUse,
    /// <summary>The checkpoint to resume is missing, unreadable or does not fit the model.</summary>
    CannotResume,
    /// <summary>A loss or a gradient became NaN or ∞: the step was not taken and nothing was saved.</summary>
    Diverged,
    /// <summary>A checkpoint could not be written (a full disk, a folder gone): the previous checkpoint is intact.</summary>
    CannotSave,
}

/// <summary>A training run that cannot start or go on (a checkpoint folder in the way, a checkpoint that does not fit):
/// the message says what and where. Nothing has been written when it is thrown before the first step.</summary>
public sealed class TrainingException(string message, TrainingProblem problem = TrainingProblem.Options) : Exception(message)
{
    /// <summary>What kind of problem stopped the run (<see cref="TrainingProblem.Options"/> by default).</summary>
    public TrainingProblem Problem { get; } = problem;
}

/// <summary>
/// What <see cref="Trainer"/> does: the budget, the optimizer (AdamW, decay on matrices only) and its schedule, clipping,
/// accumulation, how often it reports, evaluates and saves, and where. The budget is <see cref="Steps"/>,
/// <see cref="Seconds"/> or both (whichever is reached first); a resumed run goes on to the same totals.
/// <para>Learning rate: linear warmup over <see cref="WarmupSteps"/>, then a cosine from <see cref="Lr"/> to
/// <see cref="MinLr"/> over the budget: r = max((step − warmup) / (Steps − warmup), seconds / Seconds), clamped to 1,
/// <c>lr = MinLr + ½(1 + cos πr)(Lr − MinLr)</c> — so a time budget bends the cosine to the clock.</para>
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Total optimizer steps (null: until <see cref="Seconds"/>).</summary>
    public long? Steps { get; init; }
    /// <summary>Total training time in seconds, evaluations included (null: until <see cref="Steps"/>).</summary>
    public double? Seconds { get; init; }
    /// <summary>Steps per epoch, for reports (0: the data has no epochs).</summary>
    public int StepsPerEpoch { get; init; }

    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 1e-3;
    /// <summary>Where the cosine ends.</summary>
    public double MinLr { get; init; } = 1e-4;
    /// <summary>Steps of linear warmup before the cosine (0, the default: none): step s (0-based) &lt; WarmupSteps uses
    /// <c>Lr·(s + 1)/(WarmupSteps + 1)</c>.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>AdamW's (β₁, β₂), as <c>torch.optim.AdamW</c>'s <c>betas</c>; (0.9, 0.999) by default.</summary>
    public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);
    /// <summary>AdamW's decoupled weight decay, on parameters of rank ≥ 2 only (biases and norms do not decay).</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Clip the global gradient norm to this (0: no clipping).</summary>
    public float ClipNorm { get; init; } = 1f;
    /// <summary>Micro-batches per optimizer step (gradient accumulation); each micro-batch's loss is divided by it.</summary>
    public int Accumulate { get; init; } = 1;
    /// <summary>A step whose loss or gradient holds NaN or ∞: stop the run (the default; no weight, optimizer state or
    /// checkpoint is touched) or skip the step. Either way the message names where it appeared.</summary>
    public NonFinitePolicy OnNonFinite { get; init; } = NonFinitePolicy.Stop;
    /// <summary>With <see cref="NonFinitePolicy.Skip"/>: this many skipped steps in a row stop the run as diverged.</summary>
    public int MaxSkipsInARow { get; init; } = 10;
    /// <summary>A custom learning rate, of (step, fraction of the budget used): replaces the warmup-cosine.</summary>
    public Func<long, double, double>? Schedule { get; init; }

    /// <summary>Steps between reports (0: none but at evaluations and the end).</summary>
    public int LogEvery { get; init; }
    /// <summary>Seconds between reports (0: by steps only).</summary>
    public double LogEverySeconds { get; init; }
    /// <summary>Steps between evaluations (0: only at the end).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Seconds between evaluations (0: by steps only).</summary>
    public double EvalEverySeconds { get; init; }
    /// <summary>Steps between checkpoints (0: only at the end and when stopped).</summary>
    public int SaveEvery { get; init; }

    /// <summary>The checkpoint folder (null: no checkpoints).</summary>
    public string? CheckpointDir { get; init; }
    /// <summary>Continue the checkpoint in <see cref="CheckpointDir"/> (else the folder must not hold one).</summary>
    public bool Resume { get; init; }
    /// <summary>The model's config, stored in every checkpoint (a JSON object).</summary>
    public string ConfigJson { get; init; } = "{}";
    /// <summary>More strings to store in every checkpoint (the data's name, …).</summary>
    public IReadOnlyDictionary<string, string>? Extra { get; init; }
    /// <summary>Checks a checkpoint's config JSON before resuming from it; throws (any exception, its message for the
    /// user) when it does not fit this run.</summary>
    public Action<string>? CheckResume { get; init; }
    /// <summary>The seed of the data order; stored in checkpoints, and a resumed run gets the first run's back
    /// (<see cref="Trainer.Seed"/>) so that its batches continue the same sequence.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Data-parallel training (null: one process): the ranks this one trains with. Each rank's step function takes its
    /// <see cref="Trainer.Shard"/> of the global batch; gradients are averaged over the ranks during the backward
    /// (<see cref="DataParallel"/>), the optimizer steps on every rank, and only rank 0 evaluates and saves. The losses and
    /// items in reports are over all ranks.
    /// </summary>
    public ICollectives? Collectives { get; init; }
    /// <summary>The size of the all-reduce buckets after the first (PyTorch DDP's bucket_cap_mb).</summary>
    public double BucketMegabytes { get; init; } = DataParallel.DefaultBucketMegabytes;

    /// <summary>For models with REINFORCE attention: the collector whose surrogate loss is added to each step's loss,
    /// with the step's <see cref="StepLoss.Reward"/>.</summary>
    public ReinforceAttention? Reinforce { get; init; }
}

/// <summary>What one micro-batch gives the trainer: the loss to minimize, how many items (tokens, images, frames of
/// audio) it covered, and optionally a reward per sequence [B] for REINFORCE attention and metrics to average in reports.
/// The loss shown in reports is <see cref="Shown"/>, by default <see cref="Loss"/>'s value (before the REINFORCE term).</summary>
public sealed record StepLoss(Tensor Loss, double Items = 0)
{
    /// <summary>The loss to report, when it is not the one minimized (e.g. the task's part of a weighted sum).</summary>
    public float? Shown { get; init; }
    /// <summary>One reward per sequence, float32 [B], treated as a constant: required when <see cref="TrainerOptions.Reinforce"/>
    /// is set (it is passed to <see cref="ReinforceAttention.Loss"/>), ignored otherwise.</summary>
    public Tensor? Reward { get; init; }
    /// <summary>Named values to report (accuracy, …): averaged over the step's micro-batches, the ranks and the steps
    /// since the last report (null: none).</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }
}

/// <summary>A measured quantity for reports: its name, value and how to print it ("dev BLEU" 63.4 "63.4").</summary>
public sealed record Metric(string Name, double Value, string Text)
{
    /// <summary>The name and the printed value, e.g. <c>dev BLEU 63.4</c>.</summary>
    public override string ToString() => $"{Name} {Text}";
}

/// <summary>After each optimizer step: its number (1-based), its loss, the fraction of the budget used, the learning rate
/// it used, and the items per second of training so far.</summary>
public sealed record StepInfo(long Step, float Loss, double Fraction, double Lr, double ItemsPerSecond);

/// <summary>
/// A report: the step (1-based) and epoch, seconds trained (with a resumed run's earlier time), the fraction of the budget
/// used, the mean loss and metrics since the last report, the learning rate, the items per second of training since the
/// last report, and the evaluation when one ran at this step. <see cref="Final"/> marks the last report of a run.
/// </summary>
public sealed record TrainingReport(long Step, double Epoch, double Seconds, double Fraction, double Loss,
    IReadOnlyDictionary<string, double> Metrics, double Lr, double ItemsPerSecond, IReadOnlyList<Metric>? Evaluation, bool Final);

/// <summary>How a run ended: interrupted (stopped by its token; a checkpoint was saved) or not, the steps done, seconds
/// trained, every step's loss, and every report that carried an evaluation.</summary>
public sealed record TrainingResult(bool Interrupted, long Steps, double Seconds, IReadOnlyList<(long Step, float Loss)> Losses,
    IReadOnlyList<TrainingReport> Evaluations)
{
    /// <summary>The steps skipped for a NaN or ∞ (<see cref="NonFinitePolicy.Skip"/>), 1-based; their losses are not in
    /// <see cref="Losses"/>.</summary>
    public IReadOnlyList<long> Skipped { get; init; } = [];
}

/// <summary>A step skipped for a NaN or ∞ (<see cref="NonFinitePolicy.Skip"/>): its number (1-based) and what was found where.</summary>
public sealed record SkippedStep(long Step, string Why);
