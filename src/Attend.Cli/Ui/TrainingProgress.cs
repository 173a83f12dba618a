using System.Diagnostics;
using Spectre.Console;

namespace Attend.Cli.Ui;

/// <summary>
/// The progress of one long job. On an interactive terminal: a Spectre.Console bar with the job's status (loss, tokens/s…),
/// percentage, elapsed time and ETA, redrawn a few times a second, with the job's log lines printed above it. Anywhere else
/// (redirected output, CI, tests) there is no bar: the log lines are written as they come, and each job puts
/// <see cref="Eta"/> into its periodic line so a log file tells the same story.
/// The fraction done is the job's own measure (steps, or time for a time-boxed run): ETA = elapsed · (1 − f) / f,
/// counted from the first <see cref="Update"/> so that a resumed run's estimate is not skewed by the steps it skipped.
/// </summary>
public sealed class TrainingProgress
{
    private readonly TextWriter log;
    private readonly ProgressTask? task;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private double firstFraction = -1, firstSeconds;

    private TrainingProgress(TextWriter log, ProgressTask? task) => (this.log, this.task) = (log, task);

    /// <summary>Runs <paramref name="body"/> under a progress bar titled <paramref name="title"/> (or none, see the class).</summary>
    public static T Run<T>(TextWriter log, string title, Func<TrainingProgress, T> body)
    {
        if (!Terminal.IsInteractive(log)) return body(new TrainingProgress(log, null));
        return Terminal.Bar(AnsiConsole.Console).Start(ctx =>
            {
                var t = ctx.AddTask(Markup.Escape(title), maxValue: 1000);
                var p = new TrainingProgress(log, t);
                var result = body(p);
                t.StopTask();
                return result;
            });
    }

    /// <summary>The fraction done (0…1) and a short status such as "loss 1.234  12.3k tok/s".</summary>
    public void Update(double fraction, string status)
    {
        fraction = Math.Clamp(fraction, 0, 1);
        if (firstFraction < 0) (firstFraction, firstSeconds) = (fraction, clock.Elapsed.TotalSeconds);
        Fraction = fraction;
        if (task is null) return;
        task.Value = fraction * 1000;
        task.Description = Markup.Escape(status);
    }

    /// <summary>The last fraction given to <see cref="Update"/>.</summary>
    public double Fraction { get; private set; }

    /// <summary>"ETA 3:41" from the progress since the first update ("ETA ?" before there is any).</summary>
    public string Eta
    {
        get
        {
            double done = Fraction - Math.Max(firstFraction, 0), secs = clock.Elapsed.TotalSeconds - firstSeconds;
            if (firstFraction < 0 || done <= 0 || secs <= 0) return "ETA ?";
            var left = TimeSpan.FromSeconds(secs * (1 - Fraction) / done);
            return "ETA " + (left.TotalHours >= 1 ? $"{(int)left.TotalHours}:{left:mm\\:ss}" : $"{left:m\\:ss}");
        }
    }

    /// <summary>A line of the job's log: above the bar on a terminal, as is elsewhere.</summary>
    public void Line(string text)
    {
        if (task is null) log.WriteLine(text);
        else AnsiConsole.MarkupLine(Markup.Escape(text));
    }
}
