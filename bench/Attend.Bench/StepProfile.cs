using System.Diagnostics;
using Attend;
using Attend.Optim;

/// <summary>The *-profile cases: a training step timed per phase (forward, backward, AdamW) and per op (forward ops timed
/// from the previous recorded op to this one, backward ops per node), summed over 10 steps after 3 warm-up steps and
/// printed on stderr; the median step on stdout.</summary>
static class StepProfile
{
    /// <param name="loss">builds the step's loss (the forward).</param>
    /// <param name="items">what one step processes, for the throughput line (e.g. 128 images); 0: no throughput.</param>
    public static Program.Result Run(AdamW opt, Func<Tensor> loss, int items = 0, string unit = "")
    {
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
            var l = loss();
            var t1 = Stopwatch.GetTimestamp();
            l.Backward();
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
        Console.Error.WriteLine($"per step: forward {fwd / steps:F1} ms, backward {bwd / steps:F1} ms, AdamW {upd / steps:F1} ms, total {total / steps:F1} ms" +
                                (items > 0 ? $" ({items * 1000.0 * steps / total:F0} {unit}/s)" : ""));
        foreach (var (op, ms, count) in Profiler.Report())
            Console.Error.WriteLine($"  {op,-40} {ms / steps,8:F2} ms/step  {100 * ms / total,5:F1}%  ({count / steps} calls)");
        times.Sort();
        return new Program.Result(times[steps / 2], times[0], steps);
    }
}
