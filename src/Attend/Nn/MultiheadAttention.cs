using Attend.Attention;

namespace Attend.Nn;

/// <summary>
/// torch.nn.MultiheadAttention (PyTorch 1.13/2.x semantics), on the fused attention kernel:
/// <code>
/// MultiHead(Q, K, V) = Concat(head₁, …, head_H)·W_Oᵀ + b_O,   head_h = softmax(Q·W_Qₕᵀ (K·W_Kₕᵀ)ᵀ / √D + M)·V·W_Vₕᵀ
/// </code>
/// with D = E / H. Dims legend: B batch, L queries, S keys, E embed dim, H heads, D = E / H head dim.
/// Inputs are [L, B, E] (or [B, L, E] with <c>batchFirst</c>, or unbatched [L, E]); key [S, B, kdim], value [S, B, vdim].
/// <para>Parameters as PyTorch: <c>in_proj_weight</c> [3E, E] (rows: W_Q, W_K, W_V) and <c>in_proj_bias</c> [3E], or
/// <c>q_proj_weight</c> [E, E], <c>k_proj_weight</c> [E, kdim], <c>v_proj_weight</c> [E, vdim] when kdim or vdim ≠ E
/// (<c>in_proj_bias</c> stays [3E]); <c>bias_k</c>, <c>bias_v</c> [1, 1, E] with addBiasKv; <c>out_proj.weight</c>,
/// <c>out_proj.bias</c>. Initialized as PyTorch: xavier_uniform_ on the projection weights, zero biases, xavier_normal_
/// on bias_k/bias_v, out_proj's Linear default weight.</para>
/// <para>Masks: <c>attnMask</c> [L, S] or [B·H, L, S], bool True = NOT allowed (MHA's convention, the opposite of SDPA's),
/// or float added to the scores; <c>keyPaddingMask</c> [B, S], bool True = padding (ignored), or float added. Both are
/// merged into one kernel mask (<see cref="AttentionMasks"/>). Deviation from PyTorch: a query whose keys are all masked
/// gets output 0 and weights 0, not NaN.</para>
/// <para><c>isCausal</c>: without <c>attnMask</c>, a top-left causal mask (key j ≤ query i) is applied — PyTorch 2.x
/// instead requires attn_mask with is_causal. With <c>attnMask</c>, as PyTorch 2.x, is_causal is only a hint:
/// <c>attnMask</c> wins and is used as given (it is expected to be the causal mask).</para>
/// <para><see cref="AttentionModule.Variant"/> (default soft) picks the normalizer (<see cref="AttentionVariant"/>); gumbel and reinforce
/// sample while training (seeded from <c>rng</c>) and take the argmax in evaluation.</para>
/// </summary>
public sealed class MultiheadAttention : AttentionModule
{
    /// <summary>E, the query and output feature size.</summary>
    public int EmbedDim { get; }
    /// <summary>The key feature size (kdim; E unless given).</summary>
    public int KDim { get; }
    /// <summary>The value feature size (vdim; E unless given).</summary>
    public int VDim { get; }
    /// <summary>True when inputs and output are [B, L, E] rather than [L, B, E].</summary>
    public bool BatchFirst { get; }
    /// <summary>True when a zero key and value are appended to every sequence (add_zero_attn).</summary>
    public bool AddZeroAttn { get; }
    /// <summary>[3E, E] when kdim = vdim = E, else null (then QProjWeight, KProjWeight, VProjWeight).</summary>
    public Tensor? InProjWeight { get; }
    /// <summary>q_proj_weight [E, E] when kdim or vdim ≠ E, else null.</summary>
    public Tensor? QProjWeight { get; }
    /// <summary>k_proj_weight [E, kdim] when kdim or vdim ≠ E, else null.</summary>
    public Tensor? KProjWeight { get; }
    /// <summary>v_proj_weight [E, vdim] when kdim or vdim ≠ E, else null.</summary>
    public Tensor? VProjWeight { get; }
    /// <summary>in_proj_bias [3E] (q, k, v biases in that order), zero-initialized; null without bias.</summary>
    public Tensor? InProjBias { get; }
    /// <summary>bias_k [1, 1, E], a learned key appended to every key sequence, with addBiasKv; else null.</summary>
    public Tensor? BiasK { get; }
    /// <summary>bias_v [1, 1, E], a learned value appended to every value sequence, with addBiasKv; else null.</summary>
    public Tensor? BiasV { get; }
    /// <summary>The output projection E → E (out_proj), its bias zero-initialized.</summary>
    public Linear OutProj { get; }

    /// <summary>As torch.nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim,
    /// batch_first), with the same defaults; <paramref name="embedDim"/> must be a positive multiple of <paramref name="numHeads"/>.</summary>
    /// <param name="rng">seeds the initialization, then dropout and the variant's sampling.</param>
    /// <param name="attention">the attention variant (null: soft).</param>
    /// <param name="embedDim">E (embed_dim).</param>
    /// <param name="numHeads">H (num_heads).</param>
    /// <param name="dropout">dropout probability on the attention weights while training.</param>
    /// <param name="bias">adds in_proj_bias and out_proj.bias.</param>
    /// <param name="addBiasKv">appends the learned bias_k and bias_v to every key and value sequence (add_bias_kv).</param>
    /// <param name="addZeroAttn">appends a zero key and value to every sequence (add_zero_attn).</param>
    /// <param name="kdim">the key feature size (null: E).</param>
    /// <param name="vdim">the value feature size (null: E).</param>
    /// <param name="batchFirst">inputs and output are [B, L, E], not [L, B, E].</param>
    public MultiheadAttention(int embedDim, int numHeads, float dropout = 0f, bool bias = true, bool addBiasKv = false,
        bool addZeroAttn = false, int? kdim = null, int? vdim = null, bool batchFirst = false, Random? rng = null,
        AttentionVariant? attention = null)
        : base(numHeads, numHeads, HeadSize(embedDim, numHeads, nameof(MultiheadAttention)), dropout, attention, rng)
    {
        (EmbedDim, BatchFirst, AddZeroAttn) = (embedDim, batchFirst, addZeroAttn);
        (KDim, VDim) = (kdim ?? embedDim, vdim ?? embedDim);
        if (KDim <= 0 || VDim <= 0) throw new ArgumentException($"MultiheadAttention: kdim and vdim must be positive, got ({KDim}, {VDim})");
        int E = embedDim;
        if (KDim == E && VDim == E)
            InProjWeight = RegisterParameter("in_proj_weight", Xavier.Uniform(new[] { 3 * E, E }, rng));
        else
        {
            QProjWeight = RegisterParameter("q_proj_weight", Xavier.Uniform(new[] { E, E }, rng));
            KProjWeight = RegisterParameter("k_proj_weight", Xavier.Uniform(new[] { E, KDim }, rng));
            VProjWeight = RegisterParameter("v_proj_weight", Xavier.Uniform(new[] { E, VDim }, rng));
        }
        if (bias) InProjBias = RegisterParameter("in_proj_bias", Tensor.Zeros(3 * E));
        OutProj = RegisterModule("out_proj", new Linear(E, E, bias, rng));
        if (OutProj.Bias is { } ob) ob.Span.Clear();
        if (addBiasKv)
        {
            BiasK = RegisterParameter("bias_k", Xavier.Normal(new[] { 1, 1, E }, rng));
            BiasV = RegisterParameter("bias_v", Xavier.Normal(new[] { 1, 1, E }, rng));
        }
    }

    /// <summary>
    /// Attention of <paramref name="query"/> over <paramref name="key"/>/<paramref name="value"/>, as PyTorch's forward.
    /// Returns the output (the query's layout, last dim E) and, with <paramref name="needWeights"/>, the attention weights
    /// before dropout: [B, L, S] averaged over heads, or [B, H, L, S] with <paramref name="averageAttnWeights"/> false
    /// ([L, S] / [H, L, S] unbatched). Soft weights are taken from the kernel's saved log-sum-exp; other variants return
    /// their own weights (sparse or one-hot). They carry no gradient.
    /// </summary>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null,
        bool needWeights = true, Tensor? attnMask = null, bool averageAttnWeights = true, bool isCausal = false)
        => Run(query, key, value, keyPaddingMask, needWeights, attnMask, averageAttnWeights, isCausal, null);

    /// <summary>
    /// Incremental decoding: the new positions' keys and values are appended to layer <paramref name="layer"/> of
    /// <paramref name="cache"/> and the queries attend over everything cached so far; with <paramref name="isCausal"/>,
    /// query i of this call sits at position <c>cache length before the call + i</c> (bottom-right causal alignment).
    /// With <paramref name="cross"/> (cross-attention over an encoder memory) key/value are projected on the first call
    /// and reused after that. <paramref name="keyPaddingMask"/>, if given, covers all cached keys [B, S_total].
    /// Not with addBiasKv / addZeroAttn.
    /// </summary>
    public (Tensor Output, Tensor? Weights) Forward(Tensor query, Tensor key, Tensor value, KvCache cache,
        Tensor? keyPaddingMask = null, bool needWeights = false, bool averageAttnWeights = true, bool isCausal = false, int layer = 0, bool cross = false)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (BiasK is not null || AddZeroAttn) throw new NotSupportedException("MultiheadAttention: a KV cache cannot be combined with addBiasKv or addZeroAttn");
        return Run(query, key, value, keyPaddingMask, needWeights, null, averageAttnWeights, isCausal, (cache, layer, cross));
    }

    private (Tensor, Tensor?) Run(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask, bool needWeights,
        Tensor? attnMask, bool averageAttnWeights, bool isCausal, (KvCache Cache, int Layer, bool Cross)? cached)
    {
        const string op = "MultiheadAttention";
        int E = EmbedDim, H = NumHeads, D = HeadDim;
        var cache = cached?.Cache;
        if (query.Rank is not (2 or 3)) throw new ArgumentException($"{op}: query must be [L, B, E], [B, L, E] or [L, E], got {Shapes.Str(query.ShapeRef)}");
        if (key.Rank != query.Rank || value.Rank != query.Rank)
            throw new ArgumentException($"{op}: query {Shapes.Str(query.ShapeRef)}, key {Shapes.Str(key.ShapeRef)} and value {Shapes.Str(value.ShapeRef)} must all be batched or all unbatched");
        bool batched = query.Rank == 3;
        int bd = batched && !BatchFirst ? 1 : 0;                    // where the batch dim is (after unbatched inputs gain one)
        if (!batched)
        {
            (query, key, value) = (query.Unsqueeze(bd), key.Unsqueeze(bd), value.Unsqueeze(bd));
            if (keyPaddingMask is { Rank: 1 }) keyPaddingMask = keyPaddingMask.Unsqueeze(0);
        }
        int sd = 1 - bd;
        bool bf = bd == 0;                                          // the layout is (B, T, ·)
        int B = query.ShapeRef[bd], L = query.ShapeRef[sd], S = key.ShapeRef[sd];
        if (query.ShapeRef[2] != E || key.ShapeRef[2] != KDim || value.ShapeRef[2] != VDim)
            throw new ArgumentException($"{op}: expected query/key/value feature sizes ({E}, {KDim}, {VDim}), got {Shapes.Str(query.ShapeRef)}, {Shapes.Str(key.ShapeRef)}, {Shapes.Str(value.ShapeRef)}");
        if (key.ShapeRef[bd] != B || value.ShapeRef[bd] != B || value.ShapeRef[sd] != S)
            throw new ArgumentException($"{op}: batch and key lengths disagree: query {Shapes.Str(query.ShapeRef)}, key {Shapes.Str(key.ShapeRef)}, value {Shapes.Str(value.ShapeRef)}");

        // 1) Projections, split into heads as strided views of the projection output: q (B, H, L, D); k, v (B, H, S, D)
        //    appended to the cache's (self-attention), or the cache's own (cross-attention after its first call).
        Tensor q, k, v;
        if (InProjWeight is not null && ReferenceEquals(query, key) && ReferenceEquals(key, value) && cached is not { Cross: true })
        {
            (q, k, v) = SplitQkv(Functional.Linear(query, InProjWeight, InProjBias), bf);                 // one packed product
            if (cached is var (c, l, _)) (k, v) = c.Append(l, k, v);                                       // (B, H, past + L, D)
        }
        else
        {
            q = SplitHeads(Project(query, 0), H, bf);
            (k, v) = FromCache(cache, cached?.Layer ?? 0, cached?.Cross ?? false,
                () => (SplitHeads(Project(key, 1), H, bf), SplitHeads(Project(value, 2), H, bf)));
        }
        S = k.ShapeRef[2];

        // 2) bias_k / bias_v as one more key, then a zero key: the masks get an allowed column for each.
        int pad = 0;
        if (BiasK is not null)
        {
            (k, v) = (AppendKey(k, BiasK, B), AppendKey(v, BiasV!, B));                                      // (B, H, S + 1, D)
            pad++;
        }
        if (AddZeroAttn)
        {
            using var zeros = Tensor.Zeros(B, H, 1, D);
            (k, v) = (Tensor.Cat(new[] { k, zeros }, 2), Tensor.Cat(new[] { v, zeros }, 2));                // (B, H, S + 1, D)
            pad++;
        }
        S = k.ShapeRef[2];

        // 3) Masks: a causal request without attnMask becomes the kernel's band, unless extra keys need an explicit mask.
        bool kernelCausal = false;
        if (isCausal && attnMask is null)
        {
            if (pad == 0) kernelCausal = true;
            else attnMask = CausalBlocked(L, S - pad);
        }
        var mask = AttentionMasks.Combine(attnMask, keyPaddingMask, B, H, L, S, pad, op);

        // 4) softmax(q·kᵀ/√D + mask)·v on the fused kernel (or the variant's weights on the materialized path); dropout on the weights only while training.
        var (o, headWeights, _) = Attend(q, k, v, mask, kernelCausal, bottomRight: cache is not null, needWeights: needWeights);

        // 5) Concatenate the heads back in the query's layout and project: (B|L, L|B, E).
        var output = OutProj.Forward(MergeHeads(o, bf));
        Tensor? weights = headWeights;                                                                            // (B, H, L, S)
        if (weights is not null && averageAttnWeights)
        {
            var mean = weights.Mean(1);                                                                    // (B, L, S)
            weights.Dispose();
            weights = mean;
        }
        if (!batched)
        {
            output = output.Squeeze(bd);
            weights = weights?.Squeeze(0);
        }
        return (output, weights);
    }

    /// <summary>Projection <paramref name="which"/> (0 = q, 1 = k, 2 = v) of x: <c>x·Wᵀ + b</c> with W and b rows of the packed parameters.</summary>
    private Tensor Project(Tensor x, int which)
    {
        int E = EmbedDim;
        var w = InProjWeight is not null ? InProjWeight.Narrow(0, which * E, E) : which switch { 0 => QProjWeight!, 1 => KProjWeight!, _ => VProjWeight! };
        return Functional.Linear(x, w, InProjBias?.Narrow(0, which * E, E));
    }

    /// <summary>k (B, H, S, D) with bias (1, 1, E) appended as key S: (B, H, S + 1, D).</summary>
    private Tensor AppendKey(Tensor k, Tensor bias, int B)
    {
        var b = bias.Reshape(1, NumHeads, 1, HeadDim).Expand(B, NumHeads, 1, HeadDim);                     // (B, H, 1, D)
        return Tensor.Cat(new[] { k, b }, 2);
    }

    /// <summary>[L, S] bool, True above the diagonal (MHA's "not allowed").</summary>
    internal static Tensor CausalBlocked(int L, int S)
    {
        var m = new bool[L * S];
        for (int i = 0; i < L; i++)
            for (int j = i + 1; j < S; j++) m[i * S + j] = true;
        return Tensor.FromArray(m, new[] { L, S });
    }

    internal static int HeadSize(int embedDim, int numHeads, string op) => embedDim > 0 && numHeads > 0 && embedDim % numHeads == 0 ? embedDim / numHeads
        : throw new ArgumentException($"{op}: embedDim ({embedDim}) must be a positive multiple of numHeads ({numHeads})");

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"embed_dim={EmbedDim}, num_heads={NumHeads}, batch_first={BatchFirst}";
}
