using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Attend.IO;

/// <summary>What <see cref="Checkpoint.Load"/> returns: the pieces given to <see cref="Checkpoint.Save"/>, plus the
/// versions recorded when it was written. Disposing it disposes every tensor in it.</summary>
/// <param name="Weights">the model's tensors by state-dict name (model.safetensors).</param>
/// <param name="OptimizerState">the optimizer's tensors by name (optimizer.safetensors), or null when none was saved.</param>
/// <param name="ConfigJson">the caller's config JSON object, character for character as given to Save (less surrounding whitespace).</param>
/// <param name="Extra">the caller's string pairs (step counts, learning-rate schedule position, …); empty if none.</param>
/// <param name="FormatVersion">the checkpoint layout version (always <see cref="Checkpoint.FormatVersion"/> once loaded).</param>
/// <param name="LibraryVersion">the Attend version that wrote the checkpoint.</param>
public sealed record CheckpointData(
    IReadOnlyDictionary<string, Tensor> Weights,
    IReadOnlyDictionary<string, Tensor>? OptimizerState,
    string ConfigJson,
    IReadOnlyDictionary<string, string> Extra,
    int FormatVersion,
    string LibraryVersion) : IDisposable
{
    /// <summary>Disposes every tensor of <see cref="Weights"/> and <see cref="OptimizerState"/>.</summary>
    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
        if (OptimizerState is not null)
            foreach (var t in OptimizerState.Values) t.Dispose();
    }
}

/// <summary>
/// A training checkpoint: a directory that PyTorch users can read piece by piece.
/// <code>
/// DIR/
///   checkpoint.json        the manifest: {"format": "attend-checkpoint", "format_version": 1, "library_version": "…",
///                          "config": {caller's JSON, verbatim}, "extra": {string: string},
///                          "files": {"weights": {"name": "model.safetensors", "bytes": N},
///                                    "optimizer": {"name": "optimizer.safetensors", "bytes": M}}}
///   model.safetensors      the weights (state-dict names, so torch can load_state_dict them)
///   optimizer.safetensors  the optimizer's tensors (only when optimizer state was given)
/// </code>
/// Scalars of the optimizer or the training loop (step counts, …) go in <c>extra</c> as strings, or in the optimizer
/// dictionary as 0-d tensors.
/// <para><b>Atomicity.</b> <see cref="Save"/> writes the whole checkpoint into a sibling directory
/// <c>DIR.tmp-&lt;guid&gt;</c> (every file fsynced, the manifest last) and only then puts it in place: by one rename when
/// DIR does not exist, otherwise by renaming DIR to <c>DIR.old-&lt;guid&gt;</c>, the new one to DIR, and deleting the
/// old one. A failure while writing leaves DIR untouched and removes the temporary directory. A crash between the two
/// renames (a window of two system calls) leaves no DIR but a complete <c>DIR.old-&lt;guid&gt;</c>;
/// <see cref="Load"/> then says so by name. An existing DIR is replaced only when it holds nothing but checkpoint
/// files, so a mistyped path never deletes unrelated data. Renames are not followed by a directory fsync (.NET has
/// no portable call for it), so after a power cut the rename itself may be lost — never half of a file.</para>
/// <para><b>Loading</b> never writes. A missing directory or file, a byte count that differs from the manifest, a
/// different format or format version, or a malformed file throws an exception that names the path and the problem.</para>
/// </summary>
public static class Checkpoint
{
    /// <summary>The layout version this Attend writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The value of the manifest's "format" key.</summary>
    public const string FormatName = "attend-checkpoint";

    /// <summary>The manifest's file name in the checkpoint directory, <c>checkpoint.json</c>.</summary>
    public const string ManifestFile = "checkpoint.json";
    /// <summary>The weights' file name in the checkpoint directory, <c>model.safetensors</c>.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>The optimizer state's file name in the checkpoint directory, <c>optimizer.safetensors</c> (only written
    /// when optimizer state is given).</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>This assembly's version, as recorded in the manifest.</summary>
    public static string LibraryVersion { get; } =
        typeof(Checkpoint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Checkpoint).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Writes a checkpoint to <paramref name="dir"/>, replacing an earlier checkpoint there atomically (see the
    /// class remarks).</summary>
    /// <param name="dir">the checkpoint directory; its parent must exist.</param>
    /// <param name="weights">the model's tensors by name.</param>
    /// <param name="optimizerState">the optimizer's tensors by name, or null for none.</param>
    /// <param name="configJson">a JSON object describing the model (kind, hyper-parameters); stored verbatim.</param>
    /// <param name="extra">string pairs stored in the manifest (step counts, …), or null.</param>
    /// <exception cref="ArgumentException"><paramref name="configJson"/> is not a JSON object.</exception>
    /// <exception cref="IOException"><paramref name="dir"/> exists and holds something other than a checkpoint.</exception>
    public static void Save(string dir, IReadOnlyDictionary<string, Tensor> weights, IReadOnlyDictionary<string, Tensor>? optimizerState,
        string configJson, IReadOnlyDictionary<string, string>? extra = null)
        => SaveCore(dir, weights, optimizerState, configJson, extra, beforeSwap: null);

    /// <summary>As the public Save; <paramref name="beforeSwap"/> (tests) runs once the temporary directory is complete.</summary>
    internal static void SaveCore(string dir, IReadOnlyDictionary<string, Tensor> weights, IReadOnlyDictionary<string, Tensor>? optimizerState,
        string configJson, IReadOnlyDictionary<string, string>? extra, Action<string>? beforeSwap)
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(configJson);
        CheckConfig(configJson);
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (File.Exists(target))
            throw new IOException($"checkpoint: '{target}' is a file, not a checkpoint directory");
        if (Directory.Exists(target))
            CheckReplaceable(target);

        string temp = $"{target}.tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temp);
        try
        {
            SafeTensors.Save(Path.Combine(temp, WeightsFile), weights);
            if (optimizerState is not null)
                SafeTensors.Save(Path.Combine(temp, OptimizerFile), optimizerState);
            AtomicFile.WriteText(Path.Combine(temp, ManifestFile), Manifest(temp, configJson, extra, optimizerState is not null));
            beforeSwap?.Invoke(temp);
        }
        catch
        {
            TryDeleteDirectory(temp);
            throw;
        }

        if (!Directory.Exists(target))
        {
            Directory.Move(temp, target);
            return;
        }
        string old = $"{target}.old-{Guid.NewGuid():N}";
        Directory.Move(target, old);
        try
        {
            Directory.Move(temp, target);
        }
        catch
        {
            Directory.Move(old, target);   // put the previous checkpoint back
            TryDeleteDirectory(temp);
            throw;
        }
        TryDeleteDirectory(old);
        RemoveLeftovers(target);
    }

    /// <summary>
    /// After a save killed between its two renames (no DIR, a complete <c>DIR.old-&lt;guid&gt;</c>), puts the previous
    /// checkpoint back in place: renames the newest complete <c>DIR.old-*</c> to DIR. Returns the folder it restored, or
    /// null when DIR exists or nothing can be restored. Resuming training calls it; <see cref="Load"/> never writes.
    /// </summary>
    public static string? Recover(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        string? parent = Path.GetDirectoryName(target);
        if (Directory.Exists(target) || parent is null || !Directory.Exists(parent)) return null;
        var old = Directory.GetDirectories(parent, Path.GetFileName(target) + ".old-*")
            .Where(d => File.Exists(Path.Combine(d, ManifestFile)))
            .OrderByDescending(d => File.GetLastWriteTimeUtc(Path.Combine(d, ManifestFile)))
            .FirstOrDefault();
        if (old is null) return null;
        Directory.Move(old, target);
        RemoveLeftovers(target);
        return old;
    }

    /// <summary>Deletes what killed saves left beside <paramref name="target"/>: <c>DIR.tmp-*</c> and <c>DIR.old-*</c>
    /// folders that hold nothing but checkpoint files and their half-written temporary files.</summary>
    private static void RemoveLeftovers(string target)
    {
        string? parent = Path.GetDirectoryName(target);
        if (parent is null) return;
        string name = Path.GetFileName(target);
        foreach (var d in Directory.GetDirectories(parent, name + ".tmp-*").Concat(Directory.GetDirectories(parent, name + ".old-*")))
        {
            bool onlyOurs = Directory.EnumerateFileSystemEntries(d).All(e => File.Exists(e) && Path.GetFileName(e) is var f &&
                (f is ManifestFile or WeightsFile or OptimizerFile || new[] { ManifestFile, WeightsFile, OptimizerFile }.Any(c => f.StartsWith($".{c}.tmp-", StringComparison.Ordinal))));
            if (onlyOurs) TryDeleteDirectory(d);
        }
    }

    /// <summary>Creates <paramref name="dir"/> if needed and proves that a file can be written in it (written, then
    /// deleted): call it before work whose result would otherwise be lost at the first save.</summary>
    /// <exception cref="IOException">the folder cannot be created or written (the message says why).</exception>
    /// <exception cref="UnauthorizedAccessException">no permission to write there.</exception>
    public static void RequireWritableFolder(string dir)
    {
        Directory.CreateDirectory(dir);
        string probe = Path.Combine(dir, $".attend-write-test-{Guid.NewGuid():N}");
        File.WriteAllText(probe, "");
        File.Delete(probe);
    }

    /// <summary>Reads the checkpoint in <paramref name="dir"/>. Writes nothing.</summary>
    /// <exception cref="DirectoryNotFoundException">no such directory (the message names a leftover of an interrupted save).</exception>
    /// <exception cref="FileNotFoundException">the manifest or a file it lists is missing.</exception>
    /// <exception cref="InvalidDataException">a different format or version, a malformed manifest, a file whose size
    /// differs from the manifest's, or a malformed safetensors file.</exception>
    public static CheckpointData Load(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (!Directory.Exists(target))
        {
            string? parent = Path.GetDirectoryName(target);
            var leftovers = parent is not null && Directory.Exists(parent)
                ? Directory.GetDirectories(parent, Path.GetFileName(target) + ".old-*")
                : [];
            throw new DirectoryNotFoundException(leftovers.Length == 0
                ? $"checkpoint: directory '{target}' does not exist"
                : $"checkpoint: directory '{target}' does not exist, but an interrupted save left the previous checkpoint in " +
                  $"'{leftovers[0]}': rename it to '{target}' to use it (resuming training does this itself)");
        }

        string manifestPath = Path.Combine(target, ManifestFile);
        if (!File.Exists(manifestPath))
            throw new FileNotFoundException($"checkpoint: '{target}' has no {ManifestFile}, so it is not an Attend checkpoint " +
                                            "(or its save never finished)", manifestPath);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"checkpoint: {manifestPath} is not valid JSON: {ex.Message}", ex);
        }
        try { return Read(doc, target, manifestPath); }
        catch (InvalidOperationException ex)   // a JSON value of another kind than asked, or a string that is not UTF-8
        {
            throw new InvalidDataException($"checkpoint: {manifestPath}: {ex.Message}", ex);
        }
        finally { doc.Dispose(); }
    }

    /// <summary>The checkpoint described by the parsed manifest <paramref name="doc"/>.</summary>
    private static CheckpointData Read(JsonDocument doc, string target, string manifestPath)
    {
        {
            var root = doc.RootElement;
            InvalidDataException Bad(string why) => new($"checkpoint: {manifestPath}: {why}");
            if (root.ValueKind != JsonValueKind.Object) throw Bad("the manifest is not a JSON object");

            string format = root.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "(none)";
            if (format != FormatName) throw Bad($"format is '{format}', not '{FormatName}'");
            if (!root.TryGetProperty("format_version", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version))
                throw Bad("no integer format_version");
            string library = root.TryGetProperty("library_version", out var lv) && lv.ValueKind == JsonValueKind.String
                ? lv.GetString()! : "unknown";
            if (version != FormatVersion)
                throw Bad($"format_version is {version} (written by Attend {library}); this Attend ({LibraryVersion}) reads version {FormatVersion}");

            if (!root.TryGetProperty("config", out var config) || config.ValueKind != JsonValueKind.Object)
                throw Bad("no 'config' object");
            var extra = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("extra", out var e))
            {
                if (e.ValueKind != JsonValueKind.Object) throw Bad("'extra' is not an object");
                foreach (var item in e.EnumerateObject())
                    extra[item.Name] = item.Value.ValueKind == JsonValueKind.String
                        ? item.Value.GetString()!
                        : throw Bad($"extra value '{item.Name}' is not a string");
            }
            if (!root.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Object)
                throw Bad("no 'files' object");

            var weights = LoadListed(target, files, "weights", required: true, Bad)!;
            IReadOnlyDictionary<string, Tensor>? optimizer;
            try
            {
                optimizer = LoadListed(target, files, "optimizer", required: false, Bad);
            }
            catch
            {
                foreach (var t in weights.Values) t.Dispose();
                throw;
            }
            return new CheckpointData(weights, optimizer, config.GetRawText(), extra, version, library);
        }
    }

    /// <summary>Loads the safetensors file the manifest lists under <paramref name="role"/>, after checking it exists
    /// and has the recorded size.</summary>
    private static IReadOnlyDictionary<string, Tensor>? LoadListed(string dir, JsonElement files, string role, bool required,
        Func<string, InvalidDataException> bad)
    {
        if (!files.TryGetProperty(role, out var entry))
            return required ? throw bad($"files has no '{role}' entry") : null;
        if (entry.ValueKind != JsonValueKind.Object
            || !entry.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
            || !entry.TryGetProperty("bytes", out var b) || b.ValueKind != JsonValueKind.Number || !b.TryGetInt64(out long bytes))
            throw bad($"files.{role} is not {{\"name\": string, \"bytes\": integer}}");
        string name = n.GetString()!;
        if (name.Length == 0 || name != Path.GetFileName(name) || name is "." or "..")
            throw bad($"files.{role} names '{name}', which is not a plain file name inside the checkpoint");
        string path = Path.Combine(dir, name);
        if (!File.Exists(path))
            throw new FileNotFoundException($"checkpoint: '{dir}' lists {role} file {name} in its {ManifestFile}, but the file is missing", path);
        long actual = new FileInfo(path).Length;
        if (actual != bytes)
            throw new InvalidDataException($"checkpoint: {path} is {actual} bytes, but {ManifestFile} records {bytes} " +
                                           "(truncated, or replaced by a file from another checkpoint)");
        return SafeTensors.Load(path);
    }

    private static string Manifest(string dir, string configJson, IReadOnlyDictionary<string, string>? extra, bool hasOptimizer)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("format", FormatName);
            w.WriteNumber("format_version", FormatVersion);
            w.WriteString("library_version", LibraryVersion);
            w.WritePropertyName("config");
            w.WriteRawValue(configJson.Trim(), skipInputValidation: false);
            w.WriteStartObject("extra");
            if (extra is not null)
                foreach (var (k, v) in extra.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    w.WriteString(k, v ?? throw new ArgumentException($"checkpoint: extra value '{k}' is null", nameof(extra)));
            w.WriteEndObject();
            w.WriteStartObject("files");
            WriteFile(w, "weights", dir, WeightsFile);
            if (hasOptimizer) WriteFile(w, "optimizer", dir, OptimizerFile);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteFile(Utf8JsonWriter w, string role, string dir, string name)
    {
        w.WriteStartObject(role);
        w.WriteString("name", name);
        w.WriteNumber("bytes", new FileInfo(Path.Combine(dir, name)).Length);
        w.WriteEndObject();
    }

    private static void CheckConfig(string configJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(configJson);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"checkpoint: configJson is a JSON {doc.RootElement.ValueKind}, not an object", nameof(configJson));
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"checkpoint: configJson is not valid JSON: {ex.Message}", nameof(configJson), ex);
        }
    }

    /// <summary>An existing directory may be replaced only when it holds nothing but checkpoint files.</summary>
    private static void CheckReplaceable(string dir)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
        {
            string name = Path.GetFileName(entry);
            if (name is not (ManifestFile or WeightsFile or OptimizerFile) || Directory.Exists(entry))
                throw new IOException($"checkpoint: '{dir}' already exists and holds '{name}', which is not a checkpoint file; " +
                                      "refusing to replace it (choose another directory or remove it)");
        }
    }

    private static void TryDeleteDirectory(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
