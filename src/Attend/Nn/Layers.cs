namespace Attend.Nn;

/// <summary>Parameter initializers with PyTorch's defaults.</summary>
internal static class Init
{
    /// <summary>U(−bound, bound).</summary>
    public static Tensor Uniform(int[] shape, float bound, Random? rng)
    {
        using var u = Tensor.Rand(shape, rng);
        using var _ = Autograd.NoGrad();
        using var s = u.Mul(2 * bound);
        return s.Sub(bound);
    }

    public static Tensor Normal(int[] shape, float std, Random? rng)
    {
        using var n = Tensor.Randn(shape, rng);
        using var _ = Autograd.NoGrad();
        return n.Mul(std);
    }
}

/// <summary>Glorot and Bengio's initializers with PyTorch's fan rules: fan_in = size(1)·receptive, fan_out = size(0)·receptive,
/// receptive = the product of the dims after the first two.</summary>
internal static class Xavier
{
    private static (int FanIn, int FanOut) Fans(int[] shape)
    {
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>xavier_uniform_: U(−a, a), a = √(6 / (fan_in + fan_out)).</summary>
    public static Tensor Uniform(int[] shape, Random? rng)
    {
        var (fi, fo) = Fans(shape);
        return Init.Uniform(shape, MathF.Sqrt(6f / (fi + fo)), rng);
    }

    /// <summary>xavier_normal_: N(0, σ²), σ = √(2 / (fan_in + fan_out)).</summary>
    public static Tensor Normal(int[] shape, Random? rng)
    {
        var (fi, fo) = Fans(shape);
        return Init.Normal(shape, MathF.Sqrt(2f / (fi + fo)), rng);
    }
}

/// <summary><c>y = x·Wᵀ + b</c>, W [out, in] and b [out] initialized U(−1/√in, 1/√in) as torch.nn.Linear.</summary>
public sealed class Linear : Module, IUnaryModule
{
    /// <summary>W [out, in] (parameter "weight").</summary>
    public Tensor Weight { get; }
    /// <summary>b [out] (parameter "bias"), or null when created with <c>bias: false</c>.</summary>
    public Tensor? Bias { get; }
    /// <summary>The input feature size.</summary>
    public int InFeatures { get; }
    /// <summary>The output feature size.</summary>
    public int OutFeatures { get; }

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/> (both positive), with a bias
    /// unless <paramref name="bias"/> is false; <paramref name="rng"/> seeds the initialization.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Random? rng = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0) throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear: sizes must be positive, got ({inFeatures}, {outFeatures})");
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        float k = 1f / MathF.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Init.Uniform(new[] { outFeatures, inFeatures }, k, rng));
        if (bias) Bias = RegisterParameter("bias", Init.Uniform(new[] { outFeatures }, k, rng));
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => Functional.Linear(x, Weight, Bias);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={Bias is not null}";
}

/// <summary>A lookup table [num, dim] initialized N(0, 1), the padding row zeroed and left without gradient, as torch.nn.Embedding.</summary>
public sealed class Embedding : Module, IUnaryModule
{
    /// <summary>The table [num, dim] (parameter "weight").</summary>
    public Tensor Weight { get; }
    /// <summary>The row kept zero and without gradient (a negative index given counts from the end and is stored
    /// non-negative), or null for none.</summary>
    public int? PaddingIdx { get; }

    /// <summary>A table of <paramref name="numEmbeddings"/> rows of size <paramref name="embeddingDim"/>;
    /// <paramref name="rng"/> seeds the initialization.</summary>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, Random? rng = null)
    {
        if (numEmbeddings <= 0 || embeddingDim <= 0) throw new ArgumentOutOfRangeException(nameof(numEmbeddings), $"Embedding: sizes must be positive, got ({numEmbeddings}, {embeddingDim})");
        if (paddingIdx is int p && (p < -numEmbeddings || p >= numEmbeddings))
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"Embedding: paddingIdx {p} is out of range for {numEmbeddings} rows");
        PaddingIdx = paddingIdx is int q && q < 0 ? q + numEmbeddings : paddingIdx;
        var w = Init.Normal(new[] { numEmbeddings, embeddingDim }, 1f, rng);
        if (PaddingIdx is int pad) w.Span.Slice(pad * embeddingDim, embeddingDim).Clear();
        Weight = RegisterParameter("weight", w);
    }

    /// <summary>int64 ids of any shape → [..., dim].</summary>
    public Tensor Forward(Tensor ids) => Functional.Embedding(ids, Weight, PaddingIdx);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{Weight.Shape[0]}, {Weight.Shape[1]}" + (PaddingIdx is int p ? $", padding_idx={p}" : "");
}

/// <summary>torch.nn.LayerNorm: normalizes the trailing dims, weight ones and bias zeros.</summary>
public sealed class LayerNorm : Module, IUnaryModule
{
    /// <summary>The trailing dims normalized over (mean and variance taken across all of them).</summary>
    public int[] NormalizedShape { get; }
    /// <summary>Added to the variance (default 1e-5).</summary>
    public float Eps { get; }
    /// <summary>The scale (parameter "weight", ones of <see cref="NormalizedShape"/>), or null without elementwise affine.</summary>
    public Tensor? Weight { get; }
    /// <summary>The shift (parameter "bias", zeros of <see cref="NormalizedShape"/>), or null without elementwise affine or bias.</summary>
    public Tensor? Bias { get; }

    /// <summary>Normalizes the last dim, of size <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(int normalizedShape, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true)
        : this(new[] { normalizedShape }, eps, elementwiseAffine, bias) { }

    /// <summary>Normalizes the trailing dims <paramref name="normalizedShape"/>; <paramref name="elementwiseAffine"/> adds the
    /// learned weight and (with <paramref name="bias"/>) bias.</summary>
    public LayerNorm(int[] normalizedShape, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true)
    {
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones(NormalizedShape));
            if (bias) Bias = RegisterParameter("bias", Tensor.Zeros(NormalizedShape));
        }
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => Functional.LayerNorm(x, NormalizedShape, Weight, Bias, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"({string.Join(", ", NormalizedShape)},), eps={Eps}, elementwise_affine={Weight is not null}";
}

/// <summary>torch.nn.RMSNorm: <c>y = x / √(mean(x²) + eps) · weight</c>; eps defaults to float32's machine epsilon, as PyTorch.</summary>
public sealed class RMSNorm : Module, IUnaryModule
{
    /// <summary>The trailing dims normalized over (the mean of x² taken across all of them).</summary>
    public int[] NormalizedShape { get; }
    /// <summary>Added to mean(x²); null (the default) for float32's machine epsilon.</summary>
    public float? Eps { get; }
    /// <summary>The scale (parameter "weight", ones of <see cref="NormalizedShape"/>), or null without elementwise affine.</summary>
    public Tensor? Weight { get; }

    /// <summary>Normalizes the last dim, of size <paramref name="normalizedShape"/>.</summary>
    public RMSNorm(int normalizedShape, float? eps = null, bool elementwiseAffine = true)
        : this(new[] { normalizedShape }, eps, elementwiseAffine) { }

    /// <summary>Normalizes the trailing dims <paramref name="normalizedShape"/>; <paramref name="elementwiseAffine"/> adds the
    /// learned weight.</summary>
    public RMSNorm(int[] normalizedShape, float? eps = null, bool elementwiseAffine = true)
    {
        NormalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        if (elementwiseAffine) Weight = RegisterParameter("weight", Tensor.Ones(NormalizedShape));
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => Functional.RmsNorm(x, NormalizedShape, Weight, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"({string.Join(", ", NormalizedShape)},), eps={Eps?.ToString() ?? "None"}, elementwise_affine={Weight is not null}";
}

/// <summary>torch.nn.Dropout: active only in training mode.</summary>
public sealed class Dropout(float p = 0.5f, Random? rng = null) : Module, IUnaryModule
{
    /// <summary>The probability of zeroing each element (default 0.5); the others are scaled by 1 / (1 − p).</summary>
    public float P { get; } = p is >= 0f and <= 1f ? p : throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must be in [0, 1], got {p}");

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => Functional.Dropout(x, P, Training, rng);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={P}";
}

/// <summary>torch.nn.ReLU: <c>max(x, 0)</c> elementwise.</summary>
public sealed class ReLU : Module, IUnaryModule
{
    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => x.Relu();
}

/// <summary>torch.nn.GELU: <c>x·Φ(x)</c> elementwise, Φ the standard normal CDF.</summary>
/// <param name="approximate">"none" (default, exact with erf) or "tanh" (the tanh approximation).</param>
public sealed class GELU(string approximate = "none") : Module, IUnaryModule
{
    /// <summary>"none" (exact, with erf) or "tanh" (the tanh approximation).</summary>
    public string Approximate { get; } = approximate is "none" or "tanh" ? approximate : throw new ArgumentException($"GELU: approximate must be 'none' or 'tanh', got '{approximate}'");

    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => x.Gelu(Approximate);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"approximate='{Approximate}'";
}

/// <summary>torch.nn.SiLU (swish): <c>x·σ(x)</c> elementwise.</summary>
public sealed class SiLU : Module, IUnaryModule
{
    /// <inheritdoc/>
    public Tensor Forward(Tensor x) => x.Silu();
}

/// <summary>
/// The Transformer's position-wise feed-forward block. relu/gelu: <c>W₂·act(W₁x + b₁) + b₂</c> (names linear1,
/// linear2 as torch.nn.TransformerEncoderLayer); swiglu: <c>W₂·(silu(W₁x) ∘ W₃x)</c> (names w1, w2, w3 as LLaMA).
/// </summary>
public sealed class FeedForward : Module, IUnaryModule
{
    private readonly Linear? linear1, linear2, w1, w2, w3;
    private readonly Dropout dropout;
    /// <summary>"relu" (default), "gelu", "gelu_tanh" or "swiglu".</summary>
    public string Activation { get; }

    /// <summary>A block from <paramref name="dModel"/> through <paramref name="dimFeedforward"/> hidden units back to
    /// <paramref name="dModel"/>; <paramref name="dropout"/> applies to the hidden activations, <paramref name="bias"/> to
    /// every Linear, and <paramref name="rng"/> seeds the initialization and dropout.</summary>
    public FeedForward(int dModel, int dimFeedforward, string activation = "relu", float dropout = 0f, bool bias = true, Random? rng = null)
    {
        Activation = activation;
        switch (activation)
        {
            case "relu" or "gelu" or "gelu_tanh":
                linear1 = RegisterModule("linear1", new Linear(dModel, dimFeedforward, bias, rng));
                this.dropout = RegisterModule("dropout", new Dropout(dropout, rng));
                linear2 = RegisterModule("linear2", new Linear(dimFeedforward, dModel, bias, rng));
                break;
            case "swiglu":
                w1 = RegisterModule("w1", new Linear(dModel, dimFeedforward, bias, rng));
                w2 = RegisterModule("w2", new Linear(dimFeedforward, dModel, bias, rng));
                w3 = RegisterModule("w3", new Linear(dModel, dimFeedforward, bias, rng));
                this.dropout = RegisterModule("dropout", new Dropout(dropout, rng));
                break;
            default:
                throw new ArgumentException($"FeedForward: activation must be relu, gelu, gelu_tanh or swiglu, got '{activation}'");
        }
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x)
    {
        if (Activation == "swiglu")
            return w2!.Forward(dropout.Forward(w1!.Forward(x).Silu() * w3!.Forward(x)));
        var h = linear1!.Forward(x);
        h = Activation switch { "relu" => h.Relu(), "gelu" => h.Gelu(), _ => h.Gelu("tanh") };
        return linear2!.Forward(dropout.Forward(h));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"activation={Activation}";
}
