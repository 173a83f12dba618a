namespace Attend;

/// <summary>Element type of a <see cref="Tensor"/>. Float32 carries the math; Int64 holds indices (token ids,
/// targets); Bool holds masks (stored as one byte, 0 or 1). As in PyTorch, only Float32 tensors take part in autograd.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float (torch.float32), 4 bytes; the only dtype that can require grad.</summary>
    Float32,
    /// <summary>64-bit signed integer (torch.int64), 8 bytes: indices, token ids, class targets.</summary>
    Int64,
    /// <summary>Boolean (torch.bool), one byte holding 0 or 1: masks and comparison results.</summary>
    Bool
}

/// <summary>How a loss reduces over its elements, as PyTorch's <c>reduction=</c> argument.</summary>
public enum Reduction
{
    /// <summary>No reduction: one loss per element (or sample), as <c>reduction='none'</c>.</summary>
    None,
    /// <summary>The (weighted) mean of the losses, as <c>reduction='mean'</c> (PyTorch's default).</summary>
    Mean,
    /// <summary>The sum of the losses, as <c>reduction='sum'</c>.</summary>
    Sum
}

internal static class DTypeExtensions
{
    public static int Size(this DType t) => t switch { DType.Float32 => 4, DType.Int64 => 8, _ => 1 };
    public static string Name(this DType t) => t switch { DType.Float32 => "float32", DType.Int64 => "int64", _ => "bool" };
}

public sealed unsafe partial class Tensor
{
    /// <summary>Throws unless <paramref name="t"/> is float32, naming the op, the argument, its dtype and shape.</summary>
    internal static void RequireFloat(Tensor t, string op, string arg)
    {
        if (t.DType != DType.Float32)
            throw new ArgumentException($"{op}: argument '{arg}' must be float32, got {t.DType.Name()} {Shapes.Str(t.ShapeRef)}");
    }
}
