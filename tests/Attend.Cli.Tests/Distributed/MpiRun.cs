using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Attend.Cli.Tests;

/// <summary>`mpirun -np K dotnet Attend.Cli.dll …` (Open MPI, as root: --allow-run-as-root --oversubscribe), or any script
/// around it, run as a real process: exit code, output, elapsed time, and the ranks' process ids (each run carries a
/// marker variable, exported to the ranks with -x, so that its ranks can be found in /proc).</summary>
public sealed class MpiRun : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly string marker = Guid.NewGuid().ToString("N");

    /// <summary>mpirun with <paramref name="ranks"/> ranks of `attend <paramref name="args"/>`, one kernel thread each.</summary>
    public static MpiRun Attend(int ranks, params string[] args) =>
        new("mpirun", ["--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(CultureInfo.InvariantCulture), "-x", "TERM=dumb",
            "-x", "ATTEND_NUM_THREADS=1", "-x", "ATTEND_TEST_RUN", Dotnet, CliProcess.CliDll, .. args]);

    /// <summary>tools/mpi/two-hosts.sh with `attend <paramref name="args"/>`.</summary>
    public static MpiRun TwoHosts(params string[] args) => new(Path.Combine(RepoRoot, "tools", "mpi", "two-hosts.sh"), args);

    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "/usr/bin/dotnet";

    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(Path.GetDirectoryName(CliProcess.CliDll)!); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Attend.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("no Attend.slnx above the CLI build");
    }

    private MpiRun(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["ATTEND_TEST_RUN"] = marker;
        psi.Environment["ATTEND_CLI"] = CliProcess.CliDll;
        psi.Environment["TERM"] = "dumb";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>stdout and stderr of mpirun (which forwards the ranks'), interleaved as they came.</summary>
    public string Output { get { lock (output) return output.ToString(); } }
    public TimeSpan Elapsed => clock.Elapsed;
    /// <summary>mpirun's (or the script's) process id.</summary>
    public int ProcessId => process.Id;

    public int Wait(double seconds = 180)
    {
        if (!process.WaitForExit(TimeSpan.FromSeconds(seconds)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mpirun ran past {seconds} s; output:\n{Output}");
        }
        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>The process id of rank <paramref name="rank"/> of this run (throws after <paramref name="seconds"/>).</summary>
    public int RankPid(int rank, double seconds = 60)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
                string env;
                try { env = File.ReadAllText(Path.Combine(dir, "environ")); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                if (env.Contains($"ATTEND_TEST_RUN={marker}\0", StringComparison.Ordinal) && env.Contains($"\0OMPI_COMM_WORLD_RANK={rank}\0", StringComparison.Ordinal))
                    return pid;
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException($"no rank {rank} after {seconds} s; output:\n{Output}");
    }

    /// <summary>Waits until the loss file has a line for step <paramref name="step"/>.</summary>
    public void WaitForStep(string lossFile, int step, double seconds = 120)
    {
        var sw = Stopwatch.StartNew();
        while (!(File.Exists(lossFile) && ReadLosses(lossFile).ContainsKey(step)))
        {
            if (process.HasExited) throw new InvalidOperationException($"mpirun ended (exit {process.ExitCode}) before step {step}; output:\n{Output}");
            if (sw.Elapsed.TotalSeconds > seconds) throw new TimeoutException($"no step {step} after {seconds} s; output:\n{Output}");
            Thread.Sleep(20);
        }
    }

    /// <summary>A --loss-file: step → loss (a later line for the same step wins, as after a resume).</summary>
    public static Dictionary<int, double> ReadLosses(string path)
    {
        var d = new Dictionary<int, double>();
        foreach (var line in File.ReadAllLines(path))
        {
            var parts = line.Split('\t');
            if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int s) && double.TryParse(parts[1], CultureInfo.InvariantCulture, out double l))
                d[s] = l;
        }
        return d;
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
