using Attend;
using Xunit;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// The define-by-run tape: accumulation, ZeroGrad, NoGrad, Detach, fan-out, freeing the graph (retainGraph), the
/// errors of Backward and RequiresGrad, the caller's gradient left untouched, deep graphs, embedding padding.
/// </summary>
public class AutogradTests
{
    private static Tensor Leaf(params float[] v) => Tensor.FromArray(v, new[] { v.Length }, requiresGrad: true);

    [Fact]
    public void Gradients_accumulate_over_two_backward_calls()
    {
        using var x = Leaf(1f, 2f, 3f);
        x.Mul(x).Sum().Backward();
        Assert.Equal(new[] { 2f, 4f, 6f }, x.Grad!.ToArray());
        x.Mul(x).Sum().Backward();
        Assert.Equal(new[] { 4f, 8f, 12f }, x.Grad!.ToArray());
    }

    [Fact]
    public void ZeroGrad_resets_to_null_and_the_next_backward_starts_fresh()
    {
        using var x = Leaf(1f, 2f);
        x.Mul(3f).Sum().Backward();
        x.ZeroGrad();
        Assert.Null(x.Grad);
        x.Mul(5f).Sum().Backward();
        Assert.Equal(new[] { 5f, 5f }, x.Grad!.ToArray());
        x.ZeroGrad();
        x.ZeroGrad();   // harmless when already null
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Leaves_start_without_grad_and_non_leaves_never_get_one()
    {
        using var x = Leaf(1f, 2f);
        Assert.Null(x.Grad);
        Assert.True(x.IsLeaf);
        var y = x.Mul(2f);
        Assert.False(y.IsLeaf);
        Assert.True(y.RequiresGrad);
        y.Sum().Backward();
        Assert.Null(y.Grad);   // as PyTorch without retain_grad()
        Assert.Equal(new[] { 2f, 2f }, x.Grad!.ToArray());
    }

    [Fact]
    public void NoGrad_records_nothing()
    {
        using var x = Leaf(1f, 2f);
        Tensor y, z;
        Assert.True(Autograd.IsGradEnabled);
        using (Autograd.NoGrad())
        {
            Assert.False(Autograd.IsGradEnabled);
            y = x.Mul(x);
            using (Autograd.NoGrad()) z = y.Exp().Sum();
            Assert.False(Autograd.IsGradEnabled);   // still off after the inner scope
        }
        Assert.True(Autograd.IsGradEnabled);
        Assert.False(y.RequiresGrad);
        Assert.True(y.IsLeaf);
        Assert.False(z.RequiresGrad);
        Assert.True(x.RequiresGrad);
        var e = Assert.Throws<InvalidOperationException>(() => z.Backward());
        Assert.Contains("does not require grad", e.Message);
        Assert.Null(x.Grad);
        // Views and functional ops too.
        using (Autograd.NoGrad())
        {
            Assert.False(x.Unsqueeze(0).RequiresGrad);
            Assert.False(F.Softmax(x, 0).RequiresGrad);
        }
    }

    [Fact]
    public void A_NoGrad_scope_disposed_twice_does_not_turn_grad_back_on_early()
    {
        var outer = Autograd.NoGrad();
        var inner = Autograd.NoGrad();
        inner.Dispose();
        inner.Dispose();
        Assert.False(Autograd.IsGradEnabled);
        outer.Dispose();
        Assert.True(Autograd.IsGradEnabled);
    }

    [Fact]
    public void Detach_cuts_the_graph_and_shares_storage()
    {
        using var x = Leaf(1f, 2f, 3f);
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        Assert.Equal(x.ToArray(), d.ToArray());
        unsafe { Assert.Equal((nint)x.Data, (nint)d.Data); }
        // y = x · stop_gradient(x): dy/dx = x, not 2x
        x.Mul(d).Sum().Backward();
        Assert.Equal(new[] { 1f, 2f, 3f }, x.Grad!.ToArray());
        // Detach of a non-leaf is a new leaf that can itself require grad.
        var y = x.Mul(2f);
        var leaf = y.Detach();
        leaf.RequiresGrad = true;
        leaf.Sum().Backward();
        Assert.Equal(new[] { 1f, 1f, 1f }, leaf.Grad!.ToArray());
        Assert.Equal(new[] { 1f, 2f, 3f }, x.Grad!.ToArray());   // untouched
    }

    [Fact]
    public void A_tensor_used_twice_gets_the_sum_of_its_gradients()
    {
        using var x = Leaf(-1f, 0.5f, 2f);
        var y = x.Mul(x).Add(x);   // y = x² + x, dy/dx = 2x + 1
        y.Sum().Backward();
        Assert.Equal(new[] { -1f, 2f, 5f }, x.Grad!.ToArray());
    }

    [Fact]
    public void Fan_out_through_views_and_broadcasts_sums_gradients()
    {
        using var x = Leaf(1f, 2f, 3f, 4f);
        var m = x.View(2, 2);
        // m + mᵀ uses each element twice (diagonal: twice at the same place); then a broadcast row add.
        var y = m.Add(m.T).Add(x.Narrow(0, 0, 2));
        y.Sum().Backward();
        // each x gets 2 from m + mᵀ; x0, x1 each appear once more per output row (2 rows)
        Assert.Equal(new[] { 4f, 4f, 2f, 2f }, x.Grad!.ToArray());
    }

    [Fact]
    public void The_graph_is_freed_after_backward()
    {
        using var x = Leaf(1f, 2f);
        var y = x.Mul(x);
        var loss = y.Sum();
        loss.Backward();
        Assert.Null(loss.GradFn!.BackwardFn);
        Assert.Null(y.GradFn!.BackwardFn);
    }

    [Fact]
    public void Backward_twice_without_retainGraph_throws_a_clear_error()
    {
        using var x = Leaf(1f, 2f);
        var loss = x.Mul(x).Sum();
        loss.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("second time", e.Message);
        Assert.Contains("retainGraph", e.Message);
        Assert.Equal(new[] { 2f, 4f }, x.Grad!.ToArray());   // the failed call added nothing
    }

    [Fact]
    public void Backward_twice_with_retainGraph_accumulates()
    {
        using var x = Leaf(1f, 2f);
        var y = x.Mul(x);
        var loss = y.Sum();
        using (var one = Tensor.Scalar(1f)) loss.Backward(one, retainGraph: true);
        Assert.NotNull(y.GradFn!.BackwardFn);
        loss.Backward();
        Assert.Equal(new[] { 4f, 8f }, x.Grad!.ToArray());
        Assert.Throws<InvalidOperationException>(() => loss.Backward());
    }

    [Fact]
    public void Backward_of_a_non_scalar_without_gradient_names_the_shape()
    {
        using var x = Tensor.Zeros(2, 3);
        x.RequiresGrad = true;
        var y = x.Mul(2f);
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("Backward", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("scalar", e.Message);
    }

    [Fact]
    public void Backward_of_a_one_element_tensor_is_allowed()
    {
        using var x = Leaf(3f);
        x.Mul(x).Backward();   // shape [1]
        Assert.Equal(new[] { 6f }, x.Grad!.ToArray());
    }

    [Fact]
    public void Backward_with_a_gradient_of_the_wrong_shape_throws()
    {
        using var x = Tensor.Zeros(2, 3);
        x.RequiresGrad = true;
        var y = x.Mul(2f);
        using var g = Tensor.Ones(3, 2);
        var e = Assert.Throws<ArgumentException>(() => y.Backward(g));
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        using var gi = Tensor.FromArray(new long[6], new[] { 2, 3 });
        var d = Assert.Throws<ArgumentException>(() => y.Backward(gi));
        Assert.Contains("int64", d.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void Backward_with_a_gradient_weights_the_outputs()
    {
        using var x = Leaf(1f, 2f, 3f);
        var y = x.Mul(x);
        using var g = Tensor.FromArray(new[] { 1f, 0f, -2f }, new[] { 3 });
        y.Backward(g);
        Assert.Equal(new[] { 2f, 0f, -12f }, x.Grad!.ToArray());
    }

    [Fact]
    public void RequiresGrad_on_int64_or_bool_throws()
    {
        using var ids = Tensor.FromArray(new long[] { 1, 2 }, new[] { 2 });
        var e = Assert.Throws<InvalidOperationException>(() => ids.RequiresGrad = true);
        Assert.Contains("int64", e.Message);
        ids.RequiresGrad = false;   // setting false is fine
        using var m = Tensor.FromArray(new[] { true }, new[] { 1 });
        Assert.Throws<InvalidOperationException>(() => m.RequiresGrad = true);
    }

    [Fact]
    public void Setting_RequiresGrad_on_a_non_leaf_throws()
    {
        using var x = Leaf(1f);
        var y = x.Mul(2f);
        var e = Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        Assert.Contains("leaf", e.Message);
        Assert.True(y.RequiresGrad);
    }

    [Fact]
    public void Setting_Grad_of_the_wrong_shape_throws()
    {
        using var x = Tensor.Zeros(2, 3);
        using var g = Tensor.Zeros(3, 2);
        var e = Assert.Throws<ArgumentException>(() => x.Grad = g);
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }

    public static TheoryData<string> IdentityLikeRoots => new() { "leaf", "reshape", "view", "add_scalar", "squeeze", "contiguous", "clone" };

    /// <summary>Backward(g) must never adopt or write into the caller's g, even when the gradient reaches a leaf
    /// unchanged, and a second backward (which accumulates in place) must not either.</summary>
    [Theory, MemberData(nameof(IdentityLikeRoots))]
    public void The_callers_gradient_is_unchanged_by_backward(string root)
    {
        using var x = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, new[] { 2, 2 }, requiresGrad: true);
        Tensor Root() => root switch
        {
            "leaf" => x,
            "reshape" => x.Reshape(2, 2),
            "view" => x.View(4).View(2, 2),
            "add_scalar" => x.Add(0f),
            "squeeze" => x.Squeeze(0),
            "contiguous" => x.Contiguous(),
            _ => x.Clone(),
        };
        var gv = new[] { 0.5f, -1f, 2f, 3f };
        var g = Tensor.FromArray(gv, new[] { 2, 2 });
        Root().Backward(g);
        Assert.Equal(gv, g.ToArray());
        Root().Backward(g);   // accumulates into x.Grad in place
        Assert.Equal(gv, g.ToArray());
        Assert.Equal(gv.Select(v => 2 * v), x.Grad!.ToArray());
        g.Dispose();
        Assert.False(x.Grad!.IsDisposed);
        Assert.Equal(gv.Select(v => 2 * v), x.Grad!.ToArray());
    }

    [Fact]
    public void A_deep_chain_backpropagates_without_stack_overflow()
    {
        using var x = Leaf(1f, 2f);
        using (Tensor.NewScope())
        {
            var y = x;
            for (int i = 0; i < 10_000; i++) y = y.Add(1f);
            Assert.Equal(new[] { 10_001f, 10_002f }, y.ToArray());
            y.Sum().Backward();
        }
        Assert.Equal(new[] { 1f, 1f }, x.Grad!.ToArray());
    }

    [Fact]
    public void A_deep_chain_of_binary_ops_backpropagates()
    {
        using var x = Leaf(1f, 2f);
        using var w = Leaf(1f, 1f);
        using (Tensor.NewScope())
        {
            var y = x;
            for (int i = 0; i < 10_000; i++) y = y.Mul(w);   // y = x · w^10000
            y.Sum().Backward();
        }
        Assert.Equal(new[] { 1f, 1f }, x.Grad!.ToArray());
        Assert.Equal(new[] { 10_000f, 20_000f }, w.Grad!.ToArray());
    }

    [Fact]
    public void Embedding_padding_row_gets_zero_gradient()
    {
        using var w = Tensor.FromArray(Enumerable.Range(0, 8).Select(i => (float)i).ToArray(), new[] { 4, 2 }, requiresGrad: true);
        using var ids = Tensor.FromArray(new long[] { 0, 2, 2, 1, 0 }, new[] { 5 });
        var y = F.Embedding(ids, w, paddingIdx: 2);
        Assert.Equal(new[] { 5, 2 }, y.Shape);
        Assert.Equal(new[] { 0f, 1f, 4f, 5f, 4f, 5f, 2f, 3f, 0f, 1f }, y.ToArray());   // the forward still reads the row
        y.Sum().Backward();
        Assert.Equal(new[] { 2f, 2f, 1f, 1f, 0f, 0f, 0f, 0f }, w.Grad!.ToArray());
    }

    [Fact]
    public void Embedding_negative_padding_index_counts_from_the_end()
    {
        using var w = Tensor.Ones(3, 2);
        w.RequiresGrad = true;
        using var ids = Tensor.FromArray(new long[] { 2, 1, 2 }, new[] { 3 });
        F.Embedding(ids, w, paddingIdx: -1).Sum().Backward();
        Assert.Equal(new[] { 0f, 0f, 1f, 1f, 0f, 0f }, w.Grad!.ToArray());
    }

    [Fact]
    public void Inputs_that_do_not_require_grad_get_none()
    {
        using var x = Leaf(1f, 2f);
        using var c = Tensor.FromArray(new[] { 3f, 4f }, new[] { 2 });
        x.Mul(c).Sum().Backward();
        Assert.Null(c.Grad);
        Assert.Equal(new[] { 3f, 4f }, x.Grad!.ToArray());
    }
}
