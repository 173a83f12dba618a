namespace Attend;

/// <summary>
/// Disposes, when it ends, every tensor created on this thread while it was the innermost scope — activations, graph
/// temporaries, intermediate gradients — except those moved out with <see cref="Keep"/>. Parameters and leaf gradients
/// (<see cref="Tensor.Grad"/>) are never owned by a scope. Typical training step:
/// <code>using (Tensor.NewScope()) { var loss = model.Forward(x); loss.Backward(); opt.Step(); }</code>
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? current;
    private readonly TensorScope? outer;
    private readonly List<Tensor> owned = new();
    private bool disposed;

    internal TensorScope() { outer = current; current = this; }

    internal static void Register(Tensor t)
    {
        var s = current;
        if (s is null) return;
        t.Scope = s;
        s.owned.Add(t);
    }

    /// <summary>Takes <paramref name="t"/> out of this scope and hands it to the enclosing scope (or to nobody: the
    /// caller then owns it). Returns <paramref name="t"/>.</summary>
    public Tensor Keep(Tensor t)
    {
        if (t.Scope == this)
        {
            t.Scope = outer;
            outer?.owned.Add(t);
        }
        return t;
    }

    /// <inheritdoc/>
    /// <remarks>Ends the scope: disposes every tensor it still owns (all but those moved out with <see cref="Keep"/>)
    /// and, if it is the innermost scope, makes the enclosing one current again. Safe to call twice.</remarks>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (current == this) current = outer;
        foreach (var t in owned)
            if (t.Scope == this) t.Dispose();
        owned.Clear();
    }
}
