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
public sealed class GroupedQueryAttention : Module
{
    private readonly Random? rng;
    public int EmbedDim { get; }
    public int NumHeads { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }
    public float DropoutP { get; }
    public bool BatchFirst { get; }
    /// <summary>The attention variant (<see cref="AttentionVariant"/>), default soft.</summary>
    public AttentionVariant Variant { get; set; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OProj { get; }

    public GroupedQueryAttention(int embedDim, int numHeads, int numKvHeads, float dropout = 0f, bool bias = false,
        bool batchFirst = true, Random? rng = null, AttentionVariant? attention = null)
    {
        Variant = attention ?? AttentionVariant.Soft;
        if (embedDim <= 0 || numHeads <= 0 || embedDim % numHeads != 0)
            throw new ArgumentException($"GroupedQueryAttention: embedDim ({embedDim}) must be a positive multiple of numHeads ({numHeads})");
        if (numKvHeads <= 0 || numHeads % numKvHeads != 0)
            throw new ArgumentException($"GroupedQueryAttention: numHeads ({numHeads}) must be a multiple of numKvHeads ({numKvHeads})");
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentOutOfRangeException(nameof(dropout), $"GroupedQueryAttention: dropout must be in [0, 1), got {dropout}");
        (EmbedDim, NumHeads, NumKvHeads, HeadDim, DropoutP, BatchFirst, this.rng) = (embedDim, numHeads, numKvHeads, embedDim / numHeads, dropout, batchFirst, rng);
        int kvDim = numKvHeads * HeadDim;
        QProj = RegisterModule("q_proj", new Linear(embedDim, embedDim, bias, rng));
        KProj = RegisterModule("k_proj", new Linear(embedDim, kvDim, bias, rng));
        VProj = RegisterModule("v_proj", new Linear(embedDim, kvDim, bias, rng));
        OProj = RegisterModule("o_proj", new Linear(embedDim, embedDim, bias, rng));
    }

    /// <summary>Output in the query's layout and, with <paramref name="needWeights"/>, the weights [B, L, S] (or [B, H, L, S]).</summary>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null,
        bool needWeights = false, Tensor? attnMask = null, bool averageAttnWeights = true, bool isCausal = false, KvCache? cache = null)
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

        // 1) Projections into heads: q (B, H, L, D); k, v (B, Hkv, S, D) — or the cache's.
        var q = Heads(QProj.Forward(query), H, bf);
        bool reuse = cache is { Static: true, K: not null };
        var (k, v) = reuse ? (cache!.K!, cache.V!) : (Heads(KProj.Forward(key), NumKvHeads, bf), Heads(VProj.Forward(value), NumKvHeads, bf));
        if (cache is not null && !reuse)
        {
            if (!cache.Static && cache.K is not null)
                (k, v) = (Tensor.Cat(new[] { cache.K, k }, 2), Tensor.Cat(new[] { cache.V!, v }, 2));      // (B, Hkv, past + S, D)
            (cache.K, cache.V) = (k, v);
        }
        int S = k.ShapeRef[2];

        // 2) softmax(q·kᵀ/√D + mask)·v with kv head g(h) for query head h.
        var mask = AttentionMasks.Combine(attnMask, keyPaddingMask, B, H, L, S, 0, op);
        var r = Functional.Attention(q, k, v, new AttentionOptions
        {
            Mask = mask, IsCausal = isCausal && attnMask is null, EnableGqa = true,
            Alignment = cache is not null ? CausalAlignment.BottomRight : CausalAlignment.TopLeft,
            DropoutP = Training ? DropoutP : 0f,
            DropoutSeed = Training && DropoutP > 0 ? (ulong)(rng ?? Tensor.DefaultGenerator).NextInt64() : 0,
            WeightsForHeads = needWeights ? Enumerable.Range(0, H).ToArray() : null, Site = this,
            Variant = Variant,
            VariantSeed = Training && Variant.IsStochastic ? (ulong)(rng ?? Tensor.DefaultGenerator).NextInt64() : null,
        });
        r.Lse.Dispose();

        // 3) Heads back together and the output projection.
        var merged = (bf ? r.Output.Permute(0, 2, 1, 3) : r.Output.Permute(2, 0, 1, 3)).Reshape(query.ShapeRef[0], query.ShapeRef[1], EmbedDim);
        var output = OProj.Forward(merged);                                                                // (B|L, L|B, E)
        var weights = r.Weights;
        if (weights is not null && averageAttnWeights) weights = weights.Mean(1);                         // (B, L, S)
        return batched ? (output, weights) : (output.Squeeze(0), weights?.Squeeze(0));
    }

    /// <summary>(B|T, T|B, h·D) → (B, h, T, D), a view.</summary>
    private Tensor Heads(Tensor x, int h, bool bf)
    {
        var s = x.ShapeRef;
        var v = x.View(s[0], s[1], h, HeadDim);
        return bf ? v.Permute(0, 2, 1, 3) : v.Permute(1, 2, 0, 3);
    }

    protected override string ExtraRepr() => $"embed_dim={EmbedDim}, num_heads={NumHeads}, num_kv_heads={NumKvHeads}, batch_first={BatchFirst}";
}
