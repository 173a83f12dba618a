using Attend.Attention;

namespace Attend.Nn;

// A GPT in the shape of nanoGPT's model.py: CausalSelfAttention → Mlp → Block → GptConfig → Gpt, parameter names identical
// to nanoGPT's (so its checkpoints load with LoadStateDict). Dims legend: B = batch, T = time (positions), C = channels
// (NEmbd), nh = query heads, nkv = key/value heads, hs = head size (C / nh), V = vocabulary, S = keys (cache + new).

/// <summary>How a <see cref="Gpt"/> tells positions apart (<see cref="GptConfig.Positions"/>).</summary>
public enum PositionKind
{
    /// <summary>A learned absolute table [BlockSize, C] added to the token embeddings (transformer.wpe, GPT-2).</summary>
    Learned,
    /// <summary>Rotary embeddings of q and k in every attention layer (LLaMA).</summary>
    Rope,
    /// <summary>ALiBi's linear distance penalties on the attention scores, one slope per head (BLOOM, MPT).</summary>
    Alibi,
    /// <summary>No position information beyond the causal mask (NoPE).</summary>
    None
}

/// <summary>The normalization layers of a <see cref="Gpt"/> (<see cref="GptConfig.Norm"/>).</summary>
public enum NormKind
{
    /// <summary><see cref="Nn.LayerNorm"/>, with a bias when <see cref="GptConfig.Bias"/> (GPT-2).</summary>
    LayerNorm,
    /// <summary><see cref="RMSNorm"/> with eps 1e-5 (LLaMA).</summary>
    RmsNorm
}

/// <summary>The MLP of each <see cref="Gpt"/> block (<see cref="GptConfig.Mlp"/>).</summary>
public enum MlpKind
{
    /// <summary><c>c_proj(gelu(c_fc(x)))</c>, hidden width 4C by default (GPT-2).</summary>
    Gelu,
    /// <summary>SwiGLU <c>c_proj(silu(a) ∘ b)</c> with [a, b] = c_fc(x), hidden width ⌈8C/3⌉ rounded up to 64 by default (LLaMA).</summary>
    SwiGlu
}

/// <summary>Hyperparameters of <see cref="Gpt"/>; the defaults are nanoGPT's shakespeare_char model.</summary>
public sealed record GptConfig(
    int BlockSize = 256,            // maximum context length (positions)
    int VocabSize = 65,             // 65 characters of tiny Shakespeare; GPT-2's BPE has 50257 (padded to 50304 for speed)
    int NLayer = 6,
    int NHead = 6,
    int NEmbd = 384,
    float Dropout = 0f,             // 0 for pretraining; 0.1+ when finetuning
    bool Bias = true,               // biases in Linears and LayerNorms, as GPT-2; false is a bit better and faster
    PositionKind Positions = PositionKind.Learned,   // learned wpe (GPT-2) | rope (LLaMA) | alibi (BLOOM, MPT) | none (NoPE)
    NormKind Norm = NormKind.LayerNorm,              // layernorm (GPT-2) | rmsnorm (LLaMA)
    MlpKind Mlp = MlpKind.Gelu,                      // gelu, 4C hidden (GPT-2) | swiglu (LLaMA)
    int? NKvHead = null,            // key/value heads for grouped-query attention; null = NHead (plain multi-head)
    int? MlpHidden = null,          // hidden width; null = 4C for gelu, ⌈8C/3⌉ rounded up to 64 for swiglu
    bool RopeInterleaved = false,   // rope pairs: (x[i], x[i+hs/2]) as GPT-NeoX/LLaMA, or (x[2i], x[2i+1]) as GPT-J
    double RopeBase = 10000,
    bool TieWeights = true,         // lm_head.weight is transformer.wte.weight (weight tying, Press & Wolf 2017)
    AttentionVariant? Attention = null,   // soft (null) | sparsemax | entmax15 | topk:K | hard | gumbel:TAU | reinforce
    bool TokenShift = false)        // attention input x̃ₜ = xₜ + μ ⊙ (xₜ₋₁ − xₜ), μ learned per channel (RWKV's token shift)
{
    /// <summary>The attention variant: <see cref="Attention"/>, or soft when that is null.</summary>
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;
    /// <summary>The key/value heads: <see cref="NKvHead"/>, or <see cref="NHead"/> when that is null.</summary>
    public int KvHeads => NKvHead ?? NHead;
    /// <summary>hs = NEmbd / NHead (integer division; <see cref="Gpt"/> requires NEmbd to be a multiple of NHead).</summary>
    public int HeadSize => NEmbd / NHead;
    /// <summary>The MLP hidden width: <see cref="MlpHidden"/>, or when null 4·NEmbd for gelu and ⌈8·NEmbd/3⌉ rounded up to a
    /// multiple of 64 for swiglu.</summary>
    public int Hidden => MlpHidden ?? (Mlp == MlpKind.Gelu ? 4 * NEmbd : (8 * NEmbd / 3 + 63) / 64 * 64);
}

/// <summary>
/// Multi-head causal self-attention, <c>y = softmax(QKᵀ/√hs + causal)·V</c> per head, q, k, v from one fused projection
/// c_attn and read from its output by strides (no copies). With a <see cref="KvCache"/>, the new keys/values are appended
/// to the layer's cache and the new queries attend to every cached key with bottom-right causal alignment.
/// </summary>
internal sealed class CausalSelfAttention : AttentionModule
{
    private readonly Linear cAttn, cProj;
    private readonly Dropout residDropout;
    private readonly RotaryEmbedding? rope;
    private readonly float[]? alibi;
    private readonly Tensor? timeMix;
    public int Layer { get; }

    public CausalSelfAttention(GptConfig cfg, int layer, RotaryEmbedding? rope, float[]? alibi, Random? rng)
        : base(cfg.NHead, cfg.KvHeads, cfg.NEmbd % cfg.NHead == 0 ? cfg.HeadSize
              : throw new ArgumentException($"GPT: NEmbd {cfg.NEmbd} must divide into NHead {cfg.NHead} heads, and NHead into NKvHead {cfg.KvHeads}"),
              cfg.Dropout, cfg.Attention, rng: null)   // dropout and variant seeds from Tensor.DefaultGenerator
    {
        (Layer, this.rope, this.alibi) = (layer, rope, alibi);
        cAttn = RegisterModule("c_attn", new Linear(cfg.NEmbd, (cfg.NHead + 2 * cfg.KvHeads) * cfg.HeadSize, cfg.Bias, rng));   // q, k, v
        cProj = RegisterModule("c_proj", new Linear(cfg.NEmbd, cfg.NEmbd, cfg.Bias, rng));
        RegisterModule("attn_dropout", new Dropout(cfg.Dropout, rng));   // applied inside the fused kernel
        residDropout = RegisterModule("resid_dropout", new Dropout(cfg.Dropout, rng));
        if (cfg.TokenShift) timeMix = RegisterParameter("time_mix", Tensor.Full([cfg.NEmbd], 0.5f));
    }

    /// <summary>x (B, T, C), whose first position is position <paramref name="offset"/> (the cache's length) → (B, T, C).</summary>
    public Tensor Forward(Tensor x, KvCache? cache, int offset)
    {
        if (timeMix is not null) x = TokenShift(x, cache);
        var (q, k, v) = SplitQkv(cAttn.Forward(x), batchFirst: true);  // (B, nh, T, hs), (B, nkv, T, hs) ×2: strided views
        if (rope is not null) { q = rope.Forward(q, offset); k = rope.Forward(k, offset); }
        if (cache is not null) (k, v) = cache.Append(Layer, k, v);     // (B, nkv, S, hs), S = offset + T
        var (y, _, _) = Attend(q, k, v, causal: true, bottomRight: true, alibi: alibi);   // bottom-right = top-left when S = T
        return residDropout.Forward(cProj.Forward(MergeHeads(y, batchFirst: true)));      // (B, T, C): heads side by side
    }

    /// <summary>RWKV's token shift (Peng et al. 2023): <c>x̃ₜ = xₜ + μ ⊙ (xₜ₋₁ − xₜ)</c>, x₋₁ = 0 (or the cache's last
    /// input), μ (C) learned. It hands every position its predecessor, so one attention layer can match "the token
    /// before me" without first learning a previous-token head. x (B, T, C) → (B, T, C).</summary>
    private Tensor TokenShift(Tensor x, KvCache? cache)
    {
        int B = x.Size(0), T = x.Size(1), C = x.Size(2);
        var first = cache?.LastInput(Layer) ?? Tensor.Zeros(B, 1, C);                   // (B, 1, C): x₋₁
        var before = T == 1 ? first : Tensor.Cat([first, x.Narrow(1, 0, T - 1)], 1);   // (B, T, C): xₜ₋₁
        var mixed = x + timeMix! * (before - x);
        cache?.SetLastInput(Layer, x);                                                   // frees the old x₋₁ (read above)
        return mixed;
    }
}

/// <summary>The position-wise MLP: <c>c_proj(gelu(c_fc(x)))</c>, or SwiGLU <c>c_proj(silu(a) ∘ b)</c> with
/// [a, b] = c_fc(x) split in two halves.</summary>
internal sealed class Mlp : Module
{
    private readonly Linear cFc, cProj;
    private readonly Dropout dropout;
    private readonly bool swiglu;

    public Mlp(GptConfig cfg, Random? rng)
    {
        swiglu = cfg.Mlp == MlpKind.SwiGlu;
        int hidden = cfg.Hidden;
        cFc = RegisterModule("c_fc", new Linear(cfg.NEmbd, swiglu ? 2 * hidden : hidden, cfg.Bias, rng));
        cProj = RegisterModule("c_proj", new Linear(hidden, cfg.NEmbd, cfg.Bias, rng));
        dropout = RegisterModule("dropout", new Dropout(cfg.Dropout, rng));
    }

    public Tensor Forward(Tensor x)
    {
        var h = cFc.Forward(x);                                        // (B, T, hidden) or (B, T, 2·hidden)
        if (swiglu)
        {
            var ab = h.Chunk(2, -1);
            h = ab[0].Silu() * ab[1];                                  // (B, T, hidden)
        }
        else h = h.Gelu();
        return dropout.Forward(cProj.Forward(h));
    }
}

/// <summary>A pre-LN Transformer block: <c>x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))</c>.</summary>
internal sealed class Block : Module
{
    private readonly IUnaryModule ln1, ln2;
    private readonly CausalSelfAttention attn;
    private readonly Mlp mlp;

    public Block(GptConfig cfg, int layer, RotaryEmbedding? rope, float[]? alibi, Random? rng)
    {
        ln1 = (IUnaryModule)RegisterModule("ln_1", Gpt.Norm(cfg));
        attn = RegisterModule("attn", new CausalSelfAttention(cfg, layer, rope, alibi, rng));
        ln2 = (IUnaryModule)RegisterModule("ln_2", Gpt.Norm(cfg));
        mlp = RegisterModule("mlp", new Mlp(cfg, rng));
    }

    public Tensor Forward(Tensor x, KvCache? cache, int offset)
    {
        x = x + attn.Forward(ln1.Forward(x), cache, offset);
        return x + mlp.Forward(ln2.Forward(x));
    }
}

/// <summary>lm_head when tied: a bias-free linear layer whose weight is the token embedding table itself.</summary>
internal sealed class TiedLinear : Module, IUnaryModule
{
    public Tensor Weight { get; }
    public TiedLinear(Tensor weight) => Weight = RegisterParameter("weight", weight);
    public Tensor Forward(Tensor x) => Functional.Linear(x, Weight);
}

/// <summary>
/// A decoder-only Transformer language model (GPT-2 / nanoGPT): token (+ position) embeddings, NLayer pre-LN blocks of
/// causal self-attention and MLP, a final norm and the lm_head, whose weight is tied to the token embedding.
/// Initialization as nanoGPT: every Linear and Embedding N(0, 0.02), biases 0, and the residual projections (c_proj)
/// N(0, 0.02/√(2·NLayer)) so that the residual stream's variance does not grow with depth.
/// </summary>
public sealed partial class Gpt : Module
{
    /// <summary>The hyperparameters the model was built with.</summary>
    public GptConfig Config { get; }
    private readonly Embedding wte;
    private readonly LearnedPositionalEmbedding? wpe;
    private readonly Dropout drop;
    private readonly Block[] h;
    private readonly IUnaryModule lnF, lmHead;

    /// <summary>Builds the model of <paramref name="config"/> and initializes it as nanoGPT.</summary>
    /// <param name="rng">seeds the initialization and the dropout layers (attention-weight dropout and the variant's
    /// sampling draw from <see cref="Tensor.DefaultGenerator"/>).</param>
    /// <param name="config">the sizes and choices of the model.</param>
    public Gpt(GptConfig config, Random? rng = null)
    {
        Config = config;
        var c = config;
        var transformer = RegisterModule("transformer", new ModuleDict());
        wte = transformer.Add("wte", new Embedding(c.VocabSize, c.NEmbd, rng: rng));
        if (c.Positions == PositionKind.Learned) wpe = transformer.Add("wpe", new LearnedPositionalEmbedding(c.BlockSize, c.NEmbd, rng));
        drop = transformer.Add("drop", new Dropout(c.Dropout, rng));
        var rope = c.Positions == PositionKind.Rope ? new RotaryEmbedding(c.HeadSize, c.RopeBase, c.RopeInterleaved, c.BlockSize) : null;
        var alibi = c.Positions == PositionKind.Alibi ? Alibi.Slopes(c.NHead) : null;
        var list = transformer.Add("h", new ModuleDict());
        h = Enumerable.Range(0, c.NLayer).Select(i => list.Add(i.ToString(), new Block(c, i, rope, alibi, rng))).ToArray();
        lnF = (IUnaryModule)transformer.Add("ln_f", Norm(c));
        lmHead = c.TieWeights ? RegisterModule("lm_head", new TiedLinear(wte.Weight)) : RegisterModule("lm_head", new Linear(c.NEmbd, c.VocabSize, false, rng));

        using var _ = Autograd.NoGrad();
        foreach (var (name, p) in NamedParameters())
        {
            if (name.EndsWith("bias")) { p.Span.Clear(); continue; }
            if (p.Rank != 2) continue;                                 // norm weights stay ones
            float std = name.EndsWith("c_proj.weight") ? 0.02f / MathF.Sqrt(2 * c.NLayer) : 0.02f;
            using var init = Init.Normal(p.Shape, std, rng);
            p.CopyFrom(init);
        }
    }

    internal static Module Norm(GptConfig c) => c.Norm == NormKind.LayerNorm
        ? new LayerNorm(c.NEmbd, bias: c.Bias) : new RMSNorm(c.NEmbd, eps: 1e-5f);

    /// <summary>Parameters, excluding the position table (nanoGPT's count for get_num_params(non_embedding=True)).</summary>
    public long NonEmbeddingParameterCount => ParameterCount - (wpe?.Weight.NumEl ?? 0);

    /// <summary>
    /// idx [B, T] int64 token ids (T ≤ BlockSize) → logits [B, T, V] for every position, and with targets [B, T] the
    /// mean cross-entropy of predicting each target (target −1 is ignored, as nanoGPT).
    /// </summary>
    public (Tensor Logits, Tensor? Loss) Forward(Tensor idx, Tensor? targets = null)
    {
        var logits = Forward(idx, cache: null);
        if (targets is null) return (logits, null);
        var loss = Functional.CrossEntropy(logits.View(-1, Config.VocabSize), targets.Reshape(-1), ignoreIndex: -1);
        return (logits, loss);
    }

    /// <summary>A KV cache for <see cref="Forward(Tensor, KvCache?)"/>: one layer per block, room for the whole context.</summary>
    public KvCache NewCache() => new(Config.NLayer, capacity: Config.BlockSize);

    /// <summary>Logits [B, T, V] for the new tokens idx [B, T], which follow the cache's tokens; the cache grows by T.</summary>
    public Tensor Forward(Tensor idx, KvCache? cache)
    {
        if (idx.Rank != 2) throw new ArgumentException($"GPT: idx must be [B, T] int64, got {Shapes.Str(idx.ShapeRef)}");
        int T = idx.Size(1), offset = cache?.Length ?? 0;
        if (offset + T > Config.BlockSize)
            throw new ArgumentException($"GPT: cannot forward a sequence of length {offset + T}, block size is only {Config.BlockSize}");
        var x = wte.Forward(idx);                                      // (B, T, C) token embeddings
        if (wpe is not null) x = x + wpe.Positions(T, offset);         // + (T, C) position embeddings
        x = drop.Forward(x);
        foreach (var block in h) x = block.Forward(x, cache, offset);
        x = lnF.Forward(x);
        return lmHead.Forward(x);                                      // (B, T, V)
    }
}
