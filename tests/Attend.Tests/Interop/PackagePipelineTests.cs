using Attend.Interop;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests.Interop;

/// <summary>
/// The packages' whole pipeline (SentenceEncoder.Encode: their tokenizer, ONNX Runtime, their pooling and
/// normalization) against Attend's on the 64 test verses (all under the package's 512-piece cut).
/// all-MiniLM-L6-v2 is mean-pooled (<see cref="SentencePooling.Mean"/>, Bert's default); snowflake-arctic-embed-xs is
/// [CLS]-pooled (its package takes row 0 of last_hidden_state): <see cref="SentencePooling.Cls"/>. Both go through
/// <see cref="Bert.Encode"/>; Arctic is also checked against the normalized [CLS] row of <see cref="Bert.Forward"/>.
/// </summary>
public class PackagePipelineTests(ITestOutputHelper output)
{
    [Fact]
    public void MiniLMEncodeEqualsTheSentenceEncoder()
    {
        var bert = Pretrained.Get("minilm").Bert;
        var verses = BertOnnxParityTests.TestVerses();
        var expected = Package.Encode("minilm", verses);
        var actual = bert.Encode(verses, batchSize: 8);
        var cos = verses.Select((_, i) => Package.Cosine(expected[i], actual[i])).ToArray();
        double maxAbs = expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(x => Math.Abs(x.First - x.Second)));
        output.WriteLine($"minilm: Bert.Encode vs SentenceEncoder.Encode on {verses.Length} verses: min cosine {cos.Min():F9} (1 − cos = {1 - cos.Min():E2}, verse {Array.IndexOf(cos, cos.Min())}), max |Δ| {maxAbs:E2}");
        Assert.All(actual, e => Assert.Equal(1.0, Math.Sqrt(e.Sum(v => (double)v * v)), 5));
        Assert.True(cos.Min() >= 0.99999, $"min cosine {cos.Min():F9} < 0.99999");
    }

    [Fact]
    public void ArcticClsPoolingEqualsTheSentenceEncoder()
    {
        var bert = Pretrained.Get("arctic").Bert;
        var verses = BertOnnxParityTests.TestVerses();
        var expected = Package.Encode("arctic", verses);
        var actual = ClsPooled(bert, verses);
        var cos = verses.Select((_, i) => Package.Cosine(expected[i], actual[i])).ToArray();
        var encoded = bert.Encode(verses, pooling: SentencePooling.Cls);
        var cosEncode = verses.Select((_, i) => Package.Cosine(expected[i], encoded[i])).ToArray();
        output.WriteLine($"arctic: normalized [CLS] row of Bert.Forward vs SentenceEncoder.Encode on {verses.Length} verses: min cosine {cos.Min():F9} (1 − cos = {1 - cos.Min():E2})");
        output.WriteLine($"arctic: Bert.Encode (Cls pooling) vs SentenceEncoder.Encode: min cosine {cosEncode.Min():F9} (1 − cos = {1 - cosEncode.Min():E2})");
        Assert.True(cos.Min() >= 0.99999, $"min cosine {cos.Min():F9} < 0.99999");
        Assert.True(cosEncode.Min() >= 0.99999, $"Encode: min cosine {cosEncode.Min():F9} < 0.99999");
    }

    /// <summary>normalize(last_hidden_state[:, 0]) in padded batches of 8.</summary>
    internal static float[][] ClsPooled(Bert bert, IReadOnlyList<string> texts)
    {
        var result = new List<float[]>();
        int E = bert.Config.HiddenSize;
        for (int s = 0; s < texts.Count; s += 8)
        {
            var batch = texts.Skip(s).Take(8).Select(v => bert.Tokenizer!.Encode(v)).ToArray();
            var (ids, keep, types) = Bert.Pad(batch, bert.Tokenizer!.Specials.Pad!.Value);
            int B = batch.Length, T = batch.Max(x => x.Length);
            float[] h;
            using (Autograd.NoGrad())
            using (Tensor.NewScope())
                h = bert.Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(keep, [B, T]), Tensor.FromArray(types, [B, T])).ToArray();
            for (int b = 0; b < B; b++)
            {
                var row = h.AsSpan(b * T * E, E).ToArray();
                double norm = Math.Sqrt(row.Sum(v => (double)v * v));
                result.Add(row.Select(v => (float)(v / norm)).ToArray());
            }
        }
        return result.ToArray();
    }
}
