using System.Text.RegularExpressions;

namespace Attend.Data;

/// <summary>
/// Words and punctuation as tokens, cut as BLEU's 13a tokenizer cuts them (<see cref="Tokenize13a"/>), so decoded
/// output — tokens joined by spaces — scores the same BLEU as the detokenized text would. Ids: 0 padding, 1 BOS, 2 EOS,
/// 3 unknown, then the tokens (<see cref="FromTexts"/>: those seen at least minCount times, ordinally sorted).
/// </summary>
public sealed partial class WordTokenizer : Vocabulary
{
    /// <summary>The fixed ids of the special tokens (padding 0, BOS 1, EOS 2, unknown 3) and their count, 4: the id of the
    /// first word.</summary>
    public const int Pad = 0, Bos = 1, Eos = 2, Unk = 3, SpecialCount = 4;

    /// <param name="words">the words, after the four specials.</param>
    public WordTokenizer(IReadOnlyList<string> words) : base([.. SpecialsList(bos: true, eos: true, unk: true), .. words]) =>
        Words = words;

    /// <summary>The word tokens, id <see cref="SpecialCount"/> onward.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>The vocabulary of <paramref name="texts"/>: every token seen at least <paramref name="minCount"/> times.</summary>
    public static WordTokenizer FromTexts(IEnumerable<string> texts, int minCount = 1)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in texts)
            foreach (var w in Tokenize13a(t)) counts[w] = counts.GetValueOrDefault(w) + 1;
        return new WordTokenizer(counts.Where(p => p.Value >= minCount).Select(p => p.Key).Order(StringComparer.Ordinal).ToArray());
    }

    /// <inheritdoc/>
    /// <remarks>Cut by <see cref="Tokenize13a"/>.</remarks>
    protected override IEnumerable<string> Split(string text) => Tokenize13a(text);
    /// <inheritdoc/>
    /// <remarks>Joined with single spaces (13a-tokenized text, not detokenized).</remarks>
    protected override string Join(IEnumerable<string> tokens) => string.Join(' ', tokens);

    /// <summary>mteval-v13a tokenization (sacreBLEU's default): unescape a few entities, then put spaces around punctuation
    /// except apostrophes and hyphens, around '.' and ',' unless they sit inside a number, and after a hyphen that follows a digit.</summary>
    public static string[] Tokenize13a(string line)
    {
        line = line.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        if (line.Contains('&'))
            line = line.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        line = $" {line} ";
        line = Punctuation().Replace(line, " $1 ");
        line = PeriodCommaAfter().Replace(line, "$1 $2 ");
        line = PeriodCommaBefore().Replace(line, " $1 $2");
        line = DashAfterDigit().Replace(line, "$1 $2 ");
        return line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    [GeneratedRegex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])")] private static partial Regex Punctuation();
    [GeneratedRegex(@"([^0-9])([\.,])")] private static partial Regex PeriodCommaAfter();
    [GeneratedRegex(@"([\.,])([^0-9])")] private static partial Regex PeriodCommaBefore();
    [GeneratedRegex(@"([0-9])(-)")] private static partial Regex DashAfterDigit();
}
