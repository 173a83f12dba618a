namespace Attend.Cli.Translate;

/// <summary>Character ids for one side of the pairs: 0 padding, 1 BOS, 2 EOS, 3 unknown, then the characters seen in the
/// training sentences, sorted by code unit (so ids are stable for a given training set).</summary>
public sealed class Vocab
{
    public const int Pad = 0, Bos = 1, Eos = 2, Unk = 3, Specials = 4;
    private readonly Dictionary<char, int> ids;

    /// <summary>The characters, id <see cref="Specials"/> onward.</summary>
    public string Chars { get; }
    public int Size => Specials + Chars.Length;

    public Vocab(string chars)
    {
        Chars = chars;
        ids = chars.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i + Specials);
    }

    public static Vocab FromTexts(IEnumerable<string> texts) => new(new string(texts.SelectMany(t => t).Distinct().Order().ToArray()));

    public long Id(char c) => ids.TryGetValue(c, out int id) ? id : Unk;

    /// <summary>Characters of the ids up to the first EOS; padding and BOS are skipped, unknown shows as '?'.</summary>
    public string Decode(IEnumerable<long> tokens)
    {
        var chars = new List<char>();
        foreach (long t in tokens)
        {
            if (t == Eos) break;
            if (t >= Specials && t < Size) chars.Add(Chars[(int)t - Specials]);
            else if (t == Unk) chars.Add('?');
        }
        return new string(chars.ToArray());
    }
}
