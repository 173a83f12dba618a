using Attend;
using Attend.Attention;
using Attend.Kernels.Reference;
using Xunit;
using Xunit.Abstractions;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>Scratch: worst error in tolerance units (1e-4 + 1e-3·|ref|) against float64 from the same fp32 inputs.</summary>
public class AttentionAccuracyTests(ITestOutputHelper output)
{
    static float[] Gauss(Random r, int n, double std) => Enumerable.Range(0, n).Select(_ => (float)(std * Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()))).ToArray();

    [Theory]
    [InlineData(1, 64, 64, 64, false)]
    [InlineData(3, 64, 64, 64, false)]
    [InlineData(10, 64, 64, 64, false)]
    [InlineData(10, 200, 200, 64, true)]
    [InlineData(10, 200, 1, 64, false)]
    [InlineData(10, 17, 17, 32, false)]
    [InlineData(10, 150, 130, 80, false)]
    public void Probe(double mag, int L, int S, int E, bool causal)
    {
        var rng = new Random(1);
        int B = 1, H = 2;
        float[] qv = Gauss(rng, B * H * L * E, mag), kv = Gauss(rng, B * H * S * E, mag), vv = Gauss(rng, B * H * S * E, 1), gv = Gauss(rng, B * H * L * E, 1);
        var q = Tensor.FromArray(qv, [B, H, L, E], requiresGrad: true); var k = Tensor.FromArray(kv, [B, H, S, E], requiresGrad: true);
        var v = Tensor.FromArray(vv, [B, H, S, E], requiresGrad: true);
        var res = F.Attention(q, k, v, new AttentionOptions { IsCausal = causal, WeightsForHeads = [0, 1] });
        res.Output.Backward(Tensor.FromArray(gv, [B, H, L, E]));
        var r = AttentionReference.Run(new AttentionReference.Problem(B, H, H, L, S, E, E, qv.Select(x => (double)x).ToArray(), kv.Select(x => (double)x).ToArray(),
            vv.Select(x => (double)x).ToArray(), Causal: causal), gv.Select(x => (double)x).ToArray());
        double U(float[] got, double[] want) => got.Select((g, i) => Math.Abs(g - want[i]) / (1e-4 + 1e-3 * Math.Abs(want[i]))).Max();
        double A(float[] got, double[] want) => got.Select((g, i) => Math.Abs(g - want[i])).Max();
        var w = res.Weights!.ToArray(); var lse = res.Lse.ToArray();
        double wrel = w.Select((x, i) => r.P[i] > 1e-3 ? Math.Abs(x - r.P[i]) / r.P[i] : 0).Max();
        double lerr = lse.Select((x, i) => double.IsFinite(r.Lse[i]) ? Math.Abs(x - r.Lse[i]) : 0).Max();
        output.WriteLine($"   weights max rel err (P > 1e-3) {wrel:E2}; lse max abs err {lerr:E2} (max |lse| {r.Lse.Max(Math.Abs):F1})");
        output.WriteLine($"mag {mag} L {L} S {S} E {E} causal {causal}: out {U(res.Output.ToArray(), r.O):F3} dq {U(q.Grad!.ToArray(), r.DQ):F3} dk {U(k.Grad!.ToArray(), r.DK):F3} dv {U(v.Grad!.ToArray(), r.DV):F3}   |dk err| {A(k.Grad!.ToArray(), r.DK):E2}");
    }
}
