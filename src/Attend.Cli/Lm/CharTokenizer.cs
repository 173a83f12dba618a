namespace Attend.Cli.Lm;

/// <summary>
/// Characters as tokens: the vocabulary is the sorted set of characters (UTF-16 code units) in the training text, so
/// token ids are stable for a given text. A character outside it encodes as <see cref="Fallback"/> (a space when
/// the vocabulary has one, else token 0), and <see cref="Encode"/> reports how many did.
/// </summary>
public sealed class CharTokenizer
{
    private readonly Dictionary<char, int> ids;

    /// <summary>The characters, in token-id order.</summary>
    public string Vocab { get; }
    public int Size => Vocab.Length;

    /// <summary>The token that stands in for a character outside the vocabulary.</summary>
    public int Fallback { get; }

    public CharTokenizer(string vocab)
    {
        if (vocab.Length == 0) throw new LmException("the vocabulary is empty");
        if (vocab.Distinct().Count() != vocab.Length) throw new LmException("the vocabulary repeats a character");
        Vocab = vocab;
        ids = vocab.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        Fallback = ids.GetValueOrDefault(' ', 0);
    }

    /// <summary>The tokenizer of <paramref name="text"/>: every character it uses, sorted by code unit.</summary>
    public static CharTokenizer FromText(string text) => new(new string(text.Distinct().Order().ToArray()));

    /// <summary>Token ids of <paramref name="text"/>; <paramref name="unknown"/> counts characters mapped to <see cref="Fallback"/>.</summary>
    public long[] Encode(string text, out int unknown)
    {
        var result = new long[text.Length];
        unknown = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (ids.TryGetValue(text[i], out int id)) result[i] = id;
            else { result[i] = Fallback; unknown++; }
        }
        return result;
    }

    public string Decode(IEnumerable<long> tokens) => new(tokens.Select(t => Vocab[(int)t]).ToArray());
}
