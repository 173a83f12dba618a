using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Attend.IO;
using Attend.Optim;

namespace Attend.Training;

/// <summary>
/// How data-parallel ranks start from one state: rank 0 checks the checkpoint folder and loads a checkpoint to resume, then
/// broadcasts the outcome as one safetensors blob — its error (thrown on every rank, so none waits for the others), or the
/// resumed optimizer state with the step, seconds, seed and extras in the metadata. The weights follow in
/// <see cref="DataParallel"/>'s broadcast. Only rank 0 needs to see the folder (hosts need not share a file system).
/// </summary>
internal static class Replicas
{
    const string Error = "error", Problem = "problem", Step = "step", Seconds = "seconds", Seed = "seed", Extra = "extra.";

    public static (long, double, ulong?, IReadOnlyDictionary<string, string>)? Start(ICollectives group, Optimizer optimizer,
        Func<(long, double, ulong?, IReadOnlyDictionary<string, string>)?> open)
    {
        if (group.Rank == 0)
        {
            ExceptionDispatchInfo? failed = null;
            (long, double, ulong?, IReadOnlyDictionary<string, string>)? resumed = null;
            try { resumed = open(); }
            catch (Exception ex) { failed = ExceptionDispatchInfo.Capture(ex); }
            Share(group, Pack(failed?.SourceException, resumed, optimizer));
            failed?.Throw();
            return resumed;
        }
        using var stream = new MemoryStream(Share(group, []));
        var meta = SafeTensors.LoadMetadata(stream);
        stream.Position = 0;
        var tensors = SafeTensors.Load(stream);
        try
        {
            if (meta.TryGetValue(Error, out var message))
                throw new TrainingException($"rank 0: {message}", Enum.Parse<TrainingProblem>(meta[Problem]));
            if (!meta.TryGetValue(Step, out var step)) return null;
            optimizer.LoadStateDict(tensors);
            var extra = meta.Where(m => m.Key.StartsWith(Extra, StringComparison.Ordinal)).ToDictionary(m => m.Key[Extra.Length..], m => m.Value);
            return (long.Parse(step, CultureInfo.InvariantCulture), double.Parse(meta[Seconds], CultureInfo.InvariantCulture),
                meta.TryGetValue(Seed, out var seed) ? ulong.Parse(seed, CultureInfo.InvariantCulture) : null, extra);
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    private static byte[] Pack(Exception? error, (long Step, double Seconds, ulong? Seed, IReadOnlyDictionary<string, string> Extra)? resumed, Optimizer optimizer)
    {
        var meta = new Dictionary<string, string>();
        IReadOnlyDictionary<string, Tensor> state = new Dictionary<string, Tensor>();
        if (error is not null)
        {
            meta[Error] = error.Message;
            meta[Problem] = (error is TrainingException te ? te.Problem : TrainingProblem.CannotResume).ToString();
        }
        else if (resumed is var (step, seconds, seed, extra))
        {
            meta[Step] = step.ToString(CultureInfo.InvariantCulture);
            meta[Seconds] = seconds.ToString("R", CultureInfo.InvariantCulture);
            if (seed is ulong s) meta[Seed] = s.ToString(CultureInfo.InvariantCulture);
            foreach (var (k, v) in extra) meta[Extra + k] = v;
            state = optimizer.StateDict();
        }
        var stream = new MemoryStream();
        try { SafeTensors.Save(stream, state, meta); }
        finally { if (resumed is not null) foreach (var t in state.Values) t.Dispose(); }
        return stream.ToArray();
    }

    /// <summary>Rank 0's bytes on every rank: their length, then the bytes.</summary>
    private static byte[] Share(ICollectives group, byte[] mine)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, mine.LongLength);
        group.Broadcast(length, root: 0);
        var data = group.Rank == 0 ? mine : new byte[BinaryPrimitives.ReadInt64LittleEndian(length)];
        group.Broadcast(data, root: 0);
        return data;
    }
}
