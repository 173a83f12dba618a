using System.Text;

namespace Attend;

/// <summary>
/// Compares the analytic gradients of a function with numerical ones. For a random upstream gradient g, the scalar
/// <c>L(x) = Σ f(x)∘g</c> is accumulated in float64 and differentiated per input element by central differences with
/// Richardson extrapolation (<c>(4·D(h/2) − D(h))/3</c>, error O(h⁴)), with h a power of two so that x ± h is exact
/// in float32. The ops themselves run in float32, so tolerances are of float32 size.
/// </summary>
public static class GradCheck
{
    /// <summary>The outcome of <see cref="Check"/>.</summary>
    /// <param name="Passed">True when every checked element satisfies |analytic − numerical| ≤ atol + rtol·|numerical|.</param>
    /// <param name="MaxAbsError">The largest |analytic − numerical| over the checked elements.</param>
    /// <param name="Checked">How many input elements were checked.</param>
    /// <param name="Report">A summary line (passed/FAILED, count, max error, ops) and the first mismatch, if any.</param>
    /// <param name="Ops">The op names recorded on the tape by one evaluation of f, sorted: the backward functions the check covered.</param>
    public sealed record Result(bool Passed, double MaxAbsError, int Checked, string Report, IReadOnlyCollection<string> Ops);

    /// <param name="f">The function; it receives fresh leaf tensors for the inputs that require grad (others as given).</param>
    /// <param name="inputs">Inputs; those with RequiresGrad are checked.</param>
    /// <param name="h">Finite-difference step (a power of two).</param>
    /// <param name="atol">Absolute tolerance.</param>
    /// <param name="rtol">Tolerance relative to the numerical gradient.</param>
    /// <param name="seed">Seed of the random upstream gradient.</param>
    public static Result Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double h = 1.0 / 128, double atol = 1e-3, double rtol = 1e-2, int seed = 1234)
    {
        var baseValues = inputs.Select(t => t.DType == DType.Float32 ? t.ToArray() : null).ToArray();
        Tensor[] Leaves(int which = -1, int elem = -1, double delta = 0, bool grad = false)
        {
            var r = new Tensor[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                if (!inputs[i].RequiresGrad) { r[i] = inputs[i]; continue; }
                var v = (float[])baseValues[i]!.Clone();
                if (i == which) v[elem] = (float)(v[elem] + delta);
                r[i] = Tensor.FromArray(v, inputs[i].Shape, requiresGrad: grad);
            }
            return r;
        }

        // Analytic: backprop a random g through one evaluation.
        var leaves = Leaves(grad: true);
        var y = f(leaves);
        var gen = new Random(seed);
        var gVals = Enumerable.Range(0, y.NumEl).Select(_ => (float)(gen.NextDouble() * 2 - 1)).ToArray();
        using var g = Tensor.FromArray(gVals, y.Shape);
        var ops = new SortedSet<string>();
        CollectOps(y, ops);
        y.Backward(g);

        double L(Tensor[] xs)
        {
            using var _ = Autograd.NoGrad();
            using var o = f(xs);
            var ov = o.ToArray();
            double s = 0;
            for (int k = 0; k < ov.Length; k++) s += (double)ov[k] * gVals[k];
            return s;
        }
        double D(int i, int j, double step) => (L(Leaves(i, j, step)) - L(Leaves(i, j, -step))) / (2 * step);

        var report = new StringBuilder();
        double maxErr = 0; int count = 0; bool ok = true;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].RequiresGrad) continue;
            var ana = leaves[i].Grad?.ToArray() ?? new float[baseValues[i]!.Length];
            for (int j = 0; j < ana.Length; j++)
            {
                double num = (4 * D(i, j, h / 2) - D(i, j, h)) / 3;
                double err = Math.Abs(num - ana[j]);
                maxErr = Math.Max(maxErr, err);
                count++;
                if (err > atol + rtol * Math.Abs(num))
                {
                    if (ok) report.AppendLine($"input {i} {Shapes.Str(inputs[i].Shape)}: first mismatch at element {j}: analytic {ana[j]:G6}, numerical {num:G6}");
                    ok = false;
                }
            }
        }
        report.Insert(0, $"{(ok ? "passed" : "FAILED")}: {count} elements, max |analytic − numerical| = {maxErr:G3}; ops: {string.Join(", ", ops)}\n");
        return new Result(ok, maxErr, count, report.ToString(), ops);
    }

    private static void CollectOps(Tensor y, ISet<string> ops)
    {
        var stack = new Stack<Tensor>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        stack.Push(y);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (!seen.Add(t) || t.GradFn is null) continue;
            ops.Add(t.GradFn.Op);
            foreach (var x in t.GradFn.Inputs) if (x is not null) stack.Push(x);
        }
    }
}
