using Attend.Cli.Ui;
using Attend.Data;
using Attend.Nn;
using Attend.Training;

namespace Attend.Cli.Translate;

/// <summary>Every step's loss, the dev BLEU curve (step, minutes, BLEU), the test BLEU at the end and the exit code (130: Ctrl-C).</summary>
public sealed record TranslateTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train,
    IReadOnlyList<(int Step, double Minutes, double Bleu)> Dev, double? TestBleu);

/// <summary>
/// <c>attend train translate</c>: a word-level <see cref="Seq2Seq"/> trained by the library's <see cref="Trainer"/> with
/// teacher forcing — cross-entropy, AdamW (decay 0.01 on matrices, betas 0.9/0.98), warmup then a cosine to lr/20 over
/// the steps or the minutes, gradient norm clipped to 1. Batches are length-bucketed: the training pairs are sorted by
/// source length and a batch is B neighbours from a start drawn by <c>SplitMix64.ForStep(seed, step)</c> (so --resume
/// continues exactly). The dev BLEU is greedy decoding of the first pairs of the held-out test set; the test BLEU at the
/// end uses all of it.
/// </summary>
public static class TranslateTraining
{
    /// <param name="heatmap">if given, a PNG of the cross-attention on the first held-out pair, written at the end.</param>
    /// <param name="afterStep">(tests) runs after each step with the steps done.</param>
    public static TranslateTrainResult Run(string data, TrainArgs o, TextWriter log, CancellationToken stop, string? heatmap = null, Action<int>? afterStep = null)
    {
        var preset = TranslatePreset.Get(o.Preset);
        var variant = AttentionChoice.Parse(o.Attention);
        o.CheckBudget();
        var (trainAll, test) = Pairs.Split(Pairs.Load(data));
        var cfg = new TranslateConfig(preset, WordTokenizer.FromTexts(trainAll.Select(p => p.Source)), WordTokenizer.FromTexts(trainAll.Select(p => p.Target)), variant);
        var train = trainAll.Select(p => (Source: cfg.Source.Encode(p.Source), Target: cfg.Target.Encode(p.Target)))
            .Where(p => p.Source.Length is > 0 and <= TranslateConfig.MaxSource && p.Target.Length < TranslateConfig.MaxTarget)
            .OrderBy(p => p.Source.Length).ThenBy(p => p.Target.Length).ToList();
        var dev = test.Take(preset.DevSize).ToList();
        var model = new Seq2Seq(cfg.Model, new Random(o.Seed));
        int B = Cluster.CheckBatch(Math.Min(o.Batch ?? preset.Batch, train.Count));
        var rl = AttentionChoice.Reinforce(variant);
        using var trainer = new Trainer(model, new TrainerOptions
        {
            Steps = o.Steps ?? 100_000, Seconds = o.Seconds, Lr = preset.Lr, MinLr = preset.Lr / 20, WarmupSteps = preset.WarmupSteps,
            Betas = (0.9, 0.98), WeightDecay = 0.01, EvalEvery = o.EvalEvery ?? preset.EvalEvery, SaveEvery = o.SaveEvery ?? preset.SaveEvery,
            CheckpointDir = o.Out, Resume = o.Resume, OnNonFinite = o.OnNan, Seed = (ulong)o.Seed, Reinforce = rl, ConfigJson = cfg.ToJson(), Collectives = Cluster.Collectives,
            Extra = new Dictionary<string, string> { ["data"] = Path.GetFileName(data), ["batch"] = B.ToString(System.Globalization.CultureInfo.InvariantCulture) }, CheckResume = json => CheckResume(json, o.Out, cfg),
        });
        TrainCommand.RequireSameBatch(trainer, B);
        trainer.Evaluate = _ => TranslateTask.Bleu(model, cfg, dev) is var b ? [new Metric("dev BLEU", b, $"{b,5:F1}")] : [];
        if (afterStep is not null) trainer.StepDone += s => afterStep((int)s.Step);
        log.WriteLine($"Data: {Path.GetFileName(data)}, {train.Count:N0} training pairs, {test.Count:N0} held out (dev BLEU on the first {dev.Count}); " +
                      $"vocabularies {cfg.Source.VocabSize:N0} source / {cfg.Target.VocabSize:N0} target words.");
        log.WriteLine($"Model: preset '{preset.Name}', d {preset.DModel}, {preset.Heads} heads, {preset.EncoderLayers}+{preset.DecoderLayers} layers, " +
                      $"{model.ParameterCount:N0} parameters, {variant} attention; AdamW lr {preset.Lr:G3}, batch {B}{Cluster.PerRank(B)}, steps {trainer.StartStep}→{trainer.Options.Steps}" +
                      (o.Minutes is null ? "." : $" or {o.Minutes:G4} minutes."));

        var look = new TrainingLook($"train translate ({preset.Name})", ips => $"{ips / 1000,5:F1}k tok/s");
        var result = TrainingView.Run(log, trainer, look, (step, _) =>
        {
            var batch = trainer.Shard.Take(train.GetRange(SplitMix64.ForStep(trainer.Seed, step).NextInt(train.Count - B + 1), B));   // this rank's part
            var (src, pad) = TranslateTask.SourceIds(batch.Select(p => p.Source).ToArray());          // (B, S)
            var (input, labels) = TranslateTask.TargetIds(batch.Select(p => p.Target).ToArray());    // (B, T)
            var logits = model.Forward(src, pad, input);                                            // (B, T, V)
            var loss = Functional.CrossEntropy(logits.Reshape(-1, cfg.Target.VocabSize), labels.Reshape(-1), ignoreIndex: WordTokenizer.Pad);
            return new StepLoss(loss, src.NumEl + input.NumEl) { Reward = rl is null ? null : Rewards.NegativeTokenLoss(logits, labels, WordTokenizer.Pad) };
        }, stop, o.LossFile);
        var curve = result.Evaluations.Select(r => ((int)r.Step, r.Seconds / 60, r.Evaluation![0].Value)).ToList();
        double? testBleu = null;
        if (!result.Interrupted && trainer.IsMain)   // the held-out BLEU: rank 0 only
        {
            testBleu = TranslateTask.Bleu(model, cfg, test);
            log.WriteLine($"Done: {result.Steps} steps in {result.Seconds / 60:F2} min, checkpoint in {trainer.CheckpointDir}. BLEU on the {test.Count:N0} held-out pairs: {testBleu:F1}");
            log.WriteLine($"Cross-attention on the held-out pairs (all decoder layers, per head): {TranslateTask.CrossAttentionStats(model, cfg, test)}.");
            if (heatmap is not null && test.Count > 0)
            {
                var (srcWords, outWords, w) = TranslateTask.CrossAttention(model, cfg, test[0].Source);
                Heatmap.Write(heatmap, Heatmap.Encode($"{test[0].Source}: cross-attention, head average", outWords, srcWords, w));
                log.WriteLine($"Cross-attention of \"{test[0].Source}\" → \"{string.Join(' ', outWords[..^1])}\": wrote {heatmap}");
            }
        }
        if (curve.Count > 0)
        {
            var table = Terminal.Table(">step", ">minutes", ">dev BLEU");
            foreach (var (step, minutes, bleu) in curve) table.Row($"{step:N0}", $"{minutes:F2}", $"{bleu:F1}");
            if (testBleu is { } tb) table.Row("held-out", "", $"{tb:F1}");
            Terminal.Write(log, table);
        }
        return new TranslateTrainResult(TrainCommand.ExitCode(result, trainer.CheckpointDir, log), result.Losses.Select(l => ((int)l.Step, l.Loss)).ToList(), curve, testBleu);
    }

    static void CheckResume(string json, string dir, TranslateConfig want)
    {
        var have = TranslateConfig.FromJson(json, dir);
        if (have.Variant != want.Variant) throw new CliException($"cannot resume: '{dir}' was trained with {have.Variant} attention, not {want.Variant}");
        if (have.Preset != want.Preset) throw new CliException($"cannot resume: '{dir}' was trained with preset '{have.Preset.Name}', not '{want.Preset.Name}'");
        if (!have.Source.Tokens.SequenceEqual(want.Source.Tokens) || !have.Target.Tokens.SequenceEqual(want.Target.Tokens))
            throw new CliException($"cannot resume: '{dir}' was trained on data with other vocabularies");
    }
}
