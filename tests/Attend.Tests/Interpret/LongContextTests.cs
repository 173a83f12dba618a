using Attend.Interpret;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// Attention rows on demand (<see cref="AttentionCapture.Start"/> with rows): each row recomputed alone from the fused
/// kernel's log-sum-exp equals the float64 softmax row and the materialized path's row (1e-6) at 3,000 tokens; a GPT's
/// row capture equals the rows of its full capture; the retrieval (prefix-matching) score of
/// <see cref="LongContextView"/> on weights whose answer is known; the token shift of <see cref="GptConfig.TokenShift"/>.
/// </summary>
public sealed class LongContextTests(ITestOutputHelper output)
{
    [Fact]
    public void RowsOnDemandEqualTheMaterializedSoftmaxRows()
    {
        const int H = 2, L = 3000, E = 32;
        int[] rows = [0, 1, 1234, 2047, 2999];
        var rng = new Random(7);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var (qv, kv, vv) = (R(H * L * E), R(H * L * E), R(H * L * E));
        var q = Tensor.FromArray(qv, [1, H, L, E]); var k = Tensor.FromArray(kv, [1, H, L, E]); var v = Tensor.FromArray(vv, [1, H, L, E]);
        CapturedAttention Capture(AttentionVariant variant)
        {
            using var cap = AttentionCapture.Start(rows: rows);
            F.Attention(q, k, v, new AttentionOptions { IsCausal = true, Variant = variant });
            return Assert.Single(cap.Records);
        }
        var fused = Capture(AttentionVariant.Soft);
        var math = Capture(AttentionVariant.SoftMaterialized);
        Assert.Equal((rows.Length, L), (fused.Queries, fused.Keys));
        Assert.Equal(rows, fused.QueryRows);
        double worstRef = 0, worstMath = 0;
        for (int h = 0; h < H; h++)
            for (int r = 0; r < rows.Length; r++)
            {
                int i = rows[r];
                var s = new double[i + 1];
                for (int j = 0; j <= i; j++)
                {
                    double dot = 0;
                    for (int d = 0; d < E; d++) dot += (double)qv[(h * L + i) * E + d] * kv[(h * L + j) * E + d];
                    s[j] = dot / Math.Sqrt(E);
                }
                double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
                for (int j = 0; j < L; j++)
                {
                    double want = j <= i ? Math.Exp(s[j] - max) / sum : 0;
                    long at = ((long)h * rows.Length + r) * L + j;
                    worstRef = Math.Max(worstRef, Math.Abs(fused.Weights[at] - want));
                    worstMath = Math.Max(worstMath, Math.Abs(fused.Weights[at] - math.Weights[at]));
                }
            }
        output.WriteLine($"rows at L = {L}: max |on demand − float64| = {worstRef:G3}, max |on demand − materialized| = {worstMath:G3}");
        Assert.True(worstRef <= 1e-6, $"rows differ from the float64 softmax by {worstRef:G3}");
        Assert.True(worstMath <= 1e-6, $"rows differ from the materialized path's by {worstMath:G3}");
    }

    [Fact]
    public void AGptsRowCaptureHoldsTheRowsOfItsFullCapture()
    {
        var gpt = new Gpt(new GptConfig(BlockSize: 300, VocabSize: 20, NLayer: 2, NHead: 2, NEmbd: 16, Positions: PositionKind.Rope, TokenShift: true), new Random(3));
        gpt.Eval();
        var ids = Tensor.FromArray(Enumerable.Range(0, 300).Select(i => (long)(i * 7 % 20)).ToArray(), [1, 300]);
        int[] rows = [299, 5, 150];
        using var _ = Autograd.NoGrad();
        IReadOnlyList<CapturedAttention> all, some;
        using (var cap = AttentionCapture.Start(gpt)) { gpt.Forward(ids); all = cap.Records; }
        using (var cap = AttentionCapture.Start(gpt, rows: rows)) { gpt.Forward(ids); some = cap.Records; }
        Assert.Equal(all.Select(r => r.Site), some.Select(r => r.Site));
        double worst = 0;
        for (int s = 0; s < all.Count; s++)
            for (int n = 0; n < 2; n++)
            {
                var full = all[s].Map(n);
                var part = some[s].Map(n);
                for (int r = 0; r < rows.Length; r++)
                    for (int j = 0; j < 300; j++) worst = Math.Max(worst, Math.Abs(part[r, j] - full[rows[r], j]));
            }
        Assert.True(worst <= 1e-7, $"row capture differs from the full capture by {worst:G3}");
        Assert.Empty(AttentionCaptureRowsPastTheEnd(gpt));
    }

    static IReadOnlyList<CapturedAttention> AttentionCaptureRowsPastTheEnd(Gpt gpt)
    {
        using var cap = AttentionCapture.Start(gpt, rows: [500]);                      // beyond L = 10: nothing recorded
        gpt.Forward(Tensor.FromArray(new long[10], [1, 10]));
        return cap.Records;
    }

    [Fact]
    public void TheRetrievalHeadIsTheOneOnTheTokenAfterAnEarlierCopyOfTheQuery()
    {
        // tokens: a b c a ; query at 3 (token a). Head 0 looks at position 1 (b follows the earlier a): score 0.9.
        // Head 1 looks at the query itself and at position 0: score 0.
        string[] tokens = ["a", "b", "c", "a"];
        float[] w = [0.05f, 0.9f, 0.05f, 0f, /* head 1 */ 0.5f, 0f, 0f, 0.5f];
        var rec = new CapturedAttention("h.1.attn", 2, [0, 1], 1, 1, 4, w) { QueryRows = [3] };
        var view = LongContextView.From([rec], tokens, _ => "layer 1");
        var scores = view.RetrievalScores();
        Assert.Equal((0, 0.9), (scores[0].Head, Math.Round(scores[0].Score, 6)));
        Assert.Equal((1, 0.0), (scores[1].Head, scores[1].Score));
        Assert.Equal(0, view.RetrievalHead()!.Head);
        Assert.Equal([(1, 0.9f), (0, 0.05f)], view.Rows[0][0].Top(2));
        Assert.Contains("retrieval (induction) head: layer 1 head 0", view.Summary());
        Assert.Contains("\"retrieval\":{\"label\":\"layer 1\",\"head\":0,\"score\":0.9}", new Explanation("m", "i", "o", []) { Long = view }.ToJson());
        var weak = new CapturedAttention("h.1.attn", 1, [0], 1, 1, 4, [0.6f, 0.3f, 0.1f, 0f]) { QueryRows = [3] };
        Assert.Null(LongContextView.From([weak], tokens, _ => "layer 1").RetrievalHead());     // 0.3 < 0.5: no retrieval head
    }

    [Fact]
    public void TokenShiftMixesEachPositionWithTheOneBeforeAndDecodesTheSameWithACache()
    {
        var cfg = new GptConfig(BlockSize: 32, VocabSize: 13, NLayer: 2, NHead: 2, NEmbd: 16, Positions: PositionKind.Rope, TokenShift: true);
        var shifted = new Gpt(cfg, new Random(11));
        var plain = new Gpt(cfg with { TokenShift = false }, new Random(11));
        shifted.Eval(); plain.Eval();
        var ids = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8 }, [1, 12]);
        using var _ = Autograd.NoGrad();
        // μ = 0 everywhere: x̃ = x, the plain GPT's output bit for bit
        foreach (var (name, p) in shifted.NamedParameters()) if (name.EndsWith("time_mix")) p.Span.Clear();
        Assert.Equal(plain.Forward(ids).Logits.ToArray(), shifted.Forward(ids).Logits.ToArray());
        // μ random: one token at a time through the cache (which keeps each layer's last input) = the whole sequence at once
        var rng = new Random(12);
        foreach (var (name, p) in shifted.NamedParameters())
            if (name.EndsWith("time_mix")) for (int c = 0; c < p.NumEl; c++) p.Span[c] = (float)rng.NextDouble();
        var whole = shifted.Forward(ids).Logits.ToArray();
        Assert.NotEqual(plain.Forward(ids).Logits.ToArray(), whole);
        using var cache = shifted.NewCache();
        var steps = new List<float>();
        for (int t = 0; t < 12; t++) steps.AddRange(shifted.Forward(ids.Narrow(1, t, 1), cache).ToArray());
        double worst = whole.Zip(steps, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-5, $"cached decoding differs from the whole sequence by {worst:G3}");
    }
}
