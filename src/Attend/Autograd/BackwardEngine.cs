namespace Attend;

/// <summary>
/// Reverse-mode pass over the recorded graph: topological order from the root, each node's backward applied once
/// to the sum of the gradients that reached its output, leaf gradients accumulated into <see cref="Tensor.Grad"/>.
/// Intermediate gradients are disposed as soon as they are consumed; the graph is freed unless retainGraph is set.
/// </summary>
internal static class BackwardEngine
{
    public static void Run(Tensor root, Tensor? gradient, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward: tensor {Shapes.Str(root.ShapeRef)} does not require grad and has no grad function");
        if (gradient is null)
        {
            if (root.NumEl != 1)
                throw new InvalidOperationException($"Backward: gradient can be implicitly created only for a scalar output, but the output has shape {Shapes.Str(root.ShapeRef)}; pass a gradient of that shape");
        }
        else
        {
            if (!Shapes.Equal(gradient.ShapeRef, root.ShapeRef))
                throw new ArgumentException($"Backward: gradient shape {Shapes.Str(gradient.ShapeRef)} does not match output shape {Shapes.Str(root.ShapeRef)}");
            if (gradient.DType != DType.Float32) throw new ArgumentException($"Backward: gradient must be float32, got {gradient.DType.Name()}");
        }

        Profiler.Suppress++;
        try { Run(root, gradient, retainGraph, TopologicalOrder(root)); }
        finally { Profiler.Suppress--; if (Profiler.Enabled) Profiler.Mark(null); }
    }

    private static void Run(Tensor root, Tensor? gradient, bool retainGraph, List<Tensor> order)
    {
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        using (Autograd.NoGrad())
        {
            // Never adopt the caller's tensor: a view keeps theirs intact.
            grads[root] = gradient is null ? Tensor.Full(root.ShapeRef, 1f) : gradient.Detach();
            for (int n = order.Count - 1; n >= 0; n--)
            {
                var t = order[n];
                if (!grads.Remove(t, out var g)) continue;
                var node = t.GradFn;
                if (node is null) { AccumulateLeaf(t, g); continue; }
                var fn = node.BackwardFn ?? throw new InvalidOperationException(
                    $"Backward: trying to backward through the graph a second time (op '{node.Op}'); pass retainGraph: true to the first Backward");
                if (node.AccumulateInto is { } accumulate && node.Inputs is [{ RequiresGrad: true } x0])
                {
                    // A slice's gradient goes straight into its input's buffer (created zeroed by the first slice).
                    grads.Remove(x0, out var acc);
                    if (acc is null || !Accumulable(acc))
                    {
                        var fresh = Tensor.Zeros(x0.ShapeRef);
                        if (acc is not null) { fresh.AddInPlace(acc); acc.Dispose(); }
                        acc = fresh;
                    }
                    accumulate(g, acc);
                    grads[x0] = acc;
                    g.Dispose();
                    if (!retainGraph) node.BackwardFn = null;
                    continue;
                }
                long t0 = Profiler.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
                var inGrads = fn(g);
                if (Profiler.Enabled) Profiler.Add("bwd " + node.Op, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                bool gHandedOn = false;
                for (int i = 0; i < node.Inputs.Length; i++)
                {
                    var x = node.Inputs[i];
                    var gi = inGrads[i];
                    if (x is null || gi is null || !x.RequiresGrad) continue;
                    if (!Shapes.Equal(gi.ShapeRef, x.ShapeRef))
                        throw new InvalidOperationException($"internal: backward of '{node.Op}' returned gradient {Shapes.Str(gi.ShapeRef)} for input {Shapes.Str(x.ShapeRef)}");
                    // One tensor object per slot, so that disposing one slot never frees another.
                    if (ReferenceEquals(gi, g)) { if (gHandedOn) gi = g.Detach(); gHandedOn = true; }
                    for (int j = 0; j < i; j++) if (ReferenceEquals(inGrads[j], gi)) { gi = gi.Detach(); break; }
                    if (grads.Remove(x, out var prev))
                    {
                        if (Accumulable(prev)) { prev.AddInPlace(gi); grads[x] = prev; }   // no new buffer
                        else { grads[x] = prev.Add(gi); prev.Dispose(); }
                        gi.Dispose();
                    }
                    else grads[x] = gi;
                }
                if (!gHandedOn) g.Dispose();
                if (!retainGraph) node.BackwardFn = null;
            }
        }
    }

    /// <summary>A gradient buffer that nothing else can see (contiguous, sole owner of its memory) may be added to in place.</summary>
    private static bool Accumulable(Tensor t) => t.IsContiguous && t.OwnsStorageAlone;

    private static void AccumulateLeaf(Tensor leaf, Tensor g)
    {
        if (!leaf.RequiresGrad) { g.Dispose(); return; }
        if (leaf.Grad is null)
        {
            // Adopt g when nothing else shares its memory; otherwise copy, so that in-place accumulation is safe.
            Tensor own = g.IsContiguous && g.OwnsStorageAlone ? g : g.CloneRaw();
            if (!ReferenceEquals(own, g)) g.Dispose();
            own.Scope = null;
            leaf.Grad = own;
        }
        else
        {
            leaf.Grad.AddInPlace(g);
            g.Dispose();
        }
        leaf.RunPostAccumulateGradHooks();
    }

    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { root };
        var stack = new Stack<(Tensor t, int next)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.GradFn?.Inputs;
            if (inputs is not null && next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var x = inputs[next];
                if (x is not null && x.RequiresGrad && seen.Add(x)) stack.Push((x, 0));
                continue;
            }
            order.Add(t);   // post-order: inputs before the tensors computed from them
        }
        return order;
    }
}
