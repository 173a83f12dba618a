using Attend.Nn;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

public sealed class VisionTransformerTests(ITestOutputHelper output)
{
    [Fact]
    public void ShapesAndTimmNames()
    {
        var vit = new VisionTransformer(new VitConfig(ImageSize: 32, PatchSize: 8, Channels: 3, NumClasses: 10, Dim: 48, Depth: 2, NHead: 3), new Random(1));
        var y = vit.Forward(Tensor.Randn(new[] { 2, 3, 32, 32 }, new Random(2)));
        Assert.Equal(new[] { 2, 10 }, y.Shape);
        var names = vit.StateDict();
        Assert.Equal(new[] { 48, 3 * 8 * 8 }, names["patch_embed.proj.weight"].Shape);
        Assert.Equal(new[] { 1, 1, 48 }, names["cls_token"].Shape);
        Assert.Equal(new[] { 1, 17, 48 }, names["pos_embed"].Shape);
        foreach (var n in new[] { "blocks.1.norm1.weight", "blocks.1.attn.qkv.weight", "blocks.1.attn.proj.bias", "blocks.1.norm2.bias",
                     "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "norm.weight", "head.weight", "head.bias" })
            Assert.True(names.ContainsKey(n), n);
        y.Sum().Backward();
        Assert.All(vit.Parameters(), p => Assert.NotNull(p.Grad));
    }

    [Fact]
    public void LastBlockComputingOnlyTheClsTokenGivesTheFullBlocksLogitsAndGradients()
    {
        // allTokens: the last block runs on every token (its map has a row per token); by default on [CLS] only (one row).
        var vit = new VisionTransformer(new VitConfig(ImageSize: 16, PatchSize: 4, Channels: 1, NumClasses: 5, Dim: 32, Depth: 2, NHead: 4), new Random(3));
        var x = Tensor.Randn(new[] { 3, 1, 16, 16 }, new Random(4));
        var y = Tensor.FromArray(new long[] { 0, 3, 4 }, new[] { 3 });
        (float[] Logits, Dictionary<string, float[]> Grads) Run(bool full)
        {
            foreach (var p in vit.Parameters()) p.ZeroGrad();
            using var capture = Interpret.AttentionCapture.Start(vit);
            var logits = vit.Forward(x, allTokens: full);
            Functional.CrossEntropy(logits, y).Backward();
            Assert.Equal(new[] { full ? 17 : 1, 17 }, new[] { capture.Records[^1].Queries, capture.Records[^1].Keys });
            return (logits.ToArray(), vit.NamedParameters().ToDictionary(p => p.Name, p => p.Param.Grad!.ToArray()));
        }
        var (fullLogits, fullGrads) = Run(full: true);
        var (clsLogits, clsGrads) = Run(full: false);
        Assert.Equal(fullLogits, clsLogits, (a, b) => Math.Abs(a - b) <= 1e-5f + 1e-5f * Math.Abs(a));
        foreach (var (name, g) in fullGrads)
        {
            double maxAbs = g.Max(Math.Abs), err = g.Zip(clsGrads[name], (a, b) => (double)Math.Abs(a - b)).Max();
            Assert.True(err <= 1e-5 + 1e-4 * maxAbs, $"{name}: grads differ by {err:G3} (largest {maxAbs:G3})");
        }
    }

    [Fact]
    public void PatchesAreConvOrderedBlocks()
    {
        var vit = new VisionTransformer(new VitConfig(ImageSize: 4, PatchSize: 2, Channels: 2, Dim: 8, Depth: 1, NHead: 2));
        var img = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => (float)i).ToArray(), new[] { 1, 2, 4, 4 });
        var p = vit.Patchify(img).ToArray();   // (1, 4, 8)
        // patch 1 = rows 0–1, cols 2–3: channel 0 then channel 1, each 2×2 row-major
        Assert.Equal(new float[] { 2, 3, 6, 7, 18, 19, 22, 23 }, p.Skip(8).Take(8));
    }

    [Fact]
    public void LearnsTwoClassesOfStripes()
    {
        // 8×8 grey images: horizontal stripes (class 0) or vertical stripes (class 1), random phase and noise.
        var rng = new Random(4);
        const int n = 16;
        var data = new float[n * 64]; var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 2; int phase = rng.Next(2);
            for (int r = 0; r < 8; r++)
                for (int c = 0; c < 8; c++)
                    data[i * 64 + r * 8 + c] = (((labels[i] == 0 ? r : c) + phase) % 2 == 0 ? 1f : -1f) + 0.3f * (float)(rng.NextDouble() - 0.5);
        }
        var x = Tensor.FromArray(data, new[] { n, 1, 8, 8 }); var y = Tensor.FromArray(labels, new[] { n });
        var vit = new VisionTransformer(new VitConfig(ImageSize: 8, PatchSize: 4, Channels: 1, NumClasses: 2, Dim: 32, Depth: 2, NHead: 2), new Random(5));
        var velocity = vit.Parameters().Select(p => Tensor.Zeros(p.Shape)).ToArray();
        float loss = 0;
        for (int step = 0; step < 60; step++)
        {
            using var scope = Tensor.NewScope();
            vit.ZeroGrad();
            var l = Functional.CrossEntropy(vit.Forward(x), y);
            loss = l.Item();
            l.Backward();
            using var _ = Autograd.NoGrad();
            int k = 0;
            foreach (var p in vit.Parameters())   // SGD with momentum 0.9, lr 0.05
            {
                velocity[k].MulInPlace(0.9f); velocity[k].AddInPlace(p.Grad!);
                p.AddInPlace(velocity[k++], -0.05f);
            }
        }
        using var __ = Autograd.NoGrad();
        var logits = vit.Forward(x).ToArray();
        int correct = Enumerable.Range(0, n).Count(i => (logits[2 * i + 1] > logits[2 * i] ? 1 : 0) == labels[i]);
        output.WriteLine($"final loss {loss:F4}, train accuracy {correct}/{n}");
        Assert.Equal(n, correct);
        Assert.True(loss < 0.1f, $"loss {loss}");
    }
}
