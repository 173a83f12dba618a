using Attend.Interpret;
using Attend.Kernels.Reference;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// <see cref="AttentionCapture"/>: the captured maps equal the float64 reference softmax (1e-6) across masks, causal
/// alignments and GQA; a capture changes no output bit; only the asked-for sites and heads are recorded; module names.
/// </summary>
public sealed class AttentionCaptureTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases => new[]
    {
        new object[] { "plain", 2, 3, 3, 9, 9, "none", false, false },
        new object[] { "cross_L_lt_S", 1, 2, 2, 5, 13, "none", false, false },
        new object[] { "bool_mask", 2, 2, 2, 7, 11, "bool", false, false },
        new object[] { "float_mask", 1, 2, 2, 7, 11, "float", false, false },
        new object[] { "fully_masked_rows", 1, 2, 2, 6, 8, "rows", false, false },
        new object[] { "causal", 1, 2, 2, 12, 12, "none", true, false },
        new object[] { "causal_bottom_right", 1, 2, 2, 5, 12, "none", true, true },
        new object[] { "gqa_4_2", 2, 4, 2, 8, 10, "none", false, false },
        new object[] { "gqa_4_1_causal_mask", 1, 4, 1, 9, 9, "bool", true, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CapturedMapsEqualTheReferenceSoftmax(string name, int B, int H, int Hkv, int L, int S, string maskKind, bool causal, bool bottomRight)
    {
        const int E = 16;
        var rng = new Random(name.Length * 31 + L);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var qv = R(B * H * L * E); var kv = R(B * Hkv * S * E); var vv = R(B * Hkv * S * E);
        Tensor? mask = null; bool[]? boolFull = null; double[]? addFull = null;
        int full = B * H * L * S;
        if (maskKind == "bool")
        {
            var m = Enumerable.Range(0, L * S).Select(i => i % S == 0 || rng.NextDouble() < 0.7).ToArray();
            mask = Tensor.FromArray(m, new[] { L, S });
            boolFull = Enumerable.Range(0, full).Select(i => m[i % (L * S)]).ToArray();
        }
        else if (maskKind == "rows")
        {
            var m = Enumerable.Range(0, L * S).Select(i => i / S % 3 != 1).ToArray();     // every third query sees nothing
            mask = Tensor.FromArray(m, new[] { L, S });
            boolFull = Enumerable.Range(0, full).Select(i => m[i % (L * S)]).ToArray();
        }
        else if (maskKind == "float")
        {
            var m = R(L * S).Select(x => 2 * x).ToArray();
            mask = Tensor.FromArray(m, new[] { L, S });
            addFull = Enumerable.Range(0, full).Select(i => (double)m[i % (L * S)]).ToArray();
        }
        var opts = new AttentionOptions
        {
            Mask = mask, IsCausal = causal, Alignment = bottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft, EnableGqa = H != Hkv,
        };
        var q = Tensor.FromArray(qv, new[] { B, H, L, E }); var k = Tensor.FromArray(kv, new[] { B, Hkv, S, E }); var v = Tensor.FromArray(vv, new[] { B, Hkv, S, E });

        var plain = F.Attention(q, k, v, opts).Output.ToArray();
        float[] captured;
        AttentionResult res;
        using (var cap = AttentionCapture.Start())
        {
            res = F.Attention(q, k, v, opts);
            var rec = Assert.Single(cap.Records);
            Assert.Equal((B, H, L, S), (rec.Batch, rec.NumHeads, rec.Queries, rec.Keys));
            Assert.Equal(Enumerable.Range(0, H), rec.Heads);
            Assert.Equal("attention#0", rec.Site);
            captured = rec.Weights;
        }
        Assert.Equal(plain, res.Output.ToArray());                      // capturing changes nothing

        var refr = AttentionReference.Run(new AttentionReference.Problem(B, H, Hkv, L, S, E, E,
            qv.Select(x => (double)x).ToArray(), kv.Select(x => (double)x).ToArray(), vv.Select(x => (double)x).ToArray(),
            boolFull, addFull, causal, bottomRight));
        double worst = 0;
        for (int i = 0; i < full; i++) worst = Math.Max(worst, Math.Abs(captured[i] - refr.P[i]));
        output.WriteLine($"{name}: max |captured − reference| = {worst:G3}");
        Assert.True(worst <= 1e-6, $"{name}: captured weights differ from the float64 softmax by {worst:G3}");
        if (maskKind == "rows") Assert.All(Enumerable.Range(0, S), j => Assert.Equal(0f, captured[1 * S + j]));   // the masked row is all zeros
    }

    [Fact]
    public void OnlyTheAskedForSitesAndHeadsAreRecorded()
    {
        var model = new Transformer(16, 4, 2, 2, 32, dropout: 0f, batchFirst: true, rng: new Random(1));
        model.Eval();
        var src = Tensor.Randn(new[] { 1, 6, 16 }, new Random(2)); var tgt = Tensor.Randn(new[] { 1, 4, 16 }, new Random(3));
        using var _ = Autograd.NoGrad();
        using (var all = AttentionCapture.Start(model))
        {
            model.Forward(src, tgt, tgtIsCausal: true);
            Assert.Equal(new[]
            {
                "encoder.layers.0.self_attn", "encoder.layers.1.self_attn",
                "decoder.layers.0.self_attn", "decoder.layers.0.multihead_attn", "decoder.layers.1.self_attn", "decoder.layers.1.multihead_attn",
            }, all.Records.Select(r => r.Site));
            var cross = all.Records[5];
            Assert.Equal((4, 6), (cross.Queries, cross.Keys));
            Assert.Equal(model.Decoder.Layers[1].MultiheadAttn.Path, cross.Site);                // a site is its module's path
            var self = all.Records[2].Map(0);                                // causal: nothing above the diagonal
            for (int i = 0; i < 4; i++)
                for (int j = i + 1; j < 4; j++) Assert.Equal(0f, self[i, j]);
        }
        using (var some = AttentionCapture.Start(model, sites: s => s.EndsWith("multihead_attn"), heads: new[] { 3, 1, 9 }))
        {
            model.Forward(src, tgt, tgtIsCausal: true);
            Assert.Equal(new[] { "decoder.layers.0.multihead_attn", "decoder.layers.1.multihead_attn" }, some.Records.Select(r => r.Site));
            Assert.All(some.Records, r => Assert.Equal(new[] { 1, 3 }, r.Heads));   // sorted; 9 ≥ H skipped
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionCapture.Start(model, heads: new[] { -1 }));
    }

    [Fact]
    public void ModuleCapturesEqualTheModulesOwnWeights()
    {
        // MultiheadAttention with both masks and GroupedQueryAttention: the capture equals needWeights (per head), which
        // the module tests check against PyTorch; and it is there when the module itself was asked for no weights.
        var rng = new Random(4);
        var mha = new MultiheadAttention(12, 3, batchFirst: true, rng: rng);
        var gqa = new GroupedQueryAttention(16, 4, 2, rng: rng);
        mha.Eval(); gqa.Eval();
        using var _ = Autograd.NoGrad();
        var x = Tensor.Randn(new[] { 2, 5, 12 }, rng); var y = Tensor.Randn(new[] { 2, 7, 12 }, rng);
        var kpm = Tensor.FromArray(new[] { false, false, false, false, false, true, true, false, false, false, false, false, false, false }, new[] { 2, 7 });
        var (_, want) = mha.Forward(x, y, y, kpm, needWeights: true, averageAttnWeights: false);
        using (var cap = AttentionCapture.Start(mha))
        {
            mha.Forward(x, y, y, kpm, needWeights: false);
            var rec = Assert.Single(cap.Records);
            Assert.Equal("MultiheadAttention", rec.Site);
            Assert.Equal(want!.ToArray(), rec.Weights);
        }
        var z = Tensor.Randn(new[] { 1, 6, 16 }, rng);
        var (_, wantG) = gqa.Forward(z, z, z, needWeights: true, averageAttnWeights: false, isCausal: true);
        using (var cap = AttentionCapture.Start(gqa))
        {
            gqa.Forward(z, z, z, isCausal: true);
            Assert.Equal(wantG!.ToArray(), Assert.Single(cap.Records).Weights);
        }
    }

    [Fact]
    public void GptLayerZeroMatchesAFloat64RecomputationFromItsWeights()
    {
        // GQA GPT (2 query heads share 1 kv head): layer 0's maps recomputed in float64 from the embeddings, ln_1 and c_attn.
        var cfg = new GptConfig(BlockSize: 16, VocabSize: 11, NLayer: 2, NHead: 2, NEmbd: 8, NKvHead: 1);
        var gpt = new Gpt(cfg, new Random(5));
        var rng = new Random(6);
        using (Autograd.NoGrad())
            foreach (var (_, p) in gpt.NamedParameters())
            {
                using var r = Tensor.Randn(p.Shape, rng);
                p.CopyFrom(r * 0.5f);
            }
        gpt.Eval();
        long[] ids = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3 };
        int T = ids.Length, C = 8, hs = 4;
        using var _ = Autograd.NoGrad();
        CapturedAttention rec;
        using (var cap = AttentionCapture.Start(gpt))
        {
            gpt.Forward(Tensor.FromArray(ids, new[] { 1, T }));
            Assert.Equal(new[] { "transformer.h.0.attn", "transformer.h.1.attn" }, cap.Records.Select(r => r.Site));
            rec = cap.Records[0];
        }
        var sd = gpt.StateDict().ToDictionary(p => p.Key, p => p.Value.ToArray().Select(v => (double)v).ToArray());
        double[] wte = sd["transformer.wte.weight"], wpe = sd["transformer.wpe.weight"], g = sd["transformer.h.0.ln_1.weight"],
            beta = sd["transformer.h.0.ln_1.bias"], w = sd["transformer.h.0.attn.c_attn.weight"], bias = sd["transformer.h.0.attn.c_attn.bias"];
        int rows = w.Length / C;                                                      // (nh + 2·nkv)·hs = 16
        var qkv = new double[T, rows];
        for (int t = 0; t < T; t++)
        {
            var x = Enumerable.Range(0, C).Select(c => wte[ids[t] * C + c] + wpe[t * C + c]).ToArray();
            double mean = x.Average(), var_ = x.Select(v => (v - mean) * (v - mean)).Average();
            var h = x.Select((v, c) => (v - mean) / Math.Sqrt(var_ + 1e-5) * g[c] + beta[c]).ToArray();
            for (int o = 0; o < rows; o++) qkv[t, o] = bias[o] + Enumerable.Range(0, C).Sum(c => h[c] * w[o * C + c]);
        }
        double worst = 0;
        for (int head = 0; head < 2; head++)
            for (int i = 0; i < T; i++)
            {
                var s = Enumerable.Range(0, i + 1).Select(j => Enumerable.Range(0, hs).Sum(d => qkv[i, head * hs + d] * qkv[j, 2 * hs + d]) / 2.0).ToArray();
                double max = s.Max(), sum = s.Sum(v => Math.Exp(v - max));
                for (int j = 0; j < T; j++)
                {
                    double want = j <= i ? Math.Exp(s[j] - max) / sum : 0;
                    worst = Math.Max(worst, Math.Abs(rec.Map(head)[i, j] - want));
                }
            }
        output.WriteLine($"GPT layer 0: max |captured − float64| = {worst:G3}");
        Assert.True(worst <= 1e-6, $"GPT layer 0 maps differ from float64 by {worst:G3}");
    }
}
