using Attend.Training;

namespace Attend.Cli.Ui;

/// <summary>How a task's training looks: the progress bar's title, how its throughput reads ("12.3k tok/s"), the loss's
/// format, and whether reports show epochs and time in seconds (short runs) or minutes.</summary>
public sealed record TrainingLook(string Title, Func<double, string> Throughput, string LossFormat = "F3", bool Epochs = false, bool Seconds = false);

/// <summary>
/// Renders a <see cref="Trainer"/>'s events on a <see cref="TrainingProgress"/>: every step updates the bar's status
/// (step, loss, throughput), every report prints one line —
/// <code>  step   2000  [epoch 12.00]  loss 1.234  [ctc 0.123]  lr 2.0e-4  12.3k tok/s  [evaluation]  4.93 min  ETA 0:00</code>
/// — so a terminal shows a live bar under the log and a redirected log tells the same story.
/// </summary>
public static class TrainingView
{
    /// <param name="lossFile">when given, rank 0 appends "step&lt;TAB&gt;loss" for every step to it (created for a fresh run).</param>
    public static TrainingResult Run(TextWriter log, Trainer trainer, TrainingLook look, Func<long, int, StepLoss> step, CancellationToken stop, string? lossFile = null) =>
        TrainingProgress.Run(log, look.Title, bar =>
        {
            string total = trainer.Options.Steps is long s && s < 100_000 ? $"/{s}" : "";
            (Cluster.CheckpointDir, Cluster.Step, Cluster.SavedStep) = (trainer.CheckpointDir, trainer.StartStep, trainer.StartStep > 0 ? trainer.StartStep : null);   // from here an error may be one rank's alone
            void OnSaved(long step) => Cluster.SavedStep = step;
            using var losses = lossFile is null || !trainer.IsMain ? null : OpenLossFile(lossFile, trainer.StartStep);
            void OnStep(StepInfo i)
            {
                Cluster.Step = i.Step;
                bar.Update(i.Fraction, $"step {i.Step}{total}  loss {i.Loss.ToString(look.LossFormat)}  {look.Throughput(i.ItemsPerSecond)}");
                if (losses is null) return;
                losses.WriteLine($"{i.Step}\t{i.Loss.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
                losses.Flush();
            }
            void OnReport(TrainingReport r) => bar.Line(Line(r, look, bar.Eta));
            void OnSkipped(SkippedStep s) { Cluster.Step = s.Step; bar.Line($"  step {s.Step,6}  skipped (--on-nan skip): {s.Why}"); }
            trainer.StepDone += OnStep;
            trainer.Reported += OnReport;
            trainer.Saved += OnSaved;
            trainer.Skipped += OnSkipped;
            try { return trainer.Run(step, stop); }
            finally { trainer.StepDone -= OnStep; trainer.Reported -= OnReport; trainer.Saved -= OnSaved; trainer.Skipped -= OnSkipped; }
        });

    /// <summary>The loss file, new for a fresh run; for a run resumed at <paramref name="resumedAt"/>, cut back first to the
    /// complete lines of steps ≤ it (a killed run may have written later steps, or half a line), so that the file ends up
    /// as an uninterrupted run's.</summary>
    static StreamWriter OpenLossFile(string path, long resumedAt)
    {
        try
        {
            if (resumedAt > 0 && File.Exists(path))
            {
                var text = File.ReadAllText(path);
                var kept = text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Where(l => long.TryParse(l.Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture, out long s) && s <= resumedAt);
                string temp = path + ".tmp";
                File.WriteAllText(temp, string.Concat(kept.Select(l => l + "\n")));
                File.Move(temp, path, overwrite: true);
            }
            return new StreamWriter(path, append: resumedAt > 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"--loss-file '{path}': {e.Message}"); }
    }

    /// <summary>One report as a log line.</summary>
    public static string Line(TrainingReport r, TrainingLook look, string eta)
    {
        var parts = new List<string> { $"  step {r.Step,6}" };
        if (look.Epochs) parts.Add($"epoch {r.Epoch,6:F2}");
        parts.Add($"loss {r.Loss.ToString(look.LossFormat)}");
        parts.AddRange(r.Metrics.Select(m => $"{m.Key} {m.Value:F3}"));
        parts.Add($"lr {r.Lr:0.0e+0}");
        parts.Add(look.Throughput(r.ItemsPerSecond));
        if (r.Evaluation is { } ev) parts.AddRange(ev.Select(m => m.ToString()));
        parts.Add(look.Seconds ? $"{r.Seconds,6:F1} s" : $"{r.Seconds / 60,6:F2} min");
        parts.Add(eta);
        return string.Join("  ", parts);
    }
}
