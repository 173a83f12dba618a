namespace Attend;

/// <summary>Views: new shapes and strides over the same storage, each with its backward.</summary>
public sealed unsafe partial class Tensor
{
    /// <summary>The same values with a new shape (one size may be -1). A view when the layout allows it, else a copy — as torch.reshape.</summary>
    public Tensor Reshape(params int[] newShape)
    {
        var s = Shapes.Infer(newShape, NumEl, "reshape", shape);
        if (IsContiguous) return ViewNoCheck(s);
        var c = Contiguous();
        var r = c.ViewNoCheck(s);
        if (!ReferenceEquals(c, this)) c.Dispose();
        return r;
    }

    /// <summary>A view with a new shape; the tensor must be contiguous (as torch.view, which refuses otherwise).</summary>
    public Tensor View(params int[] newShape)
    {
        var s = Shapes.Infer(newShape, NumEl, "view", shape);
        if (!IsContiguous)
            throw new InvalidOperationException($"view: tensor {Shapes.Str(shape)} with strides {Shapes.Str(strides)} is not contiguous; use Reshape() or Contiguous() first");
        return ViewNoCheck(s);
    }

    private Tensor ViewNoCheck(int[] s)
    {
        var from = (int[])shape.Clone();
        return ViewOf(Offset, s, Shapes.ContiguousStrides(s))
            .WithGrad("reshape", new[] { this }, g => new[] { g.Reshape(from) });
    }

    /// <summary>Flattens dims start..end into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int a = Shapes.Dim(startDim, shape, "flatten"), b = Shapes.Dim(endDim, shape, "flatten");
        if (a > b) throw new ArgumentException($"flatten: startDim {startDim} comes after endDim {endDim}");
        var s = new List<int>();
        for (int i = 0; i < a; i++) s.Add(shape[i]);
        int m = 1; for (int i = a; i <= b; i++) m *= shape[i];
        s.Add(m);
        for (int i = b + 1; i < Rank; i++) s.Add(shape[i]);
        return Reshape(s.ToArray());
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int a = Shapes.Dim(dim0, shape, "transpose"), b = Shapes.Dim(dim1, shape, "transpose");
        var perm = Enumerable.Range(0, Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return PermuteChecked(perm, "transpose");
    }

    /// <summary>Transpose of a 2-D tensor.</summary>
    public Tensor T
    {
        get
        {
            if (Rank != 2) throw new InvalidOperationException($"T: expects a 2-D tensor, got {Shapes.Str(shape)}; use Transpose(d0, d1) or Permute");
            return Transpose(0, 1);
        }
    }

    /// <summary>Reorders dimensions (a view): result dim i is input dim dims[i].</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"permute: got {dims.Length} dims {Shapes.Str(dims)} for a tensor of rank {Rank} {Shapes.Str(shape)}");
        var p = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < Rank; i++)
        {
            p[i] = Shapes.Dim(dims[i], shape, "permute");
            if (seen[p[i]]) throw new ArgumentException($"permute: dim {dims[i]} repeats in {Shapes.Str(dims)} for a tensor of shape {Shapes.Str(shape)}");
            seen[p[i]] = true;
        }
        return PermuteChecked(p, "permute");
    }

    private Tensor PermuteChecked(int[] p, string op)
    {
        var s = new int[Rank]; var st = new int[Rank]; var inv = new int[Rank];
        for (int i = 0; i < Rank; i++) { s[i] = shape[p[i]]; st[i] = strides[p[i]]; inv[p[i]] = i; }
        return ViewOf(Offset, s, st).WithGrad(op, new[] { this }, g => new[] { g.PermuteChecked(inv, op) });
    }

    /// <summary>Moves dimension <paramref name="source"/> to position <paramref name="destination"/> (a view).</summary>
    public Tensor Movedim(int source, int destination)
    {
        int a = Shapes.Dim(source, shape, "movedim"), b = Shapes.Dim(destination, shape, "movedim");
        var order = Enumerable.Range(0, Rank).Where(i => i != a).ToList();
        order.Insert(b, a);
        return PermuteChecked(order.ToArray(), "movedim");
    }

    /// <summary>Elements start..start+length-1 along dim (a view).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = Shapes.Dim(dim, shape, "narrow");
        if (start < 0) start += shape[d];
        if (start < 0 || length < 0 || start + length > shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: start {start} + length {length} exceeds size {shape[d]} of dim {dim} in {Shapes.Str(shape)}");
        var s = (int[])shape.Clone(); s[d] = length;
        var from = (int[])shape.Clone();
        var r = ViewOf(Offset + start * strides[d], s, (int[])strides.Clone())
            .WithGrad("narrow", new[] { this }, g =>
            {
                var full = Zeros(from);
                using (var slot = full.Narrow(d, start, length)) slot.CopyFrom(g);
                return new[] { full };
            });
        if (r.GradFn is { } node)
            node.AccumulateInto = (g, acc) => { using var slot = acc.NarrowRaw(d, start, length); slot.AddInPlaceStrided(g); };
        return r;
    }

    /// <summary>Element <paramref name="index"/> along dim, removing that dim (a view).</summary>
    public Tensor Select(int dim, int index)
    {
        int d = Shapes.Dim(dim, shape, "select");
        if (index < -shape[d] || index >= shape[d])
            throw new ArgumentOutOfRangeException(nameof(index), $"select: index {index} is out of range for dim {dim} of size {shape[d]} in {Shapes.Str(shape)}");
        if (index < 0) index += shape[d];
        using var n = Narrow(d, index, 1);
        return n.Squeeze(d);
    }

    /// <summary>Inserts a dimension of size 1 at <paramref name="dim"/> (a view).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = Shapes.Dim(dim, shape, "unsqueeze", inserting: true);
        var s = shape.ToList(); var st = strides.ToList();
        s.Insert(d, 1);
        st.Insert(d, d < Rank ? shape[d] * strides[d] : 1);
        return ViewOf(Offset, s.ToArray(), st.ToArray()).WithGrad("unsqueeze", new[] { this }, g => new[] { g.Squeeze(d) });
    }

    /// <summary>Removes dimension <paramref name="dim"/> if its size is 1 (a view; otherwise the same shape, as PyTorch).</summary>
    public Tensor Squeeze(int dim)
    {
        int d = Shapes.Dim(dim, shape, "squeeze");
        if (Rank == 0 || shape[d] != 1) return Alias();
        var s = shape.ToList(); var st = strides.ToList();
        s.RemoveAt(d); st.RemoveAt(d);
        return ViewOf(Offset, s.ToArray(), st.ToArray()).WithGrad("squeeze", new[] { this }, g => new[] { g.Unsqueeze(d) });
    }

    /// <summary>Removes every dimension of size 1 (a view).</summary>
    public Tensor Squeeze()
    {
        var keep = Enumerable.Range(0, Rank).Where(i => shape[i] != 1).ToArray();
        var from = (int[])shape.Clone();
        return ViewOf(Offset, keep.Select(i => shape[i]).ToArray(), keep.Select(i => strides[i]).ToArray())
            .WithGrad("squeeze", new[] { this }, g => new[] { g.Reshape(from) });
    }

    /// <summary>Broadcasts size-1 dims to larger sizes without copying (stride 0); -1 keeps a size. As torch.expand.</summary>
    public Tensor Expand(params int[] sizes)
    {
        if (sizes.Length < Rank)
            throw new ArgumentException($"expand: the number of sizes {Shapes.Str(sizes)} must be at least the rank of {Shapes.Str(shape)}");
        int off = sizes.Length - Rank;
        var s = new int[sizes.Length]; var st = new int[sizes.Length];
        for (int i = 0; i < sizes.Length; i++)
        {
            int have = i < off ? 1 : shape[i - off];
            int want = sizes[i] == -1 && i >= off ? have : sizes[i];
            if (want < 0) throw new ArgumentException($"expand: size -1 is not allowed in a new leading dim ({Shapes.Str(sizes)})");
            if (have != want && have != 1)
                throw new ArgumentException($"expand: size {have} of dim {i - off} in {Shapes.Str(shape)} cannot expand to {want} (target {Shapes.Str(sizes)})");
            s[i] = want;
            st[i] = i < off || (have == 1 && want != 1) ? 0 : strides[i - off];
        }
        var from = (int[])shape.Clone();
        return ViewOf(Offset, s, st).WithGrad("expand", new[] { this }, g => new[] { g.SumTo(from) });
    }

    /// <summary>Expand outside autograd.</summary>
    internal Tensor ExpandRaw(int[] sizes)
    {
        using var d = Detach();
        return d.Expand(sizes);
    }

    /// <summary>A tensor object of its own over the same storage and layout, in the graph as an identity.</summary>
    internal Tensor Alias() =>
        ViewOf(Offset, (int[])shape.Clone(), (int[])strides.Clone()).WithGrad("alias", new[] { this }, g => new[] { g });

    /// <summary>This tensor if contiguous, otherwise a contiguous copy (as torch.contiguous).</summary>
    public Tensor Contiguous()
    {
        if (IsContiguous) return this;
        return CloneRaw().WithGrad("contiguous", new[] { this }, g => new[] { g });
    }

    /// <summary>A contiguous copy, recorded as an identity.</summary>
    public Tensor Clone() => CloneRaw().WithGrad("clone", new[] { this }, g => new[] { g });

    /// <summary>A contiguous copy outside autograd.</summary>
    internal Tensor CloneRaw()
    {
        var r = Empty(shape, DType);
        StridedCopy.ToContiguous(RawData, shape, strides, DType.Size(), r.RawData);
        return r;
    }

    /// <summary>This tensor if contiguous, otherwise a contiguous copy, outside autograd (callers dispose copies).</summary>
    internal Tensor ContiguousRaw() => IsContiguous ? this : CloneRaw();

    /// <summary>Copies src (broadcast to this shape) into this tensor's elements, outside autograd.</summary>
    internal void CopyFrom(Tensor src)
    {
        if (src.DType != DType) throw new ArgumentException($"copy: dtype {src.DType.Name()} into {DType.Name()}");
        var st = Shapes.BroadcastStrides(src.shape, src.strides, Shapes.Broadcast(src.shape, shape, "copy"));
        if (!Shapes.Equal(Shapes.Broadcast(src.shape, shape, "copy"), shape))
            throw new ArgumentException($"copy: source {Shapes.Str(src.shape)} does not broadcast to {Shapes.Str(shape)}");
        int es = DType.Size();
        if (IsContiguous) { StridedCopy.ToContiguous(src.RawData, shape, st, es, RawData); return; }
        using var tmp = Empty(shape, DType);
        StridedCopy.ToContiguous(src.RawData, shape, st, es, tmp.RawData);
        StridedCopy.Scatter(tmp.RawData, shape, strides, es, RawData);
    }
}
