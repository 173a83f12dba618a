using System.Globalization;
using Attend.IO;
using Attend.Nn;
using Attend.Optim;

namespace Attend.Training;

/// <summary>The trainer's side of <see cref="Checkpoint"/>: a fresh folder's checks, saving, and loading for resume.</summary>
internal static class Checkpoints
{
    public const string StepKey = "step", SecondsKey = "seconds", SeedKey = "seed";

    /// <summary>Throws unless <paramref name="dir"/> can take a new checkpoint: not a file, not holding a checkpoint, not a
    /// folder with other things in it, and its parent writable (a save writes a sibling folder first).</summary>
    public static void RequireFresh(string dir)
    {
        if (File.Exists(dir)) throw new TrainingException($"'{dir}' is a file, not a checkpoint folder", TrainingProblem.FolderInUse);
        if (File.Exists(Path.Combine(dir, Checkpoint.ManifestFile)))
            throw new TrainingException($"'{dir}' already holds a checkpoint", TrainingProblem.HoldsCheckpoint);
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new TrainingException($"'{dir}' exists and is not empty", TrainingProblem.FolderInUse);
        string parent = Path.GetDirectoryName(dir) ?? dir;
        try { Checkpoint.RequireWritableFolder(parent); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TrainingException($"the folder '{parent}' that will hold the checkpoint is not writable: {ex.Message}", TrainingProblem.FolderInUse);
        }
    }

    /// <summary>Weights, optimizer state, config and extras, atomically (see <see cref="Checkpoint.Save"/>).</summary>
    public static void Save(string dir, Module model, Optimizer optimizer, string configJson, IReadOnlyDictionary<string, string> extra)
    {
        var state = optimizer.StateDict();
        try { Checkpoint.Save(dir, model.StateDict(), state, configJson, extra); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    /// <summary>Loads the checkpoint in <paramref name="dir"/> into the model and optimizer after <paramref name="check"/>
    /// accepts its config: (step, seconds, seed, extras).</summary>
    public static (long Step, double Seconds, ulong? Seed, IReadOnlyDictionary<string, string> Extra) Resume(string dir, Module model, Optimizer optimizer, Action<string>? check)
    {
        try { Checkpoint.Recover(dir); }                  // a save killed between its two renames: the previous checkpoint back in place
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TrainingException($"cannot resume: an interrupted save left the checkpoint beside '{dir}' and it could not be put back: {ex.Message}", TrainingProblem.CannotResume);
        }
        if (!File.Exists(Path.Combine(dir, Checkpoint.ManifestFile)))
            throw new TrainingException($"cannot resume: '{dir}' holds no checkpoint", TrainingProblem.CannotResume);
        CheckpointData data;
        try { data = Checkpoint.Load(dir); }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new TrainingException($"cannot resume: {ex.Message}", TrainingProblem.CannotResume);
        }
        using (data)
        {
            check?.Invoke(data.ConfigJson);
            if (data.OptimizerState is null || !data.Extra.TryGetValue(StepKey, out var step) || !data.Extra.TryGetValue(SecondsKey, out var seconds)
                || !long.TryParse(step, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s)
                || !double.TryParse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double secs))
                throw new TrainingException($"cannot resume: '{dir}' has no optimizer state, step or seconds", TrainingProblem.CannotResume);
            try
            {
                model.LoadStateDict(data.Weights);
                optimizer.LoadStateDict(data.OptimizerState);
            }
            catch (ArgumentException ex) { throw new TrainingException($"cannot resume: the checkpoint in '{dir}' does not fit this model: {ex.Message}", TrainingProblem.CannotResume); }
            ulong? seed = data.Extra.TryGetValue(SeedKey, out var sd) && ulong.TryParse(sd, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v) ? v : null;
            return (s, secs, seed, data.Extra);
        }
    }
}
