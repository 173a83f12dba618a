using Attend.Attention;

namespace Attend.Nn;

/// <summary>
/// The attention core that every attention module shares — <see cref="MultiheadAttention"/>,
/// <see cref="GroupedQueryAttention"/>, the GPT's causal self-attention and the ViT's — whatever its projections:
/// <code>
/// q, k, v   = heads of the module's projections          (B, H, L, D), (B, Hkv, S, D)   SplitHeads / SplitQkv
/// k, v      = the KV cache's keys/values + this call's     (B, Hkv, past + S, D)           FromCache
/// o         = softmax(q·kᵀ/√D + mods)·v                     (B, H, L, D)                   Attend: the fused kernel
/// y         = Concat(head₁ … head_H)                        (B, L, H·D)                    MergeHeads (then the module's output projection)
/// </code>
/// <see cref="Attend"/> builds the kernel's <see cref="AttentionOptions"/> in one place: grouped-query heads, dropout
/// and the variant's sampling only while training (seeded from the module's generator), the site (the module's
/// <see cref="Module.Path"/>) for attention observers, the weights of every head only when asked, and the row
/// log-sum-exp only when asked (else freed at once).
/// </summary>
public abstract class AttentionModule : Module
{
    private readonly Random? rng;

    /// <summary>H, the query heads.</summary>
    public int NumHeads { get; }
    /// <summary>Hkv ≤ H, the key/value heads (H for multi-head attention).</summary>
    public int NumKvHeads { get; }
    /// <summary>D, the size of each head.</summary>
    public int HeadDim { get; }
    /// <summary>Dropout probability on the attention weights while training.</summary>
    public float DropoutP { get; }
    /// <summary>The attention variant: soft (the fused kernel) or sparsemax, entmax15, topk:K, hard, gumbel:TAU, reinforce.</summary>
    public AttentionVariant Variant { get; set; }

    /// <summary>Checks and stores the head layout (<paramref name="numHeads"/> a multiple of <paramref name="numKvHeads"/>),
    /// the dropout probability (in [0, 1)) and the variant (null: soft).</summary>
    /// <param name="rng">seeds dropout and the variant's sampling while training (null: <see cref="Tensor.DefaultGenerator"/>).</param>
    /// <param name="numHeads">H, the number of query heads.</param>
    /// <param name="numKvHeads">the number of key/value heads (H for MHA, fewer for GQA, 1 for MQA).</param>
    /// <param name="headDim">E/H, the width of one head.</param>
    /// <param name="dropout">dropout probability on the attention weights while training.</param>
    /// <param name="variant">the attention variant (null: soft).</param>
    protected AttentionModule(int numHeads, int numKvHeads, int headDim, float dropout, AttentionVariant? variant, Random? rng)
    {
        string op = GetType().Name;
        if (numHeads <= 0 || headDim <= 0) throw new ArgumentException($"{op}: heads ({numHeads}) and head size ({headDim}) must be positive");
        if (numKvHeads <= 0 || numHeads % numKvHeads != 0)
            throw new ArgumentException($"{op}: the query heads ({numHeads}) must be a multiple of the key/value heads ({numKvHeads})");
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentOutOfRangeException(nameof(dropout), $"{op}: dropout must be in [0, 1), got {dropout}");
        (NumHeads, NumKvHeads, HeadDim, DropoutP, Variant, this.rng) = (numHeads, numKvHeads, headDim, dropout, variant ?? AttentionVariant.Soft, rng);
    }

    /// <summary>x (B|T, T|B, h·D) → (B, h, T, D): a view (batch-first when <paramref name="batchFirst"/>).</summary>
    protected Tensor SplitHeads(Tensor x, int h, bool batchFirst)
    {
        var s = x.ShapeRef;
        var v = x.View(s[0], s[1], h, HeadDim);                                       // (B|T, T|B, h, D)
        return batchFirst ? v.Permute(0, 2, 1, 3) : v.Permute(1, 2, 0, 3);
    }

    /// <summary>One packed projection qkv (B|T, T|B, (H + 2·Hkv)·D), its heads in the order q, k, v, → q (B, H, T, D),
    /// k and v (B, Hkv, T, D): strided views, no copies.</summary>
    protected (Tensor Q, Tensor K, Tensor V) SplitQkv(Tensor qkv, bool batchFirst)
    {
        int H = NumHeads, Hkv = NumKvHeads;
        var all = SplitHeads(qkv, H + 2 * Hkv, batchFirst);                          // (B, H + 2Hkv, T, D)
        return (all.Narrow(1, 0, H), all.Narrow(1, H, Hkv), all.Narrow(1, H + Hkv, Hkv));
    }

    /// <summary>(B, H, T, D) → (B|T, T|B, H·D) in the input's layout: the heads side by side again (one copy).</summary>
    protected static Tensor MergeHeads(Tensor o, bool batchFirst)
    {
        var s = o.ShapeRef;
        var t = batchFirst ? o.Permute(0, 2, 1, 3) : o.Permute(2, 0, 1, 3);            // (B, T, H, D) or (T, B, H, D)
        return t.Reshape(t.ShapeRef[0], t.ShapeRef[1], s[1] * s[3]);
    }

    /// <summary>
    /// The keys/values a call attends over. Without a cache: <paramref name="project"/>()'s. Self-attention with a cache:
    /// this call's appended to the layer's cached ones (query i then sits at position past + i). Cross-attention with a
    /// cache: the memory's, projected on the first call only.
    /// </summary>
    protected static (Tensor K, Tensor V) FromCache(KvCache? cache, int layer, bool cross, Func<(Tensor K, Tensor V)> project)
    {
        if (cache is null) return project();
        if (cross) return cache.Cross(layer) ?? SetCross(cache, layer, project());
        var (k, v) = project();
        return cache.Append(layer, k, v);

        static (Tensor, Tensor) SetCross(KvCache c, int layer, (Tensor K, Tensor V) kv) => c.SetCross(layer, kv.K, kv.V);
    }

    /// <summary>
    /// <c>softmax(q·kᵀ/√D + mods)·v</c> on the fused kernel (or the variant's materialized path): q (B, H, L, D), k and v
    /// (B, Hkv, S, D) → Output (B, H, L, D); Weights (B, H, L, S) of every head when <paramref name="needWeights"/>, no
    /// gradient; Lse (B, H, L) when <paramref name="keepLse"/>.
    /// </summary>
    /// <remarks><paramref name="mask"/>: bool (True = may attend) or float (added), broadcastable to (B, H, L, S).
    /// <paramref name="causal"/>: key j ≤ query i; <paramref name="bottomRight"/> aligns the diagonal to the last key (a
    /// cache). <paramref name="alibi"/>: ALiBi slopes, one per query head.</remarks>
    protected (Tensor Output, Tensor? Weights, Tensor? Lse) Attend(Tensor q, Tensor k, Tensor v, Tensor? mask = null, bool causal = false,
        bool bottomRight = false, float[]? alibi = null, bool needWeights = false, bool keepLse = false)
    {
        float p = Training ? DropoutP : 0f;
        var gen = rng ?? Tensor.DefaultGenerator;
        var r = Functional.Attention(q, k, v, new AttentionOptions
        {
            Mask = mask, IsCausal = causal, Alignment = bottomRight ? CausalAlignment.BottomRight : CausalAlignment.TopLeft,
            AlibiSlopes = alibi, EnableGqa = NumKvHeads != NumHeads,
            DropoutP = p, DropoutSeed = p > 0 ? (ulong)gen.NextInt64() : 0,
            WeightsForHeads = needWeights ? Enumerable.Range(0, NumHeads).ToArray() : null,
            Site = SiteName, Variant = Variant,
            VariantSeed = Training && Variant.IsStochastic ? (ulong)gen.NextInt64() : null,
        });
        if (keepLse) return (r.Output, r.Weights, r.Lse);
        r.Lse.Dispose();
        return (r.Output, r.Weights, null);
    }
}
