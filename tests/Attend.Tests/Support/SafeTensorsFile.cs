using System.Buffers.Binary;
using System.Text.Json;

namespace Attend.Tests.Support;

/// <summary>One tensor of a safetensors file: its dtype name ("F32", "I64" or "BOOL"), shape and raw bytes.</summary>
public sealed class SafeTensorEntry
{
    private readonly byte[] _data;

    internal SafeTensorEntry(string name, string dtype, int[] shape, byte[] data)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        _data = data;
    }

    public string Name { get; }
    public string DType { get; }
    public int[] Shape { get; }
    public int ElementCount => SafeTensorsFile.Product(Shape);

    /// <summary>The values of an F32 tensor, in row-major order.</summary>
    public float[] ToFloats()
    {
        Expect("F32");
        var values = new float[ElementCount];
        for (int i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(_data.AsSpan(4 * i, 4));
        return values;
    }

    /// <summary>The values of an I64 tensor, in row-major order.</summary>
    public long[] ToInt64s()
    {
        Expect("I64");
        var values = new long[ElementCount];
        for (int i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadInt64LittleEndian(_data.AsSpan(8 * i, 8));
        return values;
    }

    /// <summary>The values of a BOOL tensor (one byte each, 0 or 1), in row-major order.</summary>
    public bool[] ToBools()
    {
        Expect("BOOL");
        var values = new bool[ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = _data[i] switch
            {
                0 => false,
                1 => true,
                var b => throw new InvalidDataException($"tensor '{Name}': BOOL byte {i} is {b}, not 0 or 1"),
            };
        }
        return values;
    }

    private void Expect(string dtype)
    {
        if (DType != dtype)
            throw new InvalidOperationException($"tensor '{Name}' is {DType}, not {dtype}");
    }
}

/// <summary>
/// A minimal, test-only reader of safetensors files holding F32, I64 and BOOL tensors:
/// u64 little-endian header length N, N bytes of JSON header, then raw little-endian data.
/// Header: <c>{"name": {"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}, …, "__metadata__": {…}}</c>,
/// offsets relative to the first byte after the header. Malformed files throw <see cref="InvalidDataException"/>.
/// </summary>
public sealed class SafeTensorsFile
{
    private static readonly Dictionary<string, int> ElementSize = new() { ["F32"] = 4, ["I64"] = 8, ["BOOL"] = 1 };

    private SafeTensorsFile(string path, Dictionary<string, SafeTensorEntry> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorEntry> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public SafeTensorEntry this[string name] =>
        Tensors.TryGetValue(name, out var entry)
            ? entry
            : throw new KeyNotFoundException($"{Path}: no tensor named '{name}' (has: {string.Join(", ", Tensors.Keys)})");

    public bool Contains(string name) => Tensors.ContainsKey(name);

    public static SafeTensorsFile Read(string path) => Parse(File.ReadAllBytes(path), path);

    public static SafeTensorsFile Parse(byte[] bytes, string path = "<bytes>")
    {
        InvalidDataException Bad(string why) => new($"{path}: malformed safetensors file: {why}");

        if (bytes.Length < 8)
            throw Bad($"{bytes.Length} bytes, shorter than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Bad($"header length {headerLength} runs past the end of the file ({bytes.Length} bytes)");
        int dataStart = 8 + (int)headerLength;
        int dataLength = bytes.Length - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        }
        catch (JsonException e)
        {
            throw Bad($"header is not valid JSON ({e.Message})");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad("header is not a JSON object");

            var tensors = new Dictionary<string, SafeTensorEntry>();
            var metadata = new Dictionary<string, string>();
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw Bad("__metadata__ is not an object");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw Bad($"__metadata__ value '{item.Name}' is not a string");
                        metadata[item.Name] = item.Value.GetString()!;
                    }
                    continue;
                }
                tensors[property.Name] = ReadEntry(property, bytes, dataStart, dataLength, Bad);
            }
            return new SafeTensorsFile(path, tensors, metadata);
        }
    }

    private static SafeTensorEntry ReadEntry(JsonProperty property, byte[] bytes, int dataStart, int dataLength,
        Func<string, InvalidDataException> bad)
    {
        string name = property.Name;
        var info = property.Value;
        if (info.ValueKind != JsonValueKind.Object)
            throw bad($"tensor '{name}' is not an object");
        if (!info.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
            throw bad($"tensor '{name}' has no string 'dtype'");
        string dtype = dtypeJson.GetString()!;
        if (!ElementSize.TryGetValue(dtype, out int elementSize))
            throw bad($"tensor '{name}' has dtype '{dtype}'; this reader knows F32, I64 and BOOL");

        int[] shape = ReadIntArray(info, "shape", name, bad);
        if (shape.Any(d => d < 0))
            throw bad($"tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}]");
        long[] offsets = ReadIntArray(info, "data_offsets", name, bad).Select(o => (long)o).ToArray();
        if (offsets.Length != 2)
            throw bad($"tensor '{name}': data_offsets has {offsets.Length} numbers, not 2");
        long begin = offsets[0], end = offsets[1];
        if (begin < 0 || end < begin || end > dataLength)
            throw bad($"tensor '{name}': data_offsets [{begin}, {end}] outside the {dataLength} data bytes");
        long expected = (long)Product(shape) * elementSize;
        if (end - begin != expected)
            throw bad($"tensor '{name}': {end - begin} bytes for {dtype} shape [{string.Join(", ", shape)}], " +
                      $"which needs {expected}");

        var data = bytes.AsSpan(dataStart + (int)begin, (int)(end - begin)).ToArray();
        return new SafeTensorEntry(name, dtype, shape, data);
    }

    private static int[] ReadIntArray(JsonElement info, string key, string name, Func<string, InvalidDataException> bad)
    {
        if (!info.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw bad($"tensor '{name}' has no array '{key}'");
        var values = new List<int>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int value))
                throw bad($"tensor '{name}': '{key}' holds {item}, not a 32-bit integer");
            values.Add(value);
        }
        return values.ToArray();
    }

    internal static int Product(int[] shape)
    {
        int n = 1;
        foreach (int d in shape)
            n = checked(n * d);
        return n;
    }
}
