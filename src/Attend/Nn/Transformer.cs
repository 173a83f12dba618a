using Attend.Attention;

namespace Attend.Nn;

/// <summary>A list of submodules named "0", "1", … as torch.nn.ModuleList (state-dict names <c>layers.0.…</c>).</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> items = new();

    /// <summary>Registers <paramref name="modules"/> in order as "0", "1", ….</summary>
    public ModuleList(IEnumerable<T> modules)
    {
        foreach (var m in modules) Add(m);
    }

    /// <summary>Appends <paramref name="module"/>, registered under the next index.</summary>
    public void Add(T module)
    {
        RegisterModule(items.Count.ToString(), module);
        items.Add(module);
    }

    /// <summary>The submodule at <paramref name="index"/>.</summary>
    public T this[int index] => items[index];
    /// <summary>Number of submodules.</summary>
    public int Count => items.Count;
    /// <summary>Enumerates the submodules in order.</summary>
    public IEnumerator<T> GetEnumerator() => items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => items.GetEnumerator();
}

/// <summary>torch.nn.TransformerEncoder: N encoder layers in turn, then an optional final norm. Names: layers.N.…, norm.…</summary>
public sealed class TransformerEncoder : Module
{
    /// <summary>The encoder layers, applied in order (<c>layers</c>).</summary>
    public ModuleList<TransformerEncoderLayer> Layers { get; }
    /// <summary>The final LayerNorm applied after the last layer (<c>norm</c>), or null for none.</summary>
    public LayerNorm? Norm { get; }

    /// <summary>Layers from <paramref name="layerFactory"/>, called <paramref name="numLayers"/> times (PyTorch deep-copies
    /// one layer instead, so its layers start equal; here each is initialized on its own).</summary>
    public TransformerEncoder(Func<TransformerEncoderLayer> layerFactory, int numLayers, LayerNorm? norm = null)
        : this(Enumerable.Range(0, numLayers).Select(_ => layerFactory()), norm) { }

    /// <summary>The given <paramref name="layers"/> in order, then <paramref name="norm"/> if not null.</summary>
    public TransformerEncoder(IEnumerable<TransformerEncoderLayer> layers, LayerNorm? norm = null)
    {
        Layers = RegisterModule("layers", new ModuleList<TransformerEncoderLayer>(layers));
        if (norm is not null) Norm = RegisterModule("norm", norm);
    }

    /// <summary>src [S, B, E] (batch first: [B, S, E]) → the same shape: every layer in turn, each given the same masks
    /// (as <see cref="TransformerEncoderLayer"/>'s), then the final norm.</summary>
    public Tensor Forward(Tensor src, Tensor? mask = null, Tensor? srcKeyPaddingMask = null, bool isCausal = false)
    {
        var x = src;
        foreach (var layer in Layers) x = layer.Forward(x, mask, srcKeyPaddingMask, isCausal);
        return Norm is null ? x : Norm.Forward(x);
    }
}

/// <summary>torch.nn.TransformerDecoder: N decoder layers in turn, then an optional final norm. Names: layers.N.…, norm.…</summary>
public sealed class TransformerDecoder : Module
{
    /// <summary>The decoder layers, applied in order (<c>layers</c>).</summary>
    public ModuleList<TransformerDecoderLayer> Layers { get; }
    /// <summary>The final LayerNorm applied after the last layer (<c>norm</c>), or null for none.</summary>
    public LayerNorm? Norm { get; }

    /// <summary>Layers from <paramref name="layerFactory"/>, called <paramref name="numLayers"/> times (PyTorch deep-copies
    /// one layer instead, so its layers start equal; here each is initialized on its own).</summary>
    public TransformerDecoder(Func<TransformerDecoderLayer> layerFactory, int numLayers, LayerNorm? norm = null)
        : this(Enumerable.Range(0, numLayers).Select(_ => layerFactory()), norm) { }

    /// <summary>The given <paramref name="layers"/> in order, then <paramref name="norm"/> if not null.</summary>
    public TransformerDecoder(IEnumerable<TransformerDecoderLayer> layers, LayerNorm? norm = null)
    {
        Layers = RegisterModule("layers", new ModuleList<TransformerDecoderLayer>(layers));
        if (norm is not null) Norm = RegisterModule("norm", norm);
    }

    /// <summary>tgt [L, B, E], memory [S, B, E] (batch first: [B, L, E], [B, S, E]) → tgt's shape: every layer in turn, each
    /// given the same memory and masks (as <see cref="TransformerDecoderLayer"/>'s), then the final norm.</summary>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null, bool tgtIsCausal = false, bool memoryIsCausal = false)
    {
        var x = tgt;
        foreach (var layer in Layers)
            x = layer.Forward(x, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask, tgtIsCausal, memoryIsCausal);
        return Norm is null ? x : Norm.Forward(x);
    }

    /// <summary>A KV cache for <see cref="Forward(Tensor, Tensor, KvCache, Tensor?)"/>: every layer's self- and cross-attention.</summary>
    public KvCache NewCache() => new(Layers.Count, crossAttention: true);

    /// <summary>Incremental decoding: tgt holds only the new positions (usually one); they attend causally to everything
    /// decoded before (kept in <paramref name="cache"/>). Step-by-step outputs equal the full causal forward's rows.</summary>
    public Tensor Forward(Tensor tgt, Tensor memory, KvCache cache, Tensor? memoryKeyPaddingMask = null)
    {
        if (cache.Layers != Layers.Count || !cache.HasCrossAttention)
            throw new ArgumentException($"TransformerDecoder: the cache has {cache.Layers} layers{(cache.HasCrossAttention ? "" : " without cross-attention")}; this decoder needs {Layers.Count} with cross-attention (NewCache())");
        var x = tgt;
        for (int i = 0; i < Layers.Count; i++) x = Layers[i].Forward(x, memory, cache, i, memoryKeyPaddingMask);
        return Norm is null ? x : Norm.Forward(x);
    }
}

/// <summary>
/// torch.nn.Transformer (Vaswani et al. 2017): an encoder of <c>numEncoderLayers</c> layers over src and a decoder of
/// <c>numDecoderLayers</c> layers over tgt that cross-attends to the encoder output, each stack ending in a LayerNorm.
/// Names: encoder.layers.N.…, encoder.norm.…, decoder.layers.N.…, decoder.norm.…. Every parameter of rank &gt; 1 is
/// re-initialized xavier_uniform_, as PyTorch's _reset_parameters.
/// </summary>
public sealed class Transformer : Module
{
    /// <summary>The encoder stack over src (<c>encoder</c>).</summary>
    public TransformerEncoder Encoder { get; }
    /// <summary>The decoder stack over tgt, cross-attending to the encoder output (<c>decoder</c>).</summary>
    public TransformerDecoder Decoder { get; }
    /// <summary>The model width E (default 512).</summary>
    public int DModel { get; }
    /// <summary>Attention heads per layer (default 8).</summary>
    public int NHead { get; }
    /// <summary>True when inputs and outputs are [B, seq, E] rather than [seq, B, E] (default false).</summary>
    public bool BatchFirst { get; }

    /// <summary>As PyTorch's torch.nn.Transformer, with the same defaults; <paramref name="attention"/> is the attention
    /// variant of every layer (null: soft).</summary>
    public Transformer(int dModel = 512, int nhead = 8, int numEncoderLayers = 6, int numDecoderLayers = 6, int dimFeedforward = 2048,
        float dropout = 0.1f, string activation = "relu", float layerNormEps = 1e-5f, bool batchFirst = false, bool normFirst = false,
        bool bias = true, Random? rng = null, AttentionVariant? attention = null)
    {
        (DModel, NHead, BatchFirst) = (dModel, nhead, batchFirst);
        Encoder = RegisterModule("encoder", new TransformerEncoder(
            () => new TransformerEncoderLayer(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, bias, rng, attention),
            numEncoderLayers, new LayerNorm(dModel, layerNormEps, bias: bias)));
        Decoder = RegisterModule("decoder", new TransformerDecoder(
            () => new TransformerDecoderLayer(dModel, nhead, dimFeedforward, dropout, activation, layerNormEps, batchFirst, normFirst, bias, rng, attention),
            numDecoderLayers, new LayerNorm(dModel, layerNormEps, bias: bias)));
        using (Autograd.NoGrad())
            foreach (var p in Parameters().Where(p => p.Rank > 1))
                using (var x = Xavier.Uniform(p.Shape, rng)) p.CopyFrom(x);
    }

    /// <summary>src [S, B, E], tgt [L, B, E] (batch first: [B, S, E], [B, L, E]) → [L, B, E]. Masks as MultiheadAttention's;
    /// the key padding masks are [B, S] (src, memory) and [B, L] (tgt).</summary>
    public Tensor Forward(Tensor src, Tensor tgt, Tensor? srcMask = null, Tensor? tgtMask = null, Tensor? memoryMask = null,
        Tensor? srcKeyPaddingMask = null, Tensor? tgtKeyPaddingMask = null, Tensor? memoryKeyPaddingMask = null,
        bool srcIsCausal = false, bool tgtIsCausal = false, bool memoryIsCausal = false)
    {
        var memory = Encoder.Forward(src, srcMask, srcKeyPaddingMask, srcIsCausal);
        return Decoder.Forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask, tgtIsCausal, memoryIsCausal);
    }

    /// <summary>The float causal mask [n, n] as PyTorch: −∞ above the diagonal (key j &gt; query i), 0 elsewhere.</summary>
    public static Tensor GenerateSquareSubsequentMask(int n)
    {
        var m = new float[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) m[i * n + j] = float.NegativeInfinity;
        return Tensor.FromArray(m, new[] { n, n });
    }
}
