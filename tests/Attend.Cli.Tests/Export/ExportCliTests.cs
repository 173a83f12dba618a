using Attend.Cli.Dates;
using Attend.Cli.Embeddings;
using Attend.Cli.Export;
using Attend.Cli.Lm;
using Attend.Cli.Speech;
using Attend.Cli.Translate;
using Attend.Cli.Vision;
using Attend.IO;
using Attend.Nn;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Cli.Tests;

/// <summary>
/// <c>attend export</c> on every checkpoint the CLI writes — quickstart's dates model, lm, translate, vit, speech — run by
/// ONNX Runtime: greedy generation through the exported KV-cache graphs gives what <c>attend quickstart</c>'s predictor,
/// <c>attend sample</c> (temperature 0), <c>attend translate</c> and <c>attend transcribe</c>'s decoder give; the ViT's
/// logits equal the model's. And the errors: no checkpoint, an opset not written.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ExportCliTests(TinyDateModel dates, TinyLmRun lm, TinyTranslateRun translate, TinySpeechRun speech, ITestOutputHelper output)
    : IClassFixture<TinyDateModel>, IClassFixture<TinyLmRun>, IClassFixture<TinyTranslateRun>, IClassFixture<TinySpeechRun>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("attend-export-").FullName;
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    private static InferenceSession Session(string path) => new(path, new SessionOptions { IntraOpNumThreads = 1 });

    private string[] Export(string model, string name, int opset, bool kvCache)
    {
        var log = new StringWriter();
        Assert.Equal(0, ExportCommand.Run(model, Path.Combine(root, name + ".onnx"), opset, kvCache, log, TextWriter.Null));
        output.WriteLine(log.ToString());
        return kvCache && !name.StartsWith("lm") ? [Path.Combine(root, name + ".encoder.onnx"), Path.Combine(root, name + ".decoder.onnx")] : [Path.Combine(root, name + ".onnx")];
    }

    /// <summary>Greedy decoding in ONNX Runtime: the encoder once, then the decoder one token per call with the presents
    /// fed back, each row stopping at EOS or its length limit — the loop of <see cref="Seq2Seq.Greedy"/>.</summary>
    private static long[][] OrtGreedy(string[] files, Seq2SeqConfig c, NamedOnnxValue source, long[] keep, int B, int S, int[] maxLengths)
    {
        using var encoder = Session(files[0]);
        using var decoder = Session(files[1]);
        using var enc = encoder.Run([source, NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(keep, [B, S]))]);
        var memory = enc.First().AsTensor<float>().ToDenseTensor();
        var pasts = new DenseTensor<float>[2 * c.DecoderLayers];
        for (int i = 0; i < pasts.Length; i++) pasts[i] = new DenseTensor<float>(new[] { B, c.Heads, 0, c.DModel / c.Heads });
        var outputs = Enumerable.Range(0, B).Select(_ => new List<long>()).ToArray();
        var done = Enumerable.Range(0, B).Select(b => maxLengths[b] <= 0).ToArray();
        var next = Enumerable.Repeat((long)c.Bos, B).ToArray();
        for (int t = 0; t < Math.Min(maxLengths.Max(), c.MaxTarget) && done.Contains(false); t++)
        {
            var feeds = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(next, [B, 1])),
                NamedOnnxValue.CreateFromTensor("encoder_hidden_states", memory),
                NamedOnnxValue.CreateFromTensor("encoder_attention_mask", new DenseTensor<long>(keep, [B, S])),
            };
            var logits = Step(decoder, feeds, pasts, ".decoder");
            int V = logits.Dimensions[2];
            for (int b = 0; b < B; b++)
            {
                int best = 0;
                for (int v = 1; v < V; v++) if (logits[b, 0, v] > logits[b, 0, best]) best = v;
                next[b] = best;
                if (done[b]) continue;
                if (best == c.Eos) done[b] = true;
                else outputs[b].Add(best);
                if (outputs[b].Count >= maxLengths[b]) done[b] = true;
            }
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }

    /// <summary>One call of a KV-cache graph: the pasts (key, value per layer; names past_key_values.N{part}.key …)
    /// join the feeds, the presents replace them; returns the logits.</summary>
    private static DenseTensor<float> Step(InferenceSession s, List<NamedOnnxValue> feeds, DenseTensor<float>[] pasts, string part)
    {
        for (int i = 0; i < pasts.Length; i++)
            feeds.Add(NamedOnnxValue.CreateFromTensor($"past_key_values.{i / 2}{part}.{(i % 2 == 0 ? "key" : "value")}", pasts[i]));
        using var r = s.Run(feeds);
        for (int i = 0; i < pasts.Length; i++)
            pasts[i] = r.First(v => v.Name == $"present.{i / 2}{part}.{(i % 2 == 0 ? "key" : "value")}").AsTensor<float>().ToDenseTensor();
        return r.First(v => v.Name == "logits").AsTensor<float>().ToDenseTensor();
    }

    private static (long[] Ids, long[] Keep, int S) Padded(IReadOnlyList<long[]> sources)
    {
        int B = sources.Count, S = sources.Max(s => s.Length);
        var ids = new long[B * S]; var keep = new long[B * S];
        for (int b = 0; b < B; b++)
            for (int s = 0; s < sources[b].Length; s++) (ids[b * S + s], keep[b * S + s]) = (sources[b][s], 1);
        return (ids, keep, S);
    }

    [Theory]
    [InlineData(17)]
    [InlineData(23)]
    public void DatesExportDecodesAsTheQuickstartPredictor(int opset)
    {
        string dir = Path.Combine(root, "dates");
        DateTask.Save(dates.Model, DateConfig.Tiny, dir);
        var files = Export(dir, $"dates-{opset}", opset, kvCache: true);
        var sources = DateTask.HeldOut(6, 9).Select(p => p.Source).ToArray();
        var expected = DateTask.Predict(dates.Model, sources);
        var ids = sources.Select(s => DateConfig.Source.Encode(s)).ToArray();
        var (flat, keep, S) = Padded(ids);
        var c = DateConfig.Tiny.Model;
        var got = OrtGreedy(files, c, NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(flat, [ids.Length, S])), keep, ids.Length, S,
            Enumerable.Repeat(c.MaxTarget, ids.Length).ToArray()).Select(DateTask.Text).ToArray();
        output.WriteLine(string.Join("\n", sources.Zip(got, (s, g) => $"{s} → {g}")));
        Assert.Equal(expected, got);
        Assert.Contains(got, g => g.Length == 10);                                 // a trained model: real dates, not empty outputs
    }

    [Fact]
    public void LmExportGeneratesWhatAttendSampleGenerates()
    {
        var files = Export(lm.Dir, "lm", 23, kvCache: true);
        const string prompt = "In the beginning";
        var (model, tok) = LmSampling.Load(lm.Dir);
        var c = model.Config;
        int n = c.BlockSize - prompt.Length;                                      // up to the context (past it, sample re-encodes a cropped window)
        string expected = LmSampling.Run(new LmSampleOptions(lm.Dir, prompt, n, 0f, null, null, Seed: 1), TextWriter.Null);
        using var s = Session(files[0]);
        var seq = tok.Encode(prompt, out _).ToList();
        var input = seq.ToArray();
        var pasts = Enumerable.Range(0, 2 * c.NLayer).Select(_ => new DenseTensor<float>(new[] { 1, c.KvHeads, 0, c.HeadSize })).ToArray();
        for (int step = 0; step < n; step++)
        {
            var feeds = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(input, [1, input.Length])) };
            var logits = Step(s, feeds, pasts, "");
            int last = input.Length - 1, best = 0;
            for (int v = 1; v < c.VocabSize; v++) if (logits[0, last, v] > logits[0, last, best]) best = v;
            seq.Add(best);
            input = [best];
        }
        string got = tok.Decode(seq);
        output.WriteLine(got);
        Assert.Equal(expected, got);
    }

    [Fact]
    public void TranslateExportDecodesAsAttendTranslate()
    {
        var files = Export(translate.Dir, "translate", 17, kvCache: true);
        var (model, cfg) = TranslateTask.Load(translate.Dir);
        string[] sentences = ["red cat blue dog", "sun moon tree", "fish star rock bird green"];
        var expected = TranslateTask.Greedy(model, cfg, sentences);
        var ids = sentences.Select(x => cfg.Source.Encode(x)).ToArray();
        var (flat, keep, S) = Padded(ids);
        var got = OrtGreedy(files, cfg.Model, NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(flat, [ids.Length, S])), keep, ids.Length, S,
            ids.Select(x => TranslateConfig.MaxOutput(x.Length)).ToArray()).Select(o => cfg.Target.Decode(o)).ToArray();
        output.WriteLine(string.Join("\n", sentences.Zip(got, (x, g) => $"{x} → {g}")));
        Assert.Equal(expected, got);
    }

    [Fact]
    public void SpeechExportDecodesAsTheRecognizersDecoder()
    {
        var files = Export(speech.Dir, "speech", 17, kvCache: true);
        var rec = SpeechTask.Load(speech.Dir);
        var c = rec.Model.Config;
        int B = 2, S = 6, F = S * rec.Subsampling;
        var rng = new Random(2);
        var frames = Enumerable.Range(0, B * F * c.SourceFeatures).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var keep = Enumerable.Range(0, B * S).Select(i => i / S == 1 && i % S >= 4 ? 0L : 1L).ToArray();   // row 1 padded after 4 positions
        using var noGrad = Autograd.NoGrad();
        var pad = Tensor.FromArray(keep.Select(k => k == 0).ToArray(), [B, S]);
        var expected = SpeechTask.Greedy(rec.Model, rec.Model.Encode(Tensor.FromArray(frames, [B, F, c.SourceFeatures]), pad), pad);
        var got = OrtGreedy(files, c, NamedOnnxValue.CreateFromTensor("input_features", new DenseTensor<float>(frames, [B, F, c.SourceFeatures])), keep, B, S,
            Enumerable.Repeat(SpeechConfig.MaxTarget - 1, B).ToArray());
        output.WriteLine(string.Join("\n", got.Select(g => string.Join(" ", g))));
        Assert.Equal(expected, got);
    }

    [Fact]
    public void VitExportGivesTheModelsLogitsOnDigits()
    {
        string dir = Path.Combine(root, "vit");
        Assert.Equal(0, VitTraining.Run(new VitTrainOptions("digits", dir, "tiny", Steps: 20, Seed: 3, EvalEvery: 1000, SaveEvery: 1000), TextWriter.Null, CancellationToken.None).ExitCode);
        var file = Export(dir, "vit", 17, kvCache: false)[0];
        var (model, _) = VitTraining.Load(dir);
        var cfg = model.Config;
        var images = Enumerable.Range(0, 3 * cfg.Channels * cfg.ImageSize * cfg.ImageSize).Select(i => (float)((i * 37 % 101) / 101.0)).ToArray();
        using var noGrad = Autograd.NoGrad();
        var expected = model.Forward(Tensor.FromArray(images, [3, cfg.Channels, cfg.ImageSize, cfg.ImageSize])).ToArray();
        using var s = Session(file);
        using var r = s.Run([NamedOnnxValue.CreateFromTensor("pixel_values", new DenseTensor<float>(images, [3, cfg.Channels, cfg.ImageSize, cfg.ImageSize]))]);
        var got = r.First().AsEnumerable<float>().ToArray();
        double err = got.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"ViT logits: max |ORT − Attend| = {err:E2}");
        Assert.True(err <= 1e-5, $"max error {err:E2}");
        // the checkpoint's config travels in the file's metadata
        Assert.Contains("attend-vit", s.ModelMetadata.CustomMetadataMap["attend_config"]);
    }

    [Fact]
    public void MiniLmExportReadsBackAsAnEncoderWithTheSameEmbeddings()
    {
        string file = Export("minilm", "minilm", 23, kvCache: false)[0];
        Assert.True(File.Exists(Path.Combine(root, "vocab.txt")));
        var original = BertModels.Load("minilm", TextWriter.Null);
        var exported = BertModels.Load(file, TextWriter.Null);             // the export as --model PATH
        string[] texts = ["In the beginning God created the heaven and the earth.", "Love your enemies."];
        var a = original.Model.Encode(texts);
        var b = exported.Model.Encode(texts);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(a[i], b[i]);           // same weights and config: the same numbers
        Assert.Equal(original.Model.Config, exported.Model.Config);
    }

    [Fact]
    public void ErrorsNameWhatIsWrong()
    {
        var e = Assert.Throws<CliException>(() => ExportCommand.Run(root, Path.Combine(root, "x.onnx"), 17, false, TextWriter.Null, TextWriter.Null));
        Assert.Contains("holds no checkpoint", e.Message);
        var (exit, _, err) = CliProcess.Run("export", "--model", lm.Dir, "--out", Path.Combine(root, "x.onnx"), "--opset", "18");
        Assert.NotEqual(0, exit);
        Assert.Contains("18", err);
        Assert.Empty(Directory.GetFiles(root, "*.onnx*"));
        e = Assert.Throws<CliException>(() => ExportCommand.Run(lm.Dir, Path.Combine(root, "no", "such", "x.onnx"), 17, false, TextWriter.Null, TextWriter.Null));
        Assert.Contains("does not exist", e.Message);
    }
}
