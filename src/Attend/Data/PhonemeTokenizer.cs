namespace Attend.Data;

/// <summary>
/// Phonemes and words as tokens, for a speech decoder that writes each word as its phonemes followed by a word token:
/// <code>"seven of hearts" → s E v @ n #seven V v #of h A@ t s #hearts</code>
/// so the emitted phonemes give an alignment and the word tokens the transcript. Ids: 0 padding, 1 BOS, 2 EOS,
/// 3 unknown phoneme, then the phoneme names, then one token per word ("#seven"). Text is tokens separated by spaces.
/// </summary>
public sealed class PhonemeTokenizer : Vocabulary
{
    /// <summary>The fixed ids of the special tokens: padding 0, BOS 1, EOS 2, unknown phoneme 3.</summary>
    public const int Pad = 0, Bos = 1, Eos = 2, Unk = 3;

    /// <summary>From the full token list (<c>&lt;pad&gt; &lt;bos&gt; &lt;eos&gt; &lt;unk&gt;</c>, phonemes, "#word" tokens).</summary>
    public PhonemeTokenizer(IReadOnlyList<string> tokens) : base(tokens)
    {
        if (tokens.Count < 4 || tokens[0] != PadToken || tokens[1] != BosToken || tokens[2] != EosToken || tokens[3] != UnkToken)
            throw new ArgumentException($"PhonemeTokenizer: the first tokens must be {PadToken}, {BosToken}, {EosToken}, {UnkToken}");
    }

    /// <summary>From phoneme names and words (each written "#word").</summary>
    public static PhonemeTokenizer From(IEnumerable<string> phonemes, IEnumerable<string> words) =>
        new([.. SpecialsList(bos: true, eos: true, unk: true), .. phonemes, .. words.Select(w => "#" + w)]);

    /// <summary>True for a word token ("#seven").</summary>
    public static bool IsWord(string token) => token.Length > 1 && token[0] == '#';
    /// <summary>True for a phoneme token (not special, not a word).</summary>
    public bool IsPhoneme(long id) => id > Unk && id < VocabSize && !IsWord(Tokens[(int)id]);
    /// <summary>The number of phoneme tokens.</summary>
    public int PhonemeCount => Tokens.Count(t => t.Length > 0 && t[0] != '<' && !IsWord(t));

    /// <summary>The words of decoded ids (their word tokens, '#' removed), up to EOS.</summary>
    public string[] Words(IEnumerable<long> ids) =>
        ids.TakeWhile(i => i != Eos).Where(i => i >= 0 && i < VocabSize).Select(i => Tokens[(int)i]).Where(IsWord).Select(t => t[1..]).ToArray();

    /// <inheritdoc/>
    /// <remarks>Tokens are separated by spaces; empty pieces are dropped.</remarks>
    protected override IEnumerable<string> Split(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    /// <inheritdoc/>
    /// <remarks>Joined with single spaces.</remarks>
    protected override string Join(IEnumerable<string> tokens) => string.Join(' ', tokens);
}
