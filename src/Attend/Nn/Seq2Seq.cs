using Attend.Attention;

namespace Attend.Nn;

// An encoder-decoder Transformer for any sequence-to-sequence task: the date normalizer (characters → ISO date), the
// translator (words → words) and the speech recognizer (log-mel frames → phonemes and words) are this one model with
// different configs. Dims legend: B = batch, S = source positions (tokens, or frames after subsampling), T = target
// tokens, F = feature frames, C = features per frame, E = d_model, V = target vocabulary.

/// <summary>How <see cref="Seq2Seq"/> adds positions: learned tables (one per side) or fixed sinusoids (one, shared).</summary>
public enum Seq2SeqPositions
{
    /// <summary>Learned tables <c>src_pos</c> [MaxSource, E] and <c>tgt_pos</c> [MaxTarget, E].</summary>
    Learned,
    /// <summary>One fixed sinusoidal table <c>pos</c> for both sides (no parameters).</summary>
    Sinusoidal
}

/// <summary>Hyperparameters of <see cref="Seq2Seq"/>; the defaults are the translator's.</summary>
public sealed record Seq2SeqConfig(
    int SourceVocab,                // source token ids; 0 when the source is feature frames (then SourceFeatures)
    int TargetVocab,
    int DModel = 128,
    int Heads = 4,
    int EncoderLayers = 2,
    int DecoderLayers = 2,
    int FeedForward = 512,          // 4·d_model
    int MaxSource = 256,            // longest source (tokens, or encoder frames after subsampling) the positions cover
    int MaxTarget = 256,            // longest decoder input (BOS + tokens)
    Seq2SeqPositions Positions = Seq2SeqPositions.Learned,
    int SourceFeatures = 0,         // features per frame (e.g. 80 log-mel bands) when SourceVocab is 0
    int Subsampling = 4,            // frames per encoder position for a feature source: 2 or 4 (FrameSubsampling)
    int Pad = 0, int Bos = 1,
    int? Eos = 2,                   // null: fixed-length targets (decoding writes exactly as many tokens as asked)
    bool CtcHead = false,           // an auxiliary CTC head on the encoder (blank = Pad), for hybrid CTC/attention training
    float Dropout = 0f,
    AttentionVariant? Attention = null)   // every attention layer's variant; null = soft
{
    /// <summary>The attention variant of every attention layer: <see cref="Attention"/>, or soft when that is null.</summary>
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;
}

/// <summary>
/// Stacks <c>factor</c> neighbouring frames and projects them — a convolution with kernel = stride = 2 (once, or twice
/// for 4) written as frame stacking + Linear, since windows that do not overlap need no convolution kernel. It cuts
/// the positions the encoder's O(S²) self-attention sees by 2 or 4:
/// <code>
/// h = GELU(sub1(stack2(x)))            (B, F/2, E)      stack2: (B, F, C) → (B, F/2, 2C)
/// h = sub2(stack2(h))  or  sub2(h)     (B, F/4, E) for factor 4, (B, F/2, E) for factor 2
/// </code>
/// </summary>
public sealed class FrameSubsampling : Module, IUnaryModule
{
    private readonly Linear sub1, sub2;
    /// <summary>Frames per output position: 2 or 4.</summary>
    public int Factor { get; }

    /// <summary>Subsampling of frames with <paramref name="features"/> features each into <paramref name="dModel"/>-wide
    /// positions, by <paramref name="factor"/> 2 or 4; <paramref name="rng"/> seeds the initialization.</summary>
    public FrameSubsampling(int features, int dModel, int factor, Random? rng = null)
    {
        if (factor is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(factor), $"FrameSubsampling: factor must be 2 or 4, not {factor}");
        Factor = factor;
        sub1 = RegisterModule("sub1", new Linear(2 * features, dModel, rng: rng));
        sub2 = RegisterModule("sub2", new Linear(factor == 4 ? 2 * dModel : dModel, dModel, rng: rng));
    }

    /// <summary>x (B, F, C), F a multiple of the factor → (B, F / factor, E).</summary>
    public Tensor Forward(Tensor x)
    {
        int B = x.Size(0), F = x.Size(1), C = x.Size(2);
        if (F % Factor != 0) throw new ArgumentException($"FrameSubsampling: {F} frames are not a multiple of {Factor}");
        var h = sub1.Forward(x.Reshape(B, F / 2, 2 * C)).Gelu();                     // (B, F/2, E)
        int E = h.Size(2);
        return Factor == 4 ? sub2.Forward(h.Reshape(B, F / 4, 2 * E)) : sub2.Forward(h);
    }
}

/// <summary>
/// An encoder-decoder Transformer (pre-norm <see cref="Transformer"/>, batch-first) from a source — token ids, or
/// feature frames through <see cref="FrameSubsampling"/> — to target tokens:
/// <code>
/// memory = Encoder(srcEmb(src) + srcPos)                          (B, S, E)
/// logits = head(Decoder(tgtEmb(tgt) + tgtPos, memory, causal))     (B, T, V)
/// ctc    = log_softmax(ctc(memory))                                (S, B, V)   with CtcHead
/// </code>
/// Submodules: <c>src_emb</c> (or <c>subsample</c>), <c>tgt_emb</c>, <c>src_pos</c> and <c>tgt_pos</c> (learned) or
/// <c>pos</c> (sinusoidal, shared), <c>transformer</c>, <c>head</c>, <c>ctc</c>. Decoding — greedy, or beam search, on the
/// decoder's <see cref="KvCache"/> — is in Seq2SeqDecoding.cs.
/// </summary>
public sealed partial class Seq2Seq : Module
{
    /// <summary>The hyperparameters the model was built with.</summary>
    public Seq2SeqConfig Config { get; }
    private readonly IUnaryModule srcIn;
    private readonly Embedding tgtEmb;
    private readonly LearnedPositionalEmbedding? srcPos, tgtPos;
    private readonly SinusoidalPositionalEncoding? pos;
    private readonly Transformer transformer;
    private readonly Linear head;
    private readonly Linear? ctc;

    /// <summary>Builds the model of <paramref name="config"/>, which must give exactly one of SourceVocab and SourceFeatures;
    /// <paramref name="rng"/> seeds the initialization and dropout.</summary>
    public Seq2Seq(Seq2SeqConfig config, Random? rng = null)
    {
        var c = Config = config;
        int E = c.DModel;
        if ((c.SourceVocab > 0) == (c.SourceFeatures > 0))
            throw new ArgumentException($"Seq2Seq: give either SourceVocab ({c.SourceVocab}) or SourceFeatures ({c.SourceFeatures}), not both or neither");
        if (c.TargetVocab <= 0 || c.MaxSource <= 0 || c.MaxTarget <= 0)
            throw new ArgumentException($"Seq2Seq: TargetVocab ({c.TargetVocab}), MaxSource ({c.MaxSource}) and MaxTarget ({c.MaxTarget}) must be positive");
        srcIn = c.SourceVocab > 0 ? RegisterModule("src_emb", new Embedding(c.SourceVocab, E, c.Pad, rng))
                                  : RegisterModule("subsample", new FrameSubsampling(c.SourceFeatures, E, c.Subsampling, rng));
        tgtEmb = RegisterModule("tgt_emb", new Embedding(c.TargetVocab, E, c.Pad, rng));
        if (c.Positions == Seq2SeqPositions.Learned)
        {
            srcPos = RegisterModule("src_pos", new LearnedPositionalEmbedding(c.MaxSource, E, rng));
            tgtPos = RegisterModule("tgt_pos", new LearnedPositionalEmbedding(c.MaxTarget, E, rng));
        }
        else pos = RegisterModule("pos", new SinusoidalPositionalEncoding(E, Math.Max(c.MaxSource, c.MaxTarget)));
        transformer = RegisterModule("transformer", new Transformer(E, c.Heads, c.EncoderLayers, c.DecoderLayers, c.FeedForward,
            dropout: c.Dropout, batchFirst: true, normFirst: true, rng: rng, attention: c.Attention));
        head = RegisterModule("head", new Linear(E, c.TargetVocab, rng: rng));
        if (c.CtcHead) ctc = RegisterModule("ctc", new Linear(E, c.TargetVocab, rng: rng));
    }

    /// <summary>The decoder's layers (for their attention sites: <c>transformer.decoder.layers.N.multihead_attn</c>).</summary>
    public IReadOnlyList<TransformerDecoderLayer> DecoderLayers => transformer.Decoder.Layers;

    /// <summary>Source positions the encoder sees for <paramref name="length"/> source tokens or frames.</summary>
    public int EncoderLength(int length) => Config.SourceVocab > 0 ? length : (length + Config.Subsampling - 1) / Config.Subsampling;

    /// <summary>src: ids (B, S) int64, or frames (B, F, C) with F a multiple of the subsampling; padMask (B, S) bool,
    /// True = padding (for frames: per encoder position) → memory (B, S, E).</summary>
    public Tensor Encode(Tensor src, Tensor padMask)
    {
        var x = srcIn.Forward(src);                                                  // (B, S, E)
        if (x.Size(1) > Config.MaxSource)
            throw new ArgumentException($"Seq2Seq: the source has {x.Size(1)} positions, the model takes at most {Config.MaxSource}");
        x = srcPos is not null ? srcPos.Forward(x) : pos!.Forward(x);
        return transformer.Encoder.Forward(x, srcKeyPaddingMask: padMask);
    }

    /// <summary>Teacher-forced logits (B, T, V) for the decoder input tgt (B, T) int64.</summary>
    public Tensor Forward(Tensor src, Tensor padMask, Tensor tgt) => Decode(Encode(src, padMask), padMask, tgt);

    /// <summary>Logits (B, T, V) for the whole prefix tgt (B, T), recomputed (no cache).</summary>
    public Tensor Decode(Tensor memory, Tensor padMask, Tensor tgt) =>
        head.Forward(transformer.Decoder.Forward(Target(tgt, 0), memory, memoryKeyPaddingMask: padMask, tgtIsCausal: true));

    /// <summary>Logits (B, n, V) for new positions tgt (B, n) starting at <paramref name="offset"/>, with the KV cache.</summary>
    public Tensor DecodeStep(Tensor memory, Tensor padMask, Tensor tgt, int offset, KvCache cache) =>
        head.Forward(transformer.Decoder.Forward(Target(tgt, offset), memory, cache, padMask));

    /// <summary>A KV cache for <see cref="DecodeStep"/>: every decoder layer's self- and cross-attention.</summary>
    public KvCache NewCache() => transformer.Decoder.NewCache();

    /// <summary>The CTC head's log-probabilities per encoder position, time first for ctc_loss: (S, B, V); blank = Pad.</summary>
    public Tensor CtcLogProbs(Tensor memory) =>
        Functional.LogSoftmax((ctc ?? throw new InvalidOperationException("Seq2Seq: this model has no CTC head (CtcHead = false)")).Forward(memory), -1).Transpose(0, 1);

    /// <summary>Embedded decoder input with positions, the first at <paramref name="offset"/>: (B, n, E).</summary>
    private Tensor Target(Tensor tgt, int offset)
    {
        if (offset + tgt.Size(1) > Config.MaxTarget)
            throw new ArgumentException($"Seq2Seq: decoder positions up to {offset + tgt.Size(1)}, the model takes at most {Config.MaxTarget}");
        var x = tgtEmb.Forward(tgt);
        return tgtPos is not null ? tgtPos.Forward(x, offset) : pos!.Forward(x, offset);
    }
}
