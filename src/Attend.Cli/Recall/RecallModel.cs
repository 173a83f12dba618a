using System.Globalization;
using System.Text.Json.Nodes;
using Attend.Attention;
using Attend.Nn;

namespace Attend.Cli.Recall;

/// <summary>What a recall checkpoint's config holds: the task (mqar or needle, its pairs and queries), the distance it
/// was trained for (<paramref name="Context"/>), the seed of its held-out sequences and the GPT's shape.</summary>
public sealed record RecallConfig(string Task, int Context, int Pairs, int Queries, ulong Seed, GptConfig Gpt)
{
    public const string Kind = "attend-recall";
    public const int Version = 1;

    /// <summary>The task's shape at <paramref name="length"/> tokens with answers ≥ <paramref name="minDistance"/> back.</summary>
    public RecallSpec Spec(int length, int minDistance) =>
        Task == "needle" ? RecallSpec.Needle(length, minDistance) : new RecallSpec(length, minDistance, Pairs, Queries);

    /// <summary>The sequence length whose answers lie ≥ <paramref name="distance"/> back: the distance, the queries, and
    /// room for the pairs (a region of 8 tokens per pair before it).</summary>
    public int LengthFor(int distance) => distance + 2 * Spec(1 << 20, 1).Queries + 8 * Spec(1 << 20, 1).Pairs;

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["task"] = Task, ["context"] = Context, ["pairs"] = Pairs, ["queries"] = Queries,
        ["seed"] = Seed.ToString(CultureInfo.InvariantCulture), ["positions"] = Gpt.Positions.ToString().ToLowerInvariant(),
        ["token_shift"] = Gpt.TokenShift, ["attention"] = Gpt.Variant.ToString(), ["n_layer"] = Gpt.NLayer, ["n_head"] = Gpt.NHead, ["n_embd"] = Gpt.NEmbd,
        ["block_size"] = Gpt.BlockSize, ["vocab_size"] = Gpt.VocabSize,
    }.ToJsonString();

    public static RecallConfig FromJson(string json, string dir) => ModelCheckpoint.Config(json, dir, Kind, Version, "recall model", o =>
    {
        string task = o["task"]!.GetValue<string>();
        if (task is not ("mqar" or "needle")) throw new FormatException($"task '{task}' is neither mqar nor needle");
        var gpt = new GptConfig(BlockSize: o["block_size"]!.GetValue<int>(), VocabSize: o["vocab_size"]!.GetValue<int>(),
            NLayer: o["n_layer"]!.GetValue<int>(), NHead: o["n_head"]!.GetValue<int>(), NEmbd: o["n_embd"]!.GetValue<int>(),
            Positions: Enum.Parse<PositionKind>(o["positions"]!.GetValue<string>(), ignoreCase: true), TieWeights: false,
            TokenShift: o["token_shift"]!.GetValue<bool>(), Attention: AttentionVariant.Parse(o["attention"]!.GetValue<string>()));
        var c = new RecallConfig(task, o["context"]!.GetValue<int>(), o["pairs"]!.GetValue<int>(), o["queries"]!.GetValue<int>(),
            ulong.Parse(o["seed"]!.GetValue<string>(), CultureInfo.InvariantCulture), gpt);
        if (c.Spec(64, 1).VocabSize != gpt.VocabSize) throw new FormatException($"vocab_size {gpt.VocabSize} is not the task's {c.Spec(64, 1).VocabSize}");
        return c;
    });

    /// <summary>The recall model in <paramref name="dir"/> (made by <c>attend train recall</c>), in evaluation mode.</summary>
    public static (Gpt Model, RecallConfig Config) Load(string dir) =>
        ModelCheckpoint.Load(dir, "attend train recall", FromJson, c => new Gpt(c.Gpt));
}
