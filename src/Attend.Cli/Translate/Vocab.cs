namespace Attend.Cli.Translate;

/// <summary>
/// Word-level ids for one side of the pairs. Text is cut into tokens by <see cref="Bleu.Tokenize13a"/> (words, with
/// punctuation as tokens of its own), so decoded output — tokens joined by spaces — scores the same BLEU as the detokenized
/// text would. Ids: 0 padding, 1 BOS, 2 EOS, 3 unknown, then the training tokens seen at least minCount times, ordinally
/// sorted (stable for a given training set).
/// </summary>
public sealed class Vocab
{
    public const int Pad = 0, Bos = 1, Eos = 2, Unk = 3, Specials = 4;
    public const string UnknownText = "<unk>";
    private readonly Dictionary<string, int> ids;

    /// <summary>The tokens, id <see cref="Specials"/> onward.</summary>
    public IReadOnlyList<string> Tokens { get; }
    public int Size => Specials + Tokens.Count;

    public Vocab(IReadOnlyList<string> tokens)
    {
        Tokens = tokens;
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
            if (!ids.TryAdd(tokens[i], i + Specials)) throw new TranslateException($"the vocabulary repeats the token '{tokens[i]}'");
    }

    public static string[] Split(string text) => Bleu.Tokenize13a(text);

    public static Vocab FromTexts(IEnumerable<string> texts, int minCount = 1)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in texts)
            foreach (var w in Split(t)) counts[w] = counts.GetValueOrDefault(w) + 1;
        return new Vocab(counts.Where(p => p.Value >= minCount).Select(p => p.Key).Order(StringComparer.Ordinal).ToArray());
    }

    public long[] Encode(string text) => Split(text).Select(w => ids.TryGetValue(w, out int id) ? (long)id : Unk).ToArray();

    /// <summary>Tokens of the ids up to the first EOS, joined by spaces; padding and BOS are skipped.</summary>
    public string Decode(IEnumerable<long> tokens)
    {
        var words = new List<string>();
        foreach (long t in tokens)
        {
            if (t == Eos) break;
            if (t >= Specials && t < Size) words.Add(Tokens[(int)t - Specials]);
            else if (t == Unk) words.Add(UnknownText);
        }
        return string.Join(' ', words);
    }
}
