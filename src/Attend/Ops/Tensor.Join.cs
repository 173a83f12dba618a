namespace Attend;

/// <summary>Joining and splitting along a dimension.</summary>
public sealed partial class Tensor
{
    /// <summary>Concatenates along dim; all other sizes must match. Backward: each input gets its slice of the gradient.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("cat: expected a non-empty list of tensors");
        var first = tensors[0];
        int d = Shapes.Dim(dim, first.shape, "cat");
        if (first.Rank == 0) throw new ArgumentException("cat: zero-dimensional tensors cannot be concatenated");
        int total = 0;
        for (int t = 0; t < tensors.Count; t++)
        {
            var x = tensors[t];
            if (x.DType != first.DType) throw new ArgumentException($"cat: tensor {t} is {x.DType.Name()} {Shapes.Str(x.shape)}, tensor 0 is {first.DType.Name()} {Shapes.Str(first.shape)}");
            if (x.Rank != first.Rank) throw new ArgumentException($"cat: tensor {t} has shape {Shapes.Str(x.shape)}, rank differs from tensor 0 {Shapes.Str(first.shape)}");
            for (int i = 0; i < x.Rank; i++)
                if (i != d && x.shape[i] != first.shape[i])
                    throw new ArgumentException($"cat: sizes must match except in dim {dim}; tensor {t} has {Shapes.Str(x.shape)}, tensor 0 has {Shapes.Str(first.shape)}");
            total += x.shape[d];
        }
        var s = (int[])first.shape.Clone(); s[d] = total;
        var o = Empty(s, first.DType);
        int at = 0;
        var starts = new int[tensors.Count];
        for (int t = 0; t < tensors.Count; t++)
        {
            starts[t] = at;
            using var slot = o.NarrowRaw(d, at, tensors[t].shape[d]);
            slot.CopyFrom(tensors[t]);
            at += tensors[t].shape[d];
        }
        var inputs = tensors.ToArray();
        return o.WithGrad("cat", inputs, g =>
        {
            var r = new Tensor?[inputs.Length];
            for (int t = 0; t < inputs.Length; t++)
                if (inputs[t].RequiresGrad) r[t] = g.NarrowRaw(d, starts[t], inputs[t].shape[d]);
            return r;
        });
    }

    /// <summary>Stacks equal-shaped tensors along a new dim.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack: expected a non-empty list of tensors");
        int d = Shapes.Dim(dim, tensors[0].shape, "stack", inserting: true);
        for (int t = 1; t < tensors.Count; t++)
            if (!Shapes.Equal(tensors[t].shape, tensors[0].shape))
                throw new ArgumentException($"stack: all tensors must have the same shape; tensor {t} is {Shapes.Str(tensors[t].shape)}, tensor 0 is {Shapes.Str(tensors[0].shape)}");
        var un = tensors.Select(x => x.Unsqueeze(d)).ToArray();
        return Cat(un, d);
    }

    /// <summary>Pieces of <paramref name="splitSize"/> along dim (the last may be smaller); views.</summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        if (splitSize <= 0) throw new ArgumentException($"split: splitSize must be positive, got {splitSize}");
        int d = Shapes.Dim(dim, shape, "split");
        var sizes = new List<int>();
        for (int at = 0; at < shape[d]; at += splitSize) sizes.Add(Math.Min(splitSize, shape[d] - at));
        if (sizes.Count == 0) sizes.Add(0);
        return Split(sizes.ToArray(), d);
    }

    /// <summary>Pieces of the given sizes along dim (they must add up to its size); views.</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        int d = Shapes.Dim(dim, shape, "split");
        if (sizes.Any(s => s < 0) || sizes.Sum() != shape[d])
            throw new ArgumentException($"split: sizes {Shapes.Str(sizes)} must be non-negative and add up to {shape[d]}, the size of dim {dim} in {Shapes.Str(shape)}");
        var r = new Tensor[sizes.Length];
        for (int i = 0, at = 0; i < sizes.Length; at += sizes[i], i++) r[i] = Narrow(d, at, sizes[i]);
        return r;
    }

    /// <summary>Splits into <paramref name="chunks"/> pieces of ceil(size/chunks) (fewer if the size runs out), as torch.chunk.</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks <= 0) throw new ArgumentException($"chunk: number of chunks must be positive, got {chunks}");
        int d = Shapes.Dim(dim, shape, "chunk");
        int size = (shape[d] + chunks - 1) / chunks;
        return Split(Math.Max(size, 1), d);
    }

    /// <summary>Narrow outside autograd.</summary>
    internal Tensor NarrowRaw(int d, int start, int length)
    {
        var s = (int[])shape.Clone(); s[d] = length;
        return ViewOf(Offset + start * strides[d], s, (int[])strides.Clone());
    }
}
