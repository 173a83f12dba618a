using System.Diagnostics;
using System.Globalization;
using Attend.Cli.Ui;
using Attend.IO;
using Attend.Nn;
using Attend.Optim;
using F = Attend.Functional;

namespace Attend.Cli.Vision;

/// <summary>What <c>attend train vit</c> was asked to do. Epochs/Steps/Shift/PatchSize default to the preset's; a run stops
/// at <paramref name="Steps"/> (default epochs · steps per epoch) or after <paramref name="Minutes"/>, whichever is first.
/// <paramref name="ImageSize"/> and <paramref name="Channels"/> apply to an image folder.</summary>
public sealed record VitTrainOptions(string Data, string Out, string? Preset = null, int? Epochs = null, int? Steps = null,
    double? Minutes = null, int Seed = 0, bool Resume = false, int? EvalEvery = null, int? SaveEvery = null, int? Shift = null,
    int? PatchSize = null, int ImageSize = 32, int Channels = 3, int? Dim = null, int? Depth = null, int? Heads = null, int? Batch = null,
    double? Lr = null, float? Dropout = null, float? LabelSmoothing = null, bool? Flip = null);

/// <summary>One point of the learning curve: test accuracy after <paramref name="Step"/> steps.</summary>
public sealed record VitCurvePoint(int Step, double Epoch, double Minutes, double TrainLoss, double Accuracy);

/// <summary>Every step's loss, the curve, the final test accuracy and confusion matrix [true, predicted], and the exit code (130: Ctrl-C).</summary>
public sealed record VitTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train, IReadOnlyList<VitCurvePoint> Curve,
    double Accuracy, int[,] Confusion);

/// <summary>
/// Trains a <see cref="VisionTransformer"/> classifier with cross-entropy (see <see cref="VitPreset"/> for the optimizer
/// and schedule). The checkpoint (--out) holds the weights, AdamW's state, the config (shape, classes, normalization), the
/// step and the seconds trained; batches depend on (seed, step) only (<see cref="VisionBatches"/>), so --resume continues
/// exactly as if never stopped (a --minutes budget makes the learning-rate schedule follow the clock instead, as in
/// <c>train translate</c>). Ctrl-C (<c>stop</c>) finishes the step, saves and returns 130; <c>afterStep</c> (tests) runs
/// after each step with the number of steps done.
/// </summary>
public static class VitTraining
{
    public static VitTrainResult Run(VitTrainOptions o, TextWriter log, CancellationToken stop, Action<int>? afterStep = null)
    {
        if (o.Steps is <= 0) throw new VisionException($"--steps must be positive, not {o.Steps}");
        if (o.Epochs is <= 0) throw new VisionException($"--epochs must be positive, not {o.Epochs}");
        if (o.Minutes is <= 0) throw new VisionException($"--minutes must be positive, not {o.Minutes}");
        if (o.Shift is < 0) throw new VisionException($"--shift must be 0 or more, not {o.Shift}");
        if (o.Channels is not (1 or 3)) throw new VisionException($"--channels must be 1 (grey) or 3 (RGB), not {o.Channels}");
        if (o.ImageSize is < 4 or > 512) throw new VisionException($"--image-size must be 4..512, not {o.ImageSize}");
        var split = VisionData.Load(o.Data, o.ImageSize, o.Channels);
        var (train, test) = (split.Train, split.Test);
        if (train.Height != train.Width) throw new VisionException($"the ViT takes square images; {split.Name} has {train.Height}×{train.Width}");
        var preset = o.Preset is null ? VitPreset.For(train, split.Name) : VitPreset.Get(o.Preset);
        preset = preset with
        {
            PatchSize = o.PatchSize ?? preset.PatchSize, Dim = o.Dim ?? preset.Dim, Depth = o.Depth ?? preset.Depth, Heads = o.Heads ?? preset.Heads,
            Batch = o.Batch ?? preset.Batch, Lr = o.Lr ?? preset.Lr, Dropout = o.Dropout ?? preset.Dropout,
            LabelSmoothing = o.LabelSmoothing ?? preset.LabelSmoothing, Shift = o.Shift ?? preset.Shift, Flip = o.Flip ?? preset.Flip,
        };
        if (preset.Dim <= 0 || preset.Depth <= 0 || preset.Heads <= 0 || preset.Dim % preset.Heads != 0)
            throw new VisionException($"--dim {preset.Dim} must be a positive multiple of --heads {preset.Heads}, and --depth ({preset.Depth}) positive");
        if (preset.Batch <= 0 || preset.Lr <= 0 || preset.Dropout is < 0 or >= 1 || preset.LabelSmoothing is < 0 or >= 1)
            throw new VisionException($"--batch ({preset.Batch}) and --lr ({preset.Lr}) must be positive, --dropout ({preset.Dropout}) and --label-smoothing ({preset.LabelSmoothing}) in [0, 1)");
        if (o.PatchSize is null && train.Height % preset.PatchSize != 0)    // e.g. a folder resized to 32: the largest patch in 2..8 that fits
            preset = preset with { PatchSize = Enumerable.Range(1, 8).Last(q => train.Height % q == 0) };
        int patch = preset.PatchSize;
        if (patch <= 0 || train.Height % patch != 0)
            throw new VisionException($"patch size {patch} must divide the image size {train.Height} (give --patch-size)");
        var (mean, std) = train.Statistics();
        var vit = new VitConfig(ImageSize: train.Height, PatchSize: patch, Channels: train.Channels, NumClasses: train.Classes.Length,
            Dim: preset.Dim, Depth: preset.Depth, NHead: preset.Heads, MlpRatio: 4, Dropout: preset.Dropout);
        var cfg = new VitModelConfig(preset.Name, vit, train.Classes, mean, std, BorderMean(train), split.Name,
            $"batch {preset.Batch}, lr {preset.Lr:G4}, shift {preset.Shift}{(preset.Flip ? ", flip" : "")}, label smoothing {preset.LabelSmoothing:G3}, weight decay {preset.WeightDecay:G3}");
        string dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.Out));

        using var resumed = o.Resume ? LoadForResume(dir, cfg) : null;
        if (!o.Resume) CheckFreshOutput(dir);
        var batches = new VisionBatches(train, preset.Batch, (ulong)o.Seed, mean, std);
        int spe = batches.StepsPerEpoch, total = o.Steps ?? (o.Epochs ?? preset.Epochs) * spe, shift = preset.Shift;
        int start = resumed is null ? 0 : int.Parse(resumed.Extra["step"], CultureInfo.InvariantCulture);
        double secondsBefore = resumed is null ? 0 : double.Parse(resumed.Extra["seconds"], CultureInfo.InvariantCulture);
        if (start >= total) throw new VisionException($"the checkpoint in '{dir}' is already at step {start}: give --steps or --epochs beyond it");

        var model = new VisionTransformer(vit, new Random(o.Seed));
        using var opt = new AdamW(AdamW.Groups(model.NamedParameters(), preset.WeightDecay), lr: preset.Lr, betas: (0.9, 0.999));
        if (resumed is not null)
        {
            model.LoadStateDict(resumed.Weights);
            opt.LoadStateDict(resumed.OptimizerState!);
        }
        var parameters = model.Parameters().ToArray();
        int evalEvery = o.EvalEvery ?? preset.EvalEvery, saveEvery = o.SaveEvery ?? preset.SaveEvery;
        int B = Math.Min(preset.Batch, train.Count);
        log.WriteLine($"Data: {split.Description}: {train.Count:N0} training images, {test.Count:N0} test, {train.Classes.Length} classes, " +
                      $"{train.Channels}×{train.Height}×{train.Width}.");
        log.WriteLine($"Model: ViT preset '{preset.Name}', {vit.NumPatches} patches of {patch}×{patch} + [CLS], d {vit.Dim}, {vit.Depth} blocks, " +
                      $"{vit.NHead} heads, {model.ParameterCount:N0} parameters; AdamW lr {preset.Lr:G3}, batch {B}, shifts ±{shift} px{(preset.Flip ? ", left–right flips" : "")}, " +
                      (preset.Dropout > 0 ? $"dropout {preset.Dropout:G2}, " : "") + (preset.LabelSmoothing > 0 ? $"label smoothing {preset.LabelSmoothing:G2}, " : "") +
                      $"steps {start}→{total} ({(double)total / spe:G3} epochs of {spe})" + (o.Minutes is null ? "." : $" or {o.Minutes:G4} minutes."));

        var result = TrainingProgress.Run(log, $"train vit ({split.Name}, {preset.Name})", Loop);
        if (result.Curve.Count > 0)
        {
            var table = Terminal.Table(">step", ">epoch", ">minutes", ">train loss", ">test accuracy");
            foreach (var c in result.Curve) table.Row($"{c.Step:N0}", $"{c.Epoch:F2}", $"{c.Minutes:F2}", $"{c.TrainLoss:F4}", $"{100 * c.Accuracy:F2}%");
            Terminal.Write(log, table);
        }
        if (result.ExitCode == 0)
        {
            log.WriteLine($"Confusion matrix on the {test.Count:N0} test images (rows: true class, columns: predicted):");
            Terminal.Write(log, ConfusionTable(result.Confusion, train.Classes));
        }
        return result;

        VitTrainResult Loop(TrainingProgress p)
        {
            var sw = Stopwatch.StartNew();
            double Seconds() => secondsBefore + sw.Elapsed.TotalSeconds;
            double Progress(int step) => Math.Max((double)step / total, o.Minutes is null ? 0 : Seconds() / 60 / o.Minutes.Value);
            long warmup = Math.Min(preset.WarmupSteps, total / 10);
            double LrAt(int step) => step < warmup ? preset.Lr * (step + 1) / (warmup + 1)
                : Schedules.WarmupCosine((long)(Math.Min(Progress(step), 1) * 1_000_000), preset.Lr, 0, 1_000_000, preset.Lr / 50);
            var losses = new List<(int, float)>();
            var curve = new List<VitCurvePoint>();
            void Save(int step)
            {
                var state = opt.StateDict();
                try
                {
                    Checkpoint.Save(dir, model.StateDict(), state, cfg.ToJson(), new Dictionary<string, string>
                    {
                        ["step"] = step.ToString(CultureInfo.InvariantCulture), ["seconds"] = Seconds().ToString("R", CultureInfo.InvariantCulture),
                        ["seed"] = o.Seed.ToString(CultureInfo.InvariantCulture), ["data"] = split.Name, ["shift"] = shift.ToString(CultureInfo.InvariantCulture),
                    });
                }
                finally { foreach (var t in state.Values) t.Dispose(); }
            }

            double lossSum = 0, stepSeconds = 0; int lossCount = 0, done = start, images = 0;   // img/s counts training steps only
            (double Accuracy, int[,] Confusion) last = (0, new int[0, 0]);
            model.Train();
            while (done < total)
            {
                using (Tensor.NewScope())
                {
                    double t0 = sw.Elapsed.TotalSeconds;
                    opt.Lr = LrAt(done);
                    var (x, y) = batches.Train(done, shift, preset.Flip);       // (B, Ch, H, W), (B)
                    var loss = F.CrossEntropy(model.Forward(x), y, labelSmoothing: preset.LabelSmoothing);
                    opt.ZeroGrad();
                    loss.Backward();
                    Gradients.ClipGradNorm(parameters, 1f);
                    opt.Step();
                    float l = loss.Item();
                    losses.Add((done + 1, l));
                    (lossSum, lossCount, images, stepSeconds) = (lossSum + l, lossCount + 1, images + x.Size(0), stepSeconds + sw.Elapsed.TotalSeconds - t0);
                    p.Update(Progress(done + 1), $"step {done + 1}/{total}  loss {l:F3}  {images / Math.Max(1e-9, stepSeconds):F0} img/s");
                }
                done++;
                afterStep?.Invoke(done);
                bool outOfTime = o.Minutes is not null && Seconds() >= o.Minutes * 60;
                bool end = done == total || outOfTime, interrupted = stop.IsCancellationRequested;
                if (done % evalEvery == 0 || end)
                {
                    last = Evaluate(model, cfg, test);
                    curve.Add(new VitCurvePoint(done, (double)done / spe, Seconds() / 60, lossSum / Math.Max(1, lossCount), last.Accuracy));
                    p.Line($"  step {done,6}  epoch {(double)done / spe,6:F2}  loss {lossSum / Math.Max(1, lossCount):F4}  lr {opt.Lr:0.0e+0}  " +
                           $"test accuracy {100 * last.Accuracy,6:F2}%  {images / Math.Max(1e-9, stepSeconds),5:F0} img/s  {Seconds() / 60,6:F2} min  {p.Eta}");
                    (lossSum, lossCount) = (0, 0);
                }
                if (done % saveEvery == 0 || end || interrupted) Save(done);
                if (interrupted)
                {
                    p.Line($"Interrupted at step {done}: checkpoint saved to {dir} (continue with --resume).");
                    return new VitTrainResult(130, losses, curve, last.Accuracy, last.Confusion);
                }
                if (outOfTime) break;
            }
            p.Line($"Done: {done} steps ({(double)done / spe:F2} epochs) in {Seconds() / 60:F2} min, checkpoint in {dir}. " +
                   $"Test accuracy on {test.Count:N0} images: {100 * last.Accuracy:F2}%");
            return new VitTrainResult(0, losses, curve, last.Accuracy, last.Confusion);
        }
    }

    /// <summary>Class probabilities [N, K] of normalized images x [N, Ch, H, W], in evaluation mode, 256 at a time.</summary>
    public static float[] Probabilities(VisionTransformer model, ImageSet set, VitModelConfig cfg)
    {
        bool wasTraining = model.Training;
        model.Eval();
        using var noGrad = Autograd.NoGrad();
        int k = cfg.Classes.Length;
        var probs = new float[set.Count * k];
        for (int from = 0; from < set.Count; from += 256)
        {
            using var scope = Tensor.NewScope();
            var idx = Enumerable.Range(from, Math.Min(256, set.Count - from)).ToArray();
            var (x, _) = VisionBatches.Make(set, idx, null, cfg.Mean, cfg.Std);
            F.Softmax(model.Forward(x), 1).ToArray().CopyTo(probs, from * k);   // (n, K)
        }
        if (wasTraining) model.Train();
        return probs;
    }

    /// <summary>Accuracy and the confusion matrix [true, predicted] of the arg-max predictions on <paramref name="set"/>.</summary>
    public static (double Accuracy, int[,] Confusion) Evaluate(VisionTransformer model, VitModelConfig cfg, ImageSet set)
    {
        int k = cfg.Classes.Length;
        var probs = Probabilities(model, set, cfg);
        var confusion = new int[k, k];
        int correct = 0;
        for (int i = 0; i < set.Count; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
            confusion[set.Labels[i], best]++;
            if (best == set.Labels[i]) correct++;
        }
        return ((double)correct / Math.Max(1, set.Count), confusion);
    }

    /// <summary>The confusion matrix as a table: one row per true class ("k name") with its counts per predicted class
    /// (columns by class number) and its recall.</summary>
    public static Spectre.Console.Table ConfusionTable(int[,] confusion, string[] classes)
    {
        int k = classes.Length;
        var headers = new[] { "true \\ predicted" }.Concat(Enumerable.Range(0, k).Select(j => ">" + j.ToString(CultureInfo.InvariantCulture))).Append(">recall").ToArray();
        var table = Terminal.Table(headers);
        for (int i = 0; i < k; i++)
        {
            int rowSum = Enumerable.Range(0, k).Sum(j => confusion[i, j]);
            string name = classes[i] == i.ToString(CultureInfo.InvariantCulture) ? classes[i] : $"{i} {classes[i]}";
            var cells = new[] { name }.Concat(Enumerable.Range(0, k).Select(j => confusion[i, j].ToString(CultureInfo.InvariantCulture)))
                .Append(rowSum == 0 ? "-" : $"{100.0 * confusion[i, i] / rowSum:F1}%").ToArray();
            table.Row(cells);
        }
        return table;
    }

    /// <summary>The mean of the training images' outermost pixels (all channels): the background brightness.</summary>
    static float BorderMean(ImageSet set)
    {
        double sum = 0; long n = 0;
        int h = set.Height, w = set.Width;
        for (int i = 0; i < set.Count; i++)
            for (int c = 0; c < set.Channels; c++)
            {
                var img = set.Pixels.AsSpan(i * set.ImageSize + c * h * w, h * w);
                for (int r = 0; r < h; r++)
                    for (int col = 0; col < w; col++)
                        if (r == 0 || r == h - 1 || col == 0 || col == w - 1) { sum += img[r * w + col]; n++; }
            }
        return (float)(sum / Math.Max(1, n));
    }

    /// <summary>Loads a ViT checkpoint for classification: the model (in evaluation mode) and its config.</summary>
    public static (VisionTransformer Model, VitModelConfig Config) Load(string dir)
    {
        using var data = CliChecks.LoadTrainedCheckpoint(dir, m => new VisionException(m), "attend train vit --data digits");
        var cfg = VitModelConfig.FromJson(data.ConfigJson, dir);
        var model = new VisionTransformer(cfg.Vit, new Random(0));
        try { model.LoadStateDict(data.Weights); }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            throw new VisionException($"'{dir}': the weights do not fit the ViT its config describes ({ex.Message})");
        }
        model.Eval();
        return (model, cfg);
    }

    static CheckpointData LoadCheckpoint(string dir) => CliChecks.LoadCheckpoint(dir, m => new VisionException(m));

    static CheckpointData LoadForResume(string dir, VitModelConfig want)
    {
        var data = LoadCheckpoint(dir);
        try
        {
            var have = VitModelConfig.FromJson(data.ConfigJson, dir);
            if (have.Training != want.Training)
                throw new VisionException($"cannot resume: '{dir}' was trained with {have.Training}; this run asks for {want.Training}");
            if (have.Preset != want.Preset || have.Vit != want.Vit)
                throw new VisionException($"cannot resume: '{dir}' holds a ViT of preset '{have.Preset}' ({have.Vit.NumPatches} patches, d {have.Vit.Dim}), not '{want.Preset}' ({want.Vit.NumPatches} patches, d {want.Vit.Dim})");
            if (have.Data != want.Data || !have.Classes.SequenceEqual(want.Classes))
                throw new VisionException($"cannot resume: '{dir}' was trained on '{have.Data}', not '{want.Data}'");
            if (data.OptimizerState is null || !data.Extra.ContainsKey("step") || !data.Extra.ContainsKey("seconds"))
                throw new VisionException($"cannot resume: '{dir}' has no optimizer state or step");
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    static void CheckFreshOutput(string dir) => CliChecks.RequireFreshCheckpointFolder(dir, m => new VisionException(m));
}
