namespace Attend.Data;

/// <summary>
/// Characters as tokens (UTF-16 code units): ids are the optional special tokens, then the characters in the given
/// order. A character outside the vocabulary encodes as the unknown token when there is one, else as
/// <see cref="FallbackChar"/>'s id (a space when the vocabulary has one, else id 0).
/// </summary>
public sealed class CharTokenizer : Vocabulary
{
    /// <summary>The characters, in id order after the specials.</summary>
    public string Chars { get; }

    /// <param name="chars">the characters, each once.</param>
    /// <param name="specials">special tokens before them (e.g. <c>["&lt;pad&gt;", "&lt;bos&gt;"]</c>), none by default.</param>
    public CharTokenizer(string chars, IReadOnlyList<string>? specials = null)
        : base([.. specials ?? [], .. Check(chars).Select(c => c.ToString())])
    {
        Chars = chars;
        int space = chars.IndexOf(' ');
        FallbackChar = Specials.Unk is null ? (space >= 0 ? ' ' : chars[0]) : null;
    }

    private static string Check(string chars) => string.IsNullOrEmpty(chars) ? throw new ArgumentException("CharTokenizer: the vocabulary is empty") : chars;

    /// <summary>The tokenizer of every character <paramref name="text"/> uses, sorted by code unit (stable ids for a text).</summary>
    public static CharTokenizer FromText(string text) => new(new string(text.Distinct().Order().ToArray()));

    /// <summary>The character that stands in for one outside the vocabulary (null when there is an unknown token).</summary>
    public char? FallbackChar { get; }

    /// <summary>The id of character <paramref name="c"/>, or null.</summary>
    public int? Id(char c) => Id(c.ToString());

    /// <inheritdoc/>
    /// <remarks>The unknown token when there is one, else the id of <see cref="FallbackChar"/>.</remarks>
    protected override int? Fallback => Specials.Unk ?? (FallbackChar is char f ? Id(f) : null);
    /// <inheritdoc/>
    /// <remarks>Each UTF-16 code unit is one piece.</remarks>
    protected override IEnumerable<string> Split(string text) => text.Select(c => c.ToString());
    /// <inheritdoc/>
    /// <remarks>Concatenated with no separator.</remarks>
    protected override string Join(IEnumerable<string> tokens) => string.Concat(tokens);
}
