using Attend.IO;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// Every `attend` command run as a process on a tiny preset, as CI and users run it: exit codes, what reaches stdout and
/// stderr, Ctrl-C (SIGINT) leaving a checkpoint that --resume continues, kill -9 never leaving a torn one, and bad input
/// reported in one clear line on stderr with a non-zero exit. Serial: these processes use both cores.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class CliProcessTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"attend-cli-{Guid.NewGuid():N}");

    public CliProcessTests() => Directory.CreateDirectory(root);
    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    private string P(string name) => Path.Combine(root, name);

    [Fact]
    public void Quickstart_tiny_prints_accuracy_a_table_and_writes_png_heatmaps()
    {
        var (exit, stdout, stderr) = CliProcess.Run("quickstart", "--preset", "tiny", "--out", P("qs"));
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"Exact match on 200 held-out dates: \d+\.\d%", stdout);
        Assert.Contains("held-out input", stdout);           // the results table
        Assert.Matches(@"step +150 .*ETA", stdout);         // the plain progress line (stdout is not a terminal)
        var pngs = Directory.GetFiles(P("qs"), "*.png");
        Assert.NotEmpty(pngs);
        Assert.All(pngs, f => Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(f)[..4]));
    }

    [Fact]
    public void Train_lm_then_sample_with_and_without_the_cache()
    {
        var (exit, stdout, stderr) = CliProcess.Run("train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "20", "--eval-every", "10", "--out", P("lm"));
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"val \d\.\d{3} nats/char", stdout);
        Assert.Contains("validation nats/char", stdout);    // the curve table
        Assert.True(File.Exists(Path.Combine(P("lm"), Checkpoint.ManifestFile)));

        var cached = CliProcess.Run("sample", "--model", P("lm"), "--prompt", "In the beginning", "--max-tokens", "40", "--temperature", "0");
        var uncached = CliProcess.Run("sample", "--model", P("lm"), "--prompt", "In the beginning", "--max-tokens", "40", "--temperature", "0", "--no-cache");
        Assert.True(cached.Exit == 0 && uncached.Exit == 0, cached.Err + uncached.Err);
        Assert.StartsWith("In the beginning", cached.Out);
        Assert.Equal(cached.Out, uncached.Out);             // greedy: the KV cache changes the speed, not the text
        Assert.True(cached.Out.TrimEnd('\n').Length >= "In the beginning".Length + 40);

        var longPrompt = CliProcess.Run("sample", "--model", P("lm"), "--prompt", new string('a', 200), "--max-tokens", "5");
        Assert.Equal(0, longPrompt.Exit);
        Assert.Contains("warning: the prompt has 200 characters, more than the model's context of 64", longPrompt.Err);
    }

    [Fact]
    public void Ctrl_c_saves_a_checkpoint_that_resume_continues()
    {
        using (var run = new CliProcess("train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "100000", "--save-every", "100000", "--out", P("int")))
        {
            run.WaitFor("step ", 120);                      // training has started
            run.Signal("INT");
            Assert.Equal(130, run.Wait());
            Assert.Contains("stopping: saving a checkpoint", run.Stderr);
            Assert.Matches(@"Interrupted at step \d+: checkpoint saved", run.Stdout);
        }
        int step;
        using (var ckpt = Checkpoint.Load(P("int"))) step = int.Parse(ckpt.Extra["step"]);
        Assert.InRange(step, 1, 99_999);
        var (exit, stdout, stderr) = CliProcess.Run("train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", $"{step + 3}", "--resume", "--out", P("int"));
        Assert.True(exit == 0, stderr);
        Assert.Contains($"steps {step}→{step + 3}", stdout);
    }

    [Fact]
    public void Kill_9_while_saving_every_step_never_leaves_a_torn_checkpoint()
    {
        using (var run = new CliProcess("train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "100000", "--save-every", "1", "--out", P("k9")))
        {
            var manifest = Path.Combine(P("k9"), Checkpoint.ManifestFile);
            var until = DateTime.UtcNow.AddSeconds(120);
            while (!File.Exists(manifest) && DateTime.UtcNow < until) Thread.Sleep(10);
            Thread.Sleep(700);                              // several more saves: the kill lands in or between one
            run.Signal("KILL");
            run.Wait();
        }
        using var ckpt = Checkpoint.Load(P("k9"));         // throws on a torn or half-written checkpoint
        Assert.True(int.Parse(ckpt.Extra["step"]) >= 1);
        Assert.NotNull(ckpt.OptimizerState);
        var (exit, _, stderr) = CliProcess.Run("train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", $"{int.Parse(ckpt.Extra["step"]) + 1}", "--resume", "--out", P("k9"));
        Assert.True(exit == 0, stderr);
    }

    [Fact]
    public void Train_translate_then_translate_greedy_beam_and_stdin()
    {
        var words = "red green blue cat dog bird sun moon".Split(' ');
        var rng = new Random(1);
        File.WriteAllLines(P("pairs.tsv"), Enumerable.Range(0, 300).Select(_ =>
        {
            var s = Enumerable.Range(0, rng.Next(2, 5)).Select(_ => words[rng.Next(words.Length)]).ToArray();
            return $"{string.Join(' ', s)}\t{string.Join(' ', s.Reverse()).ToUpperInvariant()}";
        }));
        var (exit, stdout, stderr) = CliProcess.Run("train", "translate", "--data", P("pairs.tsv"), "--preset", "tiny", "--steps", "40", "--eval-every", "20", "--out", P("tr"));
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"BLEU on the \d+ held-out pairs: \d+\.\d", stdout);
        Assert.Contains("dev BLEU", stdout);

        var greedy = CliProcess.Run("translate", "--model", P("tr"), "red cat", "blue sun moon");
        var beam = CliProcess.Run("translate", "--model", P("tr"), "--beam", "4", "red cat", "blue sun moon");
        Assert.True(greedy.Exit == 0 && beam.Exit == 0, greedy.Err + beam.Err);
        Assert.Equal(2, greedy.Out.Count(c => c == '\n'));   // one line per sentence (a barely trained model may give empty ones)
        Assert.Equal(2, beam.Out.Count(c => c == '\n'));

        using var piped = new CliProcess("translate", "--model", P("tr"));
        piped.Stdin.WriteLine("red cat");
        piped.Stdin.WriteLine("blue sun moon");
        piped.Stdin.Close();
        Assert.Equal(0, piped.Wait());
        Assert.Equal(greedy.Out, piped.Stdout);
    }

    [Fact]
    public void Bad_input_exits_non_zero_with_one_clear_message()
    {
        static void Fails(string expected, params string[] args)
        {
            var (exit, stdout, stderr) = CliProcess.Run(args);
            Assert.True(exit != 0, $"attend {string.Join(' ', args)} exited 0: {stdout}");
            Assert.Contains(expected, stderr + stdout);
            Assert.DoesNotContain("   at ", stderr);      // no stack trace
        }
        File.WriteAllText(P("empty.txt"), "");
        File.WriteAllLines(P("bad.tsv"), ["one\tuno", "two\tdos", "three without a tab"]);
        File.WriteAllLines(P("good.tsv"), Enumerable.Range(0, 50).Select(i => $"word {i}\tpalabra {i}"));
        Fails("/no/such/file.txt", "train", "lm", "--data", "/no/such/file.txt", "--out", P("x1"));
        Fails("empty", "train", "lm", "--data", P("empty.txt"), "--out", P("x2"));
        Fails("huge", "train", "lm", "--data", "kjv", "--preset", "huge", "--out", P("x3"));
        Fails("bad.tsv:3", "train", "translate", "--data", P("bad.tsv"), "--out", P("x4"));
        Fails("holds no checkpoint", "sample", "--model", P("nothing-here"));
        Fails("--preset", "quickstart", "--preset", "huge");
        Fails("Unrecognized command or argument 'frobnicate'", "frobnicate");
        Fails("is a folder, not a file", "train", "translate", "--data", root, "--out", P("x5"));
        Fails("is not writable", "quickstart", "--preset", "tiny", "--out", "/proc/attend-quickstart");
        Fails("is not writable", "train", "lm", "--data", "kjv", "--preset", "tiny", "--out", "/proc/attend-lm");
        Fails("is not writable", "train", "translate", "--data", P("good.tsv"), "--preset", "tiny", "--out", "/proc/attend-tr");

        // A checkpoint of another model: refused, and left exactly as it was.
        Assert.Equal(0, CliProcess.Run("train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "2", "--out", P("lm2")).Exit);
        var before = Directory.GetFiles(P("lm2")).ToDictionary(f => f, File.ReadAllBytes);
        Fails("lm2", "translate", "--model", P("lm2"), "hello");
        Fails("lm2", "train", "translate", "--data", P("good.tsv"), "--resume", "--out", P("lm2"));
        Assert.All(before, kv => Assert.Equal(kv.Value, File.ReadAllBytes(kv.Key)));
    }

    [Fact]
    public void A_nan_stops_the_run_naming_the_layer_or_is_skipped_and_no_nan_checkpoint_is_written()
    {
        // lr 1e30: the first step's update makes the weights ~1e27, the second step's forward overflows.
        string[] Args(string dir, string onNan) => ["train", "recall", "--context", "48", "--pairs", "2", "--queries", "2", "--start-length", "64",
            "--steps", "30", "--lr", "1e30", "--test-sequences", "2", "--save-every", "1", "--on-nan", onNan, "--out", P(dir)];
        var (exit, stdout, stderr) = CliProcess.Run(Args("stop", "stop"));
        Assert.Equal(2, exit);
        Assert.Contains("training diverged: the loss of step 2, NaN: first non-finite at op '", stderr);
        Assert.Contains("below parameter 'transformer.h.", stderr);
        Assert.Contains("the last checkpoint in", stderr);
        Assert.DoesNotContain("   at ", stderr);
        using (var saved = Attend.IO.Checkpoint.Load(P("stop")))
        {
            Assert.Equal("1", saved.Extra["step"]);
            Assert.All(saved.Weights.Values, w => Assert.DoesNotContain(w.ToArray(), v => !float.IsFinite(v)));
        }

        (exit, stdout, stderr) = CliProcess.Run(Args("skip", "skip"));
        Assert.Equal(2, exit);
        Assert.Contains("step      2  skipped (--on-nan skip): the loss of step 2, NaN", stdout);
        Assert.Contains("10 steps in a row were skipped for a NaN or ∞, the last (step 11)", stderr);
        using var kept = Attend.IO.Checkpoint.Load(P("skip"));
        Assert.All(kept.Weights.Values, w => Assert.DoesNotContain(w.ToArray(), v => !float.IsFinite(v)));
        Assert.Contains("Argument 'maybe' not recognized. Must be one of:", CliProcess.Run("train", "recall", "--on-nan", "maybe", "--out", P("x")).Err);
    }
}
