using System.Globalization;
using System.Text.RegularExpressions;

namespace Attend.Cli.Tests;

/// <summary>
/// The checker of the guide's pages (docs/learn). A page quotes its program's output in fenced blocks marked by a
/// comment on the line before, <c>&lt;!-- output --&gt;</c>, optionally with a tolerance: <c>&lt;!-- output rel=0.1 abs=0.01 --&gt;</c>.
/// A quoted block must appear in the program's output as consecutive lines (a line <c>...</c> skips any number of
/// output lines). Lines are compared token by token: text exactly (runs of spaces count as one), numbers within
/// <c>abs + rel·|quoted| + one unit of the quoted number's last printed digit</c> (the last term absorbs rounding on
/// another CPU; a timing or a trained figure gets its own rel). Links from a page to source files must resolve, and a
/// code-span link text such as <c>`Functional.ScaledDotProductAttention`</c> must name symbols declared in that file.
/// </summary>
public static partial class LessonCheck
{
    /// <summary>One marked block: the page line of its marker, its tolerances and its lines.</summary>
    public sealed record Quote(int Line, double Rel, double Abs, string[] Lines);

    [GeneratedRegex(@"^<!--\s*output(?<args>[^>]*)-->\s*$")] private static partial Regex Marker();
    [GeneratedRegex(@"(?<k>rel|abs)=(?<v>[0-9.eE+-]+)")] private static partial Regex Tolerance();
    [GeneratedRegex(@"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")] private static partial Regex Number();
    [GeneratedRegex(@"(?<!!)\[(?<text>[^\]]*)\]\((?<target>[^)\s]+)\)")] private static partial Regex Link();
    [GeneratedRegex(@"!\[.*?\]\((?<target>[^)\s]+)\)")] private static partial Regex Image();

    public static IReadOnlyList<Quote> Quotes(string markdown)
    {
        var lines = markdown.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var quotes = new List<Quote>();
        for (int i = 0; i < lines.Length; i++)
        {
            var m = Marker().Match(lines[i].Trim());
            if (!m.Success) continue;
            if (i + 1 >= lines.Length || !lines[i + 1].TrimStart().StartsWith("```", StringComparison.Ordinal))
                throw new FormatException($"line {i + 1}: an output marker must be followed by a fenced block");
            double rel = 0, abs = 0;
            foreach (Match t in Tolerance().Matches(m.Groups["args"].Value))
                (t.Groups["k"].Value == "rel" ? ref rel : ref abs) = double.Parse(t.Groups["v"].Value, CultureInfo.InvariantCulture);
            int end = Array.FindIndex(lines, i + 2, l => l.TrimStart().StartsWith("```", StringComparison.Ordinal));
            if (end < 0) throw new FormatException($"line {i + 2}: the quoted block is not closed");
            quotes.Add(new Quote(i + 1, rel, abs, lines[(i + 2)..end]));
            i = end;
        }
        return quotes;
    }

    /// <summary>The files of the page's pictures under img/ (as named there, relative to img/).</summary>
    public static List<string> Pictures(string markdown) => Image().Matches(markdown)
        .Select(m => Regex.Match(m.Groups["target"].Value, @"^(?:\.\./)?img/(?<f>.+)$")).Where(m => m.Success).Select(m => m.Groups["f"].Value).ToList();

    /// <summary>Every way the page's quoted blocks differ from <paramref name="output"/> (empty: all reproduced).</summary>
    public static List<string> CheckOutput(string markdown, string output)
    {
        var outLines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var errors = new List<string>();
        foreach (var q in Quotes(markdown))
        {
            int from = 0;
            foreach (var segment in Segments(q.Lines))
            {
                int at = -1;
                for (int s = from; s + segment.Length <= outLines.Length && at < 0; s++)
                    if (segment.Select((l, k) => Same(l, outLines[s + k], q) is null).All(ok => ok)) at = s;
                if (at >= 0) { from = at + segment.Length; continue; }
                errors.Add($"quote at line {q.Line}: not reproduced; {Nearest(segment, outLines, from, q)}");
                break;
            }
        }
        return errors;
    }

    /// <summary>Links of the page that do not resolve, and code-span link texts naming symbols their file does not declare.</summary>
    public static List<string> CheckReferences(string pagePath, string markdown)
    {
        var errors = new List<string>();
        var dir = Path.GetDirectoryName(Path.GetFullPath(pagePath))!;
        foreach (Match m in Link().Matches(markdown).Concat(Image().Matches(markdown)))
        {
            var target = m.Groups["target"].Value;
            if (target.StartsWith("http", StringComparison.Ordinal) || target.StartsWith('#')) continue;
            var path = Path.GetFullPath(Path.Combine(dir, target.Split('#')[0]));
            if (!File.Exists(path) && !Directory.Exists(path)) { errors.Add($"link {target}: no such file"); continue; }
            var text = m.Groups["text"].Success ? m.Groups["text"].Value.Trim() : "";
            if (path.EndsWith(".cs", StringComparison.Ordinal) && text.StartsWith('`') && text.EndsWith('`'))
            {
                var source = File.ReadAllText(path);
                foreach (var name in text.Trim('`').Split('.'))
                    if (!Declares(source, name)) errors.Add($"link {target}: `{name}` is not declared there");
            }
        }
        return errors;
    }

    /// <summary>Whether C# source declares <paramref name="name"/>: a type, a method, a property, a field or a record parameter.</summary>
    public static bool Declares(string source, string name)
    {
        var n = Regex.Escape(name);
        return Regex.IsMatch(source, $@"\b(class|struct|record|interface|enum)\s+{n}\b")
            || Regex.IsMatch(source, $@"[\w>\])?]\s+{n}\s*(<[^<>()]*>)?\s*\(")         // a method or local function: "Tensor Name(", "(T A, U B) Name("
            || Regex.IsMatch(source, $@"[\w>\])?]\s+{n}\s*(\{{|=>|=|;|,|\))");          // a property, field or parameter
    }

    private static IEnumerable<string[]> Segments(string[] lines)
    {
        var cur = new List<string>();
        foreach (var l in lines)
        {
            if (l.Trim() == "...") { if (cur.Count > 0) yield return cur.ToArray(); cur.Clear(); }
            else cur.Add(l);
        }
        if (cur.Count > 0) yield return cur.ToArray();
    }

    /// <summary>Null when the output line reproduces the quoted line, else why not.</summary>
    private static string? Same(string quoted, string actual, Quote q)
    {
        var (qt, qn) = Split(quoted); var (at, an) = Split(actual);
        if (qn.Count != an.Count || !qt.SequenceEqual(at)) return "text differs";
        for (int i = 0; i < qn.Count; i++)
        {
            var (v, unit, _) = qn[i];
            double tol = q.Abs + q.Rel * Math.Abs(v) + unit * 1.0001;
            if (Math.Abs(an[i].Value - v) > tol) return $"{an[i].Text} where the page says {qn[i].Text} (allowed ±{tol:G3})";
        }
        return null;
    }

    private static (List<string> Text, List<(double Value, double Unit, string Text)> Numbers) Split(string line)
    {
        var text = new List<string>(); var nums = new List<(double, double, string)>();
        int last = 0;
        foreach (Match m in Number().Matches(line))
        {
            text.Add(Collapse(line[last..m.Index]));
            var s = m.Value.Replace(",", "");
            int e = s.IndexOfAny(['e', 'E']), dot = s.IndexOf('.');
            int decimals = dot < 0 ? 0 : (e < 0 ? s.Length : e) - dot - 1;
            double exp = e < 0 ? 0 : double.Parse(s[(e + 1)..], CultureInfo.InvariantCulture);
            nums.Add((double.Parse(s, CultureInfo.InvariantCulture), Math.Pow(10, exp - decimals), m.Value));
            last = m.Index + m.Length;
        }
        text.Add(Collapse(line[last..]));
        return (text, nums);
    }

    private static string Collapse(string s) => Regex.Replace(s, @"\s+", " ").Trim();

    // The window of output lines that reads like the quote (same text, numbers aside) with the most lines reproduced,
    // to say which figure changed.
    private static string Nearest(string[] segment, string[] outLines, int from, Quote q)
    {
        string? best = null; int bestOk = -1;
        for (int s = from; s + segment.Length <= outLines.Length; s++)
        {
            if (!segment.Select((l, k) => Split(l).Text.SequenceEqual(Split(outLines[s + k]).Text)).All(b => b)) continue;
            var why = segment.Select((l, k) => (Line: l, Why: Same(l, outLines[s + k], q))).ToArray();
            int ok = why.Count(w => w.Why is null);
            if (ok > bestOk) (bestOk, best) = (ok, why.Where(w => w.Why is not null).Select(w => $"\"{w.Line.Trim()}\": the program printed {w.Why}").First());
        }
        return best ?? $"no output lines read like \"{segment[0].Trim()}\"";
    }
}
