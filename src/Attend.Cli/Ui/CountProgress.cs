using System.Diagnostics;
using Spectre.Console;

namespace Attend.Cli.Ui;

/// <summary>
/// The progress of a job counted in items (texts embedded): on a terminal, a Spectre.Console bar with the count,
/// percentage, elapsed time and ETA, on the stream the job logs to (stdout or stderr); anywhere else (redirected
/// output, CI, tests) a plain line every <see cref="LineSeconds"/> seconds and at the end, with the rate and the ETA.
/// The job reports the items done and the fraction of its work done, which need not be proportional (texts sorted by
/// length: the last are the slowest); percentage and ETA follow the work, ETA = elapsed · (1 − f) / f.
/// </summary>
public static class CountProgress
{
    public const double LineSeconds = 5;

    /// <summary>Runs <paramref name="body"/>, which reports the number of <paramref name="items"/> done so far and the
    /// fraction of the work done (0…1) to the action it is given, under a bar titled <paramref name="title"/> (or none,
    /// see the type).</summary>
    public static T Run<T>(TextWriter log, string title, int total, string items, Func<Action<int, double>, T> body)
    {
        var clock = Stopwatch.StartNew();
        string Status(int done, double f)
        {
            double secs = clock.Elapsed.TotalSeconds, rate = secs > 0 ? done / secs : 0;
            string eta = f > 0 && f < 1 ? $", ETA {TimeSpan.FromSeconds(secs * (1 - f) / f):m\\:ss}" : "";
            return $"{done:N0}/{total:N0} {items} ({100 * f:F0}%), {rate:F0}/s{eta}";
        }
        if (Console(log) is not { } console)
        {
            double last = 0;
            var result = body((done, f) =>
            {
                if (done < total && clock.Elapsed.TotalSeconds - last < LineSeconds) return;
                last = clock.Elapsed.TotalSeconds;
                log.WriteLine($"  {title}: {Status(done, Math.Clamp(f, 0, 1))}");
            });
            return result;
        }
        return Terminal.Bar(console).Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: 1000);
                var result = body((done, f) =>
                {
                    task.Value = 1000 * Math.Clamp(f, 0, 1);
                    task.Description = Markup.Escape($"{title}: {done:N0}/{total:N0} {items}");
                });
                task.StopTask();
                return result;
            });
    }

    /// <summary>A Spectre console for <paramref name="log"/> when it is stdout or stderr and that is an interactive terminal; else null.</summary>
    static IAnsiConsole? Console(TextWriter log)
    {
        if (ReferenceEquals(log, System.Console.Out)) return Terminal.IsInteractive(log) ? AnsiConsole.Console : null;
        if (!ReferenceEquals(log, System.Console.Error) || System.Console.IsErrorRedirected) return null;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });
        return console.Profile.Capabilities.Interactive ? console : null;
    }
}
