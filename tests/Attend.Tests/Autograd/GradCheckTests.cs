using Attend;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// Every differentiable op against float64-accumulated finite differences (see <see cref="GradCheck"/>), with a random
/// upstream gradient; inputs are kept away from kinks and ties. The coverage test checks that these cases reach every
/// op in <see cref="OpRegistry"/>.
/// </summary>
public class GradCheckTests(ITestOutputHelper output)
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Randn(shape, new Random(seed), requiresGrad: true);
    private static Tensor Pos(int seed, params int[] shape)   // values in [0.5, 1.5]
    {
        using var u = Tensor.Rand(shape, new Random(seed));
        var t = u.Add(0.5f).Detach(); t.RequiresGrad = true; return t;
    }
    private static Tensor AwayFromZero(int seed, params int[] shape)   // |x| ≥ 0.2
    {
        var v = Tensor.Randn(shape, new Random(seed)).ToArray().Select(x => x >= 0 ? x + 0.2f : x - 0.2f).ToArray();
        return Tensor.FromArray(v, shape, requiresGrad: true);
    }
    private static Tensor Distinct(int seed, params int[] shape)   // distinct values, gaps ≥ 0.05
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var rng = new Random(seed);
        var v = Enumerable.Range(0, n).Select(i => (i - n / 2) * 0.1f + 0.05f).OrderBy(_ => rng.Next()).ToArray();
        return Tensor.FromArray(v, shape, requiresGrad: true);
    }
    private static Tensor RopeTable(int positions, int d, bool cos) =>   // [positions, d/2] of cos or sin θ_p,i = p·10000^(−2i/d)
        Tensor.FromArray(Enumerable.Range(0, positions * d / 2).Select(j =>
        {
            double theta = j / (d / 2) * Math.Pow(10000, -2.0 * (j % (d / 2)) / d);
            return (float)(cos ? Math.Cos(theta) : Math.Sin(theta));
        }).ToArray(), new[] { positions, d / 2 });
    private static Tensor Ids(long[] v, params int[] shape) => Tensor.FromArray(v, shape);
    private static Tensor Mask(bool[] v, params int[] shape) => Tensor.FromArray(v, shape);

    public sealed record Case(string Name, Func<Tensor[], Tensor> F, Func<Tensor[]> Inputs)
    {
        public override string ToString() => Name;
    }

    public static readonly Case[] Cases =
    {
        new("add_broadcast", x => x[0] + x[1], () => new[] { R(1, 2, 3, 4), R(2, 4) }),
        new("sub_broadcast", x => x[0] - x[1], () => new[] { R(1, 2, 1, 4), R(2, 3, 1) }),
        new("mul_broadcast", x => x[0] * x[1], () => new[] { R(1, 3, 4), R(2, 3, 1) }),
        new("div_broadcast", x => x[0] / x[1], () => new[] { R(1, 3, 4), Pos(2, 4) }),
        new("pow_tensor", x => x[0].Pow(x[1]), () => new[] { Pos(1, 3, 4), R(2, 3, 4) }),
        new("pow_scalar", x => x[0].Pow(2.5f), () => new[] { Pos(1, 3, 4) }),
        new("scalar_arith", x => (2f - x[0]) * 3f + 1f - x[0] / 4f, () => new[] { R(1, 3, 4) }),
        new("rdiv", x => 2f / x[0], () => new[] { Pos(1, 3, 4) }),
        new("neg", x => -x[0], () => new[] { R(1, 5) }),
        new("exp", x => x[0].Exp(), () => new[] { R(1, 3, 4) }),
        new("log", x => x[0].Log(), () => new[] { Pos(1, 3, 4) }),
        new("sqrt", x => x[0].Sqrt(), () => new[] { Pos(1, 3, 4) }),
        new("abs", x => x[0].Abs(), () => new[] { AwayFromZero(1, 3, 4) }),
        new("tanh", x => x[0].Tanh(), () => new[] { R(1, 3, 4) }),
        new("sigmoid", x => x[0].Sigmoid(), () => new[] { R(1, 3, 4) }),
        new("relu", x => x[0].Relu(), () => new[] { AwayFromZero(1, 3, 4) }),
        new("clamp", x => x[0].Clamp(-0.5f, 0.5f), () => new[] { Distinct(1, 4, 5) }),
        new("silu", x => x[0].Silu(), () => new[] { R(1, 3, 4) }),
        new("gelu_erf", x => F.Gelu(x[0]), () => new[] { R(1, 3, 4) }),
        new("gelu_tanh", x => F.Gelu(x[0], "tanh"), () => new[] { R(1, 3, 4) }),
        new("reshape_view_flatten", x => x[0].Reshape(4, -1).View(2, 6).Flatten() * x[1], () => new[] { R(1, 3, 4), R(2, 12) }),
        new("permute_transpose_movedim", x => x[0].Permute(2, 0, 1).Transpose(0, 1).Movedim(0, 2).Contiguous() * x[1], () => new[] { R(1, 2, 3, 4), R(2, 4, 3, 2) }),
        new("narrow_select_squeeze", x => x[0].Narrow(1, 1, 2).Select(0, 1).Unsqueeze(0).Squeeze(0).Squeeze() * 2f, () => new[] { R(1, 3, 4, 2) }),
        new("expand", x => x[0].Expand(3, 4, 5) * x[1], () => new[] { R(1, 4, 1), R(2, 3, 4, 5) }),
        new("alias_clone", x => x[0].Squeeze(0).Clone() * x[0], () => new[] { R(1, 3, 4) }),
        new("sum", x => x[0].Sum(new[] { 0, 2 }, keepdim: true) * x[0].Sum(1).Unsqueeze(1) + x[0].Sum(), () => new[] { R(1, 2, 3, 4) }),
        new("mean", x => x[0].Mean(-1) + x[0].Mean(), () => new[] { R(1, 3, 4) }),
        new("max_all", x => x[0].Max() * 2f, () => new[] { Distinct(1, 3, 4) }),
        new("max_dim", x => x[0].Max(1).Values + x[0].Max(0, keepdim: true).Values.Sum(), () => new[] { Distinct(1, 3, 4) }),
        new("var", x => x[0].Var(1) + x[0].Var(new[] { 0, 1 }, keepdim: false, correction: 0), () => new[] { R(1, 3, 4) }),
        new("where", x => F.Where(Mask(new[] { true, false, true, true }, 4), x[0], x[1]), () => new[] { R(1, 3, 4), R(2, 3, 1) }),
        new("masked_fill", x => x[0].MaskedFill(Mask(new[] { true, false, false }, 3, 1), -2f) * x[0], () => new[] { R(1, 3, 4) }),
        new("tril_triu", x => x[0].Tril(-1) + x[0].Triu(1) * 2f, () => new[] { R(1, 2, 4, 5) }),
        new("gather", x => x[0].Gather(1, Ids(new long[] { 0, 2, 2, 1, 3, 0 }, 2, 3)), () => new[] { R(1, 2, 4) }),
        new("cat_stack_split", x =>
        {
            var c = F.Cat(new[] { x[0], x[1] }, 1);
            var parts = F.Split(c, new[] { 2, 3 }, 1);
            return F.Stack(new[] { parts[0], x[2] }, 0).Sum(0) + F.Chunk(c, 2, 1)[1].Narrow(1, 0, 2) * 3f;
        }, () => new[] { R(1, 3, 1), R(2, 3, 4), R(3, 3, 2) }),
        new("matmul_2d", x => x[0].Matmul(x[1]), () => new[] { R(1, 3, 4), R(2, 4, 5) }),
        new("matmul_batched_broadcast", x => x[0].Matmul(x[1]), () => new[] { R(1, 2, 1, 3, 4), R(2, 3, 4, 2) }),
        new("matmul_linear_fold", x => x[0].Matmul(x[1].T), () => new[] { R(1, 2, 3, 4), R(2, 5, 4) }),
        new("matmul_vectors", x => x[0].Matmul(x[1]) + x[1].Matmul(x[2]).Sum() + x[0].Matmul(x[0]), () => new[] { R(1, 4), R(2, 4, 3), R(3, 3) }),
        new("scaled_dot_product_attention", x => F.ScaledDotProductAttention(x[0], x[1], x[2], isCausal: true),
            () => new[] { R(1, 1, 2, 5, 4), R(2, 1, 2, 6, 4), R(3, 1, 2, 6, 3) }),
        new("scaled_dot_product_attention_unbatched", x => F.ScaledDotProductAttention(x[0], x[1], x[2], isCausal: true),
            () => new[] { R(1, 2, 5, 4), R(2, 2, 6, 4), R(3, 2, 6, 3) }),
        new("rotary_embedding_half_strided", x => F.RotaryEmbedding(x[0].Transpose(1, 2), RopeTable(8, 6, cos: true), RopeTable(8, 6, cos: false), offset: 2),
            () => new[] { R(1, 2, 3, 2, 6) }),
        new("rotary_embedding_interleaved", x => F.RotaryEmbedding(x[0], RopeTable(8, 6, cos: true), RopeTable(8, 6, cos: false), offset: 1, interleaved: true),
            () => new[] { R(1, 2, 2, 4, 6) }),
        new("linear", x => F.Linear(x[0], x[1], x[2]), () => new[] { R(1, 2, 3, 4), R(2, 5, 4), R(3, 5) }),
        new("rms_norm", x => F.RmsNorm(x[0], new[] { 4 }, x[1], 1e-5f), () => new[] { R(1, 3, 4), R(2, 4) }),
        new("softmax", x => F.Softmax(x[0], -1) + F.Softmax(x[0], 0), () => new[] { R(1, 3, 4) }),
        new("log_softmax", x => F.LogSoftmax(x[0], 1), () => new[] { R(1, 2, 3, 4) }),
        new("layer_norm", x => F.LayerNorm(x[0], new[] { 4 }, x[1], x[2]), () => new[] { R(1, 3, 4), R(2, 4), R(3, 4) }),
        new("layer_norm_2d_noaffine", x => F.LayerNorm(x[0], new[] { 3, 4 }), () => new[] { R(1, 2, 3, 4) }),
        new("cross_entropy_smoothing_weight_ignore", x => F.CrossEntropy(x[0], Ids(new long[] { 1, -100, 0, 4, 2 }, 5), x[1], labelSmoothing: 0.1f),
            () => new[] { R(1, 5, 5), Tensor.Rand(new[] { 5 }, new Random(2)).Add(0.5f) }),
        new("cross_entropy_kdim_none", x => F.CrossEntropy(x[0], Ids(new long[] { 1, 0, 2, 2, 1, 0 }, 2, 3), reduction: Reduction.None), () => new[] { R(1, 2, 3, 3) }),
        new("cross_entropy_probs", x => F.CrossEntropy(x[0], F.Softmax(x[1], -1), labelSmoothing: 0.2f), () => new[] { R(1, 4, 5), R(2, 4, 5) }),
        new("nll_loss_sum", x => F.NllLoss(F.LogSoftmax(x[0], -1), Ids(new long[] { 2, 0, 1 }, 3), reduction: Reduction.Sum), () => new[] { R(1, 3, 4) }),
        new("ctc_loss_mean_repeats", x => F.CtcLoss(F.LogSoftmax(x[0], -1), Ids(new long[] { 1, 1, 2, 3, 2, 0 }, 2, 3), [5, 4], [3, 2]),
            () => new[] { R(1, 5, 2, 4) }),
        new("ctc_loss_none_short_input", x => F.CtcLoss(x[0].Mul(0.5f), Ids(new long[] { 2, 1, 1, 3 }, 2, 2), [3, 4], [2, 2], reduction: Reduction.None),
            () => new[] { R(1, 4, 2, 4) }),
        new("embedding", x => F.Embedding(Ids(new long[] { 0, 2, 2, 1, 3, 0 }, 2, 3), x[0]), () => new[] { R(1, 4, 3) }),
        new("dropout", x => F.Dropout(x[0], 0.3f, training: true, rng: new Random(7)), () => new[] { R(1, 4, 5) }),
        new("sparsemax", x => F.Sparsemax(x[0], -1) + F.Sparsemax(x[0], 0), () => new[] { R(3, 4, 5) }),   // Gaussian: no support boundary near a grid point
        new("entmax15", x => F.Entmax15(x[0], 1), () => new[] { Distinct(4, 2, 6, 3) }),
        new("attention_sparsemax_causal", x => F.Attention(x[0], x[1], x[2], new AttentionOptions { IsCausal = true, Variant = AttentionVariant.Sparsemax }).Output,
            () => new[] { Distinct(5, 1, 2, 4, 3), Distinct(6, 1, 2, 5, 3), R(7, 1, 2, 5, 2) }),
        new("attention_entmax15_mask_alibi", x => F.Attention(x[0], x[1], x[2], new AttentionOptions
            {
                Mask = Mask(new[] { true, true, false, true, false, true, true, true, true, false, true, true }, 3, 4),
                AlibiSlopes = new[] { 0.5f, 0.25f }, Variant = AttentionVariant.Entmax15,
            }).Output, () => new[] { Distinct(8, 1, 2, 3, 3), Distinct(9, 1, 2, 4, 3), R(10, 1, 2, 4, 2) }),
        new("reinforce_attention_and_loss", x =>
        {
            var rl = new ReinforceAttention(entropyBonus: 0.3f);
            Tensor o;
            using (rl.Collect())
                o = F.Attention(x[0], x[1], x[2], new AttentionOptions { Variant = AttentionVariant.Reinforce, VariantSeed = 3 }).Output;   // (2, 1, 3, 2)
            return o.Sum() + rl.Loss(Tensor.FromArray(new[] { 0.7f, -1.3f }, new[] { 2 }));
        }, () => new[] { R(11, 2, 1, 3, 4), R(12, 2, 1, 5, 4), R(13, 2, 1, 5, 2) }),
    };

    public static IEnumerable<object[]> CaseNames => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void AnalyticGradientMatchesFiniteDifferences(string name)
    {
        var c = Cases.Single(k => k.Name == name);
        var r = GradCheck.Check(c.F, c.Inputs());
        output.WriteLine(r.Report);
        Assert.True(r.Passed, r.Report);
        Assert.True(r.Checked > 0);
    }

    [Fact]
    public void CasesCoverEveryDifferentiableOp()
    {
        var seen = new HashSet<string>();
        foreach (var c in Cases)
        {
            var inputs = c.Inputs();
            var y = c.F(inputs);
            var stack = new Stack<Tensor>(); stack.Push(y);
            var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            while (stack.Count > 0)
            {
                var t = stack.Pop();
                if (!visited.Add(t) || t.GradFn is null) continue;
                seen.Add(t.GradFn.Op);
                foreach (var x in t.GradFn.Inputs) if (x is not null) stack.Push(x);
            }
        }
        var missing = OpRegistry.Differentiable.Except(seen).ToArray();
        output.WriteLine($"gradcheck covers {OpRegistry.Differentiable.Count - missing.Length}/{OpRegistry.Differentiable.Count} differentiable ops");
        Assert.True(missing.Length == 0, "ops without a gradcheck: " + string.Join(", ", missing));
    }
}
