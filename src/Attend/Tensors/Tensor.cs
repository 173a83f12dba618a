using System.Text;

namespace Attend;

/// <summary>
/// An n-dimensional array of <see cref="DType.Float32"/> (or Int64 / Bool) values in 64-byte-aligned pooled memory,
/// with shape, strides and an offset, so that views (transpose, narrow, expand…) share storage without copying.
/// Float tensors record the operations applied to them when <see cref="RequiresGrad"/> is set (define-by-run autograd).
/// Dispose tensors you are done with — or create them inside a <see cref="TensorScope"/> — to return their memory to
/// the pool at once; an undisposed tensor is reclaimed by the GC.
/// </summary>
public sealed unsafe partial class Tensor : IDisposable
{
    private Storage? storage;
    internal readonly int Offset;      // in elements
    private readonly int[] shape;
    private readonly int[] strides;    // in elements
    internal TensorScope? Scope;

    /// <summary>The element type (<see cref="Attend.DType"/>); only float32 tensors take part in autograd.</summary>
    public DType DType { get; }
    /// <summary>Number of elements.</summary>
    public int NumEl { get; }

    internal Tensor(Storage storage, int offset, int[] shape, int[] strides, DType dtype)
    {
        this.storage = storage;
        Offset = offset;
        this.shape = shape;
        this.strides = strides;
        DType = dtype;
        NumEl = Shapes.NumEl(shape, "tensor");
        TensorScope.Register(this);
    }

    /// <summary>A new contiguous tensor with uninitialized contents.</summary>
    internal static Tensor Empty(int[] shape, DType dtype = DType.Float32)
    {
        int n = Shapes.NumEl(shape, "empty");
        var s = new Storage((long)n * dtype.Size());
        return new Tensor(s, 0, (int[])shape.Clone(), Shapes.ContiguousStrides(shape), dtype);
    }

    /// <summary>A new tensor object over the same storage (refcount + 1) with the given layout.</summary>
    internal Tensor ViewOf(int offset, int[] newShape, int[] newStrides)
    {
        var s = Live;
        s.AddRef();
        return new Tensor(s, offset, newShape, newStrides, DType);
    }

    private Storage Live => storage ?? throw new ObjectDisposedException(nameof(Tensor),
        $"tensor {Shapes.Str(shape)} {DType.Name()} was used after Dispose()");

    /// <summary>Sizes of each dimension (a copy).</summary>
    public int[] Shape => (int[])shape.Clone();
    /// <summary>Strides of each dimension in elements (a copy).</summary>
    public int[] Strides => (int[])strides.Clone();
    internal int[] ShapeRef => shape;
    internal int[] StridesRef => strides;
    /// <summary>Number of dimensions (0 for a scalar), as torch.Tensor.dim().</summary>
    public int Rank => shape.Length;
    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end), as torch.Tensor.size(dim).</summary>
    public int Size(int dim) => shape[Shapes.Dim(dim, shape, "size")];
    /// <summary>True once <see cref="Dispose"/> has run; reading the data then throws <see cref="ObjectDisposedException"/>.</summary>
    public bool IsDisposed => storage is null;
    /// <summary>True when the elements lie in row-major order without gaps (size-1 dims and empty tensors are ignored), as torch.Tensor.is_contiguous().</summary>
    public bool IsContiguous => Shapes.IsContiguous(shape, strides);

    /// <summary>Pointer to element 0 (with offset). Float32 only.</summary>
    internal float* Data
    {
        get
        {
            if (DType != DType.Float32) throw new InvalidOperationException($"expected a float32 tensor, got {DType.Name()} {Shapes.Str(shape)}");
            return (float*)Live.Ptr + Offset;
        }
    }

    internal byte* RawData => Live.Ptr + (long)Offset * DType.Size();
    internal long* LongData
    {
        get
        {
            if (DType != DType.Int64) throw new InvalidOperationException($"expected an int64 tensor, got {DType.Name()} {Shapes.Str(shape)}");
            return (long*)Live.Ptr + Offset;
        }
    }
    internal bool OwnsStorageAlone => Live.RefCount == 1;

    /// <summary>Contiguous data as a span (the tensor must be contiguous).</summary>
    internal Span<float> Span
    {
        get
        {
            if (!IsContiguous) throw new InvalidOperationException("internal: Span on a non-contiguous tensor");
            return new Span<float>(Data, NumEl);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Releases this tensor's reference to its storage; the memory goes back to the pool when the last tensor viewing
    /// it is disposed. Safe to call twice; <see cref="Grad"/> is not disposed with it.</remarks>
    public void Dispose()
    {
        var s = storage;
        if (s is null) return;
        storage = null;
        Scope = null;
        s.Release();
    }

    // ---- creation ----------------------------------------------------------------------------------------------

    /// <summary>A new float32 tensor of <paramref name="shape"/> holding a copy of <paramref name="data"/> in row-major order (the lengths must agree),
    /// as torch.tensor(data).reshape(shape); <paramref name="requiresGrad"/> makes it a leaf that accumulates <see cref="Grad"/>.</summary>
    public static Tensor FromArray(float[] data, int[] shape, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        var t = CheckedEmpty(data.Length, shape, DType.Float32, "FromArray");
        data.AsSpan().CopyTo(t.Span);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>A new int64 tensor (indices, token ids, targets) of <paramref name="shape"/> holding a copy of <paramref name="data"/> in row-major order.</summary>
    public static Tensor FromArray(long[] data, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        var t = CheckedEmpty(data.Length, shape, DType.Int64, "FromArray");
        data.AsSpan().CopyTo(new Span<long>(t.RawData, data.Length));
        return t;
    }

    /// <summary>A new bool tensor (a mask) of <paramref name="shape"/> holding a copy of <paramref name="data"/> in row-major order.</summary>
    public static Tensor FromArray(bool[] data, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        var t = CheckedEmpty(data.Length, shape, DType.Bool, "FromArray");
        byte* p = t.RawData;
        for (int i = 0; i < data.Length; i++) p[i] = data[i] ? (byte)1 : (byte)0;
        return t;
    }

    private static Tensor CheckedEmpty(int length, int[] shape, DType dtype, string op)
    {
        ArgumentNullException.ThrowIfNull(shape);
        int n = Shapes.NumEl(shape, op);
        if (n != length)
            throw new ArgumentException($"{op}: {length} values do not fill shape {Shapes.Str(shape)} ({n} elements)", nameof(shape));
        return Empty(shape, dtype);
    }

    /// <summary>A 0-dimensional tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(float value, bool requiresGrad = false) => FromArray(new[] { value }, Array.Empty<int>(), requiresGrad);

    /// <summary>A new float32 tensor of zeros, as torch.zeros.</summary>
    public static Tensor Zeros(params int[] shape) => Full(shape, 0f);
    /// <summary>A new float32 tensor of ones, as torch.ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(shape, 1f);

    /// <summary>A new float32 tensor filled with <paramref name="value"/>, as torch.full; <paramref name="requiresGrad"/> makes it a leaf that requires grad.</summary>
    public static Tensor Full(int[] shape, float value, bool requiresGrad = false)
    {
        var t = Empty(shape);
        t.Span.Fill(value);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>A new contiguous float32 tensor of zeros with <paramref name="t"/>'s shape (always float32, not requiring grad), as torch.zeros_like.</summary>
    public static Tensor ZerosLike(Tensor t) => Zeros(t.shape);
    /// <summary>A new contiguous float32 tensor of ones with <paramref name="t"/>'s shape (always float32, not requiring grad), as torch.ones_like.</summary>
    public static Tensor OnesLike(Tensor t) => Ones(t.shape);

    /// <summary>Values start, start+step, … below end (float32), as torch.arange.</summary>
    public static Tensor Arange(float start, float end, float step = 1f)
    {
        if (step == 0 || float.IsNaN(step)) throw new ArgumentException("arange: step must be non-zero", nameof(step));
        double count = Math.Ceiling((end - (double)start) / step);
        if (count < 0) throw new ArgumentException($"arange: range [{start}, {end}) with step {step} goes the wrong way");
        var t = Empty(new[] { (int)count });
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(start + (double)i * step);
        return t;
    }

    /// <summary>Values 0, 1, … below <paramref name="end"/> (float32), as torch.arange(end).</summary>
    public static Tensor Arange(float end) => Arange(0f, end);

    // ---- reading out -------------------------------------------------------------------------------------------

    /// <summary>The elements in row-major order (float32 tensors; Int64 and Bool are converted).</summary>
    public float[] ToArray()
    {
        var c = ContiguousRaw();
        try
        {
            var r = new float[NumEl];
            switch (DType)
            {
                case DType.Float32: new ReadOnlySpan<float>(c.RawData, NumEl).CopyTo(r); break;
                case DType.Int64: { long* p = (long*)c.RawData; for (int i = 0; i < r.Length; i++) r[i] = p[i]; break; }
                default: { byte* p = c.RawData; for (int i = 0; i < r.Length; i++) r[i] = p[i]; break; }
            }
            return r;
        }
        finally { if (!ReferenceEquals(c, this)) c.Dispose(); }
    }

    /// <summary>The elements of an int64 tensor in row-major order; throws <see cref="InvalidOperationException"/> for another dtype.</summary>
    public long[] ToInt64Array()
    {
        if (DType != DType.Int64) throw new InvalidOperationException($"ToInt64Array: tensor is {DType.Name()}, not int64");
        var c = ContiguousRaw();
        try { return new ReadOnlySpan<long>(c.RawData, NumEl).ToArray(); }
        finally { if (!ReferenceEquals(c, this)) c.Dispose(); }
    }

    /// <summary>The elements of a bool tensor in row-major order; throws <see cref="InvalidOperationException"/> for another dtype.</summary>
    public bool[] ToBoolArray()
    {
        if (DType != DType.Bool) throw new InvalidOperationException($"ToBoolArray: tensor is {DType.Name()}, not bool");
        var c = ContiguousRaw();
        try
        {
            var r = new bool[NumEl];
            for (int i = 0; i < r.Length; i++) r[i] = c.RawData[i] != 0;
            return r;
        }
        finally { if (!ReferenceEquals(c, this)) c.Dispose(); }
    }

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (NumEl != 1) throw new InvalidOperationException($"Item: tensor {Shapes.Str(shape)} has {NumEl} elements, not 1");
        return ToArray()[0];
    }

    /// <inheritdoc/>
    /// <remarks>PyTorch-like: <c>tensor([v0, v1, …], shape=[…], dtype=…, requires_grad=True)</c> with at most 64 values;
    /// dtype appears for int64 and bool, requires_grad only when set.</remarks>
    public override string ToString()
    {
        if (storage is null) return $"tensor(disposed, shape={Shapes.Str(shape)})";
        var sb = new StringBuilder("tensor(");
        var v = ToArray();
        const int maxShown = 64;
        sb.Append('[');
        for (int i = 0; i < Math.Min(v.Length, maxShown); i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(DType == DType.Float32 ? v[i].ToString("0.####") : DType == DType.Bool ? (v[i] != 0 ? "True" : "False") : v[i].ToString());
        }
        if (v.Length > maxShown) sb.Append(", …");
        sb.Append("], shape=").Append(Shapes.Str(shape));
        if (DType != DType.Float32) sb.Append(", dtype=").Append(DType.Name());
        if (RequiresGrad) sb.Append(", requires_grad=True");
        return sb.Append(')').ToString();
    }
}
