using System.Diagnostics;
using System.Text;

namespace Attend.Cli.Tests;

/// <summary>The `attend` command run as a real process (`dotnet Attend.Cli.dll …`, the build next to the tests), as a user
/// or CI runs it: exit code, stdout and stderr, with a time limit after which the process is killed and the test fails.</summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder stdout = new(), stderr = new();

    public CliProcess(params string[] args) : this(new Dictionary<string, string>(), args) { }

    /// <summary>The command with extra environment variables (e.g. a library path that does not exist).</summary>
    public CliProcess(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // Through `env --default-signal=INT`: a test run started in the background (nohup, `&` in a script) inherits an
        // ignored SIGINT, which exec keeps, and then the Ctrl-C tests would signal a process that cannot hear it.
        var psi = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add("--default-signal=INT");
        psi.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The CLI's own build output (…/src/Attend.Cli/bin/CONFIG/net10.0/linux-x64/Attend.Cli.dll), where its native
    /// SkiaSharp library sits next to it; the copy in the test folder lacks that layout.</summary>
    public static string CliDll { get; } = FindCli();

    private static string FindCli()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));      // tests/Attend.Cli.Tests/bin/CONFIG/net10.0
        string config = bin.Parent!.Name, tfm = bin.Name;
        for (var d = bin; d is not null; d = d.Parent)
        {
            var dll = Path.Combine(d.FullName, "src", "Attend.Cli", "bin", config, tfm, "linux-x64", "Attend.Cli.dll");
            if (File.Exists(dll)) return dll;
        }
        throw new FileNotFoundException($"no Attend.Cli.dll built for {config}/{tfm} above {AppContext.BaseDirectory}");
    }

    public int Id => process.Id;
    public string Stdout { get { lock (stdout) return stdout.ToString(); } }
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }
    public StreamWriter Stdin => process.StandardInput;

    /// <summary>Runs the command to its end: (exit code, stdout, stderr).</summary>
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var p = new CliProcess(args);
        int exit = p.Wait();
        return (exit, p.Stdout, p.Stderr);
    }

    /// <summary>Waits for the exit (killing the process and throwing after <paramref name="seconds"/>).</summary>
    public int Wait(double seconds = 120)
    {
        if (!process.WaitForExit(TimeSpan.FromSeconds(seconds)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"attend {string.Join(' ', process.StartInfo.ArgumentList.Skip(3))} ran past {seconds} s; stdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        process.WaitForExit();   // flushes the output events
        return process.ExitCode;
    }

    /// <summary>Waits until stdout contains <paramref name="text"/> (throws after <paramref name="seconds"/> or if the process ends first).</summary>
    public void WaitFor(string text, double seconds = 60)
    {
        var sw = Stopwatch.StartNew();
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (process.HasExited) throw new InvalidOperationException($"the process ended (exit {process.ExitCode}) before printing '{text}'; stderr:\n{Stderr}");
            if (sw.Elapsed.TotalSeconds > seconds) throw new TimeoutException($"no '{text}' after {seconds} s; stdout:\n{Stdout}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Sends a POSIX signal (INT as Ctrl-C does, KILL as kill -9).</summary>
    public void Signal(string name) => Signal(name, process.Id);

    /// <summary>Sends a POSIX signal to process <paramref name="pid"/>.</summary>
    public static void Signal(string name, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{name} {pid}") { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
