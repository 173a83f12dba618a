using Attend.Data;
using System.Globalization;
using Attend.Cli.Ui;
using Attend.Nn;
using Attend.Training;
using F = Attend.Functional;

namespace Attend.Cli.Vision;

/// <summary>What <c>attend train vit</c> was asked to do. Epochs/Steps/Shift/PatchSize default to the preset's; a run stops
/// at <paramref name="Steps"/> (default epochs · steps per epoch) or after <paramref name="Minutes"/>, whichever is first.
/// <paramref name="ImageSize"/> and <paramref name="Channels"/> apply to an image folder.</summary>
public sealed record VitTrainOptions(string Data, string Out, string? Preset = null, int? Epochs = null, int? Steps = null,
    double? Minutes = null, int Seed = 0, bool Resume = false, int? EvalEvery = null, int? SaveEvery = null, int? Shift = null,
    int? PatchSize = null, int ImageSize = 32, int Channels = 3, int? Dim = null, int? Depth = null, int? Heads = null, int? Batch = null,
    double? Lr = null, float? Dropout = null, float? LabelSmoothing = null, bool? Flip = null, string? LossFile = null,
    NonFinitePolicy OnNan = NonFinitePolicy.Stop);

/// <summary>One point of the learning curve: test accuracy after <paramref name="Step"/> steps.</summary>
public sealed record VitCurvePoint(int Step, double Epoch, double Minutes, double TrainLoss, double Accuracy);

/// <summary>Every step's loss, the curve, the final test accuracy and confusion matrix [true, predicted], and the exit code (130: Ctrl-C).</summary>
public sealed record VitTrainResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train, IReadOnlyList<VitCurvePoint> Curve,
    double Accuracy, int[,] Confusion);

/// <summary>
/// Trains a <see cref="VisionTransformer"/> classifier with cross-entropy (see <see cref="VitPreset"/> for the optimizer
/// and schedule). The checkpoint (--out) holds the weights, AdamW's state, the config (shape, classes, normalization), the
/// step and the seconds trained; batches depend on (seed, step) only (<see cref="ImageBatches"/>), so --resume continues
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
        var batches = new ImageBatches(train, preset.Batch, (ulong)o.Seed, mean, std);
        int spe = batches.StepsPerEpoch, total = o.Steps ?? (o.Epochs ?? preset.Epochs) * spe;
        var model = new VisionTransformer(vit, new Random(o.Seed));
        using var trainer = new Trainer(model, new TrainerOptions
        {
            Steps = total, Seconds = o.Minutes * 60, StepsPerEpoch = spe, Lr = preset.Lr, MinLr = preset.Lr / 50,
            WarmupSteps = Math.Min(preset.WarmupSteps, total / 10), Betas = (0.9, 0.999), WeightDecay = preset.WeightDecay,
            EvalEvery = o.EvalEvery ?? preset.EvalEvery, SaveEvery = o.SaveEvery ?? preset.SaveEvery, CheckpointDir = o.Out, Resume = o.Resume, OnNonFinite = o.OnNan,
            Seed = (ulong)o.Seed, ConfigJson = cfg.ToJson(), CheckResume = json => CheckResume(json, o.Out, cfg), Collectives = Cluster.Collectives,
            Extra = new Dictionary<string, string> { ["data"] = split.Name, ["shift"] = preset.Shift.ToString(CultureInfo.InvariantCulture) },
        });
        batches = new ImageBatches(train, preset.Batch, trainer.Seed, mean, std);
        (double Accuracy, int[,] Confusion) last = (0, new int[0, 0]);
        trainer.Evaluate = _ => (last = Evaluate(model, cfg, test)) is var e ? [new Metric("test accuracy", e.Accuracy, $"{100 * e.Accuracy,6:F2}%")] : [];
        if (afterStep is not null) trainer.StepDone += s => afterStep((int)s.Step);
        int B = Cluster.CheckBatch(Math.Min(preset.Batch, train.Count));
        log.WriteLine($"Data: {split.Description}: {train.Count:N0} training images, {test.Count:N0} test, {train.Classes.Length} classes, " +
                      $"{train.Channels}×{train.Height}×{train.Width}.");
        log.WriteLine($"Model: ViT preset '{preset.Name}', {vit.NumPatches} patches of {patch}×{patch} + [CLS], d {vit.Dim}, {vit.Depth} blocks, " +
                      $"{vit.NHead} heads, {model.ParameterCount:N0} parameters; AdamW lr {preset.Lr:G3}, batch {B}{Cluster.PerRank(B)}, shifts ±{preset.Shift} px{(preset.Flip ? ", left–right flips" : "")}, " +
                      (preset.Dropout > 0 ? $"dropout {preset.Dropout:G2}, " : "") + (preset.LabelSmoothing > 0 ? $"label smoothing {preset.LabelSmoothing:G2}, " : "") +
                      $"steps {trainer.StartStep}→{total} ({(double)total / spe:G3} epochs of {spe})" + (o.Minutes is null ? "." : $" or {o.Minutes:G4} minutes."));

        var look = new TrainingLook($"train vit ({split.Name}, {preset.Name})", ips => $"{ips,5:F0} img/s", LossFormat: "F4", Epochs: true);
        var result = TrainingView.Run(log, trainer, look, (step, _) =>
        {
            var (start, count) = trainer.Shard.Of(B);
            var (x, y) = batches.Train(step, preset.Shift, preset.Flip, start, count);   // this rank's (B/K, Ch, H, W), (B/K)
            return new StepLoss(Functional.CrossEntropy(model.Forward(x), y, labelSmoothing: preset.LabelSmoothing), x.Size(0));
        }, stop, o.LossFile);
        var curve = result.Evaluations.Select(r => new VitCurvePoint((int)r.Step, r.Epoch, r.Seconds / 60, r.Loss, r.Evaluation![0].Value)).ToList();
        if (!result.Interrupted)
            log.WriteLine($"Done: {result.Steps} steps ({(double)result.Steps / spe:F2} epochs) in {result.Seconds / 60:F2} min, checkpoint in {trainer.CheckpointDir}. " +
                          $"Test accuracy on {test.Count:N0} images: {100 * last.Accuracy:F2}%");
        if (curve.Count > 0)
        {
            var table = Terminal.Table(">step", ">epoch", ">minutes", ">train loss", ">test accuracy");
            foreach (var c in curve) table.Row($"{c.Step:N0}", $"{c.Epoch:F2}", $"{c.Minutes:F2}", $"{c.TrainLoss:F4}", $"{100 * c.Accuracy:F2}%");
            Terminal.Write(log, table);
        }
        if (!result.Interrupted && trainer.IsMain)   // rank 0 evaluated
        {
            log.WriteLine($"Confusion matrix on the {test.Count:N0} test images (rows: true class, columns: predicted):");
            Terminal.Write(log, ConfusionTable(last.Confusion, train.Classes));
        }
        return new VitTrainResult(TrainCommand.ExitCode(result, trainer.CheckpointDir, log), result.Losses.Select(l => ((int)l.Step, l.Loss)).ToList(),
            curve, last.Accuracy, last.Confusion);
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
            var (x, _) = ImageBatches.Make(set, idx, null, cfg.Mean, cfg.Std);
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
    public static (VisionTransformer Model, VitModelConfig Config) Load(string dir) =>
        ModelCheckpoint.Load(dir, "attend train vit --data digits", VitModelConfig.FromJson, c => new VisionTransformer(c.Vit));

    static void CheckResume(string json, string dir, VitModelConfig want)
    {
        var have = VitModelConfig.FromJson(json, dir);
        if (have.Training != want.Training)
            throw new VisionException($"cannot resume: '{dir}' was trained with {have.Training}; this run asks for {want.Training}");
        if (have.Preset != want.Preset || have.Vit != want.Vit)
            throw new VisionException($"cannot resume: '{dir}' holds a ViT of preset '{have.Preset}' ({have.Vit.NumPatches} patches, d {have.Vit.Dim}), not '{want.Preset}' ({want.Vit.NumPatches} patches, d {want.Vit.Dim})");
        if (have.Data != want.Data || !have.Classes.SequenceEqual(want.Classes))
            throw new VisionException($"cannot resume: '{dir}' was trained on '{have.Data}', not '{want.Data}'");
    }
}
