using System.Text.Json;
using Attend;
using Attend.Attention;
using Attend.Data;
using Attend.Kernels.Reference;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// The fused kernel at large magnitudes, against float64 computed from the same float32 inputs
/// (<c>tools/oracle/make_accuracy_fixtures.py</c> → Fixtures/attention/accuracy.json): q and k with standard deviation 1,
/// 3 and 10 (scores in the hundreds), 1 to 200 queries and keys, head dims 8–80, no mask, causal top-left and
/// bottom-right, GQA, a bool mask with rows of one key, a float mask, key padding. The output and every gradient are
/// within 1e-4 + 1e-3·|ref| (one "unit"); where the mathematics is exact, so is the kernel — one key (S = 1) gives
/// dQ = dK = 0 exactly, and a query row with one visible key gets dQ = 0 exactly. The C# float64 reference is checked
/// against PyTorch's float64 values in the fixture, and PyTorch's own fp32 errors (its math path) are printed beside ours.
/// </summary>
public class AttentionAccuracyTests(ITestOutputHelper output)
{
    private const double Atol = 1e-4, Rtol = 1e-3;

    private static readonly Lazy<JsonElement[]> Fixture = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "attention", "accuracy.json");
        return JsonDocument.Parse(File.ReadAllText(path)).RootElement.EnumerateArray().ToArray();
    });

    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var c in Fixture.Value) d.Add(c.GetProperty("name").GetString()!);
        return d;
    }

    /// <summary>The fixture's inputs, drawn as make_accuracy_fixtures.py draws them (SplitMix64, bit for bit).</summary>
    internal static (float[] Q, float[] K, float[] V, float[] GOut, bool[]? BoolMask, float[]? AddMask, Tensor? Mask) Inputs(JsonElement c)
    {
        int I(string k) => c.GetProperty(k).GetInt32();
        int B = I("B"), H = I("H"), Hkv = I("Hkv"), L = I("L"), S = I("S"), E = I("E");
        var g = new SplitMix64((ulong)c.GetProperty("seed").GetInt64());
        float[] Floats(int n, double std) => Enumerable.Range(0, n).Select(_ => (float)((g.NextDouble() * 2 - 1) * Math.Sqrt(3) * std)).ToArray();
        double mag = c.GetProperty("magnitude").GetDouble();
        float[] q = Floats(B * H * L * E, mag), k = Floats(B * Hkv * S * E, mag), v = Floats(B * Hkv * S * E, 1), gout = Floats(B * H * L * E, 1);
        switch (c.GetProperty("mask").GetString())
        {
            case "bool":
            {
                var m = Enumerable.Range(0, L * S).Select(_ => g.NextDouble() < 0.7).ToArray();
                for (int i = 0; i < L; i += 5)
                {
                    Array.Clear(m, i * S, S);
                    m[i * S + (int)(g.Next() % (ulong)S)] = true;
                }
                var full = Enumerable.Range(0, B * H * L * S).Select(x => m[x % (L * S)]).ToArray();
                return (q, k, v, gout, full, null, Tensor.FromArray(m, [L, S]));
            }
            case "float":
            {
                var m = Floats(L * S, Math.Sqrt(3));
                return (q, k, v, gout, null, Enumerable.Range(0, B * H * L * S).Select(x => m[x % (L * S)]).ToArray(), Tensor.FromArray(m, [L, S]));
            }
            case "padding":
            {
                int[] lengths = [S, S / 3];
                var m = Enumerable.Range(0, B * S).Select(x => x % S < lengths[x / S]).ToArray();
                var full = Enumerable.Range(0, B * H * L * S).Select(x => m[x / (H * L * S) * S + x % S]).ToArray();
                return (q, k, v, gout, full, null, Tensor.FromArray(m, [B, 1, 1, S]));
            }
            default:
                return (q, k, v, gout, null, null, null);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WithinOneUnitOfFloat64AndExactWhereTheMathematicsIs(string name) => Check(name, output);

    /// <summary>The checks of one fixture case (also run by <see cref="AttentionKernelPathTests"/> on each kernel width).</summary>
    internal static void Check(string name, ITestOutputHelper output)
    {
        var c = Fixture.Value.Single(x => x.GetProperty("name").GetString() == name);
        int I(string k) => c.GetProperty(k).GetInt32();
        int B = I("B"), H = I("H"), Hkv = I("Hkv"), L = I("L"), S = I("S"), E = I("E");
        bool causal = c.GetProperty("causal").GetBoolean(), bottomRight = c.GetProperty("alignment").GetString() == "bottom_right";
        var (qv, kv, vv, gv, boolFull, addFull, mask) = Inputs(c);

        var q = Tensor.FromArray(qv, [B, H, L, E], requiresGrad: true);
        var k = Tensor.FromArray(kv, [B, Hkv, S, E], requiresGrad: true);
        var v = Tensor.FromArray(vv, [B, Hkv, S, E], requiresGrad: true);
        var res = F.Attention(q, k, v, new AttentionOptions
        {
            Mask = mask, IsCausal = causal, Alignment = bottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft, EnableGqa = H != Hkv,
        });
        res.Output.Backward(Tensor.FromArray(gv, [B, H, L, E]));
        var r = AttentionReference.Run(new AttentionReference.Problem(B, H, Hkv, L, S, E, E, D(qv), D(kv), D(vv),
            boolFull, addFull is null ? null : D(addFull), causal, bottomRight), D(gv));

        // The C# float64 reference is PyTorch's (float64 from primitives, in the fixture).
        var refs = new Dictionary<string, double[]> { ["out"] = r.O, ["dq"] = r.DQ, ["dk"] = r.DK, ["dv"] = r.DV };
        foreach (var (what, want) in refs)
            foreach (var s in c.GetProperty("samples").GetProperty(what).EnumerateArray())
            {
                double torch64 = s[1].GetDouble(), ours64 = want[s[0].GetInt32()];
                Assert.True(Math.Abs(torch64 - ours64) <= 1e-9 * (1 + Math.Abs(torch64)), $"{name} {what}[{s[0]}]: C# float64 {ours64:R}, PyTorch float64 {torch64:R}");
            }

        var got = new Dictionary<string, float[]>
        {
            ["out"] = res.Output.ToArray(), ["dq"] = q.Grad!.ToArray(), ["dk"] = k.Grad!.ToArray(), ["dv"] = v.Grad!.ToArray(),
        };
        var torch = c.GetProperty("torch_units");
        var line = new List<string>();
        foreach (var (what, want) in refs)
        {
            double units = got[what].Select((x, i) => Math.Abs(x - want[i]) / (Atol + Rtol * Math.Abs(want[i]))).Max();
            line.Add($"{what} {units:F3} (torch {torch.GetProperty(what).GetDouble():F3})");
            Assert.True(units <= 1, $"{name}: {what} is {units:F3} tolerance units from float64 (PyTorch fp32: {torch.GetProperty(what).GetDouble():F3})");
        }
        output.WriteLine($"{name}: {string.Join(", ", line)}");

        if (S == 1)   // softmax of one score is 1: dS = 0, so dQ and dK are exactly 0 (PyTorch's are)
        {
            Assert.True(c.GetProperty("torch_dk_zero").GetBoolean());
            Assert.All(got["dk"], x => Assert.Equal(0f, x));
            Assert.All(got["dq"], x => Assert.Equal(0f, x));
        }
        if (boolFull is not null)   // a query row with exactly one visible key: its dQ row is exactly 0
            for (int row = 0; row < B * H * L; row++)
                if (Enumerable.Range(0, S).Count(j => boolFull[(long)row * S + j] && (!causal || j <= row % L + (bottomRight ? S - L : 0))) == 1)
                    for (int x = 0; x < E; x++) Assert.Equal(0f, got["dq"][row * E + x]);
    }

    private static double[] D(float[] x) => x.Select(v => (double)v).ToArray();
}

/// <summary>
/// The accuracy cases that exercise every branch of the backward's products and of the recomputed weights, on the
/// Vector256 kernels and on the Vector512 ones (full-width hosts pick those; elsewhere they run at half speed, with the
/// same numbers): the kernel width is the GEMM path's, forced here, so this class runs alone.
/// </summary>
[Collection(SerialCollection.Name)]
public class AttentionKernelPathTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("Vector256")]
    [InlineData("Vector512")]
    public void AccuracyAndExactZerosHoldOnEachWidth(string path)
    {
        Kernels.Gemm.Sgemm.ForcedPath = Enum.Parse<Kernels.Gemm.GemmPath>(path);
        try
        {
            foreach (var name in new[] { "rect_e80_m10", "causal_bottom_right_m3", "gqa_causal_m10", "one_key_m10", "bool_one_key_rows_m10", "float_mask_m3", "key_padding_m10" })
                AttentionAccuracyTests.Check(name, output);
        }
        finally { Kernels.Gemm.Sgemm.ForcedPath = null; }
    }
}
