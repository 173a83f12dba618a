using System.Diagnostics;
using Attend.Cli.Dates;
using Attend.Cli.Ui;

namespace Attend.Cli;

/// <summary>
/// The README's main job: train a small encoder-decoder Transformer to normalize dates written 30 ways
/// ("Tuesday 24 Nov 2026", "24/11/26", "November the 24th, 2026" → "2026-11-24") on data generated in code, measure
/// exact match on calendar dates it never saw, and show its cross-attention (terminal grid and PNG heatmaps).
/// </summary>
internal static class Quickstart
{
    public static int Run(string outDir, int seed, int? steps, double? seconds, string preset, string attention = "soft")
    {
        var total = Stopwatch.StartNew();
        var cfg = preset switch { "tiny" => DateConfig.Tiny, "default" => DateConfig.Default, _ => null };
        if (cfg is null) { Console.Error.WriteLine($"error: --preset must be tiny or default, not '{preset}'"); return 2; }
        AttentionVariant variant;
        try { variant = AttentionVariant.Parse(attention); }
        catch (Exception ex) when (ex is FormatException or ArgumentException) { Console.Error.WriteLine($"error: --attention: {ex.Message}"); return 2; }
        cfg = cfg with { Attention = variant };
        if (steps is <= 0 || seconds is <= 0) { Console.Error.WriteLine("error: --steps and --seconds must be positive"); return 2; }
        try { CliChecks.RequireWritableFolder(outDir); }
        catch (CliException ex) { Console.Error.WriteLine($"error: {ex.Message}"); return 2; }
        if (steps is null && seconds is null)
        {
            if (preset == "tiny") steps = 150;
            else seconds = 60;
        }

        var rng = new Random(seed);
        var model = new DateModel(cfg, rng);
        int evalCount = preset == "tiny" ? 200 : 2000;
        var heldOut = DateTraining.HeldOut(evalCount, seed + 1);
        var probe = heldOut.Take(preset == "tiny" ? 50 : 200).ToList();
        Console.WriteLine($"Normalizing dates: {DateFormats.All.Length} formats, years {DateFormats.First.Year}–{DateFormats.Last.Year}, " +
                          $"{DateFormats.Dates(true).Length} calendar dates held out of training.");
        Console.WriteLine($"Model: encoder-decoder Transformer, d_model {cfg.DModel}, {cfg.Heads} heads, {cfg.EncoderLayers}+{cfg.DecoderLayers} layers, " +
                          $"{model.ParameterCount:N0} parameters, {variant} attention; AdamW lr {cfg.Lr:G3}, batch {cfg.Batch}, " +
                          (steps is not null ? $"{steps} steps" : $"{seconds:0} s") + ".");
        Console.WriteLine();

        DateProgress? lastReport = null;
        var losses = TrainingProgress.Run(Console.Out, "quickstart", bar => DateTraining.Train(model, rng, steps, seconds, reportEvery: preset == "tiny" ? 1 : 5, probe,
            p =>
            {
                lastReport = p;
                bar.Line($"  step {p.Step,5}  loss {p.Loss:F4}  lr {p.Lr:0.0e+0}  {p.TokensPerSecond / 1000,5:F1}k tok/s  " +
                         $"held-out {p.ProbeAccuracy * 100,5:F1}%  {p.Seconds,6:F1} s  {bar.Eta}");
            },
            (step, fraction, loss, tokensPerSecond) => bar.Update(fraction, $"step {step}  loss {loss:F3}  {tokensPerSecond / 1000:F1}k tok/s")));
        Console.WriteLine($"Trained {losses.Count} steps in {lastReport?.Seconds ?? 0:F1} s (including the probe evaluations).");

        var pred = DateTraining.Predict(model, heldOut.Select(e => e.Source).ToArray());
        int correct = heldOut.Where((e, i) => pred[i] == e.Target).Count();
        var table = Terminal.Table("held-out input", "output", "");
        foreach (int i in Enumerable.Range(0, 8))
            table.Row(heldOut[i].Source, pred[i], pred[i] == heldOut[i].Target ? "✓" : "✗ want " + heldOut[i].Target);
        Terminal.Write(Console.Out, table);
        Console.WriteLine($"Exact match on {heldOut.Count:N0} held-out dates: {correct * 100.0 / heldOut.Count:F1}%   (wall time {total.Elapsed.TotalSeconds:F1} s)");
        Console.WriteLine($"Cross-attention on the held-out dates (all decoder layers, per head): {model.CrossAttentionStats(heldOut)}.");

        AttentionViews.Show(model, outDir);
        string modelDir = Path.Combine(outDir, "model");
        try { Explain.DateCheckpoint.Save(model, modelDir); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: could not save the model to {modelDir}: {ex.Message}");
            return 1;
        }
        Console.WriteLine($"Saved the model to {modelDir} (look inside it: attend explain --model {modelDir} --input \"{AttentionViews.Examples()[0]}\").");
        Console.WriteLine($"Done in {total.Elapsed.TotalSeconds:F1} s.");
        return 0;
    }
}
