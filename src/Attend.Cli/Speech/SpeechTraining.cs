using System.Collections.Concurrent;
using Attend.Cli.Ui;
using Attend.Data;
using Attend.Nn;
using Attend.Training;

namespace Attend.Cli.Speech;

/// <summary>Every step's loss, the dev curve (step, minutes, WER, median alignment error of the DTW phoneme starts), the
/// held-out score at the end and the exit code (130: Ctrl-C).</summary>
public sealed record SpeechTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train,
    IReadOnlyList<(int Step, double Minutes, double Wer, double AlignMs)> Dev, SpeechScore? Test);

/// <summary>
/// <c>attend train speech</c>: a speech <see cref="Seq2Seq"/> trained by the library's <see cref="Trainer"/> on utterances
/// synthesized on the fly by espeak-ng or drawn from flite's and festival's voices, augmented (<see cref="SpeechData"/>,
/// <see cref="Augment"/>); at the end it scores the held-out voices of every engine and, when installed,
/// pocketsphinx-testdata's real recordings (<see cref="RealSpeech"/>, never trained or tuned on). Teacher-forced cross-entropy plus 0.3 × CTC on the encoder (the
/// printed loss is the cross-entropy), AdamW (decay 0.01 on matrices, betas 0.9/0.98), warmup then a cosine to lr/20,
/// gradient norm clipped to 1. Step s's utterances are drawn from <c>SplitMix64.ForStep(seed, s)</c>; a background thread
/// synthesizes the next batches in step order while the current one trains. espeak-ng's waveform depends (by a few
/// samples) on what it spoke before, so a resumed run first replays the utterances of the steps before the checkpoint
/// (synthesis only) — then --resume continues with exactly the batches an uninterrupted run would have seen. Dev and
/// test utterances come from the held-out voices with fixed seeds (the same for every run).
/// </summary>
public static class SpeechTraining
{
    const ulong DevSeed = 7_000_001, TestSeed = 7_000_002, PoolSeed = 7_100_001, HeldOutPoolSeed = 7_100_002, ExternalTestSeed = 7_000_003;
    /// <summary>Texts each external training voice speaks (<see cref="VoicePool"/>), and each held-out one.</summary>
    public const int PoolTexts = 400, HeldOutPoolTexts = 60;
    /// <summary>The share of training utterances from the external voices (with --voices all).</summary>
    public const double ExternalShare = 0.5;
    /// <summary>loss = cross-entropy + 0.3 · CTC (the hybrid CTC/attention weighting of Watanabe et al. 2017): the CTC head
    /// makes the encoder find the phonemes early, which the decoder's cross-attention then learns to follow.</summary>
    const float CtcWeight = 0.3f;

    sealed record Batch(long Step, SpeechExample[] Examples, long[][] Targets);

    /// <param name="testSize">held-out utterances scored at the end (null: the preset's).</param>
    /// <param name="voices">"espeak" or "all" (see <see cref="SpeechConfig.Voices"/>).</param>
    /// <param name="augment">the training augmentations.</param>
    /// <param name="realDir">the pocketsphinx test data scored at the end when present (null: not scored).</param>
    /// <param name="afterStep">(tests) runs after each step with the steps done.</param>
    public static SpeechTrainResult Run(TrainArgs o, TextWriter log, CancellationToken stop, int? testSize = null, Action<int>? afterStep = null,
        string voices = "espeak", Augmentation? augment = null, string? realDir = null)
    {
        var preset = SpeechPreset.Get(o.Preset);
        o.CheckBudget();
        preset = preset with { Batch = Cluster.CheckBatch(o.Batch ?? preset.Batch) };
        Espeak.EnsureAvailable();
        if (voices is not ("espeak" or "all")) throw new SpeechException($"--voices takes espeak or all, not '{voices}'");
        augment ??= Augmentation.None;
        var cfg = new SpeechConfig(preset, SpeechTask.Vocabulary(), voices, augment.ToString());
        var pool = voices == "all" ? VoicePool.Load(VoicePool.Train, VoicePool.Texts(PoolSeed, PoolTexts), log) : [];
        var mix = new SpeechMix(false, pool, pool.Length > 0 ? ExternalShare : 0, augment);
        var model = new Seq2Seq(cfg.Model, new Random(o.Seed));
        var recognizer = new SpeechRecognizer(model, cfg);
        using var trainer = new Trainer(model, new TrainerOptions
        {
            Steps = o.Steps ?? 100_000, Seconds = o.Seconds, Lr = preset.Lr, MinLr = preset.Lr / 20, WarmupSteps = preset.WarmupSteps,
            Betas = (0.9, 0.98), WeightDecay = 0.01, EvalEvery = o.EvalEvery ?? preset.EvalEvery, SaveEvery = o.SaveEvery ?? preset.SaveEvery,
            CheckpointDir = o.Out, Resume = o.Resume, OnNonFinite = o.OnNan, Seed = (ulong)o.Seed, ConfigJson = cfg.ToJson(), CheckResume = json => CheckResume(json, o.Out, cfg),
            Collectives = Cluster.Collectives, Extra = new Dictionary<string, string> { ["batch"] = preset.Batch.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        });
        TrainCommand.RequireSameBatch(trainer, preset.Batch);   // espeak's replay on resume speaks the batches before it
        var dev = DevExamples(preset.DevSize);
        trainer.Evaluate = _ =>
        {
            var s = SpeechEval.Score(recognizer, dev);
            double bestHead = s.HeadMedianMs.SelectMany(h => h).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Min();
            return [new Metric("dev WER", s.Wer, $"{100 * s.Wer,5:F1}%"), new Metric("align", s.DtwMedianMs, $"{s.DtwMedianMs,3:F0} ms (peak {s.MedianErrorMs[^1],3:F0}, best head {bestHead,3:F0})")];
        };
        if (afterStep is not null) trainer.StepDone += s => afterStep((int)s.Step);
        log.WriteLine($"Data: espeak-ng, {SpeechData.Voices(false).Length} training voices ({SpeechData.Accents.Length} accents × {SpeechData.TrainVariants.Length} variants), " +
                      $"{SpeechData.Voices(true).Length} held out (variants {string.Join(", ", SpeechData.HeldOutVariants)}); {cfg.Vocab.PhonemeCount} phonemes + {SpeechData.Words.Length} words; " +
                      $"dev: {dev.Length} held-out utterances.");
        log.WriteLine(pool.Length > 0
            ? $"External voices: {string.Join(", ", VoicePool.Train.Select(v => v.ToString()))} ({PoolTexts} texts each, {100 * ExternalShare:F0}% of the utterances); held out: {string.Join(", ", VoicePool.HeldOut.Select(v => v.ToString()))}. Augmentation: {augment}."
            : $"External voices: none. Augmentation: {augment}.");
        if (trainer.StartStep > 0)
            log.WriteLine($"Resuming at step {trainer.StartStep}: replaying the {trainer.StartStep * preset.Batch:N0} utterances espeak-ng spoke before it (its output depends on them).");
        log.WriteLine($"Model: preset '{preset.Name}', d {preset.DModel}, {preset.Heads} heads, {preset.EncoderLayers}+{preset.DecoderLayers} layers, " +
                      $"{model.ParameterCount:N0} parameters; AdamW lr {preset.Lr:G3}, batch {preset.Batch}{Cluster.PerRank(preset.Batch)}, steps {trainer.StartStep}→{trainer.Options.Steps}" +
                      (o.Minutes is null ? "." : $" or {o.Minutes:G4} minutes."));

        using var producerStop = new CancellationTokenSource();
        Exception? failure = null;
        using var queue = new BlockingCollection<Batch>(boundedCapacity: 2);
        var producer = Task.Run(() =>
        {
            try
            {
                for (long s = 0; s < trainer.StartStep; s++)                          // espeak's state: replay what it spoke before
                {
                    var rng = SplitMix64.ForStep(trainer.Seed, s);
                    SpeechData.ReplayBatch(rng, preset.Batch, mix);
                }
                for (long s = trainer.StartStep; !producerStop.IsCancellationRequested; s++)
                {
                    var rng = SplitMix64.ForStep(trainer.Seed, s);
                    var ex = SpeechData.MakeBatch(rng, preset.Batch, mix);
                    queue.Add(new Batch(s, ex, ex.Select(e => SpeechTask.Encode(cfg.Vocab, e.Words, e.Phones).Ids).ToArray()), producerStop.Token);
                }
            }
            catch (OperationCanceledException) { }
            catch (Exception ex) { failure = ex; }
            finally { queue.CompleteAdding(); }
        });
        TrainingResult result;
        try
        {
            var look = new TrainingLook($"train speech ({preset.Name})", ips => $"{ips / 100,4:F1} s of audio/s");
            result = TrainingView.Run(log, trainer, look, (step, _) =>
            {
                if (!queue.TryTake(out var batch, Timeout.Infinite))
                    throw failure is SpeechException se ? new SpeechException(se.Message) : new InvalidOperationException("the batch producer stopped", failure);
                if (batch.Step != step) throw new InvalidOperationException($"speech: the producer made step {batch.Step}'s batch for step {step}");
                batch = batch with { Examples = trainer.Shard.Take(batch.Examples), Targets = trainer.Shard.Take(batch.Targets) };   // every rank speaks the whole batch (espeak's state), trains on its part
                var (mel, pad) = SpeechTask.Batch(batch.Examples.Select(e => (e.Features, e.Frames)).ToArray(), preset.Subsampling);   // (B, F, 80), (B, S)
                var (input, labels) = SpeechTask.Targets(batch.Targets);                                                            // (B, T)
                var memory = model.Encode(mel, pad);                                                                                // (B, S, E)
                var ce = Functional.CrossEntropy(model.Decode(memory, pad, input).Reshape(-1, cfg.Vocab.VocabSize), labels.Reshape(-1), ignoreIndex: PhonemeTokenizer.Pad);
                var ctc = Functional.CtcLoss(model.CtcLogProbs(memory), CtcTargets(batch.Targets),
                    batch.Examples.Select(e => model.EncoderLength(e.Frames)).ToArray(), batch.Targets.Select(t => t.Length).ToArray(),
                    blank: PhonemeTokenizer.Pad, zeroInfinity: true);
                return new StepLoss(ce + ctc * CtcWeight, batch.Examples.Sum(e => e.Frames))
                {
                    Shown = ce.Item(), Metrics = new Dictionary<string, double> { ["ctc"] = ctc.Item() },
                };
            }, stop, o.LossFile);
        }
        finally
        {
            producerStop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
        SpeechScore? test = null;
        (int Layer, int Head, double Ms)? bestHead = null;
        if (!result.Interrupted && trainer.IsMain)   // the held-out scores: rank 0 only
        {
            (test, var head) = HeldOut(recognizer, dev, testSize ?? preset.TestSize);
            bestHead = head;
            log.WriteLine($"Done: {result.Steps} steps in {result.Seconds / 60:F2} min, checkpoint in {trainer.CheckpointDir}. Held-out voices ({testSize ?? preset.TestSize} utterances): " +
                          $"WER {100 * test.Wer:F2}%, median alignment error {test.DtwMedianMs:F0} ms (DTW over the cross-attention; {test.MedianErrorMs[^1]:F0} ms for the last layer's peaks).");
        }
        var curve = result.Evaluations.Select(r => ((int)r.Step, r.Seconds / 60, r.Evaluation![0].Value, r.Evaluation[1].Value)).ToList();
        if (curve.Count > 0)
        {
            var table = Terminal.Table(">step", ">minutes", ">dev WER %", ">dev align ms");
            foreach (var (step, minutes, wer, ms) in curve) table.Row($"{step:N0}", $"{minutes:F2}", $"{100 * wer:F1}", $"{ms:F0}");
            Terminal.Write(log, table);
        }
        if (test is not null)
        {
            Terminal.Write(log, ScoreTable(test, "held-out voices", bestHead));
            WriteExternal(recognizer, log, testSize ?? preset.TestSize);
            if (realDir is not null && Directory.Exists(realDir)) RealSpeech.Write(log, RealSpeech.Score(recognizer, realDir));
            else if (realDir is not null) log.WriteLine($"Real recordings: not scored ({realDir} is missing: {RealSpeech.InstallHint}).");
        }
        return new SpeechTrainResult(TrainCommand.ExitCode(result, trainer.CheckpointDir, log), result.Losses.Select(l => ((int)l.Step, l.Loss)).ToList(), curve, test);
    }

    /// <summary>Targets padded (B, L) int64 for ctc_loss (the padding is never read: the lengths stop before it).</summary>
    static Tensor CtcTargets(long[][] targets) => SequenceBatch.Pad(targets).Ids;

    /// <summary>The (layer, head) whose cross-attention peaks are closest to the phoneme starts (lowest median error).</summary>
    public static (int Layer, int Head) BestHead(SpeechScore s)
    {
        var all = s.HeadMedianMs.SelectMany((hs, l) => hs.Select((ms, h) => (l, h, ms))).Where(x => !double.IsNaN(x.ms)).ToArray();
        return all.Length == 0 ? (s.HeadMedianMs.Length - 1, 0) : all.MinBy(x => x.ms) is var b ? (b.l, b.h) : default;
    }

    /// <summary>The score on <paramref name="testSize"/> held-out test utterances, and the (layer, head) with the lowest dev
    /// alignment error with its test error.</summary>
    public static (SpeechScore Test, (int Layer, int Head, double Ms) BestHead) HeldOut(SpeechRecognizer model, SpeechExample[] dev, int testSize)
    {
        var test = SpeechEval.Score(model, Examples(TestSeed, testSize, SpeechMix.Espeak(heldOut: true)));
        var (l, h) = BestHead(SpeechEval.Score(model, dev));
        return (test, (l, h, test.HeadMedianMs[l][h]));
    }

    /// <summary>The fixed dev utterances (held-out voices).</summary>
    public static SpeechExample[] DevExamples(int count) => Examples(DevSeed, count, SpeechMix.Espeak(heldOut: true));

    /// <summary>The fixed held-out utterances for a seed, in batches of 32.</summary>
    public static SpeechExample[] Examples(ulong seed, int count, SpeechMix mix)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, (count + 31) / 32).SelectMany(b => SpeechData.MakeBatch(rng, Math.Min(32, count - 32 * b), mix)).ToArray();
    }

    /// <summary>The held-out external voices' utterances (today's recipe): <paramref name="count"/> of them, or none (with
    /// a line saying why) when flite or festival is missing.</summary>
    public static SpeechScore? ExternalHeldOut(SpeechRecognizer model, int count, TextWriter log)
    {
        PoolUtterance[] pool;
        try { pool = VoicePool.Load(VoicePool.HeldOut, VoicePool.Texts(HeldOutPoolSeed, HeldOutPoolTexts), log); }
        catch (SpeechException ex) { log.WriteLine($"Held-out flite/festival voices: not scored ({ex.Message})."); return null; }
        return SpeechEval.Score(model, Examples(ExternalTestSeed, count, new SpeechMix(true, pool, 1, Augmentation.None)));
    }

    /// <summary>Scores and prints the held-out external voices (<see cref="ExternalHeldOut"/>).</summary>
    public static void WriteExternal(SpeechRecognizer model, TextWriter log, int count)
    {
        if (ExternalHeldOut(model, count, log) is { } s)
            log.WriteLine($"Held-out flite/festival voices ({string.Join(", ", VoicePool.HeldOut.Select(v => v.ToString()))}; {count} utterances): WER {100 * s.Wer:F2}% over {s.Words} words.");
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

    static void CheckResume(string json, string dir, SpeechConfig want)
    {
        var have = SpeechConfig.FromJson(json, dir);
        if (have.Preset != want.Preset) throw new SpeechException($"cannot resume: '{dir}' was trained with preset '{have.Preset.Name}', not '{want.Preset.Name}'");
        if (!have.Vocab.Tokens.SequenceEqual(want.Vocab.Tokens)) throw new SpeechException($"cannot resume: '{dir}' was trained with other tokens (another espeak-ng?)");
    }
}
