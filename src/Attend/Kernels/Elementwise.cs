using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Attend.Kernels;

internal enum BinOp { Add, Sub, Mul, Div, Pow, Max, Min }

/// <summary>
/// Binary arithmetic along one row, <c>out[i] = a[i] ∘ b[i]</c>, through TensorPrimitives; each operand is contiguous
/// along the row or a broadcast scalar (stride 0). <see cref="ElementwiseOps"/> walks the rows of a broadcast.
/// </summary>
internal static unsafe class Elementwise
{
    /// <summary>One row: sa, sb ∈ {0, 1} are the inner strides (0 = broadcast scalar).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(BinOp op, float* a, int sa, float* b, int sb, float* o, int n)
    {
        var d = new Span<float>(o, n);
        if (sa == 1 && sb == 1)
        {
            var x = new ReadOnlySpan<float>(a, n); var y = new ReadOnlySpan<float>(b, n);
            switch (op)
            {
                case BinOp.Add: TensorPrimitives.Add(x, y, d); break;
                case BinOp.Sub: TensorPrimitives.Subtract(x, y, d); break;
                case BinOp.Mul: TensorPrimitives.Multiply(x, y, d); break;
                case BinOp.Div: TensorPrimitives.Divide(x, y, d); break;
                case BinOp.Pow: TensorPrimitives.Pow(x, y, d); break;
                case BinOp.Max: TensorPrimitives.Max(x, y, d); break;
                case BinOp.Min: TensorPrimitives.Min(x, y, d); break;
            }
        }
        else if (sa == 1)
        {
            var x = new ReadOnlySpan<float>(a, n); float y = *b;
            switch (op)
            {
                case BinOp.Add: TensorPrimitives.Add(x, y, d); break;
                case BinOp.Sub: TensorPrimitives.Subtract(x, y, d); break;
                case BinOp.Mul: TensorPrimitives.Multiply(x, y, d); break;
                case BinOp.Div: TensorPrimitives.Divide(x, y, d); break;
                case BinOp.Pow: TensorPrimitives.Pow(x, y, d); break;
                case BinOp.Max: TensorPrimitives.Max(x, y, d); break;
                case BinOp.Min: TensorPrimitives.Min(x, y, d); break;
            }
        }
        else if (sb == 1)
        {
            float x = *a; var y = new ReadOnlySpan<float>(b, n);
            switch (op)
            {
                case BinOp.Add: TensorPrimitives.Add(y, x, d); break;
                case BinOp.Sub: TensorPrimitives.Subtract(x, y, d); break;
                case BinOp.Mul: TensorPrimitives.Multiply(y, x, d); break;
                case BinOp.Div: TensorPrimitives.Divide(x, y, d); break;
                case BinOp.Pow: TensorPrimitives.Pow(x, y, d); break;
                case BinOp.Max: TensorPrimitives.Max(y, x, d); break;
                case BinOp.Min: TensorPrimitives.Min(y, x, d); break;
            }
        }
        else d.Fill(Scalar(op, *a, *b));
    }

    private static float Scalar(BinOp op, float x, float y) => op switch
    {
        BinOp.Add => x + y, BinOp.Sub => x - y, BinOp.Mul => x * y, BinOp.Div => x / y,
        BinOp.Pow => MathF.Pow(x, y), BinOp.Max => MathF.Max(x, y), _ => MathF.Min(x, y),
    };
}
