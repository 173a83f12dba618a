namespace Attend.Attention;

/// <summary>Where the causal diagonal sits when L ≠ S. TopLeft: key j ≤ query i (PyTorch's is_causal).
/// BottomRight: j ≤ i + S − L, so the last query sees every key (FlashAttention; KV-cache decoding).</summary>
public enum CausalAlignment
{
    /// <summary>Query i may attend keys j ≤ i: the diagonal starts at the top-left corner, as PyTorch's is_causal.</summary>
    TopLeft,
    /// <summary>Query i may attend keys j ≤ i + S − L: the diagonal ends at the bottom-right corner, as FlashAttention.</summary>
    BottomRight
}

/// <summary>
/// Everything the fused attention kernel can apply inside its tile loop. The scores of query i and key j go through,
/// in order: <c>s = (q_i·k_j)·scale</c>; softcap <c>s = c·tanh(s/c)</c>; ALiBi <c>s −= slope_h·|i + off − j|</c>;
/// the additive mask (float) or −∞ where a bool mask is false; −∞ outside the causal/window band
/// <c>i + off − left ≤ j ≤ i + off + right</c> (causal sets right = 0), with off = 0 (TopLeft) or S − L (BottomRight).
/// Then <c>P = softmax_j(s)</c> (or the normalizer of <see cref="Variant"/>), dropout on P, <c>O = P·V</c>.
/// Soft runs the fused kernel; the other variants materialize the scores [B, H, L, S] with the same modifiers.
/// </summary>
public sealed record AttentionOptions
{
    /// <summary>bool (True = may attend, as PyTorch SDPA) or float (added to the scores), broadcastable to [B, H, L, S].</summary>
    public Tensor? Mask { get; init; }
    /// <summary>Mask the keys right of the (aligned) diagonal, as PyTorch SDPA's is_causal; combines with <see cref="Mask"/> and the window
    /// (the right edge becomes min(0, <see cref="WindowRight"/>)).</summary>
    public bool IsCausal { get; init; }
    /// <summary>Where the diagonal of the causal mask and of the sliding window sits when L ≠ S; TopLeft (PyTorch's) by default.</summary>
    public CausalAlignment Alignment { get; init; } = CausalAlignment.TopLeft;
    /// <summary>Score scale; null means 1/√E.</summary>
    public float? Scale { get; init; }
    /// <summary>Allow K/V with fewer heads than Q (grouped-query attention): query head h reads kv head h / (H / Hkv).</summary>
    public bool EnableGqa { get; init; }
    /// <summary>Sliding window: keys more than this many positions left of the (aligned) diagonal are masked.</summary>
    public int? WindowLeft { get; init; }
    /// <summary>Sliding window: keys more than this many positions right of the (aligned) diagonal are masked.</summary>
    public int? WindowRight { get; init; }
    /// <summary>ALiBi slopes, one per query head (Press et al. 2022).</summary>
    public float[]? AlibiSlopes { get; init; }
    /// <summary>Logit soft-capping value c &gt; 0 (Gemma 2); 0 turns it off.</summary>
    public float Softcap { get; init; }
    /// <summary>Dropout probability on the attention weights, in [0, 1).</summary>
    public float DropoutP { get; init; }
    /// <summary>Seed of the dropout mask; the backward regenerates the same mask from it.</summary>
    public ulong DropoutSeed { get; init; }
    /// <summary>Return the attention weights P (before dropout) for these query heads, as [B, n, L, S].</summary>
    public int[]? WeightsForHeads { get; init; }
    /// <summary>Where this call comes from — the calling module's dotted path in its model (e.g.
    /// <c>transformer.decoder.layers.1.multihead_attn</c>) — so that an installed <see cref="AttentionObserver"/> can
    /// name it; no effect otherwise. Null for a direct call.</summary>
    public string? Site { get; init; }
    /// <summary>The normalizer: soft (default, fused), sparsemax, entmax15, topk:K, hard, gumbel:TAU, reinforce.</summary>
    public AttentionVariant Variant { get; init; } = AttentionVariant.Soft;
    /// <summary>Seed of the Gumbel noise / REINFORCE samples of a stochastic <see cref="Variant"/>. Null: no noise (gumbel
    /// is then the straight-through argmax of the scores at its temperature, reinforce takes the most probable position)
    /// — what a model does in evaluation.</summary>
    public ulong? VariantSeed { get; init; }
}

/// <summary>The output [B, H, L, Ev], the log-sum-exp of each query's scores [B, H, L] (−∞ for a fully masked row),
/// and the weights asked for by <see cref="AttentionOptions.WeightsForHeads"/>.</summary>
public sealed record AttentionResult(Tensor Output, Tensor Lse, Tensor? Weights);
