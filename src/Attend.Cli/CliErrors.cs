using Attend.IO;

namespace Attend.Cli;

/// <summary>Bad input to a command (a file, a folder, an option): the CLI prints "error: message" and exits with 2, no stack trace.</summary>
public class CliException(string message) : Exception(message);

/// <summary>Checks shared by every command, with messages that name the path.</summary>
public static class CliChecks
{
    /// <summary>Runs a command's action, turning a <see cref="CliException"/> into one line on stderr and exit code 2.</summary>
    public static int Guard(Func<int> run)
    {
        try { return run(); }
        catch (CliException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
    }

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
        try
        {
            Directory.CreateDirectory(dir);
            string probe = Path.Combine(dir, $".attend-write-test-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{option} folder '{dir}' is not writable: {ex.Message}");
        }
    }

    /// <summary>Throws (through <paramref name="fail"/>, the command's own exception) unless <paramref name="dir"/> can take a
    /// new checkpoint: not a file, not holding a checkpoint (that needs --resume), not a folder with other things in it.</summary>
    public static void RequireFreshCheckpointFolder(string dir, Func<string, Exception> fail)
    {
        if (File.Exists(dir)) throw fail($"--out '{dir}' is a file");
        if (File.Exists(Path.Combine(dir, Checkpoint.ManifestFile)))
            throw fail($"'{dir}' already holds a checkpoint: add --resume to continue it, or choose another --out");
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw fail($"--out '{dir}' exists and is not empty");
    }

    /// <summary><see cref="Checkpoint.Load"/>, with a read error turned into the command's own exception.</summary>
    public static CheckpointData LoadCheckpoint(string dir, Func<string, Exception> fail)
    {
        try { return Checkpoint.Load(dir); }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw fail($"cannot read the checkpoint in '{dir}': {ex.Message}");
        }
    }

    /// <summary>The checkpoint a command is pointed at (--model): "holds no checkpoint (train one with: …)" when there is
    /// none, a read error otherwise — both as the command's own exception.</summary>
    public static CheckpointData LoadTrainedCheckpoint(string dir, Func<string, Exception> fail, string trainCommand)
    {
        if (!File.Exists(Path.Combine(dir, Checkpoint.ManifestFile)))
            throw fail($"'{dir}' holds no checkpoint (train one with: {trainCommand} --out {dir})");
        return LoadCheckpoint(dir, fail);
    }
}
