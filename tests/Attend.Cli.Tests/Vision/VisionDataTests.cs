using Attend.Cli.Vision;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// The data sets of <c>attend train vit</c>: the committed digits, image folders and PNG decoding (the readers of the
/// file formats are the library's: tests/Attend.Tests/Data/ImageDataTests.cs).
/// </summary>
public sealed class VisionDataTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"attend-vision-{Guid.NewGuid():N}");

    public VisionDataTests() => Directory.CreateDirectory(root);
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    private string P(string name) => Path.Combine(root, name);

    [Fact]
    public void Digits_csv_has_sklearns_1797_images_and_class_counts()
    {
        var split = VisionData.Load("digits");
        var all = split.Train.Count + split.Test.Count;
        Assert.Equal(1797, all);
        var counts = new int[10];
        foreach (int y in split.Train.Labels.Concat(split.Test.Labels)) counts[y]++;
        Assert.Equal(new[] { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 }, counts);   // sklearn's load_digits() target counts
        // each class is split 80/20 by rounding
        for (int k = 0; k < 10; k++) Assert.Equal((int)Math.Round(0.2 * counts[k]), split.Test.Labels.Count(y => y == k));
        Assert.InRange(split.Train.Pixels.Max(), 0.99f, 1f);   // pixels 0..16 scaled to [0, 1]
    }

    [Fact]
    public void Png_decoding_converts_to_grey_or_rgb_and_resizes()
    {
        // a 2×2 RGB image: red, green / blue, white
        float[] rgb = [1, 0, 0, 1, /* G */ 0, 1, 0, 1, /* B */ 0, 0, 1, 1];
        ImageFiles.SavePng(P("c.png"), rgb, 3, 2, 2);
        var back = ImageFiles.Load(P("c.png"), 2, 3, out string note);
        Assert.Equal("", note);
        Assert.Equal(rgb, back);
        var grey = ImageFiles.Load(P("c.png"), 2, 1, out _);
        Assert.Equal(new[] { 0.299f, 0.587f, 0.114f, 1f }, grey, (a, b) => Math.Abs(a - b) < 1e-5f);

        ImageFiles.SavePng(P("big.png"), Enumerable.Repeat(0.5f, 40 * 20).ToArray(), 1, 40, 20);   // 20 wide, 40 high
        var small = ImageFiles.Load(P("big.png"), 8, 1, out note);
        Assert.Equal("resized from 20×40", note);
        Assert.Equal(64, small.Length);
        Assert.All(small, v => Assert.InRange(v, 127 / 255f, 129 / 255f));

        File.WriteAllText(P("fake.png"), "not an image");
        Assert.Contains("fake.png: not a PNG, JPEG", Assert.Throws<VisionException>(() => ImageFiles.Load(P("fake.png"), 8, 1, out _)).Message);
    }

    [Fact]
    public void Image_folder_gives_one_class_per_subfolder_and_reports_bad_images()
    {
        foreach (var (cls, value) in new[] { ("cats", 0.2f), ("dogs", 0.8f) })
        {
            Directory.CreateDirectory(P(Path.Combine("pets", cls)));
            for (int i = 0; i < 5; i++)
                ImageFiles.SavePng(P(Path.Combine("pets", cls, $"{i}.png")), Enumerable.Repeat(value, 3 * 12 * 12).ToArray(), 3, 12, 12);
        }
        File.WriteAllText(P(Path.Combine("pets", "dogs", "notes.txt")), "ignored: not an image extension");
        var split = VisionData.Load(P("pets"), imageSize: 6, channels: 1);
        Assert.Equal(new[] { "cats", "dogs" }, split.Train.Classes);
        Assert.Equal((8, 2), (split.Train.Count, split.Test.Count));
        Assert.Equal((1, 6, 6), (split.Train.Channels, split.Train.Height, split.Train.Width));
        for (int i = 0; i < split.Train.Count; i++)
            Assert.Equal(split.Train.Labels[i] == 0 ? 0.2f : 0.8f, split.Train.Pixels[i * 36 + 14], 0.01f);

        File.WriteAllText(P(Path.Combine("pets", "cats", "broken.jpg")), "garbage");
        Assert.Contains("broken.jpg: not a PNG, JPEG", Assert.Throws<VisionException>(() => VisionData.Load(P("pets"), 6, 1)).Message);
        Directory.CreateDirectory(P(Path.Combine("one", "only")));
        Assert.Contains("one sub-folder per class (at least two), found 1", Assert.Throws<VisionException>(() => VisionData.Load(P("one"), 6, 1)).Message);
        Assert.Contains("neither digits, mnist, fashion-mnist nor a folder", Assert.Throws<VisionException>(() => VisionData.Load(P("missing"))).Message);
    }
}
