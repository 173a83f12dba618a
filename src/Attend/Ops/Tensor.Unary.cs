using System.Numerics.Tensors;
using Attend.Kernels;

namespace Attend;

/// <summary>Pointwise functions with their backward.</summary>
public sealed unsafe partial class Tensor
{
    private delegate void SpanMap(ReadOnlySpan<float> x, Span<float> y);

    private Tensor Map(string op, SpanMap f)
    {
        Tensor.RequireFloat(this, op, "input");
        var o = Empty(shape);
        var c = ContiguousRaw();
        f(new ReadOnlySpan<float>(c.Data, NumEl), o.Span);
        if (!ReferenceEquals(c, this)) c.Dispose();
        return o;
    }

    private delegate void PtrBackward(float* dx, float* g, float* x, int n);

    /// <summary>Runs a pointwise backward kernel on (g, x), both made contiguous.</summary>
    private static Tensor PointwiseBackward(Tensor g, Tensor x, PtrBackward k)
    {
        var dx = Empty(x.shape);
        var gc = g.ContiguousRaw(); var xc = x.ContiguousRaw();
        k(dx.Data, gc.Data, xc.Data, dx.NumEl);
        if (!ReferenceEquals(gc, g)) gc.Dispose();
        if (!ReferenceEquals(xc, x)) xc.Dispose();
        return dx;
    }

    /// <summary><c>−x</c> elementwise, as torch.neg.</summary>
    public Tensor Neg() => Map("neg", TensorPrimitives.Negate).WithGrad("neg", new[] { this }, g => new[] { g.Neg() });

    /// <summary><c>eˣ</c> elementwise, as torch.exp.</summary>
    public Tensor Exp()
    {
        var y = Map("exp", TensorPrimitives.Exp);
        return y.WithGrad("exp", new[] { this }, g => new[] { g.Mul(y) });
    }

    /// <summary>Natural logarithm elementwise, as torch.log (−∞ at 0, NaN below); gradient <c>g / x</c>.</summary>
    public Tensor Log()
    {
        var x = this;
        return Map("log", TensorPrimitives.Log).WithGrad("log", new[] { x }, g => new[] { g.Div(x) });
    }

    /// <summary><c>√x</c> elementwise, as torch.sqrt; gradient <c>g / (2√x)</c>.</summary>
    public Tensor Sqrt()
    {
        var y = Map("sqrt", TensorPrimitives.Sqrt);
        return y.WithGrad("sqrt", new[] { this }, g => new[] { g.Div(y.Mul(2f)) });
    }

    /// <summary><c>|x|</c> elementwise, as torch.abs; gradient <c>g·sign(x)</c>, 0 at x = 0.</summary>
    public Tensor Abs()
    {
        var x = this;
        return Map("abs", TensorPrimitives.Abs).WithGrad("abs", new[] { x }, g => new[] { g.Mul(x.Sign()) });
    }

    /// <summary>−1, 0 or +1 by the sign of each element (no gradient flows through it).</summary>
    public Tensor Sign() => Map("sign", (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = MathF.Sign(x[i]); });

    /// <summary>Hyperbolic tangent elementwise, as torch.tanh; gradient <c>g·(1 − y²)</c>.</summary>
    public Tensor Tanh()
    {
        var y = Map("tanh", TensorPrimitives.Tanh);
        return y.WithGrad("tanh", new[] { this }, g => new[] { g.Mul(y.Mul(y).RSub(1f)) });
    }

    /// <summary>Logistic sigmoid <c>1 / (1 + e⁻ˣ)</c> elementwise, as torch.sigmoid; gradient <c>g·y·(1 − y)</c>.</summary>
    public Tensor Sigmoid()
    {
        var y = Map("sigmoid", TensorPrimitives.Sigmoid);
        return y.WithGrad("sigmoid", new[] { this }, g => new[] { g.Mul(y).Mul(y.RSub(1f)) });
    }

    /// <summary><c>max(x, 0)</c> elementwise, as torch.relu; the gradient passes where x &gt; 0 (0 at x = 0).</summary>
    public Tensor Relu()
    {
        var x = this;
        return Map("relu", (a, y) => TensorPrimitives.Max(a, 0f, y)).WithGrad("relu", new[] { x }, g => new[]
        {
            PointwiseBackward(g, x, (dx, gg, xx, n) => Activations.PassBackward(dx, gg, xx, n, 0f, float.PositiveInfinity, strictLo: true)),
        });
    }

    /// <summary>Clamps into [min, max] (either bound optional). Gradient passes where min ≤ x ≤ max, as PyTorch.</summary>
    public Tensor Clamp(float? min = null, float? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: at least one of min and max must be given");
        float lo = min ?? float.NegativeInfinity, hi = max ?? float.PositiveInfinity;
        var x = this;
        return Map("clamp", (a, y) =>
        {
            if (min is not null && max is not null) { TensorPrimitives.Max(a, lo, y); TensorPrimitives.Min(y, hi, y); }
            else if (min is not null) TensorPrimitives.Max(a, lo, y);
            else TensorPrimitives.Min(a, hi, y);
        }).WithGrad("clamp", new[] { x }, g => new[]
        {
            PointwiseBackward(g, x, (dx, gg, xx, n) => Activations.PassBackward(dx, gg, xx, n, lo, hi, strictLo: false)),
        });
    }

    /// <summary>SiLU (swish) <c>x·σ(x)</c> elementwise, as torch.nn.functional.silu.</summary>
    public Tensor Silu()
    {
        var x = this;
        return Map("silu", (a, y) => { fixed (float* pa = a, py = y) Activations.SiluForward(py, pa, a.Length); })
            .WithGrad("silu", new[] { x }, g => new[] { PointwiseBackward(g, x, Activations.SiluBackward) });
    }

    /// <summary>GELU; <paramref name="approximate"/> "none" (exact, erf) or "tanh", as torch.nn.functional.gelu.</summary>
    public Tensor Gelu(string approximate = "none")
    {
        bool tanh = approximate switch
        {
            "none" => false, "tanh" => true,
            _ => throw new ArgumentException($"gelu: approximate must be 'none' or 'tanh', got '{approximate}'", nameof(approximate)),
        };
        var x = this;
        return Map("gelu", (a, y) => { fixed (float* pa = a, py = y) Activations.GeluForward(py, pa, a.Length, tanh); })
            .WithGrad("gelu", new[] { x }, g => new[] { PointwiseBackward(g, x, (dx, gg, xx, n) => Activations.GeluBackward(dx, gg, xx, n, tanh)) });
    }
}
