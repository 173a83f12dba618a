using Attend.Attention;
using Attend.Kernels.Attention;

namespace Attend;

public static unsafe partial class Functional
{
    /// <summary>
    /// Scaled dot-product attention, <c>softmax(QKᵀ/√E + mask)·V</c>, with torch.nn.functional.scaled_dot_product_attention's
    /// arguments: query [B, H, L, E] (or [H, L, E]), key [B, Hkv, S, E], value [B, Hkv, S, Ev] → [B, H, L, Ev].
    /// A bool <paramref name="attnMask"/> means True = may attend; a float one is added to the scores. Dividing by √E
    /// keeps the scores' variance near 1 when q and k have unit-variance entries, so the softmax does not saturate.
    /// Runs the fused FlashAttention-2 kernel: O(L + S) memory, never the L×S matrix. A query whose keys are all masked
    /// gets output 0 and gradient 0 (PyTorch gives NaN). <paramref name="variant"/> swaps softmax for another normalizer
    /// (<see cref="AttentionVariant"/>; stochastic ones draw their seed from <see cref="Tensor.DefaultGenerator"/>).
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, Tensor? attnMask = null,
        float dropoutP = 0f, bool isCausal = false, float? scale = null, bool enableGqa = false, AttentionVariant? variant = null)
    {
        variant ??= AttentionVariant.Soft;
        if (attnMask is not null && isCausal)
            throw new ArgumentException("scaled_dot_product_attention: an explicit attnMask cannot be combined with isCausal (as PyTorch); fold the causal mask into it, or use Functional.Attention, where they compose");
        ulong seed = dropoutP > 0 ? (ulong)Tensor.DefaultGenerator.NextInt64() : 0;
        var r = Attention(query, key, value, new AttentionOptions
        {
            Mask = attnMask, DropoutP = dropoutP, IsCausal = isCausal, Scale = scale, EnableGqa = enableGqa, DropoutSeed = seed,
            Variant = variant, VariantSeed = variant.IsStochastic ? (ulong)Tensor.DefaultGenerator.NextInt64() : null,
        });
        r.Lse.Dispose();
        return r.Output;
    }

    /// <summary>The fused attention kernel with every option (see <see cref="AttentionOptions"/> for the exact order of
    /// score modifiers), returning the output, the row log-sum-exp and, if asked, the weights of chosen heads.</summary>
    public static AttentionResult Attention(Tensor query, Tensor key, Tensor value, AttentionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string op = "scaled_dot_product_attention";
        foreach (var (t, name) in new[] { (query, "query"), (key, "key"), (value, "value") })
        {
            Tensor.RequireFloat(t, op, name);
            if (t.Rank is not (3 or 4))
                throw new ArgumentException($"{op}: {name} must be [B, H, L, E] or [H, L, E], got {Shapes.Str(t.ShapeRef)}");
        }
        if (key.Rank != query.Rank || value.Rank != query.Rank)
            throw new ArgumentException($"{op}: query {Shapes.Str(query.ShapeRef)}, key {Shapes.Str(key.ShapeRef)} and value {Shapes.Str(value.ShapeRef)} must have the same rank");
        bool batched = query.Rank == 4;
        var q = As4D(query); var k = As4D(key); var v = As4D(value);
        try
        {
            int B = q.ShapeRef[0], H = q.ShapeRef[1], L = q.ShapeRef[2], E = q.ShapeRef[3];
            int Hkv = k.ShapeRef[1], S = k.ShapeRef[2], Ev = v.ShapeRef[3];
            string shapes = $"query {Shapes.Str(query.ShapeRef)}, key {Shapes.Str(key.ShapeRef)}, value {Shapes.Str(value.ShapeRef)}";
            if (k.ShapeRef[0] != B || v.ShapeRef[0] != B) throw new ArgumentException($"{op}: batch sizes differ: {shapes}");
            if (k.ShapeRef[3] != E) throw new ArgumentException($"{op}: query and key head dims differ ({E} vs {k.ShapeRef[3]}): {shapes}");
            if (v.ShapeRef[1] != Hkv || v.ShapeRef[2] != S) throw new ArgumentException($"{op}: key and value must agree in heads and length: {shapes}");
            if (Hkv != H && !options.EnableGqa)
                throw new ArgumentException($"{op}: query has {H} heads but key/value have {Hkv}; pass EnableGqa for grouped-query attention ({shapes})");
            if (Hkv == 0 || H % Hkv != 0) throw new ArgumentException($"{op}: query heads ({H}) must be a multiple of key/value heads ({Hkv}): {shapes}");
            if (E == 0) throw new ArgumentException($"{op}: head dim must be positive: {shapes}");
            var mask = options.Mask;
            if (mask is not null && mask.DType == DType.Int64)
                throw new ArgumentException($"{op}: attention mask must be bool or float32, got int64 {Shapes.Str(mask.ShapeRef)}");
            if (mask is not null && !BroadcastsTo(mask.ShapeRef, new[] { B, H, L, S }))
                throw new ArgumentException($"{op}: attention mask {Shapes.Str(mask.ShapeRef)} is not broadcastable to [B, H, L, S] = {Shapes.Str(new[] { B, H, L, S })}");
            if (!(options.DropoutP >= 0f && options.DropoutP < 1f))
                throw new ArgumentOutOfRangeException(nameof(options), $"{op}: dropout probability must be in [0, 1), got {options.DropoutP}");
            if (options.AlibiSlopes is { } al && al.Length != H)
                throw new ArgumentException($"{op}: {al.Length} ALiBi slopes given for {H} query heads");
            if (!(options.Softcap >= 0f) || float.IsInfinity(options.Softcap)) throw new ArgumentOutOfRangeException(nameof(options), $"{op}: softcap must be ≥ 0 and finite, got {options.Softcap}");
            if (options.WindowLeft < 0 || options.WindowRight < 0)
                throw new ArgumentOutOfRangeException(nameof(options), $"{op}: window sizes must be ≥ 0, got ({options.WindowLeft}, {options.WindowRight})");
            if (options.Scale is float sc && !float.IsFinite(sc)) throw new ArgumentOutOfRangeException(nameof(options), $"{op}: scale must be finite, got {sc}");
            if (options.WeightsForHeads is { } wh && wh.Any(x => x < 0 || x >= H))
                throw new ArgumentOutOfRangeException(nameof(options), $"{op}: WeightsForHeads {Shapes.Str(wh)} must be in [0, {H})");
            if (options.Variant is null) throw new ArgumentNullException(nameof(options), $"{op}: options.Variant is null (use AttentionVariant.Soft)");
            if (options.Variant.Kind != AttentionKind.Soft) return RunMaterialized(query, key, value, options, batched, B, H, Hkv, L, S, E);
            return Run(query, key, value, q, k, v, options, batched, B, H, Hkv, L, S, E, Ev);
        }
        finally { q.Dispose(); k.Dispose(); v.Dispose(); }
    }

    private static bool BroadcastsTo(int[] from, int[] to) =>
        from.Length <= to.Length && Enumerable.Range(1, from.Length).All(i => from[^i] == to[^i] || from[^i] == 1);

    /// <summary>A 4-D view outside autograd whose last dim is contiguous (copying only if it is not).</summary>
    private static Tensor As4D(Tensor t)
    {
        var shape = t.Rank == 4 ? t.ShapeRef : new[] { 1 }.Concat(t.ShapeRef).ToArray();
        var strides = t.Rank == 4 ? t.StridesRef : new[] { 0 }.Concat(t.StridesRef).ToArray();
        if (strides[3] != 1 && shape[3] > 1)
        {
            using var c = t.CloneRaw();
            return As4D(c);
        }
        return t.ViewOf(t.Offset, (int[])shape.Clone(), (int[])strides.Clone());
    }

    private static AttentionResult Run(Tensor query, Tensor key, Tensor value, Tensor q, Tensor k, Tensor v, AttentionOptions opt,
        bool batched, int B, int H, int Hkv, int L, int S, int E, int Ev)
    {
        var mask = opt.Mask;
        Tensor? maskView = mask is null ? null : mask.ViewOf(mask.Offset, (int[])mask.ShapeRef.Clone(), (int[])mask.StridesRef.Clone());
        var alibi = opt.AlibiSlopes is null ? null : Tensor.FromArray(opt.AlibiSlopes, new[] { H });
        var o = Tensor.Empty(new[] { B, H, L, Ev });
        var lse = Tensor.Empty(new[] { B, H, L });
        var stats = Tensor.Empty(new[] { 2, B, H, L });                    // the rows' m and 1/l, for the weights and the backward
        AttentionProblem Problem()
        {
            var pr = new AttentionProblem
            {
                B = B, H = H, Hkv = Hkv, L = L, S = S, E = E, Ev = Ev,
                Q = q.Data, QsB = q.StridesRef[0], QsH = q.StridesRef[1], QsL = q.StridesRef[2],
                K = k.Data, KsB = k.StridesRef[0], KsH = k.StridesRef[1], KsS = k.StridesRef[2],
                V = v.Data, VsB = v.StridesRef[0], VsH = v.StridesRef[1], VsS = v.StridesRef[2],
                Scale = opt.Scale ?? 1f / MathF.Sqrt(E), Softcap = opt.Softcap,
                Alibi = alibi is null ? null : alibi.Data,
                Off = opt.Alignment == CausalAlignment.BottomRight ? S - L : 0,
                BandLeft = opt.WindowLeft ?? (long)S + L, BandRight = opt.IsCausal ? Math.Min(0, opt.WindowRight ?? 0) : opt.WindowRight ?? (long)S + L,
                DropP = opt.DropoutP, Seed = opt.DropoutSeed,
            };
            if (maskView is not null)
            {
                var st = Shapes.BroadcastStrides(maskView.ShapeRef, maskView.StridesRef, new[] { B, H, L, S });
                (pr.MsB, pr.MsH, pr.MsL, pr.MsS) = (st[0], st[1], st[2], st[3]);
                if (maskView.DType == DType.Bool) pr.BoolMask = maskView.RawData; else pr.AddMask = maskView.Data;
            }
            return pr;
        }

        var problem = Problem();
        FlashForward.Run(problem, o.Data, lse.Data, stats.Data);
        Tensor? weights = null;
        if (opt.WeightsForHeads is { Length: > 0 } heads)
        {
            weights = Tensor.Empty(new[] { B, heads.Length, L, S });
            AttentionWeights.Run(problem, stats.Data, heads, weights.Data);
        }
        if (AttentionObserver.Current is { } observer) Observe(observer, problem, stats, opt.Site);

        Tensor output = batched ? o : Squeeze0(o);
        Tensor lseOut = batched ? lse.Detach() : Squeeze0(lse.Detach());
        if (!batched && weights is not null) weights = Squeeze0(weights);
        bool maskGrad = mask is { DType: DType.Float32, RequiresGrad: true };
        // The backward keeps its own views of q, k, v (the forward's are disposed by the caller).
        var qb = q.Detach(); var kb = k.Detach(); var vb = v.Detach();
        output.WithGrad("scaled_dot_product_attention", new[] { query, key, value, maskGrad ? mask : null }, g =>
        {
            (q, k, v) = (qb, kb, vb);
            var pr = Problem();
            var gc = g.ContiguousRaw();
            var dq = Tensor.Empty(new[] { B, H, L, E });
            var dk = Tensor.Empty(new[] { B, Hkv, S, E });
            var dv = Tensor.Empty(new[] { B, Hkv, S, Ev });
            using var dMaskFull = maskGrad ? Tensor.Empty(new[] { B, H, L, S }) : null;
            using var scratch = Tensor.Empty(new[] { checked((int)FlashBackward.ScratchFloats(pr)) });
            FlashBackward.Run(pr, output.Data, stats.Data, gc.Data, dq.Data, dk.Data, dv.Data, dMaskFull is null ? null : dMaskFull.Data, scratch.Data);
            if (!ReferenceEquals(gc, g)) gc.Dispose();
            GC.KeepAlive(alibi); GC.KeepAlive(maskView);
            return new[]
            {
                Reshaped(dq, query.ShapeRef), Reshaped(dk, key.ShapeRef), Reshaped(dv, value.ShapeRef),
                dMaskFull is null ? null : dMaskFull.SumTo(mask!.ShapeRef).CloneRaw(),
            };
        });
        if (output.GradFn is null) stats.Dispose();                        // no backward will read them
        GC.KeepAlive(alibi);
        return new AttentionResult(output, lseOut, weights);
    }

    /// <summary>Hands this call's weights to the installed observer (the heads it asks for), recomputed from the forward's row statistics as
    /// <see cref="AttentionOptions.WeightsForHeads"/>.</summary>
    private static void Observe(AttentionObserver observer, in AttentionProblem problem, Tensor stats, string? site)
    {
        if (observer.Heads(site, problem.H) is not { Length: > 0 } heads) return;
        var rows = CheckRows(observer.Rows(site, problem.L), problem.L);
        var w = new float[(long)problem.B * heads.Length * (rows?.Length ?? problem.L) * problem.S];
        fixed (float* pw = w) AttentionWeights.Run(problem, stats.Data, heads, pw, rows);
        observer.Record(site, problem.H, heads, problem.B, rows?.Length ?? problem.L, problem.S, w);
    }

    /// <summary>An observer's rows, each in [0, L).</summary>
    internal static int[]? CheckRows(int[]? rows, int L)
    {
        if (rows is not null && rows.Any(i => i < 0 || i >= L))
            throw new ArgumentOutOfRangeException(nameof(rows), $"attention observer: query rows [{string.Join(", ", rows)}] must lie in [0, {L})");
        return rows;
    }

    private static Tensor Squeeze0(Tensor t)
    {
        var s = t.ShapeRef[1..];
        var r = t.ViewOf(t.Offset, s, Shapes.ContiguousStrides(s));
        t.Dispose();
        return r;
    }

    private static Tensor Reshaped(Tensor t, int[] shape)
    {
        if (Shapes.Equal(t.ShapeRef, shape)) return t;
        var r = t.ViewOf(t.Offset, (int[])shape.Clone(), Shapes.ContiguousStrides(shape));
        t.Dispose();
        return r;
    }
}
