using System.Diagnostics;
using Attend.Cli.Ui;
using Attend.Nn;

namespace Attend.Cli.Dates;

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
        var cfg = (preset == "tiny" ? DateConfig.Tiny : DateConfig.Default) with { Attention = AttentionChoice.Parse(attention) };
        if (steps is <= 0 || seconds is <= 0) throw new CliException("--steps and --seconds must be positive");
        CliChecks.RequireWritableFolder(outDir);
        if (steps is null && seconds is null)
        {
            if (preset == "tiny") steps = 150;
            else seconds = 60;
        }

        var model = new Seq2Seq(cfg.Model, new Random(seed));
        int evalCount = preset == "tiny" ? 200 : 2000;
        var heldOut = DateTask.HeldOut(evalCount, seed + 1);
        var probe = heldOut.Take(preset == "tiny" ? 50 : 200).ToList();
        Console.WriteLine($"Normalizing dates: {DateFormats.All.Length} formats, years {DateFormats.First.Year}–{DateFormats.Last.Year}, " +
                          $"{DateFormats.Dates(true).Length} calendar dates held out of training.");
        Console.WriteLine($"Model: encoder-decoder Transformer, d_model {cfg.DModel}, {cfg.Heads} heads, {cfg.EncoderLayers}+{cfg.DecoderLayers} layers, " +
                          $"{model.ParameterCount:N0} parameters, {cfg.Variant} attention; AdamW lr {cfg.Lr:G3}, batch {cfg.Batch}, " +
                          (steps is not null ? $"{steps} steps" : $"{seconds:0} s") + ".");
        Console.WriteLine();

        var result = DateTask.Train(model, cfg, seed, steps, seconds, reportSeconds: preset == "tiny" ? 1 : 5, probe, Console.Out);
        Console.WriteLine($"Trained {result.Steps} steps in {result.Seconds:F1} s (including the probe evaluations).");

        var pred = DateTask.Predict(model, heldOut.Select(e => e.Source).ToArray());
        int correct = heldOut.Where((e, i) => pred[i] == e.Target).Count();
        var table = Terminal.Table("held-out input", "output", "");
        foreach (int i in Enumerable.Range(0, 8))
            table.Row(heldOut[i].Source, pred[i], pred[i] == heldOut[i].Target ? "✓" : "✗ want " + heldOut[i].Target);
        Terminal.Write(Console.Out, table);
        Console.WriteLine($"Exact match on {heldOut.Count:N0} held-out dates: {correct * 100.0 / heldOut.Count:F1}%   (wall time {total.Elapsed.TotalSeconds:F1} s)");
        Console.WriteLine($"Cross-attention on the held-out dates (all decoder layers, per head): {DateTask.CrossAttentionStats(model, heldOut)}.");

        AttentionViews.Show(model, outDir);
        string modelDir = Path.Combine(outDir, "model");
        try { DateTask.Save(model, cfg, modelDir); }
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
