using Attend.Nn;

namespace Attend.Interop;

/// <summary>
/// Reads a BERT encoder out of a PyTorch ONNX export (Hugging Face's BertModel through <c>torch.onnx.export</c>, as
/// the sentence-transformers packages ship it). The initializers keep Hugging Face names except the weights of the
/// MatMuls (torch exports <c>x @ Wᵀ</c> with Wᵀ as a fresh, unnamed constant), so each is placed by the graph:
/// <code>
/// MatMul(x, Wᵀ) → Add(…, "P.bias")     ⇒   P.weight = (Wᵀ)ᵀ           [in, out] → [out, in]
/// Gemm(x, "P.weight", "P.bias", transB=1) ⇒ read by name, [out, in]   (the pooler: named already)
/// Div(Q·Kᵀ, c) | Mul(Q·Kᵀ, c)          ⇒   head size D = c² | 1/c²     (heads = hidden / D)
/// Attention(q_num_heads = H)           ⇒   D = hidden / H               (opset 23, as OnnxExport writes it)
/// Sqrt(Add(ReduceMean(…), ε))           ⇒   layer_norm_eps = ε
/// </code>
/// Sizes come from the tensors: vocabulary, hidden and positions from the embeddings, layers from the highest
/// <c>encoder.layer.N</c>, intermediate size from <c>intermediate.dense.bias</c>.
/// </summary>
public static partial class BertOnnx
{
    /// <summary>The configuration and Hugging Face-named state dict of the BERT encoder in <paramref name="g"/>.</summary>
    /// <exception cref="InvalidDataException">the graph is not a BERT encoder, or a tensor is missing or misshapen
    /// (the message names it).</exception>
    public static (BertConfig Config, Dictionary<string, Tensor> State) Read(OnnxGraph g)
    {
        const string wordName = "embeddings.word_embeddings.weight";
        if (!g.IsInitializer(wordName))
            throw new InvalidDataException($"{g.Source}: not a BERT encoder: it has no initializer '{wordName}' " +
                $"(its initializers begin {string.Join(", ", g.InitializerNames.Take(5))})");
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in g.InitializerNames.Where(n => n.StartsWith("embeddings.") || n.StartsWith("encoder.") || n.StartsWith("pooler.")))
            if (name != "embeddings.position_ids") state[name] = g.Initializer(name);
        foreach (var mm in g.Nodes("MatMul"))
        {
            if (mm.Input.Count != 2 || mm.Output.Count == 0 || !g.IsInitializer(mm.Input[1])) continue;
            var bias = g.Consumers(mm.Output[0]).Where(n => n.OpType == "Add")
                .SelectMany(n => n.Input).FirstOrDefault(i => i.EndsWith(".bias") && g.IsInitializer(i));
            if (bias is null) continue;
            using var wt = g.Initializer(mm.Input[1]);                                 // [in, out]
            state[bias[..^".bias".Length] + ".weight"] = wt.Transpose(0, 1).Contiguous();            // [out, in]
        }
        var word = state[wordName];
        int hidden = word.Size(1);
        int layers = state.Keys.Where(k => k.StartsWith("encoder.layer.")).Select(k => LayerIndex(g, k)).DefaultIfEmpty(-1).Max() + 1;
        if (layers == 0) throw new InvalidDataException($"{g.Source}: not a BERT encoder: no encoder.layer.N tensors");
        int headDim = HeadDim(g, hidden);
        if (headDim <= 0 || hidden % headDim != 0)
            throw new InvalidDataException($"{g.Source}: the attention scale gives head size {headDim}, which does not divide hidden size {hidden}");
        var config = new BertConfig(
            VocabSize: word.Size(0), HiddenSize: hidden, NumHiddenLayers: layers, NumAttentionHeads: hidden / headDim,
            IntermediateSize: Need(g, state, "encoder.layer.0.intermediate.dense.bias").Size(0),
            MaxPositionEmbeddings: Need(g, state, "embeddings.position_embeddings.weight").Size(0),
            TypeVocabSize: Need(g, state, "embeddings.token_type_embeddings.weight").Size(0),
            LayerNormEps: LayerNormEps(g), Pooler: state.ContainsKey("pooler.dense.weight"));
        return (config, state);
    }

    private static Tensor Need(OnnxGraph g, Dictionary<string, Tensor> state, string name) =>
        state.GetValueOrDefault(name) ?? throw new InvalidDataException($"{g.Source}: the BERT graph has no tensor '{name}'");

    /// <summary>D from the scale of the first attention's scores: the constant that divides (or multiplies) the
    /// product feeding the Softmax; or, in an opset-23 graph, hidden / the Attention op's q_num_heads.</summary>
    private static int HeadDim(OnnxGraph g, int hidden)
    {
        foreach (var attention in g.Nodes("Attention"))
            if (attention.Attribute.FirstOrDefault(a => a.Name == "q_num_heads") is { I: > 0 } heads) return hidden / (int)heads.I;
        foreach (var softmax in g.Nodes("Softmax").Where(n => n.Input.Count > 0))
        {
            var node = g.Producer(softmax.Input[0]);
            if (node?.OpType == "Add")   // scores + mask
                node = node.Input.Select(g.Producer).FirstOrDefault(p => p?.OpType is "Div" or "Mul");
            if (node is null || node.OpType is not ("Div" or "Mul")) continue;
            var c = node.Input.Select(g.ConstantValues).FirstOrDefault(v => v is { Length: 1 });
            if (c is null) continue;
            double d = node.OpType == "Div" ? c[0] * c[0] : 1 / (c[0] * c[0]);
            return (int)Math.Round(d);
        }
        throw new InvalidDataException($"{g.Source}: found no attention scale (Softmax of scores divided or multiplied by a constant); not a BERT graph this importer reads");
    }

    /// <summary>ε of the first decomposed LayerNorm, <c>Sqrt(Add(variance, ε))</c>; 1e-12 (BERT's) when the graph has a fused LayerNormalization.</summary>
    private static float LayerNormEps(OnnxGraph g)
    {
        var ln = g.Nodes("LayerNormalization").FirstOrDefault();
        if (ln is not null) return ln.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
        foreach (var sqrt in g.Nodes("Sqrt").Where(n => n.Input.Count > 0))
            if (g.Producer(sqrt.Input[0]) is { OpType: "Add" } add && add.Input.Select(g.ConstantValues).FirstOrDefault(v => v is { Length: 1 }) is { } eps)
                return (float)eps[0];
        throw new InvalidDataException($"{g.Source}: found no LayerNorm (LayerNormalization, or Sqrt of variance + ε); not a BERT graph this importer reads");
    }

    /// <summary>N of a tensor named "encoder.layer.N.…".</summary>
    private static int LayerIndex(OnnxGraph g, string name) =>
        name.Split('.') is [_, _, var n, ..] && int.TryParse(n, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) && i < 10_000 ? i
            : throw new InvalidDataException($"{g.Source}: tensor '{name}' is not named encoder.layer.N.… with N a layer number");
}
