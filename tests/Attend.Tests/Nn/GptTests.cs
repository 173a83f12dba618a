using Attend.Nn;
using Attend.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

/// <summary>
/// The GPT against PyTorch (llm.c's test_gpt2 idea): Fixtures/gpt/gpt_state.safetensors is the state dict of a small
/// nanoGPT-structured torch model, gpt_io.safetensors its input, logits, loss and every parameter gradient (float64
/// reference, see tools/oracle/make_gpt_fixtures.py). Tolerance 1e-5 + 1e-4·|expected|. Then the KV cache.
/// </summary>
public sealed class GptTests(ITestOutputHelper output)
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpt");
    private static readonly GptConfig Small = new(BlockSize: 16, VocabSize: 17, NLayer: 2, NHead: 4, NEmbd: 32);

    private static Dictionary<string, Tensor> State() =>
        SafeTensorsFile.Read(Path.Combine(Dir, "gpt_state.safetensors")).Tensors
            .ToDictionary(kv => kv.Key, kv => Tensor.FromArray(kv.Value.ToFloats(), kv.Value.Shape));

    [Fact]
    public void ParameterNamesAreNanoGpts()
    {
        var model = new Gpt(Small, new Random(1));
        var names = model.StateDict().Keys.ToHashSet();
        Assert.Equal(State().Keys.ToHashSet(), names);
        Assert.Contains("lm_head.weight", names);
        Assert.Same(model.StateDict()["lm_head.weight"], model.StateDict()["transformer.wte.weight"]);
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name == "lm_head.weight");   // tied: counted once
        // nanoGPT's count for this shape: 2·(12·32² + 13·32) + 17·32 + 16·32 + 2·32 (ln_f)
        Assert.Equal(2 * (12 * 32 * 32 + 13 * 32) + 17 * 32 + 16 * 32 + 2 * 32, model.ParameterCount);
    }

    [Fact]
    public void InitIsNanoGpts()
    {
        var model = new Gpt(new GptConfig(NLayer: 8), new Random(3));
        var p = model.StateDict();
        static double Std(Tensor t) { var v = t.ToArray(); double m = v.Average(); return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / v.Length); }
        Assert.InRange(Std(p["transformer.h.0.attn.c_attn.weight"]), 0.019, 0.021);
        Assert.InRange(Std(p["transformer.h.0.mlp.c_proj.weight"]), 0.95 * 0.02 / 4, 1.05 * 0.02 / 4);   // 0.02/√(2·8)
        Assert.All(p["transformer.h.0.attn.c_attn.bias"].ToArray(), v => Assert.Equal(0f, v));
        Assert.All(p["transformer.ln_f.weight"].ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void LogitsLossAndEveryGradientMatchPyTorch()
    {
        var io = SafeTensorsFile.Read(Path.Combine(Dir, "gpt_io.safetensors"));
        var model = new Gpt(Small);
        model.LoadStateDict(State());   // strict
        var idx = Tensor.FromArray(io["idx"].ToInt64s(), io["idx"].Shape);
        var targets = Tensor.FromArray(io["targets"].ToInt64s(), io["targets"].Shape);
        var (logits, loss) = model.Forward(idx, targets);
        double worst = PositionalEncodingTests.AssertClose(io["logits"].ToFloats(), logits.ToArray(), "logits", output);
        worst = Math.Max(worst, PositionalEncodingTests.AssertClose(io["loss"].ToFloats(), new[] { loss!.Item() }, "loss", output));
        loss.Backward();
        int n = 0;
        foreach (var (name, p) in model.NamedParameters())
        {
            worst = Math.Max(worst, PositionalEncodingTests.AssertClose(io["grad." + name].ToFloats(), p.Grad!.ToArray(), "grad " + name, output));
            n++;
        }
        Assert.Equal(io.Tensors.Keys.Count(k => k.StartsWith("grad.")), n);
        output.WriteLine($"max |Δ| over logits, loss and {n} gradients: {worst:G3}");
    }

    [Fact]
    public void TenAdamWStepsGiveTorchsLosses()
    {
        var io = SafeTensorsFile.Read(Path.Combine(Dir, "gpt_io.safetensors"));
        var model = new Gpt(Small);
        model.LoadStateDict(State());
        var idx = Tensor.FromArray(io["idx"].ToInt64s(), io["idx"].Shape);
        var targets = Tensor.FromArray(io["targets"].ToInt64s(), io["targets"].Shape);
        using var opt = new Optim.AdamW(Optim.AdamW.Groups(model.NamedParameters(), 0.1), lr: 1e-3, betas: (0.9, 0.95), eps: 1e-8);
        var expected = io["adamw_losses"].ToFloats();
        var actual = new float[10];
        for (int step = 0; step < 10; step++)
        {
            using var scope = Tensor.NewScope();
            opt.ZeroGrad();
            var loss = model.Forward(idx, targets).Loss!;
            actual[step] = loss.Item();
            loss.Backward();
            opt.Step();
        }
        output.WriteLine("step  torch       attend");
        for (int i = 0; i < 10; i++) output.WriteLine($"{i,4}  {expected[i]:F7}  {actual[i]:F7}");
        PositionalEncodingTests.AssertClose(expected, actual, "adamw losses", output);
    }

    public static IEnumerable<object[]> CacheConfigs() => new[]
    {
        new object[] { "learned" }, new object[] { "rope" }, new object[] { "rope_interleaved_gqa_rmsnorm_swiglu" },
        new object[] { "alibi_nobias" }, new object[] { "none" },
    };

    private static GptConfig Variant(string name) => name switch
    {
        "learned" => Small,
        "rope" => Small with { Positions = PositionKind.Rope },
        "rope_interleaved_gqa_rmsnorm_swiglu" => Small with
        {
            Positions = PositionKind.Rope, RopeInterleaved = true, NKvHead = 2, Norm = NormKind.RmsNorm, Mlp = MlpKind.SwiGlu,
        },
        "alibi_nobias" => Small with { Positions = PositionKind.Alibi, Bias = false },
        _ => Small with { Positions = PositionKind.None },
    };

    [Theory]
    [MemberData(nameof(CacheConfigs))]
    public void CachedLogitsEqualTheUncachedForward(string variant)
    {
        var model = new Gpt(Variant(variant), new Random(5));
        model.Eval();
        var rng = new Random(6);
        var ids = Enumerable.Range(0, 2 * 13).Select(_ => (long)rng.Next(17)).ToArray();
        var idx = Tensor.FromArray(ids, new[] { 2, 13 });
        using var _ = Autograd.NoGrad();
        var full = model.Forward(idx).Logits.ToArray();                // (2, 13, V)
        using var cache = model.NewCache();
        var pieces = new List<float[]>();
        foreach (var (start, len) in new[] { (0, 5), (5, 1), (6, 1), (7, 3), (10, 1), (11, 1), (12, 1) })
            pieces.Add(model.Forward(idx.Narrow(1, start, len).Contiguous(), cache).ToArray());   // (2, len, V)
        Assert.Equal(13, cache.Length);
        double worst = 0;
        int at = 0;
        foreach (var (start, len) in new[] { (0, 5), (5, 1), (6, 1), (7, 3), (10, 1), (11, 1), (12, 1) })
        {
            var piece = pieces[at++];
            for (int b = 0; b < 2; b++)
                for (int t = 0; t < len; t++)
                    for (int v = 0; v < 17; v++)
                    {
                        float e = full[(b * 13 + start + t) * 17 + v], a = piece[(b * len + t) * 17 + v];
                        worst = Math.Max(worst, Math.Abs(e - a));
                        Assert.True(Math.Abs(e - a) <= 1e-5, $"{variant}: position {start + t}, batch {b}, token {v}: uncached {e}, cached {a}");
                    }
        }
        output.WriteLine($"{variant}: max |cached − uncached| = {worst:G3}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void LinearDecodePathMatchesTheGemm(int rows)
    {
        // ≤ 4 rows take the dot-product path, more the packed GEMM; both against a float64 reference.
        var rng = new Random(rows);
        var x = Tensor.Randn(new[] { rows, 300 }, rng); var w = Tensor.Randn(new[] { 200, 300 }, rng); var b = Tensor.Randn(new[] { 200 }, rng);
        var y = Functional.Linear(x, w, b).ToArray();
        float[] xv = x.ToArray(), wv = w.ToArray(), bv = b.ToArray();
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < 200; o++)
            {
                double e = bv[o];
                for (int i = 0; i < 300; i++) e += (double)xv[r * 300 + i] * wv[o * 300 + i];
                Assert.True(Math.Abs(e - y[r * 200 + o]) <= 1e-4 + 1e-5 * Math.Abs(e), $"row {r}, out {o}: {e} vs {y[r * 200 + o]}");
            }
    }

    [Fact]
    public void GreedyGenerationIsTheSameWithAndWithoutTheCache()
    {
        var model = new Gpt(Small with { Positions = PositionKind.Rope }, new Random(8));
        model.Eval();
        var prompt = Tensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6 }, new[] { 2, 3 });
        var a = model.Generate(prompt, 20, temperature: 0f).ToInt64Array();   // runs past the block size (crop)
        var b = model.Generate(prompt, 20, temperature: 0f, useCache: false).ToInt64Array();
        Assert.Equal(2 * 23, a.Length);
        Assert.Equal(b, a);
        Assert.Equal(new long[] { 1, 2, 3 }, a.Take(3));
    }

    [Fact]
    public void SamplingRespectsTopKAndTopP()
    {
        var logits = new float[] { 0f, 3f, 2.9f, -1f, 1f };
        var rng = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            Assert.Contains(Gpt.Sample(logits, 1f, 2, null, rng), new long[] { 1, 2 });
            Assert.Equal(1, Gpt.Sample(logits, 1f, null, 0.01f, rng));
        }
        Assert.Equal(1, Gpt.Sample(logits, 0f, null, null, rng));
        var seen = Enumerable.Range(0, 2000).Select(_ => Gpt.Sample(logits, 1f, null, null, rng)).ToHashSet();
        Assert.Equal(5, seen.Count);
    }

    [Fact]
    public void ShortTrainingLowersTheLoss()
    {
        var model = new Gpt(Small with { Positions = PositionKind.Rope }, new Random(2));
        var rng = new Random(3);
        // A repeating pattern: next = (cur + 1) mod 17.
        var start = Enumerable.Range(0, 4).Select(_ => rng.Next(17)).ToArray();
        var x = Tensor.FromArray(start.SelectMany(s => Enumerable.Range(0, 16).Select(t => (long)((s + t) % 17))).ToArray(), new[] { 4, 16 });
        var y = Tensor.FromArray(start.SelectMany(s => Enumerable.Range(1, 16).Select(t => (long)((s + t) % 17))).ToArray(), new[] { 4, 16 });
        float first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            using var scope = Tensor.NewScope();
            model.ZeroGrad();
            var loss = model.Forward(x, y).Loss!;
            if (step == 0) first = loss.Item();
            last = loss.Item();
            loss.Backward();
            using var _ = Autograd.NoGrad();
            foreach (var p in model.Parameters()) p.AddInPlace(p.Grad!, -0.5f);
        }
        output.WriteLine($"loss {first:F3} -> {last:F3}");
        Assert.True(last < 0.5f * first, $"loss {first} -> {last}");
    }
}
