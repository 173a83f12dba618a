using System.Text.Json.Nodes;
using Attend.IO;
using Attend.Training;

namespace Attend.Cli;

/// <summary>Bad input to a command (a file, a folder, an option): the CLI prints "error: message" and exits with 2, no stack trace.</summary>
public class CliException(string message) : Exception(message);

/// <summary>Checks shared by every command, with messages that name the path.</summary>
public static class CliChecks
{
    /// <summary>Runs a command's action, turning a <see cref="CliException"/> or a <see cref="TrainingException"/> into one
    /// line on stderr and exit code 2.</summary>
    public static int Guard(Func<int> run)
    {
        try { return run(); }
        catch (Exception ex) when (ex is CliException or TrainingException)
        {
            Console.Error.WriteLine($"error: {Message(ex)}");
            return 2;
        }
    }

    /// <summary>The message of a user error, with the CLI's options named where the library's message cannot know them.</summary>
    public static string Message(Exception ex) => ex switch
    {
        TrainingException { Problem: TrainingProblem.HoldsCheckpoint } t => $"{t.Message}: add --resume to continue it, or choose another --out",
        TrainingException { Problem: TrainingProblem.FolderInUse } t => $"--out: {t.Message}",
        _ => ex.Message,
    };

    /// <summary>Throws unless <paramref name="path"/> is an existing file ("does not exist" / "is a folder, not a file").</summary>
    public static void RequireFile(string path, string what = "data file", string hint = "")
    {
        if (Directory.Exists(path)) throw new CliException($"{what} '{path}' is a folder, not a file{hint}");
        if (!File.Exists(path)) throw new CliException($"{what} '{path}' does not exist{hint}");
    }

    /// <summary>Creates <paramref name="dir"/> if needed and proves a file can be written in it (written, then deleted),
    /// before any work whose result would otherwise be lost.</summary>
    public static void RequireWritableFolder(string dir, string option = "--out")
    {
        if (File.Exists(dir)) throw new CliException($"{option} '{dir}' is a file, not a folder");
        try { Checkpoint.RequireWritableFolder(dir); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{option} folder '{dir}' is not writable: {ex.Message}");
        }
    }
}

/// <summary>
/// A trained model's checkpoint as a command reads it (--model): "holds no checkpoint (train one with …)" when there is
/// none, read errors, and configs of another kind, version or shape — each one line naming the folder.
/// </summary>
public static class ModelCheckpoint
{
    /// <summary>The "kind" in the config of the checkpoint in <paramref name="dir"/> ("(none)" when it has none).</summary>
    /// <exception cref="ArgumentException">the manifest cannot be read.</exception>
    public static string KindOf(string dir)
    {
        string manifest = Path.Combine(dir, Checkpoint.ManifestFile);
        try { return JsonNode.Parse(File.ReadAllText(manifest))?["config"]?["kind"]?.GetValue<string>() ?? "(none)"; }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or IOException)
        {
            throw new ArgumentException($"'{manifest}' is not a readable checkpoint manifest: {ex.Message}");
        }
    }

    /// <summary>The checkpoint in <paramref name="dir"/>; <paramref name="trainCommand"/> is how to make one.</summary>
    public static CheckpointData Open(string dir, string trainCommand)
    {
        if (!File.Exists(Path.Combine(dir, Checkpoint.ManifestFile)))
            throw new CliException($"'{dir}' holds no checkpoint (train one with: {trainCommand} --out {dir})");
        try { return Checkpoint.Load(dir); }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the checkpoint in '{dir}': {ex.Message}");
        }
    }

    /// <summary>A trained model in evaluation mode and its config: the checkpoint in <paramref name="dir"/> (made by
    /// <paramref name="trainCommand"/>), its config parsed by <paramref name="parse"/>(json, dir), the model built by
    /// <paramref name="build"/> and its weights loaded — weights that do not fit the config are one line naming the folder.</summary>
    public static (TModel Model, TConfig Config) Load<TModel, TConfig>(string dir, string trainCommand, Func<string, string, TConfig> parse,
        Func<TConfig, TModel> build) where TModel : Nn.Module
    {
        using var data = Open(dir, trainCommand);
        var cfg = parse(data.ConfigJson, dir);
        var model = build(cfg);
        try { model.LoadStateDict(data.Weights); }
        catch (ArgumentException ex) { throw new CliException($"'{dir}': the weights do not fit the model its config describes ({ex.Message})"); }
        model.Eval();
        return (model, cfg);
    }

    /// <summary>The config JSON of a checkpoint of <paramref name="kind"/> and <paramref name="version"/>, parsed by
    /// <paramref name="parse"/>; anything else — another kind, another version, a malformed config — is a
    /// <see cref="CliException"/> naming <paramref name="dir"/> and <paramref name="what"/> the model is.</summary>
    public static T Config<T>(string json, string dir, string kind, int version, string what, Func<JsonObject, T> parse)
    {
        JsonObject? o;
        try { o = JsonNode.Parse(json) as JsonObject; }
        catch (System.Text.Json.JsonException ex) { throw new CliException($"'{dir}': malformed {what} config ({ex.Message})"); }
        string have = o?["kind"] is JsonValue k && k.TryGetValue(out string? ks) ? ks : "(none)";
        if (have != kind) throw new CliException($"'{dir}' holds a checkpoint of kind '{have}', not a {what} ({kind})");
        int v = o!["version"] is JsonValue vv && vv.TryGetValue(out int vi) ? vi : -1;
        if (v != version) throw new CliException($"'{dir}' holds a {what} checkpoint of version {v}; this attend reads version {version}");
        try { return parse(o); }
        catch (Exception ex) when (ex is InvalidCastException or NullReferenceException or InvalidOperationException or FormatException
                                   or ArgumentException or System.Text.Json.JsonException or KeyNotFoundException)
        {
            throw new CliException($"'{dir}': malformed {what} config ({ex.Message})");
        }
    }

    /// <summary>The strings of a JSON array.</summary>
    public static string[] Strings(JsonNode? node) => ((JsonArray)node!).Select(t => t!.GetValue<string>()).ToArray();

    /// <summary>A JSON array of strings.</summary>
    public static JsonArray Array(IEnumerable<string> items) => new(items.Select(t => (JsonNode)t!).ToArray());
}
