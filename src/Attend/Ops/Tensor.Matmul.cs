using Attend.Kernels.Gemm;

namespace Attend;

/// <summary>Matrix products with torch.matmul's semantics, through the SGEMM kernel.</summary>
public sealed unsafe partial class Tensor
{
    /// <summary>
    /// torch.matmul: 1-D·1-D is a dot product; 2-D·2-D a matrix product; a 1-D operand gets a dim prepended (left) or
    /// appended (right) that is removed afterwards; batch dims (all but the last two) broadcast.
    /// Backward: <c>dA = dC·Bᵀ</c>, <c>dB = Aᵀ·dC</c>, each summed back over broadcast batch dims.
    /// </summary>
    public Tensor Matmul(Tensor other)
    {
        Tensor.RequireFloat(this, "matmul", "self"); Tensor.RequireFloat(other, "matmul", "other");
        if (Rank == 0 || other.Rank == 0)
            throw new ArgumentException($"matmul: both arguments need at least 1 dimension, got {Shapes.Str(shape)} and {Shapes.Str(other.shape)}");
        Tensor a = this, b = other;
        using var a2 = a.Rank == 1 ? a.Unsqueeze(0) : a.Alias();
        using var b2 = b.Rank == 1 ? b.Unsqueeze(1) : b.Alias();
        int k = a2.shape[^1];
        if (b2.shape[^2] != k)
            throw new ArgumentException($"matmul: shapes {Shapes.Str(shape)} and {Shapes.Str(other.shape)} cannot be multiplied ({k} vs {b2.shape[^2]} in the contracted dim)");
        if (!Shapes.Broadcastable(a2.shape[..^2], b2.shape[..^2]))
            throw new ArgumentException($"matmul: the batch dims of {Shapes.Str(shape)} and {Shapes.Str(other.shape)} are not broadcastable");
        var c2 = MatmulRaw(a2, b2);

        // Drop the dims that 1-D operands gained.
        var outShape = c2.shape.ToList();
        if (b.Rank == 1) outShape.RemoveAt(outShape.Count - 1);
        if (a.Rank == 1) outShape.RemoveAt(outShape.Count - (b.Rank == 1 ? 1 : 2));
        var c = c2.ViewOf(c2.Offset, outShape.ToArray(), Shapes.ContiguousStrides(outShape.ToArray()));
        var c2Shape = c2.shape;
        c2.Dispose();
        int[] aShape2 = a2.shape, bShape2 = b2.shape;
        return c.WithGrad("matmul", new[] { a, b }, g =>
        {
            using var g2 = g.Reshape(c2Shape);
            Tensor? da = null, db = null;
            if (a.RequiresGrad)
            {
                using var bT = b.Reshape(bShape2).Transpose(-1, -2);
                using var full = MatmulRaw(g2, bT);
                da = full.SumTo(aShape2).Reshape(a.shape);
            }
            if (b.RequiresGrad)
            {
                using var aT = a.Reshape(aShape2).Transpose(-1, -2);
                using var full = MatmulRaw(aT, g2);
                db = full.SumTo(bShape2).Reshape(b.shape);
            }
            return new[] { da, db };
        });
    }

    /// <summary>Batched product of ≥2-D operands with broadcast batch dims, outside autograd.</summary>
    internal static Tensor MatmulRaw(Tensor a, Tensor b)
    {
        int m = a.shape[^2], k = a.shape[^1], n = b.shape[^1];
        var batchA = a.shape[..^2]; var batchB = b.shape[..^2];
        var batch = Shapes.Broadcast(batchA, batchB, "matmul");
        var outShape = batch.Append(m).Append(n).ToArray();
        var c = Empty(outShape);
        if (c.NumEl == 0) return c;
        if (k == 0) { c.Span.Clear(); return c; }

        // [..., M, K] · [K, N] with a's batch foldable into M: one big GEMM (the Linear case).
        if (b.Rank == 2 && a.Rank > 2 && FoldsIntoRows(a))
        {
            var (ta, lda) = Layout(a.strides[^2], a.strides[^1], a, out var ac);
            var (tb, ldb) = Layout(b.strides[^2], b.strides[^1], b, out var bc);
            Sgemm.Run(ta, tb, a.NumEl / k, n, k, 1f, ac.Data, lda, bc.Data, ldb, 0f, c.Data, n);
            DisposeIfCopy(ac, a); DisposeIfCopy(bc, b);
            return c;
        }

        using var ae = a.ExpandRaw(batch.Append(m).Append(k).ToArray());
        using var be = b.ExpandRaw(batch.Append(k).Append(n).ToArray());
        var (tA, ldA) = Layout(ae.strides[^2], ae.strides[^1], ae, out var aw);
        var (tB, ldB) = Layout(be.strides[^2], be.strides[^1], be, out var bw);
        int nb = c.NumEl / (m * n);
        if (UniformBatchStride(aw, out long sA) && UniformBatchStride(bw, out long sB))
            Sgemm.RunBatched(tA, tB, m, n, k, 1f, aw.Data, ldA, sA, bw.Data, ldB, sB, 0f, c.Data, n, (long)m * n, nb);
        else
        {
            var offA = BatchOffsets(aw); var offB = BatchOffsets(bw);
            for (int t = 0; t < nb; t++)
                Sgemm.Run(tA, tB, m, n, k, 1f, aw.Data + offA[t], ldA, bw.Data + offB[t], ldB, 0f, c.Data + (long)t * m * n, n);
        }
        DisposeIfCopy(aw, ae); DisposeIfCopy(bw, be);
        return c;
    }

    private static void DisposeIfCopy(Tensor copy, Tensor original) { if (!ReferenceEquals(copy, original)) copy.Dispose(); }

    /// <summary>How GEMM reads the last two dims: row-major (not transposed, ld = row stride) or column-major
    /// (transposed, ld = column stride); anything else is copied to contiguous first.</summary>
    private static (bool trans, int ld) Layout(int rowStride, int colStride, Tensor t, out Tensor usable)
    {
        int rows = t.shape[^2], cols = t.shape[^1];
        usable = t;
        // Row-major: (i, j) at i·ld + j. A dim of size 1 may carry any stride.
        if (colStride == 1 || cols == 1)
        {
            int ld = rows == 1 ? cols : rowStride;
            if (ld >= cols) return (false, Math.Max(ld, 1));
        }
        // Column-major, i.e. the transpose of a row-major matrix: (i, j) at j·ld + i.
        if (rowStride == 1 || rows == 1)
        {
            int ld = cols == 1 ? rows : colStride;
            if (ld >= rows) return (true, Math.Max(ld, 1));
        }
        usable = t.CloneRaw();
        return (false, Math.Max(cols, 1));
    }

    /// <summary>True when a's dims before the last can be read as one row index with a single stride.</summary>
    private static bool FoldsIntoRows(Tensor a)
    {
        if (a.strides[^1] != 1 || a.shape[^2] == 1) return false;
        long next = (long)a.strides[^2] * a.shape[^2];
        for (int i = a.Rank - 3; i >= 0; i--)
        {
            if (a.shape[i] == 1) continue;
            if (a.strides[i] != next) return false;
            next = (long)a.strides[i] * a.shape[i];
        }
        return true;
    }

    /// <summary>True when all batch entries sit at multiples of one stride (including 0 for a broadcast operand).</summary>
    private static bool UniformBatchStride(Tensor t, out long stride)
    {
        stride = 0;
        int nb = t.Rank - 2;
        if (nb == 0) return true;
        bool found = false;
        long expect = 0;
        for (int i = nb - 1; i >= 0; i--)
        {
            if (t.shape[i] == 1) continue;
            if (!found) { stride = t.strides[i]; expect = stride * t.shape[i]; found = true; continue; }
            if (t.strides[i] != expect) return false;
            expect *= t.shape[i];
        }
        return true;
    }

    private static long[] BatchOffsets(Tensor t)
    {
        int nb = t.Rank - 2;
        int count = 1; for (int i = 0; i < nb; i++) count *= t.shape[i];
        var offs = new long[count];
        var idx = new int[nb];
        for (int c = 0; c < count; c++)
        {
            long o = 0;
            for (int i = 0; i < nb; i++) o += (long)idx[i] * t.strides[i];
            offs[c] = o;
            for (int i = nb - 1; i >= 0; i--) { if (++idx[i] < t.shape[i]) break; idx[i] = 0; }
        }
        return offs;
    }
}
