using Attend.Cli.Embeddings;
using Attend.IO;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>attend search on small corpora (the KJV-wide run takes minutes: docs/results/search-kjv-minilm.txt): the top
/// hit of an obvious query, the embeddings cache (written once, reused, recomputed when it does not match), passage
/// places, clear errors.</summary>
public sealed class SearchCommandTests
{
    const string Corpus = """
        # Animals
        The cat sleeps on the warm windowsill all afternoon.
        Dogs bark loudly at the mailman every morning.
        # Kitchen
        Fresh bread is baked in the oven before dawn.
        A bowl of hot vegetable soup on a cold winter day.
        # Travel
        The train to the mountains leaves from platform nine.
        We sailed across the bay in a small wooden boat.
        """;

    static string Search(string corpus, string dir, int top, params string[] queries)
    {
        var log = new StringWriter();
        Assert.Equal(0, SearchCommand.Run(() => Encoders.MiniLm, corpus, top, dir, queries, log));
        return log.ToString();
    }

    [Fact]
    public void AnObviousQueryFindsItsPassageAndTheCacheIsReused()
    {
        using var tmp = new Encoders.TempDir();
        File.WriteAllText(tmp["corpus.txt"], Corpus);
        string cacheDir = tmp["cache"];

        string first = Search(tmp["corpus.txt"], cacheDir, 3, "a kitten napping in the sun", "sailing on the sea");
        Assert.Contains("corpus: corpus.txt, 6 passages in 3 sections", first);
        Assert.Contains("embedded 6 passages", first);
        var lines = first.Split('\n');
        string Row(string query, int rank) => lines.SkipWhile(l => l != $"query: {query}").First(l => l.TrimStart('|', ' ').StartsWith($"{rank} "));
        Assert.Contains("Animals #1", Row("a kitten napping in the sun", 1));
        Assert.Contains("The cat sleeps on the warm windowsill", Row("a kitten napping in the sun", 1));
        Assert.Contains("Travel #2", Row("sailing on the sea", 1));
        Assert.DoesNotContain(lines.SkipWhile(l => l != "query: sailing on the sea"), l => l.TrimStart('|', ' ').StartsWith("4 "));   // --top 3

        var cache = Assert.Single(Directory.GetFiles(cacheDir));
        Assert.Equal(EmbeddingCache.PathFor(cacheDir, Encoders.MiniLm, Passages.Parse("corpus.txt", Corpus)), cache);
        var meta = SafeTensors.LoadMetadata(cache);
        Assert.Equal("minilm", meta["model"]);
        Assert.Equal("6", meta["passages"]);
        Assert.Equal("mean", meta["pooling"]);
        var written = File.GetLastWriteTimeUtc(cache);

        string second = Search(tmp["corpus.txt"], cacheDir, 3, "a kitten napping in the sun");
        Assert.Contains($"loaded cached embeddings from {cache}", second);
        Assert.DoesNotContain("embedded", second);
        Assert.Equal(written, File.GetLastWriteTimeUtc(cache));
        Assert.Equal(Row("a kitten napping in the sun", 1), second.Split('\n').SkipWhile(l => !l.StartsWith("query:")).First(l => l.TrimStart('|', ' ').StartsWith("1 ")));

        File.AppendAllText(tmp["corpus.txt"], "\nA new line about quantum physics.\n");                  // another text: another cache file
        Assert.Contains("embedded 7 passages", Search(tmp["corpus.txt"], cacheDir, 1, "physics"));
        Assert.Equal(2, Directory.GetFiles(cacheDir).Length);
        Assert.Empty(Directory.GetFiles(cacheDir, "*.tmp-*"));
    }

    [Fact]
    public void ACacheThatDoesNotMatchIsRecomputed()
    {
        using var tmp = new Encoders.TempDir();
        File.WriteAllText(tmp["c.txt"], "one passage about apples\nanother about rivers\n");
        var passages = Passages.Load(tmp["c.txt"]);
        string path = EmbeddingCache.PathFor(tmp["cache"], Encoders.MiniLm, passages);
        Directory.CreateDirectory(tmp["cache"]);

        File.WriteAllText(path, "not a safetensors file");
        string log = Search(tmp["c.txt"], tmp["cache"], 1, "apples");
        Assert.Contains($"recomputing the cached embeddings in {path}: it cannot be read", log);
        Assert.NotNull(EmbeddingCache.TryLoad(path, Encoders.MiniLm, passages, out _));

        var meta = EmbeddingCache.Metadata(Encoders.MiniLm, passages);
        meta["pooling"] = "cls";
        using (var t = Tensor.FromArray(new float[2 * 384], [2, 384]))
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["embeddings"] = t }, meta);
        Assert.Contains("its pooling is 'cls', not 'mean'", Search(tmp["c.txt"], tmp["cache"], 1, "apples"));

        meta["pooling"] = "mean";
        using (var t = Tensor.FromArray(new float[2 * 10], [2, 10]))
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["embeddings"] = t }, meta);
        Assert.Contains("it does not hold embeddings [2, 384]", Search(tmp["c.txt"], tmp["cache"], 1, "apples"));
        Assert.Contains("loaded cached embeddings", Search(tmp["c.txt"], tmp["cache"], 1, "apples"));
    }

    [Fact]
    public void PassagesAreNamedByTheirPlace()
    {
        var p = Passages.Parse("x", "first\n\nsecond\r\nthird\n");
        Assert.Equal(new[] { "first", "second", "third" }, p.Texts);
        Assert.Equal(new[] { "line 1", "line 3", "line 4" }, p.Places);
        Assert.Equal(0, p.Sections);

        var kjv = Passages.Load("kjv");
        Assert.Equal(31_102, kjv.Texts.Length);
        Assert.Equal(66, kjv.Sections);
        Assert.Equal("Genesis, verse 1", kjv.Places[0]);
        Assert.Equal("In the beginning God created the heaven and the earth.", kjv.Texts[0]);
        Assert.Equal("Revelation, verse 404", kjv.Places[^1]);
    }

    [Fact]
    public void TopIsBestFirstWithTiesInCorpusOrder()
    {
        float[][] m = [[1, 0], [0, 1], [0.6f, 0.8f], [0, 1]];
        Assert.Equal(new[] { 1, 3, 2 }, SearchCommand.Top(m, [0, 1], 3).Select(t => t.Index));
        Assert.Equal(1f, SearchCommand.Top(m, [1, 0], 1)[0].Score);
    }

    [Fact]
    public void BadInputsAreClearErrors()
    {
        using var tmp = new Encoders.TempDir();
        Func<SentenceEncoder> none = () => throw new InvalidOperationException("no model needed");
        var log = new StringWriter();
        Assert.Contains("--top must be at least 1", Assert.Throws<CliException>(() => SearchCommand.Run(none, "kjv", 0, tmp.Path, ["x"], log)).Message);
        Assert.Contains("the query is empty", Assert.Throws<CliException>(() => SearchCommand.Run(none, "kjv", 3, tmp.Path, [" "], log)).Message);
        Assert.Contains($"--corpus file '{tmp["none.txt"]}' does not exist", Assert.Throws<CliException>(() => SearchCommand.Run(none, tmp["none.txt"], 3, tmp.Path, ["x"], log)).Message);
        File.WriteAllText(tmp["empty.txt"], "# Only a heading\n\n");
        Assert.Contains("holds no passage", Assert.Throws<CliException>(() => SearchCommand.Run(none, tmp["empty.txt"], 3, tmp.Path, ["x"], log)).Message);
        File.WriteAllText(tmp["file"], "");
        File.WriteAllText(tmp["c.txt"], "a passage\n");
        Assert.Contains("is a file, not a folder", Assert.Throws<CliException>(() => SearchCommand.Run(none, tmp["c.txt"], 3, tmp["file"], ["x"], log)).Message);

        var (exit, _, stderr) = CliProcess.Run("search", "--corpus", tmp["none.txt"], "love your enemies");
        Assert.Equal(2, exit);
        Assert.Contains("error: --corpus file", stderr);
    }
}
