using Attend;
using Attend.Kernels.Reference;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// The attention variants (<see cref="AttentionVariant"/>): sparsemax / entmax-1.5 against float64 references that find
/// τ by bisection (a different algorithm from the kernels' sort), their Jacobians against float64 finite differences of
/// those references, the properties the issue lists, the materialized path's modifiers against
/// <see cref="AttentionReference"/>, and REINFORCE's estimator against the known expected gradient.
/// </summary>
public class AttentionVariantTests(ITestOutputHelper output)
{
    // ---- float64 references -------------------------------------------------------------------------------------

    /// <summary>τ with Σ_j f(z_j − τ) = 1 for an increasing f with f(≤0) = 0, by bisection; −∞ entries ignored.</summary>
    private static double[] Threshold(double[] z, Func<double, double> f)
    {
        var fin = z.Where(double.IsFinite).ToArray();
        if (fin.Length == 0) return new double[z.Length];
        double lo = fin.Max() - 1 - 10, hi = fin.Max();
        for (int it = 0; it < 200; it++)
        {
            double mid = (lo + hi) / 2, s = fin.Sum(x => f(x - mid));
            if (s > 1) lo = mid; else hi = mid;
        }
        double tau = (lo + hi) / 2;
        return z.Select(x => double.IsFinite(x) ? f(x - tau) : 0).ToArray();
    }
    private static double[] SparsemaxRef(double[] x) => Threshold(x, d => Math.Max(d, 0));
    private static double[] Entmax15Ref(double[] x) => Threshold(x.Select(v => v / 2).ToArray(), d => d > 0 ? d * d : 0);
    private static double[] SoftmaxRef(double[] x)
    {
        double m = x.Max();
        if (double.IsNegativeInfinity(m)) return new double[x.Length];
        var e = x.Select(v => Math.Exp(v - m)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static float[] Rand(Random r, int n, double mag = 1) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * mag)).ToArray();

    private void AssertClose(string what, float[] got, double[] want, double atol)
    {
        Assert.Equal(want.Length, got.Length);
        double worst = 0; int at = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double e = got[i] == want[i] ? 0 : Math.Abs(got[i] - want[i]);       // equal infinities are exact
            if (double.IsNaN(e) || e > worst) { worst = double.IsNaN(e) ? double.PositiveInfinity : e; at = i; }
        }
        output.WriteLine($"{what}: max abs error {worst:G3}");
        Assert.True(worst <= atol, $"{what}: element {at} is {got[at]}, expected {want[at]} (error {worst:G3} > {atol})");
    }

    // ---- the variant type ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData("soft", "soft")]
    [InlineData("Sparsemax", "sparsemax")]
    [InlineData("entmax15", "entmax15")]
    [InlineData("topk:3", "topk:3")]
    [InlineData("hard", "hard")]
    [InlineData("gumbel:0.5", "gumbel:0.5")]
    [InlineData("reinforce", "reinforce")]
    public void VariantParsesAndPrintsBack(string text, string printed)
    {
        var v = AttentionVariant.Parse(text);
        Assert.Equal(printed, v.ToString());
        Assert.Equal(v, AttentionVariant.Parse(v.ToString()));
    }

    [Theory]
    [InlineData("softer", "unknown attention variant 'softer'")]
    [InlineData("topk:0", "k must be ≥ 1, got 0")]
    [InlineData("topk:-2", "k must be ≥ 1, got -2")]
    [InlineData("topk", "topk needs an integer K")]
    [InlineData("gumbel:0", "temperature must be > 0 and finite, got 0")]
    [InlineData("gumbel:-1", "temperature must be > 0 and finite, got -1")]
    [InlineData("gumbel:x", "gumbel needs a temperature")]
    [InlineData("hard:2", "only topk and gumbel take an argument")]
    public void BadVariantsGiveClearErrors(string text, string message)
    {
        var e = Assert.ThrowsAny<Exception>(() => AttentionVariant.Parse(text));
        Assert.Contains(message, e.Message);
    }

    // ---- sparsemax and entmax-1.5 -------------------------------------------------------------------------------

    [Theory]
    [InlineData("sparsemax")]
    [InlineData("entmax15")]
    public void SparseNormalizersMatchBisectionReference(string which)
    {
        var rng = new Random(3);
        int rows = 40, n = 9;
        var x = Rand(rng, rows * n, 3);
        for (int r = 0; r < rows; r += 4) x[r * n + r % n] = float.NegativeInfinity;        // masked entries
        for (int j = 0; j < n; j++) x[5 * n + j] = float.NegativeInfinity;                  // a fully masked row
        var t = Tensor.FromArray(x, new[] { rows, n }, requiresGrad: true);
        var y = which == "sparsemax" ? F.Sparsemax(t) : F.Entmax15(t);
        var g = Rand(rng, rows * n);
        y.Backward(Tensor.FromArray(g, new[] { rows, n }));
        var want = new double[rows * n]; var wantGrad = new double[rows * n];
        Func<double[], double[]> f = which == "sparsemax" ? SparsemaxRef : Entmax15Ref;
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Skip(r * n).Take(n).Select(v => (double)v).ToArray();
            f(xr).CopyTo(want, r * n);
            for (int j = 0; j < n; j++)                                                  // float64 central differences of the reference
            {
                if (!double.IsFinite(xr[j])) continue;
                const double h = 1e-6;
                var up = (double[])xr.Clone(); up[j] += h; var dn = (double[])xr.Clone(); dn[j] -= h;
                var fu = f(up); var fd = f(dn);
                wantGrad[r * n + j] = Enumerable.Range(0, n).Sum(i => g[r * n + i] * (fu[i] - fd[i]) / (2 * h));
            }
        }
        AssertClose($"{which} forward", y.ToArray(), want, 1e-6);
        AssertClose($"{which} backward", t.Grad!.ToArray(), wantGrad, 1e-4);
        var yv = y.ToArray();
        int zeros = yv.Count(v => v == 0f) - n - rows / 4 * 1;
        output.WriteLine($"{which}: {zeros} exact zeros among the unmasked entries");
        Assert.True(zeros > rows, $"{which} should give exact zeros, got {zeros}");
    }

    [Fact]
    public void SparsemaxAlongAnInnerDimMatchesTheLastDim()
    {
        var x = Tensor.FromArray(Rand(new Random(4), 2 * 5 * 3, 2), new[] { 2, 5, 3 });
        var inner = F.Sparsemax(x, 1).ToArray();
        var last = F.Sparsemax(x.Transpose(1, 2).Contiguous(), -1).Transpose(1, 2).Contiguous().ToArray();
        Assert.Equal(last, inner);
    }

    // ---- properties ---------------------------------------------------------------------------------------------

    public static IEnumerable<object[]> AllVariants => new[] { "soft", "sparsemax", "entmax15", "topk:2", "hard", "gumbel:0.7", "reinforce" }.Select(v => new object[] { v });

    /// <summary>Every variant through <see cref="F.Attention"/>: weights are non-negative, rows sum to 1 over the unmasked keys,
    /// masked keys get exactly 0, a fully masked query gets weights 0 and output 0, and Output = Weights·V.</summary>
    [Theory]
    [MemberData(nameof(AllVariants))]
    public void RowsSumToOneOverUnmaskedKeys(string variant)
    {
        var rng = new Random(11);
        int B = 2, H = 2, L = 5, S = 7, E = 4;
        var q = Tensor.FromArray(Rand(rng, B * H * L * E, 2), new[] { B, H, L, E });
        var k = Tensor.FromArray(Rand(rng, B * H * S * E, 2), new[] { B, H, S, E });
        var v = Tensor.FromArray(Rand(rng, B * H * S * E), new[] { B, H, S, E });
        var allowed = Enumerable.Range(0, L * S).Select(i => i / S != 3 && rng.NextDouble() < 0.7).ToArray();   // query 3 sees nothing
        var r = F.Attention(q, k, v, new AttentionOptions
        {
            Mask = Tensor.FromArray(allowed, new[] { L, S }), Variant = AttentionVariant.Parse(variant), VariantSeed = 5,
            WeightsForHeads = new[] { 0, 1 },
        });
        var w = r.Weights!.ToArray();
        for (int row = 0; row < B * H * L; row++)
        {
            int i = row % L;
            double sum = 0;
            for (int j = 0; j < S; j++)
            {
                float p = w[row * S + j];
                Assert.True(p >= 0, $"{variant}: negative weight {p}");
                if (!allowed[i * S + j]) Assert.Equal(0f, p);
                sum += p;
            }
            Assert.Equal(i == 3 ? 0.0 : 1.0, sum, 5);
        }
        var o = r.Output.ToArray();
        Assert.All(Enumerable.Range(0, B * H).SelectMany(bh => Enumerable.Range(0, E).Select(x => o[(bh * L + 3) * E + x])), x => Assert.Equal(0f, x));
        AssertClose($"{variant}: output = weights·V", o, r.Weights!.Matmul(v).ToArray().Select(x => (double)x).ToArray(), 1e-5);
    }

    [Fact]
    public void TopKWithKAtLeastSEqualsSoftmax()
    {
        var rng = new Random(12);
        var x = Tensor.FromArray(Rand(rng, 6 * 8, 3), new[] { 6, 8 });
        Assert.Equal(F.Softmax(x, -1).ToArray(), F.TopKSoftmax(x, 8).ToArray());
        Assert.Equal(F.Softmax(x, -1).ToArray(), F.TopKSoftmax(x, 50).ToArray());
        // k < S: exactly k non-zeros, softmax over the k largest.
        var y = F.TopKSoftmax(x, 3).ToArray(); var xv = x.ToArray();
        for (int r = 0; r < 6; r++)
        {
            var row = xv.Skip(r * 8).Take(8).Select(v => (double)v).ToArray();
            var kth = row.OrderByDescending(v => v).ElementAt(2);
            var want = SoftmaxRef(row.Select(v => v >= kth ? v : double.NegativeInfinity).ToArray());
            AssertClose("topk:3 row", y.Skip(r * 8).Take(8).ToArray(), want, 1e-6);
            Assert.Equal(3, y.Skip(r * 8).Take(8).Count(v => v != 0));
        }
    }

    /// <summary>(With seed 1, row 0's two best perturbed scores are 8e-4 apart: at τ = 0.01 that row is still 0.47/0.51.)</summary>
    [Fact]
    public void GumbelAtLowTemperatureBecomesOneHot()
    {
        var x = Tensor.FromArray(Rand(new Random(13), 20 * 6, 1), new[] { 20, 6 });
        var soft = F.GumbelSoftmax(x, tau: 1e-4f, hard: false, rng: new Random(1)).ToArray();
        var warm = F.GumbelSoftmax(x, tau: 5f, hard: false, rng: new Random(1)).ToArray();
        for (int r = 0; r < 20; r++)
        {
            Assert.True(soft.Skip(r * 6).Take(6).Max() > 0.99f, $"row {r}: τ = 1e-4 should be one-hot, max {soft.Skip(r * 6).Take(6).Max()}");
            Assert.True(warm.Skip(r * 6).Take(6).Max() < 0.9f, $"row {r}: τ = 5 should be spread, max {warm.Skip(r * 6).Take(6).Max()}");
        }
        var hard = F.GumbelSoftmax(x, tau: 1f, hard: true, rng: new Random(1)).ToArray();
        Assert.All(hard, v => Assert.True(v == 0f || v == 1f));
        Assert.Equal(hard, F.GumbelSoftmax(x, tau: 1f, hard: true, rng: new Random(1)).ToArray());   // seeded
    }

    /// <summary>The Gumbel-max trick: argmax(s + g) is distributed as softmax(s); frequencies within 4 standard errors.</summary>
    [Fact]
    public void GumbelArgmaxSamplesTheSoftmax()
    {
        var s = new[] { 1.0f, 0.0f, -0.5f, 0.7f };
        int N = 4000;
        var x = Tensor.FromArray(Enumerable.Range(0, N).SelectMany(_ => s).ToArray(), new[] { N, 4 });
        var hard = F.GumbelSoftmax(x, tau: 1f, hard: true, rng: new Random(2)).ToArray();
        var p = SoftmaxRef(s.Select(v => (double)v).ToArray());
        for (int j = 0; j < 4; j++)
        {
            double f = Enumerable.Range(0, N).Count(r => hard[r * 4 + j] == 1f) / (double)N;
            double se = Math.Sqrt(p[j] * (1 - p[j]) / N);
            output.WriteLine($"position {j}: frequency {f:F4}, softmax {p[j]:F4}, {Math.Abs(f - p[j]) / se:F2} SE");
            Assert.True(Math.Abs(f - p[j]) < 4 * se);
        }
    }

    /// <summary>Hard attention: the forward is exactly one-hot, the gradient is softmax's (straight-through).</summary>
    [Fact]
    public void HardArgmaxIsOneHotWithTheSoftmaxGradient()
    {
        var rng = new Random(14);
        var xv = Rand(rng, 5 * 6, 2); var g = Rand(rng, 5 * 6);
        var a = Tensor.FromArray(xv, new[] { 5, 6 }, requiresGrad: true);
        var y = F.HardArgmax(a, -1, temperature: 0.5f);
        y.Backward(Tensor.FromArray(g, new[] { 5, 6 }));
        var want = new double[30]; var wantGrad = new double[30];
        for (int r = 0; r < 5; r++)
        {
            var row = xv.Skip(r * 6).Take(6).Select(v => (double)v).ToArray();
            int arg = Array.IndexOf(row, row.Max());
            want[r * 6 + arg] = 1;
            var p = SoftmaxRef(row.Select(v => v / 0.5).ToArray());
            double dot = Enumerable.Range(0, 6).Sum(j => p[j] * g[r * 6 + j]);
            for (int j = 0; j < 6; j++) wantGrad[r * 6 + j] = p[j] * (g[r * 6 + j] - dot) / 0.5;
        }
        Assert.Equal(want.Select(v => (float)v).ToArray(), y.ToArray());
        AssertClose("straight-through gradient", a.Grad!.ToArray(), wantGrad, 1e-6);
    }

    // ---- the materialized path: same modifiers, same masks --------------------------------------------------------

    /// <summary>sparsemax attention with every modifier (GQA, bool mask with an empty row, bottom-right causal band with a
    /// window, ALiBi, softcap, a scale) against float64: the scores from <see cref="AttentionReference"/>'s own formulas,
    /// then bisection sparsemax; output and input gradients (the latter by float64 finite differences).</summary>
    [Theory]
    [InlineData("sparsemax")]
    [InlineData("entmax15")]
    [InlineData("topk:100")]   // k ≥ S: softmax, so AttentionReference's own P and gradients apply
    public void MaterializedPathAppliesTheFusedModifiers(string variant)
    {
        var rng = new Random(21);
        int B = 1, H = 4, Hkv = 2, L = 5, S = 7, E = 3, Ev = 2;
        var qv = Rand(rng, B * H * L * E, 1.5); var kv = Rand(rng, B * Hkv * S * E, 1.5); var vv = Rand(rng, B * Hkv * S * Ev);
        var allowed = Enumerable.Range(0, L * S).Select(i => i / S != 2 && rng.NextDouble() < 0.85).ToArray();
        var slopes = new[] { 0.5f, 0.25f, 0.125f, 0.0625f };
        var opt = new AttentionOptions
        {
            Mask = Tensor.FromArray(allowed, new[] { L, S }), IsCausal = true, Alignment = CausalAlignment.BottomRight,
            WindowLeft = 3, AlibiSlopes = slopes, Softcap = 2.5f, Scale = 0.8f, EnableGqa = true,
            Variant = AttentionVariant.Parse(variant), WeightsForHeads = Enumerable.Range(0, H).ToArray(),
        };
        double[] D(float[] a) => a.Select(x => (double)x).ToArray();
        AttentionReference.Problem P(double[] q, double[] k, double[] v) => new(B, H, Hkv, L, S, E, Ev, q, k, v,
            BoolMask: Enumerable.Range(0, B * H * L * S).Select(i => allowed[i % (L * S)]).ToArray(), Causal: true, BottomRight: true,
            WindowLeft: 3, Alibi: D(slopes), Softcap: 2.5, Scale: 0.8);
        // Reference: the scores are log P of the softmax reference plus its LSE (the reference's modifiers, in float64).
        Func<double[], double[]> norm = variant switch { "sparsemax" => SparsemaxRef, "entmax15" => Entmax15Ref, _ => SoftmaxRef };
        double[] RefOut(double[] q, double[] k, double[] v)
        {
            var rr = AttentionReference.Run(P(q, k, v));
            var o = new double[B * H * L * Ev];
            for (int row = 0; row < B * H * L; row++)
            {
                if (double.IsNegativeInfinity(rr.Lse[row])) continue;
                var s = Enumerable.Range(0, S).Select(j => Math.Log(rr.P[row * S + j]) + rr.Lse[row]).ToArray();
                var p = norm(s);
                int hk = row / L % H / (H / Hkv);
                for (int j = 0; j < S; j++)
                    for (int x = 0; x < Ev; x++) o[row * Ev + x] += p[j] * v[(hk * S + j) * Ev + x];
            }
            return o;
        }
        var q = Tensor.FromArray(qv, new[] { B, H, L, E }, requiresGrad: true);
        var k = Tensor.FromArray(kv, new[] { B, Hkv, S, E }, requiresGrad: true);
        var v = Tensor.FromArray(vv, new[] { B, Hkv, S, Ev }, requiresGrad: true);
        var r = F.Attention(q, k, v, opt);
        var g = Rand(rng, B * H * L * Ev);
        r.Output.Backward(Tensor.FromArray(g, new[] { B, H, L, Ev }));
        AssertClose($"{variant} output", r.Output.ToArray(), RefOut(D(qv), D(kv), D(vv)), 2e-5);
        // Gradients: float64 central differences of Σ g∘O_ref.
        foreach (var (leaf, vals, name) in new[] { (q, qv, "q"), (k, kv, "k"), (v, vv, "v") })
        {
            var want = new double[vals.Length];
            for (int i = 0; i < vals.Length; i++)
            {
                const double h = 1e-6;
                double Lf(double d)
                {
                    var a = new[] { D(qv), D(kv), D(vv) };
                    int which = name == "q" ? 0 : name == "k" ? 1 : 2;
                    a[which][i] += d;
                    var o = RefOut(a[0], a[1], a[2]);
                    return o.Select((x, t) => x * g[t]).Sum();
                }
                want[i] = (Lf(h) - Lf(-h)) / (2 * h);
            }
            AssertClose($"{variant} grad {name}", leaf.Grad!.ToArray(), want, 2e-4);
        }
        if (variant == "topk:100")
        {
            var rr = AttentionReference.Run(P(D(qv), D(kv), D(vv)));
            AssertClose("weights = reference P", r.Weights!.ToArray(), rr.P, 1e-6);
            AssertClose("lse", r.Lse.ToArray(), rr.Lse, 1e-5);
        }
    }

    [Fact]
    public void SdpaTakesTheVariantAndSoftStaysOnTheFusedKernel()
    {
        var rng = new Random(22);
        var q = Tensor.FromArray(Rand(rng, 2 * 6 * 4), new[] { 2, 6, 4 });
        var k = Tensor.FromArray(Rand(rng, 2 * 6 * 4), new[] { 2, 6, 4 });
        var v = Tensor.FromArray(Rand(rng, 2 * 6 * 4), new[] { 2, 6, 4 });
        var soft = F.ScaledDotProductAttention(q, k, v, isCausal: true).ToArray();
        Assert.Equal(soft, F.ScaledDotProductAttention(q, k, v, isCausal: true, variant: AttentionVariant.Soft).ToArray());
        var viaTopK = F.ScaledDotProductAttention(q, k, v, isCausal: true, variant: AttentionVariant.TopK(6)).ToArray();
        AssertClose("unbatched topk:S = soft", viaTopK, soft.Select(x => (double)x).ToArray(), 1e-6);
        var sparse = F.ScaledDotProductAttention(q, k, v, isCausal: true, variant: AttentionVariant.Sparsemax);
        Assert.Equal(new[] { 2, 6, 4 }, sparse.Shape);
    }

    // ---- REINFORCE ----------------------------------------------------------------------------------------------

    /// <summary>
    /// A single query over n keys with scores s (q = 1, E = 1, scale 1, so s_j = k_j) and value rows that are one-hot, so
    /// the output is the sampled position; reward r_j per position. J(s) = E_{j~softmax(s)} r_j has gradient
    /// p∘(r − r̄); the REINFORCE estimate of −∇J (from Loss, no entropy bonus) must have that mean within 3 standard
    /// errors, for every key, over 3,000 independent steps (baseline moving as in training).
    /// </summary>
    [Fact]
    public void ReinforceEstimatorIsUnbiased()
    {
        var s = new[] { 0.3f, -0.4f, 1.1f, 0.0f, -1.0f };
        var reward = new[] { 1.0, -0.5, 0.25, 2.0, 0.0 };
        int n = s.Length, N = 3000;
        var p = SoftmaxRef(s.Select(x => (double)x).ToArray());
        double rbar = Enumerable.Range(0, n).Sum(j => p[j] * reward[j]);
        var expected = Enumerable.Range(0, n).Select(j => -p[j] * (reward[j] - rbar)).ToArray();    // ∇ of the loss −J
        var rl = new ReinforceAttention(baselineMomentum: 0.9f, entropyBonus: 0f);
        var values = Tensor.FromArray(Enumerable.Range(0, n * n).Select(i => i / n == i % n ? 1f : 0f).ToArray(), new[] { 1, 1, n, n });
        var sum = new double[n]; var sumSq = new double[n];
        var gen = new Random(31);
        for (int step = 0; step < N; step++)
        {
            using var scope = Tensor.NewScope();
            var q = Tensor.FromArray(new[] { 1f }, new[] { 1, 1, 1, 1 });
            var k = Tensor.FromArray(s, new[] { 1, 1, n, 1 }, requiresGrad: true);
            Tensor o;
            using (rl.Collect())
                o = F.Attention(q, k, values, new AttentionOptions { Scale = 1f, Variant = AttentionVariant.Reinforce, VariantSeed = (ulong)gen.NextInt64() }).Output;
            var onehot = o.ToArray();                                                        // (1, 1, 1, n)
            double r = Enumerable.Range(0, n).Sum(j => onehot[j] * reward[j]);
            var loss = rl.Loss(Tensor.FromArray(new[] { (float)r }, new[] { 1 })) + o.Sum().Mul(0f);
            loss.Backward();
            var gk = k.Grad!.ToArray();
            for (int j = 0; j < n; j++) { sum[j] += gk[j]; sumSq[j] += gk[j] * gk[j]; }
        }
        for (int j = 0; j < n; j++)
        {
            double mean = sum[j] / N, se = Math.Sqrt((sumSq[j] / N - mean * mean) / N);
            output.WriteLine($"key {j}: estimate {mean:F4} ± {se:F4}, expected {expected[j]:F4} ({Math.Abs(mean - expected[j]) / se:F2} SE)");
            Assert.True(Math.Abs(mean - expected[j]) <= 3 * se, $"key {j}: mean {mean} is {Math.Abs(mean - expected[j]) / se:F1} SE from {expected[j]}");
        }
        Assert.InRange(rl.Baseline, 0.2, 1.6);    // tracks the mean reward r̄
        output.WriteLine($"baseline {rl.Baseline:F3}, mean reward {rbar:F3}");
    }

    [Fact]
    public void ReinforceWithoutARewardGivesClearErrors()
    {
        var rng = new Random(32);
        Tensor T(params int[] sh) => Tensor.FromArray(Rand(rng, sh.Aggregate(1, (a, b) => a * b)), sh, requiresGrad: true);
        var opt = new AttentionOptions { Variant = AttentionVariant.Reinforce, VariantSeed = 1 };
        // Outside Collect(): nothing can reward the samples.
        var o1 = F.Attention(T(2, 1, 3, 4), T(2, 1, 5, 4), T(2, 1, 5, 4), opt).Output;
        var e1 = Assert.Throws<InvalidOperationException>(() => o1.Sum().Backward());
        Assert.Contains("backward without a reward", e1.Message);
        // Collected but Loss never called.
        var rl = new ReinforceAttention();
        Tensor o2;
        using (rl.Collect()) o2 = F.Attention(T(2, 1, 3, 4), T(2, 1, 5, 4), T(2, 1, 5, 4), opt).Output;
        var e2 = Assert.Throws<InvalidOperationException>(() => o2.Sum().Backward());
        Assert.Contains("call ReinforceAttention.Loss(reward)", e2.Message);
        Assert.Contains("reward has 3 entries but the attention ran on batch 2", Assert.Throws<ArgumentException>(() => rl.Loss(Tensor.Zeros(3))).Message);
        Assert.Contains("float32 vector [B]", Assert.Throws<ArgumentException>(() => rl.Loss(Tensor.Zeros(2, 1))).Message);
        Assert.Throws<ArgumentNullException>(() => rl.Loss(null!));
        rl.Loss(Tensor.Zeros(2));
        Assert.Contains("no reinforce attention was recorded", Assert.Throws<InvalidOperationException>(() => rl.Loss(Tensor.Zeros(2))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReinforceAttention(baselineMomentum: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReinforceAttention(entropyBonus: -0.1f));
    }

    [Fact]
    public void StochasticVariantsAreReproducibleFromTheirSeed()
    {
        var rng = new Random(33);
        Tensor T(params int[] sh) => Tensor.FromArray(Rand(rng, sh.Aggregate(1, (a, b) => a * b)), sh);
        var (q, k, v) = (T(2, 2, 6, 4), T(2, 2, 8, 4), T(2, 2, 8, 4));
        foreach (var variant in new[] { AttentionVariant.Gumbel(0.5f), AttentionVariant.Reinforce })
        {
            float[] Run(ulong? seed) => F.Attention(q, k, v, new AttentionOptions { Variant = variant, VariantSeed = seed, WeightsForHeads = new[] { 0, 1 } }).Weights!.ToArray();
            Assert.Equal(Run(7), Run(7));
            Assert.NotEqual(Run(7), Run(8));
            // Without a seed (evaluation): the argmax of the scores, as hard attention.
            var hard = F.Attention(q, k, v, new AttentionOptions { Variant = AttentionVariant.Hard, WeightsForHeads = new[] { 0, 1 } }).Weights!.ToArray();
            Assert.Equal(hard, Run(null));
        }
    }
}
