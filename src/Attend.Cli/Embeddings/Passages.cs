using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Attend.Cli.Embeddings;

/// <summary>
/// The passages attend search looks through: one per non-empty line of a text file (gzip when it ends in .gz); lines
/// "# Name" are headings, not passages, and name the section of the lines under them (the KJV's books). Each passage
/// has a place: "Matthew, verse 412" for the KJV (its lines have no chapter numbers: the verse's number within its
/// book), "Section #3" under a heading in another file, "line 17" in a file without headings.
/// </summary>
/// <param name="Name">"kjv" or the file's name.</param>
/// <param name="Sha256">of the file's text (decompressed): the key of the embeddings cache.</param>
public sealed record Passages(string Name, string[] Texts, string[] Places, int Sections, string Sha256)
{
    public const string Kjv = "kjv";

    /// <exception cref="CliException">no such file, not readable, or no passage in it.</exception>
    public static Passages Load(string corpus)
    {
        string path = corpus == Kjv ? ShippedData.Kjv : corpus;
        CliChecks.RequireFile(path, "--corpus file", corpus == Kjv ? " (the King James Bible ships with attend as data/kjv/kjv.txt.gz)" : "");
        string text;
        try
        {
            using var file = File.OpenRead(path);
            using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(s, Encoding.UTF8);
            text = reader.ReadToEnd();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--corpus file '{path}' could not be read: {ex.Message}");
        }
        var p = Parse(corpus == Kjv ? Kjv : Path.GetFileName(path), text, corpus == Kjv ? "verse" : null);
        if (p.Texts.Length == 0) throw new CliException($"--corpus file '{path}' holds no passage (one per non-empty line)");
        return p;
    }

    /// <param name="unit">what a passage under a heading is called ("verse": "Matthew, verse 412"); null: "Section #412".</param>
    public static Passages Parse(string name, string text, string? unit = null)
    {
        string sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        var lines = text.Split('\n');
        var texts = new List<string>();
        var places = new List<string>();
        string? section = null;
        int inSection = 0, sections = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.StartsWith("# ", StringComparison.Ordinal)) { (section, inSection) = (line[2..].Trim(), 0); sections++; continue; }
            if (string.IsNullOrWhiteSpace(line)) continue;
            inSection++;
            texts.Add(line.Trim());
            places.Add(section is null ? $"line {i + 1}" : unit is null ? $"{section} #{inSection}" : $"{section}, {unit} {inSection}");
        }
        return new Passages(name, texts.ToArray(), places.ToArray(), sections, sha);
    }
}
