namespace Attend.Nn;

/// <summary>
/// Turns torch.nn.MultiheadAttention's two masks into the one mask the fused kernel takes (see
/// <see cref="Attention.AttentionOptions.Mask"/>: bool True = MAY attend, or float added to the scores, broadcast to [B, H, L, S]).
/// MHA's conventions are the other way round for bools: <c>attnMask</c> True = NOT allowed, <c>keyPaddingMask</c>
/// True = padding (ignore). Float masks are added. When both are given, as PyTorch 2.x's <c>_canonical_mask</c>:
/// <c>mask = additive(attnMask) + additive(keyPaddingMask)</c>, with <c>additive(bool b) = b ? −∞ : 0</c>.
/// Dims legend: B batch, H heads, L queries, S keys.
/// </summary>
internal static unsafe class AttentionMasks
{
    /// <summary>Both masks as one kernel mask, or null when neither is given. <c>attnMask</c>: [L, S₀] or [B·H, L, S₀],
    /// bool (True = not allowed) or float (added); <c>keyPaddingMask</c>: [B, S₀], bool (True = padding) or float (added);
    /// <c>pad</c>: key columns appended after S₀ (bias_k, the zero key), always allowed: S = S₀ + pad.</summary>
    public static Tensor? Combine(Tensor? attnMask, Tensor? keyPaddingMask, int B, int H, int L, int S, int pad, string op)
    {
        int s0 = S - pad;
        Tensor? a = null, p = null;
        if (attnMask is not null)
        {
            Check(attnMask, "attnMask", op);
            bool ok = attnMask.Rank == 2 ? attnMask.Shape.SequenceEqual(new[] { L, s0 }) : attnMask.Rank == 3 && attnMask.Shape.SequenceEqual(new[] { B * H, L, s0 });
            if (!ok)
                throw new ArgumentException($"{op}: attnMask must be [L, S] = [{L}, {s0}] or [B·H, L, S] = [{B * H}, {L}, {s0}], got {Shapes.Str(attnMask.ShapeRef)}");
            a = Pad(attnMask, pad);
            a = attnMask.Rank == 2 ? a.Reshape(1, 1, L, S) : a.Reshape(B, H, L, S);        // (1|B, 1|H, L, S)
        }
        if (keyPaddingMask is not null)
        {
            Check(keyPaddingMask, "keyPaddingMask", op);
            if (!keyPaddingMask.Shape.SequenceEqual(new[] { B, s0 }))
                throw new ArgumentException($"{op}: keyPaddingMask must be [B, S] = [{B}, {s0}], got {Shapes.Str(keyPaddingMask.ShapeRef)}");
            p = Pad(keyPaddingMask, pad).Reshape(B, 1, 1, S);                                // (B, 1, 1, S)
        }
        if (a is null && p is null) return null;
        if (a is null || p is null)
        {
            var m = (a ?? p)!;
            return m.DType == DType.Bool ? m.LogicalNot() : m;    // MHA's True = blocked -> the kernel's True = allowed
        }
        if (a.DType == DType.Bool && p.DType == DType.Bool) return AllowedByBoth(a, p, B, H, L, S);
        return Additive(a).Add(Additive(p));                     // (B, 1|H, L, S), differentiable in float masks
    }

    private static void Check(Tensor m, string name, string op)
    {
        if (m.DType == DType.Int64) throw new ArgumentException($"{op}: {name} must be bool or float32, got int64 {Shapes.Str(m.ShapeRef)}");
    }

    /// <summary>Appends <paramref name="pad"/> allowed columns (False / 0) to the last dim, as PyTorch's <c>pad(mask, (0, 1))</c>.</summary>
    private static Tensor Pad(Tensor m, int pad)
    {
        if (pad == 0) return m;
        var shape = m.Shape; shape[^1] = pad;
        var zeros = m.DType == DType.Bool ? Tensor.FromArray(new bool[Shapes.NumEl(shape, "pad")], shape) : Tensor.Zeros(shape);
        return Tensor.Cat(new[] { m, zeros }, -1);
    }

    /// <summary>A bool "True = blocked" mask as −∞ / 0; a float mask as it is.</summary>
    private static Tensor Additive(Tensor m)
    {
        if (m.DType != DType.Bool) return m;
        using var z = Tensor.Zeros(m.ShapeRef);
        return z.MaskedFill(m, float.NegativeInfinity);
    }

    /// <summary><c>!(a | p)</c> for two bool "True = blocked" masks, a (1|B, 1|H, L, S) and p (B, 1, 1, S) → (B, 1|H, L, S).</summary>
    private static Tensor AllowedByBoth(Tensor a, Tensor p, int B, int H, int L, int S)
    {
        int h = a.ShapeRef[1];                                   // 1, or H for a per-head mask
        long rowsPerBatch = (long)h * L;
        var ac = a.ContiguousRaw(); var pc = p.ContiguousRaw();
        var o = Tensor.Empty(new[] { B, h, L, S }, DType.Bool);
        byte* pa = ac.RawData, pp = pc.RawData, po = o.RawData;
        for (int b = 0; b < B; b++)
            for (long r = 0; r < rowsPerBatch; r++)
            {
                byte* ra = pa + ((a.ShapeRef[0] == 1 ? 0 : b * rowsPerBatch) + r) * S, rp = pp + (long)b * S, ro = po + (b * rowsPerBatch + r) * S;
                for (int j = 0; j < S; j++) ro[j] = (ra[j] | rp[j]) == 0 ? (byte)1 : (byte)0;
            }
        if (!ReferenceEquals(ac, a)) ac.Dispose();
        if (!ReferenceEquals(pc, p)) pc.Dispose();
        return o;
    }
}
