namespace Attend;

/// <summary>Shape arithmetic and the messages of shape errors (every one names the op and the shapes).</summary>
internal static class Shapes
{
    public static string Str(int[] s) => "[" + string.Join(", ", s) + "]";

    public static int NumEl(int[] shape, string op)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: negative size in shape {Str(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"{op}: shape {Str(shape)} has more than 2^31-1 elements");
        }
        return (int)n;
    }

    public static int[] ContiguousStrides(int[] shape)
    {
        var st = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { st[i] = s; s *= Math.Max(shape[i], 1); }
        return st;
    }

    public static bool IsContiguous(int[] shape, int[] strides)
    {
        if (shape.AsSpan().Contains(0)) return true;   // no elements: any layout is contiguous, as PyTorch
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (strides[i] != s) return false;
            s *= shape[i];
        }
        return true;
    }

    /// <summary>Wraps a possibly negative dim into [0, rank) of a tensor of <paramref name="shape"/> (rank + 1 for ops
    /// that insert a dim, <paramref name="inserting"/>); throws naming the op and the shape otherwise.</summary>
    public static int Dim(int dim, int[] shape, string op, bool inserting = false)
    {
        int rank = shape.Length + (inserting ? 1 : 0);
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dim {dim} is out of range for a tensor of shape {Str(shape)} (expected [{-r}, {r - 1}])");
        return dim < 0 ? dim + r : dim;
    }

    public static bool Equal(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    /// <summary>The broadcast shape of a and b, as NumPy/PyTorch: align right, sizes equal or 1.</summary>
    public static int[] Broadcast(int[] a, int[] b, string op)
    {
        int n = Math.Max(a.Length, b.Length);
        var r = new int[n];
        for (int i = 0; i < n; i++)
        {
            int da = i < n - a.Length ? 1 : a[i - (n - a.Length)];
            int db = i < n - b.Length ? 1 : b[i - (n - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Str(a)} and {Str(b)} are not broadcastable (dim {i - n}: {da} vs {db})");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>Whether <see cref="Broadcast"/> would accept a and b.</summary>
    public static bool Broadcastable(int[] a, int[] b)
    {
        for (int i = 1; i <= Math.Min(a.Length, b.Length); i++)
            if (a[^i] != b[^i] && a[^i] != 1 && b[^i] != 1) return false;
        return true;
    }

    /// <summary>Strides of a tensor (shape, strides) read as a tensor of <paramref name="outShape"/> (0 along broadcast dims).</summary>
    public static int[] BroadcastStrides(int[] shape, int[] strides, int[] outShape)
    {
        var r = new int[outShape.Length];
        int off = outShape.Length - shape.Length;
        for (int i = 0; i < shape.Length; i++)
            r[i + off] = shape[i] == 1 && outShape[i + off] != 1 ? 0 : strides[i];
        return r;
    }

    /// <summary>Resolves one -1 in a requested shape against numel.</summary>
    public static int[] Infer(int[] req, int numel, string op, int[] from)
    {
        var r = (int[])req.Clone();
        int infer = -1; long known = 1;
        for (int i = 0; i < r.Length; i++)
        {
            if (r[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1 in {Str(req)}");
                infer = i;
            }
            else if (r[i] < 0) throw new ArgumentException($"{op}: invalid size {r[i]} in {Str(req)}");
            else known *= r[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"{op}: shape {Str(req)} is invalid for input {Str(from)} of {numel} elements");
            r[infer] = (int)(numel / known);
        }
        else if (known != numel)
            throw new ArgumentException($"{op}: shape {Str(req)} is invalid for input {Str(from)} of {numel} elements");
        return r;
    }
}
