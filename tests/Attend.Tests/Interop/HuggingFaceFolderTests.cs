using System.Text.Json.Nodes;
using Attend.Interop;
using Attend.IO;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests.Interop;

/// <summary>
/// Hugging Face folders (config.json, model.safetensors, vocab.txt): the packaged encoders written with
/// <c>bert.SaveHuggingFace</c> load back (<c>Bert.FromHuggingFace</c>, <c>Bert.Load(dir)</c>) with the same
/// last_hidden_state on a padded batch; a BertForPreTraining-style file ("bert." names, "cls." heads, position_ids)
/// loads; a config.json that does not fit the tensors is refused with the tensor and both shapes named.
/// </summary>
public sealed class HuggingFaceFolderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("attend-hf-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
    }

    /// <summary>8 verses of 4 to ~110 tokens (the 4 shortest and the 4 longest of the test verses): a padded batch.</summary>
    private static string[] Batch()
    {
        var v = BertOnnxParityTests.TestVerses().OrderBy(s => s.Length).ToArray();
        return [.. v.Take(4), .. v.TakeLast(4)];
    }

    /// <summary>last_hidden_state (B, T, E) of <paramref name="texts"/> padded to the longest, and pooler_output when the model has a pooler.</summary>
    internal static (float[] Hidden, float[]? Pooled, int T) Run(Bert bert, string[] texts)
    {
        var batch = texts.Select(t => bert.Tokenizer!.Encode(t)).ToArray();
        var (ids, keep, types) = Bert.Pad(batch, bert.Tokenizer!.Specials.Pad!.Value);
        int B = batch.Length, T = batch.Max(x => x.Length);
        using var _ = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        var h = bert.Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(keep, [B, T]), Tensor.FromArray(types, [B, T]));
        return (h.ToArray(), bert.Config.Pooler ? bert.Pool(h).ToArray() : null, T);
    }

    private static double MaxAbs(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic")]
    public void SavedFolderLoadsBackWithTheSameOutputs(string model)
    {
        var original = Pretrained.Get(model).Bert;
        string dir = Path.Combine(root, model);
        original.SaveHuggingFace(dir);
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} not written");

        var texts = Batch();
        var (expected, expectedPool, T) = Run(original, texts);
        foreach (var (how, loaded) in new[] { ("FromHuggingFace", Bert.FromHuggingFace(dir)), ("Load", Bert.Load(dir)) })
        {
            Assert.Equal(original.Config, loaded.Config);
            Assert.Equal(original.Tokenizer!.Tokens, loaded.Tokenizer!.Tokens);
            Assert.True(loaded.Tokenizer.LowerCase);
            var mine = loaded.StateDict();
            foreach (var (name, t) in original.StateDict())
                Assert.True(t.ToArray().AsSpan().SequenceEqual(mine[name].ToArray()), $"{how}: {name} differs");
            var (actual, pool, _) = Run(loaded, texts);
            double err = MaxAbs(expected, actual);
            output.WriteLine($"{model} via {how}: {texts.Length}×{T} padded batch, max |last_hidden_state − original| = {err:E2}" +
                (pool is null ? " (no pooler)" : $", pooler_output {MaxAbs(expectedPool!, pool):E2}"));
            Assert.True(err <= 1e-6, $"{how}: max abs error {err:E3}");
            Assert.Equal(expectedPool is null, pool is null);
            if (pool is not null) Assert.True(MaxAbs(expectedPool!, pool) <= 1e-6);
        }
    }

    /// <summary>sentence-transformers' 1_Pooling/config.json carries the pooling mode: written by SaveHuggingFace,
    /// read back by FromHuggingFace; a folder without it pools by the mean.</summary>
    [Fact]
    public void PoolingModeTravelsWithTheFolder()
    {
        var arctic = Bert.FromOnnx(new MemoryStream(Pretrained.Get("arctic").Onnx), Attend.Data.WordPieceTokenizer.FromLines(Pretrained.Get("arctic").Vocab));
        arctic.Pooling = SentencePooling.Cls;
        string dir = Path.Combine(root, "pooling");
        arctic.SaveHuggingFace(dir);
        Assert.Contains("\"pooling_mode_cls_token\":true", File.ReadAllText(Path.Combine(dir, "1_Pooling", "config.json")));
        var back = Bert.FromHuggingFace(dir);
        Assert.Equal(SentencePooling.Cls, back.Pooling);
        string[] texts = ["In the beginning God created the heaven and the earth.", "Jesus wept."];
        var a = arctic.Encode(texts); var b = back.Encode(texts);
        Assert.Equal(0.0, MaxAbs(a[0], b[0]));
        Assert.Equal(0.0, MaxAbs(a[1], b[1]));
        Directory.Delete(Path.Combine(dir, "1_Pooling"), recursive: true);
        Assert.Equal(SentencePooling.Mean, Bert.FromHuggingFace(dir).Pooling);
    }

    [Fact]
    public void BertPrefixedNamesWithPretrainingHeadsLoad()
    {
        var original = Pretrained.Get("minilm").Bert;
        string dir = Path.Combine(root, "pretraining");
        original.SaveHuggingFace(dir);
        // As BertForPreTraining saves it: the encoder under "bert.", position_ids, and the heads under "cls.".
        var state = original.StateDict().ToDictionary(kv => "bert." + kv.Key, kv => kv.Value);
        state["bert.embeddings.position_ids"] = Tensor.FromArray(Enumerable.Range(0, 512).Select(i => (long)i).ToArray(), [1, 512]);
        state["cls.predictions.bias"] = Tensor.FromArray(new float[30522], [30522]);
        state["cls.predictions.transform.dense.weight"] = Tensor.FromArray(new float[384 * 384], [384, 384]);
        state["cls.predictions.transform.LayerNorm.weight"] = Tensor.FromArray(new float[384], [384]);
        state["cls.seq_relationship.weight"] = Tensor.FromArray(new float[2 * 384], [2, 384]);
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), state);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config["architectures"] = new JsonArray("BertForPreTraining");
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());

        var loaded = Bert.Load(dir);
        Assert.Equal(original.Config, loaded.Config);
        var texts = Batch();
        double err = MaxAbs(Run(original, texts).Hidden, Run(loaded, texts).Hidden);
        output.WriteLine($"bert.-prefixed folder with cls.* heads and position_ids: max |Δ last_hidden_state| = {err:E2}");
        Assert.True(err <= 1e-6);
    }

    [Theory]
    [InlineData("hidden_size", 768, "embeddings.word_embeddings.weight", "[30522, 384]", "[30522, 768]")]
    [InlineData("intermediate_size", 3072, "encoder.layer.0.intermediate.dense.weight", "[1536, 384]", "[3072, 384]")]
    [InlineData("max_position_embeddings", 1024, "embeddings.position_embeddings.weight", "[512, 384]", "[1024, 384]")]
    public void ConfigThatDoesNotFitTheTensorsNamesTensorAndShapes(string key, int value, string tensor, string inFile, string inConfig)
    {
        string dir = Path.Combine(root, key);
        Pretrained.Get("minilm").Bert.SaveHuggingFace(dir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config[key] = value;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());

        var ex = Assert.Throws<InvalidDataException>(() => Bert.FromHuggingFace(dir));
        output.WriteLine($"{key} = {value}: {ex.Message}");
        Assert.Contains(dir, ex.Message);
        Assert.Contains($"size mismatch for {tensor}: checkpoint has {inFile}, this model has {inConfig}", ex.Message);
        Assert.Throws<InvalidDataException>(() => Bert.Load(dir));
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        string dir = Path.Combine(root, "missing");
        var original = Pretrained.Get("minilm").Bert;
        original.SaveHuggingFace(dir);
        var state = original.StateDict().Where(kv => kv.Key != "encoder.layer.5.output.LayerNorm.bias").ToDictionary();
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), state);
        var ex = Assert.Throws<InvalidDataException>(() => Bert.Load(dir));
        output.WriteLine(ex.Message);
        Assert.Contains("missing key: encoder.layer.5.output.LayerNorm.bias [384]", ex.Message);
    }
}
