using System.Diagnostics;
using System.Globalization;
using Attend.Cli.Lm;
using Attend.Cli.Ui;
using Attend.IO;
using Attend.Optim;
using F = Attend.Functional;

namespace Attend.Cli.Translate;

/// <summary>What <c>attend train translate</c> was asked to do. <paramref name="Steps"/> is the total (a resumed run goes
/// on to it); <paramref name="Minutes"/>, when given, also stops the run and the cosine then runs over the time.
/// <paramref name="Attention"/> is the attention variant (<see cref="AttentionVariant.Parse"/>); <paramref name="Heatmap"/>,
/// when given, is a PNG of the cross-attention on the first held-out pair, written at the end.</summary>
public sealed record TranslateTrainOptions(string Data, string Out, string Preset, int Steps, double? Minutes, int Seed, bool Resume,
    int? EvalEvery = null, int? SaveEvery = null, string Attention = "soft", string? Heatmap = null);

/// <summary>Every step's loss, the dev BLEU curve (step, minutes, BLEU), the test BLEU at the end and the exit code (130: Ctrl-C).</summary>
public sealed record TranslateTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train,
    IReadOnlyList<(int Step, double Minutes, double Bleu)> Dev, double? TestBleu);

/// <summary>
/// Trains a <see cref="TranslateModel"/> with teacher forcing: cross-entropy, AdamW (decay 0.01 on matrices, betas
/// 0.9/0.98), warmup then a cosine to lr/20, gradient norm clipped to 1. Batches are length-bucketed: the training pairs are
/// sorted by source length and a batch is B neighbours from a random start, drawn by a <see cref="SplitMix64"/> whose
/// state the checkpoint keeps (so --resume continues exactly). The dev BLEU is greedy decoding of the first pairs of the
/// held-out test set; the test BLEU at the end uses all of it. Ctrl-C (<c>stop</c>) finishes the step, saves and returns 130;
/// <c>afterStep</c> (tests) runs after each step with the number of steps done.
/// </summary>
public static class TranslateTraining
{
    public static TranslateTrainResult Run(TranslateTrainOptions o, TextWriter log, CancellationToken stop, Action<int>? afterStep = null)
    {
        var preset = TranslatePreset.Get(o.Preset);
        if (o.Steps <= 0) throw new TranslateException($"--steps must be positive, not {o.Steps}");
        var variant = AttentionChoice.Parse(o.Attention, m => new TranslateException(m));
        var (trainAll, test) = Pairs.Split(Pairs.Load(o.Data));
        var cfg = new TranslateConfig(preset, Vocab.FromTexts(trainAll.Select(p => p.Source)), Vocab.FromTexts(trainAll.Select(p => p.Target)), variant);
        var train = trainAll.Select(p => (Source: cfg.Source.Encode(p.Source), Target: cfg.Target.Encode(p.Target)))
            .Where(p => p.Source.Length is > 0 and <= TranslateModel.MaxSource && p.Target.Length < TranslateModel.MaxTarget)
            .OrderBy(p => p.Source.Length).ThenBy(p => p.Target.Length).ToList();
        var dev = test.Take(preset.DevSize).ToList();
        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.Out));

        using var resumed = o.Resume ? LoadForResume(dir, cfg) : null;
        if (!o.Resume) CheckFreshOutput(dir);
        CliChecks.RequireWritableFolder(dir);
        int start = resumed is null ? 0 : int.Parse(resumed.Extra["step"], CultureInfo.InvariantCulture);
        double secondsBefore = resumed is null ? 0 : double.Parse(resumed.Extra["seconds"], CultureInfo.InvariantCulture);
        if (start >= o.Steps) throw new TranslateException($"the checkpoint in '{dir}' is already at step {start}: give --steps above it");
        var rng = new SplitMix64(resumed is null ? (ulong)o.Seed : ulong.Parse(resumed.Extra["rng_state"], CultureInfo.InvariantCulture));

        var model = new TranslateModel(cfg, new Random(o.Seed));
        using var opt = new AdamW(AdamW.Groups(model.NamedParameters(), weightDecay: 0.01), lr: preset.Lr, betas: (0.9, 0.98));
        if (resumed is not null)
        {
            model.LoadStateDict(resumed.Weights);
            opt.LoadStateDict(resumed.OptimizerState!);
        }
        var parameters = model.Parameters().ToArray();
        int B = Math.Min(preset.Batch, train.Count), evalEvery = o.EvalEvery ?? preset.EvalEvery, saveEvery = o.SaveEvery ?? preset.SaveEvery;
        log.WriteLine($"Data: {Path.GetFileName(o.Data)}, {train.Count:N0} training pairs, {test.Count:N0} held out (dev BLEU on the first {dev.Count}); " +
                      $"vocabularies {cfg.Source.Size:N0} source / {cfg.Target.Size:N0} target words.");
        log.WriteLine($"Model: preset '{preset.Name}', d {preset.DModel}, {preset.Heads} heads, {preset.EncoderLayers}+{preset.DecoderLayers} layers, " +
                      $"{model.ParameterCount:N0} parameters, {variant} attention; AdamW lr {preset.Lr:G3}, batch {B}, steps {start}→{o.Steps}" +
                      (o.Minutes is null ? "." : $" or {o.Minutes:G4} minutes."));

        var result = TrainingProgress.Run(log, $"train translate ({preset.Name})", Loop);
        if (result.Dev.Count > 0)
        {
            var table = Terminal.Table(">step", ">minutes", ">dev BLEU");
            foreach (var (step, minutes, bleu) in result.Dev) table.Row($"{step:N0}", $"{minutes:F2}", $"{bleu:F1}");
            if (result.TestBleu is { } tb) table.Row("held-out", "", $"{tb:F1}");
            Terminal.Write(log, table);
        }
        return result;

        TranslateTrainResult Loop(TrainingProgress p)
        {
            var sw = Stopwatch.StartNew();
            double Seconds() => secondsBefore + sw.Elapsed.TotalSeconds;
            double Progress(int step) => Math.Max((double)step / o.Steps, o.Minutes is null ? 0 : Seconds() / 60 / o.Minutes.Value);
            double LrAt(int step) => step < preset.WarmupSteps ? preset.Lr * (step + 1) / (preset.WarmupSteps + 1)
                : Schedules.WarmupCosine((long)(Math.Min(Progress(step), 1) * 1_000_000), preset.Lr, 0, 1_000_000, preset.Lr / 20);
            var losses = new List<(int, float)>();
            var curve = new List<(int, double, double)>();
            void Save(int step)
            {
                var state = opt.StateDict();
                try
                {
                    Checkpoint.Save(dir, model.StateDict(), state, cfg.ToJson(), new Dictionary<string, string>
                    {
                        ["step"] = step.ToString(CultureInfo.InvariantCulture), ["rng_state"] = rng.State.ToString(CultureInfo.InvariantCulture),
                        ["seconds"] = Seconds().ToString("R", CultureInfo.InvariantCulture), ["seed"] = o.Seed.ToString(CultureInfo.InvariantCulture),
                        ["data"] = Path.GetFileName(o.Data),
                    });
                }
                finally { foreach (var t in state.Values) t.Dispose(); }
            }

            double lossSum = 0; int lossCount = 0, done = start; long tokens = 0;
            var rl = variant.Kind == AttentionKind.Reinforce ? new ReinforceAttention() : null;
            model.Train();
            while (done < o.Steps)
            {
                using (Tensor.NewScope())
                {
                    opt.Lr = LrAt(done);
                    int from = rng.NextInt(train.Count - B + 1);
                    var batch = train.GetRange(from, B);
                    var (src, pad) = TranslateModel.SourceIds(batch.Select(p => p.Source).ToArray());    // (B, S)
                    var (input, labels) = TranslateModel.TargetIds(batch.Select(p => p.Target).ToArray()); // (B, T)
                    Tensor logits;
                    using (rl?.Collect()) logits = model.Forward(src, pad, input);              // (B, T, V)
                    var loss = F.CrossEntropy(logits.Reshape(-1, cfg.Target.Size), labels.Reshape(-1), ignoreIndex: Vocab.Pad);
                    float l = loss.Item();
                    // REINFORCE attention: each sentence's reward is minus its mean token cross-entropy.
                    if (rl is not null) loss = loss + rl.Loss(AttentionChoice.Reward(logits, labels, Vocab.Pad));
                    opt.ZeroGrad();
                    loss.Backward();
                    Gradients.ClipGradNorm(parameters, 1f);
                    opt.Step();
                    losses.Add((done + 1, l));
                    (lossSum, lossCount) = (lossSum + l, lossCount + 1);
                    tokens += src.NumEl + input.NumEl;
                    p.Update(Progress(done + 1), $"step {done + 1}/{o.Steps}  loss {l:F3}  {tokens / Math.Max(1e-9, sw.Elapsed.TotalSeconds) / 1000:F1}k tok/s");
                }
                done++;
                afterStep?.Invoke(done);
                bool outOfTime = o.Minutes is not null && Seconds() >= o.Minutes * 60;
                bool last = done == o.Steps || outOfTime, interrupted = stop.IsCancellationRequested;
                if (done % evalEvery == 0 || last)
                {
                    double bleu = Evaluate(model, dev);
                    curve.Add((done, Seconds() / 60, bleu));
                    p.Line($"  step {done,6}  loss {lossSum / lossCount:F3}  lr {opt.Lr:0.0e+0}  dev BLEU {bleu,5:F1}  {Seconds() / 60,6:F2} min  {p.Eta}");
                    (lossSum, lossCount) = (0, 0);
                }
                if (done % saveEvery == 0 || last || interrupted) Save(done);
                if (interrupted)
                {
                    p.Line($"Interrupted at step {done}: checkpoint saved to {dir} (continue with --resume).");
                    return new TranslateTrainResult(130, losses, curve, null);
                }
                if (outOfTime) break;
            }
            double trainMinutes = Seconds() / 60;
            double testBleu = Evaluate(model, test);
            p.Line($"Done: {done} steps in {trainMinutes:F2} min, checkpoint in {dir}. BLEU on the {test.Count:N0} held-out pairs: {testBleu:F1}");
            p.Line($"Cross-attention on the held-out pairs (all decoder layers, per head): {model.CrossAttentionStats(test)}.");
            if (o.Heatmap is { } png && test.Count > 0)
            {
                var (srcWords, outWords, w) = model.CrossAttention(test[0].Source);
                AttentionPng.Write(png, srcWords, outWords, w);
                p.Line($"Cross-attention of \"{test[0].Source}\" → \"{string.Join(' ', outWords[..^1])}\": wrote {png}");
            }
            return new TranslateTrainResult(0, losses, curve, testBleu);
        }
    }

    /// <summary>Greedy translations of the sources, decoded in length-sorted chunks of 100.</summary>
    public static string[] Predict(TranslateModel model, IReadOnlyList<string> sources)
    {
        var order = Enumerable.Range(0, sources.Count).OrderBy(i => sources[i].Length).ToArray();
        var result = new string[sources.Count];
        foreach (var chunk in order.Chunk(100))
        {
            var outs = model.Greedy(chunk.Select(i => sources[i]).ToArray());
            for (int j = 0; j < chunk.Length; j++) result[chunk[j]] = outs[j];
        }
        return result;
    }

    /// <summary>Corpus BLEU of greedy translations of <paramref name="pairs"/>.</summary>
    public static double Evaluate(TranslateModel model, IReadOnlyList<Pair> pairs) =>
        Bleu.Corpus(Predict(model, pairs.Select(p => p.Source).ToArray()), pairs.Select(p => p.Target).ToArray());

    /// <summary>Loads a model for translation from a checkpoint folder.</summary>
    public static TranslateModel Load(string dir)
    {
        using var data = CliChecks.LoadTrainedCheckpoint(dir, m => new TranslateException(m), "attend train translate --data PAIRS.tsv");
        var model = new TranslateModel(TranslateConfig.FromJson(data.ConfigJson, dir), new Random(0));
        model.LoadStateDict(data.Weights);
        model.Eval();
        return model;
    }

    static CheckpointData LoadCheckpoint(string dir) => CliChecks.LoadCheckpoint(dir, m => new TranslateException(m));

    static CheckpointData LoadForResume(string dir, TranslateConfig want)
    {
        var data = LoadCheckpoint(dir);
        try
        {
            var have = TranslateConfig.FromJson(data.ConfigJson, dir);
            if (have.Variant != want.Variant) throw new TranslateException($"cannot resume: '{dir}' was trained with {have.Variant} attention, not {want.Variant}");
            if (have.Preset != want.Preset) throw new TranslateException($"cannot resume: '{dir}' was trained with preset '{have.Preset.Name}', not '{want.Preset.Name}'");
            if (!have.Source.Tokens.SequenceEqual(want.Source.Tokens) || !have.Target.Tokens.SequenceEqual(want.Target.Tokens))
                throw new TranslateException($"cannot resume: '{dir}' was trained on data with other vocabularies");
            if (data.OptimizerState is null || !data.Extra.ContainsKey("step") || !data.Extra.ContainsKey("rng_state") || !data.Extra.ContainsKey("seconds"))
                throw new TranslateException($"cannot resume: '{dir}' has no optimizer state, step or generator state");
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    static void CheckFreshOutput(string dir) => CliChecks.RequireFreshCheckpointFolder(dir, m => new TranslateException(m));
}
