using System.Text.Json;
using Attend.IO;
using Xunit;

namespace Attend.Tests;

/// <summary>Attend.IO.Checkpoint: round trips, atomic replacement, failures that leave the old checkpoint intact, and
/// load errors that name what is wrong without changing anything.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("attend-ckpt-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Ckpt => Path.Combine(root, "ckpt");

    private const string Config = """{"model": "gpt", "n_layer": 2, "d_model": 16, "dropout": 0.1, "vocab": ["a", "b"]}""";

    private static Dictionary<string, Tensor> Weights(float scale) => new()
    {
        ["tok_emb.weight"] = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => i * scale).ToArray(), [3, 4]),
        ["blocks.0.attn.in_proj_bias"] = Tensor.FromArray([scale, -scale], [2]),
        ["position_ids"] = Tensor.FromArray([0L, 1L, 2L], [3]),
    };

    private static Dictionary<string, Tensor> OptimizerState() => new()
    {
        ["state.0.exp_avg"] = Tensor.FromArray([0.1f, 0.2f], [2]),
        ["state.0.step"] = Tensor.Scalar(7f),
    };

    /// <summary>Every file under the root with its bytes: to show a failed operation changed nothing.</summary>
    private Dictionary<string, byte[]> Snapshot() =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);

    private void AssertUnchanged(Dictionary<string, byte[]> before)
    {
        var after = Snapshot();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (path, bytes) in before) Assert.Equal(bytes, after[path]);
        Assert.Equal([Ckpt], Directory.GetDirectories(root));   // no .tmp-/.old- sibling left behind
    }

    [Fact]
    public void RoundTrip_AllPieces()
    {
        var weights = Weights(0.5f);
        var optimizer = OptimizerState();
        var extra = new Dictionary<string, string> { ["step"] = "1200", ["lr_schedule"] = "cosine", ["seed"] = "42" };
        Checkpoint.Save(Ckpt, weights, optimizer, Config, extra);

        Assert.Equal(["checkpoint.json", "model.safetensors", "optimizer.safetensors"],
                     Directory.GetFiles(Ckpt).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var loaded = Checkpoint.Load(Ckpt);
        Assert.Equal(Config, loaded.ConfigJson);
        Assert.Equal(extra.OrderBy(kv => kv.Key), loaded.Extra.OrderBy(kv => kv.Key));
        Assert.Equal(Checkpoint.FormatVersion, loaded.FormatVersion);
        Assert.Equal(Checkpoint.LibraryVersion, loaded.LibraryVersion);
        Assert.Equal(weights.Keys.Order(), loaded.Weights.Keys.Order());
        Assert.Equal(weights["tok_emb.weight"].ToArray(), loaded.Weights["tok_emb.weight"].ToArray());
        Assert.Equal([3, 4], loaded.Weights["tok_emb.weight"].Shape);
        Assert.Equal([0L, 1L, 2L], loaded.Weights["position_ids"].ToInt64Array());
        Assert.NotNull(loaded.OptimizerState);
        Assert.Equal([0.1f, 0.2f], loaded.OptimizerState["state.0.exp_avg"].ToArray());
        Assert.Equal(7f, loaded.OptimizerState["state.0.step"].Item());

        // The pieces are plain files: the weights are an ordinary safetensors file, the manifest ordinary JSON.
        var direct = SafeTensors.Load(Path.Combine(Ckpt, "model.safetensors"));
        Assert.Equal([0.5f, -0.5f], direct["blocks.0.attn.in_proj_bias"].ToArray());
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Ckpt, "checkpoint.json")));
        Assert.Equal("attend-checkpoint", manifest.RootElement.GetProperty("format").GetString());
        Assert.Equal(1, manifest.RootElement.GetProperty("format_version").GetInt32());
        Assert.Equal("gpt", manifest.RootElement.GetProperty("config").GetProperty("model").GetString());
        foreach (var t in direct.Values) t.Dispose();
        foreach (var t in weights.Values.Concat(optimizer.Values)) t.Dispose();
    }

    [Fact]
    public void WithoutOptimizerState_HasNoOptimizerFile_AndTrailingSeparatorIsFine()
    {
        var weights = Weights(1f);
        Checkpoint.Save(Ckpt + Path.DirectorySeparatorChar, weights, null, "  {}  ", null);
        Assert.False(File.Exists(Path.Combine(Ckpt, "optimizer.safetensors")));
        using var loaded = Checkpoint.Load(Ckpt + Path.DirectorySeparatorChar);
        Assert.Null(loaded.OptimizerState);
        Assert.Empty(loaded.Extra);
        Assert.Equal("{}", loaded.ConfigJson);
        Assert.Equal(3, loaded.Weights.Count);
    }

    [Fact]
    public void Save_ReplacesAnEarlierCheckpoint_LeavingNoSiblings()
    {
        Checkpoint.Save(Ckpt, Weights(1f), OptimizerState(), Config, new Dictionary<string, string> { ["step"] = "1" });
        Checkpoint.Save(Ckpt, Weights(2f), null, """{"model": "other"}""", new Dictionary<string, string> { ["step"] = "2" });
        using var loaded = Checkpoint.Load(Ckpt);
        Assert.Equal("2", loaded.Extra["step"]);
        Assert.Equal("""{"model": "other"}""", loaded.ConfigJson);
        Assert.Equal([2f, -2f], loaded.Weights["blocks.0.attn.in_proj_bias"].ToArray());
        Assert.Null(loaded.OptimizerState);
        Assert.False(File.Exists(Path.Combine(Ckpt, "optimizer.safetensors")));   // the old one went with the old directory
        Assert.Equal([Ckpt], Directory.GetDirectories(root));
    }

    [Fact]
    public void FailureWhileWriting_LeavesTheEarlierCheckpointIntact()
    {
        Checkpoint.Save(Ckpt, Weights(1f), OptimizerState(), Config, new Dictionary<string, string> { ["step"] = "1" });
        var before = Snapshot();

        // 1) a tensor fails after the weights file is already written (into the temporary directory)
        var broken = OptimizerState();
        broken["state.0.exp_avg"].Dispose();
        Assert.Throws<ObjectDisposedException>(() => Checkpoint.Save(Ckpt, Weights(2f), broken, Config, null));
        AssertUnchanged(before);

        // 2) everything is written, then the process "dies" before the swap
        Assert.Throws<IOException>(() => Checkpoint.SaveCore(Ckpt, Weights(2f), OptimizerState(), Config, null,
            beforeSwap: temp =>
            {
                Assert.True(File.Exists(Path.Combine(temp, "checkpoint.json")));
                throw new IOException("simulated crash before the swap");
            }));
        AssertUnchanged(before);

        using var loaded = Checkpoint.Load(Ckpt);
        Assert.Equal("1", loaded.Extra["step"]);
    }

    [Fact]
    public void FailureOnAFreshDirectory_LeavesNothing()
    {
        var gone = Tensor.Zeros(2);
        gone.Dispose();
        Assert.Throws<ObjectDisposedException>(() =>
            Checkpoint.Save(Ckpt, new Dictionary<string, Tensor> { ["w"] = gone }, null, Config, null));
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public void Save_RefusesToReplaceADirectoryHoldingOtherFiles()
    {
        Directory.CreateDirectory(Ckpt);
        File.WriteAllText(Path.Combine(Ckpt, "notes.txt"), "mine");
        var before = Snapshot();
        var e = Assert.Throws<IOException>(() => Checkpoint.Save(Ckpt, Weights(1f), null, Config, null));
        Assert.Contains("'notes.txt', which is not a checkpoint file", e.Message);
        Assert.Contains(Ckpt, e.Message);
        AssertUnchanged(before);

        File.WriteAllText(Path.Combine(root, "file"), "x");
        var f = Assert.Throws<IOException>(() => Checkpoint.Save(Path.Combine(root, "file"), Weights(1f), null, Config, null));
        Assert.Contains("is a file", f.Message);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1, 2]", "is a JSON Array, not an object")]
    public void Save_RejectsAConfigThatIsNotAJsonObject(string config, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(Ckpt, Weights(1f), null, config, null));
        Assert.Contains(expected, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    // ---- load errors: clear, and they change nothing ------------------------------------------------------------

    [Fact]
    public void Load_MissingDirectory_NamesIt_AndAnInterruptedSavesLeftover()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.Load(Ckpt));
        Assert.Contains($"'{Ckpt}' does not exist", e.Message);

        Checkpoint.Save(Ckpt, Weights(1f), null, Config, null);
        string leftover = Ckpt + ".old-0123456789abcdef";
        Directory.Move(Ckpt, leftover);   // what a crash between the two renames leaves
        e = Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.Load(Ckpt));
        Assert.Contains($"an interrupted save left the previous checkpoint in '{leftover}'", e.Message);
        Assert.True(Directory.Exists(leftover));
    }

    [Fact]
    public void Recover_puts_back_the_checkpoint_a_save_killed_between_its_renames_left_and_saves_clear_leftovers()
    {
        Assert.Null(Checkpoint.Recover(Ckpt));                                        // nothing to recover
        Checkpoint.Save(Ckpt, Weights(1f), OptimizerState(), Config, new Dictionary<string, string> { ["step"] = "1" });
        Assert.Null(Checkpoint.Recover(Ckpt));                                        // DIR exists: left alone
        string old = Ckpt + ".old-0123456789abcdef", tmp = Ckpt + ".tmp-fedcba9876543210";
        Directory.Move(Ckpt, old);                                                    // killed between the two renames:
        Directory.CreateDirectory(tmp);                                               // the old one aside, the new one half-written
        File.WriteAllBytes(Path.Combine(tmp, "model.safetensors"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(tmp, ".optimizer.safetensors.tmp-0123"), [4, 5]);
        Assert.Equal(old, Checkpoint.Recover(Ckpt));
        using (var back = Checkpoint.Load(Ckpt)) Assert.Equal("1", back.Extra["step"]);
        Assert.Equal([Ckpt], Directory.GetDirectories(root));                         // the half-written one is gone too

        string foreign = Ckpt + ".tmp-0000000000000000";                               // a sibling holding something else stays
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "notes.txt"), "mine");
        Directory.CreateDirectory(tmp);
        File.WriteAllBytes(Path.Combine(tmp, "optimizer.safetensors"), [1]);
        Checkpoint.Save(Ckpt, Weights(2f), OptimizerState(), Config, new Dictionary<string, string> { ["step"] = "2" });
        Assert.Equal(new[] { Ckpt, foreign }.Order(), Directory.GetDirectories(root).Order());
    }

    private void Corrupt(Action<string> damage, Type expectedType, params string[] expectedInMessage)
    {
        Checkpoint.Save(Ckpt, Weights(1f), OptimizerState(), Config, null);
        damage(Ckpt);
        var before = Snapshot();
        var e = Assert.Throws(expectedType, () => Checkpoint.Load(Ckpt));
        foreach (var s in expectedInMessage)
            Assert.True(e.Message.Contains(s, StringComparison.Ordinal), $"expected '{s}' in: {e.Message}");
        AssertUnchanged(before);
    }

    private static void EditManifest(string dir, Func<string, string> edit)
    {
        string path = Path.Combine(dir, "checkpoint.json");
        File.WriteAllText(path, edit(File.ReadAllText(path)));
    }

    [Fact]
    public void Load_MissingManifest() => Corrupt(d => File.Delete(Path.Combine(d, "checkpoint.json")),
        typeof(FileNotFoundException), "has no checkpoint.json");

    [Fact]
    public void Load_MissingWeights() => Corrupt(d => File.Delete(Path.Combine(d, "model.safetensors")),
        typeof(FileNotFoundException), "lists weights file model.safetensors in its checkpoint.json, but the file is missing");

    [Fact]
    public void Load_MissingOptimizerFile() => Corrupt(d => File.Delete(Path.Combine(d, "optimizer.safetensors")),
        typeof(FileNotFoundException), "lists optimizer file optimizer.safetensors");

    [Fact]
    public void Load_OtherFormatVersion() => Corrupt(d => EditManifest(d, s => s.Replace("\"format_version\": 1", "\"format_version\": 2")),
        typeof(InvalidDataException), "checkpoint.json", "format_version is 2", "reads version 1");

    [Fact]
    public void Load_OtherFormat() => Corrupt(d => EditManifest(d, s => s.Replace("attend-checkpoint", "something-else")),
        typeof(InvalidDataException), "format is 'something-else', not 'attend-checkpoint'");

    [Fact]
    public void Load_MalformedManifest() => Corrupt(d => EditManifest(d, s => s[..^5]),
        typeof(InvalidDataException), "checkpoint.json is not valid JSON");

    [Fact]
    public void Load_FileNameEscapingTheDirectory() => Corrupt(d => EditManifest(d, s => s.Replace("\"model.safetensors\"", "\"../model.safetensors\"")),
        typeof(InvalidDataException), "'../model.safetensors', which is not a plain file name");

    [Fact]
    public void Load_TruncatedWeights() => Corrupt(d =>
        {
            string path = Path.Combine(d, "model.safetensors");
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^4]);
        },
        typeof(InvalidDataException), "model.safetensors is", "but checkpoint.json records", "truncated");

    [Fact]
    public void Load_CorruptWeightsOfTheRightSize() => Corrupt(d =>
        {
            string path = Path.Combine(d, "model.safetensors");
            var bytes = File.ReadAllBytes(path);
            bytes[8] = (byte)'[';   // the header's first byte
            File.WriteAllBytes(path, bytes);
        },
        typeof(InvalidDataException), "model.safetensors: malformed safetensors file", "not valid JSON");
}
