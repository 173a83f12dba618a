using Attend.Attention;

namespace Attend.Nn;

/// <summary>
/// torch.nn.TransformerEncoderLayer: self-attention then a position-wise feed-forward block, each with dropout, a
/// residual connection and LayerNorm — after the residual (post-norm, "Attention Is All You Need") or before the
/// sublayer (<c>normFirst</c>, pre-norm):
/// <code>
/// post-norm:  x = norm1(x + SA(x));        x = norm2(x + FF(x))
/// pre-norm:   x = x + SA(norm1(x));        x = x + FF(norm2(x))
/// SA(x) = dropout1(self_attn(x, x, x));    FF(x) = dropout2(linear2(dropout(act(linear1(x)))))
/// </code>
/// Submodule names as PyTorch: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
/// Masks as <see cref="MultiheadAttention"/>: <c>srcMask</c> [L, L] or [B·H, L, L] (bool True = not allowed, or float added),
/// <c>srcKeyPaddingMask</c> [B, L] (bool True = padding, or float added).
/// </summary>
public sealed class TransformerEncoderLayer : Module
{
    /// <summary>The self-attention block (<c>self_attn</c>).</summary>
    public MultiheadAttention SelfAttn { get; }
    private readonly Linear linear1, linear2;
    private readonly Dropout dropout, dropout1, dropout2;
    private readonly LayerNorm norm1, norm2;
    /// <summary>True for pre-norm (LayerNorm before each sublayer), false for post-norm (after the residual, the default).</summary>
    public bool NormFirst { get; }
    /// <summary>The feed-forward activation: "relu" (default) or "gelu".</summary>
    public string Activation { get; }

    /// <summary>As PyTorch's; <paramref name="attention"/> is the attention variant of self_attn (null: soft).</summary>
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward = 2048, float dropout = 0.1f, string activation = "relu",
        float layerNormEps = 1e-5f, bool batchFirst = false, bool normFirst = false, bool bias = true, Random? rng = null,
        AttentionVariant? attention = null)
    {
        Activation = Activations.Check(activation);
        NormFirst = normFirst;
        SelfAttn = RegisterModule("self_attn", new MultiheadAttention(dModel, nhead, dropout, bias, batchFirst: batchFirst, rng: rng, attention: attention));
        linear1 = RegisterModule("linear1", new Linear(dModel, dimFeedforward, bias, rng));
        this.dropout = RegisterModule("dropout", new Dropout(dropout, rng));
        linear2 = RegisterModule("linear2", new Linear(dimFeedforward, dModel, bias, rng));
        norm1 = RegisterModule("norm1", new LayerNorm(dModel, layerNormEps, bias: bias));
        norm2 = RegisterModule("norm2", new LayerNorm(dModel, layerNormEps, bias: bias));
        dropout1 = RegisterModule("dropout1", new Dropout(dropout, rng));
        dropout2 = RegisterModule("dropout2", new Dropout(dropout, rng));
    }

    /// <summary>src [L, B, E] (or [B, L, E] with batchFirst, or [L, E]) → the same shape.</summary>
    public Tensor Forward(Tensor src, Tensor? srcMask = null, Tensor? srcKeyPaddingMask = null, bool isCausal = false)
    {
        var x = src;
        if (NormFirst)
        {
            x = x + SelfAttention(norm1.Forward(x), srcMask, srcKeyPaddingMask, isCausal);
            return x + FeedForward(norm2.Forward(x));
        }
        x = norm1.Forward(x + SelfAttention(x, srcMask, srcKeyPaddingMask, isCausal));
        return norm2.Forward(x + FeedForward(x));
    }

    private Tensor SelfAttention(Tensor x, Tensor? mask, Tensor? keyPaddingMask, bool isCausal) =>
        dropout1.Forward(SelfAttn.Forward(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask, isCausal: isCausal).Output);

    private Tensor FeedForward(Tensor x) =>
        dropout2.Forward(linear2.Forward(dropout.Forward(Activations.Apply(Activation, linear1.Forward(x)))));
}

/// <summary>
/// torch.nn.TransformerDecoderLayer: masked self-attention, cross-attention over the encoder memory, feed-forward:
/// <code>
/// post-norm:  x = norm1(x + SA(x));   x = norm2(x + CA(x, mem));   x = norm3(x + FF(x))
/// pre-norm:   x = x + SA(norm1(x));   x = x + CA(norm2(x), mem);   x = x + FF(norm3(x))
/// </code>
/// Submodule names as PyTorch: self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3, dropout1,
/// dropout2, dropout3. For incremental decoding pass a <see cref="KvCache"/> with cross-attention and this layer's index
/// in it: the self-attention keys/values of earlier positions are kept and the memory's keys/values are projected once.
/// To see the attention weights, install an <see cref="Attend.Attention.AttentionObserver"/> (sites <c>…self_attn</c>,
/// <c>…multihead_attn</c>).
/// </summary>
public sealed class TransformerDecoderLayer : Module
{
    /// <summary>The masked self-attention block over tgt (<c>self_attn</c>).</summary>
    public MultiheadAttention SelfAttn { get; }
    /// <summary>The cross-attention block: queries from tgt, keys and values from the encoder memory (<c>multihead_attn</c>).</summary>
    public MultiheadAttention MultiheadAttn { get; }
    private readonly Linear linear1, linear2;
    private readonly Dropout dropout, dropout1, dropout2, dropout3;
    private readonly LayerNorm norm1, norm2, norm3;
    /// <summary>True for pre-norm (LayerNorm before each sublayer), false for post-norm (after the residual, the default).</summary>
    public bool NormFirst { get; }
    /// <summary>The feed-forward activation: "relu" (default) or "gelu".</summary>
    public string Activation { get; }

    /// <summary>As PyTorch's; <paramref name="attention"/> is the attention variant of self_attn and multihead_attn (null: soft).</summary>
    public TransformerDecoderLayer(int dModel, int nhead, int dimFeedforward = 2048, float dropout = 0.1f, string activation = "relu",
        float layerNormEps = 1e-5f, bool batchFirst = false, bool normFirst = false, bool bias = true, Random? rng = null,
        AttentionVariant? attention = null)
    {
        Activation = Activations.Check(activation);
        NormFirst = normFirst;
        SelfAttn = RegisterModule("self_attn", new MultiheadAttention(dModel, nhead, dropout, bias, batchFirst: batchFirst, rng: rng, attention: attention));
        MultiheadAttn = RegisterModule("multihead_attn", new MultiheadAttention(dModel, nhead, dropout, bias, batchFirst: batchFirst, rng: rng, attention: attention));
        linear1 = RegisterModule("linear1", new Linear(dModel, dimFeedforward, bias, rng));
        this.dropout = RegisterModule("dropout", new Dropout(dropout, rng));
        linear2 = RegisterModule("linear2", new Linear(dimFeedforward, dModel, bias, rng));
        norm1 = RegisterModule("norm1", new LayerNorm(dModel, layerNormEps, bias: bias));
        norm2 = RegisterModule("norm2", new LayerNorm(dModel, layerNormEps, bias: bias));
        norm3 = RegisterModule("norm3", new LayerNorm(dModel, layerNormEps, bias: bias));
        dropout1 = RegisterModule("dropout1", new Dropout(dropout, rng));
        dropout2 = RegisterModule("dropout2", new Dropout(dropout, rng));
        dropout3 = RegisterModule("dropout3", new Dropout(dropout, rng));
    }

    /// <summary>tgt [L, B, E], memory [S, B, E] (batch first: [B, L, E], [B, S, E]) → [L, B, E]. Masks as MultiheadAttention's.</summary>
    public Tensor Forward(Tensor tgt, Tensor memory, Tensor? tgtMask = null, Tensor? memoryMask = null, Tensor? tgtKeyPaddingMask = null,
        Tensor? memoryKeyPaddingMask = null, bool tgtIsCausal = false, bool memoryIsCausal = false)
    {
        var x = tgt;
        (Tensor, Tensor?) Sa(Tensor h) => SelfAttn.Forward(h, h, h, tgtKeyPaddingMask, false, tgtMask, isCausal: tgtIsCausal);
        (Tensor, Tensor?) Ca(Tensor h) => MultiheadAttn.Forward(h, memory, memory, memoryKeyPaddingMask, false, memoryMask, isCausal: memoryIsCausal);
        return Blocks(x, Sa, Ca);
    }

    /// <summary>
    /// One decoding step (or a chunk of new positions): tgt holds only the new positions, which attend causally to
    /// themselves and to every position cached before; the result equals the matching rows of the full causal forward.
    /// </summary>
    /// <param name="tgt">the new positions [T, B, E] (batch first: [B, T, E]).</param>
    /// <param name="memory">the encoder output [S, B, E] (batch first: [B, S, E]).</param>
    /// <param name="cache">a cache with cross-attention (<see cref="TransformerDecoder.NewCache"/>).</param>
    /// <param name="layer">this layer's index in it.</param>
    /// <param name="memoryKeyPaddingMask">[B, S], True = padding.</param>
    public Tensor Forward(Tensor tgt, Tensor memory, KvCache cache, int layer, Tensor? memoryKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        (Tensor, Tensor?) Sa(Tensor h) => SelfAttn.Forward(h, h, h, cache, isCausal: true, layer: layer);
        (Tensor, Tensor?) Ca(Tensor h) => MultiheadAttn.Forward(h, memory, memory, cache, memoryKeyPaddingMask, layer: layer, cross: true);
        return Blocks(tgt, Sa, Ca);
    }

    private Tensor Blocks(Tensor x, Func<Tensor, (Tensor, Tensor?)> sa, Func<Tensor, (Tensor, Tensor?)> ca)
    {
        if (NormFirst)
        {
            x = x + dropout1.Forward(sa(norm1.Forward(x)).Item1);
            x = x + dropout2.Forward(ca(norm2.Forward(x)).Item1);
            return x + FeedForward(norm3.Forward(x));
        }
        x = norm1.Forward(x + dropout1.Forward(sa(x).Item1));
        x = norm2.Forward(x + dropout2.Forward(ca(x).Item1));
        return norm3.Forward(x + FeedForward(x));
    }

    private Tensor FeedForward(Tensor x) =>
        dropout3.Forward(linear2.Forward(dropout.Forward(Activations.Apply(Activation, linear1.Forward(x)))));
}

/// <summary>The feed-forward activations the Transformer layers accept by name, as PyTorch's strings.</summary>
internal static class Activations
{
    public static string Check(string name) => name is "relu" or "gelu"
        ? name : throw new ArgumentException($"activation should be relu or gelu, not '{name}'");

    public static Tensor Apply(string name, Tensor x) => name == "relu" ? x.Relu() : x.Gelu();
}
