using Attend.Cli.Translate;
using Xunit;

namespace Attend.Tests;

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
        Result = TranslateTraining.Run(Options(Dir, Steps), TextWriter.Null, CancellationToken.None);
    }

    public TranslateTrainOptions Options(string dir, int steps, bool resume = false) =>
        new(Data, dir, "tiny", steps, Minutes: null, Seed: 5, resume, EvalEvery: 60, SaveEvery: 1000);

    public void Dispose() { try { Directory.Delete(Root, recursive: true); } catch (IOException) { } }
}

/// <summary>attend train translate / attend translate: BLEU as sacreBLEU, TSV errors, training, beam search, checkpoints.
/// Serial, as the LM tests: exact resume compares losses bit for bit.</summary>
[Collection(SerialCollection.Name)]
public class TranslateTests(TinyTranslateRun tiny) : IClassFixture<TinyTranslateRun>
{
    [Fact]
    public void Tokenize13a_splits_punctuation_but_not_numbers_or_apostrophes()
    {
        Assert.Equal(["Hello", ",", "world", "!", "It's", "3.5", "-", "4", "km", "."], Bleu.Tokenize13a("Hello, world! It's 3.5-4 km."));
        Assert.Equal(["\"", "a", "\"", "&", "b"], Bleu.Tokenize13a("&quot;a&quot; &amp; b"));
    }

    [Fact]
    public void Bleu_of_identical_text_is_100()
    {
        string[] refs = ["Y el dios dijo, Dejado allí ser ligero", "Y la tierra era sin forma."];
        Assert.Equal(100, Bleu.Corpus(refs, refs), 9);
    }

    [Fact]
    public void Bleu_matches_a_hand_computed_example()
    {
        // hyp "the cat sat on the mat", ref "the cat is on the mat" (6 tokens each, BP = 1):
        // p1 = 5/6 (the×2, cat, on, mat), p2 = 3/5 (the cat, on the, the mat), p3 = 1/4 (on the mat),
        // p4 = 0/3 → 'exp' smoothing 1/(2·3). BLEU = 100 · (5/6 · 3/5 · 1/4 · 1/6)^¼ = 100 · (1/48)^¼ = 37.9918…
        double bleu = Bleu.Corpus(["the cat sat on the mat"], ["the cat is on the mat"]);
        Assert.Equal(100 * Math.Pow(1.0 / 48, 0.25), bleu, 9);
        Assert.Equal(37.9918, bleu, 3);
    }

    [Fact]
    public void Bleu_applies_the_brevity_penalty_over_the_corpus()
    {
        // every n-gram matches (p_n = 1) but c = 4 + 4 = 8 tokens against r = 8 + 8 = 16: BP = exp(1 − 16/8) = e⁻¹
        Assert.Equal(100 * Math.Exp(-1), Bleu.Corpus(["a b c d", "e f g h"], ["a b c d x y z w", "e f g h p q r s"]), 9);
        // a hypothesis longer than its reference gets no penalty (BP = 1): "a b c d e" vs "a b c d" has p = 4/5, 3/4, 2/3, 1/2
        Assert.Equal(100 * Math.Pow(4.0 / 5 * 3 / 4 * 2 / 3 * 1 / 2, 0.25), Bleu.Corpus(["a b c d e"], ["a b c d"]), 9);
    }

    [Fact]
    public void Tsv_errors_name_the_line()
    {
        var e = Assert.Throws<TranslateException>(() => Pairs.Parse(["a\tb", "", "no tab here"], "p.tsv"));
        Assert.Contains("p.tsv:3", e.Message);
        Assert.Contains("no tab", e.Message);
        e = Assert.Throws<TranslateException>(() => Pairs.Parse(["a\tb", "\tb"], "p.tsv"));
        Assert.Contains("p.tsv:2: the source side is empty", e.Message);
        e = Assert.Throws<TranslateException>(() => Pairs.Parse(["", "  "], "p.tsv"));
        Assert.Contains("no sentence pairs", e.Message);
        e = Assert.Throws<TranslateException>(() => Pairs.Load(Path.Combine(tiny.Root, "eng-spa.tsv")));
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
        var model = TranslateTraining.Load(tiny.Dir);
        string[] sources = ["red cat sun", "blue dog moon tree", "fish star rock red green"];
        var greedy = model.Greedy(sources);
        Assert.Equal(greedy, TranslateTraining.Predict(model, sources));
        for (int i = 0; i < sources.Length; i++)
        {
            Assert.Equal(greedy[i], BeamSearch.Translate(model, sources[i], width: 1, lengthPenalty: 0.6));
            Assert.False(string.IsNullOrEmpty(BeamSearch.Translate(model, sources[i], width: 4, lengthPenalty: 0.6)));
        }
    }

    [Fact]
    public void Cached_beam_search_equals_re_decoding_the_whole_prefix_every_step()
    {
        var model = TranslateTraining.Load(tiny.Dir);
        foreach (var source in new[] { "red cat sun", "blue dog moon tree", "fish star rock red green", "sun" })
            foreach (int width in new[] { 2, 3, 5 })
                foreach (double alpha in new[] { 0.0, 0.6, 1.0 })
                    Assert.Equal(UncachedBeam(model, source, width, alpha), BeamSearch.Translate(model, source, width, alpha));
    }

    /// <summary>The reference: the same search, but each step runs the decoder over every hypothesis's whole prefix.</summary>
    static string UncachedBeam(TranslateModel model, string source, int width, double alpha)
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        var srcIds = model.Config.Source.Encode(source);
        var (src, pad) = TranslateModel.SourceIds(Enumerable.Repeat(srcIds, width).ToArray());
        var memory = model.Encode(src, pad);
        var live = new List<(List<long> Tokens, double LogP)> { ([Vocab.Bos], 0) };
        var finished = new List<(List<long> Tokens, double Score)>();
        double Norm(int len, double logP) => logP / Math.Pow((5.0 + len) / 6.0, alpha);
        for (int t = 0; t < TranslateModel.MaxOutput(srcIds.Length) && live.Count > 0; t++)
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
                if (c.Token == Vocab.Eos) finished.Add((live[c.From].Tokens, Norm(live[c.From].Tokens.Count - 1, c.LogP)));
                else if (next.Count < width) next.Add(([.. live[c.From].Tokens, c.Token], c.LogP));
                if (next.Count == width) break;
            }
            live = next;
            if (finished.Count >= width) break;
        }
        if (finished.Count == 0) foreach (var h in live) finished.Add((h.Tokens, Norm(h.Tokens.Count - 1, h.LogP)));
        return model.Config.Target.Decode(finished.OrderByDescending(f => f.Score).First().Tokens.Skip(1));
    }

    [Fact]
    public void Resume_continues_exactly()
    {
        string dir = Path.Combine(tiny.Root, "resumed");
        using var cts = new CancellationTokenSource();
        var stopped = TranslateTraining.Run(tiny.Options(dir, TinyTranslateRun.Steps), TextWriter.Null, cts.Token, done => { if (done == 50) cts.Cancel(); });
        Assert.Equal(130, stopped.ExitCode);
        var rest = TranslateTraining.Run(tiny.Options(dir, TinyTranslateRun.Steps, resume: true), TextWriter.Null, CancellationToken.None);
        Assert.Equal(tiny.Result.Train.Skip(50).ToArray(), rest.Train.ToArray());
        var again = Assert.Throws<TranslateException>(() => TranslateTraining.Run(tiny.Options(dir, 10), TextWriter.Null, CancellationToken.None));
        Assert.Contains("--resume", again.Message);
    }
}
