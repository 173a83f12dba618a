namespace Attend.Data;

/// <summary>The ids of a vocabulary's special tokens; null where the vocabulary has none.</summary>
public sealed record SpecialTokens(int? Pad = null, int? Bos = null, int? Eos = null, int? Unk = null);

/// <summary>
/// Text ↔ token ids, the one interface of every tokenizer here: characters (<see cref="CharTokenizer"/>), words
/// (<see cref="WordTokenizer"/>) and phonemes with word tokens (<see cref="PhonemeTokenizer"/>). Token id i stands for
/// <c>Tokens[i]</c>; special tokens (padding, BOS, EOS, unknown) come first, as in Hugging Face vocabularies.
/// </summary>
public interface ITokenizer
{
    /// <summary>The token of each id.</summary>
    IReadOnlyList<string> Tokens { get; }
    /// <summary>The number of ids, <c>Tokens.Count</c>.</summary>
    int VocabSize { get; }
    /// <summary>Which ids are padding, BOS, EOS and unknown.</summary>
    SpecialTokens Specials { get; }
    /// <summary>The ids of <paramref name="text"/>, without BOS/EOS. Unknown pieces become the unknown token (or the
    /// tokenizer's fallback); <paramref name="unknown"/> counts them.</summary>
    long[] Encode(string text, out int unknown);
    /// <summary>The text of <paramref name="ids"/> up to the first EOS, special tokens left out.</summary>
    string Decode(IEnumerable<long> ids);
}

/// <summary>
/// What the tokenizers share: an ordered token list with its reverse map, the special tokens at the front (named
/// <c>&lt;pad&gt;</c>, <c>&lt;bos&gt;</c>, <c>&lt;eos&gt;</c>, <c>&lt;unk&gt;</c>), and decoding that stops at EOS and skips
/// specials. A subclass says how text is cut (<see cref="Split"/>) and how decoded tokens are joined (<see cref="Join"/>).
/// </summary>
public abstract class Vocabulary : ITokenizer
{
    /// <summary>The texts of the special tokens: <c>&lt;pad&gt;</c>, <c>&lt;bos&gt;</c>, <c>&lt;eos&gt;</c> and <c>&lt;unk&gt;</c>.</summary>
    public const string PadToken = "<pad>", BosToken = "<bos>", EosToken = "<eos>", UnkToken = "<unk>";
    private readonly Dictionary<string, int> ids;

    /// <summary>Tokens in id order; repeated tokens are an error naming the token.</summary>
    protected Vocabulary(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0) throw new ArgumentException($"{GetType().Name}: the vocabulary is empty");
        Tokens = tokens;
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
            if (!ids.TryAdd(tokens[i], i)) throw new ArgumentException($"{GetType().Name}: the vocabulary repeats the token '{tokens[i]}'");
        int? Find(string t) => ids.TryGetValue(t, out int i) ? i : null;
        Specials = new SpecialTokens(Find(PadToken), Find(BosToken), Find(EosToken), Find(UnkToken));
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Tokens { get; }
    /// <inheritdoc/>
    public int VocabSize => Tokens.Count;
    /// <inheritdoc/>
    /// <remarks>Found by name (<see cref="PadToken"/>, <see cref="BosToken"/>, <see cref="EosToken"/>, <see cref="UnkToken"/>) wherever they sit in the token list.</remarks>
    public SpecialTokens Specials { get; }
    /// <summary>Specials first, in this order: <c>&lt;pad&gt;</c> and those asked for.</summary>
    protected static string[] SpecialsList(bool bos, bool eos, bool unk) =>
        [PadToken, .. bos ? new[] { BosToken } : [], .. eos ? new[] { EosToken } : [], .. unk ? new[] { UnkToken } : []];

    /// <summary>The id of <paramref name="token"/>, or null.</summary>
    public int? Id(string token) => ids.TryGetValue(token, out int i) ? i : null;

    /// <summary>True for padding, BOS, EOS and unknown.</summary>
    public bool IsSpecial(long id) => id == Specials.Pad || id == Specials.Bos || id == Specials.Eos || id == Specials.Unk;

    /// <summary>The pieces of <paramref name="text"/> that map to tokens.</summary>
    protected abstract IEnumerable<string> Split(string text);

    /// <summary>The id of a piece with no token of its own: the unknown token, when there is one.</summary>
    protected virtual int? Fallback => Specials.Unk;

    /// <summary>Decoded tokens as text.</summary>
    protected abstract string Join(IEnumerable<string> tokens);

    /// <summary>How an unknown id decodes (the unknown token by default).</summary>
    protected virtual string? UnknownText => UnkToken;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A piece is not in the vocabulary and there is no <see cref="Fallback"/>.</exception>
    public long[] Encode(string text, out int unknown)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<long>();
        unknown = 0;
        foreach (var piece in Split(text))
        {
            if (ids.TryGetValue(piece, out int id)) { result.Add(id); continue; }
            unknown++;
            result.Add(Fallback ?? throw new ArgumentException($"{GetType().Name}: '{piece}' is not in the vocabulary and it has no unknown token"));
        }
        return result.ToArray();
    }

    /// <summary>The ids of <paramref name="text"/> (unknown pieces as the fallback).</summary>
    public long[] Encode(string text) => Encode(text, out _);

    /// <inheritdoc/>
    /// <remarks>The unknown token decodes as <see cref="UnknownText"/> (skipped when null); ids outside [0, <see cref="VocabSize"/>) are skipped.</remarks>
    public string Decode(IEnumerable<long> ids)
    {
        var tokens = new List<string>();
        foreach (long id in ids)
        {
            if (id == Specials.Eos) break;
            if (id == Specials.Unk) { if (UnknownText is { } u) tokens.Add(u); }
            else if (id >= 0 && id < Tokens.Count && !IsSpecial(id)) tokens.Add(Tokens[(int)id]);
        }
        return Join(tokens);
    }
}
