using Attend;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// Pooled storage and lifetimes: disposed blocks come back from the pool, scopes dispose their temporaries (but not
/// what they Keep, nor leaf gradients), views keep storage alive, disposed tensors refuse use.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class MemoryTests
{
    private const int Big = 3_000_000;   // 12 MB: a size class no other test uses

    [Fact]
    public void A_disposed_block_is_reused_by_the_next_allocation_of_its_size_class()
    {
        nint first;
        using (var a = Tensor.Zeros(Big)) first = (nint)a.Data;
        using var b = Tensor.Ones(Big - 1000);   // same power-of-two class
        Assert.Equal(first, (nint)b.Data);
        Assert.All(b.ToArray().Take(10), v => Assert.Equal(1f, v));   // and it was initialized
    }

    [Fact]
    public void Allocate_dispose_loops_do_not_grow_the_pool()
    {
        var seen = new HashSet<nint>();
        for (int i = 0; i < 50; i++)
        {
            using var t = Tensor.Zeros(Big);
            using var u = Tensor.Zeros(Big);
            seen.Add((nint)t.Data);
            seen.Add((nint)u.Data);
        }
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public void A_scope_returns_its_temporaries_to_the_pool()
    {
        nint inside;
        using (Tensor.NewScope())
        {
            var t = Tensor.Zeros(Big);
            inside = (nint)t.Data;
        }
        using var again = Tensor.Zeros(Big);
        Assert.Equal(inside, (nint)again.Data);
    }

    [Fact]
    public void A_scope_disposes_tensors_created_inside_it()
    {
        using var outside = Tensor.Ones(2, 3);
        Tensor a, b, v;
        using (Tensor.NewScope())
        {
            a = Tensor.Ones(2, 3);
            b = a.Add(outside);
            v = b.T;
            Assert.False(a.IsDisposed || b.IsDisposed || v.IsDisposed);
        }
        Assert.True(a.IsDisposed);
        Assert.True(b.IsDisposed);
        Assert.True(v.IsDisposed);
        Assert.False(outside.IsDisposed);
        Assert.Equal(Enumerable.Repeat(1f, 6), outside.ToArray());
    }

    [Fact]
    public void Keep_moves_a_tensor_out_of_the_scope()
    {
        Tensor kept, dropped;
        using (var scope = Tensor.NewScope())
        {
            var x = Tensor.Ones(3);
            dropped = x.Mul(2f);
            kept = scope.Keep(x.Add(1f));
        }
        Assert.True(dropped.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal(new[] { 2f, 2f, 2f }, kept.ToArray());
        kept.Dispose();
    }

    [Fact]
    public void A_kept_view_outlives_its_disposed_base()
    {
        Tensor kept, baseT;
        using (var scope = Tensor.NewScope())
        {
            baseT = TensorTests.Iota(2, 3);
            kept = scope.Keep(baseT.T);
        }
        Assert.True(baseT.IsDisposed);
        using var other = Tensor.Full(new[] { 2, 3 }, -1f);   // must not get the kept view's block
        Assert.Equal(new[] { 0f, 3f, 1f, 4f, 2f, 5f }, kept.ToArray());
        kept.Dispose();
    }

    [Fact]
    public void Nested_scopes_dispose_their_own_tensors_and_Keep_hands_to_the_enclosing_scope()
    {
        Tensor outerT, innerT, keptT;
        using (Tensor.NewScope())
        {
            outerT = Tensor.Zeros(2);
            using (var inner = Tensor.NewScope())
            {
                innerT = Tensor.Zeros(2);
                keptT = inner.Keep(Tensor.Ones(2));
            }
            Assert.True(innerT.IsDisposed);
            Assert.False(outerT.IsDisposed);
            Assert.False(keptT.IsDisposed);
            var afterInner = Tensor.Zeros(2);   // the outer scope is current again
            Assert.False(afterInner.IsDisposed);
            innerT = afterInner;
        }
        Assert.True(outerT.IsDisposed);
        Assert.True(keptT.IsDisposed);
        Assert.True(innerT.IsDisposed);
        // No scope is current any more.
        using var free = Tensor.Zeros(2);
        using (Tensor.NewScope()) { }
        Assert.False(free.IsDisposed);
    }

    [Fact]
    public void A_scope_can_be_disposed_twice()
    {
        var scope = Tensor.NewScope();
        var t = Tensor.Zeros(2);
        scope.Dispose();
        scope.Dispose();
        Assert.True(t.IsDisposed);
        using var after = Tensor.Zeros(2);
        Assert.False(after.IsDisposed);
    }

    [Fact]
    public void Leaf_gradients_survive_the_scope_of_the_step_that_made_them()
    {
        using var w = Tensor.FromArray(new[] { 1f, -2f, 3f }, new[] { 3 }, requiresGrad: true);
        for (int step = 0; step < 3; step++)
        {
            using (Tensor.NewScope())
            {
                var loss = w.Mul(w).Sum();
                loss.Backward();
            }
            Assert.NotNull(w.Grad);
            Assert.False(w.Grad!.IsDisposed);
            // d/dw Σ w² = 2w, accumulated once per step
            Assert.Equal(new[] { 2f, -4f, 6f }.Select(g => g * (step + 1)), w.Grad.ToArray());
        }
        Assert.False(w.IsDisposed);
    }

    [Fact]
    public void Leaf_gradient_of_a_broadcast_use_survives_the_scope()
    {
        using var b = Tensor.Zeros(3);
        b.RequiresGrad = true;
        using (Tensor.NewScope())
        {
            var x = Tensor.Ones(4, 3);
            x.Add(b).Sum().Backward();
        }
        Assert.Equal(new[] { 4f, 4f, 4f }, b.Grad!.ToArray());
    }

    [Fact]
    public void Use_after_dispose_throws_ObjectDisposedException_naming_the_shape()
    {
        var t = Tensor.Ones(2, 3);
        t.Dispose();
        Assert.True(t.IsDisposed);
        var a = Assert.Throws<ObjectDisposedException>(() => t.ToArray());
        Assert.Contains("[2, 3]", a.Message);
        Assert.Contains("Dispose", a.Message);
        using var u = Tensor.Ones(2, 3);
        var b = Assert.Throws<ObjectDisposedException>(() => t.Add(u));
        Assert.Contains("[2, 3]", b.Message);
        Assert.Throws<ObjectDisposedException>(() => u.Add(t));
        Assert.Throws<ObjectDisposedException>(() => t.Transpose(0, 1));
        Assert.Throws<ObjectDisposedException>(() => t.Reshape(6));
        Assert.Throws<ObjectDisposedException>(() => t.Sum());
        // Metadata stays readable.
        Assert.Equal(new[] { 2, 3 }, t.Shape);
    }

    [Fact]
    public void Use_of_an_int64_tensor_after_dispose_names_its_dtype_and_shape()
    {
        var t = Tensor.FromArray(new long[] { 1, 2 }, new[] { 2 });
        t.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => t.ToInt64Array());
        Assert.Contains("[2]", e.Message);
        Assert.Contains("int64", e.Message);
    }

    [Fact]
    public void Double_dispose_releases_the_storage_once()
    {
        var t = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, new[] { 4 });
        using var v = t.View(2, 2);   // shares t's storage
        t.Dispose();
        t.Dispose();                  // must not drop the view's reference as well
        using var other = Tensor.Full(new[] { 4 }, 9f);   // would reuse the block if it had been freed
        Assert.NotEqual((nint)v.Data, (nint)other.Data);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f }, v.ToArray());
    }

    [Fact]
    public void A_view_keeps_storage_alive_after_the_base_is_disposed()
    {
        var x = TensorTests.Iota(Big);
        using var tail = x.Narrow(0, Big - 3, 3);
        nint basePtr = (nint)x.Data;
        x.Dispose();
        using var fresh = Tensor.Full(new[] { Big }, -1f);
        Assert.NotEqual(basePtr, (nint)fresh.Data);
        Assert.Equal(new[] { Big - 3f, Big - 2f, Big - 1f }, tail.ToArray());
        Assert.Throws<ObjectDisposedException>(() => x.ToArray());
    }

    [Fact]
    public void Disposing_a_view_leaves_the_base_intact()
    {
        using var x = Tensor.FromArray(new[] { 1f, 2f, 3f }, new[] { 3 });
        var v = x.Unsqueeze(0);
        v.Dispose();
        using var other = Tensor.Full(new[] { 3 }, 5f);
        Assert.Equal(new[] { 1f, 2f, 3f }, x.ToArray());
    }

    [Fact]
    public void Last_reference_returns_the_block()
    {
        nint p;
        var x = Tensor.Zeros(Big);
        p = (nint)x.Data;
        var v = x.Reshape(Big / 2, 2);
        x.Dispose();
        using (var probe = Tensor.Zeros(Big)) Assert.NotEqual(p, (nint)probe.Data);
        v.Dispose();
        using var again = Tensor.Zeros(Big);
        Assert.Equal(p, (nint)again.Data);
    }
}
