using Attend;
using Xunit;
using F = Attend.Functional;

namespace Attend.Tests;

/// <summary>
/// Bad input: every error is an exception of a specific type whose message names the op, the shapes involved
/// (printed as <c>[2, 3]</c>) and the offending argument or value.
/// </summary>
public class BadInputTests
{
    private static Tensor X(params int[] shape) => Tensor.Zeros(shape);
    private static Tensor Ids(long[] v, params int[] shape) => Tensor.FromArray(v, shape);

    /// <summary>Asserts that <paramref name="a"/> throws exactly <typeparamref name="TEx"/> with every fragment in its message.</summary>
    private static TEx Throws<TEx>(Func<object?> a, params string[] fragments) where TEx : Exception
    {
        var e = Assert.Throws<TEx>(a);
        foreach (var f in fragments)
            Assert.True(e.Message.Contains(f, StringComparison.Ordinal), $"message lacks \"{f}\": {e.Message}");
        return e;
    }

    // ---- broadcasting ------------------------------------------------------------------------------------------

    [Fact]
    public void Non_broadcastable_arithmetic_names_the_op_and_both_shapes()
    {
        using var a = X(2, 3);
        using var b = X(4);
        using var c = X(3, 2);
        Throws<ArgumentException>(() => a.Add(b), "add", "[2, 3]", "[4]");
        Throws<ArgumentException>(() => a.Sub(b), "sub", "[2, 3]", "[4]");
        Throws<ArgumentException>(() => a.Mul(c), "mul", "[2, 3]", "[3, 2]");
        Throws<ArgumentException>(() => a / c, "div", "[2, 3]", "[3, 2]");
        Throws<ArgumentException>(() => a.Pow(c), "pow", "[2, 3]", "[3, 2]");
        Throws<ArgumentException>(() => a.Lt(b), "lt", "[2, 3]", "[4]");
    }

    [Fact]
    public void Non_broadcastable_where_names_the_op_and_the_shapes()
    {
        using var cond = Tensor.FromArray(new bool[6], new[] { 2, 3 });
        using var a = X(2, 3);
        using var b = X(2, 4);
        using var c3 = Tensor.FromArray(new bool[3], new[] { 3 });
        using var a22 = X(2, 2);
        Throws<ArgumentException>(() => Tensor.Where(cond, a, b), "where", "[2, 3]", "[2, 4]");
        Throws<ArgumentException>(() => Tensor.Where(c3, a22, a22), "where", "[3]", "[2, 2]");
    }

    [Fact]
    public void Expand_to_an_incompatible_size_names_both_shapes()
    {
        using var a = X(2, 3);
        Throws<ArgumentException>(() => a.Expand(4, 3), "expand", "[2, 3]", "[4, 3]");
        Throws<ArgumentException>(() => a.Expand(3), "expand", "[2, 3]", "[3]");
    }

    // ---- matmul ------------------------------------------------------------------------------------------------

    [Fact]
    public void Matmul_inner_dim_mismatch_names_both_shapes()
    {
        using var a = X(2, 3);
        using var b = X(4, 5);
        Throws<ArgumentException>(() => a.Matmul(b), "matmul", "[2, 3]", "[4, 5]");
        using var v3 = X(3);
        using var v4 = X(4);
        Throws<ArgumentException>(() => v3.Matmul(v4), "matmul", "[3]", "[4]");
        Throws<ArgumentException>(() => v4.Matmul(a), "matmul", "[4]", "[2, 3]");
        using var a3 = X(5, 2, 3);
        using var b3 = X(5, 4, 2);
        Throws<ArgumentException>(() => a3.Matmul(b3), "matmul", "[5, 2, 3]", "[5, 4, 2]");
    }

    [Fact]
    public void Matmul_non_broadcastable_batch_dims_name_both_shapes()
    {
        using var a = X(2, 2, 3);
        using var b = X(3, 3, 4);
        Throws<ArgumentException>(() => a.Matmul(b), "matmul", "[2, 2, 3]", "[3, 3, 4]");
    }

    [Fact]
    public void Matmul_with_a_zero_dimensional_operand_throws()
    {
        using var s = Tensor.Scalar(2f);
        using var v = X(3);
        Throws<ArgumentException>(() => s.Matmul(v), "matmul", "[]", "[3]");
        Throws<ArgumentException>(() => v.Matmul(s), "matmul", "[3]", "[]");
    }

    // ---- ranks -------------------------------------------------------------------------------------------------

    [Fact]
    public void Wrong_rank_names_the_op_and_the_shape()
    {
        using var x3 = X(2, 3, 4);
        using var v = X(3);
        Throws<InvalidOperationException>(() => x3.T, "T", "[2, 3, 4]");
        Throws<InvalidOperationException>(() => v.T, "T", "[3]");
        Throws<ArgumentException>(() => v.Tril(), "tril", "[3]");
        Throws<ArgumentException>(() => v.Triu(), "triu", "[3]");
        using var w1 = X(4);
        using var w3 = X(4, 2, 1);
        using var ids = Ids(new long[] { 0 }, 1);
        Throws<ArgumentException>(() => F.Embedding(ids, w1), "embedding", "weight", "[4]");
        Throws<ArgumentException>(() => F.Embedding(ids, w3), "embedding", "weight", "[4, 2, 1]");
    }

    [Fact]
    public void Layer_norm_shape_errors_name_the_shapes()
    {
        using var x = X(2, 3);
        Throws<ArgumentException>(() => F.LayerNorm(x, new[] { 4 }), "layer_norm", "[4]", "[2, 3]");
        Throws<ArgumentException>(() => F.LayerNorm(x, new[] { 5, 2, 3 }), "layer_norm", "[5, 2, 3]", "[2, 3]");
        Throws<ArgumentException>(() => F.LayerNorm(x, Array.Empty<int>()), "layer_norm", "[]", "[2, 3]");
        using var w = X(4);
        using var b = X(3, 1);
        Throws<ArgumentException>(() => F.LayerNorm(x, new[] { 3 }, weight: w), "layer_norm", "weight", "[4]", "[3]");
        Throws<ArgumentException>(() => F.LayerNorm(x, new[] { 3 }, bias: b), "layer_norm", "bias", "[3, 1]", "[3]");
    }

    [Fact]
    public void Permute_with_the_wrong_number_of_dims_names_the_shape()
    {
        using var x = X(2, 3);
        Throws<ArgumentException>(() => x.Permute(0), "permute", "[2, 3]");
        Throws<ArgumentException>(() => x.Permute(0, 1, 2), "permute", "[2, 3]");
    }

    // ---- dims --------------------------------------------------------------------------------------------------

    [Fact]
    public void Out_of_range_dims_name_the_op_the_dim_and_the_shape()
    {
        using var x = X(2, 3);
        Throws<ArgumentOutOfRangeException>(() => x.Sum(2), "sum", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Sum(new[] { 0, -3 }), "sum", "dim -3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Mean(5), "mean", "dim 5", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Var(2), "var", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Max(2), "max", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, 2), "transpose", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Transpose(-3, 0), "transpose", "dim -3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => F.Softmax(x, 2), "softmax", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => F.LogSoftmax(x, -3), "log_softmax", "dim -3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Narrow(2, 0, 1), "narrow", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Select(-3, 0), "select", "dim -3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Unsqueeze(3), "unsqueeze", "dim 3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Squeeze(2), "squeeze", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Movedim(0, 2), "movedim", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Flatten(0, 2), "flatten", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Permute(0, 2), "permute", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Size(2), "size", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Split(1, 2), "split", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Chunk(2, -3), "chunk", "dim -3", "[2, 3]");
        using var i = Ids(new long[] { 0, 0, 0, 0, 0, 0 }, 2, 3);
        Throws<ArgumentOutOfRangeException>(() => x.Gather(2, i), "gather", "dim 2", "[2, 3]");
        using var y = X(2, 3);
        Throws<ArgumentOutOfRangeException>(() => Tensor.Cat(new[] { x, y }, 2), "cat", "dim 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => Tensor.Stack(new[] { x, y }, 3), "stack", "dim 3", "[2, 3]");
    }

    [Fact]
    public void Repeated_dims_are_refused()
    {
        using var x = X(2, 3, 4);
        Throws<ArgumentException>(() => x.Permute(0, 0, 1), "permute", "[0, 0, 1]", "[2, 3, 4]");
        Throws<ArgumentException>(() => x.Permute(1, -2, 0), "permute", "[1, -2, 0]", "[2, 3, 4]");
        Throws<ArgumentException>(() => x.Sum(new[] { 1, -2 }), "sum", "[1, -2]", "[2, 3, 4]");
    }

    [Fact]
    public void Out_of_range_slices_name_the_op_the_values_and_the_shape()
    {
        using var x = X(2, 3);
        Throws<ArgumentOutOfRangeException>(() => x.Narrow(1, 2, 2), "narrow", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Narrow(1, 0, -1), "narrow", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Narrow(0, -3, 1), "narrow", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Select(0, 2), "select", "index 2", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Select(1, -4), "select", "index -4", "[2, 3]");
    }

    // ---- indices -----------------------------------------------------------------------------------------------

    [Fact]
    public void Out_of_range_gather_indices_name_the_index_and_the_shape()
    {
        using var x = X(2, 3);
        using var hi = Ids(new long[] { 0, 3 }, 2, 1);
        using var lo = Ids(new long[] { -4, 0 }, 2, 1);
        Throws<ArgumentOutOfRangeException>(() => x.Gather(1, hi), "gather", "index 3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => x.Gather(1, lo), "gather", "index -4", "[2, 3]");
        using var rank = Ids(new long[] { 0 }, 1);
        Throws<ArgumentException>(() => x.Gather(1, rank), "gather", "[1]", "[2, 3]");
        using var big = Ids(new long[9], 3, 3);
        Throws<ArgumentException>(() => x.Gather(1, big), "gather", "[3, 3]", "[2, 3]");
    }

    [Fact]
    public void Out_of_range_embedding_ids_name_the_id_and_the_table_shape()
    {
        using var w = X(4, 2);
        using var hi = Ids(new long[] { 1, 4 }, 2);
        using var lo = Ids(new long[] { -1 }, 1);
        Throws<ArgumentOutOfRangeException>(() => F.Embedding(hi, w), "embedding", "index 4", "[4, 2]");
        Throws<ArgumentOutOfRangeException>(() => F.Embedding(lo, w), "embedding", "index -1", "[4, 2]");
        Throws<ArgumentOutOfRangeException>(() => F.Embedding(hi.Narrow(0, 0, 1), w, paddingIdx: 4), "embedding", "paddingIdx 4", "[4, 2]");
    }

    [Fact]
    public void Out_of_range_targets_name_the_op_the_target_and_the_shape()
    {
        using var logits = X(2, 3);
        using var hi = Ids(new long[] { 0, 3 }, 2);
        using var lo = Ids(new long[] { -1, 0 }, 2);
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(logits, hi), "cross_entropy", "target 3", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(logits, lo), "cross_entropy", "target -1", "[2, 3]");
        Throws<ArgumentOutOfRangeException>(() => F.NllLoss(logits, hi), "nll_loss", "target 3", "[2, 3]");
        using var wrong = Ids(new long[] { 0, 1, 2 }, 3);
        Throws<ArgumentException>(() => F.CrossEntropy(logits, wrong), "cross_entropy", "[3]", "[2, 3]");
        Throws<ArgumentException>(() => F.NllLoss(logits, wrong), "nll_loss", "[3]", "[2, 3]");
        using var w = X(4);
        using var ok = Ids(new long[] { 0, 1 }, 2);
        Throws<ArgumentException>(() => F.CrossEntropy(logits, ok, weight: w), "cross_entropy", "weight", "[4]", "[2, 3]");
        using var probs = X(2, 4);
        Throws<ArgumentException>(() => F.CrossEntropy(logits, probs), "cross_entropy", "[2, 4]", "[2, 3]");
    }

    [Fact]
    public void Max_of_an_empty_tensor_throws()
    {
        using var e = X(0);
        Throws<ArgumentException>(() => e.Max(), "max", "[0]");
        using var e2 = X(2, 0);
        Throws<ArgumentException>(() => e2.Max(1), "max", "[2, 0]");
        Throws<ArgumentException>(() => e2.Max(-1, keepdim: true), "max", "[2, 0]");
    }

    // ---- shapes and sizes --------------------------------------------------------------------------------------

    [Fact]
    public void Reshape_to_an_incompatible_size_names_both_shapes()
    {
        using var x = X(2, 3);
        Throws<ArgumentException>(() => x.Reshape(4), "reshape", "[4]", "[2, 3]");
        Throws<ArgumentException>(() => x.Reshape(-1, 4), "reshape", "[-1, 4]", "[2, 3]");
        Throws<ArgumentException>(() => x.Reshape(-1, -1), "reshape", "[-1, -1]");
        Throws<ArgumentException>(() => x.Reshape(-2, -3), "reshape", "[-2, -3]");
        Throws<ArgumentException>(() => x.View(7), "view", "[7]", "[2, 3]");
        using var t = x.T;
        Throws<ArgumentException>(() => t.Reshape(5), "reshape", "[5]", "[3, 2]");
    }

    [Fact]
    public void FromArray_with_the_wrong_length_names_the_shape_and_the_count()
    {
        Throws<ArgumentException>(() => Tensor.FromArray(new float[5], new[] { 2, 3 }), "FromArray", "[2, 3]", "5");
        Throws<ArgumentException>(() => Tensor.FromArray(new long[7], new[] { 2, 3 }), "FromArray", "[2, 3]", "7");
        Throws<ArgumentException>(() => Tensor.FromArray(new bool[1], new[] { 2, 3 }), "FromArray", "[2, 3]", "1");
        Throws<ArgumentException>(() => Tensor.FromArray(new float[0], new[] { 2, -3 }), "FromArray", "[2, -3]", "negative");
        Throws<ArgumentException>(() => Tensor.Zeros(-1, 2), "[-1, 2]", "negative");
    }

    [Fact]
    public void Item_of_a_multi_element_tensor_names_the_shape()
    {
        using var x = X(2, 3);
        Throws<InvalidOperationException>(() => x.Item(), "Item", "[2, 3]");
    }

    // ---- dtypes ------------------------------------------------------------------------------------------------

    [Fact]
    public void Float_ops_on_int64_tensors_name_the_op_the_argument_and_the_dtype()
    {
        using var ids = Ids(new long[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var x = X(2, 3);
        Throws<ArgumentException>(() => ids.Exp(), "exp", "int64", "[2, 3]");
        Throws<ArgumentException>(() => ids.Add(x), "add", "self", "int64", "[2, 3]");
        Throws<ArgumentException>(() => x.Mul(ids), "mul", "other", "int64", "[2, 3]");
        Throws<ArgumentException>(() => ids.Sum(), "sum", "int64", "[2, 3]");
        Throws<ArgumentException>(() => ids.Matmul(x.T), "matmul", "int64", "[2, 3]");
        Throws<ArgumentException>(() => F.Softmax(ids, -1), "softmax", "int64", "[2, 3]");
        Throws<ArgumentException>(() => F.LayerNorm(ids, new[] { 3 }), "layer_norm", "int64", "[2, 3]");
        Throws<ArgumentException>(() => ids.Mul(2f), "mul", "int64", "[2, 3]");
    }

    [Fact]
    public void Masks_and_indices_of_the_wrong_dtype_are_refused()
    {
        using var x = X(2, 3);
        using var fmask = X(2, 3);
        using var idsAsFloat = X(2, 1);
        Throws<ArgumentException>(() => x.MaskedFill(fmask, 0f), "masked_fill", "mask", "float32", "[2, 3]");
        Throws<ArgumentException>(() => Tensor.Where(fmask, x, x), "where", "condition", "float32", "[2, 3]");
        Throws<ArgumentException>(() => x.Gather(1, idsAsFloat), "gather", "index", "float32", "[2, 1]");
        using var w = X(4, 2);
        Throws<ArgumentException>(() => F.Embedding(idsAsFloat, w), "embedding", "input", "float32", "[2, 1]");
        using var boolTarget = Tensor.FromArray(new bool[2], new[] { 2 });
        Throws<ArgumentException>(() => F.CrossEntropy(x, boolTarget), "cross_entropy", "target", "bool", "[2]");
        Throws<ArgumentException>(() => fmask.LogicalNot(), "logical_not", "float32", "[2, 3]");
    }

    // ---- joins -------------------------------------------------------------------------------------------------

    [Fact]
    public void Cat_with_mismatched_shapes_or_dtypes_names_them()
    {
        using var a = X(2, 3);
        using var b = X(2, 4);
        using var r3 = X(2, 3, 1);
        using var ids = Ids(new long[6], 2, 3);
        Throws<ArgumentException>(() => Tensor.Cat(new[] { a, b }, 0), "cat", "[2, 3]", "[2, 4]");
        Throws<ArgumentException>(() => Tensor.Cat(new[] { a, r3 }, 0), "cat", "[2, 3]", "[2, 3, 1]");
        Throws<ArgumentException>(() => Tensor.Cat(new[] { a, ids }, 0), "cat", "int64", "float32", "[2, 3]");
        Throws<ArgumentException>(() => Tensor.Cat(Array.Empty<Tensor>(), 0), "cat");
        using var s = Tensor.Scalar(1f);
        Throws<ArgumentException>(() => Tensor.Cat(new[] { s, s }, 0), "cat", "zero-dimensional");
        Throws<ArgumentException>(() => Tensor.Stack(new[] { a, b }), "stack", "[2, 3]", "[2, 4]");
    }

    [Fact]
    public void Split_sizes_that_do_not_add_up_are_refused()
    {
        using var x = X(3, 2);
        Throws<ArgumentException>(() => x.Split(new[] { 1, 1 }, 0), "split", "[1, 1]", "[3, 2]");
        Throws<ArgumentException>(() => x.Split(new[] { 4, -1 }, 0), "split", "[4, -1]", "[3, 2]");
        Throws<ArgumentException>(() => x.Split(0), "split", "0");
        Throws<ArgumentException>(() => x.Chunk(0), "chunk", "0");
    }

    // ---- scalar arguments --------------------------------------------------------------------------------------

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void Dropout_probability_outside_unit_interval_is_refused(float p)
    {
        using var x = X(2, 3);
        var e = Throws<ArgumentOutOfRangeException>(() => F.Dropout(x, p), "dropout", "probability");
        Assert.Equal("p", e.ParamName);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1.01f)]
    public void Label_smoothing_outside_unit_interval_is_refused(float eps)
    {
        using var x = X(2, 3);
        using var t = Ids(new long[] { 0, 1 }, 2);
        var e = Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(x, t, labelSmoothing: eps), "cross_entropy", "labelSmoothing");
        Assert.Equal("labelSmoothing", e.ParamName);
    }

    [Fact]
    public void Var_without_degrees_of_freedom_names_the_shape()
    {
        using var one = X(1);
        Throws<ArgumentException>(() => one.Var(), "var", "[1]", "degrees of freedom");
        using var col = X(2, 1);
        Throws<ArgumentException>(() => col.Var(1), "var", "[2, 1]");
        Throws<ArgumentException>(() => col.Var(0, correction: 2), "var", "[2, 1]");
        using var ok = col.Var(0, correction: 1);   // n = 2 leaves one degree of freedom
        Assert.Equal(new[] { 1 }, ok.Shape);
    }

    [Fact]
    public void Other_argument_errors_name_the_op()
    {
        using var x = X(2, 3);
        Throws<ArgumentException>(() => x.Gelu("fast"), "gelu", "fast");
        Throws<ArgumentException>(() => x.Clamp(), "clamp");
        Throws<ArgumentException>(() => x.Flatten(1, 0), "flatten");
        Throws<ArgumentOutOfRangeException>(() => F.Embedding(Ids(new long[] { 0 }, 1), X(4, 2), paddingIdx: -5), "embedding", "paddingIdx -5", "[4, 2]");
    }
}
