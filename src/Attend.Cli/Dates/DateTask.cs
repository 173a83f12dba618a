using System.Text.Json.Nodes;
using Attend.Attention;
using Attend.Cli.Ui;
using Attend.Data;
using Attend.Interpret;
using Attend.IO;
using Attend.Nn;
using Attend.Training;

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
    AttentionVariant? Attention = null)   // every attention layer's variant; null = soft
{
    public AttentionVariant Variant => Attention ?? AttentionVariant.Soft;
    public static DateConfig Default => new();
    public static DateConfig Tiny => new(DModel: 32, Heads: 2, EncoderLayers: 1, DecoderLayers: 1, FeedForward: 64, Batch: 32, WarmupSteps: 10);

    public const int MaxSource = 48, TargetLength = 10;

    /// <summary>Source characters: padding, then <see cref="DateFormats.Alphabet"/>.</summary>
    public static readonly CharTokenizer Source = new(DateFormats.Alphabet, [Vocabulary.PadToken]);
    /// <summary>Target characters: padding, BOS, then the ISO date's (always 10 characters: no EOS needed).</summary>
    public static readonly CharTokenizer Target = new("0123456789-", [Vocabulary.PadToken, Vocabulary.BosToken]);

    /// <summary>The encoder-decoder: characters in, the 10 characters of the ISO date out.</summary>
    public Seq2SeqConfig Model => new(Source.VocabSize, Target.VocabSize, DModel, Heads, EncoderLayers, DecoderLayers, FeedForward,
        MaxSource, TargetLength, Eos: null, Attention: Attention);

    public const string Kind = "attend-dates";
    public const int Version = 1;

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["d_model"] = DModel, ["heads"] = Heads, ["encoder_layers"] = EncoderLayers,
        ["decoder_layers"] = DecoderLayers, ["feed_forward"] = FeedForward, ["attention"] = Variant.ToString(),
    }.ToJsonString();

    public static DateConfig FromJson(string json, string dir) => ModelCheckpoint.Config(json, dir, Kind, Version, "date quickstart model", o =>
        new DateConfig(o["d_model"]!.GetValue<int>(), o["heads"]!.GetValue<int>(), o["encoder_layers"]!.GetValue<int>(),
            o["decoder_layers"]!.GetValue<int>(), o["feed_forward"]!.GetValue<int>(),
            Attention: o["attention"] is { } a ? AttentionVariant.Parse(a.GetValue<string>()) : AttentionVariant.Soft));   // absent before variants: soft
}

/// <summary>
/// The date task around a <see cref="Seq2Seq"/>: batches, training with the library's <see cref="Trainer"/> (teacher
/// forcing with cross-entropy; AdamW, warmup then a cosine over the budget, clipping), greedy prediction, cross-attention.
/// Batches are bucketed by source length and a function of (seed, step): every 32 steps a pool of 32 batches' worth of
/// fresh examples is drawn from <c>SplitMix64.ForStep(seed, step / 32)</c>, sorted by length, cut into batches and
/// shuffled, so a batch pads to within a character or two of its shortest source instead of to the longest format.
/// </summary>
public static class DateTask
{
    /// <summary>Sources as ids (B, S) int64 and padding mask (B, S).</summary>
    public static (Tensor Ids, Tensor PadMask) Sources(IReadOnlyList<string> sources) =>
        SequenceBatch.Pad(sources.Select(s => DateConfig.Source.Encode(s)).ToArray());

    /// <summary>Teacher forcing: decoder input BOS + target[..^1] and labels target, (B, 10) int64 each.</summary>
    public static (Tensor Input, Tensor Labels) Targets(IReadOnlyList<string> targets) =>
        SequenceBatch.TeacherForcing(targets.Select(t => DateConfig.Target.Encode(t)).ToArray(), bos: DateConfig.Target.Specials.Bos!.Value, eos: null);

    /// <summary>The examples of step <paramref name="step"/> (see the type's remarks); the pool is drawn once per 32 steps.</summary>
    public static IReadOnlyList<(string Source, string Target)> Batch(ulong seed, long step, int batch)
    {
        var (s, p, b, pool) = lastPool;
        if (pool is null || s != seed || p != step / 32 || b != batch)
        {
            var rng = SplitMix64.ForStep(seed, step / 32);
            var train = TrainDates.Value;
            pool = Enumerable.Range(0, 32 * batch).Select(_ => DateFormats.Sample(train, rng))
                .OrderBy(e => e.Source.Length).Select(e => (e.Source, e.Target)).Chunk(batch).ToArray();
            rng.Shuffle(pool);
            lastPool = (seed, step / 32, batch, pool);
        }
        return pool[step % 32];
    }

    [ThreadStatic] static (ulong Seed, long Pool, int Batch, (string, string)[][]? Batches) lastPool;

    static readonly Lazy<DateOnly[]> TrainDates = new(() => DateFormats.Dates(heldOut: false));

    /// <summary>Held-out examples: <paramref name="n"/> (date, format) pairs drawn from the held-out dates.</summary>
    public static List<(string Source, string Target)> HeldOut(int n, int seed)
    {
        var dates = DateFormats.Dates(heldOut: true);
        var rng = new SplitMix64((ulong)seed);
        return Enumerable.Range(0, n).Select(_ => DateFormats.Sample(dates, rng)).Select(e => (e.Source, e.Target)).ToList();
    }

    /// <summary>Trains <paramref name="model"/> within <paramref name="steps"/> or <paramref name="seconds"/> (whichever is
    /// given; both: the first reached), reporting every <paramref name="reportSeconds"/> with the exact-match accuracy on
    /// <paramref name="probe"/>.</summary>
    public static TrainingResult Train(Seq2Seq model, DateConfig cfg, int seed, int? steps, double? seconds, double reportSeconds,
        IReadOnlyList<(string Source, string Target)> probe, TextWriter log)
    {
        var rl = AttentionChoice.Reinforce(cfg.Variant);
        using var trainer = new Trainer(model, new TrainerOptions
        {
            Steps = steps, Seconds = seconds, Lr = cfg.Lr, MinLr = cfg.Lr * cfg.MinLrRatio, WarmupSteps = cfg.WarmupSteps,
            Betas = (0.9, 0.98), WeightDecay = 0.01, ClipNorm = 1f, EvalEverySeconds = reportSeconds, Seed = (ulong)seed, Reinforce = rl,
        });
        trainer.Evaluate = _ => Accuracy(model, probe) is var a ? [new Metric("held-out", a, $"{a * 100,5:F1}%")] : [];
        var look = new TrainingLook("quickstart", ips => $"{ips / 1000,5:F1}k tok/s", LossFormat: "F4", Seconds: true);
        return TrainingView.Run(log, trainer, look, (step, _) =>
        {
            var batch = Batch(trainer.Seed, step, cfg.Batch);
            var (src, pad) = Sources(batch.Select(e => e.Source).ToArray());            // (B, S)
            var (input, labels) = Targets(batch.Select(e => e.Target).ToArray());       // (B, T)
            var logits = model.Forward(src, pad, input);                                // (B, T, V)
            var loss = Functional.CrossEntropy(logits.Reshape(-1, DateConfig.Target.VocabSize), labels.Reshape(-1), ignoreIndex: 0);
            return new StepLoss(loss, src.NumEl + input.NumEl) { Reward = rl is null ? null : Rewards.NegativeTokenLoss(logits, labels, 0) };
        }, CancellationToken.None);
    }

    /// <summary>Greedy predictions (KV cache unless <paramref name="useCache"/> is false) for every source.</summary>
    public static string[] Predict(Seq2Seq model, IReadOnlyList<string> sources, bool useCache = true) =>
        model.Generate(sources.Select(s => DateConfig.Source.Encode(s)).ToArray(), _ => DateConfig.TargetLength, 256, useCache).Select(Text).ToArray();

    /// <summary>The characters of target ids ('?' for a special token).</summary>
    public static string Text(long[] ids) => new(ids.Select(i => DateConfig.Target.IsSpecial(i) ? '?' : DateConfig.Target.Tokens[(int)i][0]).ToArray());

    /// <summary>Fraction of <paramref name="examples"/> whose greedy output equals the target exactly.</summary>
    public static double Accuracy(Seq2Seq model, IReadOnlyList<(string Source, string Target)> examples)
    {
        var pred = Predict(model, examples.Select(e => e.Source).ToArray());
        return examples.Where((e, i) => pred[i] == e.Target).Count() / (double)examples.Count;
    }

    /// <summary>Sparsity and entropy of every decoder layer's cross-attention, per head, teacher-forced on the examples'
    /// targets (evaluation mode: gumbel and reinforce take their argmax).</summary>
    public static AttentionStats CrossAttentionStats(Seq2Seq model, IReadOnlyList<(string Source, string Target)> examples) =>
        Seq2SeqAttention.CrossStats(model, examples.Chunk(256).Select(chunk =>
        {
            var (src, pad) = Sources(chunk.Select(e => e.Source).ToArray());
            var (input, _) = Targets(chunk.Select(e => e.Target).ToArray());
            return (src, pad, input, (Func<int, int, bool>)((_, _) => true));
        }));

    /// <summary>The greedy output for <paramref name="source"/> and the last decoder layer's cross-attention while
    /// writing it, averaged over heads: weights[t, s] = how much output character t looked at input character s.</summary>
    public static (string Output, float[,] Weights) CrossAttention(Seq2Seq model, string source)
    {
        var output = Predict(model, [source])[0];
        var (src, pad) = Sources([source]);
        var (input, _) = Targets([output.Replace('?', '0')]);
        return (output, Seq2SeqAttention.LastCrossMean(model, src, pad, input));
    }

    /// <summary>Saves the quickstart's model for <c>attend explain</c> (weights and config, no optimizer state).</summary>
    public static void Save(Seq2Seq model, DateConfig cfg, string dir) => Checkpoint.Save(dir, model.StateDict(), null, cfg.ToJson());

    /// <summary>The quickstart's model in <paramref name="dir"/>, in evaluation mode.</summary>
    public static (Seq2Seq Model, DateConfig Config) Load(string dir) =>
        ModelCheckpoint.Load(dir, "attend quickstart", DateConfig.FromJson, c => new Seq2Seq(c.Model));
}
