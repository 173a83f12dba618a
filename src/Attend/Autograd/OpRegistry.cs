namespace Attend;

/// <summary>
/// Every differentiable op by the name it records on the tape. Recording an unlisted name throws, so this list is
/// complete by construction; the gradcheck tests cover each entry.
/// </summary>
public static class OpRegistry
{
    /// <summary>The names of all differentiable ops, as recorded on the tape ("matmul", "softmax", …).</summary>
    public static IReadOnlyCollection<string> Differentiable => names;

    private static readonly HashSet<string> names = new()
    {
        // arithmetic
        "add", "sub", "mul", "div", "pow", "rsub", "rdiv", "neg",
        // pointwise
        "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp", "silu", "gelu",
        // views and copies
        "reshape", "permute", "transpose", "movedim", "narrow", "unsqueeze", "squeeze", "expand", "alias", "contiguous", "clone",
        // reductions
        "sum", "mean", "max", "var",
        // indexing, masks, joins
        "where", "masked_fill", "tril", "triu", "gather", "cat",
        // matrix products and nn functions
        "matmul", "linear", "rms_norm", "scaled_dot_product_attention", "rotary_embedding", "softmax", "log_softmax", "layer_norm", "nll_loss", "ctc_loss", "embedding", "dropout",
        // attention variants
        "sparsemax", "entmax15", "reinforce_attention", "reinforce_loss",
    };

    internal static void Require(string op)
    {
        if (!names.Contains(op)) throw new InvalidOperationException($"internal: op '{op}' records a backward but is not in OpRegistry");
    }
}
