using Attend.Cli.Vision;
using Attend.IO;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// <c>attend train vit</c> in-process on the tiny preset and the committed digits: it learns (far above chance), the
/// accuracy and confusion matrix agree with arg-max predictions recomputed here, an interrupted run resumed gives the
/// very losses of an uninterrupted one, and bad options fail before anything is written. Serial: exact resume compares
/// losses bit for bit.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class VisionTrainingTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"attend-vit-{Guid.NewGuid():N}");

    public VisionTrainingTests() => Directory.CreateDirectory(root);
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    private string P(string name) => Path.Combine(root, name);

    private VitTrainOptions Tiny(string dir, int steps, bool resume = false, int shift = 0) =>
        new("digits", dir, "tiny", Steps: steps, Seed: 3, Resume: resume, EvalEvery: 1000, SaveEvery: 1000, Shift: shift);

    [Fact]
    public void Tiny_learns_digits_and_reports_a_consistent_confusion_matrix()
    {
        var log = new StringWriter();
        var r = VitTraining.Run(Tiny(P("a"), 150), log, CancellationToken.None);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(150, r.Train.Count);
        Assert.InRange(r.Accuracy, 0.6, 1.0);                         // chance is 0.1
        Assert.True(r.Train.Skip(140).Average(s => s.Loss) < r.Train.Take(10).Average(s => s.Loss) - 1);
        Assert.Contains("true \\ predicted", log.ToString());

        // recompute the predictions from the saved checkpoint, one image at a time
        var (model, cfg) = VitTraining.Load(P("a"));
        var test = VisionData.Load("digits").Test;
        var confusion = new int[10, 10];
        using (Autograd.NoGrad())
            for (int i = 0; i < test.Count; i++)
            {
                using var scope = Tensor.NewScope();
                var (x, _) = ImageBatches.Make(test, [i], null, cfg.Mean, cfg.Std);
                var logits = model.Forward(x).ToArray();
                confusion[test.Labels[i], Array.IndexOf(logits, logits.Max())]++;
            }
        Assert.Equal(confusion, r.Confusion);
        Assert.Equal(Enumerable.Range(0, 10).Sum(k => confusion[k, k]) / (double)test.Count, r.Accuracy, 12);
    }

    [Fact]
    public void Interrupted_then_resumed_gives_the_losses_of_an_uninterrupted_run()
    {
        var full = VitTraining.Run(Tiny(P("full"), 30, shift: 1), TextWriter.Null, CancellationToken.None);

        using var cts = new CancellationTokenSource();
        var first = VitTraining.Run(Tiny(P("cut"), 30, shift: 1), TextWriter.Null, cts.Token, done => { if (done == 13) cts.Cancel(); });
        Assert.Equal(130, first.ExitCode);
        Assert.Equal(13, first.Train.Count);
        using (var ckpt = Checkpoint.Load(P("cut"))) Assert.Equal("13", ckpt.Extra["step"]);
        var rest = VitTraining.Run(Tiny(P("cut"), 30, resume: true, shift: 1), TextWriter.Null, CancellationToken.None);
        Assert.Equal(0, rest.ExitCode);
        Assert.Equal(full.Train, first.Train.Concat(rest.Train));      // bit for bit: same batches, shifts, optimizer state
        Assert.Equal(full.Accuracy, rest.Accuracy);
    }

    [Fact]
    public void Bad_options_and_checkpoints_are_clear_errors()
    {
        string Fails(VitTrainOptions o)                                          // the one line the CLI prints
        {
            var e = Record.Exception(() => VitTraining.Run(o, TextWriter.Null, CancellationToken.None));
            Assert.True(e is CliException or TrainingException, $"expected a user error, got {e}");
            return CliChecks.Message(e!);
        }
        Assert.Contains("patch size 3 must divide the image size 8", Fails(Tiny(P("b"), 5) with { PatchSize = 3 }));
        Assert.Contains("--dim 30 must be a positive multiple of --heads 4", Fails(Tiny(P("b"), 5) with { Dim = 30, Heads = 4 }));
        Assert.Contains("--steps must be positive", Fails(Tiny(P("b"), 0)));
        Assert.Contains("unknown preset 'huge'", Fails(Tiny(P("b"), 5) with { Preset = "huge" }));
        Assert.False(Directory.Exists(P("b")));

        VitTraining.Run(Tiny(P("c"), 5), TextWriter.Null, CancellationToken.None);
        Assert.Contains("already holds a checkpoint: add --resume", Fails(Tiny(P("c"), 10)));
        Assert.Contains("already at step 5", Fails(Tiny(P("c"), 5, resume: true)));
        Assert.Contains("cannot resume", Fails(Tiny(P("c"), 10, resume: true) with { Lr = 1e-2 }));
        Assert.Contains("holds no checkpoint", Assert.Throws<CliException>(() => VitTraining.Load(P("none"))).Message);
    }

    [Fact]
    public void A_folder_of_rgb_images_trains_with_a_patch_that_fits_its_size()
    {
        var rng = new Random(1);
        foreach (var (cls, channel) in new[] { ("red", 0), ("blue", 2) })
        {
            Directory.CreateDirectory(P(Path.Combine("imgs", cls)));
            for (int i = 0; i < 10; i++)
            {
                var px = new float[3 * 20 * 20];
                for (int j = 0; j < 400; j++) px[channel * 400 + j] = 0.5f + 0.5f * (float)rng.NextDouble();
                ImageFiles.SavePng(P(Path.Combine("imgs", cls, $"{i}.png")), px, 3, 20, 20);
            }
        }
        var log = new StringWriter();
        var r = VitTraining.Run(new VitTrainOptions(P("imgs"), P("f"), "tiny", Steps: 30, ImageSize: 10, Channels: 3, EvalEvery: 30), log, CancellationToken.None);
        Assert.Contains("4 patches of 5×5", log.ToString());          // the tiny preset's 4×4 does not divide 10: 5×5 does
        Assert.Equal(1.0, r.Accuracy);                                 // red vs blue
    }

    [Fact]
    public void Classify_inverts_dark_on_light_images_and_resizes()
    {
        VitTraining.Run(Tiny(P("m"), 60), TextWriter.Null, CancellationToken.None);
        var test = VisionData.Load("digits").Test;
        int i = Array.IndexOf(test.Labels, 4);
        var img = test.Pixels.AsSpan(i * 64, 64).ToArray();
        ImageFiles.SavePng(P("four.png"), img, 1, 8, 8);
        var up = new float[32 * 32];                                     // the same digit 4× larger, black on white
        for (int r = 0; r < 32; r++) for (int c = 0; c < 32; c++) up[r * 32 + c] = 1 - img[r / 4 * 8 + c / 4];
        ImageFiles.SavePng(P("four-paper.png"), up, 1, 32, 32);

        var res = VitClassifier.Run(P("m"), [P("four.png"), P("four-paper.png")], 3, "auto");
        Assert.Equal("grey 8×8", res[0].Note);
        Assert.Equal("grey 8×8, resized from 32×32, inverted", res[1].Note);
        Assert.Equal(3, res[0].Top.Count);
        Assert.True(res[0].Top[0].Probability >= res[0].Top[1].Probability);
        var (model, cfg) = VitTraining.Load(P("m"));
        var probs = VitTraining.Probabilities(model, test.Subset([i]), cfg);
        Assert.Equal(cfg.Classes[Array.IndexOf(probs, probs.Max())], res[0].Top[0].Class);   // the PNG round trip keeps the prediction
        Assert.Equal(probs.Max(), res[0].Top[0].Probability, 2);
        Assert.Equal(res[0].Top[0].Class, res[1].Top[0].Class);          // the inverted, resized copy reads the same
        Assert.Equal("grey 8×8, inverted", VitClassifier.Run(P("m"), [P("four.png")], 1, "always")[0].Note);
    }
}
