using System.Text;
using Xunit;

namespace Attend.Tests.Support;

/// <summary>The test-only safetensors reader: reads what make_fixtures.py writes, rejects malformed files clearly.</summary>
public sealed class SafeTensorsFileTests
{
    /// <summary>Builds a file: u64 header length, JSON header padded to 8 bytes, then the data.</summary>
    private static byte[] Build(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var padded = json.Concat(Enumerable.Repeat((byte)' ', (8 - json.Length % 8) % 8)).ToArray();
        return BitConverter.GetBytes((ulong)padded.Length).Concat(padded).Concat(data).ToArray();
    }

    private static byte[] Floats(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    [Fact]
    public void ReadsF32I64BoolAndMetadata()
    {
        var data = Floats(1f, -2.5f, 3f, 0.25f)
            .Concat(BitConverter.GetBytes(7L)).Concat(BitConverter.GetBytes(-100L))
            .Concat(new byte[] { 1, 0, 1 })
            .ToArray();
        var bytes = Build(
            """
            {"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
             "i": {"dtype": "I64", "shape": [2], "data_offsets": [16, 32]},
             "m": {"dtype": "BOOL", "shape": [3], "data_offsets": [32, 35]},
             "__metadata__": {"op": "add"}}
            """, data);

        var file = SafeTensorsFile.Parse(bytes);

        Assert.Equal([2, 2], file["x"].Shape);
        Assert.Equal([1f, -2.5f, 3f, 0.25f], file["x"].ToFloats());
        Assert.Equal([7L, -100L], file["i"].ToInt64s());
        Assert.Equal([true, false, true], file["m"].ToBools());
        Assert.Equal("add", file.Metadata["op"]);
    }

    [Fact]
    public void ReadsAScalar()
    {
        var file = SafeTensorsFile.Parse(Build("""{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}""", Floats(4.5f)));
        Assert.Empty(file["s"].Shape);
        Assert.Equal([4.5f], file["s"].ToFloats());
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}""", "dtype 'F16'")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", "which needs 8")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}}""", "outside the")]
    [InlineData("""{"x":{"dtype":"F32","data_offsets":[0,4]}}""", "no array 'shape'")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"n":1}}""", "not a string")]
    [InlineData("""{"x": nope}""", "not valid JSON")]
    [InlineData("""[1, 2]""", "not a JSON object")]
    public void RejectsMalformedHeaders(string header, string expectedMessage)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(Build(header, Floats(1f)), "bad.safetensors"));
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Contains(expectedMessage, e.Message);
    }

    [Fact]
    public void RejectsTruncatedFiles()
    {
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(new byte[5]));
        var tooLong = BitConverter.GetBytes(1000UL).Concat(new byte[16]).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(tooLong));
        Assert.Contains("runs past the end", e.Message);
    }

    [Fact]
    public void WrongDTypeAccessorAndMissingNameThrow()
    {
        var file = SafeTensorsFile.Parse(Build("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", Floats(1f)));
        Assert.Throws<InvalidOperationException>(() => file["x"].ToInt64s());
        Assert.Throws<KeyNotFoundException>(() => file["y"]);
    }
}
