using System.Diagnostics;
using Attend;
using Attend.Nn;
using Attend.Optim;

/// <summary>
/// vit-profile[:PATCH:DIM]: one AdamW step of <c>attend train vit</c>'s base model on Fashion-MNIST-shaped input
/// (batch 128 of 1×28×28, 7×7 patches, d 128, 4 blocks, 4 heads, MLP 4·d, label smoothing 0.1), random pixels and labels;
/// the step timed per phase and per op over 10 steps after 3 warm-up steps (stderr). Median step time on stdout.
/// </summary>
static class VitCases
{
    public static Program.Result Profile(int patch, int dim)
    {
        const int B = 128;
        var cfg = new VitConfig(ImageSize: 28, PatchSize: patch, Channels: 1, NumClasses: 10, Dim: dim, Depth: 4, NHead: 4, MlpRatio: 4);
        var model = new VisionTransformer(cfg, new Random(1));
        model.Train();
        var opt = new AdamW(AdamW.Groups(model.NamedParameters(), 0.05), lr: 1e-3);
        var rng = new Random(2);
        var x = Tensor.FromArray(Enumerable.Range(0, B * 28 * 28).Select(_ => (float)rng.NextDouble()).ToArray(), new[] { B, 1, 28, 28 });
        var y = Tensor.FromArray(Enumerable.Range(0, B).Select(_ => (long)rng.Next(10)).ToArray(), new[] { B });
        double fwd = 0, bwd = 0, upd = 0;
        const int steps = 10;
        var times = new List<double>();
        for (int s = 0; s < 3 + steps; s++)
        {
            bool on = s >= 3;
            Profiler.Enabled = on;
            using var scope = Tensor.NewScope();
            var t0 = Stopwatch.GetTimestamp();
            opt.ZeroGrad();
            Profiler.Mark(null);
            var loss = Functional.CrossEntropy(model.Forward(x), y, labelSmoothing: 0.1f);
            var t1 = Stopwatch.GetTimestamp();
            loss.Backward();
            var t2 = Stopwatch.GetTimestamp();
            opt.Step();
            var t3 = Stopwatch.GetTimestamp();
            Profiler.Enabled = false;
            if (!on) continue;
            fwd += Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds; bwd += Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
            upd += Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds;
            times.Add(Stopwatch.GetElapsedTime(t0, t3).TotalMilliseconds);
        }
        double total = fwd + bwd + upd;
        Console.Error.WriteLine($"per step: forward {fwd / steps:F1} ms, backward {bwd / steps:F1} ms, AdamW {upd / steps:F1} ms, total {total / steps:F1} ms ({B * 1000 * steps / total:F0} img/s)");
        foreach (var (op, ms, count) in Profiler.Report())
            Console.Error.WriteLine($"  {op,-40} {ms / steps,8:F2} ms/step  {100 * ms / total,5:F1}%  ({count / steps} calls)");
        times.Sort();
        return new Program.Result(times[steps / 2], times[0], steps);
    }
}

/// <summary>linear:ROWS:IN:OUT[:fwd]: Functional.Linear with bias on a [ROWS, IN] input through autograd, forward + backward
/// of a fixed upstream gradient (3 GEMMs + the bias column sums), or the forward alone; GFLOP/s counts the GEMMs.</summary>
static class LinearCases
{
    public static Program.Result Run(int rows, int inF, int outF, bool forwardOnly)
    {
        var rng = new Random(1);
        Tensor R(params int[] shape) => Tensor.FromArray(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), shape);
        var x = R(rows, inF); var w = R(outF, inF); var b = R(outF);
        x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
        var g = R(rows, outF);
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            if (forwardOnly) { using var ng = Autograd.NoGrad(); Functional.Linear(x, w, b); return; }
            x.ZeroGrad(); w.ZeroGrad(); b.ZeroGrad();
            Functional.Linear(x, w, b).Backward(g);
        });
        return new Program.Result(med, min, reps, (forwardOnly ? 2.0 : 6.0) * rows * inF * outF);
    }
}
