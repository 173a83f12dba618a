using Spectre.Console;

namespace Attend.Cli.Ui;

/// <summary>Where the CLI's text goes: the real terminal (colours, live progress bars) or any other writer (tests, redirected
/// output, CI), which gets the same tables and lines in plain text.</summary>
public static class Terminal
{
    /// <summary>True when <paramref name="log"/> is the process's stdout and that is an interactive terminal.</summary>
    public static bool IsInteractive(TextWriter log) =>
        ReferenceEquals(log, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>A Spectre console writing to <paramref name="log"/>: the real one for stdout, a plain (no colour, no cursor
    /// movement, 120 columns) one for anything else.</summary>
    public static IAnsiConsole For(TextWriter log)
    {
        if (ReferenceEquals(log, Console.Out)) return AnsiConsole.Console;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(log),
        });
        console.Profile.Width = 120;
        return console;
    }

    /// <summary>The progress bar every long job shows on a terminal: description, bar, percentage, elapsed time, ETA; kept
    /// on screen when done.</summary>
    public static Progress Bar(IAnsiConsole console) => console.Progress()
        .AutoClear(false).HideCompleted(false)
        .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                 new ElapsedTimeColumn(), new RemainingTimeColumn());

    /// <summary>Writes <paramref name="table"/> to <paramref name="log"/> (rounded borders on a terminal, ASCII elsewhere).</summary>
    public static void Write(TextWriter log, Table table)
    {
        if (!ReferenceEquals(log, Console.Out) || !AnsiConsole.Profile.Capabilities.Unicode) table.Border(TableBorder.Ascii2);
        For(log).Write(table);
    }

    /// <summary>A table with these column headers, right-aligning the ones that start with '>'.</summary>
    public static Table Table(params string[] headers)
    {
        var t = new Table();
        foreach (var h in headers)
            t.AddColumn(h.StartsWith('>') ? new TableColumn(Markup.Escape(h[1..])).RightAligned() : new TableColumn(Markup.Escape(h)));
        return t;
    }

    /// <summary>Adds a row of plain strings (escaped, so '[' in data is safe).</summary>
    public static Table Row(this Table t, params string[] cells)
    {
        t.AddRow(cells.Select(Markup.Escape).ToArray());
        return t;
    }
}
