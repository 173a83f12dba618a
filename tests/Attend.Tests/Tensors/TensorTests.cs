using Attend;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// Creation (values, shapes, dtypes), 64-byte alignment, views over shared storage with the right strides, when
/// Contiguous/Reshape copy, read-out of views, random tensors and ToString.
/// </summary>
public unsafe class TensorTests
{
    internal static void Close(float[] expected, float[] actual, float tol = 1e-6f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1f, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]}, got {actual[i]}\n  expected [{string.Join(", ", expected.Take(16))}]\n  actual   [{string.Join(", ", actual.Take(16))}]");
    }

    /// <summary>Distinct values 0, 1, 2, … in the given shape.</summary>
    internal static Tensor Iota(params int[] shape)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        return Tensor.FromArray(Enumerable.Range(0, n).Select(i => (float)i).ToArray(), shape);
    }

    // ---- creation ----------------------------------------------------------------------------------------------

    [Fact]
    public void Zeros_ones_full_have_their_value_shape_and_dtype()
    {
        using var z = Tensor.Zeros(2, 3);
        using var o = Tensor.Ones(4);
        using var f = Tensor.Full(new[] { 3, 1, 2 }, 2.5f);
        Assert.Equal(new[] { 2, 3 }, z.Shape);
        Assert.Equal(6, z.NumEl);
        Assert.Equal(2, z.Rank);
        Assert.Equal(DType.Float32, z.DType);
        Assert.All(z.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(new[] { 1f, 1f, 1f, 1f }, o.ToArray());
        Assert.Equal(new[] { 3, 1, 2 }, f.Shape);
        Assert.All(f.ToArray(), v => Assert.Equal(2.5f, v));
        Assert.False(f.RequiresGrad);
        using var g = Tensor.Full(new[] { 2 }, 1f, requiresGrad: true);
        Assert.True(g.RequiresGrad);
        Assert.True(g.IsLeaf);
    }

    [Fact]
    public void Like_constructors_copy_the_shape()
    {
        using var x = Tensor.Zeros(2, 5);
        using var z = Tensor.ZerosLike(x);
        using var o = Tensor.OnesLike(x);
        Assert.Equal(x.Shape, z.Shape);
        Assert.Equal(Enumerable.Repeat(1f, 10), o.ToArray());
    }

    [Fact]
    public void Scalar_is_zero_dimensional()
    {
        using var s = Tensor.Scalar(3.5f);
        Assert.Equal(0, s.Rank);
        Assert.Empty(s.Shape);
        Assert.Equal(1, s.NumEl);
        Assert.Equal(3.5f, s.Item());
        Assert.True(s.IsContiguous);
    }

    [Fact]
    public void Empty_shapes_hold_no_elements()
    {
        using var e = Tensor.Zeros(2, 0, 3);
        Assert.Equal(0, e.NumEl);
        Assert.Empty(e.ToArray());
        using var t = e.Transpose(0, 2);
        Assert.Equal(new[] { 3, 0, 2 }, t.Shape);
        Assert.Empty(t.ToArray());
    }

    [Fact]
    public void FromArray_float_round_trips_in_row_major_order()
    {
        var v = new[] { 1f, -2f, 3.25f, float.NaN, float.NegativeInfinity, 6f };
        using var t = Tensor.FromArray(v, new[] { 2, 3 });
        Assert.Equal(new[] { 2, 3 }, t.Shape);
        Assert.Equal(new[] { 3, 1 }, t.Strides);
        Assert.Equal(v, t.ToArray());
        v[0] = 100f;   // the tensor holds its own copy
        Assert.Equal(1f, t.ToArray()[0]);
    }

    [Fact]
    public void Int64_tensors_round_trip_and_convert_to_float()
    {
        var ids = new long[] { 0, 5, -3, 1L << 40, 7, 2 };
        using var t = Tensor.FromArray(ids, new[] { 3, 2 });
        Assert.Equal(DType.Int64, t.DType);
        Assert.Equal(ids, t.ToInt64Array());
        Assert.Equal(new[] { 0f, 5f, -3f, (float)(1L << 40), 7f, 2f }, t.ToArray());
        Assert.True(((nint)t.LongData) % 64 == 0);
        // A transposed int64 view reads in its own row-major order.
        using var tt = t.Transpose(0, 1);
        Assert.Equal(new long[] { 0, -3, 7, 5, 1L << 40, 2 }, tt.ToInt64Array());
        using var f = t.ToFloat();
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(t.ToArray(), f.ToArray());
    }

    [Fact]
    public void Bool_tensors_round_trip_and_convert_to_float()
    {
        var m = new[] { true, false, false, true };
        using var t = Tensor.FromArray(m, new[] { 2, 2 });
        Assert.Equal(DType.Bool, t.DType);
        Assert.Equal(m, t.ToBoolArray());
        Assert.Equal(new[] { 1f, 0f, 0f, 1f }, t.ToArray());
        using var tt = t.T;
        Assert.Equal(new[] { true, false, false, true }, tt.ToBoolArray());
        using var n = t.LogicalNot();
        Assert.Equal(new[] { false, true, true, false }, n.ToBoolArray());
        Assert.Throws<InvalidOperationException>(() => t.ToInt64Array());
    }

    [Fact]
    public void Comparisons_give_bool_tensors()
    {
        using var x = Tensor.FromArray(new[] { 1f, 2f, 3f }, new[] { 3 });
        using var y = Tensor.FromArray(new[] { 2f }, new[] { 1 });
        using var lt = x.Lt(y);
        using var eq = x.Eq(2f);
        Assert.Equal(DType.Bool, lt.DType);
        Assert.Equal(new[] { true, false, false }, lt.ToBoolArray());
        Assert.Equal(new[] { false, true, false }, eq.ToBoolArray());
    }

    public static TheoryData<float, float, float, float[]> ArangeCases => new()
    {
        // Values as printed by torch.arange(start, end, step).
        { 0f, 5f, 1f, new[] { 0f, 1f, 2f, 3f, 4f } },
        { 1f, 2.5f, 0.5f, new[] { 1f, 1.5f, 2f } },
        { 5f, 0f, -1.5f, new[] { 5f, 3.5f, 2f, 0.5f } },
        { -1f, 1f, 0.75f, new[] { -1f, -0.25f, 0.5f } },
        { 3f, 3f, 1f, Array.Empty<float>() },
    };

    [Theory, MemberData(nameof(ArangeCases))]
    public void Arange_matches_torch(float start, float end, float step, float[] expected)
    {
        using var t = Tensor.Arange(start, end, step);
        Assert.Equal(new[] { expected.Length }, t.Shape);
        Close(expected, t.ToArray());
    }

    [Fact]
    public void Arange_of_a_float_step_has_torchs_length()
    {
        using var t = Tensor.Arange(0f, 1f, 0.1f);   // torch.arange(0, 1, 0.1) has 10 elements
        Assert.Equal(10, t.NumEl);
        Close(Enumerable.Range(0, 10).Select(i => i * 0.1f).ToArray(), t.ToArray(), 1e-6f);
        using var e = Tensor.Arange(4f);
        Assert.Equal(new[] { 0f, 1f, 2f, 3f }, e.ToArray());
    }

    [Fact]
    public void Arange_rejects_a_zero_step_and_the_wrong_direction()
    {
        var z = Assert.Throws<ArgumentException>(() => Tensor.Arange(0f, 5f, 0f));
        Assert.Contains("arange", z.Message);
        var w = Assert.Throws<ArgumentException>(() => Tensor.Arange(0f, 5f, -1f));
        Assert.Contains("arange", w.Message);
    }

    // ---- alignment ---------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(1000)]
    [InlineData(65537)]
    public void Data_is_64_byte_aligned(int n)
    {
        using var f = Tensor.Zeros(n);
        using var l = Tensor.FromArray(new long[n], new[] { n });
        using var b = Tensor.FromArray(new bool[n], new[] { n });
        using var r = Tensor.Randn(new[] { n }, new Random(n));
        Assert.Equal(0, (long)(nint)f.Data % 64);
        Assert.Equal(0, (long)(nint)l.RawData % 64);
        Assert.Equal(0, (long)(nint)b.RawData % 64);
        Assert.Equal(0, (long)(nint)r.Data % 64);
    }

    [Fact]
    public void Results_of_ops_are_64_byte_aligned()
    {
        using var x = Tensor.Randn(new[] { 7, 5 }, new Random(1));
        using var y = x.Add(1f);
        using var c = x.T.Contiguous();
        using var m = x.Matmul(x.T);
        Assert.Equal(0, (long)(nint)y.Data % 64);
        Assert.Equal(0, (long)(nint)c.Data % 64);
        Assert.Equal(0, (long)(nint)m.Data % 64);
    }

    // ---- views -------------------------------------------------------------------------------------------------

    [Fact]
    public void Contiguous_strides_are_row_major()
    {
        using var t = Tensor.Zeros(2, 3, 4);
        Assert.Equal(new[] { 12, 4, 1 }, t.Strides);
        Assert.True(t.IsContiguous);
    }

    [Fact]
    public void Transpose_is_a_view_with_swapped_shape_and_strides()
    {
        using var x = Iota(2, 3, 4);
        using var t = x.Transpose(0, 2);
        Assert.Equal(new[] { 4, 3, 2 }, t.Shape);
        Assert.Equal(new[] { 1, 4, 12 }, t.Strides);
        Assert.Equal((nint)x.Data, (nint)t.Data);
        Assert.False(t.IsContiguous);
        using var n = x.Transpose(-1, -2);
        Assert.Equal(new[] { 2, 4, 3 }, n.Shape);
        Assert.Equal(new[] { 12, 1, 4 }, n.Strides);
        // t[k, j, i] == x[i, j, k]
        var tv = t.ToArray();
        Assert.Equal(1f * 12 + 2 * 4 + 3, tv[3 * 6 + 2 * 2 + 1]);
    }

    [Fact]
    public void T_transposes_a_matrix()
    {
        using var x = Iota(2, 3);
        using var t = x.T;
        Assert.Equal(new[] { 3, 2 }, t.Shape);
        Assert.Equal(new[] { 1, 3 }, t.Strides);
        Assert.Equal(new[] { 0f, 3f, 1f, 4f, 2f, 5f }, t.ToArray());
    }

    [Fact]
    public void Permute_is_a_view_with_permuted_strides()
    {
        using var x = Iota(2, 3, 4);
        using var p = x.Permute(2, 0, 1);
        Assert.Equal(new[] { 4, 2, 3 }, p.Shape);
        Assert.Equal(new[] { 1, 12, 4 }, p.Strides);
        Assert.Equal((nint)x.Data, (nint)p.Data);
        using var neg = x.Permute(-1, 0, -2);
        Assert.Equal(p.Shape, neg.Shape);
        // p[k, i, j] == x[i, j, k]
        var pv = p.ToArray();
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    Assert.Equal(i * 12 + j * 4 + k, pv[k * 6 + i * 3 + j]);
    }

    [Fact]
    public void Movedim_moves_one_dim_like_torch()
    {
        using var x = Iota(2, 3, 4);
        using var a = x.Movedim(0, 2);    // torch.movedim(x, 0, 2).shape == (3, 4, 2)
        using var b = x.Movedim(2, 0);    // (4, 2, 3)
        using var c = x.Movedim(-1, 1);   // (2, 4, 3)
        Assert.Equal(new[] { 3, 4, 2 }, a.Shape);
        Assert.Equal(new[] { 4, 1, 12 }, a.Strides);
        Assert.Equal(new[] { 4, 2, 3 }, b.Shape);
        Assert.Equal(new[] { 2, 4, 3 }, c.Shape);
        Assert.Equal((nint)x.Data, (nint)a.Data);
    }

    [Fact]
    public void Narrow_is_a_view_at_an_offset()
    {
        using var x = Iota(4, 5);
        using var rows = x.Narrow(0, 1, 2);
        Assert.Equal(new[] { 2, 5 }, rows.Shape);
        Assert.Equal(new[] { 5, 1 }, rows.Strides);
        Assert.Equal((nint)(x.Data + 5), (nint)rows.Data);
        Assert.True(rows.IsContiguous);
        Assert.Equal(Enumerable.Range(5, 10).Select(i => (float)i), rows.ToArray());

        using var cols = x.Narrow(1, 2, 2);
        Assert.Equal(new[] { 4, 2 }, cols.Shape);
        Assert.Equal(new[] { 5, 1 }, cols.Strides);
        Assert.Equal((nint)(x.Data + 2), (nint)cols.Data);
        Assert.False(cols.IsContiguous);
        Assert.Equal(new[] { 2f, 3f, 7f, 8f, 12f, 13f, 17f, 18f }, cols.ToArray());

        using var fromEnd = x.Narrow(1, -2, 2);   // a negative start counts from the end, as torch.narrow
        Assert.Equal(new[] { 3f, 4f, 8f, 9f, 13f, 14f, 18f, 19f }, fromEnd.ToArray());
    }

    [Fact]
    public void Narrow_of_a_narrow_composes_offsets()
    {
        using var x = Iota(10);
        using var a = x.Narrow(0, 2, 6);
        using var b = a.Narrow(0, 3, 2);
        Assert.Equal((nint)(x.Data + 5), (nint)b.Data);
        Assert.Equal(new[] { 5f, 6f }, b.ToArray());
    }

    [Fact]
    public void Select_removes_the_dim_and_shares_storage()
    {
        using var x = Iota(3, 4);
        using var row = x.Select(0, 1);
        Assert.Equal(new[] { 4 }, row.Shape);
        Assert.Equal((nint)(x.Data + 4), (nint)row.Data);
        Assert.Equal(new[] { 4f, 5f, 6f, 7f }, row.ToArray());
        using var col = x.Select(1, -1);
        Assert.Equal(new[] { 3 }, col.Shape);
        Assert.Equal(new[] { 4 }, col.Strides);
        Assert.Equal(new[] { 3f, 7f, 11f }, col.ToArray());
        using var el = row.Select(0, 2);
        Assert.Equal(0, el.Rank);
        Assert.Equal(6f, el.Item());
    }

    [Fact]
    public void Expand_broadcasts_with_stride_zero()
    {
        using var x = Tensor.FromArray(new[] { 1f, 2f, 3f }, new[] { 3, 1 });
        using var e = x.Expand(2, 3, 4);
        Assert.Equal(new[] { 2, 3, 4 }, e.Shape);
        Assert.Equal(new[] { 0, 1, 0 }, e.Strides);
        Assert.Equal((nint)x.Data, (nint)e.Data);
        Assert.False(e.IsContiguous);
        var v = e.ToArray();
        Assert.Equal(24, v.Length);
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                    Assert.Equal(i + 1f, v[b * 12 + i * 4 + j]);
        using var keep = x.Expand(-1, 5);   // -1 keeps a size, as torch.expand
        Assert.Equal(new[] { 3, 5 }, keep.Shape);
    }

    [Fact]
    public void Unsqueeze_and_squeeze_are_views()
    {
        using var x = Iota(2, 3);
        using var a = x.Unsqueeze(0);
        using var b = x.Unsqueeze(-1);
        using var c = x.Unsqueeze(1);
        Assert.Equal(new[] { 1, 2, 3 }, a.Shape);
        Assert.Equal(new[] { 2, 3, 1 }, b.Shape);
        Assert.Equal(new[] { 2, 1, 3 }, c.Shape);
        Assert.True(a.IsContiguous && b.IsContiguous && c.IsContiguous);
        Assert.Equal((nint)x.Data, (nint)c.Data);
        using var s = c.Squeeze(1);
        Assert.Equal(new[] { 2, 3 }, s.Shape);
        Assert.Equal(new[] { 3, 1 }, s.Strides);
        using var same = x.Squeeze(0);   // size 2: unchanged, as PyTorch
        Assert.Equal(new[] { 2, 3 }, same.Shape);
        using var ones = Tensor.Zeros(1, 2, 1, 3, 1);
        using var all = ones.Squeeze();
        Assert.Equal(new[] { 2, 3 }, all.Shape);
        Assert.Equal((nint)ones.Data, (nint)all.Data);
    }

    [Fact]
    public void Unsqueeze_of_a_transposed_view_keeps_its_values()
    {
        using var x = Iota(2, 3);
        using var t = x.T;
        using var u = t.Unsqueeze(1);
        Assert.Equal(new[] { 3, 1, 2 }, u.Shape);
        Assert.Equal(t.ToArray(), u.ToArray());
    }

    [Fact]
    public void Flatten_merges_dims()
    {
        using var x = Iota(2, 3, 4);
        using var all = x.Flatten();
        using var mid = x.Flatten(1);
        using var front = x.Flatten(0, 1);
        Assert.Equal(new[] { 24 }, all.Shape);
        Assert.Equal(new[] { 2, 12 }, mid.Shape);
        Assert.Equal(new[] { 6, 4 }, front.Shape);
        Assert.Equal((nint)x.Data, (nint)all.Data);
        using var s = Tensor.Scalar(2f);
        using var fs = s.Flatten();
        Assert.Equal(new[] { 1 }, fs.Shape);
    }

    [Fact]
    public void Contiguous_returns_the_same_tensor_when_already_contiguous()
    {
        using var x = Iota(3, 4);
        Assert.Same(x, x.Contiguous());
        using var rows = x.Narrow(0, 1, 2);   // contiguous view
        Assert.Same(rows, rows.Contiguous());
    }

    [Fact]
    public void Contiguous_copies_a_non_contiguous_view()
    {
        using var x = Iota(3, 4);
        using var t = x.T;
        using var c = t.Contiguous();
        Assert.NotSame(t, c);
        Assert.True(c.IsContiguous);
        Assert.Equal(new[] { 1, 4 }, t.Strides);
        Assert.Equal(new[] { 3, 1 }, c.Strides);   // shape [4, 3]
        Assert.NotEqual((nint)x.Data, (nint)c.Data);
        Assert.Equal(t.ToArray(), c.ToArray());
    }

    [Fact]
    public void Reshape_of_a_contiguous_tensor_is_a_view()
    {
        using var x = Iota(2, 6);
        using var r = x.Reshape(3, -1);
        Assert.Equal(new[] { 3, 4 }, r.Shape);
        Assert.Equal(new[] { 4, 1 }, r.Strides);
        Assert.Equal((nint)x.Data, (nint)r.Data);
        using var v = x.View(4, 3);
        Assert.Equal((nint)x.Data, (nint)v.Data);
        Assert.Equal(x.ToArray(), v.ToArray());
    }

    [Fact]
    public void Reshape_of_a_non_contiguous_tensor_copies()
    {
        using var x = Iota(2, 3);
        using var t = x.T;                 // [3, 2]: 0 3 1 4 2 5
        using var r = t.Reshape(6);
        Assert.Equal(new[] { 0f, 3f, 1f, 4f, 2f, 5f }, r.ToArray());
        Assert.True(r.IsContiguous);
        Assert.NotEqual((nint)x.Data, (nint)r.Data);
        Assert.Equal(new[] { 0f, 1f, 2f, 3f, 4f, 5f }, x.ToArray());
    }

    [Fact]
    public void View_of_a_non_contiguous_tensor_throws()
    {
        using var x = Iota(2, 3);
        using var t = x.T;
        var ex = Assert.Throws<InvalidOperationException>(() => t.View(6));
        Assert.Contains("view", ex.Message);
        Assert.Contains("[3, 2]", ex.Message);
        Assert.Contains("Reshape", ex.Message);
    }

    [Fact]
    public void ToArray_reads_views_in_logical_order()
    {
        using var x = Iota(2, 3, 4);
        using var p = x.Permute(1, 2, 0);
        using var n = p.Narrow(1, 1, 2);            // [3, 2, 2]
        using var e = x.Select(2, 3).Unsqueeze(0).Expand(2, 2, 3);
        var expectedN = new List<float>();
        for (int j = 0; j < 3; j++)
            for (int k = 1; k < 3; k++)
                for (int i = 0; i < 2; i++)
                    expectedN.Add(i * 12 + j * 4 + k);
        Assert.Equal(expectedN, n.ToArray());
        var expectedE = new List<float>();
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    expectedE.Add(i * 12 + j * 4 + 3);
        Assert.Equal(expectedE, e.ToArray());
    }

    [Fact]
    public void Clone_copies_storage()
    {
        using var x = Iota(2, 2);
        using var c = x.Clone();
        Assert.NotEqual((nint)x.Data, (nint)c.Data);
        Assert.Equal(x.ToArray(), c.ToArray());
    }

    [Fact]
    public void Shape_and_strides_are_copies()
    {
        using var x = Tensor.Zeros(2, 3);
        x.Shape[0] = 99;
        x.Strides[0] = 99;
        Assert.Equal(new[] { 2, 3 }, x.Shape);
        Assert.Equal(new[] { 3, 1 }, x.Strides);
        Assert.Equal(3, x.Size(-1));
    }

    // ---- random ------------------------------------------------------------------------------------------------

    [Fact]
    public void Randn_and_Rand_repeat_with_the_same_generator_seed()
    {
        using var a = Tensor.Randn(new[] { 3, 7 }, new Random(42));
        using var b = Tensor.Randn(new[] { 3, 7 }, new Random(42));
        using var c = Tensor.Randn(new[] { 3, 7 }, new Random(43));
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), c.ToArray());
        using var u = Tensor.Rand(new[] { 9 }, new Random(5));
        using var v = Tensor.Rand(new[] { 9 }, new Random(5));
        Assert.Equal(u.ToArray(), v.ToArray());
    }

    [Fact]
    public void One_generator_continues_its_stream()
    {
        var rng = new Random(7);
        using var a = Tensor.Randn(new[] { 8 }, rng);
        using var b = Tensor.Randn(new[] { 8 }, rng);
        Assert.NotEqual(a.ToArray(), b.ToArray());
        using var both = Tensor.Randn(new[] { 16 }, new Random(7));
        Assert.Equal(a.ToArray().Concat(b.ToArray()), both.ToArray());
    }

    [Fact]
    public void Randn_is_standard_normal()
    {
        using var t = Tensor.Randn(new[] { 100_000 }, new Random(123));
        var v = t.ToArray();
        double mean = v.Average(x => (double)x);
        double std = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        Assert.InRange(mean, -0.015, 0.015);        // standard error 0.003
        Assert.InRange(std, 0.99, 1.01);
        Assert.All(v, x => Assert.True(float.IsFinite(x)));
        double within1 = v.Count(x => Math.Abs(x) < 1) / (double)v.Length;
        Assert.InRange(within1, 0.676, 0.690);      // 68.27 %
    }

    [Fact]
    public void Randn_of_odd_length_fills_every_element()
    {
        using var t = Tensor.Randn(new[] { 3, 3 }, new Random(2));
        using var u = Tensor.Randn(new[] { 10 }, new Random(2));
        Assert.Equal(u.ToArray().Take(9), t.ToArray());
    }

    [Fact]
    public void Rand_is_uniform_in_unit_interval()
    {
        using var t = Tensor.Rand(new[] { 100_000 }, new Random(9), requiresGrad: true);
        Assert.True(t.RequiresGrad);
        var v = t.ToArray();
        Assert.All(v, x => Assert.InRange(x, 0f, 0.99999994f));
        Assert.InRange(v.Average(x => (double)x), 0.495, 0.505);
    }

    // ---- printing ----------------------------------------------------------------------------------------------

    [Fact]
    public void ToString_shows_values_shape_dtype_and_grad()
    {
        using var x = Tensor.FromArray(new[] { 1f, 2.5f, -3f, 0.125f }, new[] { 2, 2 });
        Assert.Equal("tensor([1, 2.5, -3, 0.125], shape=[2, 2])", x.ToString());
        using var ids = Tensor.FromArray(new long[] { 3, 4 }, new[] { 2 });
        Assert.Equal("tensor([3, 4], shape=[2], dtype=int64)", ids.ToString());
        using var m = Tensor.FromArray(new[] { true, false }, new[] { 2 });
        Assert.Equal("tensor([True, False], shape=[2], dtype=bool)", m.ToString());
        using var g = Tensor.Ones(1);
        g.RequiresGrad = true;
        Assert.Contains("requires_grad=True", g.ToString());
        using var big = Tensor.Zeros(1000);
        var s = big.ToString();
        Assert.True(s.Length < 600, s);
        Assert.Contains("shape=[1000]", s);
        var d = Tensor.Zeros(2, 3);
        d.Dispose();
        Assert.Contains("disposed", d.ToString());
        Assert.Contains("[2, 3]", d.ToString());
    }
}

/// <summary>The default generator is global state: these run outside the parallel tests.</summary>
[Collection(SerialCollection.Name)]
public class TensorSeedTests
{
    [Fact]
    public void ManualSeed_makes_the_default_generator_repeat()
    {
        Tensor.ManualSeed(1234);
        using var a = Tensor.Randn(new[] { 5, 5 });
        using var u = Tensor.Rand(new[] { 5 });
        Tensor.ManualSeed(1234);
        using var b = Tensor.Randn(new[] { 5, 5 });
        using var v = Tensor.Rand(new[] { 5 });
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.Equal(u.ToArray(), v.ToArray());
        Tensor.ManualSeed(4321);
        using var c = Tensor.Randn(new[] { 5, 5 });
        Assert.NotEqual(a.ToArray(), c.ToArray());
    }

    [Fact]
    public void ManualSeed_repeats_dropout_masks()
    {
        using var x = Tensor.Ones(64);
        Tensor.ManualSeed(3);
        using var a = Functional.Dropout(x, 0.5f);
        Tensor.ManualSeed(3);
        using var b = Functional.Dropout(x, 0.5f);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.All(a.ToArray(), v => Assert.True(v == 0f || v == 2f));
    }
}
