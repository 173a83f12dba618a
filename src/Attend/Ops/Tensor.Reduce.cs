using Attend.Kernels;

namespace Attend;

/// <summary>Reductions over dimensions, with keepdim as PyTorch, and their backward.</summary>
public sealed unsafe partial class Tensor
{
    /// <summary>Sum of all elements as a 0-d tensor, as torch.Tensor.sum().</summary>
    public Tensor Sum() => SumDims(null, false, "sum");
    /// <summary>Sum over <paramref name="dim"/> (negative counts from the end), removed unless <paramref name="keepdim"/> (then size 1), as torch.Tensor.sum(dim, keepdim).</summary>
    public Tensor Sum(int dim, bool keepdim = false) => SumDims(new[] { dim }, keepdim, "sum");
    /// <summary>Sum over each of <paramref name="dims"/> (each at most once; an empty list reduces nothing), removed unless <paramref name="keepdim"/>, as torch.Tensor.sum(dims, keepdim).</summary>
    public Tensor Sum(int[] dims, bool keepdim = false) => SumDims(dims, keepdim, "sum");

    /// <summary>Mean of all elements as a 0-d tensor, as torch.Tensor.mean() (NaN for an empty tensor).</summary>
    public Tensor Mean() => MeanDims(null, false);
    /// <summary>Mean over <paramref name="dim"/>, removed unless <paramref name="keepdim"/> (then size 1), as torch.Tensor.mean(dim, keepdim).</summary>
    public Tensor Mean(int dim, bool keepdim = false) => MeanDims(new[] { dim }, keepdim);
    /// <summary>Mean over each of <paramref name="dims"/>, removed unless <paramref name="keepdim"/>, as torch.Tensor.mean(dims, keepdim).</summary>
    public Tensor Mean(int[] dims, bool keepdim = false) => MeanDims(dims, keepdim);

    private Tensor SumDims(int[]? dims, bool keepdim, string op)
    {
        Tensor.RequireFloat(this, op, "input");
        var mask = Reduce.Mask(dims, shape, op);
        var keep = Reduce.Run(this, mask, ReduceOp.Sum);
        var y = keepdim ? keep : DropDims(keep, mask);
        var from = shape;
        return y.WithGrad(op, new[] { this }, g => new[] { ExpandBack(g, mask, from) });
    }

    private Tensor MeanDims(int[]? dims, bool keepdim)
    {
        var mask = Reduce.Mask(dims, shape, "mean");
        int count = 1;
        for (int i = 0; i < Rank; i++) if (mask[i]) count *= shape[i];
        return SumDims(dims, keepdim, "mean").Div(count);
    }

    /// <summary>The largest element (a 0-d tensor). The gradient is shared evenly among tied maxima, as PyTorch.</summary>
    public Tensor Max()
    {
        Tensor.RequireFloat(this, "max", "input");
        if (NumEl == 0) throw new ArgumentException($"max: the input {Shapes.Str(shape)} is empty");
        var mask = Reduce.Mask(null, shape, "max");
        var y = DropDims(Reduce.Run(this, mask, ReduceOp.Max), mask);
        var x = this;
        return y.WithGrad("max", new[] { x }, g =>
        {
            using var ties = x.Eq(y).ToFloat();
            using var count = ties.Sum();
            return new[] { ties.Mul(g).Div(count) };
        });
    }

    /// <summary>The maximum along <paramref name="dim"/> and its index (int64; the first one among ties).
    /// The gradient flows to that index.</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepdim = false)
    {
        Tensor.RequireFloat(this, "max", "input");
        int d = Shapes.Dim(dim, shape, "max");
        if (Rank > 0 && shape[d] == 0) throw new ArgumentException($"max: dim {dim} of {Shapes.Str(shape)} has size 0");
        // Move dim last, then each row gives one max.
        using var moved = Rank == 0 ? Detach() : Detach().Movedim(d, -1);
        var c = moved.ContiguousRaw();
        int inner = Rank == 0 ? 1 : shape[d], rows = NumEl / Math.Max(inner, 1);
        var keepShape = (int[])shape.Clone();
        if (Rank > 0) keepShape[d] = 1;
        var vals = Empty(keepShape);
        var idx = Empty(keepShape, DType.Int64);
        float* s = c.Data; float* v = vals.Data; long* ix = idx.LongData;
        // keepShape with dim set to 1 has the same row order as moved's rows.
        for (int r = 0; r < rows; r++)
        {
            float* row = s + (long)r * inner;
            int best = 0;
            for (int j = 1; j < inner; j++)
                if (row[j] > row[best] || (float.IsNaN(row[j]) && !float.IsNaN(row[best]))) best = j;
            v[r] = row[best]; ix[r] = best;
        }
        if (!ReferenceEquals(c, moved)) c.Dispose();
        var mask = new bool[Rank]; if (Rank > 0) mask[d] = true;
        var values = keepdim ? vals : DropDims(vals, mask);
        var indices = keepdim ? idx.Detach() : DropDims(idx.Detach(), mask);   // idx itself stays alive for the backward
        var from = shape;
        values.WithGrad("max", new[] { this }, g =>
        {
            using var gk = g.Reshape(keepShape);
            using var ik = idx.Reshape(keepShape);
            return new[] { Zeros(from).ScatterAddRaw(d, ik, gk) };
        });
        return (values, indices);
    }

    /// <summary>Variance over dims with Bessel's correction (correction = 1, PyTorch's default) or another.</summary>
    public Tensor Var(int dim, bool keepdim = false, int correction = 1) => Var(new[] { dim }, keepdim, correction);
    /// <summary>Variance of all elements, <c>Σ(x − mean)² / (N − correction)</c> (correction = 1: unbiased, PyTorch's default), as torch.Tensor.var();
    /// <paramref name="keepdim"/> keeps every dim as size 1. Throws when N ≤ correction.</summary>
    public Tensor Var(bool keepdim = false, int correction = 1) => Var(null, keepdim, correction);

    /// <summary>Variance over <paramref name="dims"/> (null: all), <c>Σ(x − mean)² / (N − correction)</c> with N the number of reduced elements,
    /// as torch.Tensor.var(dims, correction=, keepdim=). Throws when N ≤ correction (PyTorch gives inf or NaN).</summary>
    public Tensor Var(int[]? dims, bool keepdim = false, int correction = 1)
    {
        Tensor.RequireFloat(this, "var", "input");
        var mask = Reduce.Mask(dims, shape, "var");
        int n = 1;
        for (int i = 0; i < Rank; i++) if (mask[i]) n *= shape[i];
        if (n - correction <= 0)
            throw new ArgumentException($"var: {n} elements with correction {correction} leave no degrees of freedom (input {Shapes.Str(shape)})");
        Tensor centered;
        using (Autograd.NoGrad())
        {
            using var mean = Reduce.Run(this, mask, ReduceOp.Sum);
            using var m = mean.Div(n);
            centered = Sub(m);
        }
        Tensor y;
        using (Autograd.NoGrad())
        {
            using var sq = centered.Mul(centered);
            using var s = Reduce.Run(sq, mask, ReduceOp.Sum);
            var v = s.Div(n - correction);
            y = keepdim ? v : DropDims(v, mask);
        }
        var from = shape;
        // d var / dx = 2(x − mean) / (n − correction)
        return y.WithGrad("var", new[] { this }, g =>
        {
            using var gx = ExpandBack(g, mask, from);
            return new[] { gx.Mul(centered).Mul(2f / (n - correction)) };
        });
    }

    private static Tensor DropDims(Tensor keep, bool[] mask)
    {
        var s = new List<int>();
        for (int i = 0; i < mask.Length; i++) if (!mask[i]) s.Add(keep.shape[i]);
        var ns = s.ToArray();
        var r = keep.ViewOf(keep.Offset, ns, Shapes.ContiguousStrides(ns));   // keep is contiguous
        keep.Dispose();
        return r;
    }

    /// <summary>Broadcasts a reduced gradient back over the reduced dims (a contiguous copy).</summary>
    private static Tensor ExpandBack(Tensor g, bool[] mask, int[] from)
    {
        var keepShape = new int[from.Length];
        for (int i = 0; i < from.Length; i++) keepShape[i] = mask[i] ? 1 : from[i];
        using var gk = g.Reshape(keepShape);
        using var e = gk.Expand(from);
        return e.CloneRaw();
    }
}
