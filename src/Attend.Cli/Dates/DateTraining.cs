using System.Diagnostics;
using Attend.Optim;
using F = Attend.Functional;

namespace Attend.Cli.Dates;

/// <summary>One progress report: optimizer steps done, mean loss since the last report, throughput, time, and (when
/// measured) the exact-match accuracy on a small held-out probe.</summary>
public sealed record DateProgress(int Step, double Loss, double TokensPerSecond, double Lr, double Seconds, double? ProbeAccuracy);

/// <summary>
/// Training for <see cref="DateModel"/>: teacher forcing with cross-entropy, AdamW (no decay on biases and norms),
/// linear warmup then a cosine over the budget (steps, or seconds when the budget is time), gradient clipping.
/// Batches are bucketed by source length: a pool of 32 batches' worth of examples is sorted by length and cut into
/// batches, so a batch pads to within a character or two of its shortest source instead of to the longest format.
/// </summary>
public static class DateTraining
{
    /// <summary>Trains until <paramref name="steps"/> steps or <paramref name="seconds"/> have passed (whichever is given;
    /// both: the first reached). Reports every <paramref name="reportEvery"/> seconds (and at the end); the probe
    /// accuracy is measured on <paramref name="probe"/> if given. <paramref name="afterStep"/> gets every step's number,
    /// the fraction of the budget used, its loss and the tokens/s so far. Returns every step's loss.</summary>
    public static List<float> Train(DateModel model, Random rng, int? steps, double? seconds, double reportEvery = 10,
        IReadOnlyList<(string Source, string Target)>? probe = null, Action<DateProgress>? report = null,
        Action<int, double, float, double>? afterStep = null)
    {
        if (steps is null && seconds is null) throw new ArgumentException("dates: give a step or a time budget");
        var cfg = model.Config;
        var train = DateFormats.Dates(heldOut: false);
        using var opt = new AdamW(AdamW.Groups(model.NamedParameters(), weightDecay: 0.01), lr: cfg.Lr, betas: (0.9, 0.98));
        var parameters = model.Parameters().ToArray();
        var sw = Stopwatch.StartNew();
        var losses = new List<float>();
        var pool = new Queue<List<(string Source, string Target)>>();
        double lastReport = 0, lossSum = 0; long tokens = 0, allTokens = 0; int lossCount = 0;
        var rl = cfg.Variant.Kind == AttentionKind.Reinforce ? new ReinforceAttention() : null;
        model.Train();

        // lr: warmup by steps, then a cosine over the fraction of the budget used (steps or seconds).
        double Progress(long step) => Math.Max(steps is null ? 0 : (double)step / steps.Value, seconds is null ? 0 : sw.Elapsed.TotalSeconds / seconds.Value);
        double LrAt(long step) => step < cfg.WarmupSteps ? cfg.Lr * (step + 1) / (cfg.WarmupSteps + 1)
            : Schedules.WarmupCosine((long)(Math.Min(Progress(step), 1) * 1_000_000), cfg.Lr, 0, 1_000_000, cfg.Lr * cfg.MinLrRatio);
        var sched = new LrScheduler(opt, LrAt);

        for (int step = 0; steps is null || step < steps; step++)
        {
            if (seconds is not null && sw.Elapsed.TotalSeconds >= seconds) break;
            if (pool.Count == 0) Refill(pool, train, cfg.Batch, rng);
            var batch = pool.Dequeue();
            using (Tensor.NewScope())
            {
                var (src, pad) = DateVocab.Sources(batch.Select(e => e.Source).ToArray());    // (B, S)
                var (input, labels) = DateVocab.Targets(batch.Select(e => e.Target).ToArray()); // (B, T)
                Tensor logits;
                using (rl?.Collect()) logits = model.Forward(src, pad, input);                 // (B, T, V)
                var loss = F.CrossEntropy(logits.Reshape(-1, DateVocab.TargetSize), labels.Reshape(-1), ignoreIndex: DateVocab.Pad);
                float taskLoss = loss.Item();
                // REINFORCE attention: each date's reward is minus its mean token cross-entropy.
                if (rl is not null) loss = loss + rl.Loss(AttentionChoice.Reward(logits, labels, DateVocab.Pad));
                opt.ZeroGrad();
                loss.Backward();
                Gradients.ClipGradNorm(parameters, cfg.ClipNorm);
                sched.Step();
                opt.Step();
                float l = taskLoss;
                losses.Add(l);
                lossSum += l; lossCount++;
                tokens += src.NumEl + input.NumEl;
                allTokens += src.NumEl + input.NumEl;
                afterStep?.Invoke(step + 1, Math.Min(Progress(step + 1), 1), l, allTokens / sw.Elapsed.TotalSeconds);
            }
            double now = sw.Elapsed.TotalSeconds;
            bool last = (steps is not null && step + 1 == steps) || (seconds is not null && now >= seconds);
            if (report is not null && (now - lastReport >= reportEvery || last))
            {
                double? acc = probe is null ? null : Accuracy(model, probe);
                report(new DateProgress(step + 1, lossSum / lossCount, tokens / (now - lastReport), sched.LastLr, sw.Elapsed.TotalSeconds, acc));
                (lastReport, lossSum, lossCount, tokens) = (sw.Elapsed.TotalSeconds, 0, 0, 0);
            }
        }
        model.Eval();
        return losses;
    }

    /// <summary>32 batches of fresh training examples, bucketed by source length, in random order.</summary>
    static void Refill(Queue<List<(string, string)>> pool, DateOnly[] dates, int batch, Random rng)
    {
        var examples = Enumerable.Range(0, 32 * batch).Select(_ => DateFormats.Sample(dates, rng))
            .OrderBy(e => e.Source.Length).Select(e => (e.Source, e.Target)).ToList();
        var batches = examples.Chunk(batch).Select(c => c.ToList()).ToArray();
        rng.Shuffle(batches);
        foreach (var b in batches) pool.Enqueue(b);
    }

    /// <summary>Held-out examples: <paramref name="n"/> (date, format) pairs drawn from the held-out dates.</summary>
    public static List<(string Source, string Target)> HeldOut(int n, int seed)
    {
        var dates = DateFormats.Dates(heldOut: true);
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => DateFormats.Sample(dates, rng)).Select(e => (e.Source, e.Target)).ToList();
    }

    /// <summary>Greedy predictions (KV cache) for every source, decoded in length-sorted chunks of 256.</summary>
    public static string[] Predict(DateModel model, IReadOnlyList<string> sources)
    {
        var order = Enumerable.Range(0, sources.Count).OrderBy(i => sources[i].Length).ToArray();
        var result = new string[sources.Count];
        foreach (var chunk in order.Chunk(256))
        {
            var outs = model.Translate(chunk.Select(i => sources[i]).ToArray());
            for (int j = 0; j < chunk.Length; j++) result[chunk[j]] = outs[j];
        }
        return result;
    }

    /// <summary>Fraction of <paramref name="examples"/> whose greedy output equals the target exactly.</summary>
    public static double Accuracy(DateModel model, IReadOnlyList<(string Source, string Target)> examples)
    {
        var pred = Predict(model, examples.Select(e => e.Source).ToArray());
        return examples.Where((e, i) => pred[i] == e.Target).Count() / (double)examples.Count;
    }
}
