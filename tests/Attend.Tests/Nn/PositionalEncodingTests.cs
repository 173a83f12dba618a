using Attend.Nn;
using Attend.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

/// <summary>Positional encodings against their formulas and against PyTorch-computed fixtures (Fixtures/gpt, written by
/// tools/oracle/make_gpt_fixtures.py). Tolerance |actual − expected| ≤ 1e-5 + 1e-4·|expected|.</summary>
public sealed class PositionalEncodingTests(ITestOutputHelper output)
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpt");
    private static SafeTensorsFile Load(string name) => SafeTensorsFile.Read(Path.Combine(Dir, name + ".safetensors"));
    private static Tensor F32(SafeTensorEntry e, bool grad = false) => Tensor.FromArray(e.ToFloats(), e.Shape, grad);

    internal static double AssertClose(float[] expected, float[] actual, string what, ITestOutputHelper? output = null, float atol = 1e-5f, float rtol = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]);
            max = Math.Max(max, err);
            Assert.True(err <= atol + rtol * Math.Abs(expected[i]),
                $"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9} (first values expected {string.Join(", ", expected.Take(4))}, got {string.Join(", ", actual.Take(4))})");
        }
        output?.WriteLine($"{what}: max |Δ| = {max:G3} over {expected.Length} values");
        return max;
    }

    [Fact]
    public void SinusoidalMatchesTheFormulaAndIsNotInTheStateDict()
    {
        var pe = new SinusoidalPositionalEncoding(6, maxLen: 10);
        Assert.Empty(pe.StateDict());
        Assert.Single(pe.NamedBuffers());
        var x = Tensor.Zeros(1, 4, 6);
        var y = pe.Forward(x, offset: 3).ToArray();
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 3; i++)
            {
                double angle = (t + 3) / Math.Pow(10000, 2.0 * i / 6);
                Assert.Equal(Math.Sin(angle), y[t * 6 + 2 * i], 6);
                Assert.Equal(Math.Cos(angle), y[t * 6 + 2 * i + 1], 6);
            }
    }

    [Fact]
    public void LearnedPositionsAddTheirRowsAndGetGradients()
    {
        var wpe = new LearnedPositionalEmbedding(8, 3, new Random(1));
        var y = wpe.Forward(Tensor.Zeros(2, 3, 3), offset: 4);
        Assert.Equal(wpe.Weight.ToArray().Skip(12).Take(9), y.ToArray().Take(9));
        y.Sum().Backward();
        var g = wpe.Weight.Grad!.ToArray();
        Assert.All(g.Take(12), v => Assert.Equal(0f, v));
        Assert.All(g.Skip(12).Take(9), v => Assert.Equal(2f, v));
        Assert.Equal(new[] { "weight" }, wpe.StateDict().Keys);
    }

    [Theory]
    [InlineData("rope_half", false)]
    [InlineData("rope_interleaved", true)]
    public void RopeMatchesTorch(string name, bool interleaved)
    {
        var f = Load(name);
        var x = F32(f["x"], grad: true);
        var rope = new RotaryEmbedding(8, 10000, interleaved, maxPositions: 4);   // tables grow on demand
        var y = rope.Forward(x, offset: 3);
        AssertClose(f["out"].ToFloats(), y.ToArray(), name + " out", output);
        y.Backward(F32(f["gout"]));
        AssertClose(f["grad_x"].ToFloats(), x.Grad!.ToArray(), name + " grad_x", output);
        // The same rotation read through a strided view ([B, T, H, D] storage, as q from a fused projection).
        using var stored = F32(f["x"]).Transpose(1, 2).Contiguous();
        AssertClose(y.ToArray(), rope.Forward(stored.Transpose(1, 2), 3).ToArray(), name + " strided", null, 1e-7f, 0f);
    }

    [Fact]
    public void RopeScoresDependOnlyOnTheDistance()
    {
        var rope = new RotaryEmbedding(8);
        var q = Tensor.Randn(new[] { 1, 1, 1, 8 }, new Random(1)); var k = Tensor.Randn(new[] { 1, 1, 1, 8 }, new Random(2));
        float Score(int p, int s) => rope.Forward(q, p).Mul(rope.Forward(k, s)).Sum().Item();
        Assert.Equal(Score(5, 2), Score(13, 10), 4);
        Assert.Equal(Score(0, 7), Score(20, 27), 4);
    }

    [Fact]
    public void T5BucketsMatchHuggingFace()
    {
        var f = Load("t5_buckets");
        var rel = f["rel"].ToInt64s();
        foreach (var (bi, nb, md) in new[] { (true, 32, 128), (false, 32, 128), (true, 8, 20) })
        {
            var expected = f[$"bucket_{(bi ? "bi" : "uni")}_{nb}_{md}"].ToInt64s();
            for (int i = 0; i < rel.Length; i++)
                Assert.True(expected[i] == RelativePositionBias.Bucket((int)rel[i], bi, nb, md), $"bucket({rel[i]}, {bi}, {nb}, {md}): expected {expected[i]}");
        }
    }

    [Fact]
    public void T5BiasMatchesHuggingFaceAndTrainsThroughTheAttentionMask()
    {
        var f = Load("t5_bias");
        var rpb = new RelativePositionBias(numHeads: 4);
        rpb.LoadStateDict(new Dictionary<string, Tensor> { ["relative_attention_bias.weight"] = F32(f["table"]) });
        var bias = rpb.Forward(5, 7);
        Assert.Equal(new[] { 1, 4, 5, 7 }, bias.Shape);
        AssertClose(f["bias"].ToFloats(), bias.ToArray(), "t5 bias", output);

        // d loss / d table through the fused kernel's additive mask, against finite differences.
        var ids = rpb.Buckets(5, 7);
        var q = Tensor.Randn(new[] { 2, 4, 5, 8 }, new Random(1)); var k = Tensor.Randn(new[] { 2, 4, 7, 8 }, new Random(2));
        var v = Tensor.Randn(new[] { 2, 4, 7, 8 }, new Random(3));
        var table = Tensor.Randn(new[] { 32, 4 }, new Random(4), requiresGrad: true);
        var r = GradCheck.Check(x => Functional.Attention(q, k, v, new AttentionOptions
        {
            Mask = Functional.Embedding(ids, x[0]).Permute(2, 0, 1).Unsqueeze(0),
        }).Output, new[] { table });
        output.WriteLine(r.Report);
        Assert.True(r.Passed, r.Report);
    }

    [Fact]
    public void AlibiSlopesFollowThePaper()
    {
        var expected = Load("alibi_slopes")["slopes"].ToFloats();
        var actual = Enumerable.Range(1, 12).SelectMany(Alibi.Slopes).ToArray();
        AssertClose(expected, actual, "alibi slopes", output, 0f, 1e-6f);
        Assert.Equal(new[] { 0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f }, Alibi.Slopes(8));
    }
}
