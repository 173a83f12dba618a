using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Attend.Kernels.Parallel;

namespace Attend.Kernels;

/// <summary>
/// Layer normalization over the last D elements of each of B rows (llm.c layout: outputs, caches, inputs, dims).
/// <c>y = (x − μ)·rstd·w + b</c>, <c>rstd = 1/√(σ² + eps)</c>, σ² the biased variance of the row.
/// Rows are split over the worker threads in fixed chunks; the row sums are vectorized.
/// </summary>
internal static unsafe class LayerNorm
{
    public static void Forward(float* y, float* mean, float* rstd, float* x, float* w, float* b, int rows, int d, float eps)
    {
        Chunks.For(rows, Math.Max(1, Chunks.Grain / Math.Max(d, 1)), (r0, n) => ForwardRows(y, mean, rstd, x, w, b, (int)r0, (int)n, d, eps));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows(float* y, float* mean, float* rstd, float* x, float* w, float* b, int r0, int n, int d, float eps)
    {
        for (int r = r0; r < r0 + n; r++)
        {
            var xr = new ReadOnlySpan<float>(x + (long)r * d, d); var yr = new Span<float>(y + (long)r * d, d);
            float m = TensorPrimitives.Sum(xr) / d;
            TensorPrimitives.Subtract(xr, m, yr);                             // y = x − μ
            float rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(yr) / d + eps);
            TensorPrimitives.Multiply(yr, rs, yr);                            // y = x̂
            if (w is not null && b is not null) TensorPrimitives.FusedMultiplyAdd(yr, new ReadOnlySpan<float>(w, d), new ReadOnlySpan<float>(b, d), yr);
            else if (w is not null) TensorPrimitives.Multiply(yr, new ReadOnlySpan<float>(w, d), yr);
            else if (b is not null) TensorPrimitives.Add(yr, new ReadOnlySpan<float>(b, d), yr);
            mean[r] = m; rstd[r] = rs;
        }
    }

    /// <summary>
    /// With x̂ = (x − μ)·rstd and ĝ = dy∘w: <c>dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ∘x̂))</c>, <c>dw += Σ dy∘x̂</c>, <c>db += Σ dy</c>.
    /// dw, db may be null when not needed. Each chunk of rows sums its own dw/db, added in chunk order (deterministic).
    /// </summary>
    public static void Backward(float* dx, float* dw, float* db, float* dy, float* x, float* w, float* mean, float* rstd, int rows, int d)
    {
        int count = Chunks.Count(rows, Math.Max(1, Chunks.Grain / Math.Max(d, 1)));
        var partial = new float[2 * count * d];   // per chunk: dw then db
        fixed (float* part = partial)
        {
            float* pp = part;
            Workers.For(count, i =>
            {
                var (s, e) = Chunks.Range(rows, count, i);
                BackwardRows(dx, dw is null ? null : pp + 2L * i * d, db is null ? null : pp + (2L * i + 1) * d, dy, x, w, mean, rstd, (int)s, (int)(e - s), d);
            });
            for (int i = 0; i < count; i++)
            {
                if (dw is not null) TensorPrimitives.Add(new ReadOnlySpan<float>(dw, d), new ReadOnlySpan<float>(pp + 2L * i * d, d), new Span<float>(dw, d));
                if (db is not null) TensorPrimitives.Add(new ReadOnlySpan<float>(db, d), new ReadOnlySpan<float>(pp + (2L * i + 1) * d, d), new Span<float>(db, d));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(float* dx, float* dw, float* db, float* dy, float* x, float* w, float* mean, float* rstd, int r0, int n, int d)
    {
        var xh = new float[d]; var gh = new float[d];
        var ws = w is null ? default : new ReadOnlySpan<float>(w, d);
        for (int r = r0; r < r0 + n; r++)
        {
            var xr = new ReadOnlySpan<float>(x + (long)r * d, d); var gr = new ReadOnlySpan<float>(dy + (long)r * d, d);
            float rs = rstd[r];
            TensorPrimitives.Subtract(xr, mean[r], xh);
            TensorPrimitives.Multiply(xh, rs, xh);                           // x̂
            if (w is null) gr.CopyTo(gh); else TensorPrimitives.Multiply(gr, ws, gh);   // ĝ = dy∘w
            if (dw is not null) TensorPrimitives.FusedMultiplyAdd(gr, xh, new ReadOnlySpan<float>(dw, d), new Span<float>(dw, d));
            if (db is not null) TensorPrimitives.Add(gr, new ReadOnlySpan<float>(db, d), new Span<float>(db, d));
            if (dx is null) continue;
            float meanG = TensorPrimitives.Sum(gh) / d, meanGx = TensorPrimitives.Dot(gh, xh) / d;
            var dr = new Span<float>(dx + (long)r * d, d);
            TensorPrimitives.MultiplyAdd(xh, -meanGx, gh, dr);               // ĝ − x̂·mean(ĝ∘x̂)
            TensorPrimitives.Add(dr, -meanG, dr);
            TensorPrimitives.Multiply(dr, rs, dr);
        }
    }
}
