using Attend;
using Attend.Kernels.Reference;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// The fused attention kernel against its naive float64 twin (<see cref="AttentionReference"/>): outputs, LSE,
/// weights and all gradients over a grid of shapes and options, at 1e-5 abs + 1e-4 rel.
/// </summary>
public class AttentionTests(ITestOutputHelper output)
{
    public sealed record Case(string Name, int B, int H, int Hkv, int L, int S, int E, int Ev,
        string Mask = "none", bool Causal = false, bool BottomRight = false, int? WinL = null, int? WinR = null,
        bool Alibi = false, float Softcap = 0, float? Scale = null, float Drop = 0, bool Transposed = false, float Magnitude = 1)
    {
        public override string ToString() => Name;
    }

    public static readonly Case[] Cases =
    {
        new("plain", 2, 3, 3, 17, 17, 16, 16),
        new("cross_L_lt_S", 1, 2, 2, 7, 300, 32, 32),
        new("cross_L_gt_S", 1, 2, 2, 70, 9, 32, 24),
        new("L1", 2, 2, 2, 1, 33, 16, 16),
        new("S1", 2, 2, 2, 13, 1, 16, 16),
        new("E1", 1, 2, 2, 9, 11, 1, 1),
        new("E3_Ev5", 1, 2, 2, 9, 11, 3, 5),
        new("E64_long", 1, 2, 2, 100, 520, 64, 64),
        new("E100", 1, 1, 1, 20, 40, 100, 100),
        new("E128", 1, 2, 2, 30, 30, 128, 128),
        new("E256", 1, 1, 1, 13, 21, 256, 256),
        new("scale", 1, 2, 2, 10, 12, 16, 16, Scale: 0.37f),
        new("causal_square", 1, 2, 2, 300, 300, 32, 32, Causal: true),
        new("causal_L_lt_S", 1, 2, 2, 20, 50, 16, 16, Causal: true),
        new("causal_L_gt_S_topleft", 1, 2, 2, 50, 20, 16, 16, Causal: true),
        new("causal_bottomright_L_lt_S", 1, 2, 2, 20, 50, 16, 16, Causal: true, BottomRight: true),
        new("causal_bottomright_L_gt_S", 1, 2, 2, 50, 20, 16, 16, Causal: true, BottomRight: true),
        new("bool_mask_LS", 2, 2, 2, 15, 19, 16, 16, Mask: "bool_LS"),
        new("bool_mask_keypadding", 2, 2, 2, 15, 19, 16, 16, Mask: "bool_B11S"),
        new("bool_mask_fully_masked_rows", 1, 2, 2, 15, 19, 16, 16, Mask: "bool_rows"),
        new("float_mask_full", 2, 2, 2, 15, 19, 16, 16, Mask: "float_BHLS"),
        new("float_mask_grad", 1, 2, 2, 15, 19, 16, 16, Mask: "float_LS_grad"),
        new("gqa_4_2", 2, 4, 2, 17, 23, 16, 16),
        new("gqa_4_1_causal", 1, 4, 1, 40, 40, 16, 16, Causal: true),
        new("window_causal", 1, 2, 2, 40, 40, 16, 16, Causal: true, WinL: 3),
        new("window_both", 1, 2, 2, 40, 40, 16, 16, WinL: 2, WinR: 2),
        new("alibi_causal", 1, 4, 4, 30, 30, 16, 16, Causal: true, Alibi: true),
        new("softcap", 1, 2, 2, 20, 20, 16, 16, Softcap: 5f, Magnitude: 3f),
        new("dropout", 1, 2, 2, 20, 30, 16, 16, Drop: 0.3f),
        new("non_contiguous", 2, 3, 3, 19, 19, 32, 32, Transposed: true),
        new("non_contiguous_gqa_causal", 2, 4, 2, 33, 33, 16, 16, Causal: true, Transposed: true),
        new("large_magnitude", 1, 2, 2, 20, 20, 16, 16, Magnitude: 25f),
        new("everything", 2, 4, 2, 25, 31, 16, 16, Mask: "bool_LS", BottomRight: true, WinL: 6, WinR: 1, Alibi: true, Softcap: 4f, Transposed: true),
    };

    public static IEnumerable<object[]> CaseNames => Cases.Select(c => new object[] { c.Name });

    private static float[] Rand(Random r, int n, float mag) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * mag).ToArray();

    /// <summary>A [B,H,L,E] tensor; when transposed, stored as [B,L,H,E] and viewed through Transpose(1, 2).</summary>
    private static Tensor Make(float[] v, int b, int h, int l, int e, bool transposed)
    {
        if (!transposed) return Tensor.FromArray(v, new[] { b, h, l, e }, requiresGrad: true);
        var t = new float[v.Length];
        for (int i = 0; i < b; i++) for (int j = 0; j < h; j++) for (int k = 0; k < l; k++) for (int x = 0; x < e; x++)
            t[((i * l + k) * h + j) * e + x] = v[((i * h + j) * l + k) * e + x];
        var leaf = Tensor.FromArray(t, new[] { b, l, h, e }, requiresGrad: true);
        return leaf;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void FusedKernelMatchesReference(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var rng = new Random(name.GetHashCode() & 0xffff);
        float[] qv = Rand(rng, c.B * c.H * c.L * c.E, c.Magnitude), kv = Rand(rng, c.B * c.Hkv * c.S * c.E, c.Magnitude),
                vv = Rand(rng, c.B * c.Hkv * c.S * c.Ev, 1f), gv = Rand(rng, c.B * c.H * c.L * c.Ev, 1f);
        int full = c.B * c.H * c.L * c.S;
        bool[]? boolFull = null; double[]? addFull = null; Tensor? mask = null;
        switch (c.Mask)
        {
            case "bool_LS":
            {
                var m = Enumerable.Range(0, c.L * c.S).Select(_ => rng.NextDouble() < 0.7).ToArray();
                mask = Tensor.FromArray(m, new[] { c.L, c.S });
                boolFull = Enumerable.Range(0, full).Select(i => m[i % (c.L * c.S)]).ToArray();
                break;
            }
            case "bool_B11S":
            {
                var m = Enumerable.Range(0, c.B * c.S).Select(i => i % c.S < c.S - 3 - i / c.S).ToArray();
                mask = Tensor.FromArray(m, new[] { c.B, 1, 1, c.S });
                boolFull = Enumerable.Range(0, full).Select(i => m[i / (c.H * c.L * c.S) * c.S + i % c.S]).ToArray();
                break;
            }
            case "bool_rows":
            {
                var m = Enumerable.Range(0, c.L * c.S).Select(i => i / c.S % 3 != 1 && rng.NextDouble() < 0.8).ToArray();   // every third row fully masked
                mask = Tensor.FromArray(m, new[] { c.L, c.S });
                boolFull = Enumerable.Range(0, full).Select(i => m[i % (c.L * c.S)]).ToArray();
                break;
            }
            case "float_BHLS":
            {
                var m = Rand(rng, full, 2f);
                mask = Tensor.FromArray(m, new[] { c.B, c.H, c.L, c.S });
                addFull = m.Select(x => (double)x).ToArray();
                break;
            }
            case "float_LS_grad":
            {
                var m = Rand(rng, c.L * c.S, 2f);
                mask = Tensor.FromArray(m, new[] { c.L, c.S }, requiresGrad: true);
                addFull = Enumerable.Range(0, full).Select(i => (double)m[i % (c.L * c.S)]).ToArray();
                break;
            }
        }
        float[]? slopes = c.Alibi ? Enumerable.Range(1, c.H).Select(i => MathF.Pow(2, -i)).ToArray() : null;
        var opts = new AttentionOptions
        {
            Mask = mask, IsCausal = c.Causal, Alignment = c.BottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft,
            WindowLeft = c.WinL, WindowRight = c.WinR, AlibiSlopes = slopes, Softcap = c.Softcap, Scale = c.Scale,
            EnableGqa = c.H != c.Hkv, DropoutP = c.Drop, DropoutSeed = 42, WeightsForHeads = Enumerable.Range(0, c.H).ToArray(),
        };
        // BottomRight without causal still aligns the window and ALiBi.
        var ql = Make(qv, c.B, c.H, c.L, c.E, c.Transposed); var kl = Make(kv, c.B, c.Hkv, c.S, c.E, c.Transposed);
        var vl = Make(vv, c.B, c.Hkv, c.S, c.Ev, c.Transposed);
        Tensor q = c.Transposed ? ql.Transpose(1, 2) : ql, k = c.Transposed ? kl.Transpose(1, 2) : kl, v = c.Transposed ? vl.Transpose(1, 2) : vl;
        var res = F.Attention(q, k, v, opts);
        res.Output.Backward(Tensor.FromArray(gv, new[] { c.B, c.H, c.L, c.Ev }));

        // The reference draws dropout from the kernel's own counter-based mask (the hash is the spec, not the test).
        var probe = new Kernels.Attention.AttentionProblem { B = c.B, H = c.H, L = c.L, S = c.S, DropP = c.Drop, Seed = 42 };
        var refr = AttentionReference.Run(new AttentionReference.Problem(c.B, c.H, c.Hkv, c.L, c.S, c.E, c.Ev,
            qv.Select(x => (double)x).ToArray(), kv.Select(x => (double)x).ToArray(), vv.Select(x => (double)x).ToArray(),
            boolFull, addFull, c.Causal, c.BottomRight, c.WinL, c.WinR, slopes?.Select(x => (double)x).ToArray(), c.Softcap, c.Scale,
            c.Drop, (b, h, i, j) => probe.DropScale(b, h, i, j)), gv.Select(x => (double)x).ToArray());

        // One tolerance for every case, the large-magnitude one (scores ~2.5e3) included: the weights, LSE and gradients
        // come from the forward's own P (Kernels/Attention/Probabilities.cs), so only the scores' own rounding is left.
        double worst = 0;
        worst = Math.Max(worst, Close("out", res.Output.ToArray(), refr.O));
        worst = Math.Max(worst, Close("lse", res.Lse.ToArray(), refr.Lse));
        worst = Math.Max(worst, Close("weights", res.Weights!.ToArray(), refr.P));
        worst = Math.Max(worst, Close("grad_q", GradAs4D(ql, c.Transposed), refr.DQ));
        worst = Math.Max(worst, Close("grad_k", GradAs4D(kl, c.Transposed), refr.DK));
        worst = Math.Max(worst, Close("grad_v", GradAs4D(vl, c.Transposed), refr.DV));
        if (c.Mask == "float_LS_grad")
        {
            var dm = new double[c.L * c.S];
            for (int i = 0; i < full; i++) dm[i % (c.L * c.S)] += refr.DMask[i];
            worst = Math.Max(worst, Close("grad_mask", mask!.Grad!.ToArray(), dm));
        }
        output.WriteLine($"{name}: max abs error {worst:G3}");
    }

    [Theory]
    [InlineData(1e4f, false)]
    [InlineData(1e4f, true)]
    public void HugeInputsStayFinite(float magnitude, bool causal)
    {
        var rng = new Random(5);
        Tensor T(params int[] s) => Tensor.FromArray(Rand(rng, s.Aggregate(1, (a, b) => a * b), magnitude), s, requiresGrad: true);
        var q = T(1, 2, 40, 16); var k = T(1, 2, 40, 16); var v = T(1, 2, 40, 16);
        var o = F.ScaledDotProductAttention(q, k, v, isCausal: causal);
        o.Sum().Backward();
        foreach (var t in new[] { o, q.Grad!, k.Grad!, v.Grad! })
            Assert.All(t.ToArray(), x => Assert.True(float.IsFinite(x), $"non-finite value {x}"));
    }

    [Fact]
    public void FullyMaskedRowsGiveZeroOutputAndZeroGradients()
    {
        // Property over random masks: a query row with no allowed key yields 0, LSE −∞, and passes no gradient.
        var rng = new Random(11);
        for (int trial = 0; trial < 20; trial++)
        {
            int l = rng.Next(1, 30), s = rng.Next(1, 30);
            var m = Enumerable.Range(0, l * s).Select(_ => rng.NextDouble() < 0.5).ToArray();
            for (int i = 0; i < l; i++) if (rng.NextDouble() < 0.3) for (int j = 0; j < s; j++) m[i * s + j] = false;
            var q = Tensor.Randn(new[] { 1, 1, l, 8 }, rng, requiresGrad: true);
            var k = Tensor.Randn(new[] { 1, 1, s, 8 }, rng, requiresGrad: true);
            var v = Tensor.Randn(new[] { 1, 1, s, 8 }, rng, requiresGrad: true);
            var r = F.Attention(q, k, v, new AttentionOptions { Mask = Tensor.FromArray(m, new[] { l, s }) });
            r.Output.Sum().Backward();
            var o = r.Output.ToArray(); var lse = r.Lse.ToArray(); var dq = q.Grad!.ToArray();
            for (int i = 0; i < l; i++)
            {
                bool dead = Enumerable.Range(0, s).All(j => !m[i * s + j]);
                Assert.All(o.Concat(dq), x => Assert.False(float.IsNaN(x)));
                if (!dead) continue;
                Assert.True(float.IsNegativeInfinity(lse[i]));
                for (int x = 0; x < 8; x++) { Assert.Equal(0f, o[i * 8 + x]); Assert.Equal(0f, dq[i * 8 + x]); }
            }
        }
    }

    [Fact]
    public void GradcheckOnSmallShapes()
    {
        var rng = new Random(3);
        var mask = Tensor.Randn(new[] { 5, 7 }, rng, requiresGrad: true);
        var r = GradCheck.Check(x => F.Attention(x[0], x[1], x[2], new AttentionOptions
        {
            Mask = x[3], Softcap = 3f, AlibiSlopes = new[] { 0.5f, 0.25f }, EnableGqa = false,
        }).Output, new[]
        {
            Tensor.Randn(new[] { 1, 2, 5, 4 }, rng, requiresGrad: true), Tensor.Randn(new[] { 1, 2, 7, 4 }, rng, requiresGrad: true),
            Tensor.Randn(new[] { 1, 2, 7, 3 }, rng, requiresGrad: true), mask,
        });
        output.WriteLine(r.Report);
        Assert.True(r.Passed, r.Report);
    }

    [Fact]
    public void ThreeDimensionalInputsWithoutBatch()
    {
        var rng = new Random(4);
        var q = Tensor.Randn(new[] { 2, 6, 8 }, rng); var k = Tensor.Randn(new[] { 2, 9, 8 }, rng); var v = Tensor.Randn(new[] { 2, 9, 8 }, rng);
        var o3 = F.ScaledDotProductAttention(q, k, v);
        var o4 = F.ScaledDotProductAttention(q.Unsqueeze(0), k.Unsqueeze(0), v.Unsqueeze(0));
        Assert.Equal(new[] { 2, 6, 8 }, o3.Shape);
        Assert.Equal(o4.ToArray(), o3.ToArray());
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        Tensor Z(params int[] s) => Tensor.Zeros(s);
        void Throws<TEx>(Action a, params string[] parts) where TEx : Exception
        {
            var ex = Assert.ThrowsAny<TEx>(a);
            foreach (var p in parts) Assert.Contains(p, ex.Message);
        }
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(2, 3), Z(2, 3), Z(2, 3)), "scaled_dot_product_attention", "[2, 3]");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(2, 2, 3, 4), Z(2, 2, 3, 4)), "batch");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(1, 2, 3, 5), Z(1, 2, 3, 4)), "head dims", "[1, 2, 3, 5]");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(1, 2, 3, 4), Z(1, 2, 5, 4)), "value", "[1, 2, 5, 4]");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 4, 3, 4), Z(1, 2, 3, 4), Z(1, 2, 3, 4)), "EnableGqa");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 3, 3, 4), Z(1, 2, 3, 4), Z(1, 2, 3, 4), enableGqa: true), "multiple");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(1, 2, 5, 4), Z(1, 2, 5, 4), attnMask: Z(3, 4)), "[3, 4]", "broadcastable");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(1, 2, 3, 4), Z(1, 2, 3, 4), attnMask: Z(3, 3), isCausal: true), "isCausal");
        Throws<ArgumentOutOfRangeException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(1, 2, 3, 4), Z(1, 2, 3, 4), dropoutP: 1f), "dropout");
        Throws<ArgumentException>(() => F.Attention(Z(1, 2, 3, 4), Z(1, 2, 3, 4), Z(1, 2, 3, 4), new AttentionOptions { AlibiSlopes = new[] { 1f } }), "ALiBi");
        Throws<ArgumentException>(() => F.ScaledDotProductAttention(Z(1, 2, 3, 4), Z(1, 2, 3, 4), Tensor.FromArray(new long[24], new[] { 1, 2, 3, 4 })), "value", "int64");
    }

    private static float[] GradAs4D(Tensor leaf, bool transposed) =>
        transposed ? leaf.Grad!.Transpose(1, 2).Contiguous().ToArray() : leaf.Grad!.ToArray();

    private const double Atol = 1e-5;

    private double Close(string what, float[] got, double[] want)
    {
        Assert.Equal(want.Length, got.Length);
        double worst = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (double.IsNegativeInfinity(want[i]))
            {
                Assert.True(float.IsNegativeInfinity(got[i]), $"{what}[{i}]: expected −∞, got {got[i]}");
                continue;
            }
            double err = Math.Abs(got[i] - want[i]);
            Assert.True(float.IsFinite(got[i]) && err <= Atol + 1e-4 * Math.Abs(want[i]),
                $"{what}[{i}]: got {got[i]:G9}, want {want[i]:G9} (|err| {err:G3})");
            worst = Math.Max(worst, err);
        }
        return worst;
    }
}
