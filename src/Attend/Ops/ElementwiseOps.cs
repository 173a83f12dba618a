using Attend.Kernels;

namespace Attend;

/// <summary>
/// Broadcasting binary arithmetic on tensors, <c>out[i] = a[i] ∘ b[i]</c> over the broadcast shape: the rows of the
/// output are walked (<see cref="Rows"/>) and each one runs <see cref="Elementwise.Row"/>.
/// </summary>
internal static unsafe class ElementwiseOps
{
    public static Tensor Binary(Tensor a, Tensor b, BinOp op, string name)
    {
        Tensor.RequireFloat(a, name, "self"); Tensor.RequireFloat(b, name, "other");
        var outShape = Shapes.Broadcast(a.ShapeRef, b.ShapeRef, name);
        var o = Tensor.Empty(outShape);
        var ac = a.ContiguousRaw(); var bc = b.ContiguousRaw();
        try
        {
            if (Shapes.Equal(a.ShapeRef, b.ShapeRef))
            {
                Elementwise.Row(op, ac.Data, 1, bc.Data, 1, o.Data, o.NumEl);
                return o;
            }
            var rows = new Rows(outShape,
                Shapes.BroadcastStrides(ac.ShapeRef, ac.StridesRef, outShape),
                Shapes.BroadcastStrides(bc.ShapeRef, bc.StridesRef, outShape));
            int sa = rows.InnerStride(0), sb = rows.InnerStride(1);
            float* pa = ac.Data, pb = bc.Data, po = o.Data;
            for (int r = 0; rows.Next(); r++)
                Elementwise.Row(op, pa + rows.Offset[0], sa, pb + rows.Offset[1], sb, po + (long)r * rows.Inner, rows.Inner);
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
        Tensor.RequireFloat(x, name, "self");
        var o = Tensor.Empty(x.ShapeRef);
        var xc = x.ContiguousRaw();
        float* ps = &s;
        if (scalarFirst) Elementwise.Row(op, ps, 0, xc.Data, 1, o.Data, o.NumEl);
        else Elementwise.Row(op, xc.Data, 1, ps, 0, o.Data, o.NumEl);
        if (!ReferenceEquals(xc, x)) xc.Dispose();
        return o;
    }

}
