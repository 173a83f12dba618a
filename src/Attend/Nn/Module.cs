using System.Text;

namespace Attend.Nn;

/// <summary>A module with one tensor in and one out, so that it can sit in a <see cref="Sequential"/>.</summary>
public interface IUnaryModule
{
    /// <summary>Applies the module to <paramref name="x"/> and returns its output.</summary>
    Tensor Forward(Tensor x);
}

/// <summary>
/// Base of every layer and model, as torch.nn.Module: named parameters, buffers and submodules registered in order,
/// dotted state-dict names identical to PyTorch's (so safetensors files move between the two), train/eval mode.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Tensor)> parameters = new();
    private readonly List<(string Name, Tensor Tensor, bool Persistent)> buffers = new();
    private readonly List<(string Name, Module Module)> children = new();

    /// <summary>True in training mode (dropout active), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>This module's dotted name under the outermost module that holds it ("" for that one), e.g.
    /// <c>transformer.decoder.layers.1.multihead_attn</c>: its state-dict prefix, and the site name its attention calls
    /// carry (<see cref="Attention.AttentionOptions.Site"/>). Kept up to date as modules are registered.</summary>
    public string Path { get; private set; } = "";

    /// <summary>Registers a trainable tensor (it becomes a leaf that requires grad) under <paramref name="name"/>.</summary>
    protected Tensor RegisterParameter(string name, Tensor t)
    {
        CheckName(name);
        if (t.DType != DType.Float32) throw new ArgumentException($"parameter '{name}' must be float32, got {t.DType.Name()}");
        if (!t.IsLeaf) throw new ArgumentException($"parameter '{name}' must be a leaf tensor (use Detach())");
        t.RequiresGrad = true;
        parameters.Add((name, t));
        return t;
    }

    /// <summary>Registers a non-trainable tensor (running statistics, fixed tables). Non-persistent buffers stay out of the state dict.</summary>
    protected Tensor RegisterBuffer(string name, Tensor t, bool persistent = true)
    {
        CheckName(name);
        buffers.Add((name, t, persistent));
        return t;
    }

    /// <summary>Registers <paramref name="module"/> as a submodule under <paramref name="name"/> (its parameters and buffers
    /// then appear as <c>name.…</c>), sets its <see cref="Path"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        children.Add((name, module));
        module.SetPath(Join(Path, name));
        return module;
    }

    private void SetPath(string path)
    {
        Path = path;
        foreach (var (n, m) in children) m.SetPath(Join(path, n));
    }

    /// <summary>The site an attention call of this module carries: its <see cref="Path"/>, or its type name when it is
    /// the outermost module.</summary>
    protected string SiteName => Path.Length > 0 ? Path : GetType().Name;

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: invalid name '{name}' (non-empty, no dots)");
        if (parameters.Any(p => p.Name == name) || buffers.Any(b => b.Name == name) || children.Any(c => c.Name == name))
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered");
    }

    /// <summary>Direct submodules in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => children;

    /// <summary>This module and every submodule, with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix, this);
        foreach (var (n, m) in children)
            foreach (var x in m.NamedModules(Join(prefix, n))) yield return x;
    }

    /// <summary>All parameters with dotted names, each tensor once (a shared parameter under its first name).</summary>
    public IEnumerable<(string Name, Tensor Param)> NamedParameters()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (n, p) in m.parameters)
                if (seen.Add(p)) yield return (Join(prefix, n), p);
    }

    /// <summary>The tensors of <see cref="NamedParameters"/>, without their names.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Param);

    /// <summary>All buffers of this module and its submodules with dotted names; with <paramref name="persistentOnly"/>, only
    /// those that go into the state dict.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(bool persistentOnly = false)
    {
        foreach (var (prefix, m) in NamedModules())
            foreach (var (n, b, persistent) in m.buffers)
                if (persistent || !persistentOnly) yield return (Join(prefix, n), b);
    }

    /// <summary>Number of trainable elements.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.NumEl);

    /// <summary>Parameters and persistent buffers by dotted name (the tensors themselves, not copies), as PyTorch's state_dict().
    /// A parameter shared by two modules appears under each name.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (prefix, m) in NamedModules())
        {
            foreach (var (n, p) in m.parameters) d[Join(prefix, n)] = p;
            foreach (var (n, b, persistent) in m.buffers) if (persistent) d[Join(prefix, n)] = b;
        }
        return d;
    }

    /// <summary>What <see cref="LoadStateDict"/> did not match (empty lists when everything matched).</summary>
    public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

    /// <summary>
    /// Copies values into this module's parameters and buffers, by name. A tensor whose shape differs is always an
    /// error; with <paramref name="strict"/>, so is any missing or unexpected name — one exception lists every problem
    /// with names and shapes. Without strict, the unmatched names are returned. Nothing is changed when it throws.
    /// </summary>
    public LoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true) =>
        LoadStateDictInto(StateDict(), stateDict, strict);

    /// <summary><see cref="LoadStateDict"/> into <paramref name="own"/>: this module's tensors by name, some perhaps as
    /// views in another layout (a checkpoint format's shapes), so that every check and message speaks that layout.</summary>
    private protected LoadResult LoadStateDictInto(Dictionary<string, Tensor> own, IReadOnlyDictionary<string, Tensor> stateDict, bool strict)
    {
        var missing = own.Keys.Where(k => !stateDict.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = stateDict.Keys.Where(k => !own.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var problems = new List<string>();
        foreach (var (k, t) in own)
        {
            if (!stateDict.TryGetValue(k, out var src)) continue;
            if (!Shapes.Equal(src.ShapeRef, t.ShapeRef))
                problems.Add($"size mismatch for {k}: checkpoint has {Shapes.Str(src.ShapeRef)}, this model has {Shapes.Str(t.ShapeRef)}");
            else if (src.DType != t.DType)
                problems.Add($"dtype mismatch for {k}: checkpoint has {src.DType.Name()}, this model has {t.DType.Name()}");
        }
        if (strict)
        {
            problems.AddRange(missing.Select(k => $"missing key: {k} {Shapes.Str(own[k].ShapeRef)}"));
            problems.AddRange(unexpected.Select(k => $"unexpected key: {k} {Shapes.Str(stateDict[k].ShapeRef)}"));
        }
        if (problems.Count > 0)
            throw new ArgumentException($"Error(s) in loading state dict for {GetType().Name}:\n  " + string.Join("\n  ", problems));
        using (Autograd.NoGrad())
            foreach (var (k, t) in own)
                if (stateDict.TryGetValue(k, out var src)) t.CopyFrom(src);
        return new LoadResult(missing, unexpected);
    }

    /// <summary>Sets training mode here and in every submodule.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = mode;
        return this;
    }

    /// <summary>Sets evaluation mode here and in every submodule (<c>Train(false)</c>) and returns this module.</summary>
    public Module Eval() => Train(false);

    /// <summary>Drops every parameter's gradient (set_to_none, as PyTorch's default).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>A one-line description of this module's own settings (e.g. "in_features=4, out_features=3").</summary>
    protected virtual string ExtraRepr() => "";

    /// <summary>This module's type and settings, with its submodules indented beneath, in the layout of PyTorch's module repr.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        Describe(sb, "");
        return sb.ToString().TrimEnd();
    }

    private void Describe(StringBuilder sb, string indent)
    {
        sb.Append(GetType().Name).Append('(').Append(ExtraRepr());
        if (children.Count == 0) { sb.AppendLine(")"); return; }
        sb.AppendLine();
        foreach (var (n, m) in children)
        {
            sb.Append(indent).Append("  (").Append(n).Append("): ");
            m.Describe(sb, indent + "  ");
        }
        sb.Append(indent).AppendLine(")");
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;
}

/// <summary>Modules applied one after another; children are named "0", "1", … as torch.nn.Sequential.</summary>
public sealed class Sequential : Module, IUnaryModule
{
    private readonly List<IUnaryModule> layers = new();

    /// <summary>Registers <paramref name="modules"/> as children "0", "1", …; each must also be a <see cref="Module"/>.</summary>
    public Sequential(params IUnaryModule[] modules)
    {
        for (int i = 0; i < modules.Length; i++)
        {
            if (modules[i] is not Module m) throw new ArgumentException($"Sequential: element {i} is not a Module");
            RegisterModule(i.ToString(), m);
            layers.Add(modules[i]);
        }
    }

    /// <inheritdoc/>
    public Tensor Forward(Tensor x)
    {
        foreach (var l in layers) x = l.Forward(x);
        return x;
    }
}

/// <summary>Named submodules, as torch.nn.ModuleDict (state-dict names <c>name.…</c>).</summary>
public sealed class ModuleDict : Module
{
    /// <summary>Registers <paramref name="module"/> under <paramref name="name"/> and returns it.</summary>
    public T Add<T>(string name, T module) where T : Module => RegisterModule(name, module);
}
