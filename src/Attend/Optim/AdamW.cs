namespace Attend.Optim;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, 2019): Adam with decoupled weight decay — exactly <c>torch.optim.AdamW</c>
/// (amsgrad off). For each parameter p with gradient g, at its t-th update (t = 1, 2, …), with learning rate γ,
/// betas (β₁, β₂), ε and weight decay λ:
/// <code>
/// p ← p · (1 − γ·λ)                (decoupled decay, before the Adam step; the gradient is not touched)
/// m ← β₁·m + (1 − β₁)·g            (exp_avg, starts at 0)
/// v ← β₂·v + (1 − β₂)·g²           (exp_avg_sq, starts at 0)
/// p ← p − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// The decay is scaled by the current learning rate, so a schedule decays it too. Biases and norm weights are
/// usually left undecayed: <see cref="Groups"/> splits parameters the way nanoGPT does.
/// State: <c>exp_avg</c>, <c>exp_avg_sq</c> and the per-parameter step t. ε must be &gt; 0 (PyTorch allows 0).
/// </summary>
public sealed class AdamW : Optimizer
{
    /// <summary>AdamW over named parameters (one group, every parameter decayed).</summary>
    public AdamW(IEnumerable<(string Name, Tensor Param)> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 1e-2)
        : this(new[] { new ParamGroup(parameters) }, lr, betas, eps, weightDecay) { }

    /// <summary>AdamW over parameter groups (e.g. from <see cref="Groups"/>); the arguments are the defaults for what
    /// a group leaves null. <paramref name="betas"/> defaults to (0.9, 0.999).</summary>
    public AdamW(IEnumerable<ParamGroup> paramGroups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 1e-2)
        : base(paramGroups, new ParamGroup(Array.Empty<(string, Tensor)>())
        {
            Lr = lr, Betas = betas ?? (0.9, 0.999), Eps = eps, WeightDecay = weightDecay,
        })
    { }

    /// <inheritdoc/>
    /// <remarks><c>exp_avg</c> (m) and <c>exp_avg_sq</c> (v), as in <c>torch.optim.AdamW</c>'s state.</remarks>
    protected override IReadOnlyList<string> StateNames => Adam.Names;

    /// <inheritdoc/>
    /// <remarks>One AdamW step of the class formula: p scaled by 1 − γ·λ, then the Adam step on the unchanged gradient.</remarks>
    protected override void Update(ParamGroup group, ParamState state, Tensor grad) =>
        AdamUpdate.Apply(group, Defaults, state, grad, decoupled: true);

    /// <summary>
    /// nanoGPT's split (<c>configure_optimizers</c>): group 0 holds every parameter with 2 or more dimensions
    /// (matmul weights, embeddings) and decays with <paramref name="weightDecay"/>; group 1 holds those with fewer
    /// (biases, LayerNorm/RMSNorm weights) and does not decay. Parameters that do not require grad are left out, as
    /// nanoGPT does. Both groups are always returned (either may be empty), so their indices are stable.
    /// </summary>
    public static IReadOnlyList<ParamGroup> Groups(IEnumerable<(string Name, Tensor Param)> parameters, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var all = parameters.Where(np => np.Param is null || np.Param.RequiresGrad).ToArray();  // null: reported by the optimizer
        return new[]
        {
            new ParamGroup(all.Where(np => np.Param is null || np.Param.Rank >= 2)) { WeightDecay = weightDecay },
            new ParamGroup(all.Where(np => np.Param is not null && np.Param.Rank < 2)) { WeightDecay = 0 },
        };
    }
}
