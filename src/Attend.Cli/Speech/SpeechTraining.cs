using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Attend.Cli.Lm;
using Attend.Cli.Ui;
using Attend.IO;
using Attend.Optim;
using F = Attend.Functional;

namespace Attend.Cli.Speech;

/// <summary>What <c>attend train speech</c> was asked to do. <paramref name="Steps"/> is the total (a resumed run goes on to
/// it); <paramref name="Minutes"/>, when given, also stops the run and the cosine then runs over the time.</summary>
public sealed record SpeechTrainOptions(string Out, string Preset, int Steps, double? Minutes, int Seed, bool Resume,
    int? EvalEvery = null, int? SaveEvery = null, int? TestSize = null);

/// <summary>Every step's loss, the dev curve (step, minutes, WER, median alignment error of the DTW phoneme starts), the
/// held-out score at the end and the exit code (130: Ctrl-C).</summary>
public sealed record SpeechTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train,
    IReadOnlyList<(int Step, double Minutes, double Wer, double AlignMs)> Dev, SpeechScore? Test);

/// <summary>
/// Trains a <see cref="SpeechModel"/> on utterances synthesized on the fly (<see cref="SpeechData"/>): teacher-forced
/// cross-entropy plus 0.3 × CTC on the encoder (the printed loss is the cross-entropy), AdamW (decay 0.01 on matrices, betas 0.9/0.98), warmup then a cosine to lr/20, gradient norm clipped to 1.
/// A background thread synthesizes the next batches while the current one trains; every batch is drawn from one
/// <see cref="SplitMix64"/> in order, and the checkpoint keeps the generator's state after the last batch trained on, so
/// --resume continues with exactly the batches an uninterrupted run would have seen. Dev and test utterances come from
/// the held-out voices with fixed seeds (the same for every run). Ctrl-C (<c>stop</c>) finishes the step, saves, returns 130.
/// </summary>
public static class SpeechTraining
{
    const ulong DevSeed = 7_000_001, TestSeed = 7_000_002;
    /// <summary>loss = cross-entropy + 0.3 · CTC (the hybrid CTC/attention weighting of Watanabe et al. 2017): the CTC head
    /// makes the encoder find the phonemes early, which the decoder's cross-attention then learns to follow.</summary>
    const float CtcWeight = 0.3f;

    /// <summary>Targets padded (B, L) int64 for ctc_loss (the padding is never read: the lengths stop before it).</summary>
    static Tensor CtcTargets(long[][] targets)
    {
        int B = targets.Length, L = Math.Max(1, targets.Max(t => t.Length));
        var ids = new long[B * L];
        for (int b = 0; b < B; b++) Array.Copy(targets[b], 0, ids, b * L, targets[b].Length);
        return Tensor.FromArray(ids, new[] { B, L });
    }

    sealed record Batch(SpeechExample[] Examples, long[][] Targets, ulong RngAfter);

    public static SpeechTrainResult Run(SpeechTrainOptions o, TextWriter log, CancellationToken stop, Action<int>? afterStep = null)
    {
        var preset = SpeechPreset.Get(o.Preset);
        if (o.Steps <= 0) throw new SpeechException($"--steps must be positive, not {o.Steps}");
        Espeak.EnsureAvailable();
        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.Out));
        var cfg = new SpeechConfig(preset, SpeechVocab.Build());

        using var resumed = o.Resume ? LoadForResume(dir, cfg) : null;
        if (!o.Resume) CheckFreshOutput(dir);
        int start = resumed is null ? 0 : int.Parse(resumed.Extra["step"], CultureInfo.InvariantCulture);
        double secondsBefore = resumed is null ? 0 : double.Parse(resumed.Extra["seconds"], CultureInfo.InvariantCulture);
        if (start >= o.Steps) throw new SpeechException($"the checkpoint in '{dir}' is already at step {start}: give --steps above it");
        ulong rngState = resumed is null ? (ulong)o.Seed : ulong.Parse(resumed.Extra["rng_state"], CultureInfo.InvariantCulture);
        int dataSeed = resumed is null ? o.Seed : int.Parse(resumed.Extra["seed"], CultureInfo.InvariantCulture);   // the first run's

        var model = new SpeechModel(cfg, new Random(o.Seed));
        using var opt = new AdamW(AdamW.Groups(model.NamedParameters(), weightDecay: 0.01), lr: preset.Lr, betas: (0.9, 0.98));
        if (resumed is not null)
        {
            model.LoadStateDict(resumed.Weights);
            opt.LoadStateDict(resumed.OptimizerState!);
        }
        var parameters = model.Parameters().ToArray();
        int evalEvery = o.EvalEvery ?? preset.EvalEvery, saveEvery = o.SaveEvery ?? preset.SaveEvery, testSize = o.TestSize ?? preset.TestSize;
        var dev = DevExamples(preset.DevSize);
        int phonemes = cfg.Vocab.Tokens.Count(t => t.Length > 0 && t[0] != '<' && !SpeechVocab.IsWord(t));
        log.WriteLine($"Data: espeak-ng, {SpeechData.Voices(false).Length} training voices ({SpeechData.Accents.Length} accents × {SpeechData.TrainVariants.Length} variants), " +
                      $"{SpeechData.Voices(true).Length} held out (variants {string.Join(", ", SpeechData.HeldOutVariants)}); {phonemes} phonemes + {SpeechData.Words.Length} words; " +
                      $"dev: {dev.Length} held-out utterances.");
        if (resumed is not null && start > 0)
            log.WriteLine($"Resuming at step {start}: replaying the {(long)start * preset.Batch:N0} utterances espeak-ng spoke before it (its output depends on them).");
        log.WriteLine($"Model: preset '{preset.Name}', d {preset.DModel}, {preset.Heads} heads, {preset.EncoderLayers}+{preset.DecoderLayers} layers, " +
                      $"{model.ParameterCount:N0} parameters; AdamW lr {preset.Lr:G3}, batch {preset.Batch}, steps {start}→{o.Steps}" +
                      (o.Minutes is null ? "." : $" or {o.Minutes:G4} minutes."));

        (int Layer, int Head, double Ms)? bestHead = null;
        var result = TrainingProgress.Run(log, $"train speech ({preset.Name})", Loop);
        if (result.Dev.Count > 0)
        {
            var table = Terminal.Table(">step", ">minutes", ">dev WER %", ">dev align ms");
            foreach (var (step, minutes, wer, ms) in result.Dev) table.Row($"{step:N0}", $"{minutes:F2}", $"{100 * wer:F1}", $"{ms:F0}");
            Terminal.Write(log, table);
        }
        if (result.Test is { } t) Terminal.Write(log, ScoreTable(t, "held-out voices", bestHead));
        return result;

        SpeechTrainResult Loop(TrainingProgress p)
        {
            var sw = Stopwatch.StartNew();
            double Seconds() => secondsBefore + sw.Elapsed.TotalSeconds;
            double Progress(int step) => Math.Max((double)step / o.Steps, o.Minutes is null ? 0 : Seconds() / 60 / o.Minutes.Value);
            double LrAt(int step) => step < preset.WarmupSteps ? preset.Lr * (step + 1) / (preset.WarmupSteps + 1)
                : Schedules.WarmupCosine((long)(Math.Min(Progress(step), 1) * 1_000_000), preset.Lr, 0, 1_000_000, preset.Lr / 20);
            var losses = new List<(int, float)>();
            var curve = new List<(int, double, double, double)>();
            ulong consumed = rngState;                       // the generator's state after the last batch trained on
            void Save(int step)
            {
                var state = opt.StateDict();
                try
                {
                    Checkpoint.Save(dir, model.StateDict(), state, cfg.ToJson(), new Dictionary<string, string>
                    {
                        ["step"] = step.ToString(CultureInfo.InvariantCulture), ["rng_state"] = consumed.ToString(CultureInfo.InvariantCulture),
                        ["seconds"] = Seconds().ToString("R", CultureInfo.InvariantCulture), ["seed"] = dataSeed.ToString(CultureInfo.InvariantCulture),
                    });
                }
                finally { foreach (var t in state.Values) t.Dispose(); }
            }

            using var producerStop = new CancellationTokenSource();
            Exception? failure = null;
            using var queue = new BlockingCollection<Batch>(boundedCapacity: 2);
            var producer = Task.Run(() =>
            {
                var rng = new SplitMix64(rngState);
                try
                {
                    if (resumed is not null)
                    {
                        // espeak-ng's output depends on what it spoke before: replay the checkpoint's utterances, then check
                        // that the generator arrived where the checkpoint says (exact resume)
                        rng = new SplitMix64((ulong)dataSeed);
                        for (long i = 0; i < (long)start * preset.Batch; i++) SpeechData.Replay(rng, heldOut: false);
                        if (rng.State != rngState) throw new SpeechException($"cannot resume exactly: replaying {start} batches did not reach the checkpoint's generator state");
                    }
                    while (!producerStop.IsCancellationRequested)
                    {
                        var ex = Enumerable.Range(0, preset.Batch).Select(_ => SpeechData.Make(rng, heldOut: false)).ToArray();
                        queue.Add(new Batch(ex, ex.Select(e => cfg.Vocab.Encode(e.Words, e.Phones).Ids).ToArray(), rng.State), producerStop.Token);
                    }
                }
                catch (OperationCanceledException) { }
                catch (Exception ex) { failure = ex; }
                finally { queue.CompleteAdding(); }
            });
            try
            {
                double lossSum = 0, ctcSum = 0; int lossCount = 0, done = start; long frames = 0;
                model.Train();
                while (done < o.Steps)
                {
                    if (!queue.TryTake(out var batch, Timeout.Infinite))
                        throw failure is SpeechException se ? new SpeechException(se.Message) : new InvalidOperationException("the batch producer stopped", failure);
                    using (Tensor.NewScope())
                    {
                        opt.Lr = LrAt(done);
                        var (mel, pad) = SpeechModel.Batch(batch.Examples.Select(e => (e.Features, e.Frames)).ToArray(), model.Subsampling);   // (B, F, 80), (B, S)
                        var (input, labels) = SpeechModel.Targets(batch.Targets);                                          // (B, T)
                        var memory = model.Encode(mel, pad);                                                                // (B, S, E)
                        var logits = model.Decode(memory, pad, input);                                                     // (B, T, V)
                        var ce = F.CrossEntropy(logits.Reshape(-1, cfg.Vocab.Size), labels.Reshape(-1), ignoreIndex: SpeechVocab.Pad);
                        var ctc = F.CtcLoss(model.CtcLogProbs(memory), CtcTargets(batch.Targets),
                            batch.Examples.Select(e => (e.Frames + model.Subsampling - 1) / model.Subsampling).ToArray(),
                            batch.Targets.Select(t => t.Length).ToArray(), blank: SpeechVocab.Pad, zeroInfinity: true);
                        var loss = ce + ctc * CtcWeight;
                        opt.ZeroGrad();
                        loss.Backward();
                        Gradients.ClipGradNorm(parameters, 1f);
                        opt.Step();
                        float l = ce.Item();
                        losses.Add((done + 1, l));
                        (lossSum, ctcSum, lossCount) = (lossSum + l, ctcSum + ctc.Item(), lossCount + 1);
                        frames += batch.Examples.Sum(e => e.Frames);
                        consumed = batch.RngAfter;
                        p.Update(Progress(done + 1), $"step {done + 1}/{o.Steps}  loss {l:F3}  {frames / 100.0 / Math.Max(1e-9, sw.Elapsed.TotalSeconds):F1} s of audio/s");
                    }
                    done++;
                    afterStep?.Invoke(done);
                    bool outOfTime = o.Minutes is not null && Seconds() >= o.Minutes * 60;
                    bool last = done == o.Steps || outOfTime, interrupted = stop.IsCancellationRequested;
                    if (done % evalEvery == 0 || last)
                    {
                        var s = SpeechEval.Score(model, dev);
                        curve.Add((done, Seconds() / 60, s.Wer, s.DtwMedianMs));
                        p.Line($"  step {done,6}  loss {lossSum / lossCount:F3}  ctc {ctcSum / lossCount:F3}  lr {opt.Lr:0.0e+0}  dev WER {100 * s.Wer,5:F1}%  align {s.DtwMedianMs,3:F0} ms (peak {s.MedianErrorMs[^1],3:F0}, best head {s.HeadMedianMs.SelectMany(h => h).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Min(),3:F0})  {Seconds() / 60,6:F2} min  {p.Eta}");
                        (lossSum, ctcSum, lossCount) = (0, 0, 0);
                    }
                    if (done % saveEvery == 0 || last || interrupted) Save(done);
                    if (interrupted)
                    {
                        p.Line($"Interrupted at step {done}: checkpoint saved to {dir} (continue with --resume).");
                        return new SpeechTrainResult(130, losses, curve, null);
                    }
                    if (outOfTime) break;
                }
                var (test, head) = HeldOut(model, dev, testSize);
                bestHead = head;
                p.Line($"Done: {done} steps in {Seconds() / 60:F2} min, checkpoint in {dir}. Held-out voices ({testSize} utterances): " +
                       $"WER {100 * test.Wer:F2}%, median alignment error {test.DtwMedianMs:F0} ms (DTW over the cross-attention; {test.MedianErrorMs[^1]:F0} ms for the last layer's peaks).");
                return new SpeechTrainResult(0, losses, curve, test);
            }
            finally
            {
                producerStop.Cancel();
                try { producer.Wait(); } catch (AggregateException) { }
            }
        }
    }

    /// <summary>The (layer, head) whose cross-attention peaks are closest to the phoneme starts (lowest median error).</summary>
    public static (int Layer, int Head) BestHead(SpeechScore s)
    {
        var all = s.HeadMedianMs.SelectMany((hs, l) => hs.Select((ms, h) => (l, h, ms))).Where(x => !double.IsNaN(x.ms)).ToArray();
        return all.Length == 0 ? (s.HeadMedianMs.Length - 1, 0) : all.MinBy(x => x.ms) is var b ? (b.l, b.h) : default;
    }

    /// <summary>The score on <paramref name="testSize"/> held-out test utterances, and the (layer, head) with the lowest dev
    /// alignment error with its test error.</summary>
    public static (SpeechScore Test, (int Layer, int Head, double Ms) BestHead) HeldOut(SpeechModel model, SpeechExample[] dev, int testSize)
    {
        var test = SpeechEval.Score(model, Examples(TestSeed, testSize));
        var (l, h) = BestHead(SpeechEval.Score(model, dev));
        return (test, (l, h, test.HeadMedianMs[l][h]));
    }

    /// <summary>The fixed dev utterances (held-out voices).</summary>
    public static SpeechExample[] DevExamples(int count) => Examples(DevSeed, count);

    /// <summary>The fixed held-out utterances for a seed.</summary>
    public static SpeechExample[] Examples(ulong seed, int count)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, count).Select(_ => SpeechData.Make(rng, heldOut: true)).ToArray();
    }

    /// <summary>WER, the median alignment error |DTW start − espeak's phoneme start| and, per decoder layer, the median
    /// |cross-attention peak − espeak's phoneme start|, each with the mean signed offset (estimate − start).</summary>
    public static Spectre.Console.Table ScoreTable(SpeechScore s, string what, (int Layer, int Head, double Ms)? bestHead = null)
    {
        var table = Terminal.Table("measure", ">value", "over");
        table.Row($"WER, {what}", $"{100 * s.Wer:F2}%", $"{s.Words} words");
        table.Row("median alignment error, DTW", $"{s.DtwMedianMs:F0} ms", $"{s.AlignedPhonemes} phonemes, mean {s.DtwMeanOffsetMs:+0;-0} ms");
        for (int l = 0; l < s.MedianErrorMs.Length; l++)
            table.Row($"… peak, layer {l} (mean of heads)", $"{s.MedianErrorMs[l]:F0} ms", $"{s.AlignedPhonemes} phonemes, mean {s.MeanOffsetMs[l]:+0;-0} ms");
        if (bestHead is var (bl, bh, ms)) table.Row($"… peak, layer {bl}, head {bh}", $"{ms:F0} ms", "the head best on dev");
        return table;
    }

    /// <summary>Loads a model from a checkpoint folder.</summary>
    public static SpeechModel Load(string dir)
    {
        using var data = CliChecks.LoadTrainedCheckpoint(dir, m => new SpeechException(m), "attend train speech");
        var model = new SpeechModel(SpeechConfig.FromJson(data.ConfigJson, dir), new Random(0));
        model.LoadStateDict(data.Weights);
        model.Eval();
        return model;
    }

    static CheckpointData LoadCheckpoint(string dir) => CliChecks.LoadCheckpoint(dir, m => new SpeechException(m));

    static CheckpointData LoadForResume(string dir, SpeechConfig want)
    {
        var data = LoadCheckpoint(dir);
        try
        {
            var have = SpeechConfig.FromJson(data.ConfigJson, dir);
            if (have.Preset != want.Preset) throw new SpeechException($"cannot resume: '{dir}' was trained with preset '{have.Preset.Name}', not '{want.Preset.Name}'");
            if (!have.Vocab.Tokens.SequenceEqual(want.Vocab.Tokens)) throw new SpeechException($"cannot resume: '{dir}' was trained with other tokens (another espeak-ng?)");
            if (data.OptimizerState is null || !data.Extra.ContainsKey("step") || !data.Extra.ContainsKey("rng_state") || !data.Extra.ContainsKey("seconds") || !data.Extra.ContainsKey("seed"))
                throw new SpeechException($"cannot resume: '{dir}' has no optimizer state, step or generator state");
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    static void CheckFreshOutput(string dir) => CliChecks.RequireFreshCheckpointFolder(dir, m => new SpeechException(m));
}
