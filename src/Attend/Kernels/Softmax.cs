using System.Numerics.Tensors;

namespace Attend.Kernels;

/// <summary>
/// Row softmax and log-softmax over contiguous rows of length n. Stable: the row max is subtracted before exp.
/// B = rows, n = row length.
/// </summary>
internal static unsafe class Softmax
{
    /// <summary><c>y = exp(x − max x) / Σ exp(x − max x)</c>; log form: <c>y = x − max x − log Σ exp(x − max x)</c>.</summary>
    public static void Forward(float* y, float* x, int rows, int n, bool log)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = new ReadOnlySpan<float>(x + (long)r * n, n);
            var yr = new Span<float>(y + (long)r * n, n);
            float max = TensorPrimitives.Max(xr);
            // A fully masked row (all −inf) gives 0 (log: −inf), never NaN.
            if (float.IsNegativeInfinity(max)) { yr.Fill(log ? float.NegativeInfinity : 0f); continue; }
            TensorPrimitives.Subtract(xr, max, yr);
            if (log)
            {
                float lse = MathF.Log(SumExp(yr));
                TensorPrimitives.Subtract(yr, lse, yr);
            }
            else
            {
                TensorPrimitives.Exp(yr, yr);
                TensorPrimitives.Divide(yr, TensorPrimitives.Sum(yr), yr);
            }
        }
    }

    private static float SumExp(ReadOnlySpan<float> v)
    {
        float s = 0;
        foreach (float t in v) s += MathF.Exp(t);
        return s;
    }

    /// <summary>In the forward pass this was y = softmax(x); so <c>dx = y ∘ (g − Σ g∘y)</c>.
    /// For log-softmax: <c>dx = g − exp(y)·Σ g</c>.</summary>
    public static void Backward(float* dx, float* g, float* y, int rows, int n, bool log)
    {
        for (int r = 0; r < rows; r++)
        {
            var gr = new ReadOnlySpan<float>(g + (long)r * n, n);
            var yr = new ReadOnlySpan<float>(y + (long)r * n, n);
            var dr = new Span<float>(dx + (long)r * n, n);
            if (log)
            {
                float sg = TensorPrimitives.Sum(gr);
                TensorPrimitives.Exp(yr, dr);
                TensorPrimitives.MultiplyAdd(dr, -sg, gr, dr);   // dr = g − exp(y)·Σg
            }
            else
            {
                float dot = TensorPrimitives.Dot(gr, yr);
                TensorPrimitives.Subtract(gr, dot, dr);
                TensorPrimitives.Multiply(dr, yr, dr);
            }
        }
    }
}
