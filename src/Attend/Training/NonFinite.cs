using System.Numerics.Tensors;
using Attend.Nn;

namespace Attend.Training;

/// <summary>What to do with a step whose loss or gradient holds NaN or ∞ (<see cref="TrainerOptions.OnNonFinite"/>).</summary>
public enum NonFinitePolicy
{
    /// <summary>Stop the run with <see cref="TrainingProblem.Diverged"/> before the step changes a weight or a checkpoint.</summary>
    Stop,
    /// <summary>Leave the weights and the optimizer as they were, report the step as skipped and go on (as PyTorch's
    /// GradScaler skips a step whose gradients overflowed); <see cref="TrainerOptions.MaxSkipsInARow"/> skips in a row stop it.</summary>
    Skip,
}

/// <summary>
/// Where a NaN or ∞ first appears in a training step: the first parameter (in the model's registration order, input
/// side first) whose gradient holds one, or the op of the forward whose output holds one although its inputs are
/// finite, and the parameters nearest below it in the graph — the layer it came from.
/// </summary>
internal static class NonFinite
{
    /// <summary>True when every element of <paramref name="t"/> is finite (a disposed tensor counts as finite: unknown).</summary>
    public static bool IsFinite(Tensor t)
    {
        if (t.IsDisposed || t.NumEl == 0) return true;
        var c = t.ContiguousRaw();
        try { return float.IsFinite(TensorPrimitives.MaxMagnitude((ReadOnlySpan<float>)c.Span)); }   // NaN propagates, ∞ is the max
        finally { if (!ReferenceEquals(c, t)) c.Dispose(); }
    }

    /// <summary>"parameter 'name' (n of its m gradient values are NaN or ∞)" for the first parameter whose gradient holds
    /// a NaN or ∞, or null when every gradient is finite.</summary>
    public static string? FirstInGradients(IReadOnlyList<(string Name, Tensor Parameter)> named)
    {
        foreach (var (name, p) in named)
        {
            if (p.Grad is not { } g || IsFinite(g)) continue;
            using var c = g.CloneRaw();
            int bad = 0;
            foreach (float v in c.Span) if (!float.IsFinite(v)) bad++;
            return $"the gradient of parameter '{name}' {Shapes.Str(p.ShapeRef)} ({bad} of its {g.NumEl} values are NaN or ∞)";
        }
        return null;
    }

    /// <summary>The first parameter whose value holds a NaN or ∞, or null.</summary>
    public static string? FirstInParameters(IReadOnlyList<(string Name, Tensor Parameter)> named) =>
        named.FirstOrDefault(n => !IsFinite(n.Parameter)).Name;

    /// <summary>Follows the non-finite inputs down the graph of <paramref name="loss"/> to the op whose output holds a NaN
    /// or ∞ while its inputs are finite: "op 'log' → (32, 10), below parameter 'fc.weight'". Null when the graph has no
    /// such op (the loss was computed without a graph, or its inputs were freed).</summary>
    public static string? Origin(Tensor loss, IReadOnlyList<(string Name, Tensor Parameter)> named)
    {
        var names = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        foreach (var (n, p) in named) names[p] = n;
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var t = loss;
        if (IsFinite(t)) return null;
        while (true)
        {
            if (t.GradFn is not { } node)
                return names.TryGetValue(t, out var pn) ? $"parameter '{pn}' itself" : $"an input {Shapes.Str(t.ShapeRef)} of the step (the data)";
            var bad = node.Inputs.FirstOrDefault(i => i is not null && seen.Add(i) && !IsFinite(i));
            if (bad is null)
            {
                var below = Nearest(node, names);
                return $"op '{node.Op}' → {Shapes.Str(t.ShapeRef)} from finite inputs" + (below is null ? "" : $", below parameter '{below}'");
            }
            t = bad;
        }
    }

    /// <summary>The parameter nearest below <paramref name="start"/> in the graph (breadth first), or null.</summary>
    private static string? Nearest(Node start, Dictionary<Tensor, string> names)
    {
        var queue = new Queue<Node>([start]);
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance) { start };
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var i in node.Inputs)
            {
                if (i is null) continue;
                if (names.TryGetValue(i, out var n)) return n;
                if (i.GradFn is { } g && seen.Add(g)) queue.Enqueue(g);
            }
        }
        return null;
    }
}
