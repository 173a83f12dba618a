using Attend.Interop;
using Attend.Nn;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Attend.Tests.Interop;

/// <summary>Exports models into a temporary folder and runs the files in ONNX Runtime 1.32 (the reference): inputs by
/// name, outputs as flat arrays with their shapes; and the error measure the export tests assert on.</summary>
internal sealed class OnnxRun : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("attend-onnx-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }

    /// <summary>Exports <paramref name="model"/> (in evaluation mode) to NAME.onnx in the folder; the files written.</summary>
    public IReadOnlyList<OnnxExportFile> Export(Module model, string name, int opset, bool kvCache = false)
    {
        model.Eval();
        return OnnxExport.Save(model, Path.Combine(Folder, name + ".onnx"), new OnnxExportOptions { Opset = opset, KvCache = kvCache });
    }

    public static InferenceSession Session(string path) => new(path, new SessionOptions
    {
        IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
    });

    public static NamedOnnxValue Long(string name, long[] data, params int[] shape) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(data, shape));
    public static NamedOnnxValue Float(string name, float[] data, params int[] shape) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(data, shape));

    /// <summary>Every output by name: (values, shape).</summary>
    public static Dictionary<string, (float[] Data, int[] Shape)> Run(InferenceSession s, IEnumerable<NamedOnnxValue> inputs)
    {
        using var r = s.Run(inputs.ToList());
        return r.ToDictionary(v => v.Name, v => { var t = v.AsTensor<float>(); return (t.ToArray(), t.Dimensions.ToArray()); });
    }

    /// <summary>max |a − b|, after checking that the lengths agree and nothing is NaN.</summary>
    public static double MaxError(float[] ort, float[] attend, string what)
    {
        if (ort.Length != attend.Length) throw new Xunit.Sdk.XunitException($"{what}: ONNX Runtime gave {ort.Length} values, Attend {attend.Length}");
        double max = 0;
        for (int i = 0; i < ort.Length; i++)
        {
            if (float.IsNaN(ort[i]) || float.IsNaN(attend[i])) throw new Xunit.Sdk.XunitException($"{what}: NaN at {i} (ONNX Runtime {ort[i]}, Attend {attend[i]})");
            max = Math.Max(max, Math.Abs(ort[i] - attend[i]));
        }
        return max;
    }

    /// <summary>Gives every parameter of a freshly built model values of a trained one's size (weights ~N(0, 0.15), norm
    /// weights 1 ± 0.2, biases ±0.1), so that scores, softmaxes and logits are far from the near-zero initial ones.</summary>
    public static void Randomize(Module model, int seed)
    {
        var rng = new Random(seed);
        using var _ = Autograd.NoGrad();
        foreach (var (name, p) in model.NamedParameters())
        {
            var span = p.Span;
            bool norm = name.Contains("norm", StringComparison.OrdinalIgnoreCase) || name.Contains("ln_") || name.Contains("LayerNorm");
            for (int i = 0; i < span.Length; i++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                span[i] = p.Rank >= 2 && !norm ? (float)(0.15 * g) : norm && name.EndsWith("weight") ? (float)(1 + 0.2 * g) : (float)(0.1 * g);
            }
        }
    }

    public static long[] Ids(Random rng, int n, int vocab, int from = 0) => Enumerable.Range(0, n).Select(_ => (long)rng.Next(from, vocab)).ToArray();
}
