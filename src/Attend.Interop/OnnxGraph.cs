using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Attend.Interop;

/// <summary>
/// An ONNX model read with OnnxSharp's protobuf classes: its initializers as tensors (float32 and int64, raw or typed
/// data), its nodes, and the edges between them (who produces a value, who consumes it) — what an importer needs to
/// place weights by the graph's structure. Constant nodes' values read like initializers.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>The parsed model (OnnxSharp's protobuf class of onnx.proto's ModelProto).</summary>
    public ModelProto Model { get; }
    /// <summary>The model's main graph.</summary>
    public GraphProto Graph => Model.Graph;
    /// <summary>Where the model came from (a file path, a package resource), for messages.</summary>
    public string Source { get; }
    private readonly Dictionary<string, TensorProto> initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> consumers = new(StringComparer.Ordinal);

    private OnnxGraph(ModelProto model, string source)
    {
        (Model, Source) = (model, source);
        if (model.Graph is null) throw new InvalidDataException($"{source}: the ONNX model has no graph");
        foreach (var t in model.Graph.Initializer) initializers[t.Name] = t;
        foreach (var n in model.Graph.Node)
        {
            foreach (var o in n.Output) producers[o] = n;
            foreach (var i in n.Input)
                if (i.Length > 0) (consumers.TryGetValue(i, out var l) ? l : consumers[i] = new()).Add(n);
        }
    }

    /// <summary>Parses an ONNX file.</summary>
    /// <exception cref="InvalidDataException">the file is not a complete ONNX protobuf (truncated, another format).</exception>
    public static OnnxGraph Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no ONNX file at {path}", path);
        using var s = File.OpenRead(path);
        return Load(s, path);
    }

    /// <inheritdoc cref="Load(string)"/>
    public static OnnxGraph Load(Stream stream, string source)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(stream); }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"{source}: not a readable ONNX model ({ex.Message}); is the file complete?", ex);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new InvalidDataException($"{source}: not an ONNX model (no graph nodes; IR version {model.IrVersion})");
        return new OnnxGraph(model, source);
    }

    /// <summary>Opset of the default ("ai.onnx") domain, 0 when absent.</summary>
    public long Opset => Model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;
    /// <summary>The names of the graph's initializers (Constant nodes' outputs are not among them).</summary>
    public IEnumerable<string> InitializerNames => initializers.Keys;
    /// <summary>True when <paramref name="name"/> is one of the graph's initializers.</summary>
    public bool IsInitializer(string name) => initializers.ContainsKey(name);
    /// <summary>The node whose output is <paramref name="value"/>; null for graph inputs and initializers.</summary>
    public NodeProto? Producer(string value) => producers.GetValueOrDefault(value);
    /// <summary>The nodes that take <paramref name="value"/> as an input, in graph order (empty if none).</summary>
    public IReadOnlyList<NodeProto> Consumers(string value) => consumers.TryGetValue(value, out var l) ? l : [];
    /// <summary>The nodes of operator <paramref name="opType"/> (e.g. "MatMul"), in graph order.</summary>
    public IEnumerable<NodeProto> Nodes(string opType) => Graph.Node.Where(n => n.OpType == opType);

    /// <summary>The initializer <paramref name="name"/> as a tensor.</summary>
    /// <exception cref="InvalidDataException">no such initializer, or one of a type or storage not read here.</exception>
    public Tensor Initializer(string name) =>
        initializers.TryGetValue(name, out var t) ? ToTensor(t, $"initializer '{name}'") : throw new InvalidDataException($"{Source}: no initializer named '{name}'");

    /// <summary>The value of <paramref name="name"/> when it is constant (an initializer, or a Constant node's
    /// output) as float64s; null otherwise.</summary>
    public double[]? ConstantValues(string name)
    {
        TensorProto? t = initializers.GetValueOrDefault(name);
        if (t is null && Producer(name) is { OpType: "Constant" } c) t = c.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
        if (t is null) return null;
        using var x = ToTensor(t, $"constant '{name}'");
        return x.DType == DType.Int64 ? x.ToInt64Array().Select(v => (double)v).ToArray() : x.ToArray().Select(v => (double)v).ToArray();
    }

    /// <summary>An ONNX TensorProto (FLOAT or INT64, raw little-endian bytes or typed fields) as a tensor.</summary>
    private Tensor ToTensor(TensorProto t, string what)
    {
        var shape = t.Dims.Select(d => d is >= 0 and <= int.MaxValue ? (int)d : throw new InvalidDataException($"{Source}: {what} has dimension {d}")).ToArray();
        long n = 1;                                                                // checked: a dimension list may be anything
        foreach (int d in shape.Where(d => d != 0))
            if ((n *= d) > int.MaxValue) throw new InvalidDataException($"{Source}: {what} {Shapes.Str(shape)} has more than 2^31-1 elements");
        if (shape.Contains(0)) n = 0;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new InvalidDataException($"{Source}: {what} is stored in an external file; save the model with its weights inside");
        var raw = t.RawData.Span;
        switch ((TensorProto.Types.DataType)t.DataType)
        {
            case TensorProto.Types.DataType.Float:
            {
                float[] v = raw.Length > 0 ? Read<float>(raw, n, what) : t.FloatData.ToArray();
                if (v.Length != n) throw new InvalidDataException($"{Source}: {what} {Shapes.Str(shape)} holds {v.Length} floats, not {n}");
                return Tensor.FromArray(v, shape);
            }
            case TensorProto.Types.DataType.Int64:
            {
                long[] v = raw.Length > 0 ? Read<long>(raw, n, what) : t.Int64Data.ToArray();
                if (v.Length != n) throw new InvalidDataException($"{Source}: {what} {Shapes.Str(shape)} holds {v.Length} int64s, not {n}");
                return Tensor.FromArray(v, shape);
            }
            default:
                throw new InvalidDataException($"{Source}: {what} has ONNX data type {(TensorProto.Types.DataType)t.DataType}; only FLOAT and INT64 are read");
        }
    }

    private T[] Read<T>(ReadOnlySpan<byte> raw, long n, string what) where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        if (raw.Length != n * size) throw new InvalidDataException($"{Source}: {what} has {raw.Length} bytes of data, not {n} × {size}");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian; this host is not");
        return MemoryMarshal.Cast<byte, T>(raw).ToArray();
    }
}
