using System.CommandLine;
using Attend.Cli.Ui;

namespace Attend.Cli.Vision;

/// <summary>The command-line front of image classification: <c>attend train vit …</c> and <c>attend classify …</c>.</summary>
public static class VisionCommands
{
    public static Command Train()
    {
        var data = new Option<string>("--data") { Description = "digits, mnist (run data/mnist/fetch.sh first), fashion-mnist (apt-get install dataset-fashion-mnist), or a folder with one sub-folder of images per class", Required = true };
        var common = new TrainOptionSet("tiny (seconds, tests/CI), small (8×8 digits), base (28×28 and folders) or fashion (Fashion-MNIST); default: small for digits, fashion for fashion-mnist, base otherwise",
            ["tiny", "small", "base", "fashion"], defaultSteps: null, withMinutes: true, withAttention: false, withBatch: false);
        var epochs = new Option<int?>("--epochs") { Description = "passes over the training images (default: the preset's; --steps overrides it)" };
        var shift = new Option<int?>("--shift") { Description = "augmentation: shift each training image by up to this many pixels per axis (default: the preset's; 0: none)" };
        var flip = new Option<bool?>("--flip") { Description = "augmentation: mirror each training image left–right with probability ½ (clothes yes, digits no; default: the preset's, off)" };
        var patch = new Option<int?>("--patch-size") { Description = "patch size in pixels; must divide the image size (default: the preset's)" };
        var imageSize = new Option<int>("--image-size") { Description = "image folders: resize every image to this square size", DefaultValueFactory = _ => 32 };
        var channels = new Option<int>("--channels") { Description = "image folders: 1 (grey) or 3 (RGB)", DefaultValueFactory = _ => 3 };
        var dim = new Option<int?>("--dim") { Description = "embedding width (default: the preset's)" };
        var depth = new Option<int?>("--depth") { Description = "encoder blocks (default: the preset's)" };
        var heads = new Option<int?>("--heads") { Description = "attention heads; must divide --dim (default: the preset's)" };
        var batch = new Option<int?>("--batch") { Description = "images per step (default: the preset's); under mpirun the global batch, split over the ranks" };
        var lr = new Option<double?>("--lr") { Description = "peak learning rate (default: the preset's)" };
        var dropout = new Option<float?>("--dropout") { Description = "dropout after attention and MLP (default: the preset's)" };
        var smoothing = new Option<float?>("--label-smoothing") { Description = "cross-entropy label smoothing ε (default: the preset's)" };
        var cmd = new Command("vit", "Train a Vision Transformer image classifier, printing test accuracy as it learns; the end shows the confusion matrix.")
        {
            data, epochs, shift, patch, imageSize, channels, dim, depth, heads, batch, lr, dropout, smoothing, flip,
        };
        common.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            WideWhenRedirected();
            var t = common.Read(pr);
            return TrainCommand.Run(stop => VitTraining.Run(new VitTrainOptions(pr.GetValue(data)!, t.Out, t.Preset.Length == 0 ? null : t.Preset, pr.GetValue(epochs),
                t.Steps, t.Minutes, t.Seed, t.Resume, t.EvalEvery, t.SaveEvery, pr.GetValue(shift), pr.GetValue(patch), pr.GetValue(imageSize),
                pr.GetValue(channels), pr.GetValue(dim), pr.GetValue(depth), pr.GetValue(heads), pr.GetValue(batch), pr.GetValue(lr), pr.GetValue(dropout),
                pr.GetValue(smoothing), pr.GetValue(flip), t.LossFile, t.OnNan), Console.Out, stop).ExitCode);
        });
        return cmd;
    }

    public static Command Classify()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder written by 'attend train vit'", Required = true };
        var top = new Option<int>("--top") { Description = "how many classes to list per image", DefaultValueFactory = _ => 3 };
        var invert = new Option<string>("--invert") { Description = "auto: invert an image whose border brightness is far from the training images' (dark-on-light vs light-on-dark); always; never", DefaultValueFactory = _ => "auto" };
        invert.AcceptOnlyFromAmong("auto", "always", "never");
        var images = new Argument<string[]>("images") { Description = "image files (PNG, JPEG, BMP, GIF, WebP); resized and converted to grey or RGB as the model expects", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("classify", "Classify images with a model trained by 'attend train vit'.") { model, top, invert, images };
        cmd.SetAction(pr => CliChecks.Guard(() =>
        {
            WideWhenRedirected();
            var results = VitClassifier.Run(pr.GetValue(model)!, pr.GetValue(images)!, pr.GetValue(top), pr.GetValue(invert)!);
            var table = Terminal.Table("image", "prediction", ">probability", "top classes", "input");
            foreach (var r in results)
                table.Row(Path.GetFileName(r.Path), r.Top[0].Class, $"{100 * r.Top[0].Probability:F1}%",
                    string.Join(", ", r.Top.Select(t => $"{t.Class} {100 * t.Probability:F1}%")), r.Note);
            Terminal.Write(Console.Out, table);
            return 0;
        }));
        return cmd;
    }

    /// <summary>Redirected output (a log file, CI) has no terminal width and Spectre would wrap at 80 columns: the
    /// confusion matrix of 10 classes needs about 100.</summary>
    static void WideWhenRedirected()
    {
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = Math.Max(Spectre.Console.AnsiConsole.Profile.Width, 140);
    }
}
