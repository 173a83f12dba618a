using Attend;
using Attend.Nn;
using Attend.Optim;

/// <summary>
/// vit-profile[:PATCH:DIM]: one AdamW step of <c>attend train vit</c>'s base model on Fashion-MNIST-shaped input
/// (batch 128 of 1×28×28, 7×7 patches, d 128, 4 blocks, 4 heads, MLP 4·d, label smoothing 0.1), random pixels and labels,
/// timed by <see cref="StepProfile"/>.
/// </summary>
static class VitCases
{
    public static Program.Result Profile(int patch, int dim)
    {
        const int B = 128;
        var cfg = new VitConfig(ImageSize: 28, PatchSize: patch, Channels: 1, NumClasses: 10, Dim: dim, Depth: 4, NHead: 4, MlpRatio: 4);
        var model = new VisionTransformer(cfg, new Random(1));
        model.Train();
        var opt = new AdamW(AdamW.Groups(model.NamedParameters(), 0.05), lr: 1e-3);
        var rng = new Random(2);
        var x = Tensor.FromArray(Enumerable.Range(0, B * 28 * 28).Select(_ => (float)rng.NextDouble()).ToArray(), new[] { B, 1, 28, 28 });
        var y = Tensor.FromArray(Enumerable.Range(0, B).Select(_ => (long)rng.Next(10)).ToArray(), new[] { B });
        return StepProfile.Run(opt, () => Functional.CrossEntropy(model.Forward(x), y, labelSmoothing: 0.1f), B, "img");
    }
}

/// <summary>linear:ROWS:IN:OUT[:fwd]: Functional.Linear with bias on a [ROWS, IN] input through autograd, forward + backward
/// of a fixed upstream gradient (3 GEMMs + the bias column sums), or the forward alone; GFLOP/s counts the GEMMs.</summary>
static class LinearCases
{
    public static Program.Result Run(int rows, int inF, int outF, bool forwardOnly)
    {
        var rng = new Random(1);
        Tensor R(params int[] shape) => Tensor.FromArray(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), shape);
        var x = R(rows, inF); var w = R(outF, inF); var b = R(outF);
        x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
        var g = R(rows, outF);
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            if (forwardOnly) { using var ng = Autograd.NoGrad(); Functional.Linear(x, w, b); return; }
            x.ZeroGrad(); w.ZeroGrad(); b.ZeroGrad();
            Functional.Linear(x, w, b).Backward(g);
        });
        return new Program.Result(med, min, reps, (forwardOnly ? 2.0 : 6.0) * rows * inF * outF);
    }
}
