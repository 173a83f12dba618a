using System.Text.Json.Nodes;
using Attend.Attention;
using Attend.Nn;

namespace Attend.Cli.Lm;

/// <summary>
/// A character-level GPT and how to train it. The model is <see cref="Gpt"/> with GPT-2's choices (learned positions,
/// LayerNorm, GELU, tied embeddings, no dropout); the vocabulary size comes from the data.
/// <code>
/// preset   layers heads  d   ctx  batch  lr     params (KJV)  for
/// tiny        2     2    64   64    16   3e-3       ~0.1 M    tests, seconds
/// small       3     4   128  128    32   2e-3       ~0.6 M    a few minutes on 2 cores
/// default     4     4   256  128    32   1e-3       ~3.2 M    an hour or more on a laptop
/// </code>
/// </summary>
public sealed record LmPreset(string Name, int Layers, int Heads, int DModel, int Context, int Batch, double Lr,
    int WarmupSteps, int EvalEvery, int EvalBatches, int SaveEvery)
{
    public static readonly LmPreset Tiny = new("tiny", 2, 2, 64, 64, 16, 3e-3, 10, 25, 4, 50);
    public static readonly LmPreset Small = new("small", 3, 4, 128, 128, 32, 2e-3, 50, 100, 8, 250);
    public static readonly LmPreset Default = new("default", 4, 4, 256, 128, 32, 1e-3, 100, 250, 16, 500);
    public static readonly LmPreset[] All = [Tiny, Small, Default];

    public static LmPreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new CliException($"unknown preset '{name}' (choose {string.Join(", ", All.Select(p => p.Name))})");

    public GptConfig Gpt(int vocabSize, AttentionVariant? attention = null) => new(BlockSize: Context, VocabSize: vocabSize, NLayer: Layers,
        NHead: Heads, NEmbd: DModel, Dropout: 0f, Bias: true, Attention: attention);
}

/// <summary>The JSON config stored in an LM checkpoint: kind and version (to refuse other checkpoints), the preset,
/// the model's shape, the vocabulary and the attention variant (absent in checkpoints written before variants: soft).</summary>
public sealed record LmModelConfig(LmPreset Preset, string Vocab, AttentionVariant? Attention = null)
{
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;

    public const string Kind = "attend-char-lm";
    public const int Version = 1;

    public GptConfig Gpt => Preset.Gpt(Vocab.Length, Attention);

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["preset"] = Preset.Name,
        ["n_layer"] = Preset.Layers, ["n_head"] = Preset.Heads, ["n_embd"] = Preset.DModel, ["block_size"] = Preset.Context,
        ["vocab_size"] = Vocab.Length, ["vocab"] = Vocab, ["attention"] = Variant.ToString(),
    }.ToJsonString();

    /// <summary>Parses a checkpoint's config; anything but an LM checkpoint of this version is a <see cref="CliException"/>.</summary>
    public static LmModelConfig FromJson(string json, string dir) => ModelCheckpoint.Config(json, dir, Kind, Version, "character language model", o =>
    {
        var preset = LmPreset.Get(o["preset"]!.GetValue<string>());
        string vocab = o["vocab"]!.GetValue<string>();
        var shape = (o["n_layer"]!.GetValue<int>(), o["n_head"]!.GetValue<int>(), o["n_embd"]!.GetValue<int>(), o["block_size"]!.GetValue<int>());
        if (shape != (preset.Layers, preset.Heads, preset.DModel, preset.Context) || o["vocab_size"]!.GetValue<int>() != vocab.Length)
            throw new CliException($"'{dir}': the model shape in its config does not match preset '{preset.Name}' of this attend");
        var attention = o["attention"] is { } a ? AttentionVariant.Parse(a.GetValue<string>()) : AttentionVariant.Soft;
        return new LmModelConfig(preset, vocab, attention);
    });
}
