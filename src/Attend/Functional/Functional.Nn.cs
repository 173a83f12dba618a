using System.Numerics.Tensors;
using Attend.Kernels;
using Attend.Kernels.Gemm;

namespace Attend;

public static unsafe partial class Functional
{
    /// <summary>
    /// <c>y = x·Wᵀ + b</c> for x [..., in], W [out, in], b [out] → [..., out], as torch.nn.functional.linear: one GEMM
    /// over all leading dims. Backward: <c>dx = dy·W</c>, <c>dW = dyᵀ·x</c>, <c>db = Σ dy</c> over the rows.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        Tensor.RequireFloat(x, "linear", "input"); Tensor.RequireFloat(weight, "linear", "weight");
        if (weight.Rank != 2) throw new ArgumentException($"linear: weight must be [out, in], got {Shapes.Str(weight.ShapeRef)}");
        int outF = weight.ShapeRef[0], inF = weight.ShapeRef[1];
        if (x.Rank == 0 || x.ShapeRef[^1] != inF)
            throw new ArgumentException($"linear: input {Shapes.Str(x.ShapeRef)} does not end in in_features {inF} of weight {Shapes.Str(weight.ShapeRef)}");
        if (bias is not null && (bias.Rank != 1 || bias.ShapeRef[0] != outF))
            throw new ArgumentException($"linear: bias {Shapes.Str(bias.ShapeRef)} does not match out_features {outF}");
        int rows = inF == 0 ? 0 : x.NumEl / inF;
        var outShape = x.ShapeRef[..^1].Append(outF).ToArray();
        var xc = x.ContiguousRaw(); var wc = weight.ContiguousRaw(); var bc = bias?.ContiguousRaw();
        var y = Tensor.Empty(outShape);
        if (rows is > 0 and <= SmallRows && inF > 0 && outF > 0)
            SmallRowsForward(y.Data, xc.Data, wc.Data, bc is null ? null : bc.Data, rows, inF, outF);
        else if (rows > 0 && outF > 0)
        {
            if (inF == 0) { if (bc is null) y.Span.Clear(); else for (int r = 0; r < rows; r++) bc.Span.CopyTo(new Span<float>(y.Data + (long)r * outF, outF)); }
            else if (bc is not null) Sgemm.RunWithBias(false, true, rows, outF, inF, 1f, xc.Data, inF, wc.Data, inF, bc.Data, y.Data, outF);
            else Sgemm.Run(false, true, rows, outF, inF, 1f, xc.Data, inF, wc.Data, inF, 0f, y.Data, outF);
        }
        if (bc is not null && !ReferenceEquals(bc, bias)) bc.Dispose();
        return y.WithGrad("linear", new[] { x, weight, bias }, g =>
        {
            var gc = g.ContiguousRaw();
            Tensor? dx = null, dw = null, db = null;
            if (x.RequiresGrad)
            {
                dx = Tensor.Empty(x.ShapeRef);
                Sgemm.Run(false, false, rows, inF, outF, 1f, gc.Data, outF, wc.Data, inF, 0f, dx.Data, inF);
            }
            if (weight.RequiresGrad)
            {
                dw = Tensor.Empty(new[] { outF, inF });
                Sgemm.Run(true, false, outF, inF, rows, 1f, gc.Data, outF, xc.Data, inF, 0f, dw.Data, inF);
            }
            if (bias is { RequiresGrad: true })
            {
                db = Tensor.Zeros(outF);
                ColumnSums(db.Data, gc.Data, rows, outF);
            }
            if (!ReferenceEquals(gc, g)) gc.Dispose();
            return new[] { dx, dw, db };
        });
    }

    /// <summary>Up to this many rows (token-by-token decoding), Linear's forward is a matrix-vector product per row.</summary>
    private const int SmallRows = 4;

    /// <summary><c>y[r, o] = x[r, :]·W[o, :] + b[o]</c> as dot products along W's contiguous rows, blocks of outputs on
    /// all workers: reads W once, where the packed GEMM would pack all of it for one row.</summary>
    private static void SmallRowsForward(float* y, float* x, float* w, float* b, int rows, int inF, int outF)
    {
        int blocks = (long)outF * inF >= 2L * Kernels.Parallel.Chunks.Grain ? Math.Min(Math.Max(outF / 16, 1), 8 * Kernels.Parallel.Workers.Count) : 1;
        Kernels.Parallel.Workers.For(blocks, k =>
        {
            int o0 = outF * k / blocks, o1 = outF * (k + 1) / blocks;
            for (int o = o0; o < o1; o++)
            {
                var wr = new ReadOnlySpan<float>(w + (long)o * inF, inF);
                for (int r = 0; r < rows; r++)
                    y[(long)r * outF + o] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + (long)r * inF, inF), wr) + (b is null ? 0f : b[o]);
            }
        });
    }

    /// <summary><c>dst[j] += Σ_r src[r, j]</c>, rows in order; blocks of ≥ 64 columns go to different workers (deterministic).</summary>
    private static void ColumnSums(float* dst, float* src, int rows, int cols)
    {
        int blocks = cols >= 128 && (long)rows * cols >= 2L * Kernels.Parallel.Chunks.Grain ? Math.Min(cols / 64, 4 * Kernels.Parallel.Workers.Count) : 1;
        Kernels.Parallel.Workers.For(blocks, b =>
        {
            int c0 = cols * b / blocks, c1 = cols * (b + 1) / blocks;
            var acc = new Span<float>(dst + c0, c1 - c0);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(acc, new ReadOnlySpan<float>(src + (long)r * cols + c0, c1 - c0), acc);
        });
    }

    /// <summary>
    /// RMS normalization over the trailing dims named by <paramref name="normalizedShape"/>, as torch.nn.functional.rms_norm:
    /// <c>y = x / √(mean(x²) + eps) · weight</c>; eps null means float32's machine epsilon (PyTorch's default).
    /// </summary>
    public static Tensor RmsNorm(Tensor x, int[] normalizedShape, Tensor? weight = null, float? eps = null)
    {
        Tensor.RequireFloat(x, "rms_norm", "input");
        int k = normalizedShape.Length;
        if (k == 0 || k > x.Rank || !x.ShapeRef.AsSpan(x.Rank - k).SequenceEqual(normalizedShape))
            throw new ArgumentException($"rms_norm: normalizedShape {Shapes.Str(normalizedShape)} must match the trailing dims of input {Shapes.Str(x.ShapeRef)}");
        if (weight is not null && !Shapes.Equal(weight.ShapeRef, normalizedShape))
            throw new ArgumentException($"rms_norm: weight has shape {Shapes.Str(weight.ShapeRef)}, expected {Shapes.Str(normalizedShape)}");
        int d = Shapes.NumEl(normalizedShape, "rms_norm");
        int rows = d == 0 ? 0 : x.NumEl / d;
        var xc = x.ContiguousRaw(); var wc = weight?.ContiguousRaw();
        var y = Tensor.Empty(x.ShapeRef);
        var rstd = Tensor.Empty(new[] { rows });
        Kernels.RmsNorm.Forward(y.Data, rstd.Data, xc.Data, wc is null ? null : wc.Data, rows, d, eps ?? 1.1920929e-7f /* torch.finfo(float32).eps */);
        return y.WithGrad("rms_norm", new[] { x, weight }, g =>
        {
            var gc = g.ContiguousRaw();
            var dx = x.RequiresGrad ? Tensor.Empty(x.ShapeRef) : null;
            var dw = weight is { RequiresGrad: true } ? Tensor.Zeros(normalizedShape) : null;
            Kernels.RmsNorm.Backward(dx is null ? null : dx.Data, dw is null ? null : dw.Data, gc.Data, xc.Data,
                wc is null ? null : wc.Data, rstd.Data, rows, d);
            if (!ReferenceEquals(gc, g)) gc.Dispose();
            return new[] { dx, dw };
        });
    }
}
