namespace Attend.Optim;

/// <summary>
/// Learning-rate schedules as pure functions of the step index (0 for the first optimizer step), returning the
/// learning rate itself. Feed one to an <see cref="LrScheduler"/>, e.g.
/// <c>new LrScheduler(opt, step =&gt; Schedules.WarmupCosine(step, 6e-4, 2000, 600_000, 6e-5))</c>.
/// </summary>
public static class Schedules
{
    /// <summary>
    /// Linear warmup, then cosine decay to <paramref name="minLr"/> — nanoGPT's <c>get_lr</c>:
    /// <code>
    /// step &lt; warmup:           lr = maxLr · (step + 1) / (warmup + 1)
    /// step &gt; decaySteps:       lr = minLr
    /// otherwise:                r = (step − warmup) / (decaySteps − warmup)
    ///                           lr = minLr + ½·(1 + cos(π·r)) · (maxLr − minLr)
    /// </code>
    /// <paramref name="decaySteps"/> is the step at which the cosine reaches minLr, counting the warmup
    /// (nanoGPT's <c>lr_decay_iters</c>, ≈ the total steps).
    /// </summary>
    public static double WarmupCosine(long step, double maxLr, long warmupSteps, long decaySteps, double minLr)
    {
        CheckStep(step);
        CheckLr(maxLr, nameof(maxLr)); CheckLr(minLr, nameof(minLr));
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warmupSteps must be ≥ 0");
        if (decaySteps <= warmupSteps)
            throw new ArgumentOutOfRangeException(nameof(decaySteps), decaySteps, $"decaySteps must be > warmupSteps ({warmupSteps})");
        if (step < warmupSteps) return maxLr * (step + 1) / (warmupSteps + 1);
        if (step > decaySteps) return minLr;
        double ratio = (double)(step - warmupSteps) / (decaySteps - warmupSteps);
        double coeff = 0.5 * (1.0 + Math.Cos(Math.PI * ratio));   // 1 → 0
        return minLr + coeff * (maxLr - minLr);
    }

    /// <summary>
    /// The inverse-square-root ("Noam") schedule of <i>Attention Is All You Need</i> (§5.3), linear warmup then
    /// 1/√step decay, peaking at step = warmup:
    /// <code>
    /// s  = max(step, 1)          (as the Annotated Transformer: step 0 would give 0)
    /// lr = factor · dModel^(−½) · min(s^(−½), s · warmup^(−3/2))
    /// </code>
    /// </summary>
    public static double InverseSqrt(long step, int dModel, long warmupSteps, double factor = 1.0)
    {
        CheckStep(step);
        if (dModel <= 0) throw new ArgumentOutOfRangeException(nameof(dModel), dModel, "dModel must be > 0");
        if (warmupSteps <= 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warmupSteps must be > 0");
        CheckLr(factor, nameof(factor));
        double s = Math.Max(step, 1);
        return factor * Math.Pow(dModel, -0.5) * Math.Min(Math.Pow(s, -0.5), s * Math.Pow(warmupSteps, -1.5));
    }

    /// <summary>
    /// Linear warmup (the same ramp as <see cref="WarmupCosine"/>), then constant:
    /// <code>
    /// step &lt; warmup:  lr = maxLr · (step + 1) / (warmup + 1)
    /// otherwise:       lr = maxLr
    /// </code>
    /// </summary>
    public static double ConstantWithWarmup(long step, double maxLr, long warmupSteps)
    {
        CheckStep(step);
        CheckLr(maxLr, nameof(maxLr));
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warmupSteps must be ≥ 0");
        return step < warmupSteps ? maxLr * (step + 1) / (warmupSteps + 1) : maxLr;
    }

    private static void CheckStep(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be ≥ 0");
    }

    private static void CheckLr(double lr, string name)
    {
        if (!(lr >= 0) || double.IsInfinity(lr)) throw new ArgumentOutOfRangeException(name, lr, $"{name} must be finite and ≥ 0");
    }
}

/// <summary>
/// Sets an optimizer's learning rate (every group's) from a schedule of the step index. The index is the optimizer's
/// <see cref="Optimizer.StepCount"/> — the number of steps already taken — so the scheduler keeps no state of its own
/// and a run resumed with <see cref="Optimizer.LoadStateDict"/> continues its schedule. Use it as PyTorch's:
/// <code>
/// var sched = new LrScheduler(opt, s =&gt; Schedules.WarmupCosine(s, 6e-4, 100, 5000, 6e-5)); // sets lr for step 0
/// for (…) { loss.Backward(); opt.Step(); opt.ZeroGrad(); sched.Step(); }                    // lr for the next step
/// </code>
/// (Calling <see cref="Step"/> before <c>opt.Step()</c> instead, as nanoGPT sets its lr, gives the same lr: it only
/// reads StepCount.)
/// </summary>
public sealed class LrScheduler
{
    private readonly Optimizer optimizer;
    private readonly Func<long, double> schedule;

    /// <summary>Binds <paramref name="schedule"/> to <paramref name="optimizer"/> and sets the lr of its next step.</summary>
    public LrScheduler(Optimizer optimizer, Func<long, double> schedule)
    {
        this.optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        this.schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        Step();
    }

    /// <summary>The learning rate last set.</summary>
    public double LastLr { get; private set; }

    /// <summary>Sets every group's lr to <c>schedule(optimizer.StepCount)</c> and returns it.</summary>
    public double Step()
    {
        double lr = schedule(optimizer.StepCount);
        optimizer.Lr = lr;   // rejects a negative or NaN lr
        LastLr = lr;
        return lr;
    }
}
