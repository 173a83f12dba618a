using Attend.Attention;

namespace Attend.Nn;

/// <summary>
/// Grouped-query attention (Ainslie et al. 2023), as in LLaMA 2/3 and Mistral: H query heads share Hkv ≤ H key/value
/// heads, query head h reading kv head ⌊h / (H / Hkv)⌋. Hkv = H is multi-head attention, Hkv = 1 multi-query attention.
/// <code>
/// head_h = softmax(Q·W_Qₕᵀ (K·W_K,g(h)ᵀ)ᵀ / √D + M)·V·W_V,g(h)ᵀ,   out = Concat(head₁, …, head_H)·W_Oᵀ
/// </code>
/// The kv heads are never repeated in memory: the fused kernel reads them through <see cref="AttentionOptions.EnableGqa"/>.
/// Parameters (LLaMA's names): q_proj [H·D, E], k_proj [Hkv·D, E], v_proj [Hkv·D, E], o_proj [E, H·D] (.weight, and
/// .bias with <c>bias</c>); default Linear initialization. D = E / H. Inputs [B, L, E] (batch-first by default, as
/// LLaMA), [L, B, E] with <c>batchFirst: false</c>, or unbatched [L, E]. Masks, weights, isCausal and the KV cache
/// exactly as <see cref="MultiheadAttention"/> (bool attnMask True = NOT allowed, keyPaddingMask True = padding).
/// </summary>
public sealed class GroupedQueryAttention : AttentionModule
{
    /// <summary>E, the feature size of query, key, value and output.</summary>
    public int EmbedDim { get; }
    /// <summary>True (the default) when inputs and output are [B, L, E], false for [L, B, E].</summary>
    public bool BatchFirst { get; }
    /// <summary>q_proj, E → H·D.</summary>
    public Linear QProj { get; }
    /// <summary>k_proj, E → Hkv·D.</summary>
    public Linear KProj { get; }
    /// <summary>v_proj, E → Hkv·D.</summary>
    public Linear VProj { get; }
    /// <summary>o_proj, H·D → E.</summary>
    public Linear OProj { get; }

    /// <summary>H = <paramref name="numHeads"/> query heads over Hkv = <paramref name="numKvHeads"/> key/value heads;
    /// <paramref name="embedDim"/> must be a positive multiple of H, and H a multiple of Hkv. No biases by default, as LLaMA.</summary>
    /// <param name="rng">seeds the initialization, then dropout and the variant's sampling.</param>
    /// <param name="attention">the attention variant (null: soft).</param>
    /// <param name="embedDim">E, the model width.</param>
    /// <param name="numHeads">H, the number of query heads.</param>
    /// <param name="numKvHeads">the number of key/value heads; H must be a multiple of it.</param>
    /// <param name="dropout">dropout probability on the attention weights while training.</param>
    /// <param name="bias">adds biases to the projections.</param>
    /// <param name="batchFirst">inputs and output are [B, L, E], not [L, B, E].</param>
    public GroupedQueryAttention(int embedDim, int numHeads, int numKvHeads, float dropout = 0f, bool bias = false,
        bool batchFirst = true, Random? rng = null, AttentionVariant? attention = null)
        : base(numHeads, numKvHeads, MultiheadAttention.HeadSize(embedDim, numHeads, nameof(GroupedQueryAttention)), dropout, attention, rng)
    {
        (EmbedDim, BatchFirst) = (embedDim, batchFirst);
        int kvDim = numKvHeads * HeadDim;
        QProj = RegisterModule("q_proj", new Linear(embedDim, embedDim, bias, rng));
        KProj = RegisterModule("k_proj", new Linear(embedDim, kvDim, bias, rng));
        VProj = RegisterModule("v_proj", new Linear(embedDim, kvDim, bias, rng));
        OProj = RegisterModule("o_proj", new Linear(embedDim, embedDim, bias, rng));
    }

    /// <summary>Output in the query's layout and, with <paramref name="needWeights"/>, the weights [B, L, S] (or [B, H, L, S]).
    /// With <paramref name="cache"/>, layer <paramref name="layer"/> of it keeps this call's keys/values (see
    /// <see cref="MultiheadAttention"/>'s cached Forward; <paramref name="cross"/> for cross-attention).</summary>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null,
        bool needWeights = false, Tensor? attnMask = null, bool averageAttnWeights = true, bool isCausal = false, KvCache? cache = null,
        int layer = 0, bool cross = false)
    {
        const string op = "GroupedQueryAttention";
        if (query.Rank is not (2 or 3) || key.Rank != query.Rank || value.Rank != query.Rank)
            throw new ArgumentException($"{op}: query {Shapes.Str(query.ShapeRef)}, key {Shapes.Str(key.ShapeRef)}, value {Shapes.Str(value.ShapeRef)} must all be [B, T, E] / [T, B, E] or all [T, E]");
        if (cache is not null && attnMask is not null) throw new NotSupportedException($"{op}: attnMask cannot be combined with a KV cache (use isCausal)");
        bool batched = query.Rank == 3;
        int bd = batched && !BatchFirst ? 1 : 0;
        bool bf = bd == 0;
        if (!batched)
        {
            (query, key, value) = (query.Unsqueeze(0), key.Unsqueeze(0), value.Unsqueeze(0));
            if (keyPaddingMask is { Rank: 1 }) keyPaddingMask = keyPaddingMask.Unsqueeze(0);
        }
        int B = query.ShapeRef[bd], L = query.ShapeRef[1 - bd], H = NumHeads;

        // 1) Projections into heads: q (B, H, L, D); k, v (B, Hkv, S, D) — with the cache's.
        var q = SplitHeads(QProj.Forward(query), H, bf);
        var (k, v) = FromCache(cache, layer, cross, () => (SplitHeads(KProj.Forward(key), NumKvHeads, bf), SplitHeads(VProj.Forward(value), NumKvHeads, bf)));
        int S = k.ShapeRef[2];

        // 2) softmax(q·kᵀ/√D + mask)·v with kv head g(h) for query head h.
        var mask = AttentionMasks.Combine(attnMask, keyPaddingMask, B, H, L, S, 0, op);
        var (o, weights, _) = Attend(q, k, v, mask, isCausal && attnMask is null, bottomRight: cache is not null, needWeights: needWeights);

        // 3) Heads back together and the output projection.
        var output = OProj.Forward(MergeHeads(o, bf));                                                    // (B|L, L|B, E)
        if (weights is not null && averageAttnWeights) weights = weights.Mean(1);                         // (B, L, S)
        return batched ? (output, weights) : (output.Squeeze(0), weights?.Squeeze(0));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"embed_dim={EmbedDim}, num_heads={NumHeads}, num_kv_heads={NumKvHeads}, batch_first={BatchFirst}";
}
