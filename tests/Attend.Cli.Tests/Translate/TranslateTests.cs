using Attend.Cli.Translate;
using Attend.Nn;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>A tiny translation model trained on a synthetic TSV (target = the source's words reversed and upper-cased),
/// shared by the translation tests.</summary>
public sealed class TinyTranslateRun : IDisposable
{
    public const int Steps = 120;
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"attend-tr-{Guid.NewGuid():N}");
    public string Data => Path.Combine(Root, "pairs.tsv");
    public string Dir => Path.Combine(Root, "full");
    public TranslateTrainResult Result { get; }

    public TinyTranslateRun()
    {
        Directory.CreateDirectory(Root);
        var words = "red green blue cat dog bird sun moon tree rock fish star".Split(' ');
        var rng = new Random(3);
        var lines = Enumerable.Range(0, 400).Select(_ =>
        {
            var s = Enumerable.Range(0, rng.Next(3, 7)).Select(_ => words[rng.Next(words.Length)]).ToArray();
            return $"{string.Join(' ', s)}\t{string.Join(' ', s.Reverse()).ToUpperInvariant()}";
        });
        File.WriteAllLines(Data, lines);
        Result = Run(Dir, Steps);
    }

    /// <summary>The tiny run on the synthetic pairs, into <paramref name="dir"/>.</summary>
    public TranslateTrainResult Run(string dir, int steps, bool resume = false, CancellationToken stop = default, Action<int>? afterStep = null) =>
        TranslateTraining.Run(Data, new TrainArgs(dir, "tiny", steps, Seed: 5, Resume: resume, EvalEvery: 60, SaveEvery: 1000), TextWriter.Null, stop, afterStep: afterStep);

    public void Dispose() { try { Directory.Delete(Root, recursive: true); } catch (IOException) { } }
}

/// <summary>attend train translate / attend translate: BLEU as sacreBLEU, TSV errors, training, beam search, checkpoints.
/// Serial, as the LM tests: exact resume compares losses bit for bit.</summary>
[Collection(SerialCollection.Name)]
public class TranslateTests(TinyTranslateRun tiny) : IClassFixture<TinyTranslateRun>
{
    [Fact]
    public void Tsv_errors_name_the_line()
    {
        var e = Assert.Throws<CliException>(() => Pairs.Parse(["a\tb", "", "no tab here"], "p.tsv"));
        Assert.Contains("p.tsv:3", e.Message);
        Assert.Contains("no tab", e.Message);
        e = Assert.Throws<CliException>(() => Pairs.Parse(["a\tb", "\tb"], "p.tsv"));
        Assert.Contains("p.tsv:2: the source side is empty", e.Message);
        e = Assert.Throws<CliException>(() => Pairs.Parse(["", "  "], "p.tsv"));
        Assert.Contains("no sentence pairs", e.Message);
        e = Assert.Throws<CliException>(() => Pairs.Load(Path.Combine(tiny.Root, "eng-spa.tsv")));
        Assert.Contains("data/translate/make_eng_spa.sh", e.Message);
    }

    [Fact]
    public void Held_out_split_is_fixed_and_disjoint()
    {
        var pairs = Enumerable.Range(0, 50).Select(i => new Pair($"s{i}", $"t{i}")).ToList();
        var (train, test) = Pairs.Split(pairs);
        Assert.Equal(5, test.Count);
        Assert.Equal(45, train.Count);
        Assert.Empty(train.Intersect(test));
        Assert.Equal(test, Pairs.Split(pairs).Test);
    }

    [Fact]
    public void Tiny_preset_loss_falls()
    {
        var l = tiny.Result.Train.Select(p => p.Loss).ToArray();
        Assert.Equal(TinyTranslateRun.Steps, l.Length);
        Assert.True(l.Skip(l.Length - 10).Average() < 0.6 * l.Take(10).Average(), $"loss {l.Take(10).Average()} → {l.Skip(l.Length - 10).Average()}");
        Assert.Equal(2, tiny.Result.Dev.Count);
        Assert.NotNull(tiny.Result.TestBleu);
    }

    [Fact]
    public void Beam_width_1_equals_greedy_and_the_checkpoint_translates()
    {
        var (model, cfg) = TranslateTask.Load(tiny.Dir);
        string[] sources = ["red cat sun", "blue dog moon tree", "fish star rock red green"];
        var greedy = TranslateTask.Greedy(model, cfg, sources);
        Assert.Equal(greedy, sources.Select(s => TranslateTask.Greedy(model, cfg, [s])[0]));         // batched = one at a time
        for (int i = 0; i < sources.Length; i++)
        {
            Assert.Equal(greedy[i], TranslateTask.Beam(model, cfg, sources[i], width: 1, lengthPenalty: 0.6));
            Assert.False(string.IsNullOrEmpty(TranslateTask.Beam(model, cfg, sources[i], width: 4, lengthPenalty: 0.6)));
        }
    }

    [Fact]
    public void Cached_beam_search_equals_re_decoding_the_whole_prefix_every_step()
    {
        var (model, cfg) = TranslateTask.Load(tiny.Dir);
        foreach (var source in new[] { "red cat sun", "blue dog moon tree", "fish star rock red green", "sun" })
            foreach (int width in new[] { 2, 3, 5 })
                foreach (double alpha in new[] { 0.0, 0.6, 1.0 })
                    Assert.Equal(UncachedBeam(model, cfg, source, width, alpha), TranslateTask.Beam(model, cfg, source, width, alpha));
    }

    /// <summary>The reference: the same search, but each step runs the decoder over every hypothesis's whole prefix.</summary>
    static string UncachedBeam(Seq2Seq model, TranslateConfig cfg, string source, int width, double alpha)
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        var srcIds = cfg.Source.Encode(source);
        var (src, pad) = TranslateTask.SourceIds(Enumerable.Repeat(srcIds, width).ToArray());
        var memory = model.Encode(src, pad);
        var live = new List<(List<long> Tokens, double LogP)> { ([WordTokenizer.Bos], 0) };
        var finished = new List<(List<long> Tokens, double Score)>();
        double Norm(int len, double logP) => logP / Math.Pow((5.0 + len) / 6.0, alpha);
        for (int t = 0; t < TranslateConfig.MaxOutput(srcIds.Length) && live.Count > 0; t++)
        {
            int T = t + 1, n = live.Count;
            var ids = new long[width * T];
            for (int b = 0; b < width; b++)
                for (int i = 0; i < T; i++) ids[b * T + i] = live[Math.Min(b, n - 1)].Tokens[i];
            var logits = model.Decode(memory, pad, Tensor.FromArray(ids, new[] { width, T }));
            var logp = Functional.LogSoftmax(logits.Select(1, T - 1), -1).ToArray();
            int V = logp.Length / width;
            var candidates = new List<(int From, long Token, double LogP)>();
            for (int b = 0; b < n; b++)
                foreach (int v in Enumerable.Range(0, V).OrderByDescending(i => logp[b * V + i]).ThenBy(i => i).Take(2 * width))
                    candidates.Add((b, v, live[b].LogP + logp[b * V + v]));
            var next = new List<(List<long>, double)>();
            foreach (var c in candidates.OrderByDescending(c => c.LogP))
            {
                if (c.Token == WordTokenizer.Eos) finished.Add((live[c.From].Tokens, Norm(live[c.From].Tokens.Count - 1, c.LogP)));
                else if (next.Count < width) next.Add(([.. live[c.From].Tokens, c.Token], c.LogP));
                if (next.Count == width) break;
            }
            live = next;
            if (finished.Count >= width) break;
        }
        if (finished.Count == 0) foreach (var h in live) finished.Add((h.Tokens, Norm(h.Tokens.Count - 1, h.LogP)));
        return cfg.Target.Decode(finished.OrderByDescending(f => f.Score).First().Tokens.Skip(1));
    }

    [Fact]
    public void Resume_continues_exactly()
    {
        string dir = Path.Combine(tiny.Root, "resumed");
        using var cts = new CancellationTokenSource();
        var stopped = tiny.Run(dir, TinyTranslateRun.Steps, stop: cts.Token, afterStep: done => { if (done == 50) cts.Cancel(); });
        Assert.Equal(130, stopped.ExitCode);
        var rest = tiny.Run(dir, TinyTranslateRun.Steps, resume: true);
        Assert.Equal(tiny.Result.Train.Skip(50).ToArray(), rest.Train.ToArray());
        var again = Assert.Throws<TrainingException>(() => tiny.Run(dir, 10));
        Assert.Equal(TrainingProblem.HoldsCheckpoint, again.Problem);
        Assert.Contains("--resume", CliChecks.Message(again));
    }
}
