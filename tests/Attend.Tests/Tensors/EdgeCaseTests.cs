using Attend;
using Xunit;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// Hand-known answers for edge cases the PyTorch fixtures do not reach: fully masked softmax rows, cross-entropy
/// with every target ignored, matmul on strided operands and with broadcast batch dims.
/// </summary>
public class EdgeCaseTests
{
    private static readonly float NegInf = float.NegativeInfinity;

    /// <summary>Reference product of row-major [.., m, k] and [.., k, n] in float64, one batch entry at a time.</summary>
    private static float[] NaiveMatmul(float[] a, float[] b, int batch, int m, int k, int n, Func<int, int> aBatch, Func<int, int> bBatch)
    {
        var c = new float[batch * m * n];
        for (int t = 0; t < batch; t++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)a[aBatch(t) * m * k + i * k + p] * b[bBatch(t) * k * n + p * n + j];
                    c[t * m * n + i * n + j] = (float)s;
                }
        return c;
    }

    // ---- softmax -----------------------------------------------------------------------------------------------

    [Fact]
    public void Softmax_of_a_fully_masked_row_is_zeros_and_its_gradient_is_zero()
    {
        using var x = Tensor.FromArray(new[] { NegInf, NegInf, NegInf, 0f, NegInf, 0f }, new[] { 2, 3 }, requiresGrad: true);
        var y = F.Softmax(x, -1);
        Assert.Equal(new[] { 0f, 0f, 0f, 0.5f, 0f, 0.5f }, y.ToArray());
        using var g = Tensor.FromArray(new[] { 1f, 2f, 3f, 1f, 5f, -1f }, new[] { 2, 3 });
        y.Backward(g);
        var dx = x.Grad!.ToArray();
        Assert.All(dx, v => Assert.False(float.IsNaN(v)));
        Assert.Equal(new[] { 0f, 0f, 0f }, dx.Take(3));
        // row 2: dx = y ∘ (g − Σ g·y) = [0.5·(1 − 0), 0, 0.5·(−1 − 0)]
        TensorTests.Close(new[] { 0.5f, 0f, -0.5f }, dx.Skip(3).ToArray());
    }

    [Fact]
    public void Softmax_over_a_non_last_dim_with_a_masked_column_is_zeros()
    {
        using var x = Tensor.FromArray(new[] { NegInf, 1f, NegInf, 1f }, new[] { 2, 2 });
        using var y = F.Softmax(x, 0);   // column 0 is all −inf
        Assert.Equal(new[] { 0f, 0.5f, 0f, 0.5f }, y.ToArray());
        using var ly = F.LogSoftmax(x, 0);
        var lv = ly.ToArray();
        Assert.Equal(NegInf, lv[0]);
        Assert.Equal(NegInf, lv[2]);
        TensorTests.Close(new[] { MathF.Log(0.5f), MathF.Log(0.5f) }, new[] { lv[1], lv[3] });
    }

    [Fact]
    public void Softmax_is_stable_for_large_logits()
    {
        using var x = Tensor.FromArray(new[] { 1000f, 1000f, -1000f, 88.7f, 89f, 0f }, new[] { 2, 3 });
        using var y = F.Softmax(x, 1);
        var v = y.ToArray();
        Assert.All(v, p => Assert.True(float.IsFinite(p)));
        TensorTests.Close(new[] { 0.5f, 0.5f, 0f }, v.Take(3).ToArray());
        float e = MathF.Exp(-0.3f);
        TensorTests.Close(new[] { e / (1 + e), 1 / (1 + e), 0f }, v.Skip(3).ToArray(), 1e-5f);
    }

    [Fact]
    public void Softmax_with_a_masked_causal_pattern_matches_hand_values()
    {
        // A 3×3 causal mask over zeros: row i is uniform over its first i + 1 entries.
        using var zeros = Tensor.Zeros(3, 3);
        using var ones = Tensor.Ones(3, 3);
        using var upper = ones.Triu(1);
        using var mask = upper.Gt(0f);
        using var scores = zeros.MaskedFill(mask, NegInf);
        using var p = F.Softmax(scores, -1);
        TensorTests.Close(new[] { 1f, 0f, 0f, 0.5f, 0.5f, 0f, 1f / 3, 1f / 3, 1f / 3 }, p.ToArray());
    }

    // ---- cross-entropy -----------------------------------------------------------------------------------------

    [Fact]
    public void Cross_entropy_with_every_target_ignored_is_zero_with_zero_gradient()
    {
        // Documented deviation: PyTorch gives NaN (0/0) for 'mean' here; Attend gives 0.
        using var x = Tensor.FromArray(new[] { 1f, 2f, 3f, -1f, 0f, 4f }, new[] { 2, 3 }, requiresGrad: true);
        using var t = Tensor.FromArray(new long[] { -100, -100 }, new[] { 2 });
        var loss = F.CrossEntropy(x, t);
        Assert.Empty(loss.Shape);
        Assert.Equal(0f, loss.Item());
        loss.Backward();
        Assert.Equal(new float[6], x.Grad!.ToArray());

        using var x2 = Tensor.FromArray(new[] { 1f, 2f, 3f, -1f, 0f, 4f }, new[] { 2, 3 }, requiresGrad: true);
        using var t2 = Tensor.FromArray(new long[] { 2, 2 }, new[] { 2 });
        var sum = F.CrossEntropy(x2, t2, ignoreIndex: 2, reduction: Reduction.Sum, labelSmoothing: 0.1f);
        Assert.Equal(0f, sum.Item());
        sum.Backward();
        Assert.Equal(new float[6], x2.Grad!.ToArray());
    }

    [Fact]
    public void Cross_entropy_mean_averages_only_the_kept_targets()
    {
        using var x = Tensor.FromArray(new[] { 0f, 0f, 5f, 1f }, new[] { 2, 2 }, requiresGrad: true);
        using var t = Tensor.FromArray(new long[] { 1, -100 }, new[] { 2 });
        var loss = F.CrossEntropy(x, t);
        TensorTests.Close(new[] { MathF.Log(2f) }, new[] { loss.Item() });
        loss.Backward();
        // softmax([0, 0]) − onehot(1) = [0.5, −0.5]; the ignored row gets nothing.
        TensorTests.Close(new[] { 0.5f, -0.5f, 0f, 0f }, x.Grad!.ToArray());
    }

    // ---- matmul ------------------------------------------------------------------------------------------------

    public static TheoryData<string> Layouts => new() { "nn", "tn", "nt", "tt", "narrow", "sliced_batch" };

    [Theory, MemberData(nameof(Layouts))]
    public void Matmul_of_strided_operands_equals_the_contiguous_result(string layout)
    {
        const int m = 5, k = 7, n = 6;
        var rng = new Random(17);
        using var a = Tensor.Randn(new[] { m, k }, rng);
        using var b = Tensor.Randn(new[] { k, n }, rng);
        var expected = NaiveMatmul(a.ToArray(), b.ToArray(), 1, m, k, n, _ => 0, _ => 0);

        // Build operands with the same values but other layouts.
        using var aT = a.T.Contiguous();           // [k, m], whose .T is a column-major view of a
        using var bT = b.T.Contiguous();
        using var aWide = Tensor.Zeros(m, k + 3);  // a inside a wider buffer: row stride k + 3
        using (var slot = aWide.Narrow(1, 2, k)) slot.CopyFrom(a);
        using var aStack = Tensor.Stack(new[] { a, a, a }, 1);   // [m, 3, k]: picking one gives row stride 3k
        Tensor left = layout switch
        {
            "tn" or "tt" => aT.T,
            "narrow" => aWide.Narrow(1, 2, k),
            "sliced_batch" => aStack.Select(1, 2),
            _ => a,
        };
        Tensor right = layout is "nt" or "tt" ? bT.T : b;
        Assert.Equal(layout is "nn", left.IsContiguous && right.IsContiguous);
        using var c = left.Matmul(right);
        Assert.Equal(new[] { m, n }, c.Shape);
        TensorTests.Close(expected, c.ToArray(), 1e-5f);
    }

    [Fact]
    public void Matmul_of_a_transposed_batch_equals_the_contiguous_result()
    {
        const int bsz = 3, m = 4, k = 5, n = 2;
        var rng = new Random(11);
        using var a = Tensor.Randn(new[] { bsz, m, k }, rng);
        using var b = Tensor.Randn(new[] { bsz, k, n }, rng);
        var expected = NaiveMatmul(a.ToArray(), b.ToArray(), bsz, m, k, n, t => t, t => t);
        // Same values stored as [m, bsz, k] and [n, k, bsz]: permuted views.
        using var aStore = a.Permute(1, 0, 2).Contiguous();
        using var bStore = b.Permute(2, 1, 0).Contiguous();
        using var aView = aStore.Permute(1, 0, 2);
        using var bView = bStore.Permute(2, 1, 0);
        Assert.False(aView.IsContiguous || bView.IsContiguous);
        using var c = aView.Matmul(bView);
        TensorTests.Close(expected, c.ToArray(), 1e-5f);
        using var w = Tensor.Randn(new[] { k, n }, rng);   // [B, M, K] · [K, N] with a non-foldable batch
        using var cw = aView.Matmul(w);
        TensorTests.Close(NaiveMatmul(a.ToArray(), w.ToArray(), bsz, m, k, n, t => t, _ => 0), cw.ToArray(), 1e-5f);
    }

    [Fact]
    public void Broadcast_batched_matmul_matches_a_per_batch_loop()
    {
        // [2, 1, m, k] · [3, k, n] → [2, 3, m, n]: out[i, j] = a[i, 0] · b[j]
        const int m = 3, k = 4, n = 5;
        var rng = new Random(5);
        using var a = Tensor.Randn(new[] { 2, 1, m, k }, rng);
        using var b = Tensor.Randn(new[] { 3, k, n }, rng);
        using var c = a.Matmul(b);
        Assert.Equal(new[] { 2, 3, m, n }, c.Shape);
        var expected = NaiveMatmul(a.ToArray(), b.ToArray(), 6, m, k, n, t => t / 3, t => t % 3);
        TensorTests.Close(expected, c.ToArray(), 1e-5f);

        // And each slice equals the 2-D product of the slices.
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
            {
                using var ai = a.Select(0, i).Select(0, 0);
                using var bj = b.Select(0, j);
                using var cij = ai.Matmul(bj);
                using var got = c.Select(0, i).Select(0, j);
                TensorTests.Close(cij.ToArray(), got.ToArray(), 1e-6f);
            }
    }

    [Fact]
    public void Broadcast_batched_matmul_gradients_sum_over_the_broadcast_dims()
    {
        // A shared [k, n] right operand used by every batch entry gets the sum of their gradients.
        const int m = 2, k = 3, n = 2;
        var rng = new Random(8);
        using var a = Tensor.Randn(new[] { 4, m, k }, rng);
        using var b = Tensor.Randn(new[] { 1, k, n }, rng, requiresGrad: true);
        a.Matmul(b).Sum().Backward();
        // d/db Σ a_t b = Σ_t a_tᵀ · 1
        var av = a.ToArray();
        var expected = new float[k * n];
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++)
                    for (int j = 0; j < n; j++)
                        expected[p * n + j] += av[t * m * k + i * k + p];
        Assert.Equal(new[] { 1, k, n }, b.Grad!.Shape);
        TensorTests.Close(expected, b.Grad.ToArray(), 1e-5f);
    }

    [Fact]
    public void Matmul_vector_cases_follow_torch()
    {
        using var v = Tensor.FromArray(new[] { 1f, 2f, 3f }, new[] { 3 });
        using var m = TensorTests.Iota(3, 2);   // [[0, 1], [2, 3], [4, 5]]
        using var dot = v.Matmul(v);
        Assert.Empty(dot.Shape);
        Assert.Equal(14f, dot.Item());
        using var vm = v.Matmul(m);
        Assert.Equal(new[] { 2 }, vm.Shape);
        Assert.Equal(new[] { 16f, 22f }, vm.ToArray());
        using var mT = m.T;
        using var mv = mT.Matmul(v);
        Assert.Equal(new[] { 2 }, mv.Shape);
        Assert.Equal(new[] { 16f, 22f }, mv.ToArray());
        using var batch = Tensor.Stack(new[] { mT, mT.Mul(2f) });   // [2, 2, 3]
        using var bv = batch.Matmul(v);
        Assert.Equal(new[] { 2, 2 }, bv.Shape);
        Assert.Equal(new[] { 16f, 22f, 32f, 44f }, bv.ToArray());
    }

    [Fact]
    public void Matmul_with_an_empty_contracted_dim_is_zeros()
    {
        using var a = Tensor.Ones(2, 0);
        using var b = Tensor.Ones(0, 3);
        using var c = a.Matmul(b);
        Assert.Equal(new[] { 2, 3 }, c.Shape);
        Assert.Equal(new float[6], c.ToArray());
    }
}
