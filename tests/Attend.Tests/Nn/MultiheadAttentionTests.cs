using Attend.Nn;
using Xunit;

namespace Attend.Tests;

/// <summary>What PyTorch fixtures cannot show: fully masked rows, dropout determinism, isCausal, the KV cache,
/// grouped-query attention against a repeated-kv reference, names and initialization.</summary>
public class MultiheadAttentionTests
{
    private static Tensor Randn(Random rng, params int[] shape) => Tensor.Randn(shape, rng);

    private static void Close(Tensor expected, Tensor actual, float tol = 1e-5f, string what = "")
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var a = expected.ToArray(); var b = actual.ToArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - b[i]) <= tol + 1e-4f * Math.Abs(a[i]), $"{what} [{i}]: expected {a[i]}, got {b[i]}");
    }

    [Fact]
    public void FullyMaskedRowGivesZeroAttentionNotNaN()
    {
        // Deviation from PyTorch (NaN there): a query whose every key is padded attends to nothing, so the attention
        // output is 0 and the module's output is out_proj's bias; its weights are 0 and gradients stay finite.
        var rng = new Random(1);
        var mha = new MultiheadAttention(8, 2, batchFirst: true, rng: rng);
        using (Autograd.NoGrad()) mha.OutProj.Bias!.CopyFrom(Randn(rng, 8));
        var x = Tensor.Randn(new[] { 2, 3, 8 }, rng, requiresGrad: true);
        var kpm = Tensor.FromArray(new[] { false, true, false, true, true, true }, new[] { 2, 3 });   // batch 1: all padding
        var (o, w) = mha.Forward(x, x, x, kpm);
        var out1 = o.Select(0, 1).ToArray();
        var bias = mha.OutProj.Bias.ToArray();
        for (int i = 0; i < 3; i++)
            for (int e = 0; e < 8; e++) Assert.Equal(bias[e], out1[i * 8 + e], 6);
        Assert.All(w!.Select(0, 1).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(w.Select(0, 0).ToArray(), v => Assert.False(float.IsNaN(v)));
        o.Sum().Backward();
        Assert.All(x.Grad!.ToArray(), g => Assert.True(float.IsFinite(g)));
        Assert.All(mha.InProjWeight!.Grad!.ToArray(), g => Assert.True(float.IsFinite(g)));
    }

    [Fact]
    public void TrainingDropoutIsDeterministicWithASeededRng()
    {
        Tensor Run(int seed, bool train)
        {
            var mha = new MultiheadAttention(16, 4, dropout: 0.5f, batchFirst: true, rng: new Random(seed));
            mha.Train(train);
            var x = Tensor.Randn(new[] { 2, 6, 16 }, new Random(3));
            return mha.Forward(x, x, x, needWeights: false).Output;
        }
        var a = Run(11, true).ToArray();
        Assert.Equal(a, Run(11, true).ToArray());
        Assert.NotEqual(a, Run(11, false).ToArray());                 // dropout did something
        Assert.NotEqual(a, Run(12, true).ToArray());                  // and depends on the seed
        // the weights returned are those before dropout: the same in training and eval
        var m = new MultiheadAttention(16, 4, dropout: 0.5f, rng: new Random(5));
        var x = Tensor.Randn(new[] { 6, 2, 16 }, new Random(4));
        var wTrain = m.Forward(x, x, x).Weights!.ToArray();
        m.Eval();
        Assert.Equal(wTrain, m.Forward(x, x, x).Weights!.ToArray());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void IsCausalEqualsTheExplicitCausalMask(bool batchFirst, bool addBiasKv)
    {
        var rng = new Random(2);
        var mha = new MultiheadAttention(12, 3, addBiasKv: addBiasKv, batchFirst: batchFirst, rng: rng);
        var x = batchFirst ? Randn(rng, 3, 5, 12) : Randn(rng, 5, 3, 12);               // L = 5
        var (o1, w1) = mha.Forward(x, x, x, isCausal: true);
        var (o2, w2) = mha.Forward(x, x, x, attnMask: Transformer.GenerateSquareSubsequentMask(5));
        Close(o2, o1); Close(w2!, w1!);
        // with attnMask given, isCausal is only a hint (PyTorch 2.x): the mask wins
        var any = Tensor.FromArray(Enumerable.Range(0, 25).Select(i => i % 7 == 3).ToArray(), new[] { 5, 5 });
        Close(mha.Forward(x, x, x, attnMask: any).Output, mha.Forward(x, x, x, attnMask: any, isCausal: true).Output);
    }

    [Fact]
    public void MultiheadAttentionCacheStepByStepEqualsTheFullCausalForward()
    {
        var rng = new Random(3);
        var mha = new MultiheadAttention(16, 4, batchFirst: true, rng: rng).Eval();
        var x = Randn(rng, 2, 7, 16);
        using var _ = Autograd.NoGrad();
        var full = ((MultiheadAttention)mha).Forward(x, x, x, needWeights: false, isCausal: true).Output;
        var cache = new KvCache();
        var steps = new List<Tensor>();
        foreach (var (start, len) in new[] { (0, 3), (3, 1), (4, 1), (5, 2) })            // a prompt, then steps, then a chunk
        {
            var xs = x.Narrow(1, start, len);
            steps.Add(((MultiheadAttention)mha).Forward(xs, xs, xs, cache, isCausal: true).Output);
        }
        Assert.Equal(7, cache.Length);
        Close(full, Tensor.Cat(steps, 1));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void DecoderCacheStepByStepEqualsTheFullCausalForward(bool normFirst, bool batchFirst)
    {
        var rng = new Random(4);
        int d = 16, L = 6, S = 5, B = 2;
        var dec = new TransformerDecoder(() => new TransformerDecoderLayer(d, 4, 32, dropout: 0.1f, batchFirst: batchFirst, normFirst: normFirst, rng: rng),
            2, new LayerNorm(d));
        dec.Eval();
        int sd = batchFirst ? 1 : 0;
        var tgt = batchFirst ? Randn(rng, B, L, d) : Randn(rng, L, B, d);
        var memory = batchFirst ? Randn(rng, B, S, d) : Randn(rng, S, B, d);
        var memPad = Tensor.FromArray(new[] { false, false, false, false, false, false, false, false, true, true }, new[] { B, S });
        using var _ = Autograd.NoGrad();
        var full = dec.Forward(tgt, memory, Transformer.GenerateSquareSubsequentMask(L), memoryKeyPaddingMask: memPad);
        var cache = dec.NewCache();
        var steps = Enumerable.Range(0, L).Select(t => dec.Forward(tgt.Narrow(sd, t, 1), memory, cache, memPad)).ToList();
        Assert.Equal(L, cache.Length);
        Close(full, Tensor.Cat(steps, sd), 1e-5f, "step-by-step vs full");
    }

    /// <summary>Grouped-query attention from primitives, with each kv head repeated H / Hkv times.</summary>
    private static Tensor GqaReference(GroupedQueryAttention m, Tensor x, Tensor? blocked)
    {
        int B = x.Size(0), L = x.Size(1), H = m.NumHeads, Hkv = m.NumKvHeads, D = m.HeadDim, g = H / Hkv;
        Tensor Split(Tensor t, int h) => t.Reshape(B, L, h, D).Permute(0, 2, 1, 3);                      // (B, h, L, D)
        Tensor Repeat(Tensor t) => t.Unsqueeze(2).Expand(B, Hkv, g, L, D).Reshape(B, H, L, D);            // (B, H, L, D)
        var q = Split(m.QProj.Forward(x), H);
        var k = Repeat(Split(m.KProj.Forward(x), Hkv));
        var v = Repeat(Split(m.VProj.Forward(x), Hkv));
        var scores = q.Matmul(k.Transpose(2, 3)) * (1f / MathF.Sqrt(D));                               // (B, H, L, L)
        if (blocked is not null) scores = scores.MaskedFill(blocked, float.NegativeInfinity);
        var att = Functional.Softmax(scores, -1).Matmul(v);                                               // (B, H, L, D)
        return m.OProj.Forward(att.Permute(0, 2, 1, 3).Reshape(B, L, H * D));
    }

    [Theory]
    [InlineData(8, 2, false)]
    [InlineData(8, 1, true)]
    [InlineData(4, 4, true)]
    public void GroupedQueryAttentionMatchesRepeatedKvHeads(int heads, int kvHeads, bool causal)
    {
        var rng = new Random(5);
        var m = new GroupedQueryAttention(32, heads, kvHeads, bias: true, rng: rng);
        var x = Tensor.Randn(new[] { 2, 6, 32 }, rng, requiresGrad: true);
        var blocked = causal ? MultiheadAttention.CausalBlocked(6, 6) : null;
        var gout = Randn(rng, 2, 6, 32);
        var (o, _) = m.Forward(x, x, x, isCausal: causal);
        (o * gout).Sum().Backward();
        var grads = m.NamedParameters().ToDictionary(p => p.Name, p => p.Param.Grad!.ToArray());
        var gx = x.Grad!.ToArray();
        m.ZeroGrad(); x.ZeroGrad();
        var r = GqaReference(m, x, blocked);
        (r * gout).Sum().Backward();
        Close(r, o, 1e-5f, "output");
        Close(x.Grad!, Tensor.FromArray(gx, x.Shape), 1e-5f, "grad x");
        foreach (var (n, p) in m.NamedParameters()) Close(p.Grad!, Tensor.FromArray(grads[n], p.Shape), 1e-5f, n);
        Assert.Equal(new[] { "q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias", "o_proj.weight", "o_proj.bias" },
            m.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal(new[] { kvHeads * 32 / heads, 32 }, m.KProj.Weight.Shape);
    }

    [Fact]
    public void GroupedQueryAttentionCacheEqualsFullForward()
    {
        var rng = new Random(6);
        var m = new GroupedQueryAttention(16, 4, 2, rng: rng);
        var x = Randn(rng, 1, 5, 16);
        using var _ = Autograd.NoGrad();
        var full = m.Forward(x, x, x, isCausal: true).Output;
        var cache = new KvCache();
        var steps = Enumerable.Range(0, 5).Select(t => { var xs = x.Narrow(1, t, 1); return m.Forward(xs, xs, xs, isCausal: true, cache: cache).Output; }).ToList();
        Close(full, Tensor.Cat(steps, 1));
    }

    [Fact]
    public void NamesShapesAndInitializationFollowPyTorch()
    {
        var m = new MultiheadAttention(16, 4, addBiasKv: true, rng: new Random(7));
        Assert.Equal(new[] { "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias" }, m.StateDict().Keys.ToArray());
        Assert.Equal(new[] { 48, 16 }, m.InProjWeight!.Shape);
        Assert.Equal(new[] { 1, 1, 16 }, m.BiasK!.Shape);
        Assert.All(m.InProjBias!.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(m.OutProj.Bias!.ToArray(), v => Assert.Equal(0f, v));
        float xavier = MathF.Sqrt(6f / (16 + 48));
        var w = m.InProjWeight.ToArray();
        Assert.All(w, v => Assert.InRange(v, -xavier, xavier));
        Assert.True(w.Max() > 0.8f * xavier);                           // spread over the whole range, not a narrower one

        var sep = new MultiheadAttention(16, 4, kdim: 6, vdim: 10, bias: false);
        Assert.Equal(new[] { "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight" }, sep.StateDict().Keys.ToArray());
        Assert.Equal(new[] { 16, 6 }, sep.KProjWeight!.Shape);

        var t = new Transformer(16, 4, 2, 1, 32);
        var names = t.StateDict().Keys.ToHashSet();
        foreach (var n in new[] { "encoder.layers.1.self_attn.in_proj_weight", "encoder.layers.0.linear1.weight", "encoder.norm.weight",
                     "decoder.layers.0.multihead_attn.out_proj.bias", "decoder.layers.0.norm3.bias", "decoder.norm.bias" })
            Assert.Contains(n, names);
        Assert.Equal(2 * 12 + 2 + 1 * 18 + 2, names.Count);
    }

    [Fact]
    public void SquareSubsequentMaskIsMinusInfinityAboveTheDiagonal()
    {
        var m = Transformer.GenerateSquareSubsequentMask(3).ToArray();
        float n = float.NegativeInfinity;
        Assert.Equal(new[] { 0f, n, n, 0f, 0f, n, 0f, 0f, 0f }, m);
    }

    [Fact]
    public void BadMasksAreRejectedWithTheirShapes()
    {
        var m = new MultiheadAttention(8, 2);
        var x = Tensor.Randn(new[] { 4, 2, 8 });
        var ex = Assert.Throws<ArgumentException>(() => m.Forward(x, x, x, attnMask: Tensor.Zeros(4, 5)));
        Assert.Contains("attnMask must be [L, S] = [4, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => m.Forward(x, x, x, keyPaddingMask: Tensor.Zeros(4, 2)));
        Assert.Contains("keyPaddingMask must be [B, S] = [2, 4]", ex.Message);
        Assert.Throws<ArgumentException>(() => new MultiheadAttention(10, 3));
    }
}
