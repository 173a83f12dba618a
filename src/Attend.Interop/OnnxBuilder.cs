using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Attend.Interop;

/// <summary>
/// Writes an ONNX graph node by node, on OnnxSharp's protobuf classes: graph inputs and outputs with named (dynamic)
/// or fixed dimensions, initializers under the names given (state-dict names; a tensor shared by two names, such as a
/// tied lm_head, is stored once), constants, and nodes whose outputs get fresh names. <see cref="Model"/> checks that
/// every node input is defined before it is used — a graph that ONNX Runtime would reject for a dangling name fails
/// here, before any file is written.
/// </summary>
internal sealed class OnnxBuilder
{
    private readonly GraphProto graph;
    private readonly IReadOnlyDictionary<string, Tensor> state;
    private readonly Dictionary<Tensor, string> stored = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);
    private readonly HashSet<string> defined = new(StringComparer.Ordinal);
    private int counter;

    /// <summary>The default-domain opset the graph is written for (17 or 23).</summary>
    public int Opset { get; }

    /// <param name="name">the graph's name.</param>
    /// <param name="opset">17 or 23.</param>
    /// <param name="state">the model's tensors by state-dict name, which <see cref="Param"/> stores.</param>
    public OnnxBuilder(string name, int opset, IReadOnlyDictionary<string, Tensor> state)
    {
        graph = new GraphProto { Name = name };
        (Opset, this.state) = (opset, state);
    }

    /// <summary>The model's tensor <paramref name="name"/> as an initializer of that name.</summary>
    public string Param(string name) =>
        Weight(name, state.TryGetValue(name, out var t) ? t : throw new InvalidOperationException($"ONNX export: the model has no tensor '{name}' (an exporter bug)"));

    /// <summary>Whether the model has a tensor <paramref name="name"/> (an optional bias, say).</summary>
    public bool Has(string name) => state.ContainsKey(name);

    /// <summary>A graph input; each dim is an int (fixed) or a string (a named, dynamic axis).</summary>
    public string Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        graph.Input.Add(ValueInfo(name, type, dims));
        Define(name);
        return name;
    }

    /// <summary>Declares <paramref name="value"/> as the graph output <paramref name="name"/> (through an Identity when
    /// the names differ).</summary>
    public void Output(string name, string value, TensorProto.Types.DataType type, params object[] dims)
    {
        if (value != name) Op("Identity", [value], output: name);
        graph.Output.Add(ValueInfo(name, type, dims));
    }

    /// <summary>An initializer holding <paramref name="t"/> (float32 or int64) under <paramref name="name"/>; the same
    /// tensor asked for again under another name returns the first name.</summary>
    public string Weight(string name, Tensor t)
    {
        if (stored.TryGetValue(t, out var first)) return first;
        var c = t.Contiguous();
        var p = new TensorProto { Name = name };
        p.Dims.AddRange(c.ShapeRef.Select(d => (long)d));
        if (c.DType == DType.Int64)
        {
            p.DataType = (int)TensorProto.Types.DataType.Int64;
            p.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(c.ToInt64Array().AsSpan()));
        }
        else
        {
            p.DataType = (int)TensorProto.Types.DataType.Float;
            p.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(c.Span));
        }
        graph.Initializer.Add(p);
        Define(name);
        stored[t] = name;
        return name;
    }

    /// <summary>A float32 constant initializer of the given shape (an empty shape: a scalar).</summary>
    public string Floats(float[] values, params int[] shape) => Constant(values, shape, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values.AsSpan()));

    /// <summary>An int64 constant initializer; a 1-D tensor of the values unless a shape is given.</summary>
    public string Ints(long[] values, int[]? shape = null) =>
        Constant(values, shape ?? [values.Length], TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()));

    public string Scalar(float v) => Floats([v]);
    public string ScalarInt(long v) => Ints([v], []);

    private string Constant<T>(T[] values, int[] shape, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes)
    {
        string key = $"{type}:{string.Join(",", shape)}:{string.Join(",", values)}";
        if (constants.TryGetValue(key, out var name)) return name;
        name = $"const_{constants.Count}";
        var p = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        p.Dims.AddRange(shape.Select(d => (long)d));
        graph.Initializer.Add(p);
        Define(name);
        return constants[key] = name;
    }

    /// <summary>Adds a node and returns its (single) output's name; attributes are (name, long | float | long[] | string).</summary>
    public string Op(string opType, string[] inputs, params (string Name, object Value)[] attributes) => Op(opType, inputs, null, attributes);

    public string Op(string opType, string[] inputs, string? output, params (string Name, object Value)[] attributes) =>
        OpN(opType, inputs, [output ?? Fresh(opType)], attributes)[0];

    /// <summary>Adds a node with several outputs (given names; "" for an optional output left out).</summary>
    public string[] OpN(string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        foreach (var i in inputs)
            if (i.Length > 0 && !defined.Contains(i))
                throw new InvalidOperationException($"ONNX export: node {opType} reads '{i}', which nothing defines before it (an exporter bug)");
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{counter++}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (n, v) in attributes) node.Attribute.Add(Attribute(n, v));
        graph.Node.Add(node);
        foreach (var o in outputs) if (o.Length > 0) Define(o);
        return outputs;
    }

    /// <summary>Fresh names for the outputs of a multi-output node.</summary>
    public string[] Fresh(string stem, int n) => Enumerable.Range(0, n).Select(_ => Fresh(stem)).ToArray();

    private string Fresh(string stem) => $"/{stem}_{counter++}";

    private void Define(string name)
    {
        if (!defined.Add(name)) throw new InvalidOperationException($"ONNX export: '{name}' is defined twice (an exporter bug)");
    }

    /// <summary>The finished model: IR version 8 for opset 17, 11 for opset 23 (the IR that introduced it).</summary>
    public ModelProto Model(string doc)
    {
        foreach (var o in graph.Output)
            if (!defined.Contains(o.Name)) throw new InvalidOperationException($"ONNX export: output '{o.Name}' is never computed (an exporter bug)");
        var model = new ModelProto
        {
            IrVersion = Opset >= 23 ? 11 : 8, ProducerName = "Attend", ProducerVersion = IO.Checkpoint.LibraryVersion,
            DocString = doc, Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                int n => new TensorShapeProto.Types.Dimension { DimValue = n },
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                _ => throw new ArgumentException($"ONNX export: a dimension is an int or a name, not {d.GetType().Name}"),
            });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private static AttributeProto Attribute(string name, object value) => value switch
    {
        int i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        long l => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = l },
        float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
        long[] ls => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { ls } },
        string s => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
        _ => throw new ArgumentException($"ONNX export: attribute {name} of type {value.GetType().Name}"),
    };
}
