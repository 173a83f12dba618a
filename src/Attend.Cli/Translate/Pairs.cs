using System.Text;

namespace Attend.Cli.Translate;

/// <summary>One source⟶target sentence pair.</summary>
public readonly record struct Pair(string Source, string Target);

/// <summary>
/// Sentence pairs from a TSV file: one "source&lt;TAB&gt;target" pair per line (Tatoeba, Europarl and the apertium demo
/// corpus all fit; extra columns after the second are ignored). Blank lines are skipped; a line without a tab or with an
/// empty side is an error naming its line number. The held-out test split is 1,000 pairs (a tenth of smaller files)
/// chosen by a fixed shuffle, so every run and every model sees the same test sentences.
/// </summary>
public static class Pairs
{
    public const string DemoPath = "data/translate/eng-spa.tsv";
    public const string MakeCommand = "data/translate/make_eng_spa.sh";
    public const int TestSize = 1000;
    const int SplitSeed = 20261124;

    /// <exception cref="CliException">missing, unreadable or empty file, or a malformed line.</exception>
    public static List<Pair> Load(string path)
    {
        if (Directory.Exists(path)) throw new CliException($"data file '{path}' is a folder, not a file");
        if (!File.Exists(path))
        {
            string hint = Path.GetFileName(path) == Path.GetFileName(DemoPath)
                ? $"; make the demo English→Spanish corpus with: {MakeCommand}   (needs: sudo apt-get install -y apertium-eng-spa)" : "";
            throw new CliException($"data file '{path}' does not exist{hint}");
        }
        string[] lines;
        try { lines = File.ReadAllLines(path, Encoding.UTF8); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"data file '{path}' could not be read: {ex.Message}");
        }
        return Parse(lines, path);
    }

    /// <summary>Parses TSV lines; <paramref name="name"/> is used in error messages.</summary>
    public static List<Pair> Parse(IReadOnlyList<string> lines, string name)
    {
        var pairs = new List<Pair>();
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            var cols = line.Split('\t');
            if (cols.Length < 2) throw new CliException($"{name}:{i + 1}: expected 'source<TAB>target', found no tab");
            string s = cols[0].Trim(), t = cols[1].Trim();
            if (s.Length == 0 || t.Length == 0)
                throw new CliException($"{name}:{i + 1}: the {(s.Length == 0 ? "source" : "target")} side is empty");
            pairs.Add(new Pair(s, t));
        }
        if (pairs.Count == 0) throw new CliException($"data file '{name}' has no sentence pairs");
        return pairs;
    }

    /// <summary>Splits into (train, test): the test set is <see cref="TestSize"/> pairs, or a tenth when there are fewer than
    /// 10,000, picked by a fixed shuffle of the line order.</summary>
    public static (List<Pair> Train, List<Pair> Test) Split(IReadOnlyList<Pair> pairs)
    {
        if (pairs.Count < 10) throw new CliException($"need at least 10 sentence pairs, the data has {pairs.Count}");
        int nTest = Math.Min(TestSize, pairs.Count / 10);
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        new Random(SplitSeed).Shuffle(order);
        var test = order.Take(nTest).Order().Select(i => pairs[i]).ToList();
        var train = order.Skip(nTest).Order().Select(i => pairs[i]).ToList();
        return (train, test);
    }
}
