using Attend;
using Attend.Nn;
using Xunit;

namespace Attend.Tests;

/// <summary>The attention variant through the modules (MultiheadAttention, GroupedQueryAttention, Gpt, ViT) and the
/// REINFORCE reward the training loop gives (the CLI's side: tests/Attend.Cli.Tests/Cli/AttentionVariantCliTests.cs).</summary>
public class AttentionVariantModelTests
{
    private static Tensor Rand(int seed, params int[] shape) => Tensor.Randn(shape, new Random(seed));

    private static void Close(float[] want, float[] got, double atol)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) <= atol, $"element {i}: {got[i]} vs {want[i]}");
    }

    /// <summary>MultiheadAttention returns the variant's own weights: per head, rows sum to 1 over non-padding keys, padding
    /// gets 0, sparsemax has exact zeros; and topk:K with K ≥ S reproduces the soft module (same initial weights).</summary>
    [Fact]
    public void MultiheadAttentionReturnsTheVariantsWeights()
    {
        var x = Rand(1, 2, 6, 8);
        var pad = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => i == 5 || i == 10 || i == 11).ToArray(), new[] { 2, 6 });
        var sparse = new MultiheadAttention(8, 2, batchFirst: true, rng: new Random(3), attention: AttentionVariant.Sparsemax);
        sparse.Eval();
        var (_, w) = sparse.Forward(x, x, x, pad, needWeights: true, averageAttnWeights: false);        // (2, 2, 6, 6)
        var wv = w!.ToArray(); var pv = pad.ToBoolArray();
        int zeros = 0;
        for (int row = 0; row < 2 * 2 * 6; row++)
        {
            int b = row / 12;
            double sum = 0;
            for (int j = 0; j < 6; j++)
            {
                float p = wv[row * 6 + j];
                if (pv[b * 6 + j]) Assert.Equal(0f, p);
                else if (p == 0f) zeros++;
                sum += p;
            }
            Assert.Equal(1.0, sum, 5);
        }
        Assert.True(zeros > 0, "sparsemax MHA weights should have exact zeros");

        var soft = new MultiheadAttention(8, 2, batchFirst: true, rng: new Random(3));
        var topAll = new MultiheadAttention(8, 2, batchFirst: true, rng: new Random(3), attention: AttentionVariant.TopK(64));
        var (o1, w1) = soft.Forward(x, x, x, pad);
        var (o2, w2) = topAll.Forward(x, x, x, pad);
        Close(o1.ToArray(), o2.ToArray(), 1e-5);
        Close(w1!.ToArray(), w2!.ToArray(), 1e-6);
    }

    /// <summary>GroupedQueryAttention: topk:K ≥ S reproduces the soft module; hard attention gives one-hot weights per head.</summary>
    [Fact]
    public void AttentionCaptureRecordsTheVariantsOwnWeights()
    {
        var x = Rand(11, 2, 6, 8);
        var mha = new MultiheadAttention(8, 2, batchFirst: true, rng: new Random(3), attention: AttentionVariant.Entmax15);
        mha.Eval();
        var (_, w) = mha.Forward(x, x, x, needWeights: true, averageAttnWeights: false, isCausal: true);    // (2, 2, 6, 6)
        using var cap = Interpret.AttentionCapture.Start(mha, heads: [1]);
        mha.Forward(x, x, x, needWeights: false, isCausal: true);
        var rec = Assert.Single(cap.Records);
        Assert.Equal([1], rec.Heads);
        var want = w!.ToArray();
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 36; i++) Assert.Equal(want[(b * 2 + 1) * 36 + i], rec.Weights[b * 36 + i]);
        Assert.Contains(0f, rec.Weights);                                             // entmax's exact zeros survive
    }

    [Fact]
    public void GroupedQueryAttentionCarriesTheVariant()
    {
        var x = Rand(7, 2, 5, 8);
        var soft = new GroupedQueryAttention(8, 4, 2, rng: new Random(8));
        var top = new GroupedQueryAttention(8, 4, 2, rng: new Random(8), attention: AttentionVariant.TopK(5));
        Close(soft.Forward(x, x, x).Output.ToArray(), top.Forward(x, x, x).Output.ToArray(), 1e-5);
        var hard = new GroupedQueryAttention(8, 4, 2, rng: new Random(8), attention: AttentionVariant.Hard);
        var w = hard.Forward(x, x, x, needWeights: true, averageAttnWeights: false, isCausal: true).Weights!.ToArray();   // (2, 4, 5, 5)
        for (int row = 0; row < 2 * 4 * 5; row++)
        {
            var r = w.Skip(row * 5).Take(5).ToArray();
            Assert.Equal(1, r.Count(v => v == 1f));
            Assert.Equal(4, r.Count(v => v == 0f));
            Assert.True(Array.IndexOf(r, 1f) <= row % 5, "causal: no key after the query");
        }
    }

    /// <summary>GPT with a non-soft variant: incremental decoding with the KV cache (bottom-right causal alignment on the
    /// materialized path) gives the full forward's logits; topk:K ≥ T equals the soft model.</summary>
    [Fact]
    public void GptCarriesTheVariantThroughTheCache()
    {
        var cfg = new GptConfig(BlockSize: 16, VocabSize: 11, NLayer: 2, NHead: 2, NEmbd: 16, Attention: AttentionVariant.Entmax15);
        var model = new Gpt(cfg, new Random(4));
        model.Eval();
        var ids = Tensor.FromArray(Enumerable.Range(0, 9).Select(i => (long)(i * 7 % 11)).ToArray(), new[] { 1, 9 });
        using var noGrad = Autograd.NoGrad();
        var full = model.Forward(ids).Logits.ToArray();                                                // (1, 9, 11)
        using var cache = model.NewCache();
        var first = model.Forward(ids.Narrow(1, 0, 5).Contiguous(), cache).ToArray();
        var rest = model.Forward(ids.Narrow(1, 5, 4).Contiguous(), cache).ToArray();
        Close(full, first.Concat(rest).ToArray(), 1e-5);

        var soft = new Gpt(cfg with { Attention = null }, new Random(4));
        var all = new Gpt(cfg with { Attention = AttentionVariant.TopK(16) }, new Random(4));
        Close(soft.Forward(ids).Logits.ToArray(), all.Forward(ids).Logits.ToArray(), 1e-5);
        Assert.NotEqual(soft.Forward(ids).Logits.ToArray(), full);
    }

    [Fact]
    public void VisionTransformerCarriesTheVariant()
    {
        var c = new VitConfig(ImageSize: 8, PatchSize: 4, Channels: 1, NumClasses: 3, Dim: 8, Depth: 1, NHead: 2);
        var images = Rand(5, 2, 1, 8, 8);
        var soft = new VisionTransformer(c, new Random(6)).Forward(images).ToArray();
        Close(soft, new VisionTransformer(c with { Attention = AttentionVariant.TopK(64) }, new Random(6)).Forward(images).ToArray(), 1e-5);
        Assert.NotEqual(soft, new VisionTransformer(c with { Attention = AttentionVariant.Hard }, new Random(6)).Forward(images).ToArray());
    }

    /// <summary>The reward: minus each sequence's mean token cross-entropy, padding ignored (checked by hand on a 2×2 case).</summary>
    [Fact]
    public void RewardIsMinusThePerSequenceLoss()
    {
        var logits = Tensor.FromArray(new[] { 0f, 1f, 2f, 0f, 0f, 0f, 3f, 0f, -1f, 1f, 1f, 1f }, new[] { 2, 2, 3 });
        var labels = Tensor.FromArray(new long[] { 2, 0, 1, 0 }, new[] { 2, 2 });                // sequence 1: token 2 is padding (0)
        var r = Attend.Training.Rewards.NegativeTokenLoss(logits, labels, ignoreIndex: 0).ToArray();
        double Ce(double[] z, int y) => Math.Log(z.Sum(Math.Exp)) - z[y];
        Assert.Equal(-Ce(new double[] { 0, 1, 2 }, 2), r[0], 5);                                  // the second token (0) is ignored
        Assert.Equal(-Ce(new double[] { 3, 0, -1 }, 1), r[1], 5);
    }
}
