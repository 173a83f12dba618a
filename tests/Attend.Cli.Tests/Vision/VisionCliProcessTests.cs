using Attend.Cli.Vision;
using Attend.IO;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// <c>attend train vit</c> and <c>attend classify</c> run as processes on the tiny preset, as CI and users run them:
/// the curve and confusion-matrix tables, a PNG classified, Ctrl-C leaving a checkpoint that --resume continues, and bad
/// input (a non-image, a missing data set, a bad patch size) as one "error:" line with exit code 2. Serial: these
/// processes use both cores.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class VisionCliProcessTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"attend-vit-cli-{Guid.NewGuid():N}");

    public VisionCliProcessTests() => Directory.CreateDirectory(root);
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    private string P(string name) => Path.Combine(root, name);

    [Fact]
    public void Train_vit_tiny_on_digits_then_classify_a_png()
    {
        var (exit, stdout, stderr) = CliProcess.Run("train", "vit", "--data", "digits", "--preset", "tiny", "--out", P("vit"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("1,438 training images, 359 test", stdout);
        Assert.Matches(@"step +\d+ +epoch +\d\.\d\d .*test accuracy +\d+\.\d\d%.*ETA", stdout);   // plain progress lines
        Assert.Matches(@"Test accuracy on 359 images: \d+\.\d\d%", stdout);
        Assert.Contains("test accuracy", stdout);           // the curve table
        Assert.Contains("true \\ predicted", stdout);       // the confusion matrix
        Assert.True(File.Exists(Path.Combine(P("vit"), Checkpoint.ManifestFile)));

        var test = VisionData.Load("digits").Test;
        ImageFiles.SavePng(P("digit.png"), test.Pixels[..64], 1, 8, 8);
        var c = CliProcess.Run("classify", "--model", P("vit"), P("digit.png"));
        Assert.True(c.Exit == 0, c.Err);
        Assert.Contains("digit.png", c.Out);
        Assert.Matches(@"\d\.\d%", c.Out);
        Assert.Contains("grey 8×8", c.Out);
    }

    [Fact]
    public void Ctrl_c_saves_a_checkpoint_that_resume_continues()
    {
        using (var run = new CliProcess("train", "vit", "--data", "digits", "--preset", "tiny", "--epochs", "100000", "--eval-every", "20", "--save-every", "100000", "--out", P("int")))
        {
            run.WaitFor("step ", 120);
            run.Signal("INT");
            Assert.Equal(130, run.Wait());
            Assert.Contains("stopping: saving a checkpoint", run.Stderr);
            Assert.Matches(@"Interrupted at step \d+: checkpoint saved", run.Stdout);
        }
        int step;
        using (var ckpt = Checkpoint.Load(P("int"))) step = int.Parse(ckpt.Extra["step"]);
        var (exit, stdout, stderr) = CliProcess.Run("train", "vit", "--data", "digits", "--preset", "tiny", "--steps", $"{step + 3}", "--resume", "--out", P("int"));
        Assert.True(exit == 0, stderr);
        Assert.Contains($"steps {step}→{step + 3}", stdout);
    }

    [Fact]
    public void Bad_input_is_one_error_line_and_exit_code_2()
    {
        File.WriteAllText(P("notes.png"), "this is text");
        Directory.CreateDirectory(P("m"));
        var cases = new (string[] Args, string Message)[]
        {
            (["train", "vit", "--data", P("nowhere"), "--out", P("o1")], "neither digits, mnist, fashion-mnist nor a folder"),
            (["train", "vit", "--data", "digits", "--patch-size", "3", "--out", P("o2")], "patch size 3 must divide the image size 8"),
            (["classify", "--model", P("m"), P("notes.png")], "holds no checkpoint"),
        };
        foreach (var (args, message) in cases)
        {
            var (exit, _, stderr) = CliProcess.Run(args);
            Assert.Equal(2, exit);
            Assert.StartsWith("error: ", stderr);
            Assert.Contains(message, stderr);
        }
        var train = CliProcess.Run("train", "vit", "--data", "digits", "--preset", "tiny", "--steps", "3", "--out", P("ok"));
        Assert.True(train.Exit == 0, train.Err);
        var bad = CliProcess.Run("classify", "--model", P("ok"), P("notes.png"));
        Assert.Equal(2, bad.Exit);
        Assert.Contains("notes.png: not a PNG, JPEG", bad.Err);
    }
}
