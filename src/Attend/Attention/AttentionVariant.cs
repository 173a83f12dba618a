using System.Globalization;

namespace Attend.Attention;

/// <summary>The normalizer that turns a row of attention scores into weights.</summary>
public enum AttentionKind
{
    /// <summary>Softmax, by the fused kernel.</summary>
    Soft,
    /// <summary>Sparsemax <c>[s − τ]₊</c>, the Euclidean projection of the scores onto the simplex.</summary>
    Sparsemax,
    /// <summary>1.5-entmax <c>[s/2 − τ]₊²</c>, sparse like sparsemax but smoother.</summary>
    Entmax15,
    /// <summary>Softmax over the K largest scores of each row, 0 elsewhere.</summary>
    TopK,
    /// <summary>One-hot argmax of the scores, with the gradient of softmax (straight-through).</summary>
    Hard,
    /// <summary>One-hot argmax of the Gumbel-perturbed scores, with the gradient of softmax((s + g)/T) (straight-through Gumbel-softmax).</summary>
    Gumbel,
    /// <summary>One-hot sample j ~ softmax(s), trained by REINFORCE through <see cref="ReinforceAttention"/>.</summary>
    Reinforce,
    /// <summary>Softmax on the materialized path: the [B, H, L, S] scores and weights are formed and kept, as PyTorch's math backend.</summary>
    SoftMaterialized
}

/// <summary>
/// Which attention to run: soft (softmax, the fused kernel), sparse (sparsemax, entmax-1.5, top-k softmax) or hard
/// (straight-through argmax, Gumbel-softmax straight-through, REINFORCE sampling). Every variant sees the same scores
/// and mask semantics (see <see cref="AttentionOptions"/>); only the map from a score row s (masked entries −∞) to
/// weights p differs:
/// <code>
/// soft       p = softmax(s)
/// math       p = softmax(s) on the materialized path: the [B, H, L, S] scores and weights are formed and kept for the
///            backward (PyTorch's SDPBackend.MATH) — for comparing memory and checking the fused kernel
/// sparsemax  p = argmin_{p ∈ Δ} ‖p − s‖²  = [s − τ]₊                         (Martins &amp; Astudillo 2016)
/// entmax15   p = [s/2 − τ]₊²,  τ such that Σ p = 1                           (Peters et al. 2019)
/// topk:K     p = softmax over the K largest scores, 0 elsewhere
/// hard       p = one_hot(argmax s); gradient of softmax(s) (straight-through)
/// gumbel:T   p = one_hot(argmax (s + g)), g ~ Gumbel(0, 1); gradient of softmax((s + g)/T)
/// reinforce  p = one_hot(j), j ~ softmax(s); gradient from <see cref="ReinforceAttention.Loss"/> (Xu et al. 2015)
/// </code>
/// Parsed from and printed as the CLI's strings: <c>soft | math | sparsemax | entmax15 | topk:K | hard | gumbel:TAU | reinforce</c>.
/// </summary>
public sealed record AttentionVariant
{
    /// <summary>Which normalizer this is.</summary>
    public AttentionKind Kind { get; }
    /// <summary>K of top-k (0 for the others).</summary>
    public int K { get; }
    /// <summary>Temperature of Gumbel-softmax (0 for the others).</summary>
    public float Temperature { get; }

    private AttentionVariant(AttentionKind kind, int k = 0, float temperature = 0) => (Kind, K, Temperature) = (kind, k, temperature);

    /// <summary>Softmax by the fused kernel (the default).</summary>
    public static AttentionVariant Soft { get; } = new(AttentionKind.Soft);
    /// <summary>Softmax on the materialized path (the L×S matrices formed), as PyTorch's math backend.</summary>
    public static AttentionVariant SoftMaterialized { get; } = new(AttentionKind.SoftMaterialized);
    /// <summary>Sparsemax (Martins &amp; Astudillo 2016): sparse weights <c>[s − τ]₊</c>.</summary>
    public static AttentionVariant Sparsemax { get; } = new(AttentionKind.Sparsemax);
    /// <summary>1.5-entmax (Peters et al. 2019): sparse weights <c>[s/2 − τ]₊²</c>.</summary>
    public static AttentionVariant Entmax15 { get; } = new(AttentionKind.Entmax15);
    /// <summary>Straight-through argmax: one-hot forward, softmax gradient.</summary>
    public static AttentionVariant Hard { get; } = new(AttentionKind.Hard);
    /// <summary>One-hot sampling from softmax, trained with <see cref="ReinforceAttention.Loss"/> (Xu et al. 2015).</summary>
    public static AttentionVariant Reinforce { get; } = new(AttentionKind.Reinforce);

    /// <summary>Softmax over the <paramref name="k"/> largest scores of each row (k ≥ 1; k ≥ S is plain softmax).</summary>
    public static AttentionVariant TopK(int k) => k >= 1 ? new(AttentionKind.TopK, k: k)
        : throw new ArgumentOutOfRangeException(nameof(k), k, KMessage(k));

    /// <summary>Gumbel-softmax straight-through at temperature <paramref name="temperature"/> &gt; 0.</summary>
    public static AttentionVariant Gumbel(float temperature) => temperature > 0 && float.IsFinite(temperature)
        ? new(AttentionKind.Gumbel, temperature: temperature)
        : throw new ArgumentOutOfRangeException(nameof(temperature), temperature, TauMessage(temperature));

    private static string KMessage(int k) => $"attention variant topk: k must be ≥ 1, got {k}";
    private static string TauMessage(float t) => $"attention variant gumbel: temperature must be > 0 and finite, got {t.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>True when the forward draws random numbers (gumbel, reinforce).</summary>
    public bool IsStochastic => Kind is AttentionKind.Gumbel or AttentionKind.Reinforce;

    /// <summary>The accepted CLI forms, for help texts and error messages.</summary>
    public const string Choices = "soft | math | sparsemax | entmax15 | topk:K | hard | gumbel:TAU | reinforce";

    /// <summary>Parses the CLI form (case-insensitive): soft, math, sparsemax, entmax15, topk:K, hard, gumbel:TAU, reinforce.</summary>
    public static AttentionVariant Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim().ToLowerInvariant();
        int colon = s.IndexOf(':');
        string name = colon < 0 ? s : s[..colon], arg = colon < 0 ? "" : s[(colon + 1)..];
        if (colon >= 0 && name is not ("topk" or "gumbel"))
            throw new FormatException($"attention variant '{text}': only topk and gumbel take an argument (expected {Choices})");
        switch (name)
        {
            case "soft" or "softmax": return Soft;
            case "math": return SoftMaterialized;
            case "sparsemax": return Sparsemax;
            case "entmax15" or "entmax-1.5" or "entmax1.5": return Entmax15;
            case "hard": return Hard;
            case "reinforce": return Reinforce;
            case "topk":
                if (!int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out int k))
                    throw new FormatException($"attention variant '{text}': topk needs an integer K, as topk:4");
                return k >= 1 ? TopK(k) : throw new FormatException(KMessage(k));
            case "gumbel":
                if (!float.TryParse(arg, NumberStyles.Float, CultureInfo.InvariantCulture, out float tau))
                    throw new FormatException($"attention variant '{text}': gumbel needs a temperature, as gumbel:0.5");
                return tau > 0 && float.IsFinite(tau) ? Gumbel(tau) : throw new FormatException(TauMessage(tau));
            default:
                throw new FormatException($"unknown attention variant '{text}' (expected {Choices})");
        }
    }

    /// <inheritdoc/>
    /// <remarks>The CLI form that <see cref="Parse"/> reads back: soft, math, sparsemax, entmax15, topk:K, hard, gumbel:TAU (round-trip float) or reinforce.</remarks>
    public override string ToString() => Kind switch
    {
        AttentionKind.Soft => "soft",
        AttentionKind.SoftMaterialized => "math",
        AttentionKind.Sparsemax => "sparsemax",
        AttentionKind.Entmax15 => "entmax15",
        AttentionKind.TopK => $"topk:{K}",
        AttentionKind.Hard => "hard",
        AttentionKind.Gumbel => "gumbel:" + Temperature.ToString("R", CultureInfo.InvariantCulture),
        _ => "reinforce",
    };
}
