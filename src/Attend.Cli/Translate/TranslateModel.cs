using System.Text.Json.Nodes;
using Attend.Nn;

namespace Attend.Cli.Translate;

/// <summary>
/// Model size and training set-up.
/// <code>
/// preset   d   heads enc dec  ff   batch  lr     for
/// tiny     32    2    1   1    64    16   3e-3   tests, seconds
/// default 128    4    2   2   512    64   2e-3   the apertium corpus, minutes on 2 cores
/// </code>
/// </summary>
public sealed record TranslatePreset(string Name, int DModel, int Heads, int EncoderLayers, int DecoderLayers, int FeedForward,
    int Batch, double Lr, int WarmupSteps, int EvalEvery, int SaveEvery, int DevSize)
{
    public static readonly TranslatePreset Tiny = new("tiny", 32, 2, 1, 1, 64, 16, 3e-3, 10, 25, 50, 20);
    public static readonly TranslatePreset Default = new("default", 128, 4, 2, 2, 512, 64, 2e-3, 200, 250, 500, 200);
    public static readonly TranslatePreset[] All = [Tiny, Default];

    public static TranslatePreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new TranslateException($"unknown preset '{name}' (choose {string.Join(", ", All.Select(p => p.Name))})");
}

/// <summary>What a translation checkpoint's config holds: the preset, both vocabularies and the attention variant
/// (a checkpoint without "attention", written before variants existed, is soft).</summary>
public sealed record TranslateConfig(TranslatePreset Preset, Vocab Source, Vocab Target, AttentionVariant? Attention = null)
{
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;

    public const string Kind = "attend-char-translate";
    public const int Version = 1;

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["preset"] = Preset.Name, ["d_model"] = Preset.DModel, ["nhead"] = Preset.Heads,
        ["num_encoder_layers"] = Preset.EncoderLayers, ["num_decoder_layers"] = Preset.DecoderLayers,
        ["dim_feedforward"] = Preset.FeedForward, ["attention"] = Variant.ToString(), ["source_tokens"] = new JsonArray(Source.Tokens.Select(t => (JsonNode)t).ToArray()), ["target_tokens"] = new JsonArray(Target.Tokens.Select(t => (JsonNode)t).ToArray()),
    }.ToJsonString();

    static Vocab Tokens(JsonNode? node) => new Vocab(((JsonArray)node!).Select(t => t!.GetValue<string>()).ToArray());

    public static TranslateConfig FromJson(string json, string dir)
    {
        try
        {
            var o = JsonNode.Parse(json) as JsonObject;
            string kind = o?["kind"]?.GetValue<string>() ?? "(none)";
            if (kind != Kind) throw new TranslateException($"'{dir}' holds a checkpoint of kind '{kind}', not a translation model ({Kind})");
            if (o!["version"]!.GetValue<int>() != Version) throw new TranslateException($"'{dir}' holds a translation checkpoint of another version");
            var attention = o["attention"] is { } a ? AttentionVariant.Parse(a.GetValue<string>()) : AttentionVariant.Soft;
            return new TranslateConfig(TranslatePreset.Get(o["preset"]!.GetValue<string>()),
                Tokens(o["source_tokens"]), Tokens(o["target_tokens"]), attention);
        }
        catch (Exception ex) when (ex is InvalidCastException or NullReferenceException or InvalidOperationException or FormatException or ArgumentException or System.Text.Json.JsonException)
        {
            throw new TranslateException($"'{dir}': malformed translation config ({ex.Message})");
        }
    }
}

/// <summary>
/// A word-level encoder-decoder Transformer (pre-norm, batch-first), as the dates quickstart's but with vocabularies
/// from the data and an EOS so outputs have any length. Dims: B batch, S source tokens, T target tokens, E d_model, V target vocab.
/// <code>
/// memory = Encoder(srcEmb(src) + srcPos)                          (B, S, E)
/// logits = head(Decoder(tgtEmb(tgt) + tgtPos, memory, causal))     (B, T, V)
/// </code>
/// </summary>
public sealed class TranslateModel : Module
{
    /// <summary>Longest source and target (tokens, EOS included) the position tables cover; longer pairs are not trained on.</summary>
    public const int MaxSource = 256, MaxTarget = 256;
    public TranslateConfig Config { get; }
    private readonly Embedding srcEmb, tgtEmb;
    private readonly LearnedPositionalEmbedding srcPos, tgtPos;
    private readonly Transformer transformer;
    private readonly Linear head;

    public TranslateModel(TranslateConfig config, Random rng)
    {
        Config = config;
        var p = config.Preset;
        int E = p.DModel;
        srcEmb = RegisterModule("src_emb", new Embedding(config.Source.Size, E, Vocab.Pad, rng));
        tgtEmb = RegisterModule("tgt_emb", new Embedding(config.Target.Size, E, Vocab.Pad, rng));
        srcPos = RegisterModule("src_pos", new LearnedPositionalEmbedding(MaxSource, E, rng));
        tgtPos = RegisterModule("tgt_pos", new LearnedPositionalEmbedding(MaxTarget, E, rng));
        transformer = RegisterModule("transformer", new Transformer(E, p.Heads, p.EncoderLayers, p.DecoderLayers, p.FeedForward,
            dropout: 0f, batchFirst: true, normFirst: true, rng: rng, attention: config.Attention));
        head = RegisterModule("head", new Linear(E, config.Target.Size, rng: rng));
    }

    /// <summary>Sources as ids (B, S) int64, padded to the longest (cut at <see cref="MaxSource"/>), and the padding mask (B, S), True = padding.</summary>
    public (Tensor Ids, Tensor PadMask) Sources(IReadOnlyList<string> sources) => SourceIds(sources.Select(Config.Source.Encode).ToArray());

    public static (Tensor Ids, Tensor PadMask) SourceIds(IReadOnlyList<long[]> sources)
    {
        int B = sources.Count, S = Math.Max(1, Math.Min(MaxSource, sources.Max(s => s.Length)));
        var ids = new long[B * S]; var pad = new bool[B * S];
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
            {
                if (s < sources[b].Length) ids[b * S + s] = sources[b][s];
                else pad[b * S + s] = true;
            }
        return (Tensor.FromArray(ids, new[] { B, S }), Tensor.FromArray(pad, new[] { B, S }));
    }

    /// <summary>Teacher forcing: decoder input BOS + target and labels target + EOS, padded (B, T) int64.</summary>
    public static (Tensor Input, Tensor Labels) TargetIds(IReadOnlyList<long[]> targets)
    {
        int B = targets.Count, T = targets.Max(t => t.Length) + 1;
        var input = new long[B * T]; var labels = new long[B * T];
        for (int b = 0; b < B; b++)
        {
            var s = targets[b];
            for (int t = 0; t <= s.Length; t++)
            {
                input[b * T + t] = t == 0 ? Vocab.Bos : s[t - 1];
                labels[b * T + t] = t == s.Length ? Vocab.Eos : s[t];
            }
        }
        return (Tensor.FromArray(input, new[] { B, T }), Tensor.FromArray(labels, new[] { B, T }));
    }

    /// <summary>src (B, S), padMask (B, S) → memory (B, S, E).</summary>
    public Tensor Encode(Tensor src, Tensor padMask) =>
        transformer.Encoder.Forward(srcPos.Forward(srcEmb.Forward(src)), srcKeyPaddingMask: padMask);

    /// <summary>Teacher-forced logits (B, T, V).</summary>
    public Tensor Forward(Tensor src, Tensor padMask, Tensor tgt) => Decode(Encode(src, padMask), padMask, tgt);

    /// <summary>Logits (B, T, V) for the whole prefix tgt (B, T), recomputed (no cache).</summary>
    public Tensor Decode(Tensor memory, Tensor padMask, Tensor tgt) =>
        head.Forward(transformer.Decoder.Forward(tgtPos.Forward(tgtEmb.Forward(tgt)), memory, memoryKeyPaddingMask: padMask, tgtIsCausal: true));

    /// <summary>Logits (B, len, V) for new positions tgt (B, len) starting at <paramref name="offset"/>, with the KV cache.</summary>
    public Tensor DecodeStep(Tensor memory, Tensor padMask, Tensor tgt, int offset, DecoderLayerCache[] cache) =>
        head.Forward(transformer.Decoder.Forward(tgtPos.Forward(tgtEmb.Forward(tgt), offset), memory, cache, padMask));

    public DecoderLayerCache[] NewCache() => transformer.Decoder.NewCache();

    /// <summary>Output length limit (tokens) for a source of that many tokens: twice its length plus 10, within the position table.</summary>
    public static int MaxOutput(int sourceLength) => Math.Min(MaxTarget, 2 * sourceLength + 10);

    /// <summary>Sparsity and entropy of every decoder layer's cross-attention, per head, teacher-forced on the pairs'
    /// targets (evaluation mode); padding keys and padding queries are left out.</summary>
    public AttentionChoice.Stats CrossAttentionStats(IReadOnlyList<Pair> pairs)
    {
        var stats = new AttentionChoice.Stats();
        WithCrossAttention(average: false, () =>
        {
            foreach (var chunk in pairs.Chunk(100))
            {
                using var scope = Tensor.NewScope();
                var (src, pad) = SourceIds(chunk.Select(p => Config.Source.Encode(p.Source)).ToArray());
                var tgt = chunk.Select(p => Config.Target.Encode(p.Target)).ToArray();
                var (input, _) = TargetIds(tgt);
                Forward(src, pad, input);
                var padv = pad.ToBoolArray();
                foreach (var l in transformer.Decoder.Layers)
                    stats.Add(l.CrossAttnWeights!, padv, (b, t) => t <= tgt[b].Length);   // (B, H, T, S); BOS … last token
            }
        });
        return stats;
    }

    /// <summary>The greedy translation of <paramref name="source"/> and the last decoder layer's cross-attention while
    /// writing it (head-averaged): source tokens, output tokens (EOS included) and weights[t, s].</summary>
    public (string[] Source, string[] Output, float[,] Weights) CrossAttention(string source)
    {
        var output = Greedy(new[] { source })[0];
        var srcIds = Config.Source.Encode(source);
        var outIds = Config.Target.Encode(output);
        string[] Words(long[] ids, Vocab v) => ids.Select(i => i >= Vocab.Specials ? v.Tokens[(int)i - Vocab.Specials] : Vocab.UnknownText).ToArray();
        float[,] weights = new float[outIds.Length + 1, srcIds.Length];
        WithCrossAttention(average: true, () =>
        {
            using var scope = Tensor.NewScope();
            var (src, pad) = SourceIds(new[] { srcIds });
            var (input, _) = TargetIds(new[] { outIds });
            Forward(src, pad, input);
            var w = transformer.Decoder.Layers[^1].CrossAttnWeights!.ToArray();    // (1, T, S)
            for (int t = 0; t <= outIds.Length; t++)
                for (int s = 0; s < srcIds.Length; s++) weights[t, s] = w[t * srcIds.Length + s];
        });
        return (Words(srcIds, Config.Source), Words(outIds, Config.Target).Append("</s>").ToArray(), weights);
    }

    private void WithCrossAttention(bool average, Action run)
    {
        bool wasTraining = Training;
        Eval();
        var layers = transformer.Decoder.Layers;
        foreach (var l in layers) (l.KeepCrossAttnWeights, l.AverageCrossAttnWeights) = (true, average);
        try
        {
            using var noGrad = Autograd.NoGrad();
            run();
        }
        finally
        {
            foreach (var l in layers) (l.KeepCrossAttnWeights, l.AverageCrossAttnWeights) = (false, true);
            Train(wasTraining);
        }
    }

    /// <summary>Greedy decoding with the KV cache, all sources in one batch; each output stops at its EOS.</summary>
    public string[] Greedy(IReadOnlyList<string> sources)
    {
        bool wasTraining = Training;
        Eval();
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        int B = sources.Count;
        var srcIds = sources.Select(Config.Source.Encode).ToArray();
        var (src, pad) = SourceIds(srcIds);
        var memory = Encode(src, pad);                                             // (B, S, E)
        var cache = NewCache();
        var outputs = Enumerable.Range(0, B).Select(_ => new List<long>()).ToArray();
        var done = new bool[B];
        var last = Enumerable.Repeat((long)Vocab.Bos, B).ToArray();
        int maxLen = MaxOutput(srcIds.Max(s => s.Length));
        for (int t = 0; t < maxLen && done.Contains(false); t++)
        {
            var logits = DecodeStep(memory, pad, Tensor.FromArray(last, new[] { B, 1 }), t, cache);   // (B, 1, V)
            var next = logits.Select(1, 0).Max(-1).Indices.ToInt64Array();                          // (B)
            for (int b = 0; b < B; b++)
            {
                if (!done[b] && (next[b] == Vocab.Eos || outputs[b].Count >= MaxOutput(srcIds[b].Length))) done[b] = true;
                else if (!done[b]) outputs[b].Add(next[b]);
                last[b] = next[b];
            }
        }
        Train(wasTraining);
        return outputs.Select(o => Config.Target.Decode(o)).ToArray();
    }
}
