using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Attend.Data;

/// <summary>
/// BERT's WordPiece tokenizer, read from a model's <c>vocab.txt</c> (one token per line, id = line number) through
/// Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>: basic tokenization (whitespace, punctuation, CJK characters
/// split apart), lower-casing and accent stripping for uncased models (Hugging Face's <c>do_lower_case</c>, whose
/// <c>strip_accents</c> follows it), then greedy longest-match-first word pieces with the <c>##</c> prefix.
/// <see cref="Encode(string, string?, int)"/> adds the specials as Hugging Face's BertTokenizer does:
/// <c>[CLS] a [SEP]</c> or <c>[CLS] a [SEP] b [SEP]</c>, token types 0…0 1…1.
/// Where Microsoft.ML.Tokenizers' own basic tokenization departs from Hugging Face's, this class does it Hugging Face's
/// way (checked against Hugging Face tokenizers on the tests' sentences): tab, newline and carriage return separate
/// words (they were removed as control characters, gluing "a\nb" into "ab"); format characters (soft hyphen, zero-width
/// space) are removed; a word is a run of anything but whitespace and punctuation, punctuation being Unicode's P*
/// and all ASCII symbols, so "$", "+", "=", "^", "&lt;" and non-ASCII symbols (€, ©, ½) are kept (its pattern
/// <c>\w+|\p{P}</c> dropped them); and accents are stripped by <see cref="AccentStripping"/>'s table, since under
/// InvariantGlobalization <see cref="string.Normalize()"/> does nothing and "café" became [UNK].
/// </summary>
public sealed class WordPieceTokenizer : IBertTokenizer
{
    private readonly BertTokenizer bert;
    private readonly string[] tokens;

    /// <summary>True when text is lower-cased and its accents stripped before tokenization (uncased models).</summary>
    public bool LowerCase { get; }
    /// <inheritdoc/>
    public IReadOnlyList<string> Tokens => tokens;
    /// <inheritdoc/>
    public int VocabSize => tokens.Length;
    /// <inheritdoc/>
    public SpecialTokens Specials { get; }
    /// <inheritdoc/>
    public int ClsId => bert.ClassificationTokenId;
    /// <inheritdoc/>
    public int SepId => bert.SeparatorTokenId;

    /// <exception cref="ArgumentException">the vocabulary is empty, repeats a token, or lacks [CLS], [SEP], [PAD] or [UNK].</exception>
    public WordPieceTokenizer(IReadOnlyList<string> vocab, bool lowerCase = true)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        if (vocab.Count == 0) throw new ArgumentException("WordPiece: the vocabulary is empty");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < vocab.Count; i++)
            if (!seen.Add(vocab[i])) throw new ArgumentException($"WordPiece: the vocabulary repeats '{vocab[i]}' (line {i + 1})");
        foreach (var special in new[] { "[CLS]", "[SEP]", "[PAD]", "[UNK]" })
            if (!seen.Contains(special)) throw new ArgumentException($"WordPiece: the vocabulary has no {special} token; is this a BERT vocab.txt?");
        tokens = vocab.ToArray();
        LowerCase = lowerCase;
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", tokens) + "\n"));
        // Hugging Face's BertPreTokenizer; the specials are split out as BertTokenizer.Create does (lower-cased when the text is).
        var specials = new[] { "[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]" }.Where(seen.Contains)
            .ToDictionary(t => lowerCase ? t.ToLowerInvariant() : t, t => Array.IndexOf(tokens, t));
        bert = BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase, RemoveNonSpacingMarks = lowerCase, PreTokenizer = new RegexPreTokenizer(WordOrPunctuation, specials),
        });
        Specials = new SpecialTokens(Pad: bert.PaddingTokenId, Bos: bert.ClassificationTokenId, Eos: bert.SeparatorTokenId, Unk: bert.UnknownTokenId);
    }

    /// <summary>Reads <c>vocab.txt</c> (UTF-8, one token per line; a trailing empty line is ignored).</summary>
    /// <exception cref="InvalidDataException">the file is not a BERT vocabulary (the message names the file and why).</exception>
    public static WordPieceTokenizer FromFile(string vocabPath, bool lowerCase = true)
    {
        if (!File.Exists(vocabPath)) throw new FileNotFoundException($"WordPiece: no vocabulary at {vocabPath}", vocabPath);
        try { return FromLines(File.ReadAllText(vocabPath), lowerCase); }
        catch (ArgumentException ex) { throw new InvalidDataException($"{vocabPath}: {ex.Message}", ex); }
    }

    /// <summary>The vocabulary as the text of a <c>vocab.txt</c>.</summary>
    public static WordPieceTokenizer FromLines(string vocabText, bool lowerCase = true)
    {
        var lines = vocabText.Replace("\r\n", "\n").Split('\n');
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        return new WordPieceTokenizer(lines, lowerCase);
    }

    /// <summary>The word-piece ids of <paramref name="text"/>, no specials; <paramref name="unknown"/> counts [UNK]s.</summary>
    public long[] Encode(string text, out int unknown)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = bert.EncodeToIds(Clean(text), addSpecialTokens: false);
        unknown = ids.Count(i => i == bert.UnknownTokenId);
        return ids.Select(i => (long)i).ToArray();
    }

    /// <summary>The word pieces of <paramref name="text"/> as strings (<c>"play", "##ing"</c>), no specials.</summary>
    public string[] Pieces(string text) => bert.EncodeToTokens(Clean(text), out _).Select(t => t.Value).ToArray();

    /// <summary>A word (anything but whitespace and punctuation) or one punctuation character: ASCII's 32 symbols and
    /// Unicode's P* (Hugging Face's <c>_is_punctuation</c>).</summary>
    private static readonly Regex WordOrPunctuation = new(@"[^\s\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]+|[\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]",
        RegexOptions.CultureInvariant);

    /// <summary>Hugging Face's BertNormalizer before lower-casing: whitespace (tab, newline and carriage return
    /// included) to spaces; NUL, U+FFFD and other control, format, private-use and unassigned characters removed;
    /// accents stripped when <see cref="LowerCase"/>.</summary>
    private string Clean(string text)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is >= ' ' and < '\x7F') { sb?.Append(c); continue; }
            int n = char.IsSurrogatePair(text, i) ? 2 : 1;
            sb ??= new StringBuilder(text.Length).Append(text, 0, i);
            var category = CharUnicodeInfo.GetUnicodeCategory(text, i);
            if (c is '\t' or '\n' or '\r' || category is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                sb.Append(' ');
            else if (c == '\uFFFD' || category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                         or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned) { }
            else if (LowerCase && AccentStripping.Strip(char.ConvertToUtf32(text, i)) is { } stripped)
                sb.Append(stripped);
            else sb.Append(text, i, n);
            i += n - 1;
        }
        return sb?.ToString() ?? text;
    }

    /// <summary>
    /// <c>[CLS] a [SEP]</c> (or <c>[CLS] a [SEP] b [SEP]</c>) of at most <paramref name="maxLength"/> tokens. Longer
    /// inputs are cut at the end as Hugging Face's "longest_first" truncation does (a piece off the longer segment
    /// at a time); <see cref="BertInput.Dropped"/> counts the pieces cut.
    /// </summary>
    public BertInput Encode(string text, string? pair = null, int maxLength = 512)
    {
        int specials = pair is null ? 2 : 3;
        if (maxLength < specials + 1) throw new ArgumentOutOfRangeException(nameof(maxLength), $"WordPiece: maxLength {maxLength} leaves no room for text");
        var a = Encode(text, out _).ToList();
        var b = pair is null ? new List<long>() : Encode(pair, out _).ToList();
        int dropped = 0;
        while (a.Count + b.Count + specials > maxLength)
        {
            var longer = a.Count >= b.Count ? a : b;
            longer.RemoveAt(longer.Count - 1);
            dropped++;
        }
        long cls = ClsId, sep = SepId;
        long[] ids = pair is null ? [cls, .. a, sep] : [cls, .. a, sep, .. b, sep];
        var types = new long[ids.Length];
        if (pair is not null) Array.Fill(types, 1L, a.Count + 2, b.Count + 1);
        return new BertInput(ids, types, dropped);
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<long> ids) =>
        bert.Decode(ids.Where(i => i >= 0 && i < tokens.Length && i != ClsId && i != SepId && i != bert.PaddingTokenId).Select(i => (int)i)) ?? "";
}
