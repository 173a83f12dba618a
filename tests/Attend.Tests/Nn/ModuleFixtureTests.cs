using System.Text.Json;
using Attend.Nn;
using Attend.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

/// <summary>
/// nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer and nn.Transformer against real PyTorch
/// (files in Fixtures/modules, written by tools/oracle/make_module_fixtures.py). Each case builds the Attend module from
/// the file's constructor arguments, loads PyTorch's state dict with <c>strict: true</c> (so every name and shape must
/// match), runs the forward in eval mode, backpropagates the stored upstream gradient, and compares the output, the
/// attention weights, every input gradient and every parameter gradient: |actual − expected| ≤ 1e-5 + 1e-4·|expected|.
/// </summary>
public sealed class ModuleFixtureTests(ITestOutputHelper output)
{
    private const double Atol = 1e-5, Rtol = 1e-4;
    private static readonly string FixtureDir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "modules");

    private static IEnumerable<string> Names() =>
        Directory.GetFiles(FixtureDir, "*.safetensors").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal);

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var n in Names()) data.Add(n);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesPyTorch(string name)
    {
        var (lines, failures, max, where) = Run(name);
        foreach (var l in lines) output.WriteLine(l);
        output.WriteLine($"{name}: max abs error {max:E2} (in {where})");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Every case in one run: the max error per module, for the record.</summary>
    [Fact]
    public void Summary_MaxErrorPerModule()
    {
        var failed = new List<string>();
        var perModule = new SortedDictionary<string, (double Max, string Where)>(StringComparer.Ordinal);
        foreach (var name in Names())
        {
            var (_, failures, max, where) = Run(name);
            output.WriteLine($"{name,-40} max abs error {max:E2} (in {where})" + (failures.Count == 0 ? "" : "  FAILED"));
            string module = SafeTensorsFile.Read(Path.Combine(FixtureDir, name + ".safetensors")).Metadata["module"];
            if (!perModule.TryGetValue(module, out var m) || max > m.Max) perModule[module] = (max, $"{name}/{where}");
            failed.AddRange(failures);
        }
        foreach (var (module, (max, where)) in perModule) output.WriteLine($"module {module,-14} max abs error {max:E2} ({where})");
        Assert.True(failed.Count == 0, string.Join("\n", failed));
    }

    private static (List<string> Lines, List<string> Failures, double Max, string Where) Run(string name)
    {
        var file = SafeTensorsFile.Read(Path.Combine(FixtureDir, name + ".safetensors"));
        var ctor = JsonDocument.Parse(file.Metadata["ctor"]).RootElement;
        var call = JsonDocument.Parse(file.Metadata["call"]).RootElement;
        var lines = new List<string>();
        var failures = new List<string>();
        double max = 0; string where = "-";

        var inputs = file.Tensors.Keys.Where(k => k.StartsWith("in.", StringComparison.Ordinal))
            .ToDictionary(k => k["in.".Length..], k => Load(file[k], requiresGrad: file.Contains("grad_" + k)));
        Tensor? In(string n) => inputs.GetValueOrDefault(n);

        string module = file.Metadata["module"];
        Module m = Build(module, ctor);
        var state = file.Tensors.Keys.Where(k => k.StartsWith("state.", StringComparison.Ordinal))
            .ToDictionary(k => k["state.".Length..], k => Load(file[k], false));
        m.LoadStateDict(state, strict: true);
        m.Eval();

        Tensor outT; Tensor? weights = null;
        switch (m)
        {
            case MultiheadAttention mha:
                var q = In("query")!;
                var k = In("key") ?? q;
                var v = In("value") ?? k;
                (outT, weights) = mha.Forward(q, k, v, In("key_padding_mask"), Bool(call, "need_weights", true), In("attn_mask"),
                    Bool(call, "average_attn_weights", true));
                break;
            case TransformerEncoderLayer enc:
                outT = enc.Forward(In("src")!, In("src_mask"), In("src_key_padding_mask"));
                break;
            case TransformerDecoderLayer dec:
                outT = dec.Forward(In("tgt")!, In("memory")!, In("tgt_mask"), In("memory_mask"), In("tgt_key_padding_mask"), In("memory_key_padding_mask"));
                break;
            case Transformer tr:
                outT = tr.Forward(In("src")!, In("tgt")!, In("src_mask"), In("tgt_mask"), In("memory_mask"),
                    In("src_key_padding_mask"), In("tgt_key_padding_mask"), In("memory_key_padding_mask"));
                break;
            default: throw new InvalidOperationException(module);
        }

        void Record(string tensor, Tensor? actual)
        {
            if (actual is null) { failures.Add($"{name}/{tensor}: missing (null)"); return; }
            var (ok, err, summary) = Compare(actual, file[tensor]);
            lines.Add($"{name}/{tensor}: {summary}");
            if (err > max || where == "-") (max, where) = (err, tensor);
            if (!ok) failures.Add($"{name}/{tensor}: {summary}");
        }

        Record("out", outT);
        if (file.Contains("weights")) Record("weights", weights);
        else if (weights is not null) failures.Add($"{name}: weights returned but PyTorch returned none");

        outT.Backward(Load(file["gout"], false));
        foreach (var (n, t) in inputs.Where(kv => kv.Value.RequiresGrad)) Record($"grad_in.{n}", t.Grad);
        var parameters = m.NamedParameters().ToDictionary(p => p.Name, p => p.Param);
        foreach (var g in file.Tensors.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)))
            Record(g, parameters[g["grad.".Length..]].Grad);
        if (parameters.Count != file.Tensors.Keys.Count(k => k.StartsWith("grad.", StringComparison.Ordinal)))
            failures.Add($"{name}: {parameters.Count} parameters here, a different number in the file");
        return (lines, failures, max, where);
    }

    /// <summary>The Attend module for PyTorch's constructor arguments (an unknown argument fails the test).</summary>
    private static Module Build(string module, JsonElement a)
    {
        var known = new HashSet<string>();
        T Get<T>(string key, T fallback)
        {
            known.Add(key);
            return a.TryGetProperty(key, out var v) ? v.Deserialize<T>()! : fallback;
        }
        Module m = module switch
        {
            "mha" => new MultiheadAttention(Get("embed_dim", 0), Get("num_heads", 0), Get("dropout", 0f), Get("bias", true),
                Get("add_bias_kv", false), Get("add_zero_attn", false), Get<int?>("kdim", null), Get<int?>("vdim", null), Get("batch_first", false)),
            "encoder_layer" => new TransformerEncoderLayer(Get("d_model", 0), Get("nhead", 0), Get("dim_feedforward", 2048), Get("dropout", 0.1f),
                Get("activation", "relu"), Get("layer_norm_eps", 1e-5f), Get("batch_first", false), Get("norm_first", false)),
            "decoder_layer" => new TransformerDecoderLayer(Get("d_model", 0), Get("nhead", 0), Get("dim_feedforward", 2048), Get("dropout", 0.1f),
                Get("activation", "relu"), Get("layer_norm_eps", 1e-5f), Get("batch_first", false), Get("norm_first", false)),
            "transformer" => new Transformer(Get("d_model", 512), Get("nhead", 8), Get("num_encoder_layers", 6), Get("num_decoder_layers", 6),
                Get("dim_feedforward", 2048), Get("dropout", 0.1f), Get("activation", "relu"), Get("layer_norm_eps", 1e-5f),
                Get("batch_first", false), Get("norm_first", false)),
            _ => throw new InvalidDataException($"unknown module '{module}'"),
        };
        var unknown = a.EnumerateObject().Select(p => p.Name).Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0) throw new InvalidDataException($"{module}: constructor arguments not mapped: {string.Join(", ", unknown)}");
        return m;
    }

    private static bool Bool(JsonElement call, string key, bool fallback) => call.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;

    private static Tensor Load(SafeTensorEntry e, bool requiresGrad) => e.DType switch
    {
        "F32" => Tensor.FromArray(e.ToFloats(), e.Shape, requiresGrad),
        "BOOL" => Tensor.FromArray(e.ToBools(), e.Shape),
        "I64" => Tensor.FromArray(e.ToInt64s(), e.Shape),
        _ => throw new InvalidDataException($"{e.Name}: dtype {e.DType}"),
    };

    private static (bool Ok, double MaxAbs, string Summary) Compare(Tensor actual, SafeTensorEntry expected)
    {
        if (!actual.Shape.SequenceEqual(expected.Shape))
            return (false, double.PositiveInfinity, $"shape [{string.Join(", ", actual.Shape)}], expected [{string.Join(", ", expected.Shape)}]");
        var a = actual.ToArray(); var b = expected.ToFloats();
        double maxAbs = 0; int first = -1;
        for (int i = 0; i < b.Length; i++)
        {
            double err = Math.Abs((double)a[i] - b[i]);
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, err);
            if (first < 0 && !(err <= Atol + Rtol * Math.Abs(b[i]))) first = i;
        }
        return first < 0 ? (true, maxAbs, $"max abs error {maxAbs:E2}")
            : (false, maxAbs, $"first mismatch at flat index {first}: got {a[first]:R}, expected {b[first]:R}; max abs error {maxAbs:E2}");
    }
}
