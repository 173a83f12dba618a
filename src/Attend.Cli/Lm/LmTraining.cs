using System.Diagnostics;
using System.Globalization;
using Attend.IO;
using Attend.Cli.Ui;
using Attend.Nn;
using Attend.Optim;

namespace Attend.Cli.Lm;

/// <summary>What <c>attend train lm</c> was asked to do. <paramref name="Steps"/> is the total (a resumed run goes on to it).</summary>
public sealed record LmTrainOptions(string Data, string Out, string Preset, int Steps, int Seed, bool Resume,
    int? EvalEvery = null, int? SaveEvery = null, string Attention = "soft");

/// <summary>Every step's training loss and every validation loss (nats/char) of this run, and its exit code
/// (0 done, 130 interrupted with a checkpoint saved).</summary>
public sealed record LmTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train, IReadOnlyList<(int Step, double Loss)> Validation);

/// <summary>
/// Trains a character-level <see cref="Gpt"/>: AdamW (weight decay 0.1 on matrices only, betas 0.9/0.95), linear warmup
/// then a cosine to lr/10 at the last step, gradient norm clipped to 1, batches of random windows drawn by a
/// <see cref="SplitMix64"/> seeded with --seed. The checkpoint (--out) holds the weights, AdamW's state, the config with the
/// vocabulary, the step and the generator's state, so --resume continues exactly as if never stopped.
/// </summary>
public static class LmTraining
{
    const double WeightDecay = 0.1, ClipNorm = 1.0;
    const ulong EvalSeed = 0x5EED_0F_E7A1;   // the validation windows are the same for every run

    /// <summary>Trains as <paramref name="o"/> says, logging to <paramref name="log"/>; when <paramref name="stop"/> is
    /// cancelled (Ctrl-C) the current step finishes, a checkpoint is saved and the exit code is 130.
    /// <paramref name="afterStep"/> (tests) runs after each step with the number of steps done.</summary>
    /// <exception cref="LmException">bad data, preset, steps, output folder or checkpoint; nothing is written then.</exception>
    public static LmTrainResult Run(LmTrainOptions o, TextWriter log, CancellationToken stop, Action<int>? afterStep = null)
    {
        var preset = LmPreset.Get(o.Preset);
        var variant = AttentionChoice.Parse(o.Attention, m => new LmException(m));
        if (o.Steps <= 0) throw new LmException($"--steps must be positive, not {o.Steps}");
        var corpus = Corpus.Load(o.Data);
        var tok = CharTokenizer.FromText(corpus.Train);
        var cfg = new LmModelConfig(preset, tok.Vocab, variant);
        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.Out));

        using var resumed = o.Resume ? LoadForResume(dir, cfg) : null;
        if (!o.Resume) CheckFreshOutput(dir);
        CheckWritable(dir);
        int start = resumed is null ? 0 : int.Parse(resumed.Extra["step"], CultureInfo.InvariantCulture);
        if (start >= o.Steps) throw new LmException($"the checkpoint in '{dir}' is already at step {start}: give --steps above it");
        var rng = new SplitMix64(resumed is null ? (ulong)o.Seed : ulong.Parse(resumed.Extra["rng_state"], CultureInfo.InvariantCulture));

        var model = new Gpt(cfg.Gpt, new Random(o.Seed));
        using var opt = new AdamW(AdamW.Groups(model.NamedParameters(), WeightDecay), lr: preset.Lr, betas: (0.9, 0.95));
        if (resumed is not null)
        {
            model.LoadStateDict(resumed.Weights);
            opt.LoadStateDict(resumed.OptimizerState!);
        }
        var parameters = model.Parameters().ToArray();

        var train = tok.Encode(corpus.Train, out _);
        var val = tok.Encode(corpus.Validation, out int unknown);
        int T = preset.Context, B = preset.Batch;
        var evalStarts = Batches.Starts(new SplitMix64(EvalSeed), val.Length, T, preset.EvalBatches * B);
        double bigram = Batches.BigramNats(train, val, tok.Size);
        int evalEvery = o.EvalEvery ?? preset.EvalEvery, saveEvery = o.SaveEvery ?? preset.SaveEvery, logEvery = Math.Max(1, evalEvery / 5);
        long warmup = Math.Min(preset.WarmupSteps, o.Steps - 1);

        log.WriteLine($"Data: {corpus.Name}, {train.Length:N0} training characters ({corpus.TrainBooks.Count} books), " +
                      $"{val.Length:N0} validation ({corpus.ValidationBooks.Count} books{(corpus.ValidationBooks.Count > 0 ? $", {corpus.ValidationBooks[0]}–{corpus.ValidationBooks[^1]}" : "")}); vocabulary {tok.Size} characters.");
        if (unknown > 0) log.WriteLine($"warning: {unknown} validation characters are not in the training text; they count as '{tok.Vocab[tok.Fallback]}'");
        log.WriteLine($"Model: GPT preset '{preset.Name}', {preset.Layers} layers, {preset.Heads} heads, d {preset.DModel}, context {T}, " +
                      $"{model.ParameterCount:N0} parameters, {variant} attention; AdamW lr {preset.Lr:G3}, batch {B}, steps {start}→{o.Steps}. Bigram baseline {bigram:F3} nats/char.");

        var result = TrainingProgress.Run(log, $"train lm ({preset.Name})", Loop);
        if (result.Validation.Count > 0)
        {
            var table = Terminal.Table(">step", ">validation nats/char", ">bigram baseline");
            foreach (var (step, v) in result.Validation) table.Row($"{step:N0}", $"{v:F3}", $"{bigram:F3}");
            Terminal.Write(log, table);
        }
        return result;

        LmTrainResult Loop(TrainingProgress p)
        {
            var trainLosses = new List<(int, float)>();
            var valLosses = new List<(int, double)>();
            var sw = Stopwatch.StartNew();
            double lossSum = 0; int lossCount = 0; long tokens = 0; double lastLog = 0;
            void Save(int step)
            {
                var state = opt.StateDict();
                try
                {
                    Checkpoint.Save(dir, model.StateDict(), state, cfg.ToJson(), new Dictionary<string, string>
                    {
                        ["step"] = step.ToString(CultureInfo.InvariantCulture), ["rng_state"] = rng.State.ToString(CultureInfo.InvariantCulture),
                        ["seed"] = o.Seed.ToString(CultureInfo.InvariantCulture), ["data"] = corpus.Name, ["steps"] = o.Steps.ToString(CultureInfo.InvariantCulture),
                    });
                }
                finally { foreach (var t in state.Values) t.Dispose(); }
            }

            var rl = variant.Kind == AttentionKind.Reinforce ? new ReinforceAttention() : null;
            model.Train();
            for (int step = start; step < o.Steps; step++)
            {
                using (Tensor.NewScope())
                {
                    opt.Lr = Schedules.WarmupCosine(step, preset.Lr, warmup, o.Steps, preset.Lr / 10);
                    var (x, y) = Batches.Get(train, Batches.Starts(rng, train.Length, T, B), T);   // (B, T) each
                    Tensor logits, loss;
                    using (rl?.Collect())
                    {
                        var (lg, ls) = model.Forward(x, y);
                        (logits, loss) = (lg, ls!);
                    }
                    float l = loss.Item();
                    // REINFORCE attention: each window's reward is minus its mean character cross-entropy.
                    if (rl is not null) loss = loss + rl.Loss(AttentionChoice.Reward(logits, y, ignoreIndex: -1));
                    opt.ZeroGrad();
                    loss.Backward();
                    Gradients.ClipGradNorm(parameters, (float)ClipNorm);
                    opt.Step();
                    trainLosses.Add((step + 1, l));
                    (lossSum, lossCount, tokens) = (lossSum + l, lossCount + 1, tokens + B * T);
                    p.Update((double)(step + 1) / o.Steps, $"step {step + 1}/{o.Steps}  loss {l:F3}  {tokens / Math.Max(1e-9, sw.Elapsed.TotalSeconds - lastLog) / 1000:F1}k tok/s");
                }
                int done = step + 1;
                afterStep?.Invoke(done);
                bool last = done == o.Steps, interrupted = stop.IsCancellationRequested;
                if (done % logEvery == 0 || last || interrupted)
                {
                    double now = sw.Elapsed.TotalSeconds;
                    p.Line($"  step {done,6}  loss {lossSum / lossCount:F3}  lr {opt.Lr:0.0e+0}  {tokens / Math.Max(1e-9, now - lastLog) / 1000,5:F1}k tok/s  {now / 60,6:F2} min  {p.Eta}");
                    (lossSum, lossCount, tokens, lastLog) = (0, 0, 0, now);
                }
                if (done % evalEvery == 0 || last)
                {
                    double v = Evaluate(model, val, evalStarts, T, B);
                    valLosses.Add((done, v));
                    p.Line($"  step {done,6}  val {v:F3} nats/char  (bigram {bigram:F3})  {sw.Elapsed.TotalMinutes,6:F2} min");
                }
                if (done % saveEvery == 0 || last || interrupted) Save(done);
                if (interrupted)
                {
                    p.Line($"Interrupted at step {done}: checkpoint saved to {dir} (continue with --resume).");
                    return new LmTrainResult(130, trainLosses, valLosses);
                }
            }
            p.Line($"Done: {o.Steps} steps, checkpoint in {dir} ({sw.Elapsed.TotalMinutes:F2} min).");
            return new LmTrainResult(0, trainLosses, valLosses);
        }
    }

    /// <summary>Mean cross-entropy (nats/char) over the fixed validation windows, in evaluation mode without gradients.</summary>
    public static double Evaluate(Gpt model, long[] val, int[] starts, int t, int batch)
    {
        model.Eval();
        using var noGrad = Autograd.NoGrad();
        double sum = 0; int n = 0;
        foreach (var chunk in starts.Chunk(batch))
        {
            using var scope = Tensor.NewScope();
            var (x, y) = Batches.Get(val, chunk, t);
            sum += model.Forward(x, y).Loss!.Item() * chunk.Length;
            n += chunk.Length;
        }
        model.Train();
        return sum / n;
    }

    static CheckpointData LoadForResume(string dir, LmModelConfig want)
    {
        CheckpointData data;
        try { data = Checkpoint.Load(dir); }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new LmException($"cannot resume: {ex.Message}");
        }
        try
        {
            var have = LmModelConfig.FromJson(data.ConfigJson, dir);
            if (have.Variant != want.Variant)
                throw new LmException($"cannot resume: '{dir}' was trained with {have.Variant} attention, not {want.Variant}");
            if (have.Preset != want.Preset)
                throw new LmException($"cannot resume: '{dir}' was trained with preset '{have.Preset.Name}', not '{want.Preset.Name}'");
            if (have.Vocab != want.Vocab)
                throw new LmException($"cannot resume: '{dir}' was trained on a text with another vocabulary ({have.Vocab.Length} characters, this one {want.Vocab.Length})");
            if (data.OptimizerState is null || !data.Extra.ContainsKey("step") || !data.Extra.ContainsKey("rng_state"))
                throw new LmException($"cannot resume: '{dir}' has no optimizer state, step or generator state");
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    static void CheckFreshOutput(string dir) => CliChecks.RequireFreshCheckpointFolder(dir, m => new LmException(m));

    /// <summary>Checkpoint.Save writes a sibling temporary folder, so the parent must be writable.</summary>
    /// <summary>The folder that will hold --out must take files (checked before training, not at the first save).</summary>
    static void CheckWritable(string dir)
    {
        try { CliChecks.RequireWritableFolder(Path.GetDirectoryName(dir) ?? dir, "output"); }
        catch (CliException ex) { throw new LmException(ex.Message); }
    }
}
