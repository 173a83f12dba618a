using Attend.Nn;

namespace Attend.Cli.Dates;

/// <summary>The model's size and training set-up. Defaults are the tuned quickstart; <see cref="Tiny"/> is for tests.</summary>
public sealed record DateConfig(
    int DModel = 64,            // width: 64 learns this task as well as 128 at a fraction of the cost
    int Heads = 4,              // head dim 16
    int EncoderLayers = 2,
    int DecoderLayers = 2,
    int FeedForward = 256,      // 4·d_model
    int Batch = 64,
    double Lr = 3e-3,           // pre-norm lets the peak lr sit well above the usual 5e-4
    int WarmupSteps = 100,
    double MinLrRatio = 0.05,   // the cosine ends at Lr · MinLrRatio
    float ClipNorm = 1f,
    AttentionVariant? Attention = null)   // every attention layer's variant; null = soft
{
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;
    public static DateConfig Default => new();
    public static DateConfig Tiny => new(DModel: 32, Heads: 2, EncoderLayers: 1, DecoderLayers: 1, FeedForward: 64, Batch: 32, WarmupSteps: 10);
}

/// <summary>Character ids. Source: 0 = padding, then <see cref="DateFormats.Alphabet"/>. Target: 0 = padding, 1 = BOS,
/// then "0123456789-" (the ISO date is always 10 characters, so no EOS is needed).</summary>
public static class DateVocab
{
    public const int Pad = 0, Bos = 1;
    public const string TargetChars = "0123456789-";
    public static int SourceSize => DateFormats.Alphabet.Length + 1;
    public static int TargetSize => 2 + TargetChars.Length;

    public static long Source(char c) => DateFormats.Alphabet.IndexOf(c) is var i and >= 0 ? i + 1
        : throw new ArgumentException($"dates: character '{c}' is not in the source alphabet");
    public static long Target(char c) => 2 + TargetChars.IndexOf(c);
    public static char TargetChar(long id) => id >= 2 && id < TargetSize ? TargetChars[(int)id - 2] : '?';

    /// <summary>Sources padded to the longest: ids (B, S) int64 and the key padding mask (B, S) bool, True = padding.</summary>
    public static (Tensor Ids, Tensor PadMask) Sources(IReadOnlyList<string> sources)
    {
        int B = sources.Count, S = sources.Max(s => s.Length);
        var ids = new long[B * S]; var pad = new bool[B * S];
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
            {
                if (s < sources[b].Length) ids[b * S + s] = Source(sources[b][s]);
                else pad[b * S + s] = true;
            }
        return (Tensor.FromArray(ids, new[] { B, S }), Tensor.FromArray(pad, new[] { B, S }));
    }

    /// <summary>Teacher forcing: decoder input BOS + target[..^1] and labels target, both (B, T) int64.</summary>
    public static (Tensor Input, Tensor Labels) Targets(IReadOnlyList<string> targets)
    {
        int B = targets.Count, T = DateModel.TargetLength;
        var input = new long[B * T]; var labels = new long[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                labels[b * T + t] = Target(targets[b][t]);
                input[b * T + t] = t == 0 ? Bos : Target(targets[b][t - 1]);
            }
        return (Tensor.FromArray(input, new[] { B, T }), Tensor.FromArray(labels, new[] { B, T }));
    }
}

/// <summary>
/// A character-level encoder-decoder Transformer (pre-norm <see cref="Transformer"/>, batch-first) from date strings
/// to ISO dates. Dims legend: B batch, S source chars, T target chars (≤ 10), E = d_model, V target vocabulary.
/// <code>
/// memory = Encoder(srcEmb(src) + srcPos)                               (B, S, E)
/// logits = head(Decoder(tgtEmb(tgt) + tgtPos, memory, causal))          (B, T, V)
/// </code>
/// </summary>
public sealed class DateModel : Module
{
    public const int MaxSource = 48, TargetLength = 10;
    public DateConfig Config { get; }
    private readonly Embedding srcEmb, tgtEmb;
    private readonly LearnedPositionalEmbedding srcPos, tgtPos;
    private readonly Transformer transformer;
    private readonly Linear head;

    public DateModel(DateConfig config, Random rng)
    {
        Config = config;
        int E = config.DModel;
        srcEmb = RegisterModule("src_emb", new Embedding(DateVocab.SourceSize, E, DateVocab.Pad, rng));
        tgtEmb = RegisterModule("tgt_emb", new Embedding(DateVocab.TargetSize, E, DateVocab.Pad, rng));
        srcPos = RegisterModule("src_pos", new LearnedPositionalEmbedding(MaxSource, E, rng));
        tgtPos = RegisterModule("tgt_pos", new LearnedPositionalEmbedding(TargetLength, E, rng));
        transformer = RegisterModule("transformer", new Transformer(E, config.Heads, config.EncoderLayers, config.DecoderLayers,
            config.FeedForward, dropout: 0f, batchFirst: true, normFirst: true, rng: rng, attention: config.Attention));
        head = RegisterModule("head", new Linear(E, DateVocab.TargetSize, rng: rng));
    }

    /// <summary>src (B, S) int64, padMask (B, S) bool → memory (B, S, E).</summary>
    public Tensor Encode(Tensor src, Tensor padMask) =>
        transformer.Encoder.Forward(srcPos.Forward(srcEmb.Forward(src)), srcKeyPaddingMask: padMask);

    /// <summary>Teacher-forced logits (B, T, V) for decoder input tgt (B, T) int64.</summary>
    public Tensor Forward(Tensor src, Tensor padMask, Tensor tgt)
    {
        var memory = Encode(src, padMask);                                          // (B, S, E)
        var x = tgtPos.Forward(tgtEmb.Forward(tgt));                                // (B, T, E)
        var h = transformer.Decoder.Forward(x, memory, memoryKeyPaddingMask: padMask, tgtIsCausal: true);
        return head.Forward(h);                                                     // (B, T, V)
    }

    /// <summary>Greedy decoding of 10 characters per source. With the cache each step runs the decoder on one new
    /// position (keys/values of earlier ones kept, the memory's projected once); without it, on the whole prefix.</summary>
    public string[] Translate(IReadOnlyList<string> sources, bool useCache = true)
    {
        bool wasTraining = Training;
        Eval();
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        int B = sources.Count;
        var (src, pad) = DateVocab.Sources(sources);
        var memory = Encode(src, pad);                                              // (B, S, E)
        var cache = transformer.Decoder.NewCache();
        var tokens = new long[B, TargetLength + 1];
        for (int b = 0; b < B; b++) tokens[b, 0] = DateVocab.Bos;
        for (int t = 0; t < TargetLength; t++)
        {
            int from = useCache ? t : 0, len = t + 1 - from;                       // positions fed this step
            var ids = new long[B * len];
            for (int b = 0; b < B; b++)
                for (int i = 0; i < len; i++) ids[b * len + i] = tokens[b, from + i];
            var x = tgtPos.Forward(tgtEmb.Forward(Tensor.FromArray(ids, new[] { B, len })), from);   // (B, len, E)
            var h = useCache ? transformer.Decoder.Forward(x, memory, cache, pad)
                             : transformer.Decoder.Forward(x, memory, memoryKeyPaddingMask: pad, tgtIsCausal: true);
            var last = head.Forward(h.Select(1, len - 1));                          // (B, V)
            var next = last.Max(-1).Indices.ToInt64Array();                        // (B)
            for (int b = 0; b < B; b++) tokens[b, t + 1] = next[b];
        }
        Train(wasTraining);
        return Enumerable.Range(0, B).Select(b =>
            new string(Enumerable.Range(1, TargetLength).Select(t => DateVocab.TargetChar(tokens[b, t])).ToArray())).ToArray();
    }

    /// <summary>Sparsity and entropy of every decoder layer's cross-attention, per head, teacher-forced on the examples'
    /// targets (evaluation mode: gumbel and reinforce take their argmax).</summary>
    public AttentionChoice.Stats CrossAttentionStats(IReadOnlyList<(string Source, string Target)> examples)
    {
        bool wasTraining = Training;
        Eval();
        var layers = transformer.Decoder.Layers;
        foreach (var l in layers) (l.KeepCrossAttnWeights, l.AverageCrossAttnWeights) = (true, false);
        var stats = new AttentionChoice.Stats();
        try
        {
            using var noGrad = Autograd.NoGrad();
            foreach (var chunk in examples.Chunk(256))
            {
                using var scope = Tensor.NewScope();
                var (src, pad) = DateVocab.Sources(chunk.Select(e => e.Source).ToArray());
                var (input, _) = DateVocab.Targets(chunk.Select(e => e.Target).ToArray());
                Forward(src, pad, input);
                var padv = pad.ToBoolArray();
                foreach (var l in layers) stats.Add(l.CrossAttnWeights!, padv, (_, _) => true);   // (B, H, T, S)
            }
        }
        finally
        {
            foreach (var l in layers) (l.KeepCrossAttnWeights, l.AverageCrossAttnWeights) = (false, true);
            Train(wasTraining);
        }
        return stats;
    }

    /// <summary>The greedy translation of <paramref name="source"/> and the last decoder layer's cross-attention while
    /// writing it, averaged over heads: weights[t, s] = how much output char t looked at input char s.</summary>
    public (string Output, float[,] Weights) CrossAttention(string source)
    {
        var output = Translate(new[] { source })[0];
        bool wasTraining = Training;
        Eval();
        var layer = transformer.Decoder.Layers[^1];
        layer.KeepCrossAttnWeights = true;
        try
        {
            using var noGrad = Autograd.NoGrad();
            using var scope = Tensor.NewScope();
            var (src, pad) = DateVocab.Sources(new[] { source });
            var (input, _) = DateVocab.Targets(new[] { output.Replace('?', '0') });
            Forward(src, pad, input);
            var w = layer.CrossAttnWeights!.ToArray();                              // (1, T, S)
            var weights = new float[TargetLength, source.Length];
            for (int t = 0; t < TargetLength; t++)
                for (int s = 0; s < source.Length; s++) weights[t, s] = w[t * source.Length + s];
            return (output, weights);
        }
        finally
        {
            layer.KeepCrossAttnWeights = false;
            Train(wasTraining);
        }
    }
}
