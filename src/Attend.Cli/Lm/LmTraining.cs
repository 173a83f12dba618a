using Attend.Cli.Ui;
using Attend.Data;
using Attend.Nn;
using Attend.Training;

namespace Attend.Cli.Lm;

/// <summary>Every step's training loss and every validation loss (nats/char) of this run, and its exit code
/// (0 done, 130 interrupted with a checkpoint saved).</summary>
public sealed record LmTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train, IReadOnlyList<(int Step, double Loss)> Validation);

/// <summary>
/// <c>attend train lm</c>: a character-level <see cref="Gpt"/> on a text, trained by the library's <see cref="Trainer"/> —
/// AdamW (weight decay 0.1 on matrices only, betas 0.9/0.95), linear warmup then a cosine to lr/10 at the last step,
/// gradient norm clipped to 1 — on batches of random windows drawn by <c>SplitMix64.ForStep(seed, step)</c>, so that
/// --resume (the checkpoint holds the weights, AdamW's state, the config with the vocabulary, the step and the seed)
/// continues exactly as if never stopped. Validation: mean cross-entropy on fixed windows of the held-out books.
/// </summary>
public static class LmTraining
{
    const ulong EvalSeed = 0x5EED_0F_E7A1;   // the validation windows are the same for every run

    /// <summary>Trains as <paramref name="o"/> says (on <paramref name="data"/>: a file or 'kjv'), logging to
    /// <paramref name="log"/>; when <paramref name="stop"/> is cancelled the current step finishes, a checkpoint is saved
    /// and the exit code is 130. <paramref name="afterStep"/> (tests) runs after each step with the steps done.</summary>
    /// <exception cref="CliException">bad data, preset, steps, output folder or checkpoint; nothing is written then.</exception>
    public static LmTrainResult Run(string data, TrainArgs o, TextWriter log, CancellationToken stop, Action<int>? afterStep = null)
    {
        var preset = LmPreset.Get(o.Preset);
        var variant = AttentionChoice.Parse(o.Attention);
        o.CheckBudget();
        int steps = o.Steps ?? 2000;
        var corpus = Corpus.Load(data);
        var tok = CharTokenizer.FromText(corpus.Train);
        var cfg = new LmModelConfig(preset, tok.Chars, variant);
        var model = new Gpt(cfg.Gpt, new Random(o.Seed));
        var train = tok.Encode(corpus.Train, out _);
        var val = tok.Encode(corpus.Validation, out int unknown);
        int T = preset.Context, B = Cluster.CheckBatch(o.Batch ?? preset.Batch), evalEvery = o.EvalEvery ?? preset.EvalEvery;
        var evalStarts = Batches.Starts(new SplitMix64(EvalSeed), val.Length, T, preset.EvalBatches * B);
        double bigram = Batches.BigramNats(train, val, tok.VocabSize);
        var rl = AttentionChoice.Reinforce(variant);
        using var trainer = new Trainer(model, new TrainerOptions
        {
            Steps = steps, Lr = preset.Lr, MinLr = preset.Lr / 10, WarmupSteps = Math.Min(preset.WarmupSteps, steps - 1),
            Betas = (0.9, 0.95), WeightDecay = 0.1, LogEvery = Math.Max(1, evalEvery / 5), EvalEvery = evalEvery,
            SaveEvery = o.SaveEvery ?? preset.SaveEvery, CheckpointDir = o.Out, Resume = o.Resume, OnNonFinite = o.OnNan, Seed = (ulong)o.Seed, Reinforce = rl, Collectives = Cluster.Collectives,
            ConfigJson = cfg.ToJson(), Extra = new Dictionary<string, string> { ["data"] = corpus.Name, ["batch"] = B.ToString(System.Globalization.CultureInfo.InvariantCulture) }, CheckResume = json => CheckResume(json, o.Out, cfg),
        });
        TrainCommand.RequireSameBatch(trainer, B);
        trainer.Evaluate = _ => Evaluate(model, val, evalStarts, T, B) is var v ? [new Metric("val", v, $"{v:F3} nats/char (bigram {bigram:F3})")] : [];
        if (afterStep is not null) trainer.StepDone += s => afterStep((int)s.Step);

        log.WriteLine($"Data: {corpus.Name}, {train.Length:N0} training characters ({corpus.TrainBooks.Count} books), " +
                      $"{val.Length:N0} validation ({corpus.ValidationBooks.Count} books{(corpus.ValidationBooks.Count > 0 ? $", {corpus.ValidationBooks[0]}–{corpus.ValidationBooks[^1]}" : "")}); vocabulary {tok.VocabSize} characters.");
        if (unknown > 0) log.WriteLine($"warning: {unknown} validation characters are not in the training text; they count as '{tok.FallbackChar}'");
        log.WriteLine($"Model: GPT preset '{preset.Name}', {preset.Layers} layers, {preset.Heads} heads, d {preset.DModel}, context {T}, " +
                      $"{model.ParameterCount:N0} parameters, {variant} attention; AdamW lr {preset.Lr:G3}, batch {B}{Cluster.PerRank(B)}, steps {trainer.StartStep}→{steps}. Bigram baseline {bigram:F3} nats/char.");

        var look = new TrainingLook($"train lm ({preset.Name})", ips => $"{ips / 1000,5:F1}k tok/s");
        var result = TrainingView.Run(log, trainer, look, (step, _) =>
        {
            var starts = Batches.Starts(SplitMix64.ForStep(trainer.Seed, step), train.Length, T, B);   // the global batch
            var (x, y) = Batches.Get(train, trainer.Shard.Take(starts), T);                            // this rank's (B/K, T) each
            var (logits, loss) = model.Forward(x, y);
            return new StepLoss(loss!, x.NumEl) { Reward = rl is null ? null : Rewards.NegativeTokenLoss(logits, y, -1) };
        }, stop, o.LossFile);
        var validation = result.Evaluations.Select(r => ((int)r.Step, r.Evaluation![0].Value)).ToList();
        if (!result.Interrupted) log.WriteLine($"Done: {result.Steps} steps, checkpoint in {trainer.CheckpointDir} ({result.Seconds / 60:F2} min).");
        if (validation.Count > 0)
        {
            var table = Terminal.Table(">step", ">validation nats/char", ">bigram baseline");
            foreach (var (step, v) in validation) table.Row($"{step:N0}", $"{v:F3}", $"{bigram:F3}");
            Terminal.Write(log, table);
        }
        return new LmTrainResult(TrainCommand.ExitCode(result, trainer.CheckpointDir, log), result.Losses.Select(l => ((int)l.Step, l.Loss)).ToList(), validation);
    }

    /// <summary>Mean cross-entropy (nats/char) over the fixed validation windows (the trainer runs it in evaluation mode
    /// without gradients).</summary>
    public static double Evaluate(Gpt model, long[] val, int[] starts, int t, int batch)
    {
        double sum = 0; int n = 0;
        foreach (var chunk in starts.Chunk(batch))
        {
            using var scope = Tensor.NewScope();
            var (x, y) = Batches.Get(val, chunk, t);
            sum += model.Forward(x, y).Loss!.Item() * chunk.Length;
            n += chunk.Length;
        }
        return sum / n;
    }

    static void CheckResume(string json, string dir, LmModelConfig want)
    {
        var have = LmModelConfig.FromJson(json, dir);
        if (have.Variant != want.Variant) throw new CliException($"cannot resume: '{dir}' was trained with {have.Variant} attention, not {want.Variant}");
        if (have.Preset != want.Preset) throw new CliException($"cannot resume: '{dir}' was trained with preset '{have.Preset.Name}', not '{want.Preset.Name}'");
        if (have.Vocab != want.Vocab)
            throw new CliException($"cannot resume: '{dir}' was trained on a text with another vocabulary ({have.Vocab.Length} characters, this one {want.Vocab.Length})");
    }
}
