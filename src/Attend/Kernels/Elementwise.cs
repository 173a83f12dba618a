using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Attend.Kernels;

internal enum BinOp { Add, Sub, Mul, Div, Pow, Max, Min }

/// <summary>
/// Broadcasting binary arithmetic, <c>out[i] = a[i] ∘ b[i]</c> over the broadcast shape, through TensorPrimitives
/// row by row (each operand contiguous along the row or a broadcast scalar).
/// </summary>
internal static unsafe class Elementwise
{
    public static Tensor Binary(Tensor a, Tensor b, BinOp op, string name)
    {
        RequireFloat(a, name, "self"); RequireFloat(b, name, "other");
        var outShape = Shapes.Broadcast(a.ShapeRef, b.ShapeRef, name);
        var o = Tensor.Empty(outShape);
        var ac = a.ContiguousRaw(); var bc = b.ContiguousRaw();
        try
        {
            if (Shapes.Equal(a.ShapeRef, b.ShapeRef))
            {
                Row(op, ac.Data, 1, bc.Data, 1, o.Data, o.NumEl);
                return o;
            }
            var rows = new Rows(outShape,
                Shapes.BroadcastStrides(ac.ShapeRef, ac.StridesRef, outShape),
                Shapes.BroadcastStrides(bc.ShapeRef, bc.StridesRef, outShape));
            int sa = rows.InnerStride(0), sb = rows.InnerStride(1);
            float* pa = ac.Data, pb = bc.Data, po = o.Data;
            for (int r = 0; rows.Next(); r++)
                Row(op, pa + rows.Offset[0], sa, pb + rows.Offset[1], sb, po + (long)r * rows.Inner, rows.Inner);
            return o;
        }
        finally
        {
            if (!ReferenceEquals(ac, a)) ac.Dispose();
            if (!ReferenceEquals(bc, b)) bc.Dispose();
        }
    }

    /// <summary><c>out[i] = x[i] ∘ s</c> (or <c>s ∘ x[i]</c> when <paramref name="scalarFirst"/>).</summary>
    public static Tensor WithScalar(Tensor x, float s, BinOp op, bool scalarFirst, string name)
    {
        RequireFloat(x, name, "self");
        var o = Tensor.Empty(x.ShapeRef);
        var xc = x.ContiguousRaw();
        float* ps = &s;
        if (scalarFirst) Row(op, ps, 0, xc.Data, 1, o.Data, o.NumEl);
        else Row(op, xc.Data, 1, ps, 0, o.Data, o.NumEl);
        if (!ReferenceEquals(xc, x)) xc.Dispose();
        return o;
    }

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

    public static void RequireFloat(Tensor t, string op, string arg)
    {
        if (t.DType != DType.Float32)
            throw new ArgumentException($"{op}: argument '{arg}' must be float32, got {t.DType.Name()} {Shapes.Str(t.ShapeRef)}");
    }
}
