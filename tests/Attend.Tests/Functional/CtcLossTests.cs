using Xunit;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>CTC loss against a float64 brute force over every alignment (small T and C), its reductions and its errors.
/// The gradient is in GradCheckTests (ctc_loss_*).</summary>
public class CtcLossTests
{
    /// <summary>−log Σ over all paths π ∈ Cᵀ that collapse (merge repeats, drop blanks) to the target of Π_t p[t, π_t].</summary>
    static double BruteForce(double[,] logp, long[] target, int blank)
    {
        int T = logp.GetLength(0), C = logp.GetLength(1);
        double total = 0;
        var path = new int[T];
        for (long code = 0; code < (long)Math.Pow(C, T); code++)
        {
            long r = code;
            for (int t = 0; t < T; t++) { path[t] = (int)(r % C); r /= C; }
            var collapsed = new List<long>();
            for (int t = 0; t < T; t++)
                if (path[t] != blank && (t == 0 || path[t] != path[t - 1])) collapsed.Add(path[t]);
            if (!collapsed.SequenceEqual(target)) continue;
            double lp = 0;
            for (int t = 0; t < T; t++) lp += logp[t, path[t]];
            total += Math.Exp(lp);
        }
        return -Math.Log(total);
    }

    [Theory]
    [InlineData(5, new long[] { 1, 2 })]
    [InlineData(6, new long[] { 1, 1, 2 })]      // a repeat needs a blank between
    [InlineData(4, new long[] { 3 })]
    [InlineData(3, new long[0])]
    public void Loss_matches_the_sum_over_all_alignments(int T, long[] target)
    {
        const int C = 4, N = 2;
        var x = Tensor.Randn(new[] { T, N, C }, new Random(T + target.Length));
        var lp = F.LogSoftmax(x, -1);
        var v = lp.ToArray();
        int L = Math.Max(1, target.Length);
        var padded = new long[N * L];
        for (int n = 0; n < N; n++) for (int j = 0; j < target.Length; j++) padded[n * L + j] = target[j];
        var loss = F.CtcLoss(lp, Tensor.FromArray(padded, new[] { N, L }), [T, T - 1], [target.Length, target.Length], reduction: Reduction.None).ToArray();
        for (int n = 0; n < N; n++)
        {
            int tn = n == 0 ? T : T - 1;
            var m = new double[tn, C];
            for (int t = 0; t < tn; t++) for (int c = 0; c < C; c++) m[t, c] = v[(t * N + n) * C + c];
            Assert.Equal(BruteForce(m, target, 0), loss[n], 4);
        }
    }

    [Fact]
    public void Mean_divides_by_target_length_then_averages_and_impossible_samples_are_infinite_or_zeroed()
    {
        var lp = F.LogSoftmax(Tensor.Randn(new[] { 4, 2, 3 }, new Random(1)), -1);
        var targets = Tensor.FromArray(new long[] { 1, 2, 1, 1 }, new[] { 2, 2 });
        var none = F.CtcLoss(lp, targets, [4, 2], [2, 2], reduction: Reduction.None).ToArray();   // sample 1: "1 1" needs 3 steps, has 2
        Assert.True(float.IsFinite(none[0]) && float.IsPositiveInfinity(none[1]));
        var mean = F.CtcLoss(lp, targets, [4, 2], [2, 2], zeroInfinity: true).Item();
        Assert.Equal(none[0] / 2 / 2, mean, 5);
        var sum = F.CtcLoss(lp, targets, [4, 4], [2, 2], reduction: Reduction.Sum).Item();
        var each = F.CtcLoss(lp, targets, [4, 4], [2, 2], reduction: Reduction.None).ToArray();
        Assert.Equal(each[0] + each[1], sum, 4);
    }

    [Fact]
    public void Bad_arguments_name_what_is_wrong()
    {
        var lp = F.LogSoftmax(Tensor.Randn(new[] { 4, 2, 3 }, new Random(1)), -1);
        var ok = Tensor.FromArray(new long[] { 1, 2, 1, 1 }, new[] { 2, 2 });
        Assert.Contains("is the blank", Assert.Throws<ArgumentOutOfRangeException>(() => F.CtcLoss(lp, Tensor.FromArray(new long[] { 1, 0, 1, 1 }, new[] { 2, 2 }), [4, 4], [2, 2])).Message);
        Assert.Contains("input length 5", Assert.Throws<ArgumentOutOfRangeException>(() => F.CtcLoss(lp, ok, [5, 4], [2, 2])).Message);
        Assert.Contains("[T, N, C]", Assert.Throws<ArgumentException>(() => F.CtcLoss(lp.Reshape(8, 3), ok, [4, 4], [2, 2])).Message);
        Assert.Contains("3 input lengths", Assert.Throws<ArgumentException>(() => F.CtcLoss(lp, ok, [4, 4, 4], [2, 2])).Message);
    }
}
