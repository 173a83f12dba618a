using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Optim;

/// <summary>
/// Adam (Kingma &amp; Ba, 2015) with L2 weight decay added to the gradient — exactly <c>torch.optim.Adam</c>
/// (amsgrad off). For each parameter p with gradient g, at its t-th update (t = 1, 2, …), with learning rate γ,
/// betas (β₁, β₂), ε and weight decay λ:
/// <code>
/// g ← g + λ·p                      (if λ ≠ 0; p.Grad itself is left unchanged)
/// m ← β₁·m + (1 − β₁)·g            (exp_avg, starts at 0)
/// v ← β₂·v + (1 − β₂)·g²           (exp_avg_sq, starts at 0)
/// p ← p − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// ε is added outside the square root, after the bias correction of v, as PyTorch does. The scalars
/// γ/(1 − β₁ᵗ) and √(1 − β₂ᵗ) are computed in double, then the elementwise update runs in float32.
/// State: <c>exp_avg</c> (m), <c>exp_avg_sq</c> (v) and the per-parameter step t.
/// Note: unlike PyTorch, which allows ε = 0, ε must be &gt; 0 (with ε = 0 a parameter whose gradient has always
/// been 0 would become 0/0 = NaN).
/// </summary>
public sealed class Adam : Optimizer
{
    internal static readonly string[] Names = { "exp_avg", "exp_avg_sq" };

    /// <summary>Adam over named parameters (one group).</summary>
    public Adam(IEnumerable<(string Name, Tensor Param)> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0)
        : this(new[] { new ParamGroup(parameters) }, lr, betas, eps, weightDecay) { }

    /// <summary>Adam over parameter groups; the arguments are the defaults for what a group leaves null.
    /// <paramref name="betas"/> defaults to (0.9, 0.999).</summary>
    public Adam(IEnumerable<ParamGroup> paramGroups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0)
        : base(paramGroups, new ParamGroup(Array.Empty<(string, Tensor)>())
        {
            Lr = lr, Betas = betas ?? (0.9, 0.999), Eps = eps, WeightDecay = weightDecay,
        })
    { }

    /// <inheritdoc/>
    /// <remarks><c>exp_avg</c> (m) and <c>exp_avg_sq</c> (v), as in <c>torch.optim.Adam</c>'s state.</remarks>
    protected override IReadOnlyList<string> StateNames => Names;

    /// <inheritdoc/>
    /// <remarks>One Adam step of the class formula, with the weight decay added to the gradient (L2).</remarks>
    protected override void Update(ParamGroup group, ParamState state, Tensor grad) =>
        AdamUpdate.Apply(group, Defaults, state, grad, decoupled: false);
}

/// <summary>The update Adam and AdamW share; they differ only in where the weight decay goes.</summary>
internal static class AdamUpdate
{
    public static unsafe void Apply(ParamGroup group, ParamGroup defaults, Optimizer.ParamState state, Tensor grad, bool decoupled)
    {
        double lr = group.Lr ?? defaults.Lr!.Value;
        var (beta1, beta2) = group.Betas ?? defaults.Betas!.Value;
        double eps = group.Eps ?? defaults.Eps!.Value;
        double weightDecay = group.WeightDecay ?? defaults.WeightDecay!.Value;

        var m = state.Buffers[0] ??= Optimizer.NewState(state.Param);
        var v = state.Buffers[1] ??= Optimizer.NewState(state.Param);
        double t = state.Step;
        double biasCorrection1 = 1 - Math.Pow(beta1, t);
        double biasCorrection2 = 1 - Math.Pow(beta2, t);
        double stepSize = lr / biasCorrection1;
        Kernel(state.Param.Data, grad.Data, m.Data, v.Data, state.Param.NumEl,
            l2: decoupled ? 0f : (float)weightDecay,
            decay: decoupled ? (float)(1 - lr * weightDecay) : 1f,
            (float)beta1, (float)(1 - beta1), (float)beta2, (float)(1 - beta2),
            (float)Math.Sqrt(biasCorrection2), (float)eps, (float)-stepSize);
    }

    /// <summary>The fused elementwise update of one contiguous parameter:
    /// <c>g += l2·p; p *= decay; m = β₁·m + (1−β₁)·g; v = β₂·v + (1−β₂)·g²; p += negStepSize · m / (√v / bc2Sqrt + ε)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Kernel(float* p, float* g, float* m, float* v, int n, float l2, float decay,
        float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float bc2Sqrt, float eps, float negStepSize)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vl2 = Vector256.Create(l2);
            var vdecay = Vector256.Create(decay);
            var b1 = Vector256.Create(beta1);
            var c1 = Vector256.Create(oneMinusBeta1);
            var b2 = Vector256.Create(beta2);
            var c2 = Vector256.Create(oneMinusBeta2);
            var bc2 = Vector256.Create(bc2Sqrt);
            var ve = Vector256.Create(eps);
            var step = Vector256.Create(negStepSize);
            for (; i <= n - 8; i += 8)
            {
                var pv = Vector256.Load(p + i);
                var gv = Vector256.Load(g + i);
                if (l2 != 0) gv += vl2 * pv;
                pv *= vdecay;
                var mv = Vector256.Load(m + i) * b1 + c1 * gv;
                var vv = Vector256.Load(v + i) * b2 + c2 * gv * gv;
                mv.Store(m + i);
                vv.Store(v + i);
                var denom = Vector256.Sqrt(vv) / bc2 + ve;
                (pv + step * (mv / denom)).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float gi = g[i], pi = p[i];
            if (l2 != 0) gi += l2 * pi;
            pi *= decay;
            float mi = m[i] * beta1 + oneMinusBeta1 * gi;
            float vi = v[i] * beta2 + oneMinusBeta2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            float denom = MathF.Sqrt(vi) / bc2Sqrt + eps;
            p[i] = pi + negStepSize * (mi / denom);
        }
    }
}
