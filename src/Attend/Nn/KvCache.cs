namespace Attend.Nn;

/// <summary>
/// The keys and values a model keeps between decoding steps, so that one more token costs one position's work instead
/// of the whole prefix's: the one cache of every attention module here (<see cref="MultiheadAttention"/>,
/// <see cref="GroupedQueryAttention"/>, <see cref="Gpt"/>, <see cref="TransformerDecoder"/> and <c>Seq2Seq</c>).
/// It has a slot per attention layer: a self-attention slot grows by the new positions on every call (written into a
/// buffer that doubles when full, so a step copies only its own positions); with <c>crossAttention</c>, each layer also
/// has a cross-attention slot, filled from the encoder memory's projection on its first call and reused after that.
/// Per slot, K and V are (B, Hkv, S, D), owned by the cache (not by a <see cref="TensorScope"/>), so a decoding loop may
/// free every step's temporaries. For inference: gradients do not flow through the cache.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Slot[] self, cross;
    private readonly Tensor?[] lastInput;   // per layer (B, 1, C): the last position's input, for token shift (GptConfig.TokenShift)

    /// <summary>A cache for <paramref name="layers"/> attention layers (1 for a lone attention module).</summary>
    /// <param name="layers">the attention layers that cache (a decoder's layers, a GPT's blocks).</param>
    /// <param name="crossAttention">also keep each layer's cross-attention keys/values (encoder-decoder models).</param>
    /// <param name="capacity">positions to reserve on the first call (0: the first call's length; the buffer doubles as needed).</param>
    public KvCache(int layers = 1, bool crossAttention = false, int capacity = 0)
    {
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), $"KvCache: layers must be ≥ 1, got {layers}");
        if (capacity < 0) throw new ArgumentOutOfRangeException(nameof(capacity), $"KvCache: capacity must be ≥ 0, got {capacity}");
        self = Enumerable.Range(0, layers).Select(_ => new Slot(capacity)).ToArray();
        cross = crossAttention ? Enumerable.Range(0, layers).Select(_ => new Slot(0)).ToArray() : [];
        lastInput = new Tensor?[layers];
    }

    /// <summary>The number of attention layers this cache serves.</summary>
    public int Layers => self.Length;
    /// <summary>True when each layer also keeps its cross-attention keys/values.</summary>
    public bool HasCrossAttention => cross.Length > 0;
    /// <summary>Positions cached so far (layer 0's self-attention): the position of the next token.</summary>
    public int Length => self[0].Length;

    /// <summary>Writes k, v (B, Hkv, T, D) after the <paramref name="layer"/>'s cached positions and returns views of all
    /// of them, (B, Hkv, Length + T, D).</summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v) => SelfSlot(layer).Append(k, v);

    /// <summary>The cross-attention keys/values of <paramref name="layer"/> if its first call has filled them, else null.</summary>
    internal (Tensor K, Tensor V)? Cross(int layer) => CrossSlot(layer).Filled;

    /// <summary>Keeps (a copy of) the memory's projected keys/values for <paramref name="layer"/>'s later calls.</summary>
    internal (Tensor K, Tensor V) SetCross(int layer, Tensor k, Tensor v) => CrossSlot(layer).Append(k, v);

    /// <summary>The input (B, 1, C) of the last position <paramref name="layer"/> saw, or null before its first call:
    /// the state of a token-shift layer (RWKV's), which mixes each position's input with the one before it.</summary>
    internal Tensor? LastInput(int layer) => lastInput[SelfIndex(layer)];

    /// <summary>Keeps (a copy of) the last position of x (B, T, C) as <paramref name="layer"/>'s <see cref="LastInput"/>.</summary>
    internal void SetLastInput(int layer, Tensor x)
    {
        var last = Tensor.Zeros(x.Size(0), 1, x.Size(2));
        using (var row = x.NarrowRaw(1, x.Size(1) - 1, 1)) last.CopyFrom(row);
        last.Scope = null;                                              // owned by the cache
        lastInput[SelfIndex(layer)]?.Dispose();
        lastInput[layer] = last;
    }

    /// <summary>Forgets every cached position (a new sequence); the memory is kept for reuse.</summary>
    public void Reset()
    {
        foreach (var s in self.Concat(cross)) s.Length = 0;
        for (int i = 0; i < lastInput.Length; i++) { lastInput[i]?.Dispose(); lastInput[i] = null; }
    }

    /// <summary>Beam search: row b of every slot becomes old row <paramref name="rows"/>[b] (Hugging Face's
    /// _reorder_cache), so each hypothesis keeps the keys/values of the prefix it extends.</summary>
    public void Reorder(IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (var s in self.Concat(cross)) s.Reorder(rows);
        using var noGrad = Autograd.NoGrad();
        for (int i = 0; i < lastInput.Length; i++)
        {
            if (lastInput[i] is not { } t) continue;
            var r = Tensor.Cat(rows.Select(b => t.NarrowRaw(0, b, 1)).ToArray(), 0);   // (B, 1, C)
            r.Scope = null;
            t.Dispose();
            lastInput[i] = r;
        }
    }

    /// <summary>Frees the buffers the cache owns (every slot's keys/values and the token-shift inputs), leaving it empty.</summary>
    public void Dispose()
    {
        foreach (var s in self.Concat(cross)) s.Dispose();
        for (int i = 0; i < lastInput.Length; i++) { lastInput[i]?.Dispose(); lastInput[i] = null; }
    }

    private int SelfIndex(int layer) => layer >= 0 && layer < self.Length ? layer
        : throw new ArgumentOutOfRangeException(nameof(layer), $"KvCache: layer {layer} is not in [0, {self.Length})");

    private Slot SelfSlot(int layer) => self[SelfIndex(layer)];

    private Slot CrossSlot(int layer) => !HasCrossAttention
        ? throw new InvalidOperationException("KvCache: this cache keeps no cross-attention (create it with crossAttention: true)")
        : layer >= 0 && layer < cross.Length ? cross[layer]
        : throw new ArgumentOutOfRangeException(nameof(layer), $"KvCache: layer {layer} is not in [0, {cross.Length})");

    /// <summary>One layer's keys and values: buffers (B, Hkv, capacity, D) of which the first Length positions are filled.</summary>
    private sealed class Slot(int capacity) : IDisposable
    {
        private Tensor? k, v;
        public int Length;

        public (Tensor K, Tensor V)? Filled => Length == 0 ? null : (k!.NarrowRaw(2, 0, Length), v!.NarrowRaw(2, 0, Length));

        public (Tensor K, Tensor V) Append(Tensor newK, Tensor newV)
        {
            int t = newK.Size(2);
            if (k is not null && (newK.Size(0) != k.Size(0) || newK.Size(1) != k.Size(1) || newK.Size(3) != k.Size(3) || newV.Size(3) != v!.Size(3)))
                throw new ArgumentException($"KvCache: new keys {Shapes.Str(newK.ShapeRef)} do not fit the cached {Shapes.Str(k.ShapeRef)} (batch, heads and head size must stay)");
            if (k is null || Length + t > k.Size(2)) Grow(newK, newV, Math.Max(Length + t, Math.Max(capacity, 2 * (k?.Size(2) ?? 0))));
            using (var slot = k!.NarrowRaw(2, Length, t)) slot.CopyFrom(newK);
            using (var slot = v!.NarrowRaw(2, Length, t)) slot.CopyFrom(newV);
            Length += t;
            return Filled!.Value;
        }

        /// <summary>New buffers of <paramref name="positions"/> holding the filled positions. The old buffers are left to
        /// the GC, not disposed: views handed out before may still be read in this step.</summary>
        private void Grow(Tensor likeK, Tensor likeV, int positions)
        {
            Tensor Buffer(Tensor like, Tensor? old)
            {
                var b = Tensor.Zeros(like.Size(0), like.Size(1), positions, like.Size(3));
                b.Scope = null;                                         // owned by the cache
                if (old is not null && Length > 0)
                    using (var dst = b.NarrowRaw(2, 0, Length)) using (var src = old.NarrowRaw(2, 0, Length)) dst.CopyFrom(src);
                return b;
            }
            (k, v) = (Buffer(likeK, k), Buffer(likeV, v));
        }

        public void Reorder(IReadOnlyList<int> rows)
        {
            if (k is null) return;
            int b = k.Size(0);
            if (rows.Count != b || rows.Any(r => r < 0 || r >= b))
                throw new ArgumentOutOfRangeException(nameof(rows), $"KvCache.Reorder: {b} rows in [0, {b}) expected, got [{string.Join(", ", rows)}]");
            using var noGrad = Autograd.NoGrad();
            Tensor Pick(Tensor t)
            {
                var r = Tensor.Cat(rows.Select(i => t.NarrowRaw(0, i, 1)).ToArray(), 0);   // (B, Hkv, capacity, D)
                r.Scope = null;
                t.Dispose();
                return r;
            }
            (k, v) = (Pick(k), Pick(v!));
        }

        public void Dispose()
        {
            k?.Dispose(); v?.Dispose();
            (k, v, Length) = (null, null, 0);
        }
    }
}
