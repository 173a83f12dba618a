using System.Buffers.Binary;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Attend.IO;

/// <summary>
/// Reads and writes the safetensors format (the one Hugging Face and PyTorch users exchange weights in):
/// <code>
/// [8 bytes]  N, the header length, unsigned 64-bit little-endian
/// [N bytes]  UTF-8 JSON: {"__metadata__": {string: string}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …}
/// [rest]     the data section: each tensor's elements, row-major, little-endian, at [begin, end) of this section
/// </code>
/// <para><b>Reading</b> accepts F32, F16 and BF16 (all become <see cref="DType.Float32"/> tensors; the conversion is
/// exact, including subnormals, ±inf and NaN), I64 (<see cref="DType.Int64"/>) and BOOL (<see cref="DType.Bool"/>,
/// one byte, which must be 0 or 1). The file is checked completely before any tensor memory is allocated: the tensors
/// must tile the data section exactly (no overlaps, no holes, nothing after the last one), as the safetensors
/// specification requires. Every violation throws <see cref="InvalidDataException"/> naming the file, the tensor and
/// the byte offsets; a reader never reads out of bounds and never allocates more than the file's size warrants
/// (the header is capped at <see cref="MaxHeaderBytes"/>; an F16/BF16 tensor takes twice its file bytes in memory).</para>
/// <para><b>Writing</b> stores Float32 tensors as F32, Int64 as I64 and Bool as BOOL, sorted by name (ordinal), packed
/// back to back from offset 0, each written row-major whatever its strides. The JSON is compact, <c>__metadata__</c>
/// comes first (and only when metadata is given), and the header is padded with spaces to a multiple of 8 bytes so
/// the data section starts 8-byte aligned, as the reference writer does.
/// <see cref="Save(string, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, string}?)"/> is atomic.</para>
/// <para>Assumes a little-endian host (x64, arm64), as the rest of Attend does.</para>
/// </summary>
public static unsafe class SafeTensors
{
    /// <summary>The largest header accepted when reading (100 MB, as the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    // ---- reading ----------------------------------------------------------------------------------------------

    /// <summary>Reads every tensor of the file at <paramref name="path"/> into new contiguous tensors.</summary>
    /// <exception cref="InvalidDataException">the file is not a well-formed safetensors file (the message says where).</exception>
    public static IReadOnlyDictionary<string, Tensor> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(stream, path);
    }

    /// <summary>Reads every tensor from <paramref name="stream"/>, which holds one safetensors file from its current
    /// position to its end. A non-seekable stream is first copied to memory (as many bytes as it really holds).</summary>
    public static IReadOnlyDictionary<string, Tensor> Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.CanSeek) return Read(stream, "<stream>");
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        copy.Position = 0;
        return Read(copy, "<stream>");
    }

    /// <summary>The <c>__metadata__</c> of the file at <paramref name="path"/> (empty when it has none). Reads and
    /// checks the header only, not the tensor data.</summary>
    public static IReadOnlyDictionary<string, string> LoadMetadata(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096);
        return ReadHeader(stream, path).Metadata;
    }

    /// <summary>The <c>__metadata__</c> of the safetensors file in <paramref name="stream"/> (seekable, at the file's
    /// start); the stream is left at the start of the data section.</summary>
    public static IReadOnlyDictionary<string, string> LoadMetadata(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadHeader(stream, "<stream>").Metadata;
    }

    /// <summary>One tensor's header entry, checked against the file.</summary>
    private sealed record Entry(string Name, string DType, int[] Shape, int Count, long Begin, long End);

    private sealed record Header(List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart, long DataLength);

    private static IReadOnlyDictionary<string, Tensor> Read(Stream stream, string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors: big-endian hosts are not supported");
        var header = ReadHeader(stream, path);
        var result = new Dictionary<string, Tensor>(header.Entries.Count, StringComparer.Ordinal);
        try
        {
            // Read in file order so a plain file is read front to back.
            foreach (var e in header.Entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
                result[e.Name] = ReadTensor(stream, path, header.DataStart, e);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    private static Tensor ReadTensor(Stream stream, string path, long dataStart, Entry e)
    {
        var dtype = e.DType switch { "I64" => DType.Int64, "BOOL" => DType.Bool, _ => DType.Float32 };
        var t = Tensor.Empty(e.Shape, dtype);
        try
        {
            long bytes = e.End - e.Begin;
            stream.Position = dataStart + e.Begin;
            ReadExactly(stream, t.RawData, bytes, path, e);
            switch (e.DType)
            {
                case "F16": WidenInPlace(t.RawData, e.Count, half: true); break;
                case "BF16": WidenInPlace(t.RawData, e.Count, half: false); break;
                case "BOOL":
                    byte* p = t.RawData;
                    for (int i = 0; i < e.Count; i++)
                        if (p[i] > 1)
                            throw Bad(path, $"tensor '{e.Name}': BOOL byte at data offset {e.Begin + i} is {p[i]}, not 0 or 1");
                    break;
            }
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    private static void ReadExactly(Stream stream, byte* destination, long bytes, string path, Entry e)
    {
        long done = 0;
        while (done < bytes)
        {
            int chunk = (int)Math.Min(bytes - done, 1 << 24);
            int n = stream.Read(new Span<byte>(destination + done, chunk));
            if (n == 0)
                throw Bad(path, $"tensor '{e.Name}': the file ended at data offset {e.Begin + done}, inside data_offsets " +
                                $"[{e.Begin}, {e.End}] (was it truncated while being read?)");
            done += n;
        }
    }

    /// <summary>Turns <paramref name="count"/> 16-bit floats at the start of <paramref name="p"/> into float32s
    /// filling 4·count bytes, in place: walking backwards, element i's 4 bytes land on 16-bit slots 2i and 2i+1,
    /// which are ≥ i, so they are already converted (or, for i = 0, read before being overwritten).</summary>
    private static void WidenInPlace(byte* p, int count, bool half)
    {
        ushort* src = (ushort*)p;
        float* dst = (float*)p;
        for (int i = count - 1; i >= 0; i--)
        {
            ushort bits = src[i];
            dst[i] = half
                ? (float)BitConverter.UInt16BitsToHalf(bits)          // IEEE binary16, exact in float32
                : BitConverter.Int32BitsToSingle(bits << 16);        // bfloat16 = the top 16 bits of a float32
        }
    }

    private static Header ReadHeader(Stream stream, string path)
    {
        long start = stream.Position;
        long fileLength = stream.Length - start;
        if (fileLength < 8)
            throw Bad(path, $"the file is {fileLength} bytes, shorter than the 8-byte header length that starts every safetensors file");

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad(path, $"the header length is {headerLength} bytes, but only {fileLength - 8} bytes follow the 8-byte length " +
                            "(not a safetensors file, or truncated)");
        if (headerLength > MaxHeaderBytes)
            throw Bad(path, $"the header length is {headerLength} bytes, more than the {MaxHeaderBytes}-byte limit");
        if (headerLength < 2)
            throw Bad(path, $"the header length is {headerLength} bytes, too short for a JSON object");

        var json = new byte[headerLength];   // safe: no larger than the file, and at most MaxHeaderBytes
        stream.ReadExactly(json);
        long dataStart = start + 8 + (long)headerLength;
        long dataLength = fileLength - 8 - (long)headerLength;

        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw Bad(path, $"the {headerLength}-byte header (file bytes [8, {8 + (long)headerLength})) is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Bad(path, $"the {headerLength}-byte header (file bytes [8, {8 + (long)headerLength})) is not valid JSON: {ex.Message}");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"the header is a JSON {doc.RootElement.ValueKind}, not an object");

            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw Bad(path, $"the header names '{property.Name}' twice");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, path);
                else
                    entries.Add(ReadEntry(property, dataLength, path));
            }
            CheckCoverage(entries, dataLength, path);
            return new Header(entries, metadata, dataStart, dataLength);
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"{MetadataKey} is a JSON {value.ValueKind}, not an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Bad(path, $"{MetadataKey} value '{item.Name}' is a JSON {item.Value.ValueKind}, not a string");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Bad(path, $"{MetadataKey} names '{item.Name}' twice");
        }
    }

    /// <summary>Element size in bytes of each dtype this reader accepts.</summary>
    private static int ElementSize(string dtype) => dtype switch
    {
        "F32" => 4, "F16" => 2, "BF16" => 2, "I64" => 8, "BOOL" => 1, _ => 0,
    };

    /// <summary>Dtypes of the safetensors specification that Attend does not read.</summary>
    private static readonly HashSet<string> KnownUnsupported = new(StringComparer.Ordinal)
    {
        "F64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
    };

    private static Entry ReadEntry(JsonProperty property, long dataLength, string path)
    {
        string name = property.Name;
        var info = property.Value;
        if (info.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"tensor '{name}': its header entry is a JSON {info.ValueKind}, not an object");
        foreach (var key in info.EnumerateObject())
            if (key.Name is not ("dtype" or "shape" or "data_offsets"))
                throw Bad(path, $"tensor '{name}': unknown key '{key.Name}' (an entry holds dtype, shape and data_offsets)");

        if (!info.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
            throw Bad(path, $"tensor '{name}' has no string 'dtype'");
        string dtype = dtypeJson.GetString()!;
        int elementSize = ElementSize(dtype);
        if (elementSize == 0)
            throw Bad(path, KnownUnsupported.Contains(dtype)
                ? $"tensor '{name}' has dtype '{dtype}', which Attend does not read (it reads F32, F16, BF16, I64 and BOOL)"
                : $"tensor '{name}' has unknown dtype '{dtype}' (Attend reads F32, F16, BF16, I64 and BOOL)");

        ulong[] dims = ReadUInt64Array(info, "shape", name, path);
        ulong[] offsets = ReadUInt64Array(info, "data_offsets", name, path);
        string shapeText = "[" + string.Join(", ", dims) + "]";

        // Element count: every dim and the product must fit a Tensor (int elements); 0 in any dim gives 0.
        var shape = new int[dims.Length];
        long count = 1;
        bool overflow = false;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] > int.MaxValue) { overflow = true; break; }
            shape[i] = (int)dims[i];
        }
        if (!overflow && !shape.AsSpan().Contains(0))
            foreach (int d in shape)
                if ((count *= d) > int.MaxValue) { overflow = true; break; }
        if (overflow)
            throw Bad(path, $"tensor '{name}': shape {shapeText} has more than {int.MaxValue} elements (or a dimension that large)");
        if (shape.AsSpan().Contains(0)) count = 0;

        if (offsets.Length != 2)
            throw Bad(path, $"tensor '{name}': data_offsets holds {offsets.Length} numbers, not 2 (begin, end)");
        ulong begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}] ends before it begins");
        if (end > (ulong)dataLength)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}] run past the end of the {dataLength}-byte data section");
        long expected = count * elementSize;
        if ((long)(end - begin) != expected)
            throw Bad(path, $"tensor '{name}': data_offsets [{begin}, {end}] span {end - begin} bytes, but {dtype} shape {shapeText} " +
                            $"needs {count} × {elementSize} = {expected}");
        return new Entry(name, dtype, shape, (int)count, (long)begin, (long)end);
    }

    private static ulong[] ReadUInt64Array(JsonElement info, string key, string name, string path)
    {
        if (!info.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"tensor '{name}' has no array '{key}'");
        var values = new ulong[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetUInt64(out ulong value))
                throw Bad(path, $"tensor '{name}': '{key}' holds {item.GetRawText()}, not a non-negative integer");
            values[i++] = value;
        }
        return values;
    }

    /// <summary>The tensors, sorted by offsets, must tile [0, dataLength) exactly (zero-byte tensors sit anywhere on a
    /// boundary).</summary>
    private static void CheckCoverage(List<Entry> entries, long dataLength, string path)
    {
        var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long covered = 0;
        Entry? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin < covered)
                throw Bad(path, $"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' " +
                                $"[{previous.Begin}, {previous.End}]");
            if (e.Begin > covered)
                throw Bad(path, $"data bytes [{covered}, {e.Begin}) belong to no tensor (a hole " +
                                (previous is null ? "before the first tensor" : $"between '{previous.Name}' and '{e.Name}'") + ")");
            covered = e.End;
            previous = e;
        }
        if (covered != dataLength)
            throw Bad(path, $"{dataLength - covered} trailing bytes: the tensors end at data offset {covered}" +
                            (previous is null ? "" : $" (tensor '{previous.Name}')") + $" but the data section is {dataLength} bytes");
    }

    private static InvalidDataException Bad(string path, string why) => new($"{path}: malformed safetensors file: {why}");

    // ---- writing ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Writes <paramref name="tensors"/> (and <paramref name="metadata"/> as <c>__metadata__</c>) to
    /// <paramref name="path"/> atomically: the bytes go to a temporary file in the same directory, are flushed to disk
    /// (fsync), and the temporary file is then renamed over <paramref name="path"/>. A failure at any point leaves
    /// <paramref name="path"/> as it was and removes the temporary file.
    /// </summary>
    /// <exception cref="ArgumentException">a tensor is named <c>__metadata__</c>, or a name or tensor is null.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        => Save(path, tensors, metadata, wrap: null);

    /// <summary>As the public Save; <paramref name="wrap"/> lets tests put a failing stream between writer and file.</summary>
    internal static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata,
        Func<Stream, Stream>? wrap)
    {
        ArgumentNullException.ThrowIfNull(path);
        var plan = Plan(tensors, metadata);
        AtomicFile.Write(path, file =>
        {
            var target = wrap?.Invoke(file) ?? file;
            WritePlanned(target, plan);
            target.Flush();
        });
    }

    /// <summary>Writes the file to <paramref name="stream"/> at its current position (not atomic; the stream is not
    /// closed).</summary>
    public static void Save(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WritePlanned(stream, Plan(tensors, metadata));
        stream.Flush();
    }

    private sealed record Planned(byte[] Header, List<(string Name, Tensor Tensor)> Order);

    /// <summary>Checks the arguments and builds the padded header before anything is written.</summary>
    private static Planned Plan(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var order = new List<(string Name, Tensor Tensor)>(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            if (name is null) throw new ArgumentException("safetensors: a tensor name is null", nameof(tensors));
            if (name == MetadataKey) throw new ArgumentException($"safetensors: '{MetadataKey}' is reserved and cannot name a tensor", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"safetensors: tensor '{name}' is null", nameof(tensors));
            if (tensor.IsDisposed) throw new ObjectDisposedException(nameof(Tensor), $"safetensors: tensor '{name}' was disposed");
            order.Add((name, tensor));
        }
        order.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));

        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is not null)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    if (v is null) throw new ArgumentException($"safetensors: metadata value '{k}' is null", nameof(metadata));
                    w.WriteString(k, v);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in order)
            {
                long bytes = (long)t.NumEl * t.DType.Size();
                w.WriteStartObject(name);
                w.WriteString("dtype", t.DType switch { DType.Float32 => "F32", DType.Int64 => "I64", _ => "BOOL" });
                w.WriteStartArray("shape");
                foreach (int d in t.ShapeRef) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int pad = (int)(-buffer.Length & 7);
        for (int i = 0; i < pad; i++) buffer.WriteByte((byte)' ');
        return new Planned(buffer.ToArray(), order);
    }

    private static void WritePlanned(Stream stream, Planned plan)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)plan.Header.Length);
        stream.Write(length);
        stream.Write(plan.Header);
        foreach (var (_, tensor) in plan.Order)
        {
            var c = tensor.ContiguousRaw();
            try
            {
                long bytes = (long)c.NumEl * c.DType.Size();
                for (long done = 0; done < bytes;)
                {
                    int chunk = (int)Math.Min(bytes - done, 1 << 24);
                    stream.Write(new ReadOnlySpan<byte>(c.RawData + done, chunk));
                    done += chunk;
                }
            }
            finally
            {
                if (!ReferenceEquals(c, tensor)) c.Dispose();
            }
        }
    }
}

/// <summary>Write-then-rename: the only way a reader sees the target change is from the old whole file to the new
/// whole file.</summary>
internal static class AtomicFile
{
    /// <summary>Calls <paramref name="write"/> on a new temporary file beside <paramref name="path"/>, fsyncs it, and
    /// renames it over <paramref name="path"/>. On any failure the temporary file is deleted and the exception
    /// propagates; <paramref name="path"/> is untouched.</summary>
    public static void Write(string path, Action<FileStream> write)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory", nameof(path));
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary><see cref="Write"/> for a UTF-8 text file (no byte-order mark).</summary>
    public static void WriteText(string path, string text) =>
        Write(path, file => file.Write(new UTF8Encoding(false).GetBytes(text)));
}
