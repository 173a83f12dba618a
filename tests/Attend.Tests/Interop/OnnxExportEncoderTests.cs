using Attend.Data;
using Attend.Interop;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;
using static Attend.Tests.Interop.OnnxRun;

namespace Attend.Tests.Interop;

/// <summary>
/// The encoders exported to ONNX and run by ONNX Runtime: the ViT on real 8×8 digits (scikit-learn's, shipped in data/)
/// and on random RGB images, at two batch sizes; the pretrained all-MiniLM-L6-v2 BERT on padded batches of KJV verses
/// at two batch sizes and lengths, in opsets 17 and 23. Its export read back by <see cref="Bert.Load"/> (the importer of
/// the pretrained models) gives the same outputs.
/// </summary>
public sealed class OnnxExportEncoderTests(ITestOutputHelper output) : IDisposable
{
    private readonly OnnxRun run = new();
    public void Dispose() => run.Dispose();

    private const double Tolerance = 1e-5;

    private static ImageSet Digits()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "data", "digits", "digits.csv.gz"))) dir = Path.GetDirectoryName(dir);
        return ImageFormats.DigitsCsv(Path.Combine(dir ?? throw new FileNotFoundException("data/digits/digits.csv.gz not found above the test folder"), "data", "digits", "digits.csv.gz"));
    }

    [Theory]
    [InlineData("digits", 17)]
    [InlineData("digits", 23)]
    [InlineData("rgb", 17)]
    public void VitLogitsEqualAttendsAtTwoBatchSizes(string images, int opset)
    {
        var c = images == "digits" ? new VitConfig(ImageSize: 8, PatchSize: 2, Channels: 1, NumClasses: 10, Dim: 32, Depth: 3, NHead: 4)
                                   : new VitConfig(ImageSize: 12, PatchSize: 4, Channels: 3, NumClasses: 5, Dim: 24, Depth: 2, NHead: 3);
        var m = new VisionTransformer(c, new Random(2));
        Randomize(m, 2);
        var file = run.Export(m, $"vit-{images}-{opset}", opset).Single();
        Assert.Equal([$"pixel_values [batch, {c.Channels}, {c.ImageSize}, {c.ImageSize}]"], file.Inputs);
        Assert.Equal([$"logits [batch, {c.NumClasses}]"], file.Outputs);
        Assert.Contains("patch_embed.proj.weight", OnnxGraph.Load(file.Path).InitializerNames);
        using var s = Session(file.Path);
        var digits = images == "digits" ? Digits() : null;
        var rng = new Random(3);
        using var _ = Autograd.NoGrad();
        foreach (int B in new[] { 1, 5 })
        {
            int n = c.Channels * c.ImageSize * c.ImageSize;
            var pixels = digits is not null ? digits.Pixels.AsSpan(B * n, B * n).ToArray()      // real images 1 … B (already in [0, 1])
                                            : Enumerable.Range(0, B * n).Select(_ => (float)rng.NextDouble()).ToArray();
            var expected = m.Forward(Tensor.FromArray(pixels, [B, c.Channels, c.ImageSize, c.ImageSize])).ToArray();
            var got = Run(s, [Float("pixel_values", pixels, B, c.Channels, c.ImageSize, c.ImageSize)])["logits"];
            double err = MaxError(got.Data, expected, $"ViT {images} B={B}");
            output.WriteLine($"ViT {images} opset {opset} B={B}: max error {err:E2} (max |logit| {expected.Max(Math.Abs):F2})");
            Assert.True(err <= Tolerance, $"ViT {images} opset {opset} B={B}: max error {err:E2}");
        }
    }

    [Theory]
    [InlineData(17)]
    [InlineData(23)]
    public void MiniLmLastHiddenStateEqualsAttendsOnVersesAndReadsBack(int opset)
    {
        var bert = Pretrained.Get("minilm").Bert;
        var file = run.Export(bert, $"minilm-{opset}", opset).Single();
        Assert.Equal(["input_ids [batch, sequence_length]", "attention_mask [batch, sequence_length]", "token_type_ids [batch, sequence_length]"], file.Inputs);
        Assert.Equal("last_hidden_state [batch, sequence_length, 384]", file.Outputs[0]);
        using var s = Session(file.Path);
        string vocab = Path.Combine(run.Folder, "vocab.txt");
        File.WriteAllText(vocab, Pretrained.Get("minilm").Vocab);
        var back = Bert.Load(file.Path);                                                    // the importer, on our file (vocab.txt beside it)
        var verses = BertOnnxParityTests.TestVerses();
        using var _ = Autograd.NoGrad();
        foreach (var batch in new[] { verses.Take(1).ToArray(), verses.Skip(8).Take(8).ToArray() })
        {
            var inputs = batch.Select(v => bert.Tokenizer!.Encode(v)).ToArray();
            var (ids, mask, types) = Bert.Pad(inputs, 0);
            int B = batch.Length, T = ids.Length / B;
            var keep = mask.Select(k => k ? 1L : 0L).ToArray();
            var expected = bert.Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(keep, [B, T]), Tensor.FromArray(types, [B, T])).ToArray();
            var got = Run(s, [Long("input_ids", ids, B, T), Long("attention_mask", keep, B, T), Long("token_type_ids", types, B, T)])["last_hidden_state"];
            double err = MaxError(got.Data, expected, $"MiniLM B={B}");
            var again = back.Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(keep, [B, T]), Tensor.FromArray(types, [B, T])).ToArray();
            output.WriteLine($"MiniLM opset {opset} B={B} T={T}: max error {err:E2} (max |h| {expected.Max(Math.Abs):F2}); read back: max difference {MaxError(again, expected, "read back"):E2}");
            Assert.True(err <= Tolerance, $"MiniLM opset {opset} B={B}: max error {err:E2}");
            Assert.Equal(expected, again);                                                  // the same weights and config: the same numbers
        }
        Assert.Equal(bert.Config, back.Config);
    }

    [Fact]
    public void EncodersHaveNoKvCacheToExport()
    {
        var vit = new VisionTransformer(new VitConfig(ImageSize: 4, PatchSize: 2, Channels: 1, NumClasses: 2, Dim: 8, Depth: 1, NHead: 2));
        vit.Eval();
        var ex = Assert.Throws<NotSupportedException>(() => OnnxExport.Save(vit, Path.Combine(run.Folder, "v.onnx"), new() { KvCache = true }));
        output.WriteLine(ex.Message);
        Assert.Contains("VisionTransformer has no KV cache to export", ex.Message);
        Assert.Empty(Directory.GetFiles(run.Folder));
    }
}
