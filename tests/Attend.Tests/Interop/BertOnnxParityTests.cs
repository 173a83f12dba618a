using Attend.Data;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests.Interop;

/// <summary>
/// Attend's <see cref="Bert"/> against ONNX Runtime on the same ONNX files (the packages' real pretrained encoders):
/// last_hidden_state on 64 KJV verses — short and long, in padded batches of 8 in verse order (so every batch mixes
/// lengths), every position compared, padding included.
/// </summary>
public class BertOnnxParityTests(ITestOutputHelper output)
{
    /// <summary>64 verses: every 487th of the Bible (lengths 5 to 90 words) and the 8 longest.</summary>
    internal static string[] TestVerses()
    {
        var all = Pretrained.Verses();
        var spread = Enumerable.Range(0, 56).Select(i => all[i * 487 % all.Length]);
        var longest = all.OrderByDescending(v => v.Length).Take(8);
        return spread.Concat(longest).ToArray();
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic")]
    public void LastHiddenStateEqualsOnnxRuntime(string model)
    {
        var p = Pretrained.Get(model);
        var verses = TestVerses();
        double worst = 0;
        int positions = 0, maxT = 0;
        for (int s = 0; s < verses.Length; s += 8)
        {
            var batch = verses.Skip(s).Take(8).Select(v => p.Bert.Tokenizer!.Encode(v)).ToArray();
            var (ids, keep, types) = Bert.Pad(batch, p.Bert.Tokenizer!.Specials.Pad!.Value);
            int B = batch.Length, T = batch.Max(x => x.Length);
            maxT = Math.Max(maxT, T);
            var expected = p.RunOrt(ids, keep.Select(k => k ? 1L : 0L).ToArray(), types, B, T);
            float[] actual;
            using (Autograd.NoGrad())
            using (Tensor.NewScope())
                actual = p.Bert.Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(keep, [B, T]), Tensor.FromArray(types, [B, T])).ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
            positions += B * T;
        }
        output.WriteLine($"{model}: {verses.Length} verses, {positions} positions (T up to {maxT}), max |Attend − ONNX Runtime| = {worst:E2}");
        Assert.True(worst <= 1e-4, $"{model}: max abs error {worst:E3} > 1e-4");
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic")]
    public void ConfigIsReadFromTheGraph(string model)
    {
        var c = Pretrained.Get(model).Bert.Config;
        Assert.Equal(new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12f, Pooler: model == "minilm"), c);
    }
}
