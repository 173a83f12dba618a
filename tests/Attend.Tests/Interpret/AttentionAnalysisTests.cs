using System.Text.Json;
using Attend.Interpret;
using Xunit;

namespace Attend.Tests;

/// <summary>Rollout, flow, entropy and top keys against hand formulas in float64; the explanation's JSON and HTML.</summary>
public sealed class AttentionAnalysisTests
{
    static float[,] RandomRows(Random rng, int n, double zeroProb = 0)
    {
        var m = new float[n, n];
        for (int i = 0; i < n; i++)
        {
            var row = Enumerable.Range(0, n).Select(_ => rng.NextDouble() < zeroProb ? 0 : rng.NextDouble() + 0.01).ToArray();
            double s = row.Sum();
            for (int j = 0; j < n; j++) m[i, j] = s > 0 ? (float)(row[j] / s) : 0f;   // an all-zero row: a fully masked query
        }
        return m;
    }

    static double[,] Graph(IReadOnlyList<float[,]> heads)
    {
        // ½·mean + ½·I, rows renormalized — written out independently of AttentionAnalysis.WithResidual
        int n = heads[0].GetLength(0);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) a[i, j] = 0.5 * heads.Average(h => (double)h[i, j]) + (i == j ? 0.5 : 0);
            double s = Enumerable.Range(0, n).Sum(j => a[i, j]);
            for (int j = 0; j < n; j++) a[i, j] /= s;
        }
        return a;
    }

    [Fact]
    public void RolloutIsTheProductOfTheResidualGraphs()
    {
        var rng = new Random(1);
        const int n = 5;
        var layers = Enumerable.Range(0, 3).Select(_ => (IReadOnlyList<float[,]>)new[] { RandomRows(rng, n), RandomRows(rng, n, 0.5) }).ToList();
        var g = layers.Select(Graph).ToArray();
        var r = AttentionAnalysis.Rollout(layers);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double want = 0;                                            // (A3·A2·A1)[i, j]
                for (int a = 0; a < n; a++)
                    for (int b = 0; b < n; b++) want += g[2][i, a] * g[1][a, b] * g[0][b, j];
                Assert.Equal(want, r[i, j], 12);
            }
            Assert.Equal(1.0, Enumerable.Range(0, n).Sum(j => r[i, j]), 12);   // still a distribution over the input
        }
    }

    [Fact]
    public void FlowOfOneLayerIsTheEdgeAndOfTwoLayersTheSumOfPathMinima()
    {
        var rng = new Random(2);
        const int n = 4;
        var l1 = new[] { RandomRows(rng, n) }; var l2 = new[] { RandomRows(rng, n), RandomRows(rng, n) };
        var g1 = Graph(l1); var g2 = Graph(l2);
        var one = AttentionAnalysis.Flow(new IReadOnlyList<float[,]>[] { l1 });
        var two = AttentionAnalysis.Flow(new IReadOnlyList<float[,]>[] { l1, l2 });
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                Assert.Equal(g1[i, j], one[i, j], 12);
                // the paths i → k → j share no edge, so the max flow is Σ_k min(Ã₂[i, k], Ã₁[k, j])
                Assert.Equal(Enumerable.Range(0, n).Sum(k => Math.Min(g2[i, k], g1[k, j])), two[i, j], 12);
            }
        Assert.Throws<ArgumentException>(() => AttentionAnalysis.Flow(new IReadOnlyList<float[,]>[] { new[] { new float[2, 3] } }));
    }

    [Fact]
    public void EntropyAndTopKeys()
    {
        var uniform = new float[3, 4]; var onehot = new float[3, 4];
        for (int i = 0; i < 3; i++) { for (int j = 0; j < 4; j++) uniform[i, j] = 0.25f; onehot[i, i] = 1; }
        Assert.Equal(Math.Log(4), AttentionAnalysis.Entropy(uniform), 1e-6);
        Assert.Equal(0, AttentionAnalysis.Entropy(onehot), 12);
        var half = new float[2, 2] { { 0.5f, 0.5f }, { 0, 0 } };                // the masked row is left out of the mean
        Assert.Equal(Math.Log(2), AttentionAnalysis.Entropy(half), 1e-6);
        var m = new double[,] { { 0.1, 0.5, 0.1, 0.3 } };
        Assert.Equal(new[] { (1, 0.5), (3, 0.3), (0, 0.1) }, AttentionAnalysis.TopKeys(m, 0, 3));
    }

    [Fact]
    public void JsonAndHtmlCarryEveryWeight()
    {
        var rng = new Random(3);
        var maps = new[] { RandomRows(rng, 3), RandomRows(rng, 3) };
        var cross = new float[2, 3] { { 0.2f, 0.3f, 0.5f }, { 1, 0, 0 } };
        var e = new Explanation("test", "a<b", "xy", new[]
        {
            new AttentionView("enc.0", "encoder 0", "self", "encoder", new[] { "a", "<", "b" }, new[] { "a", "<", "b" }, new[] { 0, 1 }, maps),
            new AttentionView("dec.0.cross", "decoder 0 cross", "cross", "decoder", new[] { "x", "y" }, new[] { "a", "<", "b" }, new[] { 2 }, new[] { cross }),
        });
        using var doc = JsonDocument.Parse(e.ToJson());
        var views = doc.RootElement.GetProperty("views");
        Assert.Equal(2, views.GetArrayLength());
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    Assert.Equal(maps[h][i, j], views[0].GetProperty("weights")[h][i][j].GetSingle());
        Assert.Equal(0.3f, views[1].GetProperty("weights")[0][0][1].GetSingle());
        var stack = Assert.Single(doc.RootElement.GetProperty("stacks").EnumerateArray());   // the cross view makes no stack
        Assert.Equal("encoder", stack.GetProperty("stack").GetString());
        Assert.Equal(AttentionAnalysis.Rollout(new IReadOnlyList<float[,]>[] { maps })[1, 2], stack.GetProperty("rollout")[1][2].GetDouble(), 1e-6);

        var html = HtmlReport.Static(e);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));   // nothing fetched
        Assert.DoesNotContain("https://", html);
        Assert.Contains("Attend.render", html);
        Assert.DoesNotContain("a<b", html);                                  // '<' in the data is escaped inside the script
        Assert.Throws<ArgumentException>(() => AttentionView.From(new CapturedAttention("s", 1, new[] { 0 }, 1, 2, 2, new float[4]), "l", "self", "x", new[] { "a" }, new[] { "a", "b" }));
    }
}

/// <summary>The ViT adapter: a view per block over [CLS] + patches, and the [CLS] rollout over the patch grid.</summary>
public sealed class VisionTransformerExplainerTests
{
    [Fact]
    public void ViewsCoverClsAndPatchesAndTheGridIsTheClsRolloutRow()
    {
        var cfg = new Attend.Nn.VitConfig(ImageSize: 8, PatchSize: 4, Channels: 1, NumClasses: 3, Dim: 16, Depth: 2, NHead: 2);
        var vit = new Attend.Nn.VisionTransformer(cfg, new Random(1));
        var image = Tensor.Randn(new[] { 1, 8, 8 }, new Random(2));
        var e = VisionTransformerExplainer.Explain(vit, image, new[] { "a", "b", "c" });
        Assert.True(vit.Training);                                        // the mode is restored
        Assert.Equal(new[] { "block 0", "block 1" }, e.Views.Select(v => v.Label));
        Assert.Equal(new[] { "[CLS]", "r0c0", "r0c1", "r1c0", "r1c1" }, e.Views[0].Keys);
        Assert.Equal(new[] { 2, 2 }, e.PatchGrid);
        var rollout = Assert.Single(e.Stacks()).Rollout;
        var grid = VisionTransformerExplainer.ClsOverGrid(rollout, 2, 2);
        Assert.Equal(rollout[0, 4], grid[1, 1]);
        Assert.Equal(rollout[0, 2], grid[0, 1]);
        using var doc = System.Text.Json.JsonDocument.Parse(e.ToJson());
        Assert.Equal(2, doc.RootElement.GetProperty("patch_grid")[0].GetInt32());
        Assert.Matches(@"^[abc] \(\d+\.\d%\)$", e.Output);
        Assert.Throws<ArgumentException>(() => VisionTransformerExplainer.Explain(vit, Tensor.Randn(new[] { 2, 1, 8, 8 })));
    }
}
