using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Cli.Tests;

/// <summary>
/// The guide (docs/learn): every lesson program runs (`dotnet run -c Release docs/learn/NN-name.cs`, as a reader runs
/// it), its English and Chinese pages quote what it printed (<see cref="LessonCheck"/>), every picture a page shows is
/// one the run drew, and every source file and symbol the pages point at exists. Serial: each run builds the lesson
/// against src/Attend (and src/Attend.Cli for lessons 11–13).
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LessonTests(ITestOutputHelper output)
{
    private static readonly string Root = FindRoot();
    private static readonly string Learn = Path.Combine(Root, "docs", "learn");

    public static TheoryData<string> Lessons()
    {
        var data = new TheoryData<string>();
        foreach (var name in Names()) data.Add(name);
        return data;
    }

    /// <summary>The lesson programs, NN-name, in order.</summary>
    private static string[] Names() => Directory.GetFiles(Learn, "*.cs").Select(Path.GetFileNameWithoutExtension)
        .Where(n => System.Text.RegularExpressions.Regex.IsMatch(n!, @"^\d\d-")).Order().ToArray()!;

    [Theory]
    [MemberData(nameof(Lessons))]
    public void Lesson_runs_and_its_pages_quote_what_it_prints(string lesson)
    {
        var img = Directory.CreateTempSubdirectory("attend-learn-");
        try
        {
            var sw = Stopwatch.StartNew();
            var (code, stdout, stderr) = Run(Path.Combine("docs", "learn", lesson + ".cs"), img.FullName, TimeSpan.FromMinutes(4));
            output.WriteLine($"{lesson}: exit {code}, {sw.Elapsed.TotalSeconds:F1} s with the build\n{stdout}{stderr}");
            Assert.True(code == 0, $"{lesson} exited with {code}:\n{stderr}");
            var errors = new List<string>();
            foreach (var page in new[] { Path.Combine(Learn, lesson + ".md"), Path.Combine(Learn, "zh", lesson + ".md") })
            {
                if (!File.Exists(page)) { errors.Add($"{page}: missing"); continue; }
                var md = File.ReadAllText(page);
                string name = Path.GetRelativePath(Root, page);
                if (LessonCheck.Quotes(md).Count == 0) errors.Add($"{name}: quotes no output");
                errors.AddRange(LessonCheck.CheckOutput(md, stdout).Select(e => $"{name}: {e}"));
                errors.AddRange(LessonCheck.CheckReferences(page, md).Select(e => $"{name}: {e}"));
                var pictures = LessonCheck.Pictures(md);
                if (pictures.Count == 0) errors.Add($"{name}: shows no picture");
                errors.AddRange(pictures.Where(p => !File.Exists(Path.Combine(img.FullName, p))).Select(p => $"{name}: img/{p} is not drawn by {lesson}.cs"));
            }
            Assert.True(errors.Count == 0, string.Join("\n", errors));
        }
        finally { img.Delete(recursive: true); }
    }

    [Fact]
    public void Index_lists_every_lesson_in_order_in_both_languages()
    {
        foreach (var index in new[] { Path.Combine(Learn, "README.md"), Path.Combine(Learn, "zh", "README.md") })
        {
            var md = File.ReadAllText(index);
            var positions = Names().Select(l => md.IndexOf($"({l}.md)", StringComparison.Ordinal)).ToArray();
            Assert.NotEmpty(positions);
            Assert.All(positions, p => Assert.True(p >= 0, $"{index} does not link every lesson"));
            Assert.Equal(positions.Order(), positions);
            Assert.Empty(LessonCheck.CheckReferences(index, md));
        }
    }

    private static (int Code, string Stdout, string Stderr) Run(string file, string imgDir, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Root,
        };
        foreach (var a in new[] { "run", "-c", "Release", file }) psi.ArgumentList.Add(a);
        psi.Environment["ATTEND_LEARN_IMG"] = imgDir;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync(); var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} ran past {limit.TotalMinutes} minutes"); }
        return (p.ExitCode, so.Result, se.Result);
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "docs", "learn")) && File.Exists(Path.Combine(d.FullName, "README.md"))) return d.FullName;
        throw new DirectoryNotFoundException($"no docs/learn above {AppContext.BaseDirectory}");
    }
}
