using System.Text.Json;

namespace Attend.Interpret;

/// <summary>One head's attention from one query over every key: the row <c>P[i, ·] = exp(q_i·kⱼ·scale + mods − LSE_i)</c>,
/// recomputed alone from the kernel's log-sum-exp (<see cref="AttentionCapture.Start"/> with <c>rows</c>).</summary>
/// <param name="Site">the attention module's dotted name.</param>
/// <param name="Label">a short label, e.g. "layer 1".</param>
/// <param name="Head">the head number.</param>
/// <param name="Weights">S weights, one per key, summing to 1.</param>
public sealed record AttentionRow(string Site, string Label, int Head, float[] Weights)
{
    /// <summary>The <paramref name="k"/> keys with the largest weights, largest first.</summary>
    public (int Key, float Weight)[] Top(int k) =>
        Weights.Select((w, j) => (Key: j, Weight: w)).OrderByDescending(t => t.Weight).ThenBy(t => t.Key).Take(k).ToArray();
}

/// <summary>A head scored for retrieval: the mean weight its query rows put on keys that follow an earlier copy of the
/// query's own token (Olsson et al. 2022's prefix-matching score: what an induction head does).</summary>
public sealed record HeadScore(string Site, string Label, int Head, double Score);

/// <summary>
/// The attention of a long input seen from chosen query positions: for each of them, every layer's and head's row over
/// all S keys, and the retrieval (induction) head found from those rows. Memory is O(rows · S · heads · layers): the
/// L×S maps are never formed, so it works at 16,384 tokens where a full map of one head alone holds 268 M weights.
/// </summary>
/// <param name="Tokens">a label per position (S).</param>
/// <param name="Queries">the query positions captured (each row of <paramref name="Rows"/> is one of them).</param>
/// <param name="Rows">per query position (same order as <paramref name="Queries"/>), one row per layer and head.</param>
public sealed record LongContextView(string[] Tokens, int[] Queries, IReadOnlyList<IReadOnlyList<AttentionRow>> Rows)
{
    /// <summary>Keys listed per row in the JSON and the summary.</summary>
    public const int TopK = 8;

    /// <summary>The position of the query shown first (the explorer's choice; one of <see cref="Queries"/>).</summary>
    public int Shown { get; init; }

    /// <summary>From captures made with <c>rows</c>: each record's rows [R, S] for its heads; labels by <paramref name="label"/>(site).</summary>
    public static LongContextView From(IReadOnlyList<CapturedAttention> records, string[] tokens, Func<string, string> label)
    {
        if (records.Count == 0) throw new ArgumentException("long-context view: nothing was captured");
        var queries = records[0].QueryRows ?? throw new ArgumentException("long-context view: the capture was not made with rows");
        var rows = queries.Select(_ => new List<AttentionRow>()).ToArray();
        foreach (var r in records)
        {
            if (r.QueryRows is null || !r.QueryRows.SequenceEqual(queries) || r.Keys != tokens.Length || r.Batch != 1)
                throw new ArgumentException($"long-context view: '{r.Site}' captured rows [{string.Join(", ", r.QueryRows ?? [])}] over {r.Keys} keys, batch {r.Batch}; " +
                                            $"want rows [{string.Join(", ", queries)}] over {tokens.Length} keys, batch 1");
            var maps = r.Maps();                                             // [n][R, S]
            for (int q = 0; q < queries.Length; q++)
                for (int n = 0; n < r.Heads.Length; n++)
                {
                    var w = new float[r.Keys];
                    for (int j = 0; j < w.Length; j++) w[j] = maps[n][q, j];
                    rows[q].Add(new AttentionRow(r.Site, label(r.Site), r.Heads[n], w));
                }
        }
        return new LongContextView(tokens, queries, rows) { Shown = queries[^1] };
    }

    /// <summary>Every head's prefix-matching score over all captured queries, best first: the mean over queries i of
    /// Σⱼ P[i, j]·[token(j − 1) = token(i)]. A retrieval head scores near 1; a head that looks elsewhere near 0.</summary>
    public IReadOnlyList<HeadScore> RetrievalScores()
    {
        var scores = new List<HeadScore>();
        for (int k = 0; k < Rows[0].Count; k++)
        {
            double sum = 0;
            for (int q = 0; q < Queries.Length; q++)
            {
                var w = Rows[q][k].Weights;
                string token = Tokens[Queries[q]];
                for (int j = 1; j < w.Length; j++) if (Tokens[j - 1] == token && j - 1 != Queries[q]) sum += w[j];
            }
            var row = Rows[0][k];
            scores.Add(new HeadScore(row.Site, row.Label, row.Head, sum / Queries.Length));
        }
        return scores.OrderByDescending(s => s.Score).ToList();
    }

    /// <summary>The retrieval (induction) head: the best-scoring head when its score is ≥ 0.5, else null.</summary>
    public HeadScore? RetrievalHead() => RetrievalScores() is [var best, ..] && best.Score >= 0.5 ? best : null;

    /// <summary>Plain text: the retrieval head, then per layer and head the shown query's top keys ("token@position weight").</summary>
    public string Summary()
    {
        var sb = new System.Text.StringBuilder();
        var scores = RetrievalScores();
        var head = RetrievalHead();
        sb.AppendLine(head is null
            ? $"retrieval (induction) head: none (best prefix-matching score {scores[0].Score:F2}, {scores[0].Label} head {scores[0].Head}; a retrieval head scores ≥ 0.5)"
            : $"retrieval (induction) head: {head.Label} head {head.Head} — prefix-matching score {head.Score:F3} over {Queries.Length} queries " +
              "(mean weight on keys that follow an earlier copy of the query's token)");
        sb.AppendLine("scores: " + string.Join("  ", scores.Select(s => $"{s.Label} head {s.Head} {s.Score:F3}")));
        int q = Array.IndexOf(Queries, Shown);
        sb.AppendLine($"query {Tokens[Shown]}@{Shown} over {Tokens.Length:N0} keys, top {TopK} keys per head:");
        foreach (var r in Rows[q])
            sb.AppendLine($"  {r.Label} head {r.Head}: " + string.Join("  ", r.Top(TopK).Select(t => $"{Tokens[t.Key]}@{t.Key} {Weight(t.Weight)}")));
        return sb.ToString();
    }

    /// <summary>A weight as the strips label it: three decimals, or two digits and an exponent below 0.01.</summary>
    private static string Weight(float w) => w < 0.01f
        ? w.ToString("0.0e0", System.Globalization.CultureInfo.InvariantCulture)
        : w.ToString("F3", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Writes the "long" object of <see cref="Explanation.ToJson"/>: <c>{"tokens", "queries", "shown",
    /// "retrieval": {"label", "head", "score"} or null, "scores": [{"label", "head", "score"}], "rows": [per layer and head
    /// of the shown query: {"site", "label", "head", "top": [[key, weight]…], "weights": [S]}]}</c>.</summary>
    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject("long");
        w.WriteStartArray("tokens"); foreach (var t in Tokens) w.WriteStringValue(t); w.WriteEndArray();
        w.WriteStartArray("queries"); foreach (int q in Queries) w.WriteNumberValue(q); w.WriteEndArray();
        w.WriteNumber("shown", Shown);
        var scores = RetrievalScores();
        if (RetrievalHead() is { } h) { w.WriteStartObject("retrieval"); Score(w, h); w.WriteEndObject(); } else w.WriteNull("retrieval");
        w.WriteStartArray("scores"); foreach (var s in scores) { w.WriteStartObject(); Score(w, s); w.WriteEndObject(); } w.WriteEndArray();
        w.WriteStartArray("rows");
        {
            foreach (var r in Rows[Array.IndexOf(Queries, Shown)])
            {
                w.WriteStartObject();
                w.WriteString("site", r.Site); w.WriteString("label", r.Label); w.WriteNumber("head", r.Head);
                w.WriteStartArray("top");
                foreach (var (key, weight) in r.Top(TopK)) { w.WriteStartArray(); w.WriteNumberValue(key); w.WriteNumberValue(weight); w.WriteEndArray(); }
                w.WriteEndArray();
                w.WriteStartArray("weights"); foreach (float x in r.Weights) w.WriteNumberValue(x); w.WriteEndArray();
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();

        static void Score(Utf8JsonWriter w, HeadScore s)
        {
            w.WriteString("label", s.Label); w.WriteNumber("head", s.Head); w.WriteNumber("score", Math.Round(s.Score, 5));
        }
    }
}
