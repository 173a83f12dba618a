namespace Attend;

public static unsafe partial class Functional
{
    /// <summary>
    /// Rotary position embedding (Su et al., RoFormer): rotates each pair of features of x [B, H, T, D] (or [H, T, D])
    /// at position p = <paramref name="offset"/> + t by θ_p,i = p·base^(−2i/D):
    /// <c>(a, b) ↦ (a·cos θ − b·sin θ, a·sin θ + b·cos θ)</c>, so that <c>⟨R_p q, R_s k⟩</c> depends on p − s only.
    /// <paramref name="cos"/>, <paramref name="sin"/>: tables [P, D/2] with P ≥ offset + T (see <see cref="Nn.RotaryEmbedding"/>).
    /// Interleaved pairs (x[2i], x[2i+1]) as GPT-J; otherwise half-split (x[i], x[i+D/2]) as GPT-NeoX/LLaMA.
    /// x may be a strided view (unit stride along D): it is read in place. Backward: the rotation by −θ.
    /// </summary>
    public static Tensor RotaryEmbedding(Tensor x, Tensor cos, Tensor sin, int offset = 0, bool interleaved = false)
    {
        const string op = "rotary_embedding";
        Tensor.RequireFloat(x, op, "input");
        if (x.Rank is not (3 or 4)) throw new ArgumentException($"{op}: input must be [B, H, T, D] or [H, T, D], got {Shapes.Str(x.ShapeRef)}");
        int d = x.ShapeRef[^1], t = x.ShapeRef[^2], h = x.ShapeRef[^3], b = x.Rank == 4 ? x.ShapeRef[0] : 1;
        if (d % 2 != 0) throw new ArgumentException($"{op}: head dim must be even, got {d} in {Shapes.Str(x.ShapeRef)}");
        foreach (var (tab, name) in new[] { (cos, "cos"), (sin, "sin") })
            if (tab.Rank != 2 || tab.ShapeRef[1] != d / 2 || !tab.IsContiguous)
                throw new ArgumentException($"{op}: {name} table must be a contiguous [P, {d / 2}], got {Shapes.Str(tab.ShapeRef)}");
        if (offset < 0 || offset + t > cos.ShapeRef[0] || sin.ShapeRef[0] != cos.ShapeRef[0])
            throw new ArgumentOutOfRangeException(nameof(offset), $"{op}: positions {offset}..{offset + t - 1} exceed the tables' {cos.ShapeRef[0]} positions");
        var xc = x.StridesRef[^1] == 1 || d == 1 ? x.Detach() : x.CloneRaw();
        long sT = xc.StridesRef[^2], sH = xc.StridesRef[^3], sB = x.Rank == 4 ? xc.StridesRef[0] : 0;
        var y = Tensor.Empty(x.ShapeRef);
        Kernels.Rotary.Forward(y.Data, xc.Data, sB, sH, sT, cos.Data, sin.Data, b, h, t, d, offset, interleaved, 1f);
        xc.Dispose();
        var shape = x.ShapeRef;
        return y.WithGrad(op, new[] { x }, g =>
        {
            var gc = g.ContiguousRaw();
            var dx = Tensor.Empty(shape);
            long ht = (long)t * d;
            Kernels.Rotary.Forward(dx.Data, gc.Data, h * ht, ht, d, cos.Data, sin.Data, b, h, t, d, offset, interleaved, -1f);
            if (!ReferenceEquals(gc, g)) gc.Dispose();
            return new[] { dx };
        });
    }
}
