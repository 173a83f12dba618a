using System.Globalization;
using System.Text.Json;
using Attend.Cli.Embeddings;
using Attend.Nn;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>attend embed: the formats (json, jsonl, tsv), texts from arguments and from stdin, the truncation notice,
/// [CLS] pooling and the query instruction of arctic, clear errors; and the command as a real process.</summary>
public sealed class EmbedCommandTests
{
    static (string Out, string Log) Run(string format, string[] args, string stdin = "", bool queries = false, SentenceEncoder? model = null)
    {
        var (o, log) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, EmbedCommand.Run(() => model ?? Encoders.MiniLm, args, format, queries, new StringReader(stdin), o, log));
        return (o.ToString(), log.ToString());
    }

    [Fact]
    public void JsonHasOneNormalizedEmbeddingPerTextAndSimilarTextsAreClose()
    {
        string[] texts = ["A kitten is sleeping on the sofa.", "A small cat naps on the couch.", "The stock market fell sharply today."];
        var (json, log) = Run("json", texts);
        Assert.Equal("", log);
        using var doc = JsonDocument.Parse(json);
        var items = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(texts, items.Select(i => i.GetProperty("text").GetString()));
        var v = items.Select(i => i.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray();
        Assert.All(v, e => Assert.Equal(384, e.Length));
        Assert.All(v, e => Assert.Equal(1.0, Encoders.Dot(e, e), 1e-5));
        var want = Encoders.MiniLm.Model.Encode(texts);                       // the library's own mean pooling
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 384; j++) Assert.Equal(want[i][j], v[i][j]);   // floats round-trip exactly through the JSON
        Assert.True(Encoders.Dot(v[0], v[1]) > 0.6, $"kitten/cat {Encoders.Dot(v[0], v[1]):F3}");
        Assert.True(Encoders.Dot(v[0], v[2]) < 0.2, $"kitten/stocks {Encoders.Dot(v[0], v[2]):F3}");
    }

    [Fact]
    public void TsvAndJsonlFromStdinSkipEmptyLinesAndEscapeTabs()
    {
        string stdin = "first line\n\n  \nsecond\twith a tab\n";
        var (tsv, _) = Run("tsv", [], stdin);
        var rows = tsv.TrimEnd('\n').Split('\n');
        Assert.Equal(2, rows.Length);
        var fields = rows.Select(r => r.Split('\t')).ToArray();
        Assert.Equal("first line", fields[0][0]);
        Assert.Equal("second\\twith a tab", fields[1][0]);
        Assert.All(fields, f => Assert.Equal(1 + 384, f.Length));

        var (jsonl, _) = Run("jsonl", [], stdin);
        var lines = jsonl.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        for (int r = 0; r < 2; r++)
        {
            using var doc = JsonDocument.Parse(lines[r]);
            Assert.Equal(r == 0 ? "first line" : "second\twith a tab", doc.RootElement.GetProperty("text").GetString());
            var e = doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
            Assert.Equal(fields[r][1..].Select(x => float.Parse(x, CultureInfo.InvariantCulture)), e);
        }
    }

    [Fact]
    public void ATextOverTheModelsPositionsIsTruncatedWithANotice()
    {
        string longText = string.Join(' ', Enumerable.Repeat("blessed are the peacemakers", 150));
        int pieces = Encoders.MiniLm.Tokenizer.Encode(longText, out _).Length + 2;                      // with [CLS] and [SEP]
        Assert.True(pieces > 600);
        var (json, log) = Run("jsonl", ["short text", longText]);
        Assert.Contains($"1 text has more word pieces than the 512 the model reads and was truncated to the first 512: text 2 ({pieces})", log);
        var cut = Encoders.MiniLm.Model.Embed([Encoders.MiniLm.Tokenizer.Encode(longText, null, 512)])[0];
        using var doc = JsonDocument.Parse(json.Split('\n')[1]);
        var got = doc.RootElement.GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
        // Alone, the text needs no mask (the kernel's unmasked path); batched with the short one it is masked: the same
        // attention, rounded in another order — equal to float32's last bits, not bit for bit.
        Assert.Equal(cut.Length, got.Length);
        Assert.All(cut.Zip(got), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-6f, $"{p.First} vs {p.Second}"));
    }

    [Fact]
    public void ArcticPoolsTheClsStateAndPrefixesQueries()
    {
        var arctic = Encoders.Arctic;
        Assert.Equal(SentencePooling.Cls, arctic.Pooling);
        const string text = "love your enemies";
        var x = arctic.Tokenizer.Encode(text);
        float[] h;
        using (Autograd.NoGrad())
        using (Tensor.NewScope())
            h = arctic.Model.Forward(Tensor.FromArray(x.Ids, [1, x.Length])).ToArray()[..384];      // [CLS]'s last hidden state
        double norm = Math.Sqrt(Encoders.Dot(h, h));
        var (doc, _) = Run("jsonl", [text], model: arctic);
        var e = JsonDocument.Parse(doc).RootElement.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        for (int i = 0; i < 384; i++) Assert.Equal(h[i] / norm, e[i], 1e-6);

        var (query, _) = Run("jsonl", [text], queries: true, model: arctic);
        var q = JsonDocument.Parse(query).RootElement.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var want = arctic.Model.Encode([arctic.QueryPrefix + text], pooling: SentencePooling.Cls)[0];
        Assert.Equal(want, q);
        Assert.StartsWith("Represent this sentence", arctic.QueryPrefix);
        var (minilmQuery, _) = Run("jsonl", [text], queries: true);                                // minilm is symmetric
        Assert.Equal(Run("jsonl", [text]).Out, minilmQuery);
    }

    [Fact]
    public void EmptyInputIsAClearError()
    {
        var o = new StringWriter();
        var e = Assert.Throws<CliException>(() => EmbedCommand.Run(() => throw new InvalidOperationException("no model needed"), [], "json", false, new StringReader("\n \n"), o, o));
        Assert.Contains("no text to embed", e.Message);
        e = Assert.Throws<CliException>(() => EmbedCommand.Run(() => throw new InvalidOperationException("no model needed"), ["ok", " "], "json", false, new StringReader(""), o, o));
        Assert.Contains("text 2 is empty", e.Message);
    }

    [Fact]
    public void AsAProcessItReadsStdinAndKeepsStdoutForTheEmbeddings()
    {
        using var p = new CliProcess("embed", "--model", "minilm", "--format", "tsv");
        p.Stdin.Write("In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void.\n");
        p.Stdin.Close();
        Assert.Equal(0, p.Wait());
        var rows = p.Stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(2, rows.Length);
        Assert.All(rows, r => Assert.Equal(385, r.Split('\t').Length));
        Assert.StartsWith("In the beginning God", rows[0]);
    }

    [Theory]
    [InlineData("nosuchmodel", "--model 'nosuchmodel' is neither a model attend knows (minilm, arctic) nor an existing file or folder")]
    [InlineData("/nonexistent/model.onnx", "--model '/nonexistent/model.onnx' is neither")]
    public void AnUnknownModelOrAMissingFileIsAClearError(string model, string says)
    {
        var (exit, stdout, stderr) = CliProcess.Run("embed", "--model", model, "some text");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains($"error: {says}", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
