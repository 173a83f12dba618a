using Attend.Data;

namespace Attend.Nn;

// BERT (Devlin et al. 2019), the encoder of sentence-embedding models such as all-MiniLM-L6-v2, with Hugging Face's
// BertModel parameter names so that its checkpoints (and ONNX exports of them) load as they are.
// Dims legend: B = batch, T = tokens, E = hidden size, H = heads, D = E / H, F = intermediate size.

/// <summary>Hyperparameters of <see cref="Bert"/>, named as the fields of a Hugging Face <c>config.json</c>.</summary>
public sealed record BertConfig(
    int VocabSize = 30522,
    int HiddenSize = 384,
    int NumHiddenLayers = 6,
    int NumAttentionHeads = 12,
    int IntermediateSize = 1536,
    int MaxPositionEmbeddings = 512,
    int TypeVocabSize = 2,
    float LayerNormEps = 1e-12f,
    bool Pooler = true)        // pooler.dense: tanh(W·h[CLS] + b), BertModel's pooler_output
{
    /// <summary>The width of one attention head, hidden_size / num_attention_heads.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <exception cref="ArgumentException">a size that is not positive, or heads that do not divide the hidden size.</exception>
    public void Validate()
    {
        foreach (var (name, v) in new[] { ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("num_hidden_layers", NumHiddenLayers),
                     ("num_attention_heads", NumAttentionHeads), ("intermediate_size", IntermediateSize), ("max_position_embeddings", MaxPositionEmbeddings),
                     ("type_vocab_size", TypeVocabSize) })
            if (v <= 0) throw new ArgumentException($"BERT config: {name} must be positive, got {v}");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ArgumentException($"BERT config: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}");
        if (!(LayerNormEps > 0)) throw new ArgumentException($"BERT config: layer_norm_eps must be positive, got {LayerNormEps}");
    }
}

/// <summary>How <see cref="Bert.Encode"/> turns last hidden states into one sentence vector (sentence-transformers'
/// pooling modes): the mean over real tokens (all-MiniLM-L6-v2), or the [CLS] token's row (snowflake-arctic-embed).</summary>
public enum SentencePooling
{
    /// <summary>The mean of the last hidden states over the real (unpadded) tokens.</summary>
    Mean,
    /// <summary>The last hidden state of [CLS], the first token.</summary>
    Cls,
}

/// <summary><c>x = LayerNorm(word[ids] + position[0…T−1] + token_type[types])</c> (embeddings.*).</summary>
internal sealed class BertEmbeddings : Module
{
    private readonly Embedding word, position, tokenType;
    private readonly LayerNorm norm;

    public BertEmbeddings(BertConfig c, Random? rng)
    {
        word = RegisterModule("word_embeddings", new Embedding(c.VocabSize, c.HiddenSize, rng: rng));
        position = RegisterModule("position_embeddings", new Embedding(c.MaxPositionEmbeddings, c.HiddenSize, rng: rng));
        tokenType = RegisterModule("token_type_embeddings", new Embedding(c.TypeVocabSize, c.HiddenSize, rng: rng));
        norm = RegisterModule("LayerNorm", new LayerNorm(c.HiddenSize, c.LayerNormEps));
    }

    /// <summary>ids, types (B, T) int64 → (B, T, E).</summary>
    public Tensor Forward(Tensor ids, Tensor types)
    {
        int T = ids.Size(1);
        var positions = position.Weight.Narrow(0, 0, T);                         // (T, E): position ids 0…T−1
        return norm.Forward(word.Forward(ids) + tokenType.Forward(types) + positions);
    }
}

/// <summary>Bidirectional self-attention with BERT's separate query, key and value projections
/// (attention.self.{query,key,value}), <c>softmax(QKᵀ/√D + mask)·V</c> on the fused kernel.</summary>
internal sealed class BertSelfAttention : AttentionModule
{
    private readonly Linear query, key, value;

    public BertSelfAttention(BertConfig c, Random? rng) : base(c.NumAttentionHeads, c.NumAttentionHeads, c.HeadDim, 0f, null, rng)
    {
        query = RegisterModule("query", new Linear(c.HiddenSize, c.HiddenSize, true, rng));
        key = RegisterModule("key", new Linear(c.HiddenSize, c.HiddenSize, true, rng));
        value = RegisterModule("value", new Linear(c.HiddenSize, c.HiddenSize, true, rng));
    }

    /// <summary>x (B, T, E), keep (B, 1, 1, T) bool or null → (B, T, E), heads side by side (before attention.output).
    /// Many tokens: one product with [W_q; W_k; W_v] (B, T, 3E), x packed once; a few (one short sentence): three
    /// products, each weight read once in place rather than copied into the stacked one.</summary>
    public Tensor Forward(Tensor x, Tensor? keep)
    {
        Tensor q, k, v;
        if (x.Size(0) * x.Size(1) > 48)                                             // the skinny GEMM's row limit
        {
            var w = Tensor.Cat(new[] { query.Weight, key.Weight, value.Weight }, 0);   // (3E, E)
            var b = Tensor.Cat(new[] { query.Bias!, key.Bias!, value.Bias! }, 0);       // (3E)
            (q, k, v) = SplitQkv(Functional.Linear(x, w, b), batchFirst: true);       // (B, H, T, D) each, strided views
        }
        else
        {
            q = SplitHeads(query.Forward(x), NumHeads, batchFirst: true);             // (B, H, T, D): strided views
            k = SplitHeads(key.Forward(x), NumHeads, batchFirst: true);
            v = SplitHeads(value.Forward(x), NumHeads, batchFirst: true);
        }
        var (y, _, _) = Attend(q, k, v, keep);                                      // (B, H, T, D)
        return MergeHeads(y, batchFirst: true);                                     // (B, T, E)
    }
}

/// <summary>A post-LN encoder layer (encoder.layer.N):
/// <code>
/// h = LayerNorm(x + attention.output.dense(self(x)))                   attention.output.LayerNorm
/// y = LayerNorm(h + output.dense(gelu(intermediate.dense(h))))         output.LayerNorm; gelu with erf, exact
/// </code></summary>
internal sealed class BertLayer : Module
{
    private readonly BertSelfAttention self;
    private readonly Linear attnOut, intermediate, output;
    private readonly LayerNorm attnNorm, outNorm;

    public BertLayer(BertConfig c, Random? rng)
    {
        var attention = RegisterModule("attention", new ModuleDict());
        self = attention.Add("self", new BertSelfAttention(c, rng));
        var ao = attention.Add("output", new ModuleDict());
        attnOut = ao.Add("dense", new Linear(c.HiddenSize, c.HiddenSize, true, rng));
        attnNorm = ao.Add("LayerNorm", new LayerNorm(c.HiddenSize, c.LayerNormEps));
        intermediate = RegisterModule("intermediate", new ModuleDict()).Add("dense", new Linear(c.HiddenSize, c.IntermediateSize, true, rng));
        var o = RegisterModule("output", new ModuleDict());
        output = o.Add("dense", new Linear(c.IntermediateSize, c.HiddenSize, true, rng));
        outNorm = o.Add("LayerNorm", new LayerNorm(c.HiddenSize, c.LayerNormEps));
    }

    public Tensor Forward(Tensor x, Tensor? keep)
    {
        var h = attnNorm.Forward(x + attnOut.Forward(self.Forward(x, keep)));     // (B, T, E)
        return outNorm.Forward(h + output.Forward(intermediate.Forward(h).Gelu()));
    }
}

/// <summary>
/// A BERT encoder (Hugging Face's BertModel): embeddings, <see cref="BertConfig.NumHiddenLayers"/> post-LN layers, and
/// optionally the pooler. <see cref="Forward"/> gives <c>last_hidden_state</c>; <see cref="Encode"/> gives sentence
/// embeddings as sentence-transformers computes them, by <see cref="Pooling"/>:
/// <code>
/// Mean:  e = normalize( Σₜ mask[t]·h[t] / Σₜ mask[t] )      mean of the last hidden states over real tokens, L2 norm 1
/// Cls:   e = normalize( h[0] )                              the [CLS] token's last hidden state
/// </code>
/// Load pretrained weights with <c>Attend.Interop.BertLoading</c> (<c>Bert.Load(path)</c>: an ONNX file or a Hugging
/// Face folder). Initialization of a fresh model: N(0, 0.02) weights, zero biases, as BERT's <c>initializer_range</c>.
/// </summary>
public sealed class Bert : Module
{
    /// <summary>The sizes of the model (Hugging Face's config.json).</summary>
    public BertConfig Config { get; }
    /// <summary>The WordPiece tokenizer of the model's vocab.txt, when it was given (needed by <see cref="Encode"/>).</summary>
    public IBertTokenizer? Tokenizer { get; set; }
    /// <summary>How <see cref="Encode"/> pools (mean by default).</summary>
    public SentencePooling Pooling { get; set; } = SentencePooling.Mean;
    private readonly BertEmbeddings embeddings;
    private readonly BertLayer[] layers;
    private readonly Linear? pooler;

    /// <summary>A BERT encoder with freshly initialized weights (as BertModel's _init_weights: normal(0, 0.02), zero
    /// biases, unit LayerNorm), to train or to load pretrained weights into.</summary>
    /// <param name="config">the sizes.</param>
    /// <param name="tokenizer">the WordPiece vocabulary (its size must equal vocab_size), or null.</param>
    /// <param name="rng">seeds the initialization.</param>
    public Bert(BertConfig config, IBertTokenizer? tokenizer = null, Random? rng = null)
    {
        config.Validate();
        Config = config;
        if (tokenizer is not null && tokenizer.VocabSize != config.VocabSize)
            throw new ArgumentException($"BERT: the vocabulary has {tokenizer.VocabSize} tokens but the model's word embeddings have {config.VocabSize} rows");
        Tokenizer = tokenizer;
        embeddings = RegisterModule("embeddings", new BertEmbeddings(config, rng));
        var list = RegisterModule("encoder", new ModuleDict()).Add("layer", new ModuleDict());
        layers = Enumerable.Range(0, config.NumHiddenLayers).Select(i => list.Add(i.ToString(), new BertLayer(config, rng))).ToArray();
        if (config.Pooler) pooler = RegisterModule("pooler", new ModuleDict()).Add("dense", new Linear(config.HiddenSize, config.HiddenSize, true, rng));
        using var _ = Autograd.NoGrad();
        foreach (var (name, p) in NamedParameters())
            if (p.Rank == 2) { using var w = Init.Normal(p.Shape, 0.02f, rng); p.CopyFrom(w); }
            else if (name.EndsWith(".bias")) p.Span.Clear();
        Eval();
    }

    /// <summary>
    /// input_ids (B, T) int64; attention_mask (B, T), nonzero = a real token, null = all real; token_type_ids (B, T)
    /// int64, null = all 0 → last_hidden_state (B, T, E). Padded positions get outputs too (they attend to the real
    /// tokens), as in Hugging Face and the ONNX exports.
    /// </summary>
    /// <exception cref="ArgumentException">shapes that differ, more tokens than positions, an id out of range, or a
    /// sequence whose mask has no real token.</exception>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        var (keep, types) = Inputs(inputIds, attentionMask, tokenTypeIds);
        var x = embeddings.Forward(inputIds, types);
        foreach (var layer in layers) x = layer.Forward(x, keep);
        return x;
    }

    /// <summary>BertModel's pooler_output: <c>tanh(pooler.dense(h[:, 0]))</c> (B, E) from last_hidden_state (B, T, E).</summary>
    public Tensor Pool(Tensor lastHiddenState) =>
        (pooler ?? throw new InvalidOperationException("BERT: this model has no pooler (config.Pooler is false)")).Forward(lastHiddenState.Select(1, 0)).Tanh();

    private (Tensor? Keep, Tensor Types) Inputs(Tensor ids, Tensor? mask, Tensor? types)
    {
        if (ids.DType != DType.Int64 || ids.Rank != 2)
            throw new ArgumentException($"BERT: input_ids must be int64 (B, T), got {ids.DType.Name()} {Shapes.Str(ids.ShapeRef)}");
        int B = ids.Size(0), T = ids.Size(1);
        if (T == 0) throw new ArgumentException("BERT: input_ids has no tokens");
        if (T > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"BERT: {T} tokens, but the model has {Config.MaxPositionEmbeddings} positions; truncate the input");
        CheckIds(ids, Config.VocabSize, "input_ids");
        if (types is null) types = Tensor.FromArray(new long[B * T], [B, T]);
        else
        {
            if (types.DType != DType.Int64 || !Shapes.Equal(types.ShapeRef, ids.ShapeRef))
                throw new ArgumentException($"BERT: token_type_ids must be int64 {Shapes.Str(ids.ShapeRef)}, got {types.DType.Name()} {Shapes.Str(types.ShapeRef)}");
            CheckIds(types, Config.TypeVocabSize, "token_type_ids");
        }
        if (mask is null) return (null, types);
        if (!Shapes.Equal(mask.ShapeRef, ids.ShapeRef))
            throw new ArgumentException($"BERT: attention_mask must be {Shapes.Str(ids.ShapeRef)}, got {Shapes.Str(mask.ShapeRef)}");
        var keep = mask.DType switch                                                // (B, T) bool
        {
            DType.Bool => mask,
            DType.Int64 => Tensor.FromArray(Array.ConvertAll(mask.ToInt64Array(), v => v != 0), [B, T]),   // Hugging Face's 0/1 int64
            _ => mask.Ne(0f),
        };
        var k = keep.ToBoolArray();
        for (int b = 0; b < B; b++)
            if (!k.AsSpan(b * T, T).Contains(true)) throw new ArgumentException($"BERT: attention_mask of sequence {b} has no real token");
        if (!k.AsSpan().Contains(false)) return (null, types);                     // nothing to mask: the kernel's unmasked path
        return (keep.View(B, 1, 1, T), types);
    }

    private static void CheckIds(Tensor ids, int n, string what)
    {
        foreach (long id in ids.ToInt64Array())
            if (id < 0 || id >= n) throw new ArgumentException($"BERT: {what} holds {id}, outside [0, {n})");
    }

    /// <summary>
    /// Sentence embeddings (E floats each, L2-normalized, pooled by <see cref="Pooling"/>) of
    /// <paramref name="texts"/>, in their order. Texts are tokenized with <see cref="Tokenizer"/>, cut to
    /// <paramref name="maxTokens"/> (default: the model's positions), sorted by length and run
    /// <paramref name="batchSize"/> at a time, each batch padded to its longest. <paramref name="progress"/> hears
    /// the number of texts done after each batch.
    /// </summary>
    public float[][] Encode(IReadOnlyList<string> texts, int batchSize = 32, int? maxTokens = null, Action<int>? progress = null, SentencePooling? pooling = null)
    {
        var tok = Tokenizer ?? throw new InvalidOperationException("BERT: no tokenizer; load the model with its vocab.txt");
        var inputs = texts.Select(t => tok.Encode(t, null, maxTokens ?? Config.MaxPositionEmbeddings)).ToArray();
        return Embed(inputs, batchSize, progress, pooling);
    }

    /// <summary><see cref="Encode"/> on inputs already tokenized (<paramref name="pooling"/>: null = <see cref="Pooling"/>).</summary>
    public float[][] Embed(IReadOnlyList<BertInput> inputs, int batchSize = 32, Action<int>? progress = null, SentencePooling? pooling = null)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"BERT: batch size must be positive, got {batchSize}");
        var order = Enumerable.Range(0, inputs.Count).OrderBy(i => inputs[i].Length).ToArray();
        var result = new float[inputs.Count][];
        using var noGrad = Autograd.NoGrad();
        for (int s = 0; s < order.Length; s += batchSize)
        {
            var batch = order.Skip(s).Take(batchSize).Select(i => inputs[i]).ToArray();
            var pooled = Pooled(batch, pooling ?? Pooling);
            for (int j = 0; j < batch.Length; j++) result[order[s + j]] = pooled[j];
            progress?.Invoke(Math.Min(s + batchSize, order.Length));
        }
        return result;
    }

    private float[][] Pooled(BertInput[] batch, SentencePooling pooling)
    {
        int B = batch.Length, T = batch.Max(x => x.Length), E = Config.HiddenSize;
        var (ids, mask, types) = Pad(batch, Tokenizer?.Specials.Pad ?? 0);
        using var scope = Tensor.NewScope();
        var hidden = Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(mask, [B, T]), Tensor.FromArray(types, [B, T])).Contiguous();
        ReadOnlySpan<float> h = hidden.Span;                                        // (B, T, E), read in place: no copy per batch
        var result = new float[B][];
        for (int b = 0; b < B; b++)
        {
            var e = new double[E];
            int n = pooling == SentencePooling.Cls ? 1 : batch[b].Length;                // Cls: row 0 alone
            for (int t = 0; t < n; t++)
                for (int i = 0; i < E; i++) e[i] += h[(b * T + t) * E + i];
            double norm = Math.Sqrt(e.Sum(v => (v / n) * (v / n)));
            result[b] = e.Select(v => (float)(v / n / Math.Max(norm, 1e-12))).ToArray();
        }
        return result;
    }

    /// <summary>Inputs padded to the longest: ids (with <paramref name="pad"/>), mask (1 real, 0 pad), token types, each B·T.</summary>
    public static (long[] Ids, bool[] Mask, long[] Types) Pad(IReadOnlyList<BertInput> batch, int pad)
    {
        int B = batch.Count, T = batch.Max(x => x.Length);
        var ids = new long[B * T]; var mask = new bool[B * T]; var types = new long[B * T];
        Array.Fill(ids, pad);
        for (int b = 0; b < B; b++)
        {
            batch[b].Ids.CopyTo(ids, b * T);
            batch[b].TypeIds.CopyTo(types, b * T);
            mask.AsSpan(b * T, batch[b].Length).Fill(true);
        }
        return (ids, mask, types);
    }
}
