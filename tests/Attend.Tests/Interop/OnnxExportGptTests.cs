using Attend.Attention;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;
using static Attend.Tests.Interop.OnnxRun;

namespace Attend.Tests.Interop;

/// <summary>
/// The GPT exported to ONNX and run by ONNX Runtime: logits equal Attend's for every position scheme (learned, RoPE
/// half-split and interleaved, ALiBi, none), RMSNorm + SwiGLU + grouped-query heads, at two batch sizes and two
/// lengths (the dynamic axes), in opsets 17 and 23; and greedy generation through the exported KV-cache graph — the
/// presents fed back as pasts, one token per call — gives the tokens of <see cref="Gpt.Generate"/>.
/// </summary>
public sealed class OnnxExportGptTests(ITestOutputHelper output) : IDisposable
{
    private readonly OnnxRun run = new();
    public void Dispose() => run.Dispose();

    /// <summary>Within 1e-5 of Attend's logits, whose magnitudes here are a few units.</summary>
    private const double Tolerance = 1e-5;

    public static TheoryData<string, int> Cases() => new()
    {
        { "learned", 17 }, { "learned", 23 }, { "rope-gqa-rms-swiglu", 17 }, { "rope-gqa-rms-swiglu", 23 },
        { "rope-interleaved", 17 }, { "rope-interleaved", 23 }, { "alibi", 17 }, { "alibi", 23 }, { "none", 17 }, { "none", 23 },
    };

    internal static Gpt Model(string kind, int seed = 1)
    {
        var c = new GptConfig(BlockSize: 40, VocabSize: 23, NLayer: 2, NHead: 4, NEmbd: 32);
        c = kind switch
        {
            "learned" => c,
            "rope-gqa-rms-swiglu" => c with { Positions = PositionKind.Rope, Norm = NormKind.RmsNorm, Mlp = MlpKind.SwiGlu, NKvHead = 2, TieWeights = false, Bias = false },
            "rope-interleaved" => c with { Positions = PositionKind.Rope, RopeInterleaved = true },
            "alibi" => c with { Positions = PositionKind.Alibi },
            "none" => c with { Positions = PositionKind.None },
            _ => throw new ArgumentException(kind),
        };
        var m = new Gpt(c, new Random(seed));
        Randomize(m, seed);
        m.Eval();
        return m;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsEqualAttendsAtTwoBatchSizesAndLengths(string kind, int opset)
    {
        var m = Model(kind);
        var file = run.Export(m, $"gpt-{kind}-{opset}", opset).Single();
        Assert.Equal(["input_ids [batch, sequence_length]"], file.Inputs);
        Assert.Equal(["logits [batch, sequence_length, 23]"], file.Outputs);
        AssertOps(file.Path, opset, kind);
        using var s = Session(file.Path);
        var rng = new Random(7);
        using var _ = Autograd.NoGrad();
        foreach (var (B, T) in new[] { (1, 5), (3, 40) })
        {
            var ids = Ids(rng, B * T, 23);
            var expected = m.Forward(Tensor.FromArray(ids, [B, T])).Logits.ToArray();
            var got = Run(s, [Long("input_ids", ids, B, T)])["logits"];
            Assert.Equal([B, T, 23], got.Shape);
            double err = MaxError(got.Data, expected, $"{kind} opset {opset} [{B}, {T}]");
            output.WriteLine($"{kind} opset {opset} [{B}, {T}]: max |ORT − Attend| = {err:E2}, max |logit| = {expected.Max(Math.Abs):F2}");
            Assert.True(err <= Tolerance, $"{kind} opset {opset} [{B}, {T}]: max error {err:E2}");
        }
    }

    /// <summary>Opset 23 graphs use the standard ops (Attention; RotaryEmbedding and RMSNormalization where the model has
    /// them) and no Softmax; opset 17 graphs decompose attention and use none of the three.</summary>
    internal static void AssertOps(string path, int opset, string kind)
    {
        var g = Attend.Interop.OnnxGraph.Load(path);
        var ops = g.Graph.Node.Select(n => n.OpType).ToHashSet();
        Assert.Equal(opset, g.Opset);
        Assert.Equal(opset >= 23, ops.Contains("Attention"));
        Assert.Equal(opset < 23, ops.Contains("Softmax"));
        Assert.Equal(opset >= 23 && kind.StartsWith("rope"), ops.Contains("RotaryEmbedding"));
        Assert.Equal(opset >= 23 && kind.Contains("rms"), ops.Contains("RMSNormalization"));
        Assert.Contains("LayerNormalization", kind.Contains("rms") ? ["LayerNormalization"] : ops);
        Assert.Contains("transformer.wte.weight", g.InitializerNames);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyGenerationThroughTheKvCacheGraphGivesAttendsTokens(string kind, int opset)
    {
        var m = Model(kind, seed: 3);
        var file = run.Export(m, $"gpt-kv-{kind}-{opset}", opset, kvCache: true).Single();
        var c = m.Config;
        Assert.Contains($"past_key_values.1.value [batch, {c.KvHeads}, past_sequence_length, {c.HeadSize}]", file.Inputs);
        Assert.Contains($"present.0.key [batch, {c.KvHeads}, total_sequence_length, {c.HeadSize}]", file.Outputs);
        using var s = Session(file.Path);
        const int B = 2, prompt = 4, steps = 30;
        var ids = Ids(new Random(11), B * prompt, 23);
        var expected = m.Generate(Tensor.FromArray(ids, [B, prompt]), steps, temperature: 0f).ToInt64Array();

        var seqs = Enumerable.Range(0, B).Select(b => ids.Skip(b * prompt).Take(prompt).ToList()).ToArray();
        int layers = c.NLayer, hkv = c.KvHeads, hs = c.HeadSize;
        var pasts = new (float[] Data, int[] Shape)[2 * layers];
        for (int i = 0; i < pasts.Length; i++) pasts[i] = ([], [B, hkv, 0, hs]);          // the first call: an empty cache
        var input = ids;
        using var cache = m.NewCache();
        using var _ = Autograd.NoGrad();
        double worst = 0;
        for (int step = 0; step < steps; step++)
        {
            int T = input.Length / B;
            var feeds = new List<Microsoft.ML.OnnxRuntime.NamedOnnxValue> { Long("input_ids", input, B, T) };
            for (int i = 0; i < layers; i++)
            {
                feeds.Add(Float($"past_key_values.{i}.key", pasts[2 * i].Data, pasts[2 * i].Shape));
                feeds.Add(Float($"past_key_values.{i}.value", pasts[2 * i + 1].Data, pasts[2 * i + 1].Shape));
            }
            var r = Run(s, feeds);
            for (int i = 0; i < layers; i++) (pasts[2 * i], pasts[2 * i + 1]) = (r[$"present.{i}.key"], r[$"present.{i}.value"]);
            var logits = r["logits"].Data;                                                 // (B, T, V)
            worst = Math.Max(worst, MaxError(logits, m.Forward(Tensor.FromArray(input, [B, T]), cache).ToArray(), $"step {step}"));
            input = new long[B];
            for (int b = 0; b < B; b++)
            {
                var row = logits.AsSpan(((b * T) + T - 1) * 23, 23);
                input[b] = row.IndexOf(row.ToArray().Max());
                seqs[b].Add(input[b]);
            }
        }
        Assert.Equal([B, hkv, prompt + steps - 1, hs], pasts[0].Shape);
        output.WriteLine($"{kind} opset {opset}: {steps} greedy tokens per row equal; max logit error over the steps {worst:E2}");
        Assert.Equal(expected, seqs.SelectMany(x => x).ToArray());
        Assert.True(worst <= Tolerance, $"max logit error {worst:E2}");
    }

    [Fact]
    public void RefusesWhatAGraphCannotExpressAndWritesNothing()
    {
        var gumbel = new Gpt(new GptConfig(BlockSize: 8, VocabSize: 11, NLayer: 2, NHead: 2, NEmbd: 8, Attention: AttentionVariant.Parse("gumbel:0.5")));
        gumbel.Eval();
        var ex = Assert.Throws<NotSupportedException>(() => Attend.Interop.OnnxExport.Save(gumbel, Path.Combine(run.Folder, "g.onnx")));
        output.WriteLine(ex.Message);
        Assert.Contains("transformer.h.0.attn uses gumbel", ex.Message);

        var dropout = new Gpt(new GptConfig(BlockSize: 8, VocabSize: 11, NLayer: 1, NHead: 2, NEmbd: 8, Dropout: 0.1f));   // training mode
        ex = Assert.Throws<NotSupportedException>(() => Attend.Interop.OnnxExport.Save(dropout, Path.Combine(run.Folder, "d.onnx")));
        output.WriteLine(ex.Message);
        Assert.Contains("dropout p = 0.1 in training mode", ex.Message);
        Assert.Contains("Eval()", ex.Message);
        dropout.Eval();
        Attend.Interop.OnnxExport.Save(dropout, Path.Combine(run.Folder, "d.onnx"));                 // in evaluation mode it exports

        ex = Assert.Throws<NotSupportedException>(() => Attend.Interop.OnnxExport.Save(new Linear(3, 4), Path.Combine(run.Folder, "l.onnx")));
        Assert.Contains("Linear is not a model this exporter knows", ex.Message);
        ex = Assert.Throws<NotSupportedException>(() => Attend.Interop.OnnxExport.Save(dropout, Path.Combine(run.Folder, "o.onnx"), new() { Opset = 18 }));
        Assert.Contains("opset 18 is not written; choose 17 or 23", ex.Message);
        Assert.Equal(["d.onnx"], Directory.GetFiles(run.Folder).Select(Path.GetFileName));
    }
}
