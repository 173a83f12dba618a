using System.CommandLine;
using Attend.Training;

namespace Attend.Cli;

/// <summary>What every <c>attend train …</c> command was asked: the checkpoint folder, the preset, the budget (total steps
/// and/or minutes; a resumed run goes on to them), the seed, resume, the evaluation and checkpoint cadence (null: the
/// preset's) and the attention variant.</summary>
public sealed record TrainArgs(string Out, string Preset, int? Steps = null, double? Minutes = null, int Seed = 0, bool Resume = false,
    int? EvalEvery = null, int? SaveEvery = null, string Attention = "soft", int? Batch = null, string? LossFile = null,
    NonFinitePolicy OnNan = NonFinitePolicy.Stop)
{
    /// <summary>The budget in seconds, if any.</summary>
    public double? Seconds => Minutes * 60;

    /// <summary>Throws unless the budget is positive.</summary>
    public void CheckBudget()
    {
        if (Steps is <= 0) throw new CliException($"--steps must be positive, not {Steps}");
        if (Minutes is <= 0) throw new CliException($"--minutes must be positive, not {Minutes}");
        if (EvalEvery is <= 0 || SaveEvery is <= 0) throw new CliException($"--eval-every and --save-every must be positive");
        if (Batch is <= 0) throw new CliException($"--batch must be positive, not {Batch}");
    }
}

/// <summary>The options the training commands share, added to a command and read back as <see cref="TrainArgs"/>.</summary>
public sealed class TrainOptionSet
{
    readonly Option<string> outDir = new("--out") { Description = "checkpoint folder (written every few hundred steps, at the end and on Ctrl-C)", Required = true };
    readonly Option<string> preset;
    readonly Option<int?> steps;
    readonly Option<double?>? minutes;
    readonly Option<int> seed = new("--seed") { Description = "seed for the initial weights and the batches", DefaultValueFactory = _ => 0 };
    readonly Option<bool> resume = new("--resume") { Description = "continue the checkpoint in --out (same data and preset) up to the budget" };
    readonly Option<int?> evalEvery = new("--eval-every") { Description = "steps between evaluations (default: the preset's)" };
    readonly Option<int?> saveEvery = new("--save-every") { Description = "steps between checkpoints (default: the preset's)" };
    readonly Option<string>? attention;
    readonly Option<int?>? batch;
    readonly Option<string?> lossFile = new("--loss-file") { Description = "also write every step's training loss to this file (step<TAB>loss; --resume cuts it back to the checkpoint's step and appends)" };
    readonly Option<string> onNan = OnNanOption();

    /// <summary><c>--on-nan stop|skip</c>: a step whose loss or gradient holds NaN or ∞ stops the run (before any weight or
    /// checkpoint changes) or is skipped; either way the message names where it first appeared.</summary>
    public static Option<string> OnNanOption()
    {
        var o = new Option<string>("--on-nan") { Description = "a NaN or ∞ loss or gradient: stop (nothing saved from that step) or skip the step (10 in a row stop)", DefaultValueFactory = _ => "stop" };
        o.AcceptOnlyFromAmong("stop", "skip");
        return o;
    }

    /// <summary>The policy of an <see cref="OnNanOption"/> value.</summary>
    public static NonFinitePolicy Policy(string? value) => value == "skip" ? NonFinitePolicy.Skip : NonFinitePolicy.Stop;

    /// <param name="presets">the preset names, the first the default.</param>
    /// <param name="defaultSteps">the default budget in steps (null: none, e.g. epochs decide).</param>
    /// <param name="withBatch">add --batch (the global batch: split over the ranks under mpirun).</param>
    public TrainOptionSet(string presetHelp, string[] presets, int? defaultSteps, bool withMinutes, bool withAttention, string? defaultPreset = null, bool withBatch = true)
    {
        if (withBatch) batch = new Option<int?>("--batch") { Description = "items per step (default: the preset's); under mpirun the global batch, split over the ranks" };
        preset = new Option<string>("--preset") { Description = presetHelp };
        if (defaultPreset is not null) preset.DefaultValueFactory = _ => defaultPreset;
        preset.AcceptOnlyFromAmong(presets);
        steps = new Option<int?>("--steps") { Description = "total optimizer steps" };
        if (defaultSteps is int d) steps.DefaultValueFactory = _ => d;
        if (withMinutes) minutes = new Option<double?>("--minutes") { Description = "also stop after this many minutes of training (the lr cosine then runs over the time)" };
        if (withAttention) attention = AttentionChoice.Option();
    }

    public void AddTo(Command cmd)
    {
        foreach (Option o in new Option?[] { outDir, preset, steps, minutes, seed, resume, evalEvery, saveEvery, attention, batch, lossFile, onNan }.OfType<Option>()) cmd.Options.Add(o);
    }

    public TrainArgs Read(ParseResult pr) => new(pr.GetValue(outDir)!, pr.GetValue(preset) ?? "", pr.GetValue(steps),
        minutes is null ? null : pr.GetValue(minutes), pr.GetValue(seed), pr.GetValue(resume), pr.GetValue(evalEvery), pr.GetValue(saveEvery),
        attention is null ? "soft" : pr.GetValue(attention)!, batch is null ? null : pr.GetValue(batch), pr.GetValue(lossFile), Policy(pr.GetValue(onNan)));
}

/// <summary>How a training command runs: Ctrl-C finishes the current step and saves a checkpoint (exit 130), user
/// errors are one line (exit 2). Under mpirun (<see cref="Cluster"/>) errors every rank meets alike (bad options, a
/// checkpoint that cannot be resumed, divergence) are printed once by rank 0 and every rank exits 2; any other error
/// ends the whole job (MPI_Abort, exit 3) naming the rank and the step; SIGTERM from mpirun (another rank died, or
/// Ctrl-C reached mpirun) stops at the end of the step when the ranks can still agree, else ends this rank with one line.</summary>
public static class TrainCommand
{
    /// <summary>How long a rank told to stop by mpirun waits for its step to finish before it exits.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    public static int Run(Func<CancellationToken, int> train)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); if (Cluster.IsMain) Console.Error.WriteLine("stopping: saving a checkpoint…"); };
        Console.CancelKeyPress += onCancel;
        using var onTerm = Cluster.Collectives is null ? null : System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; StoppedFromOutside(cts); });
        try { return Cluster.Collectives is null ? CliChecks.Guard(() => train(cts.Token)) : RunRank(train, cts.Token); }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    static int RunRank(Func<CancellationToken, int> train, CancellationToken stop)
    {
        try { return train(stop); }
        catch (Exception ex) when (ex is CliException or TrainingException && (Cluster.Step < 0 || ex is TrainingException { Problem: TrainingProblem.Diverged }))
        {
            if (Cluster.IsMain) Console.Error.WriteLine($"error: {CliChecks.Message(ex)}");
            return 2;
        }
        catch (Exception ex)
        {
            Cluster.Abort(ex is CliException or TrainingException ? CliChecks.Message(ex) : ex.ToString(), 3);
            return 3;
        }
    }

    /// <summary>SIGTERM under mpirun (it follows with SIGKILL about a second later): rank 0 says at once which step ends
    /// and which checkpoint is intact; the ranks are asked to stop after this step (they agree on it in the step's
    /// all-reduce, and rank 0 saves) — if the step cannot finish, because a rank is gone, this rank exits 143.</summary>
    static void StoppedFromOutside(CancellationTokenSource cts)
    {
        if (Cluster.IsMain) { Console.Error.WriteLine(Cluster.EndedFromOutside()); Console.Error.Flush(); }
        cts.Cancel();
        _ = Task.Delay(StopGrace).ContinueWith(_ => Environment.Exit(143), TaskScheduler.Default);
    }

    /// <summary>Refuses to resume with another global <c>--batch</c> than the checkpoint's (stored in its extras as "batch";
    /// older checkpoints have none): the batches of the steps still to come depend on it.</summary>
    public static void RequireSameBatch(Trainer trainer, int batch)
    {
        if (trainer.StartStep > 0 && trainer.ResumedExtra.TryGetValue("batch", out var was) && was != batch.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new CliException($"cannot resume: '{trainer.CheckpointDir}' was trained with --batch {was}, not {batch} (the batches still to come depend on it)");
    }

    /// <summary>The exit code of a finished run (0, or 130 when stopped), after its last line.</summary>
    public static int ExitCode(TrainingResult r, string? dir, TextWriter log)
    {
        if (!r.Interrupted) return 0;
        log.WriteLine($"Interrupted at step {r.Steps}: checkpoint saved to {dir} (continue with --resume).");
        return 130;
    }
}
