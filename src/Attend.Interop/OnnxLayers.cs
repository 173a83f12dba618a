using Onnx;
using static Onnx.TensorProto.Types;

namespace Attend.Interop;

/// <summary>The rotary tables of one graph: cos and sin [P, D/2] as initializers, and for opset 23 the position_ids
/// (B, T) that the RotaryEmbedding op indexes them with; for opset 17 the rows of this call's positions, Cos/Sin (T, D/2).</summary>
internal sealed record RopeTables(string Cos, string Sin, bool Interleaved, string? PositionIds);

/// <summary>
/// The pieces every exported Transformer is built from, written once for both opsets. Layouts: x (B, T, C) and the
/// projections q (B, L, H·D), k and v (B, S, Hkv·D) stay 3-D at the boundary; the cache (past/present) is 4-D
/// (B, Hkv, S, D) as Hugging Face's. Opset 17 decomposes attention into MatMul/Softmax with one additive mask;
/// opset 23 calls the standard <c>Attention</c>, <c>RotaryEmbedding</c> and <c>RMSNormalization</c> ops.
/// </summary>
internal static class OnnxLayers
{
    /// <summary>What the masks add to a score that may not be seen: finite, so that a row with no visible key gives
    /// a plain average instead of NaN, and far below any score, so that exp of it is exactly 0 otherwise.</summary>
    public const float Masked = -1e30f;

    /// <summary><c>y = x·Wᵀ + b</c> for the Linear <paramref name="prefix"/> (W [out, in] stored as in the state dict,
    /// transposed in the graph: ONNX Runtime folds the Transpose into the initializer when it loads).</summary>
    public static string Linear(this OnnxBuilder g, string x, string prefix) =>
        g.Linear(x, g.Param(prefix + ".weight"), g.Has(prefix + ".bias") ? g.Param(prefix + ".bias") : null);

    public static string Linear(this OnnxBuilder g, string x, string weight, string? bias)
    {
        var y = g.Op("MatMul", [x, g.Op("Transpose", [weight], ("perm", new long[] { 1, 0 }))]);
        return bias is null ? y : g.Op("Add", [y, bias]);
    }

    /// <summary>Rows [from, to) of an initializer along axis 0 (a slice of a packed projection).</summary>
    public static string Rows(this OnnxBuilder g, string t, long from, long to) =>
        g.Op("Slice", [t, g.Ints([from]), g.Ints([to]), g.Ints([0])]);

    /// <summary>LayerNorm over the last axis: <c>LayerNormalization(x, weight, bias)</c>.</summary>
    public static string LayerNorm(this OnnxBuilder g, string x, string prefix, float eps) =>
        g.Op("LayerNormalization", [x, g.Param(prefix + ".weight"), g.Has(prefix + ".bias") ? g.Param(prefix + ".bias") : ""],
            ("axis", -1L), ("epsilon", eps));

    /// <summary><c>y = x / √(mean(x²) + ε) · weight</c>: RMSNormalization (opset 23), else its decomposition.</summary>
    public static string RmsNorm(this OnnxBuilder g, string x, string prefix, float eps)
    {
        var w = g.Param(prefix + ".weight");
        if (g.Opset >= 23) return g.Op("RMSNormalization", [x, w], ("axis", -1L), ("epsilon", eps));
        var ms = g.Op("ReduceMean", [g.Op("Mul", [x, x])], ("axes", new long[] { -1 }), ("keepdims", 1L));   // (…, 1)
        var inv = g.Op("Reciprocal", [g.Op("Sqrt", [g.Op("Add", [ms, g.Scalar(eps)])])]);
        return g.Op("Mul", [g.Op("Mul", [x, inv]), w]);
    }

    /// <summary>Exact GELU, <c>½·x·(1 + erf(x/√2))</c>.</summary>
    public static string Gelu(this OnnxBuilder g, string x)
    {
        var erf = g.Op("Erf", [g.Op("Mul", [x, g.Scalar(0.70710678118654752f)])]);
        return g.Op("Mul", [g.Op("Mul", [x, g.Scalar(0.5f)]), g.Op("Add", [erf, g.Scalar(1f)])]);
    }

    /// <summary>SiLU, <c>x·σ(x)</c>.</summary>
    public static string Silu(this OnnxBuilder g, string x) => g.Op("Mul", [x, g.Op("Sigmoid", [x])]);

    /// <summary>The feed-forward activation by PyTorch's name ("relu" or "gelu").</summary>
    public static string Activation(this OnnxBuilder g, string name, string x) => name == "relu" ? g.Op("Relu", [x]) : g.Gelu(x);

    /// <summary>Splits the last axis into parts of the given sizes.</summary>
    public static string[] Split(this OnnxBuilder g, string x, params long[] sizes) =>
        g.OpN("Split", [x, g.Ints(sizes)], g.Fresh("Split", sizes.Length), ("axis", -1L));

    /// <summary>Dim <paramref name="axis"/> of x as a 1-D int64 tensor of one element.</summary>
    public static string Dim(this OnnxBuilder g, string x, int axis) => g.Op("Shape", [x], ("start", (long)axis), ("end", (long)axis + 1));

    /// <summary>A one-element 1-D int64 tensor as a scalar (for Range).</summary>
    public static string ToScalar(this OnnxBuilder g, string x) => g.Op("Squeeze", [x, g.Ints([0])]);

    /// <summary>Rows [from, to) of a table along axis 0, from and to one-element 1-D tensors (positions of this call).</summary>
    public static string TableRows(this OnnxBuilder g, string table, string from, string to) =>
        g.Op("Slice", [table, from, to, g.Ints([0])]);

    /// <summary>(B, T, h·D) → (B, h, T, D).</summary>
    public static string Heads(this OnnxBuilder g, string x, int h, int d) =>
        g.Op("Transpose", [g.Op("Reshape", [x, g.Ints([0, 0, h, d])])], ("perm", new long[] { 0, 2, 1, 3 }));

    /// <summary>(B, h, T, D) → (B, T, h·D).</summary>
    public static string MergeHeads(this OnnxBuilder g, string o) =>
        g.Op("Reshape", [g.Op("Transpose", [o], ("perm", new long[] { 0, 2, 1, 3 })), g.Ints([0, 0, -1])]);

    /// <summary>Hugging Face's attention_mask (B, S) int64, 1 = token, 0 = padding → additive (B, 1, 1, S).</summary>
    public static string KeyPaddingMask(this OnnxBuilder g, string attentionMask)
    {
        var keep = g.Op("Cast", [attentionMask], ("to", (long)DataType.Bool));
        var add = g.Op("Where", [keep, g.Scalar(0f), g.Scalar(Masked)]);
        return g.Op("Unsqueeze", [add, g.Ints([1, 2])]);
    }

    /// <summary>
    /// The additive causal mask (1, 1, T, S) of T queries at positions past … past + T − 1 over S = past + T keys —
    /// 0 where key j ≤ query position, <see cref="Masked"/> above (bottom-right alignment, a KV cache's) — plus ALiBi's
    /// <c>−m_h·|i − j|</c> per head (then (1, H, T, S)) when <paramref name="alibi"/> slopes are given.
    /// </summary>
    public static string CausalMask(this OnnxBuilder g, string past, string total, float[]? alibi)
    {
        var i = g.Op("Unsqueeze", [g.Op("Range", [g.ToScalar(past), g.ToScalar(total), g.ScalarInt(1)]), g.Ints([1])]);   // (T, 1)
        var j = g.Op("Range", [g.ScalarInt(0), g.ToScalar(total), g.ScalarInt(1)]);                                          // (S)
        var mask = g.Op("Where", [g.Op("Greater", [j, i]), g.Scalar(Masked), g.Scalar(0f)]);                                  // (T, S)
        if (alibi is not null)
        {
            var dist = g.Op("Cast", [g.Op("Abs", [g.Op("Sub", [i, j])])], ("to", (long)DataType.Float));                     // (T, S)
            var slopes = g.Floats(alibi.Select(m => -m).ToArray(), 1, alibi.Length, 1, 1);                                    // (1, H, 1, 1)
            return g.Op("Add", [g.Op("Mul", [slopes, dist]), mask]);                                                          // (1, H, T, S)
        }
        return g.Op("Unsqueeze", [mask, g.Ints([0, 1])]);
    }

    /// <summary>
    /// <c>softmax(q·kᵀ/√D + mask)·v</c> for q (B, L, H·D), k and v (B, S, Hkv·D) → (B, L, H·D); RoPE first on q and k
    /// when <paramref name="rope"/> is given; with <paramref name="past"/>, this call's keys/values are appended to the
    /// cache's (B, Hkv, P, D) and the result is written to the outputs named <paramref name="present"/>.
    /// <paramref name="isCausal"/> (opset 23, no mask, no past) asks the op for its own top-left causal mask.
    /// </summary>
    public static string Attention(this OnnxBuilder g, string q, string k, string v, int H, int Hkv, int D, string? mask,
        bool isCausal = false, RopeTables? rope = null, (string Key, string Value)? past = null, (string Key, string Value)? present = null)
    {
        float scale = 1f / MathF.Sqrt(D);
        if (g.Opset >= 23)
        {
            if (rope is not null) (q, k) = (Rotary23(g, q, rope, H), Rotary23(g, k, rope, Hkv));
            // ONNX Runtime 1.32 requires the mask's query axis to be L (it broadcasts batch and heads, not queries)
            if (mask is not null) mask = g.Op("Expand", [mask, g.Op("Concat", [g.Ints([1, 1]), g.Dim(q, 1), g.Ints([1])], ("axis", 0L))]);
            var outs = g.OpN("Attention", [q, k, v, mask ?? "", past?.Key ?? "", past?.Value ?? ""],
                [g.Fresh("Attention", 1)[0], present?.Key ?? "", present?.Value ?? ""],
                ("q_num_heads", (long)H), ("kv_num_heads", (long)Hkv), ("scale", scale), ("is_causal", isCausal ? 1L : 0L));
            return outs[0];
        }
        if (isCausal) throw new InvalidOperationException("ONNX export: opset 17 attention takes its causal mask as an input (an exporter bug)");
        string q4 = g.Heads(q, H, D), k4 = g.Heads(k, Hkv, D), v4 = g.Heads(v, Hkv, D);        // (B, H, L, D), (B, Hkv, S, D)
        if (rope is not null) (q4, k4) = (Rotary17(g, q4, rope), Rotary17(g, k4, rope));
        if (past is var (pk, pv))
        {
            k4 = g.Op("Concat", [pk, k4], present!.Value.Key, ("axis", 2L));                       // (B, Hkv, P + S, D)
            v4 = g.Op("Concat", [pv, v4], present!.Value.Value, ("axis", 2L));
        }
        if (Hkv != H) (k4, v4) = (RepeatHeads(g, k4, H / Hkv, H, D), RepeatHeads(g, v4, H / Hkv, H, D));   // (B, H, S, D)
        var scores = g.Op("Mul", [g.Op("MatMul", [q4, g.Op("Transpose", [k4], ("perm", new long[] { 0, 1, 3, 2 }))]), g.Scalar(scale)]);   // (B, H, L, S)
        if (mask is not null) scores = g.Op("Add", [scores, mask]);
        var p = g.Op("Softmax", [scores], ("axis", -1L));
        return g.MergeHeads(g.Op("MatMul", [p, v4]));                                               // (B, L, H·D)
    }

    /// <summary>Grouped-query heads: kv (B, Hkv, S, D) → (B, H, S, D), kv head h shared by query heads h·g … h·g + g − 1.</summary>
    private static string RepeatHeads(OnnxBuilder g, string kv, int group, int H, int D)
    {
        var x = g.Op("Expand", [g.Op("Unsqueeze", [kv, g.Ints([2])]), g.Ints([1, 1, group, 1, 1])]);   // (B, Hkv, g, S, D)
        return g.Op("Reshape", [x, g.Ints([0, H, -1, D])]);
    }

    /// <summary>RoPE on x (B, h, T, D) with this call's table rows cos, sin (T, D/2): pairs (a, b) become
    /// <c>(a·cos − b·sin, a·sin + b·cos)</c>; pairs are (x[i], x[i + D/2]), or (x[2i], x[2i+1]) interleaved.</summary>
    private static string Rotary17(OnnxBuilder g, string x, RopeTables r)
    {
        string Rotate(string a, string b, string cos, string sin) =>
            g.Op("Concat", [g.Op("Sub", [g.Op("Mul", [a, cos]), g.Op("Mul", [b, sin])]),
                            g.Op("Add", [g.Op("Mul", [a, sin]), g.Op("Mul", [b, cos])])], ("axis", -1L));
        if (!r.Interleaved)
        {
            var halves = g.OpN("Split", [x, ""], g.Fresh("Split", 2), ("axis", -1L));       // two (B, h, T, D/2); opset 13+ splits evenly
            return Rotate(halves[0], halves[1], r.Cos, r.Sin);
        }
        var pairs = g.Op("Reshape", [x, g.Ints([0, 0, 0, -1, 2])]);                          // (B, h, T, D/2, 2)
        var ab = g.OpN("Split", [pairs, ""], g.Fresh("Split", 2), ("axis", -1L));             // two (B, h, T, D/2, 1)
        string cos = g.Op("Unsqueeze", [r.Cos, g.Ints([-1])]), sin = g.Op("Unsqueeze", [r.Sin, g.Ints([-1])]);   // (T, D/2, 1)
        var rotated = Rotate(ab[0], ab[1], cos, sin);                                          // (B, h, T, D/2, 2)
        return g.Op("Reshape", [rotated, g.Ints([0, 0, 0, -1])]);
    }

    /// <summary>RoPE on x (B, T, h·D) with the standard RotaryEmbedding op (opset 23).</summary>
    private static string Rotary23(OnnxBuilder g, string x, RopeTables r, int heads) =>
        g.Op("RotaryEmbedding", [x, r.Cos, r.Sin, r.PositionIds!], ("interleaved", r.Interleaved ? 1L : 0L), ("num_heads", (long)heads));
}
