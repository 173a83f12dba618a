using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Optim;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay — exactly
/// <c>torch.optim.SGD</c>. For each parameter p with gradient g, at its t-th update (t = 1, 2, …), with momentum μ,
/// dampening τ, weight decay λ and learning rate γ:
/// <code>
/// g ← g + λ·p                                   (if λ ≠ 0; p.Grad itself is left unchanged)
/// if μ ≠ 0:
///     b ← g                       at t = 1      (the momentum buffer starts at the gradient, undampened)
///     b ← μ·b + (1 − τ)·g         at t &gt; 1
///     g ← g + μ·b                 if nesterov
///     g ← b                       otherwise
/// p ← p − γ·g
/// </code>
/// State: <c>momentum_buffer</c> (only when μ ≠ 0).
/// </summary>
public sealed class Sgd : Optimizer
{
    private static readonly string[] Names = { "momentum_buffer" };

    /// <summary>SGD over named parameters (one group).</summary>
    public Sgd(IEnumerable<(string Name, Tensor Param)> parameters, double lr, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
        : this(new[] { new ParamGroup(parameters) }, lr, momentum, dampening, weightDecay, nesterov) { }

    /// <summary>SGD over parameter groups; the arguments are the defaults for what a group leaves null.</summary>
    public Sgd(IEnumerable<ParamGroup> paramGroups, double lr, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
        : base(paramGroups, new ParamGroup(Array.Empty<(string, Tensor)>())
        {
            Lr = lr, Momentum = momentum, Dampening = dampening, WeightDecay = weightDecay, Nesterov = nesterov,
        })
    { }

    /// <inheritdoc/>
    /// <remarks><c>momentum_buffer</c>, as in <c>torch.optim.SGD</c>'s state.</remarks>
    protected override IReadOnlyList<string> StateNames => Names;
    /// <inheritdoc/>
    /// <remarks>Always false: the momentum buffer exists only when momentum is on; a loaded state without one restarts it
    /// from the next gradient.</remarks>
    protected override bool StateRequired(int index) => false;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">Nesterov is on without momentum &gt; 0 and dampening = 0 (as PyTorch).</exception>
    protected override void ValidateGroup(ParamGroup group, int index)
    {
        if (group.Nesterov == true && !(group.Momentum > 0 && group.Dampening == 0))
            throw new ArgumentException($"SGD parameter group {index}: Nesterov momentum requires momentum > 0 and dampening = 0 " +
                $"(got momentum {group.Momentum}, dampening {group.Dampening})");
    }

    /// <inheritdoc/>
    /// <remarks>One SGD step of the class formula; the momentum buffer is allocated, as a copy of the (decayed) gradient,
    /// at the first update with momentum ≠ 0.</remarks>
    protected override unsafe void Update(ParamGroup group, ParamState state, Tensor grad)
    {
        double lr = group.Lr ?? Defaults.Lr!.Value;
        double momentum = group.Momentum ?? Defaults.Momentum!.Value;
        double dampening = group.Dampening ?? Defaults.Dampening!.Value;
        double weightDecay = group.WeightDecay ?? Defaults.WeightDecay!.Value;
        bool nesterov = group.Nesterov ?? Defaults.Nesterov!.Value;

        float* buf = null;
        bool first = false;
        if (momentum != 0)
        {
            var b = state.Buffers[0];
            if (b is null) { b = state.Buffers[0] = NewState(state.Param); first = true; }
            buf = b.Data;
        }
        Kernel(state.Param.Data, grad.Data, buf, state.Param.NumEl, (float)weightDecay, (float)momentum,
            (float)(1 - dampening), nesterov, first, (float)-lr);
    }

    /// <summary>The fused update of one contiguous parameter (see the class doc); <paramref name="buf"/> is null when
    /// momentum is off, and <paramref name="first"/> makes the buffer a copy of the gradient.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Kernel(float* p, float* g, float* buf, int n, float weightDecay, float momentum,
        float oneMinusDampening, bool nesterov, bool first, float negLr)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var wd = Vector256.Create(weightDecay);
            var mu = Vector256.Create(momentum);
            var keep = Vector256.Create(oneMinusDampening);
            var step = Vector256.Create(negLr);
            for (; i <= n - 8; i += 8)
            {
                var pv = Vector256.Load(p + i);
                var d = Vector256.Load(g + i);
                if (weightDecay != 0) d += wd * pv;
                if (buf != null)
                {
                    var b = first ? d : Vector256.Load(buf + i) * mu + keep * d;
                    b.Store(buf + i);
                    d = nesterov ? d + mu * b : b;
                }
                (pv + step * d).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float d = g[i];
            if (weightDecay != 0) d += weightDecay * p[i];
            if (buf != null)
            {
                float b = first ? d : buf[i] * momentum + oneMinusDampening * d;
                buf[i] = b;
                d = nesterov ? d + momentum * b : b;
            }
            p[i] += negLr * d;
        }
    }
}
