using Xunit;

namespace Attend.Tests;

/// <summary>The tokenizers behind ITokenizer (characters, words, phonemes), the per-step random streams and the
/// sequence batches.</summary>
public class TokenizerTests
{
    [Fact]
    public void CharactersRoundTripAndUnknownOnesFallBack()
    {
        ITokenizer plain = CharTokenizer.FromText("the lamb, the lion.");
        Assert.Equal(" ,.abehilmnot", string.Concat(plain.Tokens));
        Assert.Equal(new SpecialTokens(), plain.Specials);
        Assert.Equal("the lion, the lamb.", plain.Decode(plain.Encode("the lion, the lamb.", out int unknown)));
        Assert.Equal(0, unknown);
        Assert.Equal(" ion ", plain.Decode(plain.Encode("Zion!", out unknown)));              // outside: the space
        Assert.Equal(2, unknown);

        var dates = new CharTokenizer("0123456789-", [Vocabulary.PadToken, Vocabulary.BosToken]);
        Assert.Equal(new SpecialTokens(Pad: 0, Bos: 1), dates.Specials);
        Assert.Equal(new long[] { 4, 12, 2 }, dates.Encode("2-0"));
        Assert.Equal("2-0", dates.Decode([1, 4, 12, 0, 2]));                                    // specials left out
        Assert.Throws<ArgumentException>(() => new CharTokenizer("abca"));
        Assert.Throws<ArgumentException>(() => new CharTokenizer(""));
    }

    [Fact]
    public void WordsAreBleusTokensWithFourSpecials()
    {
        var w = WordTokenizer.FromTexts(["And God said , Let", "God said: light!"], minCount: 1);
        Assert.Equal(new SpecialTokens(Pad: 0, Bos: 1, Eos: 2, Unk: 3), w.Specials);
        Assert.Equal(["!", ",", ":", "And", "God", "Let", "light", "said"], w.Words);
        var ids = w.Encode("God said zebra!", out int unknown);
        Assert.Equal(1, unknown);
        Assert.Equal(new long[] { 8, 11, WordTokenizer.Unk, 4 }, ids);
        Assert.Equal("God said <unk> !", w.Decode(ids));
        Assert.Equal("God", w.Decode([WordTokenizer.Bos, 8, WordTokenizer.Eos, 11]));          // stops at EOS
        Assert.Equal(["God", "said"], WordTokenizer.FromTexts(["God said", "God said", "light"], minCount: 2).Words);
    }

    [Fact]
    public void PhonemesComeWithWordTokens()
    {
        var p = PhonemeTokenizer.From(["E", "s", "v"], ["seven"]);
        Assert.Equal(["<pad>", "<bos>", "<eos>", "<unk>", "E", "s", "v", "#seven"], p.Tokens);
        var ids = p.Encode("s E v #seven");
        Assert.Equal(new long[] { 5, 4, 6, 7 }, ids);
        Assert.True(p.IsPhoneme(4) && !p.IsPhoneme(7) && !p.IsPhoneme(PhonemeTokenizer.Unk));
        Assert.Equal(["seven"], p.Words([.. ids, PhonemeTokenizer.Eos, 7]));
        Assert.Equal(3, p.PhonemeCount);
        Assert.Throws<ArgumentException>(() => new PhonemeTokenizer(["a", "b"]));
    }

    [Fact]
    public void StepStreamsAreFunctionsOfSeedStepAndStream()
    {
        // ForStep(seed, s, k) = SplitMix64(seed ⊕ mix(s) ⊕ k) with mix(s) = the first draw of SplitMix64(s · golden ratio)
        ulong Mix(long s) => new SplitMix64((ulong)s * 0x9E3779B97F4A7C15UL).Next();
        Assert.Equal(new SplitMix64(7 ^ Mix(12) ^ 1).Next(), SplitMix64.ForStep(7, 12, stream: 1).Next());
        Assert.NotEqual(SplitMix64.ForStep(7, 12).Next(), SplitMix64.ForStep(7, 13).Next());
        var a = Enumerable.Range(0, 10).ToArray();
        new SplitMix64(3).Shuffle(a);
        Assert.Equal(Enumerable.Range(0, 10), a.Order());
        Assert.NotEqual(Enumerable.Range(0, 10), a);
        var g = new SplitMix64(5);
        var xs = Enumerable.Range(0, 20000).Select(_ => g.NextGaussian()).ToArray();
        Assert.InRange(xs.Average(), -0.03, 0.03);
        Assert.InRange(xs.Select(x => x * x).Average(), 0.96, 1.04);
    }

    [Fact]
    public void SequencesPadAndTeacherForce()
    {
        var (ids, pad) = SequenceBatch.Pad([[5, 6, 7], [8]], pad: 0);
        Assert.Equal(new long[] { 5, 6, 7, 8, 0, 0 }, ids.ToInt64Array());
        Assert.Equal(new[] { false, false, false, false, true, true }, pad.ToBoolArray());
        Assert.Equal(new[] { 2, 2 }, SequenceBatch.Pad([[5, 6, 7], [8]], maxLength: 2).Ids.Shape);
        var (input, labels) = SequenceBatch.TeacherForcing([[7, 8], [9]], bos: 1, eos: 2);
        Assert.Equal(new long[] { 1, 7, 8, 1, 9, 0 }, input.ToInt64Array());
        Assert.Equal(new long[] { 7, 8, 2, 9, 2, 0 }, labels.ToInt64Array());
        (input, labels) = SequenceBatch.TeacherForcing([[7, 8, 9]], bos: 1, eos: null);         // fixed length: no EOS
        Assert.Equal(new long[] { 1, 7, 8 }, input.ToInt64Array());
        Assert.Equal(new long[] { 7, 8, 9 }, labels.ToInt64Array());
    }
}
