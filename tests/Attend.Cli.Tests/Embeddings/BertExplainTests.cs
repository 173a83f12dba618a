using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Attend.Cli.Explain;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>attend explain / serve with a pretrained BERT encoder: every layer and head of self-attention over the
/// WordPiece tokens, the pair's token types, the files written, the explorer's pair syntax, clear errors.</summary>
public sealed class BertExplainTests
{
    const string Sentence = "The cat sat on the mat because it was tired.";
    static readonly string[] Tokens = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "because", "it", "was", "tired", ".", "[SEP]"];

    [Fact]
    public void ExplainWritesSixLayersOfTwelveHeadsOverTheWordPieces()
    {
        using var tmp = new Encoders.TempDir();
        var (exit, stdout, stderr) = CliProcess.Run("explain", "--model", "minilm", "--input", Sentence, "--out", tmp.Path);
        Assert.True(exit == 0, stderr);
        Assert.Contains("output: sentence embedding: 384 dims", stdout);
        Assert.True(File.Exists(tmp["explain.html"]));
        using var doc = JsonDocument.Parse(File.ReadAllText(tmp["explanation.json"]));
        var root = doc.RootElement;
        Assert.Equal("bert (minilm)", root.GetProperty("model").GetString());
        var views = root.GetProperty("views").EnumerateArray().ToArray();
        Assert.Equal(Enumerable.Range(0, 6).Select(l => $"encoder.layer.{l}.attention.self"), views.Select(v => v.GetProperty("name").GetString()));
        Assert.Equal(Enumerable.Range(0, 6).Select(l => $"layer {l}"), views.Select(v => v.GetProperty("label").GetString()));
        foreach (var v in views)
        {
            Assert.Equal(Tokens, v.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));
            Assert.Equal(Tokens, v.GetProperty("queries").EnumerateArray().Select(k => k.GetString()));
            Assert.Equal(Enumerable.Range(0, 12), v.GetProperty("heads").EnumerateArray().Select(h => h.GetInt32()));
            var weights = v.GetProperty("weights").EnumerateArray().ToArray();
            Assert.Equal(12, weights.Length);
            foreach (var row in weights[5].EnumerateArray())                    // bidirectional: every row spreads over all 13 keys, summing to 1
                Assert.Equal(1.0, row.EnumerateArray().Sum(w => w.GetDouble()), 1e-4);
        }
        var stack = Assert.Single(root.GetProperty("stacks").EnumerateArray().ToArray());
        Assert.Equal("encoder", stack.GetProperty("stack").GetString());
        Assert.Equal(72, Directory.GetFiles(tmp["png"], "layer-*-h*.png").Length);
        Assert.True(File.Exists(tmp["png/encoder-rollout.png"]));
    }

    [Fact]
    public void APairMarksItsSecondSegmentAndComparesTheSentences()
    {
        var x = new BertExplainer(Encoders.MiniLm);
        var e = x.Explain("The cat sat.", "A dog ran.");
        string[] want = ["[CLS]", "the", "cat", "sat", ".", "[SEP]", "B:a", "B:dog", "B:ran", "B:.", "B:[SEP]"];
        Assert.All(e.Views, v => Assert.Equal(want, v.Keys));
        Assert.Equal("The cat sat. [SEP] A dog ran.", e.Input);
        Assert.StartsWith("cosine(A, B) = ", e.Output);
        var emb = Encoders.MiniLm.Model.Encode(["The cat sat.", "A dog ran."]);
        Assert.Contains($"cosine(A, B) = {Encoders.Dot(emb[0], emb[1]):F4}", e.Output);
        Assert.Equal(e.ToJson(), x.Explain("The cat sat. [SEP] A dog ran.").ToJson());     // the explorer's syntax
    }

    [Fact]
    public void TheCommandTakesAPairOption()
    {
        using var tmp = new Encoders.TempDir();
        var (exit, stdout, stderr) = CliProcess.Run("explain", "--model", "minilm", "--input", "The cat sat.", "--pair", "A dog ran.", "--out", tmp.Path);
        Assert.True(exit == 0, stderr);
        Assert.Contains("input:  The cat sat. [SEP] A dog ran.", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(tmp["explanation.json"]));
        var keys = doc.RootElement.GetProperty("views")[0].GetProperty("keys").EnumerateArray().Select(k => k.GetString()).ToArray();
        Assert.Equal("B:dog", keys[7]);
        Assert.Contains("B:[SEP]", File.ReadAllText(tmp["summary.txt"]));
    }

    [Theory]
    [InlineData("", "the input is empty")]
    [InlineData(" [SEP] B", "the text before [SEP] is empty")]
    [InlineData("A [SEP]  ", "the text after [SEP] is empty")]
    [InlineData("A [SEP] B [SEP] C", "a pair is typed as \"A [SEP] B\", with one")]
    public void BadInputSaysWhatIsWrong(string input, string says) =>
        Assert.Contains(says, Assert.Throws<ArgumentException>(() => new BertExplainer(Encoders.MiniLm).Explain(input)).Message);

    [Fact]
    public void ALongInputIsRefusedWithTheLimit()
    {
        var e = Assert.Throws<ArgumentException>(() => new BertExplainer(Encoders.MiniLm).Explain(string.Join(' ', Enumerable.Repeat("word", 200))));
        Assert.Contains("the input is 202 word pieces with [CLS] and [SEP]; explain shows at most 128", e.Message);
    }

    [Theory]
    [InlineData("nosuchmodel", "holds no checkpoint")]
    [InlineData("/nonexistent/encoder.onnx", "--model '/nonexistent/encoder.onnx' is neither a model attend knows")]
    public void AnUnknownModelOrAMissingFileIsAClearError(string model, string says)
    {
        var (exit, _, stderr) = CliProcess.Run("explain", "--model", model, "--input", "x");
        Assert.Equal(2, exit);
        Assert.Contains(says, stderr);
        if (model == "nosuchmodel") Assert.Contains("minilm (all-MiniLM-L6-v2), arctic", stderr);
    }

    [Fact]
    public async Task ServeExplainsAPairTypedWithSep()
    {
        var explainer = new BertExplainer(Encoders.MiniLm);
        await using var app = ServeCommand.Build(explainer, IPAddress.Loopback, 0);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        var info = await http.GetFromJsonAsync<JsonElement>("/api/info");
        Assert.Contains("\"A [SEP] B\"", info.GetProperty("model").GetString());
        Assert.Equal(Sentence, info.GetProperty("example").GetString());

        var r = await http.PostAsJsonAsync("/api/explain", new { input = "It rained. [SEP] The street was wet." });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var json = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(6, json.GetProperty("views").GetArrayLength());
        Assert.Contains("B:wet", json.GetProperty("views")[0].GetProperty("keys").EnumerateArray().Select(k => k.GetString()));

        r = await http.PostAsJsonAsync("/api/explain", new { input = "a [SEP] b [SEP] c" });
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("with one", (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        await app.StopAsync();
    }
}
