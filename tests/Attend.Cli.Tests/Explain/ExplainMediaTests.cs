using System.Net;
using System.Text;
using System.Text.Json;
using Attend.Cli.Explain;
using Attend.Cli.Speech;
using Attend.Cli.Vision;
using Attend.Interpret;
using Attend.Nn;
using SkiaSharp;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// attend explain / serve for the issue-7 models: Whisper's DTW against a brute-force search and hand-made alignments;
/// the ViT adapter's patch-grid maps against the captured [CLS] rows; the speech adapter's views, word timings and
/// errors; uploads to the explorer and their limits and errors. Models have random weights (shapes and labels only).
/// </summary>
public sealed class ExplainMediaTests
{
    // ---- DTW and word timings ----------------------------------------------------------------------------------------

    [Fact]
    public void DtwFollowsAHandMadeMonotonicAlignment()
    {
        // token 0 on frames 0–1, token 1 on 2–3, token 2 on 4–5
        var m = new double[3, 6];
        for (int t = 0; t < 3; t++) for (int s = 0; s < 6; s++) m[t, s] = s / 2 == t ? 1 : -1;
        var (tok, fr) = AttentionAlignment.Dtw(AttentionAlignment.Negate(m));
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2 }, tok);
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5 }, fr);
        Assert.Equal(new[] { 0, 2, 4 }, AttentionAlignment.TokenStarts(tok, fr));
    }

    [Fact]
    public void DtwFindsTheCheapestOfAllMonotonicPaths()
    {
        var rng = new Random(3);
        var cost = new double[4, 5];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 5; j++) cost[i, j] = rng.NextDouble();
        // brute force: every path from (0, 0) to (3, 4) with steps (1, 1), (1, 0), (0, 1)
        double Best(int i, int j) => i == 3 && j == 4 ? cost[i, j] : cost[i, j] + new[]
        {
            i < 3 && j < 4 ? Best(i + 1, j + 1) : double.PositiveInfinity, i < 3 ? Best(i + 1, j) : double.PositiveInfinity,
            j < 4 ? Best(i, j + 1) : double.PositiveInfinity,
        }.Min();
        var (tok, fr) = AttentionAlignment.Dtw(cost);
        Assert.Equal((0, 0), (tok[0], fr[0]));
        Assert.Equal((3, 4), (tok[^1], fr[^1]));
        for (int k = 1; k < tok.Length; k++)
        {
            Assert.InRange(tok[k] - tok[k - 1], 0, 1);
            Assert.InRange(fr[k] - fr[k - 1], 0, 1);
            Assert.True(tok[k] != tok[k - 1] || fr[k] != fr[k - 1]);
        }
        Assert.Equal(Best(0, 0), tok.Select((t, k) => cost[t, fr[k]]).Sum(), 12);
    }

    [Fact]
    public void AlignmentMatrixStandardizesOverTokensThenMedianFiltersWithReflection()
    {
        // two tokens: the z-scores are ±1; row 0 = [1, −1, 1, −1, −1], filtered (width 3, reflect) = [−1, 1, −1, −1, −1]
        var w = new float[,] { { 1, 0, 1, 0, 0 }, { 0, 1, 0, 1, 1 } };
        var m = AttentionAlignment.Matrix([w], 3);
        Assert.Equal(new double[] { -1, 1, -1, -1, -1 }, Enumerable.Range(0, 5).Select(s => m[0, s]));
        Assert.Equal(new double[] { 1, -1, 1, 1, 1 }, Enumerable.Range(0, 5).Select(s => m[1, s]));
        // width 1: plain z-scores over the tokens, averaged over two heads
        var a = new float[,] { { 0.7f, 0.1f }, { 0.2f, 0.3f }, { 0.1f, 0.6f } };
        var z = AttentionAlignment.Matrix([a, a], 1);
        for (int s = 0; s < 2; s++)
        {
            double mean = ((double)a[0, s] + a[1, s] + a[2, s]) / 3;
            double std = Math.Sqrt(Enumerable.Range(0, 3).Sum(t => (a[t, s] - mean) * (a[t, s] - mean)) / 3);
            for (int t = 0; t < 3; t++) Assert.Equal((a[t, s] - mean) / std, z[t, s], 1e-9);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionAlignment.Matrix([w], 2));
    }

    [Fact]
    public void WordTimingsComeFromTheFirstFrameEachTokenIsReached()
    {
        // rows: "a" = tokens 0–1, "b" = token 2, end token 3; peaks on frames 0–1, 2–3, 4–6, 7
        int[] first = [0, 2, 4, 7, 8];
        var head = new float[4, 8];
        for (int t = 0; t < 4; t++) for (int s = first[t]; s < first[t + 1]; s++) head[t, s] = 1;
        var words = AttentionAlignment.Words([head], ["a", "b"], [2, 3], 0.04, 1);
        Assert.Equal(new WordTiming("a", 0, 4 * 0.04), words[0]);
        Assert.Equal(new WordTiming("b", 4 * 0.04, 7 * 0.04), words[1]);
        Assert.Contains("one more", Assert.Throws<ArgumentException>(() => AttentionAlignment.Words([head], ["a"], [4], 0.04, 1)).Message);
    }

    // ---- ViT ----------------------------------------------------------------------------------------------------------

    static VitExplainer TinyVit()
    {
        var c = new VitConfig(ImageSize: 8, PatchSize: 4, Channels: 1, NumClasses: 3, Dim: 16, Depth: 2, NHead: 2);
        return new VitExplainer(new VisionTransformer(c, new Random(4)), new VitModelConfig("tiny", c, ["zero", "one", "two"], [0.5f], [0.25f], 0f, "test"));
    }

    /// <summary>A 16×16 PNG: a white bar on black.</summary>
    static byte[] Png()
    {
        using var bmp = new SKBitmap(16, 16);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) bmp.SetPixel(x, y, x is >= 6 and < 10 ? SKColors.White : SKColors.Black);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public void VitPatchGridMapsAreTheCapturedClsRows()
    {
        var vit = TinyVit();
        var m = vit.ExplainFile(Png(), "bar.png");
        var e = m.Explanation;
        Assert.Equal(new[] { 2, 2 }, e.PatchGrid);
        Assert.Contains(e.Output.Split(' ')[0], vit.Config.Classes);
        Assert.Equal("bar.png (resized from 16×16)", e.Input);
        Assert.Equal(new[] { "block 0", "block 1" }, e.Views.Select(v => v.Label));
        Assert.Equal(new[] { "[CLS]", "r0c0", "r0c1", "r1c0", "r1c1" }, e.Views[0].Keys);
        Assert.Equal(new[] { "png/block-0-cls-grid.png", "png/block-1-cls-grid.png", "png/vit-rollout-cls-grid.png" }, m.Pngs.Select(p => p.Name));
        Assert.All(m.Pngs, p => Assert.NotNull(SKBitmap.Decode(p.Png)));

        // the same image through the model by hand (decoded as attend classify does, normalized (x − 0.5) / 0.25)
        var img = ImageFiles.Decode(Png(), "bar.png", 8, 1, out _);
        var x = Tensor.FromArray(img.Select(v => (v - 0.5f) / 0.25f).ToArray(), [1, 1, 8, 8]);
        var model = new VisionTransformer(vit.Config.Vit, new Random(4));
        model.Eval();
        using var cap = AttentionCapture.Start(model);
        using (Autograd.NoGrad()) model.Forward(x);
        var grids = VitExplainer.ClsGrids(e);
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 4; p++)
            {
                double cls = (cap.Records[b].Map(0)[0, 1 + p] + cap.Records[b].Map(1)[0, 1 + p]) / 2.0;
                Assert.Equal(cls, grids[b].Grid[p / 2, p % 2], 5);
            }
        Assert.Equal(e.Stacks()[0].Rollout[0, 4], grids[2].Grid[1, 1]);
    }

    [Fact]
    public void VitSaysWhatIsWrongWithAFile()
    {
        var vit = TinyVit();
        Assert.Contains("not a PNG, JPEG, BMP, GIF or WebP", Assert.Throws<ArgumentException>(() => vit.ExplainFile(Encoding.UTF8.GetBytes("hello"), "x.png")).Message);
        Assert.Contains("image model", Assert.Throws<ArgumentException>(() => vit.Explain("seven")).Message);
    }

    // ---- speech -------------------------------------------------------------------------------------------------------

    static readonly string[] Tokens = ["<pad>", "<bos>", "<eos>", "<unk>", "s", "E", "v", "@", "n", "V", "#seven", "#of"];

    static SpeechExplainer TinySpeech()
    {
        var cfg = new SpeechConfig(SpeechPreset.Tiny, new PhonemeTokenizer(Tokens));
        return new(new SpeechRecognizer(new Seq2Seq(cfg.Model, new Random(2)), cfg));
    }

    /// <summary>0.8 s of a rising tone at 22.05 kHz as WAV bytes (16-bit, or <paramref name="bits"/> in the header).</summary>
    static byte[] Wave(int bits = 16)
    {
        string path = Path.Combine(Path.GetTempPath(), $"attend-explain-{Guid.NewGuid():N}.wav");
        try
        {
            Wav.Write(path, Enumerable.Range(0, 17640).Select(i => 0.3f * MathF.Sin(i * (0.05f + i * 2e-6f))).ToArray(), 22050);
            var b = File.ReadAllBytes(path);
            b[34] = (byte)bits;
            return b;
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void SpeechViewsCoverFramesAndTokensAndWordTimingsAreOrdered()
    {
        var sp = TinySpeech();
        var m = sp.ExplainFile(Wave(), "tone.wav");
        var e = m.Explanation;
        int frames = LogMel.Frames(16000 * 8 / 10), S = (frames + 3) / 4;
        Assert.Equal(new[] { "encoder 0", "decoder 0 self", "decoder 0 cross" }, e.Views.Select(v => v.Label));
        Assert.Equal(S, e.Views[0].Keys.Length);
        Assert.Equal("0.04s", e.Views[0].Keys[1]);
        var cross = e.Views[2];
        Assert.Equal(S, cross.Keys.Length);
        Assert.Equal("</s>", cross.Queries[^1]);
        Assert.Equal(e.Views[1].Queries.Length, cross.Queries.Length);
        Assert.Equal(cross.Queries.Where(PhonemeTokenizer.IsWord).Select(q => q[1..]), e.WordTimings!.Select(w => w.Word));
        Assert.Equal(string.Join(' ', e.WordTimings!.Select(w => w.Word)), e.Output);
        for (int w = 0; w < e.WordTimings!.Count; w++)
        {
            Assert.InRange(e.WordTimings[w].Start, 0, e.WordTimings[w].End);
            Assert.InRange(e.WordTimings[w].End, 0, S * 0.04);
            if (w > 0) Assert.Equal(e.WordTimings[w - 1].End, e.WordTimings[w].Start);
        }
        Assert.Contains("\"words\":", e.ToJson());
        Assert.Contains("word timings (DTW over the cross-attention of decoder layer 0", e.Summary());
        Assert.Equal("png/spectrogram-alignment.png", m.Pngs.Single().Name);
        Assert.NotNull(SKBitmap.Decode(m.Pngs[0].Png));
        Assert.All(e.Stacks(), s => Assert.True(s.Tokens.Length <= SpeechExplainer.FlowTokens || s.Flow is null));
    }

    [Fact]
    public void SpeechSaysWhatIsWrongWithAFileOrText()
    {
        var sp = TinySpeech();
        Assert.Contains("unsupported WAV encoding", Assert.Throws<ArgumentException>(() => sp.ExplainFile(Wave(bits: 24), "x.wav")).Message);
        Assert.Contains("'x.wav' is not a WAV file", Assert.Throws<ArgumentException>(() => sp.ExplainFile(Png(), "x.wav")).Message);
        Assert.Contains("character '7' at position 1", Assert.Throws<ArgumentException>(() => sp.Explain("7 of hearts")).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => sp.Explain("  ")).Message);
    }

    [Fact]
    public void SpeechFromTextComparesDtwWithEspeaksWordStarts()
    {
        var m = TinySpeech().ExplainText("seven of");
        Assert.StartsWith("\"seven of\" (espeak-ng en-us)", m.Explanation.Input);
        Assert.Contains("DTW word starts vs espeak-ng's", m.SummaryExtra);
        Assert.Matches(@"seven\s+espeak\s+0\.\d\d s", m.SummaryExtra);
        Assert.NotNull(SKBitmap.Decode(m.Pngs[0].Png));
    }

    [Fact]
    public void ExplainWritesTheMediaPicturesAndTheSummaryLines()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"attend-explain-{Guid.NewGuid():N}");
        try
        {
            var m = TinyVit().ExplainFile(Png(), "bar.png");
            m = m with { Explanation = m.Explanation with { Input = "</script><b>bar.png" }, SummaryExtra = "\nextra line\n" };
            var files = ExplainCommand.Write(m, dir, TextWriter.Null);
            Assert.DoesNotContain("</script><b>", File.ReadAllText(Path.Combine(dir, "explain.html")));     // the JSON stays inside its script element
            foreach (var name in new[] { "explain.html", "explanation.json", "summary.txt", "png/block-1.png", "png/block-0-cls-grid.png", "png/vit-rollout-cls-grid.png" })
                Assert.Contains(Path.Combine(dir, name), files);
            Assert.Equal(m.Pngs[2].Png, File.ReadAllBytes(Path.Combine(dir, "png/vit-rollout-cls-grid.png")));
            Assert.EndsWith("\nextra line\n", File.ReadAllText(Path.Combine(dir, "summary.txt")));
            Assert.Contains("\"patch_grid\":[2,2]", File.ReadAllText(Path.Combine(dir, "explanation.json")));
            Assert.Contains(Convert.ToBase64String(m.Pngs[0].Png)[..100], File.ReadAllText(Path.Combine(dir, "explain.html")));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp-*", SearchOption.AllDirectories));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    // ---- attend serve with uploads --------------------------------------------------------------------------------------

    static async Task WithServer(IAttentionExplainer explainer, Func<HttpClient, Task> body)
    {
        await using var app = ServeCommand.Build(explainer, IPAddress.Loopback, 0);
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
            await body(http);
        }
        finally { await app.StopAsync(); }
    }

    static async Task<(HttpStatusCode Status, JsonElement Body)> Post(HttpClient http, object payload)
    {
        var r = await http.PostAsync("/api/explain", new StringContent(JsonSerializer.Serialize(payload), Encoding.UTF8, "application/json"));
        return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task ServeTakesImageUploadsAndRefusesBadOnes()
    {
        await WithServer(TinyVit(), async http =>
        {
            var page = await http.GetStringAsync("/");
            Assert.Contains("type=\"file\" accept=\"image/*\"", page);
            Assert.DoesNotContain("id=\"input\"", page);
            var (ok, body) = await Post(http, new { file = Convert.ToBase64String(Png()), name = "../../etc/bar.png" });
            Assert.Equal(HttpStatusCode.OK, ok);
            Assert.Equal("bar.png (resized from 16×16)", body.GetProperty("input").GetString());
            Assert.Equal(2, body.GetProperty("patch_grid")[0].GetInt32());
            Assert.Equal(3, body.GetProperty("images").GetArrayLength());
            Assert.NotNull(SKBitmap.Decode(Convert.FromBase64String(body.GetProperty("images")[2].GetProperty("png").GetString()!)));

            var (s1, b1) = await Post(http, new { file = Convert.ToBase64String(Encoding.UTF8.GetBytes("hello")), name = "x.png" });
            Assert.Equal(HttpStatusCode.BadRequest, s1);
            Assert.Contains("x.png: not a PNG, JPEG", b1.GetProperty("error").GetString());
            var (s2, b2) = await Post(http, new { file = "!!not base64", name = "x.png" });
            Assert.Equal(HttpStatusCode.BadRequest, s2);
            Assert.Contains("not base64", b2.GetProperty("error").GetString());
            var (s3, b3) = await Post(http, new { file = Convert.ToBase64String(new byte[ServeCommand.MaxFile + 1]), name = "big.png" });
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, s3);
            Assert.Contains($"the file is {ServeCommand.MaxFile + 1} bytes; at most {ServeCommand.MaxFile}", b3.GetProperty("error").GetString());
            var (s4, b4) = await Post(http, new { input = "seven" });
            Assert.Equal(HttpStatusCode.BadRequest, s4);
            Assert.Contains("image model", b4.GetProperty("error").GetString());
            // Expect: 100-continue, as a client uploading this much should: the server refuses on the headers, so the
            // body is never sent (without it the 413 races the upload, and the client may see a broken pipe instead).
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/explain") { Content = new ByteArrayContent(new byte[ServeCommand.MaxUploadBody + 1]) };
            request.Headers.ExpectContinue = true;
            var huge = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        });
    }

    [Fact]
    public async Task ServeTakesWavUploadsWithWordTimings()
    {
        await WithServer(TinySpeech(), async http =>
        {
            var page = await http.GetStringAsync("/");
            Assert.Contains("accept=\".wav,audio/wav,audio/x-wav\"", page);
            Assert.Contains("id=\"input\"", page);
            var (ok, body) = await Post(http, new { file = Convert.ToBase64String(Wave()), name = "tone.wav" });
            Assert.Equal(HttpStatusCode.OK, ok);
            Assert.Equal("tone.wav", body.GetProperty("input").GetString());
            Assert.Equal(JsonValueKind.Array, body.GetProperty("words").ValueKind);
            Assert.Equal("spectrogram-alignment.png", body.GetProperty("images")[0].GetProperty("name").GetString());
            var (bad, err) = await Post(http, new { file = Convert.ToBase64String(Wave(bits: 8)), name = "8bit.wav" });
            Assert.Equal(HttpStatusCode.BadRequest, bad);
            Assert.Contains("'8bit.wav': unsupported WAV encoding", err.GetProperty("error").GetString());
        });
    }
}
