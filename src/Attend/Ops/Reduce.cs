using System.Numerics.Tensors;

namespace Attend;

internal enum ReduceOp { Sum, Max }

/// <summary>
/// Sum or max over a set of dimensions, giving the keepdim-shaped result. Reduced dims that are all trailing reduce
/// each row; all leading accumulate rows; otherwise the reduced dims are permuted to the end first.
/// </summary>
internal static unsafe class Reduce
{
    public static Tensor Run(Tensor x, bool[] reduced, ReduceOp op)
    {
        int rank = x.Rank;
        var keepShape = new int[rank];
        for (int i = 0; i < rank; i++) keepShape[i] = reduced[i] ? 1 : x.ShapeRef[i];
        var o = Tensor.Empty(keepShape);
        int outer = o.NumEl, n = x.NumEl;
        int inner = outer == 0 ? 0 : n / outer;
        if (op == ReduceOp.Max && inner == 0)
            throw new ArgumentException($"max: cannot reduce over a dimension of size 0 in {Shapes.Str(x.ShapeRef)}");
        if (n == 0) { o.Span.Clear(); return o; }

        int firstReduced = Array.IndexOf(reduced, true);
        bool trailing = firstReduced < 0 || Enumerable.Range(firstReduced, rank - firstReduced).All(i => reduced[i] || x.ShapeRef[i] == 1);
        int lastReduced = Array.LastIndexOf(reduced, true);
        bool leading = Enumerable.Range(0, lastReduced + 1).All(i => reduced[i] || x.ShapeRef[i] == 1);

        Tensor src;
        if (trailing || leading) src = x.ContiguousRaw();
        else
        {
            var perm = Enumerable.Range(0, rank).Where(i => !reduced[i]).Concat(Enumerable.Range(0, rank).Where(i => reduced[i])).ToArray();
            using var p = x.Detach().Permute(perm);
            src = p.CloneRaw();
            trailing = true;
        }
        try
        {
            float* s = src.Data, d = o.Data;
            if (trailing)
                for (int r = 0; r < outer; r++)
                {
                    var row = new ReadOnlySpan<float>(s + (long)r * inner, inner);
                    d[r] = op == ReduceOp.Sum ? TensorPrimitives.Sum(row) : TensorPrimitives.Max(row);
                }
            else
            {
                var acc = new Span<float>(d, outer);
                new ReadOnlySpan<float>(s, outer).CopyTo(acc);
                for (int r = 1; r < inner; r++)
                {
                    var row = new ReadOnlySpan<float>(s + (long)r * outer, outer);
                    if (op == ReduceOp.Sum) TensorPrimitives.Add(acc, row, acc); else TensorPrimitives.Max(acc, row, acc);
                }
            }
            return o;
        }
        finally { if (!ReferenceEquals(src, x)) src.Dispose(); }
    }

    /// <summary>Marks the given dims of a tensor of <paramref name="shape"/> (negative allowed, repeats refused); all dims when null.</summary>
    public static bool[] Mask(int[]? dims, int[] shape, string op)
    {
        int rank = shape.Length;
        var m = new bool[rank];
        if (dims is null) { Array.Fill(m, true); return m; }
        foreach (int d0 in dims)
        {
            int d = Shapes.Dim(d0, shape, op);
            if (rank == 0) continue;
            if (m[d]) throw new ArgumentException($"{op}: dim {d0} appears more than once in {Shapes.Str(dims)} for a tensor of shape {Shapes.Str(shape)}");
            m[d] = true;
        }
        return m;
    }
}
