using Attend.Cli.Lm;
using Attend.IO;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>A tiny KJV model trained for 30 steps without interruption (about a second), shared by the LM tests.</summary>
public sealed class TinyLmRun : IDisposable
{
    public const int Steps = 30;
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"attend-lm-{Guid.NewGuid():N}");
    public string Dir => Path.Combine(Root, "full");
    public LmTrainResult Result { get; }

    public TinyLmRun() => Result = Run(Dir);

    /// <summary>The run on the KJV with the tiny preset, into <paramref name="dir"/>.</summary>
    public static LmTrainResult Run(string dir, bool resume = false, CancellationToken stop = default, Action<int>? afterStep = null) =>
        LmTraining.Run("kjv", new TrainArgs(dir, "tiny", Steps, Seed: 7, Resume: resume, EvalEvery: 10, SaveEvery: 1000), TextWriter.Null, stop, afterStep);

    public void Dispose() { try { Directory.Delete(Root, recursive: true); } catch (IOException) { } }
}

/// <summary>attend train lm / attend sample: corpus, tokenizer, training, exact resume, sampling, clear errors.
/// Serial: run beside other tests (which share the worker pool, so kernels may take their serial fallback) one loss
/// came out different in its last bits, and exact resume compares losses bit for bit.</summary>
[Collection(SerialCollection.Name)]
public class LmCliTests(TinyLmRun tiny) : IClassFixture<TinyLmRun>
{
    /// <summary>The one-line user error <paramref name="run"/> throws: the CLI's, or the training loop's.</summary>
    static Exception Fails(Action run)
    {
        var e = Record.Exception(run);
        Assert.True(e is CliException or TrainingException, $"expected a user error, got {e?.GetType().Name ?? "none"}: {e}");
        return e!;
    }

    [Fact]
    public void Corpus_splits_by_whole_books_from_Romans()
    {
        var c = Corpus.Split("t", "# Genesis\nIn the beginning.\n# Matthew\nThe book.\n# Romans\nPaul.\n# Jude\nJude.\n");
        Assert.Equal(["Genesis", "Matthew"], c.TrainBooks);
        Assert.Equal(["Romans", "Jude"], c.ValidationBooks);
        Assert.Equal("# Genesis\nIn the beginning.\n# Matthew\nThe book.\n", c.Train);
        Assert.Equal("# Romans\nPaul.\n# Jude\nJude.\n", c.Validation);

        var kjv = Corpus.Load("kjv");
        Assert.Equal(44, kjv.TrainBooks.Count);
        Assert.Equal(22, kjv.ValidationBooks.Count);
        Assert.Equal(("Genesis", "Acts", "Revelation"), (kjv.TrainBooks[0], kjv.TrainBooks[^1], kjv.ValidationBooks[^1]));
        Assert.StartsWith("# Romans\nPaul, a servant of Jesus Christ", kjv.Validation);
        Assert.EndsWith("Amen.\n", kjv.Validation);
    }

    [Fact]
    public void Corpus_without_books_holds_out_the_last_tenth_by_lines()
    {
        var text = string.Concat(Enumerable.Range(0, 100).Select(i => $"line {i}\n"));
        var c = Corpus.Split("t", text);
        Assert.Equal(text, c.Train + c.Validation);
        Assert.EndsWith("\n", c.Train);
        Assert.InRange(c.Validation.Length, text.Length / 20, text.Length / 5);
    }

    [Fact]
    public void Tokenizer_round_trips_and_maps_unknown_characters_to_the_fallback()
    {
        var tok = CharTokenizer.FromText("the lamb, the lion.");
        Assert.Equal(" ,.abehilmnot", tok.Chars);
        var ids = tok.Encode("the lion, the lamb.", out int unknown);
        Assert.Equal(0, unknown);
        Assert.Equal("the lion, the lamb.", tok.Decode(ids));
        var odd = tok.Encode("Zion!", out unknown);
        Assert.Equal(2, unknown);
        Assert.Equal(" ion ", tok.Decode(odd));
    }

    [Fact]
    public void Tiny_training_lowers_the_loss_below_the_start()
    {
        var train = tiny.Result.Train;
        Assert.Equal(0, tiny.Result.ExitCode);
        Assert.Equal(TinyLmRun.Steps, train.Count);
        Assert.True(train.TakeLast(5).Average(s => s.Loss) < train[0].Loss - 0.8, $"loss {train[0].Loss} → {train[^1].Loss}");
        var val = tiny.Result.Validation;
        Assert.Equal([10, 20, 30], val.Select(v => v.Step));
        Assert.True(val[^1].Loss < val[0].Loss, $"val {val[0].Loss} → {val[^1].Loss}");
    }

    [Fact]
    public void Interrupted_then_resumed_run_gives_the_same_losses()
    {
        string dir = Path.Combine(tiny.Root, "resumed");
        using var cts = new CancellationTokenSource();
        var first = TinyLmRun.Run(dir, stop: cts.Token, afterStep: done => { if (done == 13) cts.Cancel(); });
        Assert.Equal(130, first.ExitCode);
        Assert.Equal(13, first.Train.Count);
        Assert.Equal("13", Checkpoint.Load(dir).Extra["step"]);

        var second = TinyLmRun.Run(dir, resume: true);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal(tiny.Result.Train, first.Train.Concat(second.Train));
        Assert.Equal(tiny.Result.Validation, first.Validation.Concat(second.Validation));
    }

    [Fact]
    public void Sampling_a_saved_checkpoint_is_deterministic_with_a_seed()
    {
        var o = new LmSampleOptions(tiny.Dir, "And God said", 40, 1f, TopK: 20, TopP: 0.95f, Seed: 3);
        string a = LmSampling.Run(o, TextWriter.Null), b = LmSampling.Run(o, TextWriter.Null);
        Assert.Equal(a, b);
        Assert.StartsWith("And God said", a);
        Assert.Equal("And God said".Length + 40, a.Length);
        Assert.NotEqual(a, LmSampling.Run(o with { Seed = 4 }, TextWriter.Null));
        // greedy decoding gives the same text with and without the KV cache
        var greedy = o with { Temperature = 0, TopK = null, TopP = null };
        Assert.Equal(LmSampling.Run(greedy, TextWriter.Null), LmSampling.Run(greedy with { NoCache = true }, TextWriter.Null));
    }

    [Fact]
    public void Sampling_warns_about_a_long_prompt_and_unknown_characters()
    {
        var log = new StringWriter();
        string text = LmSampling.Run(new LmSampleOptions(tiny.Dir, new string('a', 100) + "€", 5, 1f, null, null, 0), log);
        Assert.Contains("not in the model's vocabulary", log.ToString());
        Assert.Contains("only its last 64 are used", log.ToString());
        Assert.Equal(64 + 5, text.Length);
    }

    [Fact]
    public void Bad_inputs_give_clear_errors()
    {
        string root = Path.Combine(tiny.Root, "bad");
        Directory.CreateDirectory(root);
        string empty = Path.Combine(root, "empty.txt");
        File.WriteAllText(empty, " \n");
        string o = Path.Combine(root, "out");
        (string Data, TrainArgs Args) Opt(string data, string dir, string preset = "tiny", bool resume = false) => (data, new(dir, preset, 5, Resume: resume));
        void Train((string Data, TrainArgs Args) o) => LmTraining.Run(o.Data, o.Args, TextWriter.Null, CancellationToken.None);

        Assert.Contains("does not exist", Fails(() => Train(Opt(Path.Combine(root, "missing.txt"), o))).Message);
        Assert.Contains("is empty", Fails(() => Train(Opt(empty, o))).Message);
        Assert.Contains("unknown preset 'huge'", Fails(() => Train(Opt("kjv", o, "huge"))).Message);
        Assert.Contains("not writable", Fails(() => Train(Opt("kjv", Path.Combine(empty, "sub", "out")))).Message);
        Assert.Contains("already holds a checkpoint", Fails(() => Train(Opt("kjv", tiny.Dir))).Message);
        Assert.Contains("not 'small'", Fails(() => Train(Opt("kjv", tiny.Dir, "small", resume: true))).Message);
        Assert.Contains("was trained with --batch 16, not 8", Fails(() => Train(("kjv", new(tiny.Dir, "tiny", 40, Resume: true, Batch: 8)))).Message);
        Assert.Contains("holds no checkpoint", Fails(() => LmSampling.Run(new LmSampleOptions(o, "", 1, 1, null, null, 0), TextWriter.Null)).Message);

        // a checkpoint of another model is refused, and left as it was
        string other = Path.Combine(root, "other");
        using (var w = Tensor.Zeros(2, 2)) Checkpoint.Save(other, new Dictionary<string, Tensor> { ["w"] = w }, null, """{"kind":"vit"}""");
        var before = File.ReadAllBytes(Path.Combine(other, Checkpoint.ManifestFile));
        Assert.Contains("kind 'vit'", Fails(() => Train(Opt("kjv", other, resume: true))).Message);
        Assert.Contains("kind 'vit'", Fails(() => LmSampling.Run(new LmSampleOptions(other, "", 1, 1, null, null, 0), TextWriter.Null)).Message);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(other, Checkpoint.ManifestFile)));
    }
}
