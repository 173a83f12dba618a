using System.CommandLine;
using Attend.Training;

namespace Attend.Cli;

/// <summary>What every <c>attend train …</c> command was asked: the checkpoint folder, the preset, the budget (total steps
/// and/or minutes; a resumed run goes on to them), the seed, resume, the evaluation and checkpoint cadence (null: the
/// preset's) and the attention variant.</summary>
public sealed record TrainArgs(string Out, string Preset, int? Steps = null, double? Minutes = null, int Seed = 0, bool Resume = false,
    int? EvalEvery = null, int? SaveEvery = null, string Attention = "soft")
{
    /// <summary>The budget in seconds, if any.</summary>
    public double? Seconds => Minutes * 60;

    /// <summary>Throws unless the budget is positive.</summary>
    public void CheckBudget()
    {
        if (Steps is <= 0) throw new CliException($"--steps must be positive, not {Steps}");
        if (Minutes is <= 0) throw new CliException($"--minutes must be positive, not {Minutes}");
        if (EvalEvery is <= 0 || SaveEvery is <= 0) throw new CliException($"--eval-every and --save-every must be positive");
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

    /// <param name="presets">the preset names, the first the default.</param>
    /// <param name="defaultSteps">the default budget in steps (null: none, e.g. epochs decide).</param>
    public TrainOptionSet(string presetHelp, string[] presets, int? defaultSteps, bool withMinutes, bool withAttention, string? defaultPreset = null)
    {
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
        foreach (Option o in new Option?[] { outDir, preset, steps, minutes, seed, resume, evalEvery, saveEvery, attention }.OfType<Option>()) cmd.Options.Add(o);
    }

    public TrainArgs Read(ParseResult pr) => new(pr.GetValue(outDir)!, pr.GetValue(preset) ?? "", pr.GetValue(steps),
        minutes is null ? null : pr.GetValue(minutes), pr.GetValue(seed), pr.GetValue(resume), pr.GetValue(evalEvery), pr.GetValue(saveEvery),
        attention is null ? "soft" : pr.GetValue(attention)!);
}

/// <summary>How a training command runs: Ctrl-C finishes the current step and saves a checkpoint (exit 130), user
/// errors are one line (exit 2).</summary>
public static class TrainCommand
{
    public static int Run(Func<CancellationToken, int> train)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.Error.WriteLine("stopping: saving a checkpoint…"); };
        Console.CancelKeyPress += onCancel;
        try { return CliChecks.Guard(() => train(cts.Token)); }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>The exit code of a finished run (0, or 130 when stopped), after its last line.</summary>
    public static int ExitCode(TrainingResult r, string? dir, TextWriter log)
    {
        if (!r.Interrupted) return 0;
        log.WriteLine($"Interrupted at step {r.Steps}: checkpoint saved to {dir} (continue with --resume).");
        return 130;
    }
}
