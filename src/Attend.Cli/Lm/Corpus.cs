using System.IO.Compression;
using System.Text;

namespace Attend.Cli.Lm;

/// <summary>
/// A text corpus split into training and validation text by whole books. Books are marked by lines "# Name" (as in
/// data/kjv/kjv.txt.gz); the validation set is every book from Romans onward when the corpus has a "# Romans" line
/// (for the KJV: the 22 books Romans–Revelation, 8% of the text), otherwise the last tenth of the books. A text with
/// fewer than two books is split at the line nearest 90% of its length.
/// </summary>
public sealed record Corpus(string Name, string Train, string Validation, IReadOnlyList<string> TrainBooks, IReadOnlyList<string> ValidationBooks)
{
    /// <summary>The book from which the validation set starts when present.</summary>
    public const string FirstValidationBook = "Romans";

    /// <summary>The name that stands for the shipped King James Bible.</summary>
    public const string Kjv = "kjv";

    /// <summary>Reads <paramref name="data"/>: the name "kjv", or a path to UTF-8 text (gzip when it ends in .gz).</summary>
    /// <exception cref="CliException">no such file, an unreadable file, or one without text.</exception>
    public static Corpus Load(string data)
    {
        string path = data == Kjv ? KjvPath() : data;
        if (Directory.Exists(path)) throw new CliException($"data file '{path}' is a folder, not a file");
        if (!File.Exists(path)) throw new CliException($"data file '{path}' does not exist");
        string text;
        try
        {
            using var file = File.OpenRead(path);
            using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(s, Encoding.UTF8);
            text = reader.ReadToEnd().Replace("\r\n", "\n");
        }
        catch (InvalidDataException ex) { throw new CliException($"data file '{path}' is not valid gzip: {ex.Message}"); }
        catch (IOException ex) { throw new CliException($"data file '{path}' could not be read: {ex.Message}"); }
        catch (UnauthorizedAccessException ex) { throw new CliException($"data file '{path}' could not be read: {ex.Message}"); }
        if (string.IsNullOrWhiteSpace(text)) throw new CliException($"data file '{path}' is empty");
        return Split(data == Kjv ? Kjv : Path.GetFileName(path), text);
    }

    /// <summary>Splits <paramref name="text"/> by books (see the type's remarks).</summary>
    public static Corpus Split(string name, string text)
    {
        var lines = text.Split('\n');
        var starts = Enumerable.Range(0, lines.Length).Where(i => lines[i].StartsWith("# ", StringComparison.Ordinal)).ToArray();
        if (starts.Length < 2)
        {
            int cut = text.LastIndexOf('\n', Math.Max(0, text.Length * 9 / 10 - 1)) + 1;
            if (cut <= 0 || cut >= text.Length) cut = text.Length * 9 / 10;
            if (cut <= 0 || cut >= text.Length) throw new CliException($"data '{name}' is too short to split into training and validation text");
            return new Corpus(name, text[..cut], text[cut..], [], []);
        }
        var books = starts.Select(i => lines[i][2..].Trim()).ToArray();
        int firstHeld = Array.IndexOf(books, FirstValidationBook);
        if (firstHeld <= 0) firstHeld = Math.Max(1, books.Length - Math.Max(1, books.Length / 10));
        string Join(int from, int to) => string.Join('\n', lines[from..to]) + (to < lines.Length ? "\n" : "");
        // text before the first book marker (a preface) belongs to training
        return new Corpus(name, Join(0, starts[firstHeld]), Join(starts[firstHeld], lines.Length), books[..firstHeld], books[firstHeld..]);
    }

    /// <summary>data/kjv/kjv.txt.gz next to the program (copied at build), else found upward from it (a source checkout).</summary>
    static string KjvPath() => ShippedData.Kjv;
}

