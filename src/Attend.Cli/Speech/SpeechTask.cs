using System.Text.Json.Nodes;
using Attend.Data;
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

/// <summary>
/// What a speech checkpoint's config holds: the preset and the tokens. The model is a <see cref="Seq2Seq"/> over log-mel
/// frames (<see cref="LogMel"/>): subsampled to 40 ms (or 20 ms) encoder frames, sinusoidal positions, a decoder that
/// writes phonemes and words (<see cref="PhonemeTokenizer"/>), and an auxiliary CTC head on the encoder.
/// </summary>
/// <param name="Voices">"espeak" (espeak-ng's voices only) or "all" (also flite's and festival's, <see cref="VoicePool"/>).</param>
/// <param name="Augment">the training augmentations (<see cref="Augmentation"/>), as text.</param>
public sealed record SpeechConfig(SpeechPreset Preset, PhonemeTokenizer Vocab, string Voices = "espeak", string Augment = "none")
{
    /// <summary>Longest audio in log-mel frames (40 s) and longest transcript in tokens.</summary>
    public const int MaxFrames = 4000, MaxTarget = 160;
    public const string Kind = "attend-speech";
    public const int Version = 1;

    public Seq2SeqConfig Model => new(0, Vocab.VocabSize, Preset.DModel, Preset.Heads, Preset.EncoderLayers, Preset.DecoderLayers, Preset.FeedForward,
        MaxSource: MaxFrames / Preset.Subsampling, MaxTarget: MaxTarget, Positions: Seq2SeqPositions.Sinusoidal, SourceFeatures: LogMel.Mels,
        Subsampling: Preset.Subsampling, CtcHead: true);

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["preset"] = Preset.Name, ["d_model"] = Preset.DModel, ["nhead"] = Preset.Heads,
        ["num_encoder_layers"] = Preset.EncoderLayers, ["num_decoder_layers"] = Preset.DecoderLayers, ["dim_feedforward"] = Preset.FeedForward,
        ["n_mels"] = LogMel.Mels, ["subsampling"] = Preset.Subsampling, ["voices"] = Voices, ["augment"] = Augment, ["tokens"] = ModelCheckpoint.Array(Vocab.Tokens),
    }.ToJsonString();

    public static SpeechConfig FromJson(string json, string dir) => ModelCheckpoint.Config(json, dir, Kind, Version, "speech model", o =>
        new SpeechConfig(SpeechPreset.Get(o["preset"]!.GetValue<string>()), new PhonemeTokenizer(ModelCheckpoint.Strings(o["tokens"])),
            o["voices"]?.GetValue<string>() ?? "espeak", o["augment"]?.GetValue<string>() ?? "none"));   // before issue 22: espeak-ng, today's recipe
}

/// <summary>A trained speech model with its config.</summary>
public sealed record SpeechRecognizer(Seq2Seq Model, SpeechConfig Config)
{
    /// <summary>Log-mel frames per encoder frame: 4 (40 ms) or 2 (20 ms, preset fine).</summary>
    public int Subsampling => Config.Preset.Subsampling;
    public PhonemeTokenizer Vocab => Config.Vocab;
}

/// <summary>Speech around a <see cref="Seq2Seq"/>: the token inventory, batches of features, greedy transcription, loading.</summary>
public static class SpeechTask
{
    /// <summary>
    /// The phoneme inventory espeak-ng uses for this task: every word alone in every accent, and 400 random texts from
    /// a fixed seed (which shows the phonemes that only appear in context), sorted; then the words.
    /// </summary>
    public static PhonemeTokenizer Vocabulary()
    {
        var phones = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var a in SpeechData.Accents)
            foreach (var w in SpeechData.Words)
                foreach (var p in Espeak.Synthesize(w, a, 175, 50).Phones) phones.Add(p.Name);
        var rng = new SplitMix64(20261124);
        for (int i = 0; i < 400; i++)
            foreach (var p in Espeak.Synthesize(SpeechData.Text(rng), SpeechData.Accents[i % SpeechData.Accents.Length], 175, 50).Phones) phones.Add(p.Name);
        return PhonemeTokenizer.From(phones, SpeechData.Words);
    }

    /// <summary>Token ids of an utterance (no BOS/EOS) — each word's phonemes, then its word token — and, for each, the
    /// index of its phone (−1 for word tokens).</summary>
    public static (long[] Ids, int[] Phone) Encode(PhonemeTokenizer vocab, string[] words, Phone[] phones)
    {
        var tokens = new List<long>(); var phone = new List<int>();
        for (int w = 0; w < words.Length; w++)
        {
            for (int p = 0; p < phones.Length; p++)
                if (phones[p].Word == w) { tokens.Add(vocab.Id(phones[p].Name) ?? PhonemeTokenizer.Unk); phone.Add(p); }
            tokens.Add(vocab.Id("#" + words[w]) ?? throw new SpeechException($"speech vocabulary: no word '{words[w]}'"));
            phone.Add(-1);
        }
        return (tokens.ToArray(), phone.ToArray());
    }

    /// <summary>Utterances' features padded to a multiple of <paramref name="subsampling"/> frames: (B, F, 80) and the
    /// encoder padding mask (B, F/subsampling), True = padding (an encoder frame is padding when none of its frames is real).</summary>
    public static (Tensor Mel, Tensor PadMask) Batch(IReadOnlyList<(float[] Features, int Frames)> utterances, int subsampling)
    {
        int n = subsampling, B = utterances.Count, F = (utterances.Max(u => u.Frames) + n - 1) / n * n, S = F / n;
        if (F > SpeechConfig.MaxFrames) throw new SpeechException($"audio too long: {F / 100.0:F1} s, the model takes at most {SpeechConfig.MaxFrames / 100} s");
        var mel = new float[B * F * LogMel.Mels]; var pad = new bool[B * S];
        for (int b = 0; b < B; b++)
        {
            Array.Copy(utterances[b].Features, 0, mel, b * F * LogMel.Mels, utterances[b].Frames * LogMel.Mels);
            for (int s = 0; s < S; s++) pad[b * S + s] = s * n >= utterances[b].Frames;
        }
        return (Tensor.FromArray(mel, [B, F, LogMel.Mels]), Tensor.FromArray(pad, [B, S]));
    }

    /// <summary>Teacher forcing: decoder input BOS + tokens and labels tokens + EOS, padded (B, T) int64.</summary>
    public static (Tensor Input, Tensor Labels) Targets(IReadOnlyList<long[]> targets) =>
        SequenceBatch.TeacherForcing(targets, PhonemeTokenizer.Bos, PhonemeTokenizer.Eos);

    /// <summary>Greedy transcripts (token ids, no EOS) of a batch's memory, with the KV cache.</summary>
    public static long[][] Greedy(Seq2Seq model, Tensor memory, Tensor padMask) =>
        model.Greedy(memory, padMask, Enumerable.Repeat(SpeechConfig.MaxTarget - 1, memory.Size(0)).ToArray());

    /// <summary>A speech model from a checkpoint folder, in evaluation mode.</summary>
    public static SpeechRecognizer Load(string dir)
    {
        var (model, cfg) = ModelCheckpoint.Load(dir, "attend train speech", SpeechConfig.FromJson, c => new Seq2Seq(c.Model));
        return new SpeechRecognizer(model, cfg);
    }
}
