using System.Globalization;
using System.Text.Json.Nodes;
using Attend.Cli.Ui;
using Attend.Attention;
using Attend.Nn;
using Attend.Training;

namespace Attend.Cli.Recall;

/// <summary>What <c>attend train recall</c> was asked: the distance the test asks for (<paramref name="Context"/>: answers
/// ≥ this many tokens back), the positional scheme, the task (mqar or needle), the model width and depth, the curriculum's
/// first length, and the lengths to test at the end besides <paramref name="Context"/>.</summary>
public sealed record RecallOptions(TrainArgs Train, int Context = 4096, PositionKind Positions = PositionKind.None, string Task = "mqar",
    int Dim = 64, int Layers = 2, int Heads = 2, int StartLength = 128, int[]? TestLengths = null, int TestSequences = 64, double Lr = 3e-3, int Pairs = 16, int Queries = 8, bool TokenShift = true);

/// <summary>Accuracy of the answers whose key lies in [From, To) tokens before the query.</summary>
public sealed record DistanceBin(int From, int To, int Correct, int Total)
{
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;
}

/// <summary>One test: sequences of <paramref name="Length"/> tokens with answers ≥ <paramref name="MinDistance"/> back.</summary>
public sealed record RecallTest(int Length, int MinDistance, double Accuracy, IReadOnlyList<DistanceBin> Bins);

public sealed record RecallResult(int ExitCode, IReadOnlyList<(int Step, float Loss)> Train, IReadOnlyList<RecallTest> Tests, double Minutes);

/// <summary>
/// Trains a small <see cref="Gpt"/> on <see cref="RecallTask"/> with a length curriculum: it starts at
/// <see cref="RecallOptions.StartLength"/> tokens (answers ≥ half of it back) and doubles the length each time the
/// held-out accuracy at the current length reaches 99 %, up to the test's length (<c>Context</c> + 2·queries + 8·pairs
/// tokens, answers ≥ <c>Context</c> back), where it stays. The loss is the cross-entropy at the query positions only.
/// The test at the end is on held-out sequences; each length of <c>TestLengths</c> is tested the same way.
/// </summary>
public static class RecallTraining
{
    /// <summary>Sequences per step at <paramref name="length"/>: the batch at the first length, shrunk as the length
    /// grows so that a step keeps about the same number of tokens (at least 2 sequences).</summary>
    public static int BatchAt(int batch, int startLength, int length) => Math.Max(Math.Min(2, batch), (int)((long)batch * startLength / Math.Max(startLength, length)));

    public static RecallResult Run(RecallOptions o, TextWriter log, CancellationToken stop, Action<int>? afterStep = null)
    {
        o.Train.CheckBudget();
        if (Cluster.Collectives is not null) throw new CliException("train recall runs in one process (its curriculum follows rank 0's evaluations)");
        if (o.Task is not ("mqar" or "needle")) throw new CliException($"--task must be mqar or needle, not '{o.Task}'");
        if (o.Context < 16 || o.StartLength < 32 || o.Dim % o.Heads != 0 || o.Layers < 1)
            throw new CliException($"recall: need --context ≥ 16, --start-length ≥ 32, --dim a multiple of --heads, --layers ≥ 1");
        var draft = new RecallConfig(o.Task, o.Context, o.Pairs, o.Queries, (ulong)o.Train.Seed, new GptConfig());
        var shape = draft.Spec(1 << 20, 1);
        shape.Check();
        int full = draft.LengthFor(o.Context);
        var tests = new[] { o.Context }.Concat(o.TestLengths ?? []).Distinct().ToArray();
        int longest = tests.Max(draft.LengthFor);
        var rc = draft with
        {
            Gpt = new GptConfig(BlockSize: longest, VocabSize: shape.VocabSize, NLayer: o.Layers, NHead: o.Heads, NEmbd: o.Dim,
                Positions: o.Positions, TieWeights: false, TokenShift: o.TokenShift, Attention: AttentionVariant.Parse(o.Train.Attention)),
        };
        var model = new Gpt(rc.Gpt, new Random(o.Train.Seed));
        int B = o.Train.Batch ?? 32;
        var extra = new Dictionary<string, string>
        {
            ["task"] = o.Task, ["length"] = Math.Min(o.StartLength, full).ToString(CultureInfo.InvariantCulture), ["batch"] = B.ToString(CultureInfo.InvariantCulture),
        };
        using var trainer = new Trainer(model, new TrainerOptions
        {
            Steps = o.Train.Steps ?? 100_000, Seconds = o.Train.Seconds, Lr = o.Lr, MinLr = o.Lr / 10, WarmupSteps = 50, WeightDecay = 0.1,
            Betas = (0.9, 0.98), EvalEvery = o.Train.EvalEvery ?? 100, SaveEvery = o.Train.SaveEvery ?? 1000, CheckpointDir = o.Train.Out,
            Resume = o.Train.Resume, OnNonFinite = o.Train.OnNan, Seed = (ulong)o.Train.Seed, ConfigJson = rc.ToJson(), Extra = extra,
            CheckResume = json => { if (RecallConfig.FromJson(json, o.Train.Out) != rc) throw new CliException($"cannot resume: '{o.Train.Out}' holds a recall model of another task or shape (its config: {json})"); },
        });
        TrainCommand.RequireSameBatch(trainer, B);
        int length = trainer.ResumedExtra.TryGetValue("length", out var l) ? int.Parse(l, CultureInfo.InvariantCulture) : Math.Min(o.StartLength, full);
        // below the full length: answers ≥ half the length back (room left for the pairs and queries)
        RecallSpec TrainSpec() => length >= full ? rc.Spec(full, o.Context) : rc.Spec(length, Math.Min(length / 2, length - 2 * shape.Queries - 4 * shape.Pairs));
        if (TrainSpec() is var first && (first.MinDistance < 1 || first.Region / 2 < first.Pairs))
            throw new CliException($"--start-length {length} is too short for {shape.Pairs} pairs and {shape.Queries} queries (give ≥ {2 * shape.Queries + 4 * shape.Pairs + 16})");
        trainer.Evaluate = _ =>
        {
            var spec = TrainSpec();
            var t = Test(model, spec, trainer.Seed, Math.Min(o.TestSequences, 32));
            var metric = new Metric($"held-out @{spec.Length}", t.Accuracy, $"{100 * t.Accuracy:F1}%");
            if (t.Accuracy >= 0.99 && length < full)
            {
                length = Math.Min(2 * length, full);
                extra["length"] = length.ToString(CultureInfo.InvariantCulture);
            }
            return [metric];
        };
        if (afterStep is not null) trainer.StepDone += s => afterStep((int)s.Step);
        log.WriteLine($"Task: {(o.Task == "needle" ? "needle retrieval (1 pair, 1 query)" : $"multi-query associative recall ({shape.Pairs} pairs, {shape.Queries} queries)")}, " +
                      $"vocabulary {shape.VocabSize} ({shape.Keys} keys, {shape.Values} values, {shape.Filler} filler); test: {full} tokens, answers ≥ {o.Context} back.");
        log.WriteLine($"Model: GPT, {o.Layers} layers, {o.Heads} heads, d {o.Dim}, {o.Positions.ToString().ToLowerInvariant()} positions{(o.TokenShift ? ", token shift" : "")}, {rc.Gpt.Variant} attention, {model.ParameterCount:N0} parameters; " +
                      $"AdamW lr {o.Lr:G3}, batch {B} at the first length (then the same tokens per step); curriculum from {length} tokens, doubled at 99% held-out, up to {full}.");
        var look = new TrainingLook($"train recall ({o.Task}, {o.Context})", ips => $"{ips / 1000,5:F1}k tok/s", Seconds: true);
        var result = TrainingView.Run(log, trainer, look, (step, _) =>
        {
            var spec = TrainSpec();
            int b = BatchAt(B, o.StartLength, spec.Length);
            var (x, y, _) = RecallTask.Batch(spec, trainer.Seed, RecallTask.TrainStream, step * B, b);   // (b, L) each
            var (_, loss) = model.Forward(x, y);
            return new StepLoss(loss!, x.NumEl);
        }, stop, o.Train.LossFile);
        var results = new List<RecallTest>();
        if (!result.Interrupted)
        {
            foreach (int d in tests)
            {
                var t = Test(model, rc.Spec(rc.LengthFor(d), d), trainer.Seed, o.TestSequences);
                results.Add(t);
                log.WriteLine($"Held-out, {t.Length:N0} tokens, answers ≥ {t.MinDistance:N0} back: {100 * t.Accuracy:F2}% of {t.Bins.Sum(b => b.Total):N0} answers.");
                Terminal.Write(log, BinTable(t));
            }
            log.WriteLine($"Done: {result.Steps} steps in {result.Seconds / 60:F2} min (curriculum reached {length} tokens), checkpoint in {trainer.CheckpointDir}.");
        }
        return new RecallResult(TrainCommand.ExitCode(result, trainer.CheckpointDir, log), result.Losses.Select(x => ((int)x.Step, x.Loss)).ToList(), results, result.Seconds / 60);
    }

    /// <summary>Greedy answers on <paramref name="count"/> held-out sequences of <paramref name="spec"/>, one at a time,
    /// binned by distance (quarters of [MinDistance, Length)).</summary>
    public static RecallTest Test(Gpt model, RecallSpec spec, ulong seed, int count)
    {
        bool wasTraining = model.Training;
        model.Eval();
        using var noGrad = Autograd.NoGrad();
        int lo = spec.MinDistance, hi = spec.Length, step = Math.Max(1, (hi - lo + 3) / 4);
        var bins = Enumerable.Range(0, 4).Select(i => new int[2]).ToArray();
        int correct = 0, total = 0;
        for (int i = 0; i < count; i++)
        {
            using var scope = Tensor.NewScope();
            var (x, _, items) = RecallTask.Batch(spec, seed, RecallTask.TestStream, i, 1);
            var logits = model.Forward(x).Logits;                                             // (1, L, V)
            var seq = items[0];
            for (int q = 0; q < seq.QueryPositions.Length; q++)
            {
                var row = logits.Select(1, seq.QueryPositions[q]).Reshape(-1).ToArray();       // (V)
                int best = 0;
                for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
                bool ok = best == seq.Targets[seq.QueryPositions[q]];
                int bin = Math.Min(3, (seq.Distances[q] - lo) / step);
                bins[bin][0] += ok ? 1 : 0;
                bins[bin][1]++;
                correct += ok ? 1 : 0;
                total++;
            }
        }
        if (wasTraining) model.Train();
        return new RecallTest(spec.Length, spec.MinDistance, (double)correct / Math.Max(1, total),
            bins.Select((b, i) => new DistanceBin(lo + i * step, Math.Min(hi, lo + (i + 1) * step), b[0], b[1])).ToList());
    }

    public static Spectre.Console.Table BinTable(RecallTest t)
    {
        var table = Terminal.Table("distance key → query", ">answers", ">correct");
        foreach (var b in t.Bins.Where(b => b.Total > 0)) table.Row($"{b.From:N0} – {b.To - 1:N0}", $"{b.Total:N0}", $"{100 * b.Accuracy:F2}%");
        return table;
    }
}
