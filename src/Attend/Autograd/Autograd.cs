namespace Attend;

/// <summary>Switches for the autograd tape.</summary>
public static class Autograd
{
    [ThreadStatic] private static int noGradDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsGradEnabled => noGradDepth == 0;

    /// <summary>Operations inside the returned scope record nothing (as <c>torch.no_grad()</c>).</summary>
    public static IDisposable NoGrad() => new NoGradScope();

    private sealed class NoGradScope : IDisposable
    {
        private bool done;
        public NoGradScope() => noGradDepth++;
        public void Dispose() { if (!done) { done = true; noGradDepth--; } }
    }

    /// <summary>Whether an op on these inputs must record itself on the tape.</summary>
    internal static bool ShouldRecord(Tensor a) => IsGradEnabled && a.RequiresGrad;
    internal static bool ShouldRecord(Tensor a, Tensor b) => IsGradEnabled && (a.RequiresGrad || b.RequiresGrad);
    internal static bool ShouldRecord(ReadOnlySpan<Tensor?> ts)
    {
        if (!IsGradEnabled) return false;
        foreach (var t in ts) if (t is not null && t.RequiresGrad) return true;
        return false;
    }
}

/// <summary>
/// One recorded operation: its inputs and the function that maps the gradient of its output to the gradients of its
/// inputs (one entry per input, null where the input needs none). The closure holds exactly what the backward needs.
/// </summary>
internal sealed class Node
{
    public readonly string Op;
    public readonly Tensor?[] Inputs;
    public Func<Tensor, Tensor?[]>? BackwardFn;   // null once the graph has been freed by a backward pass
    /// <summary>Optional, for ops whose output is a slice of their single input (narrow): adds the output's gradient
    /// into the input's gradient buffer in place, <c>acc[slice] += g</c>, instead of building a zero-padded
    /// full-size gradient to be summed with the others (q, k, v cut from one projection).</summary>
    public Action<Tensor, Tensor>? AccumulateInto;

    public Node(string op, Tensor?[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        Op = op; Inputs = inputs; BackwardFn = backward;
    }

    public bool NeedsGrad(int i) => Inputs[i] is { RequiresGrad: true };
}
