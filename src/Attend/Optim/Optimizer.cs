namespace Attend.Optim;

/// <summary>
/// The base of every optimizer, as <c>torch.optim.Optimizer</c>: parameter groups with their hyper-parameters, a
/// <see cref="Step"/> that updates every parameter that has a gradient, <see cref="ZeroGrad"/>, and a state dict for
/// checkpoints. Parameters are named (as <c>Module.NamedParameters()</c> yields them) and the state is keyed by name,
/// so a checkpoint stays readable and survives a change in parameter order.
/// <para>
/// Parameters must be float32, contiguous leaf tensors, each listed once. A parameter whose <see cref="Tensor.Grad"/>
/// is null at a step is skipped, and its own step count does not advance (as PyTorch). Per-parameter state
/// (momentum buffers, moment averages) is allocated at the parameter's first update and reused after: a step
/// allocates nothing. <see cref="Step"/> writes parameter memory directly, not through tensor operations, so it records
/// nothing on the autograd tape — the effect of PyTorch's <c>@torch.no_grad()</c> on <c>step()</c>.
/// </para>
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<ParamGroup> groups = new();
    private readonly List<ParamState[]> states = new();
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly HashSet<Tensor> tensors = new(ReferenceEqualityComparer.Instance);

    /// <summary>Builds the optimizer over <paramref name="paramGroups"/>; every hyper-parameter a group leaves null is
    /// set from <paramref name="defaults"/> (a group with no parameters holding the constructor's arguments).</summary>
    protected Optimizer(IEnumerable<ParamGroup> paramGroups, ParamGroup defaults)
    {
        ArgumentNullException.ThrowIfNull(paramGroups);
        ArgumentNullException.ThrowIfNull(defaults);
        Defaults = defaults;
        foreach (var g in paramGroups) AddParamGroup(g);
        if (groups.Sum(g => g.Parameters.Count) == 0)
            throw new ArgumentException($"{GetType().Name}: got an empty parameter list", nameof(paramGroups));
    }

    /// <summary>The hyper-parameters a group falls back to where it leaves one null.</summary>
    protected ParamGroup Defaults { get; }

    /// <summary>The parameter groups, in order (as PyTorch's <c>param_groups</c>).</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => groups;

    /// <summary>How many times <see cref="Step"/> has run (restored by <see cref="LoadStateDict"/>). An
    /// <see cref="LrScheduler"/> reads it, so a resumed run continues its schedule where it stopped.</summary>
    public long StepCount { get; private set; }

    /// <summary>The names of the per-parameter state tensors, e.g. <c>exp_avg</c> and <c>exp_avg_sq</c> for Adam.</summary>
    protected abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>Whether a parameter that has taken a step always has state tensor <paramref name="index"/>
    /// (Adam's averages do; SGD's momentum buffer exists only when momentum is on).</summary>
    protected virtual bool StateRequired(int index) => true;

    /// <summary>Checks the hyper-parameters of a group beyond the ranges <see cref="ParamGroup"/> enforces itself
    /// (runs at construction and at every step, so a changed group is caught before it is used).</summary>
    protected virtual void ValidateGroup(ParamGroup group, int index) { }

    /// <summary>Updates one parameter: <paramref name="state"/>.Step has already been advanced to this step's number
    /// (1 at the parameter's first update); <paramref name="grad"/> is contiguous with the parameter's shape.</summary>
    protected abstract void Update(ParamGroup group, ParamState state, Tensor grad);

    /// <summary>Adds a group (as PyTorch's <c>add_param_group</c>, e.g. to unfreeze layers while fine-tuning).</summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (groups.Contains(group)) throw new ArgumentException("this parameter group is already in the optimizer", nameof(group));
        var newNames = new HashSet<string>(StringComparer.Ordinal);
        var newTensors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in group.Parameters)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("a parameter has a null or empty name", nameof(group));
            if (p is null) throw new ArgumentException($"parameter '{name}' is null", nameof(group));
            if (p.IsDisposed) throw new ArgumentException($"parameter '{name}' has been disposed", nameof(group));
            if (p.DType != DType.Float32)
                throw new ArgumentException($"parameter '{name}' is {p.DType.Name()}; optimizers update float32 tensors only", nameof(group));
            if (!p.IsLeaf)
                throw new ArgumentException($"parameter '{name}' is not a leaf tensor (it was computed by a recorded operation); optimize the leaf, or Detach() it", nameof(group));
            if (!p.IsContiguous)
                throw new ArgumentException($"parameter '{name}' {Shapes.Str(p.ShapeRef)} is not contiguous; optimizers update contiguous tensors only", nameof(group));
            if (names.Contains(name) || !newNames.Add(name))
                throw new ArgumentException($"parameter name '{name}' is listed twice; every parameter must appear once, under one name", nameof(group));
            if (tensors.Contains(p) || !newTensors.Add(p))
                throw new ArgumentException($"parameter '{name}' is a tensor already listed (under another name); every parameter must appear once", nameof(group));
        }
        // Fill what the group leaves open, then check the combination, before the group is taken in.
        group.Lr ??= Defaults.Lr;
        group.WeightDecay ??= Defaults.WeightDecay;
        group.Momentum ??= Defaults.Momentum;
        group.Dampening ??= Defaults.Dampening;
        group.Nesterov ??= Defaults.Nesterov;
        group.Betas ??= Defaults.Betas;
        group.Eps ??= Defaults.Eps;
        ValidateGroup(group, groups.Count);

        names.UnionWith(newNames);
        tensors.UnionWith(newTensors);
        groups.Add(group);
        states.Add(group.Parameters.Select(np => new ParamState(np.Name, np.Param, StateNames.Count)).ToArray());
    }

    /// <summary>The learning rate: reads the first group's, sets every group's (what a schedule does).</summary>
    public double Lr
    {
        get => groups[0].Lr ?? Defaults.Lr ?? 0;
        set
        {
            if (!(value >= 0)) throw new ArgumentOutOfRangeException(nameof(value), value, $"Lr must be ≥ 0, got {value}");
            foreach (var g in groups) g.Lr = value;
        }
    }

    /// <summary>One optimization step: updates every parameter that has a gradient (as <c>optimizer.step()</c>).</summary>
    public void Step()
    {
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var group = groups[gi];
            ValidateGroup(group, gi);
            foreach (var s in states[gi])
            {
                var grad = s.Param.Grad;
                if (grad is null) continue;
                s.Step++;
                if (grad.IsContiguous) Update(group, s, grad);
                else { using var c = grad.ContiguousRaw(); Update(group, s, c); }   // rare: a grad set to a view
            }
        }
        StepCount++;
    }

    /// <summary>Drops every parameter's gradient (as PyTorch's <c>zero_grad(set_to_none=True)</c>).</summary>
    public void ZeroGrad()
    {
        foreach (var g in groups)
            foreach (var (_, p) in g.Parameters) p.ZeroGrad();
    }

    // ---- state dict --------------------------------------------------------------------------------------------

    /// <summary>
    /// A snapshot of the optimizer state, for checkpoints: copies, so later steps do not change it.
    /// <list type="bullet">
    /// <item><c>step</c>: int64 0-d, <see cref="StepCount"/>.</item>
    /// <item><c>state.{name}.step</c>: int64 0-d, how many updates parameter <c>name</c> has taken (only for
    /// parameters that have taken one).</item>
    /// <item><c>state.{name}.{buffer}</c>: float32, the parameter's shape, one per <see cref="StateNames"/> entry
    /// that exists (<c>exp_avg</c>, <c>exp_avg_sq</c>, <c>momentum_buffer</c>).</item>
    /// </list>
    /// Hyper-parameters are not in it: build the optimizer with the same arguments when resuming, and let a
    /// <see cref="LrScheduler"/> set the learning rate from the restored <see cref="StepCount"/>.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["step"] = Int64Scalar(StepCount) };
        var bufferNames = StateNames;
        foreach (var group in states)
            foreach (var s in group)
            {
                if (s.Step == 0 && s.Buffers.All(b => b is null)) continue;
                d[$"state.{s.Name}.step"] = Int64Scalar(s.Step);
                for (int i = 0; i < bufferNames.Count; i++)
                    if (s.Buffers[i] is { } b) d[$"state.{s.Name}.{bufferNames[i]}"] = b.CloneRaw();
            }
        return d;
    }

    /// <summary>
    /// Restores a <see cref="StateDict"/> (copying from it), so that the next <see cref="Step"/> continues exactly —
    /// bit for bit — where the saved optimizer stopped. Parameters the dict has no state for start afresh.
    /// Everything is checked before anything changes: a key that names no parameter or state, a wrong dtype or
    /// shape, or a parameter with a step count but missing buffers throws <see cref="ArgumentException"/>.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var byName = new Dictionary<string, ParamState>(StringComparer.Ordinal);
        foreach (var group in states) foreach (var s in group) byName[s.Name] = s;
        var bufferNames = StateNames;

        // 1) Parse and check every entry.
        if (!stateDict.TryGetValue("step", out var stepT)) throw new ArgumentException("state dict has no 'step' entry", nameof(stateDict));
        long stepCount = ReadStep("step", stepT);
        var steps = new Dictionary<ParamState, long>();
        var buffers = new Dictionary<ParamState, Tensor?[]>();
        foreach (var (key, t) in stateDict)
        {
            if (key == "step") continue;
            if (t is null) throw new ArgumentException($"state dict entry '{key}' is null", nameof(stateDict));
            int dot = key.LastIndexOf('.');
            if (!key.StartsWith("state.", StringComparison.Ordinal) || dot <= "state.".Length)
                throw new ArgumentException($"unexpected key '{key}' in the state dict of {GetType().Name} (expected 'step' or 'state.<parameter>.<state>')", nameof(stateDict));
            string name = key["state.".Length..dot], field = key[(dot + 1)..];
            if (!byName.TryGetValue(name, out var s))
                throw new ArgumentException($"state dict entry '{key}': this {GetType().Name} has no parameter named '{name}'", nameof(stateDict));
            if (field == "step") { steps[s] = ReadStep(key, t); continue; }
            int bi = IndexOf(bufferNames, field);
            if (bi < 0)
                throw new ArgumentException($"state dict entry '{key}': {GetType().Name} keeps no state '{field}' (it keeps {string.Join(", ", bufferNames)})", nameof(stateDict));
            if (t.DType != DType.Float32 || !Shapes.Equal(t.ShapeRef, s.Param.ShapeRef))
                throw new ArgumentException($"state dict entry '{key}' is {t.DType.Name()} {Shapes.Str(t.ShapeRef)}, but parameter '{name}' is float32 {Shapes.Str(s.Param.ShapeRef)}", nameof(stateDict));
            if (!buffers.TryGetValue(s, out var arr)) buffers[s] = arr = new Tensor?[bufferNames.Count];
            arr[bi] = t;
        }
        foreach (var s in byName.Values)
        {
            bool hasBuffers = buffers.ContainsKey(s);
            if (!steps.TryGetValue(s, out long st))
            {
                if (hasBuffers) throw new ArgumentException($"state dict has state for parameter '{s.Name}' but no 'state.{s.Name}.step'", nameof(stateDict));
                continue;
            }
            for (int i = 0; i < bufferNames.Count; i++)
                if (st > 0 && StateRequired(i) && (!hasBuffers || buffers[s][i] is null))
                    throw new ArgumentException($"state dict has no 'state.{s.Name}.{bufferNames[i]}' for parameter '{s.Name}', which has taken {st} steps", nameof(stateDict));
        }

        // 2) Apply.
        foreach (var s in byName.Values)
        {
            s.Step = steps.TryGetValue(s, out long st) ? st : 0;
            var given = buffers.GetValueOrDefault(s);
            for (int i = 0; i < bufferNames.Count; i++)
            {
                if (given?[i] is { } src)
                {
                    var dst = s.Buffers[i] ??= NewState(s.Param);
                    dst.CopyFrom(src);
                }
                else
                {
                    s.Buffers[i]?.Dispose();
                    s.Buffers[i] = null;
                }
            }
        }
        StepCount = stepCount;
    }

    private static long ReadStep(string key, Tensor t)
    {
        if (t.DType != DType.Int64 || t.Rank != 0)
            throw new ArgumentException($"state dict entry '{key}' must be a 0-d int64 tensor, got {t.DType.Name()} {Shapes.Str(t.ShapeRef)}");
        long v = t.ToInt64Array()[0];
        if (v < 0) throw new ArgumentException($"state dict entry '{key}' is negative ({v})");
        return v;
    }

    private static int IndexOf(IReadOnlyList<string> list, string s)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == s) return i;
        return -1;
    }

    private static Tensor Int64Scalar(long v) => Tensor.FromArray(new[] { v }, Array.Empty<int>());

    /// <summary>A zero-filled state tensor shaped like <paramref name="param"/>, owned by the optimizer (never by an
    /// enclosing <see cref="TensorScope"/>, which would free it at the end of the step that allocated it).</summary>
    protected internal static Tensor NewState(Tensor param)
    {
        var t = Tensor.Zeros(param.ShapeRef);
        t.Scope = null;
        return t;
    }

    /// <summary>Frees the state tensors (not the parameters).</summary>
    public void Dispose()
    {
        foreach (var group in states)
            foreach (var s in group)
                for (int i = 0; i < s.Buffers.Length; i++) { s.Buffers[i]?.Dispose(); s.Buffers[i] = null; }
        GC.SuppressFinalize(this);
    }

    /// <summary>One parameter and its state: the update count and the optimizer's state tensors (null until first
    /// needed), in the order of <see cref="StateNames"/>.</summary>
    public sealed class ParamState
    {
        internal ParamState(string name, Tensor param, int buffers)
        {
            Name = name; Param = param; Buffers = new Tensor?[buffers];
        }

        /// <summary>The parameter's name, as given to the optimizer; it keys the state dict (<c>state.{name}.…</c>).</summary>
        public string Name { get; }
        /// <summary>The parameter tensor itself, updated in place.</summary>
        public Tensor Param { get; }
        /// <summary>Updates taken, counting this one inside <see cref="Update"/> (PyTorch's <c>state['step']</c>).</summary>
        public long Step { get; internal set; }
        /// <summary>The state tensors, one slot per <see cref="StateNames"/> entry, each shaped like <see cref="Param"/>
        /// (float32) or null while not allocated.</summary>
        public Tensor?[] Buffers { get; }
    }
}
