using System.Net;
using System.Text;
using System.Text.Json;
using Attend.Cli.Dates;
using Attend.Cli.Explain;
using Attend.Cli.Lm;
using Attend.Cli.Translate;
using Attend.Interpret;
using Attend.Nn;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// attend explain / serve: the adapters' views against the models' own weights, labels and shapes; the checkpoint round
/// trip; the files written; clear errors; the web app's endpoints, limits and errors.
/// </summary>
public sealed class ExplainTests(TinyDateModel tiny) : IClassFixture<TinyDateModel>
{
    const string Input = "Saturday 28 Nov 2026";

    [Fact]
    public void DateViewsHaveLabelsAndTheCrossViewEqualsTheDecodersOwnWeights()
    {
        var e = new DateExplainer(tiny.Model, DateConfig.Tiny).Explain(Input);
        var (output, want) = DateTask.CrossAttention(tiny.Model, Input);        // what the quickstart draws (AttentionCaptureTests check captures against float64)
        Assert.Equal(output, e.Output);
        Assert.Equal(new[] { "encoder 0", "decoder 0 self", "decoder 0 cross" }, e.Views.Select(v => v.Label));
        var cross = e.Views[2];
        Assert.Equal(Input.Select(c => c.ToString()), cross.Keys);
        Assert.Equal(output.Select(c => c.ToString()), cross.Queries);
        Assert.Equal(new[] { "<s>" }.Concat(output[..^1].Select(c => c.ToString())), e.Views[1].Queries);
        var mean = AttentionAnalysis.Mean(cross.Maps);
        for (int t = 0; t < output.Length; t++)
            for (int s = 0; s < Input.Length; s++) Assert.Equal(want[t, s], mean[t, s], 1e-6);   // a tolerance, not rounding to 6 places (which fails across a rounding boundary)
        var stacks = e.Stacks();
        Assert.Equal(new[] { "encoder", "decoder" }, stacks.Select(s => s.Stack));
        Assert.All(stacks, s => Assert.NotNull(s.Flow));
    }

    [Fact]
    public void QuickstartCheckpointLoadsBackToTheSameExplanation()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"attend-explain-{Guid.NewGuid():N}");
        try
        {
            DateTask.Save(tiny.Model, DateConfig.Tiny, Path.Combine(dir, "model"));
            var loaded = Explainers.Load(Path.Combine(dir, "model"));
            Assert.IsType<DateExplainer>(loaded);
            Assert.Equal(new DateExplainer(tiny.Model, DateConfig.Tiny).Explain(Input).ToJson(), loaded.Explain(Input).ToJson());

            var files = ExplainCommand.Write(loaded.Explain(Input), Path.Combine(dir, "out"), TextWriter.Null);
            Assert.Contains(files, f => f.EndsWith("explain.html"));
            Assert.Contains(files, f => f.EndsWith("png/decoder-0-cross-h1.png"));
            Assert.Contains(files, f => f.EndsWith("png/encoder-rollout.png"));
            foreach (var png in files.Where(f => f.EndsWith(".png")))
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);
            Assert.Empty(Directory.GetFiles(Path.Combine(dir, "out"), "*.tmp-*", SearchOption.AllDirectories));
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "explanation.json")));
            Assert.Equal(Input, json.RootElement.GetProperty("input").GetString());

            var e = Assert.Throws<ArgumentException>(() => Explainers.Load(Path.Combine(dir, "out")));
            Assert.Contains("holds no checkpoint", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Saturday 28 Nov 2026 Saturday 28 Nov 2026 Saturday 28 Nov 2026", "at most 48")]
    [InlineData("28 Nov 2026 §", "'§' at position 13")]
    public void BadDateInputSaysWhatIsWrong(string input, string says)
    {
        var e = Assert.Throws<ArgumentException>(() => new DateExplainer(tiny.Model, DateConfig.Tiny).Explain(input));
        Assert.Contains(says, e.Message);
    }

    [Fact]
    public void LmViewsCoverPromptAndContinuationCausally()
    {
        var tok = new CharTokenizer(" abcdefgh");
        var gpt = new Gpt(new GptConfig(BlockSize: 32, VocabSize: tok.VocabSize, NLayer: 2, NHead: 2, NEmbd: 16), new Random(1));
        gpt.Eval();
        var x = new LmExplainer((gpt, tok));
        var e = x.Explain("a bad");
        Assert.Equal(LmExplainer.Continuation, e.Output.Length);
        Assert.Equal(new[] { "layer 0", "layer 1" }, e.Views.Select(v => v.Label));
        var v = e.Views[1];
        Assert.Equal(("a bad" + e.Output).Select(c => c.ToString()), v.Keys);
        for (int i = 0; i < v.Queries.Length; i++)
            for (int j = i + 1; j < v.Keys.Length; j++) Assert.Equal(0f, v.Maps[1][i, j]);
        Assert.Contains("'z' at position 2", Assert.Throws<ArgumentException>(() => x.Explain("az")).Message);
        Assert.Contains("at most 31", Assert.Throws<ArgumentException>(() => x.Explain(new string('a', 40))).Message);
        Assert.Equal(32 - 20, x.Explain(new string('a', 20)).Output.Length);    // the continuation stops at the context
    }

    [Fact]
    public void TranslationViewsMarkUnknownWords()
    {
        var cfg = new TranslateConfig(TranslatePreset.Tiny, new WordTokenizer(new[] { "God", "light", "said", "." }), new WordTokenizer(new[] { "Dios", "luz", "dijo", "." }));
        var model = new Seq2Seq(cfg.Model, new Random(2));
        model.Eval();
        var e = new TranslateExplainer(model, cfg).Explain("God said light zebra .");
        Assert.Equal(new[] { "encoder 0", "decoder 0 self", "decoder 0 cross" }, e.Views.Select(v => v.Label));
        Assert.Equal(new[] { "God", "said", "light", "zebra (unk)", "." }, e.Views[0].Keys);
        Assert.Equal("</s>", e.Views[2].Queries[^1]);
        Assert.Equal(e.Views[2].Queries.Length, e.Views[1].Queries.Length);
        Assert.Throws<ArgumentException>(() => new TranslateExplainer(model, cfg).Explain("   "));
    }

    [Fact]
    public async Task ServeAnswersThePageTheApiAndClearErrors()
    {
        var explainer = new DateExplainer(tiny.Model, DateConfig.Tiny);
        await using var app = ServeCommand.Build(explainer, IPAddress.Loopback, 0);
        await app.StartAsync();
        try
        {
            var url = app.Urls.Single();
            Assert.StartsWith("http://127.0.0.1:", url);
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            var page = await http.GetStringAsync("/");
            Assert.Contains("Attend.live", page);
            Assert.Contains("value=\"Saturday 28 Nov 2026\"", page);
            using var info = JsonDocument.Parse(await http.GetStringAsync("/api/info"));
            Assert.Equal(48, info.RootElement.GetProperty("max_input").GetInt32());

            async Task<(HttpStatusCode, string)> Post(string body)
            {
                var r = await http.PostAsync("/api/explain", new StringContent(body, Encoding.UTF8, "application/json"));
                return (r.StatusCode, await r.Content.ReadAsStringAsync());
            }
            var (ok, json) = await Post(JsonSerializer.Serialize(new Dictionary<string, string> { ["input"] = Input }));
            Assert.Equal(HttpStatusCode.OK, ok);
            Assert.Equal(explainer.Explain(Input).ToJson(), json);

            string Error(string b) => JsonDocument.Parse(b).RootElement.GetProperty("error").GetString()!;
            var (s1, b1) = await Post("{\"input\": \"28 Nov §\"}");
            Assert.Equal(HttpStatusCode.BadRequest, s1);
            Assert.Contains("'§' at position 8", Error(b1));
            var (s2, b2) = await Post("not json");
            Assert.Equal(HttpStatusCode.BadRequest, s2);
            Assert.Contains("not JSON", Error(b2));
            var (s3, b3) = await Post("{\"text\": 1}");
            Assert.Equal(HttpStatusCode.BadRequest, s3);
            Assert.Contains("{\"input\"", Error(b3));
            var (s5, b5) = await Post("{\"file\": \"aGVsbG8=\", \"name\": \"x.png\"}");
            Assert.Equal(HttpStatusCode.BadRequest, s5);
            Assert.Contains("reads text, not files", Error(b5));
            Assert.DoesNotContain("type=\"file\"", page);
            var (s4, b4) = await Post("{\"input\": \"" + new string('1', ServeCommand.MaxBody) + "\"}");
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, s4);
            Assert.Contains("at most 16384", Error(b4));
            using var fresh = new HttpClient { BaseAddress = new Uri(url) };      // Kestrel may close the connection after a 413
            Assert.Equal(HttpStatusCode.NotFound, (await fresh.GetAsync("/../../etc/passwd")).StatusCode);
        }
        finally { await app.StopAsync(); }
    }
}
