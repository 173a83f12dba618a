namespace Attend.Cli;

/// <summary>The data files that ship with attend (data/kjv/kjv.txt.gz, data/digits/digits.csv.gz).</summary>
public static class ShippedData
{
    /// <summary>The King James Bible: one verse per line, each book headed by a line "# Name".</summary>
    public static string Kjv => Find(Path.Combine("data", "kjv", "kjv.txt.gz"));

    /// <summary><paramref name="relative"/> next to the program (copied at build), else found upward from it (a source
    /// checkout); the path next to the program when it is nowhere.</summary>
    public static string Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        return Path.Combine(AppContext.BaseDirectory, relative);
    }
}
