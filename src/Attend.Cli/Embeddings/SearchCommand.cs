using System.CommandLine;
using System.Diagnostics;
using System.Numerics.Tensors;
using Attend.Cli.Ui;

namespace Attend.Cli.Embeddings;

/// <summary>
/// <c>attend search [--model minilm] [--corpus kjv|FILE] [--top 10] [--out attend-search] QUERY…</c>: semantic search.
/// The corpus's passages (<see cref="Passages"/>) are embedded once — a progress bar on a terminal, a line every few
/// seconds elsewhere — and kept in OUT (<see cref="EmbeddingCache"/>); each query is embedded (as a query: arctic's
/// instruction in front) and the passages with the highest cosine similarity (a dot product: the embeddings have norm 1)
/// are printed in a table, best first.
/// </summary>
public static class SearchCommand
{
    public static Command Create()
    {
        var model = EmbedCommand.ModelOption();
        var corpus = new Option<string>("--corpus") { Description = "kjv (the King James Bible, 31,102 verses) or a text file (.gz too): one passage per non-empty line; lines \"# Name\" head sections", DefaultValueFactory = _ => Passages.Kjv };
        var top = new Option<int>("--top") { Description = "how many passages to show per query", DefaultValueFactory = _ => 10 };
        var outDir = new Option<string>("--out") { Description = "folder for the corpus embeddings, computed once per model and corpus text", DefaultValueFactory = _ => "attend-search" };
        var queries = new Argument<string[]>("query") { Description = "what to look for (several: one table each)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("search", "Semantic search: embed a corpus once with a pretrained BERT encoder, then find the passages closest to a query.")
        {
            model, corpus, top, outDir, queries,
        };
        cmd.SetAction(pr => CliChecks.Guard(() => Run(pr.GetValue(model)!, pr.GetValue(corpus)!, pr.GetValue(top), pr.GetValue(outDir)!, pr.GetValue(queries)!, Console.Out)));
        return cmd;
    }

    public static int Run(string modelName, string corpus, int top, string outDir, string[] queries, TextWriter log) =>
        Run(() => BertModels.Load(modelName, log), corpus, top, outDir, queries, log);

    /// <summary>The command with the model given by <paramref name="model"/> (called once the arguments are checked).</summary>
    public static int Run(Func<SentenceEncoder> model, string corpus, int top, string outDir, string[] queries, TextWriter log)
    {
        if (top < 1) throw new CliException($"--top must be at least 1, not {top}");
        for (int i = 0; i < queries.Length; i++)
            if (string.IsNullOrWhiteSpace(queries[i])) throw new CliException(queries.Length == 1 ? "the query is empty" : $"query {i + 1} is empty");
        var passages = Passages.Load(corpus);
        CliChecks.RequireWritableFolder(outDir);
        var encoder = model();
        log.WriteLine($"model:  {encoder.Description}");
        log.WriteLine($"corpus: {passages.Name}, {passages.Texts.Length:N0} passages{(passages.Sections > 0 ? $" in {passages.Sections:N0} sections" : "")}, sha256 {passages.Sha256[..16]}…");
        var matrix = Embeddings(encoder, passages, outDir, log);
        var qs = encoder.Embed(queries, queries: true, log, i => $"query {i + 1}");
        for (int q = 0; q < queries.Length; q++)
        {
            var best = Top(matrix, qs[q], Math.Min(top, passages.Texts.Length));
            log.WriteLine();
            log.WriteLine($"query: {queries[q]}");
            var table = Terminal.Table(">#", ">score", "where", "passage");
            for (int r = 0; r < best.Length; r++)
                table.Row((r + 1).ToString(), best[r].Score.ToString("F4"), passages.Places[best[r].Index], passages.Texts[best[r].Index]);
            Terminal.Write(log, table);
        }
        return 0;
    }

    /// <summary>The corpus embeddings: from the cache when it holds them for this model and text, else computed and cached.</summary>
    static float[][] Embeddings(SentenceEncoder encoder, Passages passages, string outDir, TextWriter log)
    {
        string path = EmbeddingCache.PathFor(outDir, encoder, passages);
        if (EmbeddingCache.TryLoad(path, encoder, passages, out string why) is { } cached)
        {
            log.WriteLine($"loaded cached embeddings from {path}");
            return cached;
        }
        if (File.Exists(path)) log.WriteLine($"recomputing the cached embeddings in {path}: {why}");
        var clock = Stopwatch.StartNew();
        var vectors = CountProgress.Run(log, $"embedding {passages.Name}", passages.Texts.Length, "passages",
            p => encoder.Embed(passages.Texts, queries: false, log, i => passages.Places[i], p));
        try { EmbeddingCache.Save(path, encoder, passages, vectors); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--out: cannot write {path}: {ex.Message}");
        }
        log.WriteLine($"embedded {passages.Texts.Length:N0} passages in {clock.Elapsed.TotalSeconds:F0} s; cached in {path}");
        return vectors;
    }

    /// <summary>The <paramref name="k"/> rows of <paramref name="matrix"/> with the largest dot product with <paramref name="query"/>, best first (ties: the earlier row).</summary>
    public static (int Index, float Score)[] Top(float[][] matrix, float[] query, int k)
    {
        var scores = new float[matrix.Length];
        for (int i = 0; i < matrix.Length; i++) scores[i] = TensorPrimitives.Dot(matrix[i], query);
        return Enumerable.Range(0, matrix.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).Select(i => (i, scores[i])).ToArray();
    }
}
