using Attend.Attention;
using Attend.Nn;
using Google.Protobuf;
using Onnx;

namespace Attend.Interop;

/// <summary>How <see cref="OnnxExport.Save"/> writes a model.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>17 (default): attention as MatMul/Softmax with additive masks, LayerNormalization, GELU through Erf —
    /// what every ONNX runtime of the last years reads. 23: the standard Attention, RotaryEmbedding and RMSNormalization
    /// ops where the model has them (ONNX Runtime's CPU provider implements all three).</summary>
    public int Opset { get; init; } = 17;

    /// <summary>Past/present key-value inputs and outputs (GPT; the Seq2Seq decoder), so that generation runs token
    /// by token: a Seq2Seq model is then written as an encoder and a decoder file.</summary>
    public bool KvCache { get; init; }

    /// <summary>Key/value pairs written into every file's <c>metadata_props</c> (ONNX Runtime reads them as
    /// <c>ModelMetadata.CustomMetadataMap</c>): the tokenizer, the training config, whatever a deployment needs.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>One file <see cref="OnnxExport.Save"/> wrote.</summary>
/// <param name="Path">where.</param>
/// <param name="Role">"model", or for a Seq2Seq with the KV cache "encoder" / "decoder".</param>
/// <param name="Bytes">its size.</param>
/// <param name="Inputs">graph inputs with their dims (names for dynamic axes), e.g. <c>input_ids [batch, sequence_length]</c>.</param>
/// <param name="Outputs">graph outputs, likewise.</param>
public sealed record OnnxExportFile(string Path, string Role, long Bytes, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>
/// Writes Attend models as ONNX files that ONNX Runtime (C#, C++, JS, mobile) runs with the same numbers:
/// <see cref="Gpt"/>, <see cref="Seq2Seq"/> (translation, dates, speech), <see cref="VisionTransformer"/> and
/// <see cref="Bert"/>. Graph inputs and outputs are named as Hugging Face's exports name them (<c>input_ids</c>,
/// <c>attention_mask</c>, <c>logits</c>, <c>last_hidden_state</c>, <c>past_key_values.N.key</c> …), batch and sequence
/// axes are dynamic, and initializers carry the state-dict names. The graphs are written from the model's config and
/// weights (not traced), so every input size the model accepts works, and what cannot be expressed is refused before
/// anything is written: attention variants other than soft (sampling, sorting or argmax normalizers) and dropout in
/// training mode. Each file is written to a temporary name and renamed into place.
/// </summary>
public static class OnnxExport
{
    /// <summary>The opsets this exporter writes.</summary>
    public static readonly int[] Opsets = [17, 23];

    /// <summary>
    /// Exports <paramref name="model"/> to <paramref name="path"/>. A Seq2Seq with <see cref="OnnxExportOptions.KvCache"/>
    /// becomes two files beside it, <c>NAME.encoder.onnx</c> and <c>NAME.decoder.onnx</c> (for path NAME.onnx).
    /// </summary>
    /// <returns>the files written.</returns>
    /// <exception cref="NotSupportedException">the model, one of its modules or the options cannot be exported (the
    /// message names the module and why).</exception>
    public static IReadOnlyList<OnnxExportFile> Save(Module model, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new OnnxExportOptions();
        var graphs = Build(model, options);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"ONNX export: the folder {dir} does not exist");
        string stem = path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? path[..^5] : path;
        var files = new List<OnnxExportFile>();
        foreach (var (role, proto) in graphs)
        {
            string file = role == "model" ? path : $"{stem}.{role}.onnx";
            foreach (var (key, value) in options.Metadata ?? new Dictionary<string, string>())
                proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            long bytes = Write(proto, file);
            files.Add(new OnnxExportFile(file, role, bytes, Describe(proto.Graph.Input), Describe(proto.Graph.Output)));
        }
        return files;
    }

    /// <summary>The graphs for <paramref name="model"/> by role, checked but not written.</summary>
    internal static IReadOnlyList<(string Role, ModelProto Model)> Build(Module model, OnnxExportOptions options)
    {
        if (!Opsets.Contains(options.Opset))
            throw new NotSupportedException($"ONNX export: opset {options.Opset} is not written; choose {string.Join(" or ", Opsets)}");
        Refuse(model);
        int opset = options.Opset;
        return model switch
        {
            Gpt gpt => [("model", GptOnnx.Build(gpt, opset, options.KvCache))],
            Seq2Seq s when options.KvCache => [("encoder", Seq2SeqOnnx.Encoder(s, opset)), ("decoder", Seq2SeqOnnx.DecoderWithPast(s, opset))],
            Seq2Seq s => [("model", Seq2SeqOnnx.Full(s, opset))],
            VisionTransformer v when !options.KvCache => [("model", VitOnnx.Build(v, opset))],
            Bert b when !options.KvCache => [("model", BertOnnx.Build(b, opset))],
            VisionTransformer or Bert => throw new NotSupportedException(
                $"ONNX export: {model.GetType().Name} has no KV cache to export (it is not generative); leave the KV cache option off"),
            _ => throw new NotSupportedException(
                $"ONNX export: {model.GetType().Name} is not a model this exporter knows; it writes Gpt, Seq2Seq, VisionTransformer and Bert"),
        };
    }

    /// <summary>What a graph cannot express, named by module: a normalizer other than softmax, or dropout that
    /// would be active (training mode with p &gt; 0).</summary>
    private static void Refuse(Module model)
    {
        foreach (var (name, m) in model.NamedModules())
        {
            string where = name.Length == 0 ? model.GetType().Name : name;
            if (m is AttentionModule a && a.Variant.Kind is not (AttentionKind.Soft or AttentionKind.SoftMaterialized))
                throw new NotSupportedException($"ONNX export: {where} uses {a.Variant} attention; only soft (softmax) attention is exported " +
                    $"({Why(a.Variant.Kind)}). Train or load the model with soft attention to export it");
            float p = m switch { Dropout d => d.P, AttentionModule am => am.DropoutP, _ => 0f };
            if (model.Training && p > 0)
                throw new NotSupportedException($"ONNX export: {where} applies dropout p = {p} in training mode; an ONNX graph is for inference: call model.Eval() first");
        }
    }

    private static string Why(AttentionKind kind) => kind switch
    {
        AttentionKind.Gumbel or AttentionKind.Reinforce => "it samples its weights while training and takes a one-hot argmax at inference, which this exporter does not write",
        AttentionKind.Hard => "its weights are a one-hot argmax, which this exporter does not write",
        _ => "its normalizer sorts the scores, which this exporter does not write",
    };

    /// <summary>The model's state dict (or <paramref name="stateDict"/>) plus its non-persistent buffers (sinusoidal
    /// tables), by name: what the graphs read.</summary>
    internal static IReadOnlyDictionary<string, Tensor> Tensors(Module model, Dictionary<string, Tensor>? stateDict = null)
    {
        var d = stateDict ?? model.StateDict();
        foreach (var (name, b) in model.NamedBuffers()) d.TryAdd(name, b);
        return d;
    }

    /// <summary>Serializes to a temporary file beside <paramref name="path"/>, then renames it into place.</summary>
    private static long Write(ModelProto model, string path)
    {
        long size = model.CalculateSize();
        if (size > int.MaxValue)
            throw new NotSupportedException($"ONNX export: the model would be {size:N0} bytes; protobuf files stop at 2 GiB (external weights are not written)");
        string tmp = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                model.WriteTo(f);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
        return size;
    }

    private static List<string> Describe(IEnumerable<ValueInfoProto> values) =>
        values.Select(v => $"{v.Name} [{string.Join(", ", v.Type.TensorType.Shape.Dim.Select(d => d.DimParam.Length > 0 ? d.DimParam : d.DimValue.ToString()))}]").ToList();
}
