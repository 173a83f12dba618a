using System.Diagnostics;
using Attend;
using Attend.Nn;
using Attend.Optim;

/// <summary>
/// gpt-step: one AdamW training step of the peer's GPT (../shared/peers/torchsharp/Program.cs GptStep): 6 layers, d 384,
/// 6 heads, ctx 256, batch 8, vocab 65, pre-LN, exact GELU, learned positions, biases, untied bias-free head, AdamW
/// lr 3e-4 wd 0.01 on every parameter (betas 0.9/0.999), cross-entropy over all 2048 positions.
/// gpt-gen:cache|nocache: tokens/s of greedy generation (batch 1, 1-token prompt, 200 new tokens) on the same model.
/// </summary>
static class GptCases
{
    internal const int V = 65, T = 256, Dm = 384, NH = 6, NL = 6, Bt = 8;
    internal static readonly GptConfig Config = new(BlockSize: T, VocabSize: V, NLayer: NL, NHead: NH, NEmbd: Dm, TieWeights: false);

    internal static (Tensor X, Tensor Y) Batch()
    {
        var rng = new Random(3);
        long[] R() => Enumerable.Range(0, Bt * T).Select(_ => (long)rng.Next(V)).ToArray();
        return (Tensor.FromArray(R(), new[] { Bt, T }), Tensor.FromArray(R(), new[] { Bt, T }));
    }

    public static Program.Result Step()
    {
        var model = new Gpt(Config, new Random(42));
        model.Train();
        var opt = new AdamW(model.NamedParameters(), lr: 3e-4, weightDecay: 0.01);
        var (x, y) = Batch();
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            opt.ZeroGrad();
            var loss = Functional.CrossEntropy(model.Forward(x).Logits.View(-1, V), y.View(-1));
            loss.Backward();
            opt.Step();
        }, warm: 3, minReps: 10, minSeconds: 8);
        return new Program.Result(med, min, reps);
    }

    /// <summary>gpt-profile: the gpt-step timed per phase and per op by <see cref="StepProfile"/>.</summary>
    public static Program.Result Profile()
    {
        var model = new Gpt(Config, new Random(42));
        var opt = new AdamW(model.NamedParameters(), lr: 3e-4, weightDecay: 0.01);
        var (x, y) = Batch();
        return StepProfile.Run(opt, () => Functional.CrossEntropy(model.Forward(x).Logits.View(-1, V), y.View(-1)));
    }

    public static Program.Result Generate(bool cache)
    {
        var model = new Gpt(Config with { TieWeights = true }, new Random(42));
        model.Eval();
        var prompt = Tensor.FromArray(new long[] { 0 }, new[] { 1, 1 });
        const int n = 200;
        model.Generate(prompt, 8, temperature: 0f, useCache: cache);   // warm-up
        bool profile = Environment.GetEnvironmentVariable("ATTEND_PROFILE") == "1";
        Profiler.Enabled = profile; Profiler.Mark(null);
        var sw = Stopwatch.StartNew();
        model.Generate(prompt, n, temperature: 0f, useCache: cache);
        sw.Stop();
        Profiler.Enabled = false;
        if (profile)
            foreach (var (op, ms, count) in Profiler.Report().Take(12))
                Console.Error.WriteLine($"  {op,-40} {ms / n,8:F3} ms/token  ({count / n} calls)");
        Console.Error.WriteLine($"gpt-gen:{(cache ? "cache" : "nocache")}: {n / sw.Elapsed.TotalSeconds:F1} tokens/s ({n} tokens, batch 1, {Config.NLayer} layers, d {Config.NEmbd})");
        return new Program.Result(sw.Elapsed.TotalMilliseconds, sw.Elapsed.TotalMilliseconds, 1);
    }
}
