using Attend.Training;
using Xunit;

namespace Attend.Tests;

/// <summary>BLEU as sacreBLEU computes it (13a tokens, clipped n-grams over the corpus, brevity penalty, 'exp'
/// smoothing), word error rate and edit paths, against hand-computed examples.</summary>
public class MetricsTests
{
    [Fact]
    public void Tokenize13a_splits_punctuation_but_not_numbers_or_apostrophes()
    {
        Assert.Equal(["Hello", ",", "world", "!", "It's", "3.5", "-", "4", "km", "."], WordTokenizer.Tokenize13a("Hello, world! It's 3.5-4 km."));
        Assert.Equal(["\"", "a", "\"", "&", "b"], WordTokenizer.Tokenize13a("&quot;a&quot; &amp; b"));
    }

    [Fact]
    public void Bleu_of_identical_text_is_100()
    {
        string[] refs = ["Y el dios dijo, Dejado allí ser ligero", "Y la tierra era sin forma."];
        Assert.Equal(100, Metrics.Bleu(refs, refs), 9);
    }

    [Fact]
    public void Bleu_matches_a_hand_computed_example()
    {
        // hyp "the cat sat on the mat", ref "the cat is on the mat" (6 tokens each, BP = 1):
        // p1 = 5/6 (the×2, cat, on, mat), p2 = 3/5 (the cat, on the, the mat), p3 = 1/4 (on the mat),
        // p4 = 0/3 → 'exp' smoothing 1/(2·3). BLEU = 100 · (5/6 · 3/5 · 1/4 · 1/6)^¼ = 100 · (1/48)^¼ = 37.9918…
        double bleu = Metrics.Bleu(["the cat sat on the mat"], ["the cat is on the mat"]);
        Assert.Equal(100 * Math.Pow(1.0 / 48, 0.25), bleu, 9);
        Assert.Equal(37.9918, bleu, 3);
    }

    [Fact]
    public void Bleu_applies_the_brevity_penalty_over_the_corpus()
    {
        // every n-gram matches (p_n = 1) but c = 4 + 4 = 8 tokens against r = 8 + 8 = 16: BP = exp(1 − 16/8) = e⁻¹
        Assert.Equal(100 * Math.Exp(-1), Metrics.Bleu(["a b c d", "e f g h"], ["a b c d x y z w", "e f g h p q r s"]), 9);
        // a hypothesis longer than its reference gets no penalty (BP = 1): "a b c d e" vs "a b c d" has p = 4/5, 3/4, 2/3, 1/2
        Assert.Equal(100 * Math.Pow(4.0 / 5 * 3 / 4 * 2 / 3 * 1 / 2, 0.25), Metrics.Bleu(["a b c d e"], ["a b c d"]), 9);
    }

    [Fact]
    public void Wer_and_edit_paths_match_hand_examples()
    {
        // "a b c d" → "a x c": b substituted by x, d deleted: 2 errors over 4 words
        Assert.Equal(0.5, Metrics.Wer(["a b c d"], ["a x c"]));
        Assert.Equal(0.0, Metrics.Wer(["seven of hearts"], ["seven of hearts"]));
        Assert.Equal(4.0, Metrics.Wer(["two"], ["one five three four"]));      // 3 insertions + 1 substitution over 1 word
        Assert.Equal(3, Metrics.EditDistance("kitten".ToArray(), "sitting".ToArray()));
        Assert.Equal([(1, 1), (2, 2), (3, 3), (5, 5)], Metrics.Matches("kitten".ToArray(), "sitting".ToArray()));
        Assert.Equal(40, Metrics.Median([50, 10, 40, 90, 30]));
        Assert.Throws<ArgumentException>(() => Metrics.Wer([""], [""]));
    }
}
