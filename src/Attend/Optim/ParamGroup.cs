namespace Attend.Optim;

/// <summary>
/// A list of named parameters that share hyper-parameters, as one entry of PyTorch's <c>optimizer.param_groups</c>.
/// A hyper-parameter left null takes the optimizer's default (the value its constructor was given), so
/// <c>new ParamGroup(noDecay) { WeightDecay = 0 }</c> overrides only the weight decay. Each optimizer reads the
/// hyper-parameters it knows and ignores the rest (Adam has no momentum, SGD no betas).
/// Setters reject values no optimizer accepts (a negative learning rate, betas outside [0, 1), eps ≤ 0…);
/// the optimizer checks the rest (nesterov needs momentum) at construction and at every step.
/// </summary>
public sealed class ParamGroup
{
    private double? lr, weightDecay, momentum, dampening, eps;
    private (double Beta1, double Beta2)? betas;

    /// <summary>A group of named parameters, with every hyper-parameter at the optimizer's default.</summary>
    public ParamGroup(IEnumerable<(string Name, Tensor Param)> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToArray();
    }

    /// <summary>The parameters, in the order given (their names key the optimizer's state dict).</summary>
    public IReadOnlyList<(string Name, Tensor Param)> Parameters { get; }

    /// <summary>Learning rate, ≥ 0.</summary>
    public double? Lr { get => lr; set => lr = Check(value, v => v >= 0, "Lr", "must be ≥ 0"); }

    /// <summary>Weight decay, ≥ 0: L2 added to the gradient (SGD, Adam) or decoupled (AdamW).</summary>
    public double? WeightDecay { get => weightDecay; set => weightDecay = Check(value, v => v >= 0, "WeightDecay", "must be ≥ 0"); }

    /// <summary>SGD momentum factor, ≥ 0 (0 = plain SGD).</summary>
    public double? Momentum { get => momentum; set => momentum = Check(value, v => v >= 0, "Momentum", "must be ≥ 0"); }

    /// <summary>SGD dampening of the gradient added to the momentum buffer, ≥ 0.</summary>
    public double? Dampening { get => dampening; set => dampening = Check(value, v => v >= 0, "Dampening", "must be ≥ 0"); }

    /// <summary>SGD Nesterov momentum (needs momentum &gt; 0 and dampening = 0).</summary>
    public bool? Nesterov { get; set; }

    /// <summary>Adam's (β₁, β₂), the decay rates of the first and second moment averages, each in [0, 1).</summary>
    public (double Beta1, double Beta2)? Betas
    {
        get => betas;
        set
        {
            if (value is { } b)
            {
                Check(b.Beta1, v => v >= 0 && v < 1, "Betas.Beta1", "must be in [0, 1)");
                Check(b.Beta2, v => v >= 0 && v < 1, "Betas.Beta2", "must be in [0, 1)");
            }
            betas = value;
        }
    }

    /// <summary>Adam's ε, added to √v̂ in the denominator, &gt; 0.</summary>
    public double? Eps { get => eps; set => eps = Check(value, v => v > 0, "Eps", "must be > 0"); }

    private static double? Check(double? value, Func<double, bool> ok, string name, string rule)
    {
        if (value is { } v && !ok(v))   // NaN fails every rule
            throw new ArgumentOutOfRangeException(name, v, $"{name} {rule}, got {v}");
        return value;
    }
}
