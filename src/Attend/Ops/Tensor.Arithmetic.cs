using Attend.Kernels;

namespace Attend;

/// <summary>Broadcasting arithmetic with its backward. Gradients of broadcast operands are summed back to their shape.</summary>
public sealed partial class Tensor
{
    /// <summary><c>this + other</c> elementwise with broadcasting (float32), as torch.Tensor.add.</summary>
    public Tensor Add(Tensor other) => ElementwiseOps.Binary(this, other, BinOp.Add, "add")
        .WithGrad("add", new[] { this, other }, g => new[] { RequiresGrad ? g.SumTo(shape) : null, other.RequiresGrad ? g.SumTo(other.shape) : null });

    /// <summary><c>this − other</c> elementwise with broadcasting (float32), as torch.Tensor.sub.</summary>
    public Tensor Sub(Tensor other)
    {
        var b = other;
        return ElementwiseOps.Binary(this, other, BinOp.Sub, "sub")
            .WithGrad("sub", new[] { this, other }, g => new[] { RequiresGrad ? g.SumTo(shape) : null, b.RequiresGrad ? Sum0(g.Neg(), b.shape) : null });
    }

    /// <summary><c>this · other</c> elementwise with broadcasting (float32), as torch.Tensor.mul.</summary>
    public Tensor Mul(Tensor other)
    {
        Tensor a = this, b = other;
        return ElementwiseOps.Binary(this, other, BinOp.Mul, "mul")
            .WithGrad("mul", new[] { a, b }, g => new[]
            {
                a.RequiresGrad ? Sum0(g.Mul(b), a.shape) : null,
                b.RequiresGrad ? Sum0(g.Mul(a), b.shape) : null,
            });
    }

    /// <summary><c>this / other</c> elementwise with broadcasting (float32), as torch.Tensor.div; the divisor's gradient is <c>−g·a/b²</c>.</summary>
    public Tensor Div(Tensor other)
    {
        Tensor a = this, b = other;
        return ElementwiseOps.Binary(this, other, BinOp.Div, "div")
            .WithGrad("div", new[] { a, b }, g => new[]
            {
                a.RequiresGrad ? Sum0(g.Div(b), a.shape) : null,
                // d(a/b)/db = -a/b²
                b.RequiresGrad ? Sum0(g.Mul(a).Div(b.Mul(b)).Neg(), b.shape) : null,
            });
    }

    /// <summary><c>this ^ exponent</c> elementwise with broadcasting. The exponent's gradient is <c>g·aᵇ·ln a</c>, taken as 0 where a = 0 (as PyTorch).</summary>
    public Tensor Pow(Tensor exponent)
    {
        Tensor a = this, b = exponent;
        var y = ElementwiseOps.Binary(this, exponent, BinOp.Pow, "pow");
        return y.WithGrad("pow", new[] { a, b }, g => new[]
        {
            a.RequiresGrad ? Sum0(g.Mul(b).Mul(a.Pow(b.Sub(1f))), a.shape) : null,
            b.RequiresGrad ? Sum0(g.Mul(y).Mul(a.MaskedFill(a.Eq(0f), 1f).Log()), b.shape) : null,
        });
    }

    /// <summary><c>this + s</c> elementwise (float32), as torch.Tensor.add with a scalar.</summary>
    public Tensor Add(float s) => ElementwiseOps.WithScalar(this, s, BinOp.Add, false, "add").WithGrad("add", new[] { this }, g => new[] { g });
    /// <summary><c>this − s</c> elementwise (float32), as torch.Tensor.sub with a scalar.</summary>
    public Tensor Sub(float s) => ElementwiseOps.WithScalar(this, s, BinOp.Sub, false, "sub").WithGrad("sub", new[] { this }, g => new[] { g });
    /// <summary><c>this · s</c> elementwise (float32), as torch.Tensor.mul with a scalar.</summary>
    public Tensor Mul(float s) => ElementwiseOps.WithScalar(this, s, BinOp.Mul, false, "mul").WithGrad("mul", new[] { this }, g => new[] { g.Mul(s) });
    /// <summary><c>this / s</c> elementwise (float32), as torch.Tensor.div with a scalar.</summary>
    public Tensor Div(float s) => ElementwiseOps.WithScalar(this, s, BinOp.Div, false, "div").WithGrad("div", new[] { this }, g => new[] { g.Div(s) });
    private Tensor RSub(float s) => ElementwiseOps.WithScalar(this, s, BinOp.Sub, true, "rsub").WithGrad("rsub", new[] { this }, g => new[] { g.Neg() });
    private Tensor RDiv(float s)
    {
        var x = this;
        return ElementwiseOps.WithScalar(this, s, BinOp.Div, true, "rdiv")
            .WithGrad("rdiv", new[] { x }, g => new[] { g.Mul(-s).Div(x.Mul(x)) });
    }

    /// <summary><c>this ^ p</c> elementwise; gradient <c>p·x^(p−1)</c>.</summary>
    public Tensor Pow(float p)
    {
        var x = this;
        return ElementwiseOps.WithScalar(this, p, BinOp.Pow, false, "pow")
            .WithGrad("pow", new[] { x }, g => new[] { p == 0f ? Zeros(x.shape) : g.Mul(x.Pow(p - 1f).Mul(p)) });
    }

    /// <summary>Elementwise sum with broadcasting; <see cref="Add(Tensor)"/>.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Elementwise difference with broadcasting; <see cref="Sub(Tensor)"/>.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    /// <summary>Elementwise (Hadamard) product with broadcasting; <see cref="Mul(Tensor)"/>. For the matrix product use <see cref="Matmul"/>.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    /// <summary>Elementwise quotient with broadcasting; <see cref="Div(Tensor)"/>.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    /// <summary><c>a + s</c> elementwise; <see cref="Add(float)"/>.</summary>
    public static Tensor operator +(Tensor a, float s) => a.Add(s);
    /// <summary><c>a − s</c> elementwise; <see cref="Sub(float)"/>.</summary>
    public static Tensor operator -(Tensor a, float s) => a.Sub(s);
    /// <summary><c>a · s</c> elementwise; <see cref="Mul(float)"/>.</summary>
    public static Tensor operator *(Tensor a, float s) => a.Mul(s);
    /// <summary><c>a / s</c> elementwise; <see cref="Div(float)"/>.</summary>
    public static Tensor operator /(Tensor a, float s) => a.Div(s);
    /// <summary><c>s + a</c> elementwise; <see cref="Add(float)"/>.</summary>
    public static Tensor operator +(float s, Tensor a) => a.Add(s);
    /// <summary><c>s − a</c> elementwise (torch.rsub, recorded as "rsub"); gradient <c>−g</c>.</summary>
    public static Tensor operator -(float s, Tensor a) => a.RSub(s);
    /// <summary><c>s · a</c> elementwise; <see cref="Mul(float)"/>.</summary>
    public static Tensor operator *(float s, Tensor a) => a.Mul(s);
    /// <summary><c>s / a</c> elementwise (recorded as "rdiv"); gradient <c>−g·s/a²</c>.</summary>
    public static Tensor operator /(float s, Tensor a) => a.RDiv(s);
    /// <summary>Elementwise negation; <see cref="Neg"/>.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();

    /// <summary>Sums a broadcast gradient back to <paramref name="target"/> (this tensor itself when shapes agree).</summary>
    internal Tensor SumTo(int[] target)
    {
        if (Shapes.Equal(shape, target)) return this;
        int lead = Rank - target.Length;
        var dims = new List<int>();
        for (int i = 0; i < Rank; i++)
            if (i < lead || (target[i - lead] == 1 && shape[i] != 1)) dims.Add(i);
        using var s = Reduce.Run(this, Reduce.Mask(dims.ToArray(), shape, "sum"), ReduceOp.Sum);
        return s.Reshape(target);
    }

    private static Tensor Sum0(Tensor g, int[] target)
    {
        var r = g.SumTo(target);
        if (!ReferenceEquals(r, g)) g.Dispose();
        return r;
    }

    /// <summary><c>this += alpha·other</c> in place (other broadcasts to this shape), as torch's add_(other, alpha=…).
    /// Allowed on a tensor that requires grad only inside <see cref="Autograd.NoGrad"/> (optimizer updates).</summary>
    public unsafe void AddInPlace(Tensor other, float alpha = 1f)
    {
        if (RequiresGrad && Autograd.IsGradEnabled)
            throw new InvalidOperationException("an in-place operation on a tensor that requires grad is not allowed outside Autograd.NoGrad()");
        if (!IsContiguous) throw new InvalidOperationException($"AddInPlace: target {Shapes.Str(shape)} with strides {Shapes.Str(strides)} is not contiguous");
        using var o = other.IsContiguous && Shapes.Equal(other.shape, shape) ? other.Alias() : ElementwiseOps.WithScalar(other.Expand(shape), 1f, BinOp.Mul, false, "add_");
        var d = Span;
        var s = new ReadOnlySpan<float>(o.Data, NumEl);
        if (alpha == 1f) System.Numerics.Tensors.TensorPrimitives.Add(d, s, d);
        else System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(s, alpha, d, d);
    }

    /// <summary><c>this += src</c> elementwise, outside autograd, for any strides of either (same shape).</summary>
    internal unsafe void AddInPlaceStrided(Tensor src)
    {
        if (!Shapes.Equal(src.shape, shape)) throw new ArgumentException($"internal: add_ of {Shapes.Str(src.shape)} into {Shapes.Str(shape)}");
        var rows = new Rows(shape, strides, src.strides);
        int sd = rows.InnerStride(0), ss = rows.InnerStride(1);
        float* pd = Data, ps = src.Data;
        while (rows.Next())
        {
            float* d = pd + rows.Offset[0], s = ps + rows.Offset[1];
            if (sd == 1 && ss == 1)
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(d, rows.Inner), new ReadOnlySpan<float>(s, rows.Inner), new Span<float>(d, rows.Inner));
            else
                for (int j = 0; j < rows.Inner; j++) d[(long)j * sd] += s[(long)j * ss];
        }
    }

    /// <summary><c>this *= s</c> in place (same rules as <see cref="AddInPlace"/>).</summary>
    public void MulInPlace(float s)
    {
        if (RequiresGrad && Autograd.IsGradEnabled)
            throw new InvalidOperationException("an in-place operation on a tensor that requires grad is not allowed outside Autograd.NoGrad()");
        if (!IsContiguous) throw new InvalidOperationException($"MulInPlace: target {Shapes.Str(shape)} with strides {Shapes.Str(strides)} is not contiguous");
        System.Numerics.Tensors.TensorPrimitives.Multiply(Span, s, Span);
    }
}
