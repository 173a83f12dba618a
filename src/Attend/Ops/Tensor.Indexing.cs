using Attend.Kernels;

namespace Attend;

/// <summary>Comparisons, masks and index-driven ops: masked_fill, where, gather, tril/triu.</summary>
public sealed unsafe partial class Tensor
{
    private delegate bool Cmp(float a, float b);

    private Tensor Compare(Tensor other, Cmp f, string op)
    {
        Tensor.RequireFloat(this, op, "self"); Tensor.RequireFloat(other, op, "other");
        var outShape = Shapes.Broadcast(shape, other.shape, op);
        var o = Empty(outShape, DType.Bool);
        var rows = new Rows(outShape, Shapes.BroadcastStrides(shape, strides, outShape), Shapes.BroadcastStrides(other.shape, other.strides, outShape));
        float* a = Data, b = other.Data; byte* d = o.RawData;
        int sa = rows.InnerStride(0), sb = rows.InnerStride(1);
        for (long r = 0; rows.Next(); r++)
        {
            float* ra = a + rows.Offset[0], rb = b + rows.Offset[1];
            byte* rd = d + r * rows.Inner;
            for (int j = 0; j < rows.Inner; j++) rd[j] = f(ra[(long)j * sa], rb[(long)j * sb]) ? (byte)1 : (byte)0;
        }
        return o;
    }

    private Tensor CompareScalar(float s, Cmp f, string op)
    {
        using var t = Scalar(s);
        return Compare(t, f, op);
    }

    /// <summary>Bool tensor of <c>this == o</c> elementwise over the broadcast shape, as torch.eq; both operands float32, not differentiable.</summary>
    public Tensor Eq(Tensor o) => Compare(o, (a, b) => a == b, "eq");
    /// <summary>Bool tensor of <c>this ≠ o</c> elementwise over the broadcast shape, as torch.ne; both operands float32, not differentiable.</summary>
    public Tensor Ne(Tensor o) => Compare(o, (a, b) => a != b, "ne");
    /// <summary>Bool tensor of <c>this &lt; o</c> elementwise over the broadcast shape, as torch.lt; both operands float32, not differentiable.</summary>
    public Tensor Lt(Tensor o) => Compare(o, (a, b) => a < b, "lt");
    /// <summary>Bool tensor of <c>this ≤ o</c> elementwise over the broadcast shape, as torch.le; both operands float32, not differentiable.</summary>
    public Tensor Le(Tensor o) => Compare(o, (a, b) => a <= b, "le");
    /// <summary>Bool tensor of <c>this &gt; o</c> elementwise over the broadcast shape, as torch.gt; both operands float32, not differentiable.</summary>
    public Tensor Gt(Tensor o) => Compare(o, (a, b) => a > b, "gt");
    /// <summary>Bool tensor of <c>this ≥ o</c> elementwise over the broadcast shape, as torch.ge; both operands float32, not differentiable.</summary>
    public Tensor Ge(Tensor o) => Compare(o, (a, b) => a >= b, "ge");
    /// <summary>Bool tensor of <c>this == s</c> elementwise, with this tensor's shape, as torch.eq with a scalar; float32 input, not differentiable.</summary>
    public Tensor Eq(float s) => CompareScalar(s, (a, b) => a == b, "eq");
    /// <summary>Bool tensor of <c>this ≠ s</c> elementwise, with this tensor's shape, as torch.ne with a scalar; float32 input, not differentiable.</summary>
    public Tensor Ne(float s) => CompareScalar(s, (a, b) => a != b, "ne");
    /// <summary>Bool tensor of <c>this &lt; s</c> elementwise, with this tensor's shape, as torch.lt with a scalar; float32 input, not differentiable.</summary>
    public Tensor Lt(float s) => CompareScalar(s, (a, b) => a < b, "lt");
    /// <summary>Bool tensor of <c>this ≤ s</c> elementwise, with this tensor's shape, as torch.le with a scalar; float32 input, not differentiable.</summary>
    public Tensor Le(float s) => CompareScalar(s, (a, b) => a <= b, "le");
    /// <summary>Bool tensor of <c>this &gt; s</c> elementwise, with this tensor's shape, as torch.gt with a scalar; float32 input, not differentiable.</summary>
    public Tensor Gt(float s) => CompareScalar(s, (a, b) => a > b, "gt");
    /// <summary>Bool tensor of <c>this ≥ s</c> elementwise, with this tensor's shape, as torch.ge with a scalar; float32 input, not differentiable.</summary>
    public Tensor Ge(float s) => CompareScalar(s, (a, b) => a >= b, "ge");

    /// <summary>Elementwise NOT of a bool tensor.</summary>
    public Tensor LogicalNot()
    {
        RequireBool(this, "logical_not", "input");
        var c = ContiguousRaw();
        var o = Empty(shape, DType.Bool);
        for (int i = 0; i < NumEl; i++) o.RawData[i] = c.RawData[i] == 0 ? (byte)1 : (byte)0;
        if (!ReferenceEquals(c, this)) c.Dispose();
        return o;
    }

    /// <summary>A float32 copy of a bool or int64 tensor (1/0 for bools), outside autograd.</summary>
    public Tensor ToFloat()
    {
        if (DType == DType.Float32) return CloneRaw();
        return FromArray(ToArray(), shape);
    }

    /// <summary><c>out = where(cond, a, b)</c> elementwise over the broadcast shape of all three (cond is bool).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        RequireBool(condition, "where", "condition");
        Tensor.RequireFloat(a, "where", "input"); Tensor.RequireFloat(b, "where", "other");
        var outShape = Shapes.Broadcast(Shapes.Broadcast(condition.shape, a.shape, "where"), b.shape, "where");
        var o = Empty(outShape);
        var rows = new Rows(outShape,
            Shapes.BroadcastStrides(condition.shape, condition.strides, outShape),
            Shapes.BroadcastStrides(a.shape, a.strides, outShape),
            Shapes.BroadcastStrides(b.shape, b.strides, outShape));
        byte* pc = condition.RawData; float* pa = a.Data, pb = b.Data, po = o.Data;
        int sc = rows.InnerStride(0), sa = rows.InnerStride(1), sb = rows.InnerStride(2);
        for (long r = 0; rows.Next(); r++)
        {
            byte* rc = pc + rows.Offset[0]; float* ra = pa + rows.Offset[1], rb = pb + rows.Offset[2], ro = po + r * rows.Inner;
            for (int j = 0; j < rows.Inner; j++) ro[j] = rc[(long)j * sc] != 0 ? ra[(long)j * sa] : rb[(long)j * sb];
        }
        return o.WithGrad("where", new[] { a, b }, g =>
        {
            using var zero = Zeros(1);
            return new[]
            {
                a.RequiresGrad ? Sum0(Where(condition, g, zero), a.shape) : null,
                b.RequiresGrad ? Sum0(Where(condition, zero, g), b.shape) : null,
            };
        });
    }

    /// <summary>Elements where <paramref name="mask"/> (bool, broadcastable) is true become <paramref name="value"/>.</summary>
    public Tensor MaskedFill(Tensor mask, float value)
    {
        RequireBool(mask, "masked_fill", "mask");
        using var v = Scalar(value);
        Tensor y;
        using (Autograd.NoGrad()) y = Where(mask, v, this);
        var x = this;
        return y.WithGrad("masked_fill", new[] { x }, g =>
        {
            using var zero = Zeros(1);
            return new[] { Sum0(Where(mask, zero, g), x.shape) };
        });
    }

    /// <summary>Lower triangle of the last two dims: keeps (i, j) with j ≤ i + diagonal, zeroes the rest.</summary>
    public Tensor Tril(int diagonal = 0) => Triangle(diagonal, lower: true);
    /// <summary>Upper triangle of the last two dims: keeps (i, j) with j ≥ i + diagonal.</summary>
    public Tensor Triu(int diagonal = 0) => Triangle(diagonal, lower: false);

    private Tensor Triangle(int k, bool lower)
    {
        string op = lower ? "tril" : "triu";
        Tensor.RequireFloat(this, op, "input");
        if (Rank < 2) throw new ArgumentException($"{op}: input must have at least 2 dims, got {Shapes.Str(shape)}");
        var o = CloneRaw();
        int m = shape[^2], n = shape[^1];
        float* p = o.Data;
        for (int b = 0; b < NumEl / Math.Max(m * n, 1); b++)
            for (int i = 0; i < m; i++)
            {
                float* row = p + ((long)b * m + i) * n;
                for (int j = 0; j < n; j++)
                    if (lower ? j > i + k : j < i + k) row[j] = 0f;
            }
        return o.WithGrad(op, new[] { this }, g => new[] { g.Triangle(k, lower) });
    }

    /// <summary><c>out[i][j][k] = x[i][index[i][j][k]][k]</c> for dim = 1 (and likewise for any dim), as torch.gather.</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        Tensor.RequireFloat(this, "gather", "input");
        RequireLong(index, "gather", "index");
        int d = Shapes.Dim(dim, shape, "gather");
        if (index.Rank != Rank)
            throw new ArgumentException($"gather: index {Shapes.Str(index.shape)} must have the same rank as input {Shapes.Str(shape)}");
        for (int i = 0; i < Rank; i++)
            if (i != d && index.shape[i] > shape[i])
                throw new ArgumentException($"gather: index {Shapes.Str(index.shape)} is larger than input {Shapes.Str(shape)} in dim {i}");
        var o = Empty(index.shape);
        var rows = new Rows(index.shape, index.strides, IndexedStrides(d));
        long* pi = index.LongData; float* px = Data, po = o.Data;
        int si = rows.InnerStride(0), sx = rows.InnerStride(1);
        int last = Rank - 1, size = shape[d], stride = strides[d];
        for (long r = 0; rows.Next(); r++)
            for (int j = 0; j < rows.Inner; j++)
            {
                long ix = pi[rows.Offset[0] + (long)j * si];
                if (ix < -size || ix >= size)
                    throw new ArgumentOutOfRangeException(nameof(index), $"gather: index {ix} is out of bounds for dim {dim} with size {size} of input {Shapes.Str(shape)}");
                if (ix < 0) ix += size;
                long off = rows.Offset[1] + (last == d ? 0 : (long)j * sx) + ix * stride;
                po[r * rows.Inner + j] = px[off];
            }
        var from = shape;
        return o.WithGrad("gather", new[] { this }, g => new[] { Zeros(from).ScatterAddRaw(d, index, g) });
    }

    /// <summary>Strides for walking the input at an index tensor's positions: 0 along the gathered dim.</summary>
    private int[] IndexedStrides(int d)
    {
        var st = (int[])strides.Clone();
        st[d] = 0;
        return st;
    }

    /// <summary>In place, outside autograd: <c>this[…index[i][j]…] += src[i][j]</c> along dim (this must be contiguous).</summary>
    internal Tensor ScatterAddRaw(int d, Tensor index, Tensor src)
    {
        var rows = new Rows(index.shape, index.strides, src.strides, IndexedStrides(d));
        long* pi = index.LongData; float* ps = src.Data, px = Data;
        int si = rows.InnerStride(0), ss = rows.InnerStride(1), sx = rows.InnerStride(2);
        int last = Rank - 1, size = shape[d];
        while (rows.Next())
            for (int j = 0; j < rows.Inner; j++)
            {
                long ix = pi[rows.Offset[0] + (long)j * si];
                if (ix < 0) ix += size;
                long off = rows.Offset[2] + (last == d ? 0 : (long)j * sx) + ix * strides[d];
                px[off] += ps[rows.Offset[1] + (long)j * ss];
            }
        return this;
    }

    internal static void RequireBool(Tensor t, string op, string arg)
    {
        if (t.DType != DType.Bool) throw new ArgumentException($"{op}: argument '{arg}' must be bool, got {t.DType.Name()} {Shapes.Str(t.shape)}");
    }

    internal static void RequireLong(Tensor t, string op, string arg)
    {
        if (t.DType != DType.Int64) throw new ArgumentException($"{op}: argument '{arg}' must be int64, got {t.DType.Name()} {Shapes.Str(t.shape)}");
    }
}
