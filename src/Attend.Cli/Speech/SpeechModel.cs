using System.Text.Json.Nodes;
using Attend.Nn;

namespace Attend.Cli.Speech;

/// <summary>
/// Model size and training set-up.
/// <code>
/// preset   d   heads enc dec  ff   batch  lr      frames  for
/// tiny     32    2    1   1    64     8   3e-3    40 ms   tests, seconds
/// default 128    4    4   2   512    32   1.5e-3  40 ms   synthetic digits/cards/commands, ~20 minutes on 2 cores
/// fine    128    4    4   2   512    32   1.5e-3  20 ms   the same with encoder frames of 20 ms (subsampling 2): finer alignment
/// </code>
/// </summary>
public sealed record SpeechPreset(string Name, int DModel, int Heads, int EncoderLayers, int DecoderLayers, int FeedForward,
    int Batch, double Lr, int WarmupSteps, int EvalEvery, int SaveEvery, int DevSize, int TestSize, int Subsampling = 4)
{
    public static readonly SpeechPreset Tiny = new("tiny", 32, 2, 1, 1, 64, 8, 3e-3, 10, 20, 20, 8, 16);
    public static readonly SpeechPreset Default = new("default", 128, 4, 4, 2, 512, 32, 1.5e-3, 200, 200, 200, 64, 300);
    public static readonly SpeechPreset Fine = Default with { Name = "fine", Subsampling = 2 };
    public static readonly SpeechPreset[] All = [Tiny, Default, Fine];

    public static SpeechPreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new SpeechException($"unknown preset '{name}' (choose {string.Join(", ", All.Select(p => p.Name))})");
}

/// <summary>What a speech checkpoint's config holds: the preset and the tokens.</summary>
public sealed record SpeechConfig(SpeechPreset Preset, SpeechVocab Vocab)
{
    public const string Kind = "attend-speech";
    public const int Version = 1;

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["preset"] = Preset.Name, ["d_model"] = Preset.DModel, ["nhead"] = Preset.Heads,
        ["num_encoder_layers"] = Preset.EncoderLayers, ["num_decoder_layers"] = Preset.DecoderLayers, ["dim_feedforward"] = Preset.FeedForward,
        ["n_mels"] = LogMel.Mels, ["subsampling"] = Preset.Subsampling, ["tokens"] = new JsonArray(Vocab.Tokens.Select(t => (JsonNode)t!).ToArray()),
    }.ToJsonString();

    public static SpeechConfig FromJson(string json, string dir)
    {
        try
        {
            var o = JsonNode.Parse(json) as JsonObject;
            string kind = o?["kind"]?.GetValue<string>() ?? "(none)";
            if (kind != Kind) throw new SpeechException($"'{dir}' holds a checkpoint of kind '{kind}', not a speech model ({Kind})");
            if (o!["version"]!.GetValue<int>() != Version) throw new SpeechException($"'{dir}' holds a speech checkpoint of another version");
            return new SpeechConfig(SpeechPreset.Get(o["preset"]!.GetValue<string>()),
                new SpeechVocab(((JsonArray)o["tokens"]!).Select(t => t!.GetValue<string>()).ToArray()));
        }
        catch (Exception ex) when (ex is InvalidCastException or NullReferenceException or InvalidOperationException or FormatException or System.Text.Json.JsonException)
        {
            throw new SpeechException($"'{dir}': malformed speech config ({ex.Message})");
        }
    }
}

/// <summary>
/// An attention encoder-decoder for speech (pre-norm <see cref="Transformer"/>, batch-first). Dims: B batch, F log-mel
/// frames (10 ms), S = F/4 encoder frames (40 ms), T tokens, E d_model, V tokens in the vocabulary.
/// <code>
/// h      = GELU(sub1(stack2(mel)))                 (B, F/2, E)    stack2 joins 2 neighbouring frames: (B, F, C) → (B, F/2, 2C)
/// h      = sub2(stack2(h)) + PE                    (B, S, E)      sinusoidal positions
/// memory = Encoder(h)                              (B, S, E)
/// logits = head(Decoder(emb(tgt) + PE, memory))    (B, T, V)      causal; cross-attention over the S frames
/// ctc    = log_softmax(ctc(memory))                (B, S, V)      training only: the auxiliary CTC loss (blank = padding id)
/// </code>
/// The subsampling is a two-layer convolution with kernel = stride = 2 written as frame stacking + Linear (non-overlapping
/// windows need no convolution kernel): 4× fewer positions for the O(S²) self-attention, 40 ms per encoder frame. The
/// preset fine stacks once (sub2 is then a plain Linear): 20 ms per encoder frame.
/// </summary>
public sealed class SpeechModel : Module
{
    public const int MaxFrames = 4000, MaxTarget = 160;
    /// <summary>Log-mel frames per encoder frame: 4 (40 ms) or 2 (20 ms, preset fine).</summary>
    public int Subsampling => Config.Preset.Subsampling;
    public SpeechConfig Config { get; }
    private readonly Linear sub1, sub2, head, ctc;
    private readonly SinusoidalPositionalEncoding pos;
    private readonly Embedding emb;
    private readonly Transformer transformer;

    public SpeechModel(SpeechConfig config, Random rng)
    {
        Config = config;
        var p = config.Preset;
        int E = p.DModel;
        sub1 = RegisterModule("sub1", new Linear(2 * LogMel.Mels, E, rng: rng));
        sub2 = RegisterModule("sub2", new Linear(p.Subsampling == 4 ? 2 * E : E, E, rng: rng));
        pos = RegisterModule("pos", new SinusoidalPositionalEncoding(E, MaxFrames / 2));
        emb = RegisterModule("emb", new Embedding(config.Vocab.Size, E, SpeechVocab.Pad, rng));
        transformer = RegisterModule("transformer", new Transformer(E, p.Heads, p.EncoderLayers, p.DecoderLayers, p.FeedForward,
            dropout: 0f, batchFirst: true, normFirst: true, rng: rng));
        head = RegisterModule("head", new Linear(E, config.Vocab.Size, rng: rng));
        ctc = RegisterModule("ctc", new Linear(E, config.Vocab.Size, rng: rng));
    }

    /// <summary>The CTC head's log-probabilities over the tokens per encoder frame, time first for ctc_loss: (S, B, V).
    /// Its blank is <see cref="SpeechVocab.Pad"/> (never a target).</summary>
    public Tensor CtcLogProbs(Tensor memory) => Functional.LogSoftmax(ctc.Forward(memory), -1).Transpose(0, 1);

    public IReadOnlyList<TransformerDecoderLayer> DecoderLayers => transformer.Decoder.Layers;

    /// <summary>Utterances' features padded to a multiple of <paramref name="subsampling"/> frames: (B, F, 80) and the
    /// encoder padding mask (B, F/subsampling), True = padding (an encoder frame is padding when none of its frames is real).</summary>
    public static (Tensor Mel, Tensor PadMask) Batch(IReadOnlyList<(float[] Features, int Frames)> utterances, int subsampling)
    {
        int n = subsampling, B = utterances.Count, F = (utterances.Max(u => u.Frames) + n - 1) / n * n, S = F / n;
        if (subsampling is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(subsampling), $"speech: subsampling must be 2 or 4, not {subsampling}");
        if (F > MaxFrames) throw new SpeechException($"audio too long: {F / 100.0:F1} s, the model takes at most {MaxFrames / 100} s");
        var mel = new float[B * F * LogMel.Mels]; var pad = new bool[B * S];
        for (int b = 0; b < B; b++)
        {
            Array.Copy(utterances[b].Features, 0, mel, b * F * LogMel.Mels, utterances[b].Frames * LogMel.Mels);
            for (int s = 0; s < S; s++) pad[b * S + s] = s * n >= utterances[b].Frames;
        }
        return (Tensor.FromArray(mel, new[] { B, F, LogMel.Mels }), Tensor.FromArray(pad, new[] { B, S }));
    }

    /// <summary>Teacher forcing: decoder input BOS + tokens and labels tokens + EOS, padded (B, T) int64.</summary>
    public static (Tensor Input, Tensor Labels) Targets(IReadOnlyList<long[]> targets)
    {
        int B = targets.Count, T = targets.Max(t => t.Length) + 1;
        var input = new long[B * T]; var labels = new long[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t <= targets[b].Length; t++)
            {
                input[b * T + t] = t == 0 ? SpeechVocab.Bos : targets[b][t - 1];
                labels[b * T + t] = t == targets[b].Length ? SpeechVocab.Eos : targets[b][t];
            }
        return (Tensor.FromArray(input, new[] { B, T }), Tensor.FromArray(labels, new[] { B, T }));
    }

    /// <summary>mel (B, F, 80), F a multiple of the subsampling, and padMask (B, S) → memory (B, S, E).</summary>
    public Tensor Encode(Tensor mel, Tensor padMask)
    {
        int B = mel.Shape[0], F = mel.Shape[1], E = Config.Preset.DModel;
        var h = sub1.Forward(mel.Reshape(B, F / 2, 2 * LogMel.Mels)).Gelu();          // (B, F/2, E)
        h = Subsampling == 4 ? sub2.Forward(h.Reshape(B, F / 4, 2 * E))                 // (B, S, E), S = F/4
                             : sub2.Forward(h);                                          // (B, S, E), S = F/2 (preset fine)
        return transformer.Encoder.Forward(pos.Forward(h), srcKeyPaddingMask: padMask);
    }

    /// <summary>Teacher-forced logits (B, T, V) for the whole prefix tgt (B, T).</summary>
    public Tensor Decode(Tensor memory, Tensor padMask, Tensor tgt) =>
        head.Forward(transformer.Decoder.Forward(pos.Forward(emb.Forward(tgt)), memory, memoryKeyPaddingMask: padMask, tgtIsCausal: true));

    /// <summary>Logits (B, 1, V) for one new position, with the KV cache.</summary>
    public Tensor DecodeStep(Tensor memory, Tensor padMask, Tensor tgt, int offset, DecoderLayerCache[] cache) =>
        head.Forward(transformer.Decoder.Forward(pos.Forward(emb.Forward(tgt), offset), memory, cache, padMask));

    /// <summary>Greedy decoding with the KV cache, all utterances in one batch; each output stops at its EOS.</summary>
    public long[][] Greedy(Tensor memory, Tensor padMask)
    {
        int B = memory.Shape[0];
        var cache = transformer.Decoder.NewCache();
        var outputs = Enumerable.Range(0, B).Select(_ => new List<long>()).ToArray();
        var done = new bool[B];
        var last = Enumerable.Repeat((long)SpeechVocab.Bos, B).ToArray();
        for (int t = 0; t < MaxTarget - 1 && done.Contains(false); t++)
        {
            var logits = DecodeStep(memory, padMask, Tensor.FromArray(last, new[] { B, 1 }), t, cache);   // (B, 1, V)
            var next = logits.Select(1, 0).Max(-1).Indices.ToInt64Array();                              // (B)
            for (int b = 0; b < B; b++)
            {
                if (!done[b] && next[b] == SpeechVocab.Eos) done[b] = true;
                else if (!done[b]) outputs[b].Add(next[b]);
                last[b] = next[b];
            }
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }
}
