using System.Text;
using System.Text.Json;

namespace Attend.Interpret;

/// <summary>
/// One attention site of an <see cref="Explanation"/>: the maps of its captured heads with a token label for every
/// query row and key column.
/// </summary>
/// <param name="Name">the module's dotted name (from <see cref="CapturedAttention.Site"/>).</param>
/// <param name="Label">a short human label, e.g. "decoder 1 cross".</param>
/// <param name="Kind">"self" or "cross".</param>
/// <param name="Stack">views of one stack (e.g. "encoder", "decoder") form a rollout when they are square self-attention.</param>
/// <param name="Queries">a label per query row.</param>
/// <param name="Keys">a label per key column.</param>
/// <param name="Heads">the head numbers of <paramref name="Maps"/>.</param>
/// <param name="Maps">per captured head, [queries, keys].</param>
public sealed record AttentionView(string Name, string Label, string Kind, string Stack, string[] Queries, string[] Keys, int[] Heads, float[][,] Maps)
{
    /// <summary>A view of batch item <paramref name="batch"/> of a capture, checking that the labels fit its shape.</summary>
    public static AttentionView From(CapturedAttention c, string label, string kind, string stack, string[] queries, string[] keys, int batch = 0)
    {
        if (queries.Length != c.Queries || keys.Length != c.Keys)
            throw new ArgumentException($"explanation: '{c.Site}' is [{c.Queries}, {c.Keys}] but {queries.Length} query and {keys.Length} key labels were given");
        return new AttentionView(c.Site, label, kind, stack, queries, keys, c.Heads, c.Maps(batch));
    }
}

/// <summary>A rollout (and, for short inputs, the attention flow) of one stack of self-attention layers.</summary>
public sealed record StackSummary(string Stack, string[] Tokens, double[,] Rollout, double[,]? Flow);

/// <summary>
/// What <c>attend explain</c> and <c>attend serve</c> show for one input: the model's output, every captured attention
/// site with token labels, and the analyses (per-head entropy, rollout and flow per self-attention stack), serializable
/// to the JSON that the HTML views read.
/// </summary>
public sealed record Explanation(string Model, string Input, string Output, IReadOnlyList<AttentionView> Views)
{
    /// <summary>For image models: [rows, cols] of the patch grid when token 0 is [CLS] and tokens 1… the patches in
    /// row-major order; the views then also draw the [CLS] row of the rollout over the grid. Null for text.</summary>
    public int[]? PatchGrid { get; init; }

    /// <summary>For speech models: each transcript word's start and end (seconds) from DTW over the alignment heads'
    /// cross-attention (<see cref="AttentionAlignment"/>); <see cref="WordNote"/> says how they were found. Null otherwise.</summary>
    public IReadOnlyList<WordTiming>? WordTimings { get; init; }

    /// <summary>For long inputs: chosen query rows of every layer and head over all keys, and the retrieval head; the
    /// <see cref="Views"/> are then empty (no L×S map is formed). Null otherwise.</summary>
    public LongContextView? Long { get; init; }

    /// <summary>A line on how <see cref="WordTimings"/> were found (which heads, filter), shown with them.</summary>
    public string WordNote { get; init; } = "";

    /// <summary>Stacks of more tokens than this get a rollout but no flow (the flow's max-flow problems grow fast: an
    /// adapter with long inputs, e.g. speech frames, lowers it).</summary>
    public int MaxFlowTokens { get; init; } = AttentionAnalysis.MaxFlowTokens;

    private (IReadOnlyList<AttentionView> Views, int MaxFlow, IReadOnlyList<StackSummary> Stacks)? stacks;

    /// <summary>Rollout and flow of each stack whose views are all square self-attention maps with the same tokens
    /// (computed once: the JSON, the summary and the PNGs all ask).</summary>
    public IReadOnlyList<StackSummary> Stacks()
    {
        if (stacks is { } c && ReferenceEquals(c.Views, Views) && c.MaxFlow == MaxFlowTokens) return c.Stacks;
        var result = new List<StackSummary>();
        foreach (var g in Views.GroupBy(v => v.Stack))
        {
            var views = g.Where(v => v.Kind == "self").ToList();
            if (views.Count == 0 || views.Any(v => v.Queries.Length != v.Keys.Length || !v.Keys.SequenceEqual(views[0].Keys))) continue;
            var layers = views.Select(v => (IReadOnlyList<float[,]>)v.Maps).ToList();
            var flow = views[0].Keys.Length <= Math.Min(MaxFlowTokens, AttentionAnalysis.MaxFlowTokens) ? AttentionAnalysis.Flow(layers) : null;
            result.Add(new StackSummary(g.Key, views[0].Keys, AttentionAnalysis.Rollout(layers), flow));
        }
        stacks = (Views, MaxFlowTokens, result);
        return result;
    }

    /// <summary>
    /// The JSON the views read: <c>{"model", "input", "output", "views": [{"name", "label", "kind", "stack", "queries",
    /// "keys", "heads", "entropy": [per head, nats], "weights": [head][query][key]}], "stacks": [{"stack", "tokens",
    /// "rollout": [i][j], "flow": [i][j] or null}], "patch_grid": [rows, cols] (image models only), "words": [{"word", "start",
    /// "end"}] and "word_note" (speech models only), "long" (long inputs: <see cref="LongContextView.Write"/>)}</c>. Characters that matter in HTML are escaped (\u003C…), so the
    /// text can sit inside a script element.
    /// </summary>
    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("model", Model); w.WriteString("input", Input); w.WriteString("output", Output);
            w.WriteStartArray("views");
            foreach (var v in Views)
            {
                w.WriteStartObject();
                w.WriteString("name", v.Name); w.WriteString("label", v.Label); w.WriteString("kind", v.Kind); w.WriteString("stack", v.Stack);
                Strings(w, "queries", v.Queries); Strings(w, "keys", v.Keys);
                w.WriteStartArray("heads"); foreach (int h in v.Heads) w.WriteNumberValue(h); w.WriteEndArray();
                w.WriteStartArray("entropy"); foreach (var m in v.Maps) w.WriteNumberValue(Math.Round(AttentionAnalysis.Entropy(m), 5)); w.WriteEndArray();
                w.WriteStartArray("weights");
                foreach (var m in v.Maps)
                {
                    w.WriteStartArray();
                    for (int i = 0; i < m.GetLength(0); i++)
                    {
                        w.WriteStartArray();
                        for (int j = 0; j < m.GetLength(1); j++) w.WriteNumberValue(m[i, j]);
                        w.WriteEndArray();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("stacks");
            foreach (var s in Stacks())
            {
                w.WriteStartObject();
                w.WriteString("stack", s.Stack);
                Strings(w, "tokens", s.Tokens);
                Matrix(w, "rollout", s.Rollout);
                if (s.Flow is null) w.WriteNull("flow"); else Matrix(w, "flow", s.Flow);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (PatchGrid is { } grid) { w.WriteStartArray("patch_grid"); w.WriteNumberValue(grid[0]); w.WriteNumberValue(grid[1]); w.WriteEndArray(); }
            if (WordTimings is { } words)
            {
                w.WriteStartArray("words");
                foreach (var t in words)
                {
                    w.WriteStartObject();
                    w.WriteString("word", t.Word); w.WriteNumber("start", Math.Round(t.Start, 4)); w.WriteNumber("end", Math.Round(t.End, 4));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("word_note", WordNote);
            }
            Long?.Write(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>A plain-text summary: per view, each head's entropy; per query, the three keys it attends to most (head average).</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"model: {Model}").AppendLine($"input: {Input}").AppendLine($"output: {Output}");
        if (WordTimings is { } words)
        {
            sb.AppendLine().AppendLine($"word timings ({WordNote}):");
            foreach (var t in words) sb.AppendLine($"  {t.Start,7:F2} – {t.End,5:F2} s  {t.Word}");
        }
        if (Long is { } lc) sb.AppendLine().Append(lc.Summary());
        foreach (var v in Views)
        {
            sb.AppendLine().AppendLine($"{v.Label} ({v.Name}): {v.Queries.Length} queries × {v.Keys.Length} keys");
            sb.AppendLine("  entropy (nats; uniform over all keys would be " + Math.Log(v.Keys.Length).ToString("F2") + "): " +
                          string.Join("  ", v.Heads.Select((h, n) => $"head {h} {AttentionAnalysis.Entropy(v.Maps[n]):F2}")));
            var mean = AttentionAnalysis.Mean(v.Maps);
            bool repeats = v.Keys.Distinct().Count() < v.Keys.Length;          // then keys carry their position: "2@9"
            string Key(int j) => repeats ? $"{Show(v.Keys[j])}@{j}" : Show(v.Keys[j]);
            for (int i = 0; i < v.Queries.Length; i++)
                sb.AppendLine($"  {Show(v.Queries[i]),-8} → " + string.Join("  ",
                    AttentionAnalysis.TopKeys(mean, i, Math.Min(3, v.Keys.Length)).Select(t => $"{Key(t.Key)} {t.Weight:F2}")));
        }
        return sb.ToString();
    }

    private static string Show(string token) => token.Length == 0 ? "''" : token == " " ? "␣" : token.Replace("\n", "⏎");

    private static void Strings(Utf8JsonWriter w, string name, string[] xs)
    {
        w.WriteStartArray(name);
        foreach (var x in xs) w.WriteStringValue(x);
        w.WriteEndArray();
    }

    private static void Matrix(Utf8JsonWriter w, string name, double[,] m)
    {
        w.WriteStartArray(name);
        for (int i = 0; i < m.GetLength(0); i++)
        {
            w.WriteStartArray();
            for (int j = 0; j < m.GetLength(1); j++) w.WriteNumberValue(Math.Round(m[i, j], 6));
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }
}
