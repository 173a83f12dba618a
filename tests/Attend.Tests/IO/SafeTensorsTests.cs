using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Attend.IO;
using Xunit;

namespace Attend.Tests;

/// <summary>Attend.IO.SafeTensors: round trips, the bytes it writes, 16-bit float reading, every malformed-file
/// rejection, atomic saves, and interop with files torch wrote (Fixtures/io, from tools/oracle/make_safetensors_fixture.py).</summary>
public sealed class SafeTensorsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("attend-st-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string PathOf(string name) => Path.Combine(dir, name);

    // ---- helpers ----------------------------------------------------------------------------------------------

    /// <summary>A file from a header (padded with spaces to 8 unless <paramref name="pad"/> is false) and data bytes.</summary>
    private static byte[] Build(string header, byte[] data, bool pad = true)
    {
        var json = Encoding.UTF8.GetBytes(header);
        if (pad) json = json.Concat(Enumerable.Repeat((byte)' ', (8 - json.Length % 8) % 8)).ToArray();
        return BitConverter.GetBytes((ulong)json.Length).Concat(json).Concat(data).ToArray();
    }

    private static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
    private static byte[] UShorts(params ushort[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    private static void AssertBitwiseEqual(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"element {i}: expected {expected[i]} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8}), " +
                $"got {actual[i]} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8})");
    }

    /// <summary>Every element as its bits (float32 bit patterns, int64 values, bools as 0/1): exact comparison.</summary>
    private static long[] Bits(Tensor t) => t.DType switch
    {
        DType.Int64 => t.ToInt64Array(),
        DType.Bool => t.ToBoolArray().Select(b => b ? 1L : 0L).ToArray(),
        _ => t.ToArray().Select(v => (long)BitConverter.SingleToInt32Bits(v)).ToArray(),
    };

    private static void DisposeAll(IReadOnlyDictionary<string, Tensor> tensors)
    {
        foreach (var t in tensors.Values) t.Dispose();
    }

    // ---- round trips ------------------------------------------------------------------------------------------

    [Fact]
    public void RoundTrip_F32_I64_Bool_Scalar_Empty()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["w"] = Tensor.FromArray([1f, -2.5f, 3e-39f, float.PositiveInfinity, float.NaN, -0f], [2, 3]),
            ["ids"] = Tensor.FromArray([long.MinValue, -1L, 0L, long.MaxValue], [4]),
            ["mask"] = Tensor.FromArray([true, false, false, true, true, false], [3, 1, 2]),
            ["scalar"] = Tensor.Scalar(4.5f),
            ["empty"] = Tensor.Zeros(0, 3),
            ["empty_ids"] = Tensor.FromArray(Array.Empty<long>(), [2, 0]),
        };
        string path = PathOf("rt.safetensors");
        SafeTensors.Save(path, tensors);
        var loaded = SafeTensors.Load(path);

        Assert.Equal(tensors.Keys.Order(), loaded.Keys.Order());
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.DType, loaded[name].DType);
            Assert.Equal(t.Shape, loaded[name].Shape);
            Assert.True(loaded[name].IsContiguous);
        }
        AssertBitwiseEqual(tensors["w"].ToArray(), loaded["w"].ToArray());
        Assert.Equal(tensors["ids"].ToInt64Array(), loaded["ids"].ToInt64Array());
        Assert.Equal(tensors["mask"].ToBoolArray(), loaded["mask"].ToBoolArray());
        Assert.Equal(4.5f, loaded["scalar"].Item());
        Assert.Empty(loaded["scalar"].Shape);
        Assert.Equal(0, loaded["empty"].NumEl);
        Assert.Equal([2, 0], loaded["empty_ids"].Shape);
        DisposeAll(loaded);
        DisposeAll(tensors);
    }

    [Fact]
    public void EmptyDictionary_RoundTrips()
    {
        string path = PathOf("none.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor>());
        Assert.Equal(16, new FileInfo(path).Length);   // 8-byte length + "{}" padded to 8
        Assert.Empty(SafeTensors.Load(path));
        Assert.Empty(SafeTensors.LoadMetadata(path));
    }

    [Fact]
    public void NonContiguousInputs_AreWrittenRowMajor()
    {
        using var a = Tensor.FromArray([0f, 1f, 2f, 3f, 4f, 5f], [2, 3]);
        using var at = a.Transpose(0, 1);                                   // [3, 2]: 0 3 / 1 4 / 2 5
        using var ids = Tensor.FromArray([10L, 11L, 12L, 13L], [2, 2]);
        using var idsT = ids.Transpose(0, 1);                               // 10 12 11 13
        using var row = Tensor.FromArray([7f, 8f], [1, 2]);
        using var expanded = row.Expand(3, 2);                              // stride 0
        Assert.False(at.IsContiguous);
        Assert.False(expanded.IsContiguous);

        string path = PathOf("strided.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["at"] = at, ["ids"] = idsT, ["x"] = expanded });

        var bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var data = bytes.AsSpan(8 + n).ToArray();
        Assert.Equal(24 + 32 + 24, data.Length);
        Assert.Equal(Floats(0f, 3f, 1f, 4f, 2f, 5f), data[..24]);
        Assert.Equal(new long[] { 10, 12, 11, 13 }, Enumerable.Range(0, 4).Select(i => BitConverter.ToInt64(data, 24 + 8 * i)));
        Assert.Equal(Floats(7f, 8f, 7f, 8f, 7f, 8f), data[56..]);

        var loaded = SafeTensors.Load(path);
        Assert.Equal([3, 2], loaded["at"].Shape);
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], loaded["at"].ToArray());
        DisposeAll(loaded);
    }

    [Fact]
    public void WrittenHeader_IsPaddedSortedPackedWithMetadataFirst()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["b"] = Tensor.FromArray([1f], [1]),          // 4 bytes
            ["a"] = Tensor.FromArray([1L, 2L], [2]),      // 16 bytes
            ["B"] = Tensor.FromArray([true], [1]),        // 1 byte; ordinal order: B < a < b
        };
        string path = PathOf("layout.safetensors");
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        string json = header.TrimEnd(' ');
        Assert.True(header.Length - json.Length < 8);
        Assert.Equal(
            """{"__metadata__":{"format":"pt"},"B":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]},"a":{"dty""" +
            """pe":"I64","shape":[2],"data_offsets":[1,17]},"b":{"dtype":"F32","shape":[1],"data_offsets":[17,21]}}""",
            json);
        Assert.Equal(8 + (long)n + 21, bytes.Length);
        DisposeAll(tensors);
    }

    [Fact]
    public void Metadata_RoundTrips_AndIsEmptyWhenAbsent()
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt", ["step"] = "1200", ["note"] = "ünïcode \"quoted\" \n newline", [""] = "empty key",
        };
        using var x = Tensor.Zeros(2);
        string path = PathOf("meta.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = x }, metadata);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), SafeTensors.LoadMetadata(path).OrderBy(kv => kv.Key));

        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = x });
        Assert.Empty(SafeTensors.LoadMetadata(path));
        Assert.DoesNotContain("__metadata__", File.ReadAllText(path));
    }

    [Fact]
    public void StreamOverloads_RoundTrip_IncludingNonSeekable()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f], [3]);
        var memory = new MemoryStream();
        SafeTensors.Save(memory, new Dictionary<string, Tensor> { ["x"] = x });
        memory.Position = 0;
        var loaded = SafeTensors.Load(memory);
        Assert.Equal([1f, 2f, 3f], loaded["x"].ToArray());
        DisposeAll(loaded);

        var forwardOnly = new ForwardOnlyStream(memory.ToArray());
        loaded = SafeTensors.Load(forwardOnly);
        Assert.Equal([1f, 2f, 3f], loaded["x"].ToArray());
        DisposeAll(loaded);
    }

    [Fact]
    public void Save_RejectsReservedNameAndDisposedTensor_WithoutTouchingTheFile()
    {
        string path = PathOf("keep.safetensors");
        File.WriteAllText(path, "old");
        using var x = Tensor.Zeros(1);
        var e = Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["__metadata__"] = x }));
        Assert.Contains("reserved", e.Message);
        var gone = Tensor.Zeros(1);
        gone.Dispose();
        var d = Assert.Throws<ObjectDisposedException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["gone"] = gone }));
        Assert.Contains("'gone'", d.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
    }

    // ---- 16-bit floats ----------------------------------------------------------------------------------------

    [Fact]
    public void F16_IsConvertedExactly_IncludingSubnormalsInfinitiesAndNaN()
    {
        ushort[] bits = [0x0000, 0x8000, 0x3C00, 0xC100, 0x7BFF, 0x0400, 0x0001, 0x03FF, 0x8001, 0x3555, 0x7C00, 0xFC00, 0x7E00];
        float[] expected =
        [
            0f, -0f, 1f, -2.5f, 65504f,
            6.103515625e-05f,          // 2^-14, the smallest normal
            5.9604644775390625e-08f,   // 2^-24, the smallest subnormal
            6.097555160522461e-05f,    // 1023 · 2^-24, the largest subnormal
            -5.9604644775390625e-08f,
            0.333251953125f,           // 0x3555, the half nearest 1/3
            float.PositiveInfinity, float.NegativeInfinity,
        ];
        string path = PathOf("f16.safetensors");
        File.WriteAllBytes(path, Build("""{"h":{"dtype":"F16","shape":[13],"data_offsets":[0,26]}}""", UShorts(bits)));
        var loaded = SafeTensors.Load(path);
        var h = loaded["h"];
        Assert.Equal(DType.Float32, h.DType);
        var values = h.ToArray();
        AssertBitwiseEqual(expected, values[..12]);
        Assert.True(float.IsNaN(values[12]));
        DisposeAll(loaded);
    }

    [Fact]
    public void BF16_IsTheTop16BitsOfAFloat32()
    {
        ushort[] bits = [0x3F80, 0xC020, 0x3EAB, 0x7F80, 0xFF80, 0x0001, 0x8000, 0x7F7F, 0x7FC0];
        float[] expected =
        [
            1f, -2.5f, 0.333984375f, float.PositiveInfinity, float.NegativeInfinity,
            9.183549615799121e-41f,    // 0x00010000, a float32 subnormal
            -0f,
            3.3895313892515355e+38f,   // 0x7F7F0000, the largest finite bfloat16
        ];
        string path = PathOf("bf16.safetensors");
        // shape [3, 3]: the conversion must fill the whole 36-byte float32 buffer from the 18 file bytes
        File.WriteAllBytes(path, Build("""{"b":{"dtype":"BF16","shape":[3,3],"data_offsets":[0,18]}}""", UShorts(bits)));
        var loaded = SafeTensors.Load(path);
        Assert.Equal([3, 3], loaded["b"].Shape);
        var values = loaded["b"].ToArray();
        AssertBitwiseEqual(expected, values[..8]);
        Assert.Equal(0x7FC00000, BitConverter.SingleToInt32Bits(values[8]));
        DisposeAll(loaded);
    }

    // ---- malformed files --------------------------------------------------------------------------------------

    public static TheoryData<string, byte[], string> BadFiles()
    {
        var one = Floats(1f);
        return new TheoryData<string, byte[], string>
        {
            { "empty file", [], "is 0 bytes, shorter than the 8-byte header length" },
            { "5 bytes", new byte[5], "is 5 bytes, shorter than the 8-byte header length" },
            { "header past the end", BitConverter.GetBytes(1000UL).Concat(new byte[16]).ToArray(),
                "header length is 1000 bytes, but only 16 bytes follow" },
            { "absurd header length", BitConverter.GetBytes(ulong.MaxValue).Concat(new byte[16]).ToArray(),
                $"header length is {ulong.MaxValue} bytes, but only 16 bytes follow" },
            { "zero header", BitConverter.GetBytes(0UL), "header length is 0 bytes" },
            { "malformed JSON", Build("""{"x": nope}""", one), "is not valid JSON" },
            { "truncated JSON", Build("""{"x":{"dtype":"F32",""", one, pad: false), "is not valid JSON" },
            { "invalid UTF-8", BitConverter.GetBytes(8UL).Concat(new byte[] { (byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}' }).ToArray(),
                "the 8-byte header (file bytes [8, 16)) is not valid UTF-8" },
            { "root not an object", Build("[1, 2]", []), "the header is a JSON Array, not an object" },
            { "entry not an object", Build("""{"x":3}""", []), "tensor 'x': its header entry is a JSON Number" },
            { "unknown dtype", Build("""{"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}""", one),
                "tensor 'x' has unknown dtype 'Q7'" },
            { "unsupported dtype", Build("""{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}""", new byte[8]),
                "tensor 'x' has dtype 'F64', which Attend does not read" },
            { "no dtype", Build("""{"x":{"shape":[1],"data_offsets":[0,4]}}""", one), "tensor 'x' has no string 'dtype'" },
            { "no shape", Build("""{"x":{"dtype":"F32","data_offsets":[0,4]}}""", one), "tensor 'x' has no array 'shape'" },
            { "unknown key", Build("""{"x":{"dtype":"F32","shape":[1],"data_offset":[0,4]}}""", one), "tensor 'x': unknown key 'data_offset'" },
            { "negative dim", Build("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", one),
                "tensor 'x': 'shape' holds -1, not a non-negative integer" },
            { "fractional dim", Build("""{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", one),
                "'shape' holds 1.5, not a non-negative integer" },
            { "element count overflow", Build("""{"x":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,4]}}""", one),
                "tensor 'x': shape [65536, 65536] has more than 2147483647 elements" },
            { "u64 overflow", Build("""{"x":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}""", one),
                "has more than 2147483647 elements" },
            { "dim beyond u64", Build("""{"x":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}""", one),
                "not a non-negative integer" },
            { "offsets not matching shape", Build("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", one),
                "tensor 'x': data_offsets [0, 4] span 4 bytes, but F32 shape [2] needs 2 × 4 = 8" },
            { "F16 size mismatch", Build("""{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}""", one), "needs 3 × 2 = 6" },
            { "offsets outside the data", Build("""{"x":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}""", one),
                "tensor 'x': data_offsets [0, 400] run past the end of the 4-byte data section" },
            { "huge offsets", Build("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551611,18446744073709551615]}}""", one),
                "run past the end of the 4-byte data section" },
            { "reversed offsets", Build("""{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}""", one),
                "tensor 'x': data_offsets [4, 0] ends before it begins" },
            { "three offsets", Build("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", one),
                "tensor 'x': data_offsets holds 3 numbers, not 2" },
            { "overlap", Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""",
                new byte[12]), "tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]" },
            { "same offsets twice", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
                one), "overlap tensor 'a' [0, 4]" },
            { "hole between", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""",
                new byte[12]), "data bytes [4, 8) belong to no tensor (a hole between 'a' and 'b')" },
            { "hole at the start", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]),
                "data bytes [0, 4) belong to no tensor (a hole before the first tensor)" },
            { "trailing garbage", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[7]),
                "3 trailing bytes: the tensors end at data offset 4 (tensor 'a') but the data section is 7 bytes" },
            { "data but no tensors", Build("{}", new byte[8]), "8 trailing bytes" },
            { "duplicate name", Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
                one), "the header names 'a' twice" },
            { "metadata not an object", Build("""{"__metadata__":[1]}""", []), "__metadata__ is a JSON Array" },
            { "metadata value not a string", Build("""{"__metadata__":{"n":1}}""", []), "__metadata__ value 'n' is a JSON Number, not a string" },
            { "bool byte not 0 or 1", Build("""{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""", [1, 0, 2]),
                "tensor 'm': BOOL byte at data offset 2 is 2, not 0 or 1" },
        };
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void MalformedFiles_ThrowInvalidDataException_NamingFileTensorAndOffsets(string label, byte[] bytes, string expected)
    {
        string path = PathOf("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.StartsWith(path + ": malformed safetensors file: ", e.Message);
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"{label}: message was: {e.Message}");

        // The same bytes through a stream give the same message, naming the stream.
        var s = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(new MemoryStream(bytes)));
        Assert.Contains(expected, s.Message);
        Assert.StartsWith("<stream>:", s.Message);
    }

    [Fact]
    public void MalformedHeader_IsRejectedByLoadMetadataToo()
    {
        string path = PathOf("bad.safetensors");
        File.WriteAllBytes(path, Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[7]));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.LoadMetadata(path));
        Assert.Contains("3 trailing bytes", e.Message);
    }

    [Fact]
    public void HeaderOverTheCap_IsRejectedBeforeAllocating()
    {
        // A sparse 120 MB file whose header claims 110 MB: within the file, but over the 100 MB cap.
        string path = PathOf("huge.safetensors");
        using (var f = new FileStream(path, FileMode.CreateNew))
        {
            f.Write(BitConverter.GetBytes(110_000_000UL));
            f.SetLength(120_000_000);
        }
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("header length is 110000000 bytes, more than the 100000000-byte limit", e.Message);
    }

    [Fact]
    public void HeaderPaddedWithSpacesOrUnpadded_BothRead()
    {
        const string header = """{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""";
        foreach (bool pad in new[] { true, false })
        {
            string path = PathOf($"pad{pad}.safetensors");
            File.WriteAllBytes(path, Build(header, Floats(2f), pad));
            var loaded = SafeTensors.Load(path);
            Assert.Equal([2f], loaded["x"].ToArray());
            DisposeAll(loaded);
        }
    }

    [Fact]
    public void ZeroByteTensors_MaySitBetweenOthers()
    {
        string path = PathOf("zeros.safetensors");
        File.WriteAllBytes(path, Build(
            """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"I64","shape":[0,5],"data_offsets":[4,4]},"b":{"dty""" +
            """pe":"F32","shape":[1],"data_offsets":[4,8]}}""", Floats(1f, 2f)));
        var loaded = SafeTensors.Load(path);
        Assert.Equal([0, 5], loaded["e"].Shape);
        Assert.Equal(DType.Int64, loaded["e"].DType);
        Assert.Equal([2f], loaded["b"].ToArray());
        DisposeAll(loaded);
    }

    // ---- atomic save ------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0)]       // fails on the first write (the header length)
    [InlineData(40)]      // inside the header
    [InlineData(300)]     // inside the tensor data
    public void FailureMidWrite_LeavesTargetUnchangedAndNoTempFile(int failAfterBytes)
    {
        string path = PathOf("model.safetensors");
        using var old = Tensor.FromArray([1f, 2f], [2]);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["old"] = old });
        var before = File.ReadAllBytes(path);

        using var big = Tensor.Randn([64, 64]);
        var e = Assert.Throws<IOException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["big"] = big }, null,
            s => new FailingStream(s, failAfterBytes)));
        Assert.Contains("simulated", e.Message);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir));

        // A target that did not exist still does not.
        string fresh = PathOf("fresh.safetensors");
        Assert.Throws<IOException>(() => SafeTensors.Save(fresh, new Dictionary<string, Tensor> { ["big"] = big }, null,
            s => new FailingStream(s, failAfterBytes)));
        Assert.False(File.Exists(fresh));
        Assert.Equal([path], Directory.GetFiles(dir));
    }

    [Fact]
    public void Save_OverwritesAnExistingFile()
    {
        string path = PathOf("over.safetensors");
        File.WriteAllText(path, new string('x', 10_000));
        using var x = Tensor.FromArray([5f], [1]);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = x });
        var loaded = SafeTensors.Load(path);
        Assert.Equal([5f], loaded["x"].ToArray());
        DisposeAll(loaded);
        Assert.Single(Directory.GetFiles(dir));
    }

    // ---- interop with torch -----------------------------------------------------------------------------------

    private static readonly string TorchFixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "io", "torch_dtypes.safetensors");

    [Fact]
    public void TorchFixture_LoadsExactlyTorchsValues()
    {
        var t = SafeTensors.Load(TorchFixture);
        Assert.Equal(
            ["bf16", "bf16_as_f32", "bf16_special", "bf16_special_as_f32", "f16", "f16_as_f32", "f32", "f32_empty", "f32_scalar", "i64", "i64_2d", "mask"],
            t.Keys.Order(StringComparer.Ordinal));

        // F16 / BF16 become float32 exactly as torch's .float() does, bit for bit (NaN payloads and -0 included).
        foreach (var name in new[] { "f16", "bf16", "bf16_special" })
        {
            Assert.Equal(DType.Float32, t[name].DType);
            Assert.Equal(t[name + "_as_f32"].Shape, t[name].Shape);
            AssertBitwiseEqual(t[name + "_as_f32"].ToArray(), t[name].ToArray());
        }
        // …and torch's conversion is the right one: the hand-picked halves, independently of the file's F32 copy.
        var f16 = t["f16"].ToArray();
        AssertBitwiseEqual([0f, -0f, 1f, -2.5f, 65504f, 6.103515625e-05f, 5.9604644775390625e-08f, 17 * 5.9604644775390625e-08f,
            float.PositiveInfinity, float.NegativeInfinity], f16[..10]);
        Assert.True(float.IsNaN(f16[10]));
        var bf = t["bf16_special"].ToArray();
        AssertBitwiseEqual([9.969209968386869e+37f, -3.03057137321371e-39f, float.NegativeInfinity], bf[..3]);
        Assert.Equal(unchecked((int)0xFFFF0000), BitConverter.SingleToInt32Bits(bf[3]));   // torch's bf16 NaN, payload kept
        AssertBitwiseEqual([0.333984375f, -0f], bf[4..]);
        Assert.Equal([2, 2, 3], t["bf16"].Shape);

        Assert.Equal([2, 3], t["f32"].Shape);
        Assert.Empty(t["f32_scalar"].Shape);
        Assert.Equal(3.25f, t["f32_scalar"].Item());
        Assert.Equal([0, 3], t["f32_empty"].Shape);
        Assert.Equal([long.MinValue, -1L, 0L, 1L, (1L << 62) + 7, long.MaxValue], t["i64"].ToInt64Array());
        Assert.Equal([0L, 1000003L, 2000006L, 3000009L, 4000012L, 5000015L], t["i64_2d"].ToInt64Array());
        Assert.Equal([true, false, false, true], t["mask"].ToBoolArray());
        Assert.StartsWith("torch ", SafeTensors.LoadMetadata(TorchFixture)["source"]);
        DisposeAll(t);
    }

    /// <summary>torch → Attend → file → Attend. With ATTEND_INTEROP_OUT=FILE set, also writes Attend's file there for
    /// <c>make_safetensors_fixture.py --verify FILE</c> (the Python side of the interop check, run by hand).</summary>
    [Fact]
    public void TorchFixture_RoundTripsThroughAttend()
    {
        var t = SafeTensors.Load(TorchFixture);
        string path = PathOf("attend_copy.safetensors");
        SafeTensors.Save(path, t, SafeTensors.LoadMetadata(TorchFixture));
        var again = SafeTensors.Load(path);
        foreach (var (name, tensor) in t)
        {
            Assert.Equal(tensor.DType, again[name].DType);
            Assert.Equal(tensor.Shape, again[name].Shape);
            Assert.Equal(Bits(tensor), Bits(again[name]));
        }
        if (Environment.GetEnvironmentVariable("ATTEND_INTEROP_OUT") is { Length: > 0 } outPath)
            File.Copy(path, outPath, overwrite: true);
        DisposeAll(t);
        DisposeAll(again);
    }

    // ---- test streams -----------------------------------------------------------------------------------------

    /// <summary>Passes writes through until <c>limit</c> bytes have gone, then throws IOException.</summary>
    private sealed class FailingStream(Stream inner, long limit) : Stream
    {
        private long written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (written + buffer.Length > limit)
            {
                inner.Write(buffer[..(int)(limit - written)]);
                throw new IOException($"simulated disk failure after {limit} bytes");
            }
            inner.Write(buffer);
            written += buffer.Length;
        }
    }

    /// <summary>A read-only stream that cannot seek or tell its length (a network or pipe stream).</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
