using Attend.IO;

namespace Attend.Cli.Embeddings;

/// <summary>
/// The embeddings of a corpus, kept between runs of attend search: DIR/MODEL-CORPUSHASH.safetensors (the first 16 hex
/// digits of the corpus text's SHA-256) with one tensor "embeddings" [passages, E] and metadata naming what it was
/// computed from — the format, the model and its fingerprint, the pooling, the token limit, the corpus's full SHA-256
/// and passage count. A file whose metadata or shape does not match is recomputed (and overwritten); the file is
/// written atomically (SafeTensors.Save: a temporary file, fsync, rename), so an interrupted run leaves none half-written.
/// </summary>
public static class EmbeddingCache
{
    public const string Format = "attend-search-embeddings/1";

    public static string PathFor(string dir, SentenceEncoder encoder, Passages passages)
    {
        string key = string.Concat(encoder.Key.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-'));
        return Path.Combine(dir, $"{key}-{passages.Sha256[..16]}.safetensors");
    }

    /// <summary>What the file's metadata must say.</summary>
    public static Dictionary<string, string> Metadata(SentenceEncoder encoder, Passages passages) => new()
    {
        ["format"] = Format, ["model"] = encoder.Name, ["model_fingerprint"] = encoder.Fingerprint, ["pooling"] = encoder.Pooling.ToString().ToLowerInvariant(),
        ["max_tokens"] = encoder.MaxTokens.ToString(), ["corpus"] = passages.Name, ["corpus_sha256"] = passages.Sha256,
        ["passages"] = passages.Texts.Length.ToString(),
    };

    /// <summary>The cached matrix [passages][E], or null with <paramref name="why"/> saying why not (no file, another
    /// model or corpus, a damaged file).</summary>
    public static float[][]? TryLoad(string path, SentenceEncoder encoder, Passages passages, out string why)
    {
        why = "";
        if (!File.Exists(path)) { why = "none yet"; return null; }
        try
        {
            var have = SafeTensors.LoadMetadata(path);
            foreach (var (k, v) in Metadata(encoder, passages))
                if (k != "model" && (!have.TryGetValue(k, out var h) || h != v)) { why = $"its {k} is {(h is null ? "missing" : $"'{h}'")}, not '{v}'"; return null; }
            var tensors = SafeTensors.Load(path);
            try
            {
                int n = passages.Texts.Length, e = encoder.Model.Config.HiddenSize;
                if (!tensors.TryGetValue("embeddings", out var t) || t.Rank != 2 || t.Size(0) != n || t.Size(1) != e)
                {
                    why = $"it does not hold embeddings [{n}, {e}]";
                    return null;
                }
                var flat = t.ToArray();
                if (flat.Any(x => !float.IsFinite(x))) { why = "it holds values that are not finite"; return null; }
                return Enumerable.Range(0, n).Select(i => flat.AsSpan(i * e, e).ToArray()).ToArray();
            }
            finally { foreach (var t in tensors.Values) t.Dispose(); }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            why = $"it cannot be read ({ex.Message})";
            return null;
        }
    }

    public static void Save(string path, SentenceEncoder encoder, Passages passages, float[][] vectors)
    {
        int n = vectors.Length, e = encoder.Model.Config.HiddenSize;
        var flat = new float[(long)n * e];
        for (int i = 0; i < n; i++) vectors[i].CopyTo(flat, (long)i * e);
        using var t = Tensor.FromArray(flat, [n, e]);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["embeddings"] = t }, Metadata(encoder, passages));
    }
}
