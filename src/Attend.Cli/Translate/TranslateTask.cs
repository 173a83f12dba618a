using System.Text.Json.Nodes;
using Attend.Attention;
using Attend.Data;
using Attend.Interpret;
using Attend.Nn;
using Attend.Training;

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
        ?? throw new CliException($"unknown preset '{name}' (choose {string.Join(", ", All.Select(p => p.Name))})");
}

/// <summary>What a translation checkpoint's config holds: the preset, both vocabularies and the attention variant
/// (a checkpoint without "attention", written before variants existed, is soft). The model is a word-level
/// <see cref="Seq2Seq"/>: learned positions, EOS-terminated outputs of any length.</summary>
public sealed record TranslateConfig(TranslatePreset Preset, WordTokenizer Source, WordTokenizer Target, AttentionVariant? Attention = null)
{
    /// <summary>Longest source and target (tokens, EOS included) the position tables cover; longer pairs are not trained on.</summary>
    public const int MaxSource = 256, MaxTarget = 256;
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;

    public Seq2SeqConfig Model => new(Source.VocabSize, Target.VocabSize, Preset.DModel, Preset.Heads, Preset.EncoderLayers, Preset.DecoderLayers,
        Preset.FeedForward, MaxSource, MaxTarget, Attention: Attention);

    public const string Kind = "attend-char-translate";
    public const int Version = 1;

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["preset"] = Preset.Name, ["d_model"] = Preset.DModel, ["nhead"] = Preset.Heads,
        ["num_encoder_layers"] = Preset.EncoderLayers, ["num_decoder_layers"] = Preset.DecoderLayers,
        ["dim_feedforward"] = Preset.FeedForward, ["attention"] = Variant.ToString(),
        ["source_tokens"] = ModelCheckpoint.Array(Source.Words), ["target_tokens"] = ModelCheckpoint.Array(Target.Words),
    }.ToJsonString();

    public static TranslateConfig FromJson(string json, string dir) => ModelCheckpoint.Config(json, dir, Kind, Version, "translation model", o =>
        new TranslateConfig(TranslatePreset.Get(o["preset"]!.GetValue<string>()), new WordTokenizer(ModelCheckpoint.Strings(o["source_tokens"])),
            new WordTokenizer(ModelCheckpoint.Strings(o["target_tokens"])), o["attention"] is { } a ? AttentionVariant.Parse(a.GetValue<string>()) : AttentionVariant.Soft));

    /// <summary>Output length limit (tokens) for a source of that many tokens: twice its length plus 10, within the position table.</summary>
    public static int MaxOutput(int sourceLength) => Math.Min(MaxTarget, 2 * sourceLength + 10);
}

/// <summary>Translation around a <see cref="Seq2Seq"/>: batches of word ids, greedy and beam translation, cross-attention.</summary>
public static class TranslateTask
{
    /// <summary>Sources as ids (B, S) int64, padded to the longest (cut at <see cref="TranslateConfig.MaxSource"/>), and the
    /// padding mask (B, S), True = padding.</summary>
    public static (Tensor Ids, Tensor PadMask) SourceIds(IReadOnlyList<long[]> sources) => SequenceBatch.Pad(sources, maxLength: TranslateConfig.MaxSource);

    /// <summary>Teacher forcing: decoder input BOS + target and labels target + EOS, padded (B, T) int64.</summary>
    public static (Tensor Input, Tensor Labels) TargetIds(IReadOnlyList<long[]> targets) =>
        SequenceBatch.TeacherForcing(targets, WordTokenizer.Bos, WordTokenizer.Eos);

    /// <summary>Greedy translations with the KV cache of every source (ids, no EOS).</summary>
    public static long[][] GreedyIds(Seq2Seq model, IReadOnlyList<long[]> sources) => model.Generate(sources, TranslateConfig.MaxOutput, 100);

    /// <summary>Greedy translations of <paramref name="sources"/>, as text.</summary>
    public static string[] Greedy(Seq2Seq model, TranslateConfig cfg, IReadOnlyList<string> sources) =>
        GreedyIds(model, sources.Select(s => cfg.Source.Encode(s)).ToArray()).Select(o => cfg.Target.Decode(o)).ToArray();

    /// <summary>Beam search translation of one sentence (<see cref="Seq2Seq.Beam"/>).</summary>
    public static string Beam(Seq2Seq model, TranslateConfig cfg, string source, int width, double lengthPenalty)
    {
        if (width < 1) throw new CliException($"--beam must be at least 1, not {width}");
        bool wasTraining = model.Training;
        model.Eval();
        using var scope = Tensor.NewScope();
        using var noGrad = Autograd.NoGrad();
        var ids = cfg.Source.Encode(source);
        var (src, pad) = SourceIds([ids]);
        var best = model.Beam(model.Encode(src, pad), pad, width, lengthPenalty, TranslateConfig.MaxOutput(ids.Length));
        model.Train(wasTraining);
        return cfg.Target.Decode(best);
    }

    /// <summary>Corpus BLEU of greedy translations of <paramref name="pairs"/>.</summary>
    public static double Bleu(Seq2Seq model, TranslateConfig cfg, IReadOnlyList<Pair> pairs) =>
        Metrics.Bleu(Greedy(model, cfg, pairs.Select(p => p.Source).ToArray()), pairs.Select(p => p.Target).ToArray());

    /// <summary>Sparsity and entropy of every decoder layer's cross-attention, per head, teacher-forced on the pairs'
    /// targets (evaluation mode); padding keys and padding queries are left out.</summary>
    public static AttentionStats CrossAttentionStats(Seq2Seq model, TranslateConfig cfg, IReadOnlyList<Pair> pairs) =>
        Seq2SeqAttention.CrossStats(model, pairs.Chunk(100).Select(chunk =>
        {
            var (src, pad) = SourceIds(chunk.Select(p => cfg.Source.Encode(p.Source)).ToArray());
            var tgt = chunk.Select(p => cfg.Target.Encode(p.Target)).ToArray();
            var (input, _) = TargetIds(tgt);
            return (src, pad, input, (Func<int, int, bool>)((b, t) => t <= tgt[b].Length));   // BOS … last token
        }));

    /// <summary>The greedy translation of <paramref name="source"/> and the last decoder layer's cross-attention while
    /// writing it (head-averaged): source tokens, output tokens (EOS included) and weights[t, s].</summary>
    public static (string[] Source, string[] Output, float[,] Weights) CrossAttention(Seq2Seq model, TranslateConfig cfg, string source)
    {
        var srcIds = cfg.Source.Encode(source);
        var outIds = GreedyIds(model, [srcIds])[0];
        var (src, pad) = SourceIds([srcIds]);
        var (input, _) = TargetIds([outIds]);
        return (Words(srcIds, cfg.Source), [.. Words(outIds, cfg.Target), "</s>"], Seq2SeqAttention.LastCrossMean(model, src, pad, input));
    }

    /// <summary>The token of every id ("&lt;unk&gt;" for unknown words).</summary>
    public static string[] Words(long[] ids, WordTokenizer v) => ids.Select(i => v.Tokens[(int)i]).ToArray();

    /// <summary>A model for translation from a checkpoint folder, in evaluation mode.</summary>
    public static (Seq2Seq Model, TranslateConfig Config) Load(string dir) =>
        ModelCheckpoint.Load(dir, "attend train translate --data PAIRS.tsv", TranslateConfig.FromJson, c => new Seq2Seq(c.Model));
}
