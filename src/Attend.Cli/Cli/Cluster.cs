using System.Globalization;
using Attend.Distributed;
using Attend.Training;

namespace Attend.Cli;

/// <summary>
/// <c>mpirun -np K attend train …</c>: every rank runs the same command; this joins them into one data-parallel run.
/// Rank 0 prints and writes checkpoints, the others are silent; each rank uses cores / ranks-on-this-machine threads
/// unless <c>ATTEND_NUM_THREADS</c> says otherwise. Without mpirun nothing here loads MPI.
/// </summary>
public static class Cluster
{
    /// <summary>The ranks of this job (null: not started by mpirun).</summary>
    public static MpiCollectives? World { get; private set; }
    /// <summary>The ranks to train with (null for one process).</summary>
    public static ICollectives? Collectives => World is { Size: > 1 } w ? w : null;
    /// <summary>True on the rank that prints: rank 0, or the only process.</summary>
    public static bool IsMain => World is null || World.Rank == 0;
    /// <summary>The steps finished (for the messages when a run is ended), -1 until training starts.</summary>
    public static long Step = -1;
    /// <summary>The run's checkpoint folder, once training has started, and the step of its last complete checkpoint.</summary>
    public static string? CheckpointDir;
    public static long? SavedStep;

    /// <summary>Under mpirun, joins the job (MPI_Init) for <c>attend train …</c>; any other command is refused (exit 2).
    /// Null: go on.</summary>
    public static int? Join(string[] args)
    {
        if (!MpiCollectives.UnderMpirun)
        {
            // MPICH's, Intel MPI's and Slurm's launchers set PMI_RANK/PMI_SIZE: each process would train alone
            if (Environment.GetEnvironmentVariable("PMI_SIZE") is not { } size || size == "1") return null;
            if (Environment.GetEnvironmentVariable("PMI_RANK") is "0" or null)
                Console.Error.WriteLine($"error: started by an MPI launcher that is not Open MPI's mpirun (PMI_SIZE={size}); attend binds Open MPI only (docs/distributed.md)");
            return 2;
        }
        if (args.Length == 0 || args[0] != "train" || args.Contains("--help") || args.Contains("-h"))
        {
            if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is "0" or null)
                Console.Error.WriteLine("error: under mpirun only 'attend train …' runs (data-parallel); run other commands without mpirun");
            return 2;
        }
        try { World = MpiCollectives.Start(); }
        catch (DllNotFoundException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
        string? note = null;
        if (Environment.GetEnvironmentVariable("ATTEND_NUM_THREADS") is null)
        {
            var (threads, bound) = ThreadsPerRank(World.LocalSize);
            Tensor.SetNumThreads(threads);
            note = bound;
        }
        if (!IsMain) Console.SetOut(TextWriter.Null);
        else if (World.Size > 1)
            Console.WriteLine($"Data-parallel: {World.Size} ranks ({World.LocalSize} on this machine, {Tensor.GetNumThreads()} thread{(Tensor.GetNumThreads() == 1 ? "" : "s")} each), {World.Version}.");
        if (IsMain && note is not null) Console.Error.WriteLine(note);
        return null;
    }

    /// <summary>
    /// Threads for one rank: the machine's cores shared among its ranks (cores / ranks-on-this-machine, within the
    /// process's CPU quota) — unless mpirun bound the rank to fewer cores (its default binds each rank to one core for
    /// -np ≤ 2), when the rank uses the cores it was given, and a note says how to give it its share.
    /// </summary>
    public static (int Threads, string? Note) ThreadsPerRank(int localSize)
    {
        int online = CountCpus(ReadFirst("/sys/devices/system/cpu/online")) ?? Environment.ProcessorCount;
        int allowed = CountCpus(ReadFirst("/proc/self/status", "Cpus_allowed_list:")) ?? online;
        if (allowed >= online) return (Math.Max(1, Environment.ProcessorCount / localSize), null);   // ProcessorCount: within the CPU quota
        int share = Math.Max(1, online / localSize);
        return (allowed, allowed >= share ? null
            : $"note: mpirun bound this rank to {allowed} of {online} cores, so it uses {allowed} thread{(allowed == 1 ? "" : "s")}; " +
              $"give mpirun --bind-to none (or --map-by slot:PE={share}) to let {(localSize == 1 ? "it" : $"each of the {localSize} ranks here")} use {share}");
    }

    /// <summary>The first line of <paramref name="path"/> (or its first line starting with <paramref name="key"/>, after the key); null if unreadable.</summary>
    static string? ReadFirst(string path, string? key = null)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
                if (key is null) return line;
                else if (line.StartsWith(key, StringComparison.Ordinal)) return line[key.Length..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>How many CPUs a Linux CPU list names ("0-3,8,10-11" → 7); null if it is not one.</summary>
    public static int? CountCpus(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return null;
        int n = 0;
        foreach (var part in list.Trim().Split(','))
        {
            var ends = part.Split('-');
            if (!int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int lo)) return null;
            int hi = lo;
            if (ends.Length == 2 && !int.TryParse(ends[1], NumberStyles.None, CultureInfo.InvariantCulture, out hi)) return null;
            if (ends.Length > 2 || hi < lo) return null;
            n += hi - lo + 1;
        }
        return n;
    }

    /// <summary>Throws unless the global <paramref name="batch"/> splits evenly over the ranks; returns it.</summary>
    public static int CheckBatch(int batch) => Collectives is { } c && batch % c.Size != 0
        ? throw new CliException($"--batch {batch} must be a multiple of the {c.Size} ranks (it is the global batch, split over them)")
        : batch;

    /// <summary>" (8 per rank)" under mpirun, else "".</summary>
    public static string PerRank(int batch) => Collectives is { } c ? $" ({batch / c.Size} per rank)" : "";

    /// <summary>MPI_Finalize at the end of a run that every rank finished.</summary>
    public static void Leave() => World?.Dispose();

    /// <summary>Ends every rank after an error that only this rank may have met (MPI_Abort): the others would wait for it
    /// in their next collective.</summary>
    public static void Abort(string message, int code) =>
        World!.Abort($"error on rank {World.Rank} of {World.Size} at step {Step + 1}: {message}", code);

    /// <summary>The line rank 0 prints when mpirun ends the job (another rank died, or Ctrl-C reached mpirun).</summary>
    public static string EndedFromOutside() =>
        $"attend: mpirun is ending this {World!.Size}-rank job during step {(Step + 1).ToString(CultureInfo.InvariantCulture)} " +
        "(a rank ended — mpirun names it — or Ctrl-C): if every rank is alive they finish this step and save it" +
        (CheckpointDir is null ? "." : SavedStep is long s
            ? $"; if not, the last complete checkpoint, step {s}, is intact in {CheckpointDir} (continue with --resume)."
            : $"; if not, no checkpoint was written yet in {CheckpointDir}.");
}
