using Attend.Cli.Lm;

namespace Attend.Cli.Speech;

/// <summary>
/// The decoder's tokens: 0 = padding, 1 = BOS, 2 = EOS, 3 = an unknown phoneme, then espeak-ng's phoneme names
/// ("E", "A@", "u:", …) and one token per word ("#seven"). A transcript is written word by word, each word's phonemes
/// followed by its word token — so the emitted phonemes give the alignment and the word tokens give the words:
/// <code>"seven of hearts" → s E v @ n #seven V v #of h A@ t s #hearts EOS</code>
/// </summary>
public sealed class SpeechVocab
{
    public const int Pad = 0, Bos = 1, Eos = 2, Unk = 3;
    public IReadOnlyList<string> Tokens { get; }
    private readonly Dictionary<string, int> ids;

    public SpeechVocab(IReadOnlyList<string> tokens)
    {
        if (tokens.Count < 4 || tokens[0] != "<pad>" || tokens[1] != "<bos>" || tokens[2] != "<eos>" || tokens[3] != "<unk>")
            throw new SpeechException("speech vocabulary: the first tokens must be <pad>, <bos>, <eos>, <unk>");
        Tokens = tokens;
        ids = tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i);
    }

    public int Size => Tokens.Count;
    public static bool IsWord(string token) => token.Length > 1 && token[0] == '#';
    public bool IsPhoneme(int id) => id > Unk && !IsWord(Tokens[id]);

    /// <summary>
    /// The phoneme inventory espeak-ng uses for this task: every word alone in every accent, and 400 random texts from
    /// a fixed seed (which shows the phonemes that only appear in context), sorted; then the words.
    /// </summary>
    public static SpeechVocab Build()
    {
        var phones = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var a in SpeechData.Accents)
            foreach (var w in SpeechData.Words)
                foreach (var p in Espeak.Synthesize(w, a, 175, 50).Phones) phones.Add(p.Name);
        var rng = new SplitMix64(20261124);
        for (int i = 0; i < 400; i++)
            foreach (var p in Espeak.Synthesize(SpeechData.Text(rng), SpeechData.Accents[i % SpeechData.Accents.Length], 175, 50).Phones) phones.Add(p.Name);
        return new SpeechVocab(new[] { "<pad>", "<bos>", "<eos>", "<unk>" }.Concat(phones).Concat(SpeechData.Words.Select(w => "#" + w)).ToArray());
    }

    /// <summary>Token ids of an utterance (no BOS/EOS) and, for each, the index of its phone (−1 for word tokens).</summary>
    public (long[] Ids, int[] Phone) Encode(string[] words, Phone[] phones)
    {
        var tokens = new List<long>(); var phone = new List<int>();
        for (int w = 0; w < words.Length; w++)
        {
            for (int p = 0; p < phones.Length; p++)
                if (phones[p].Word == w) { tokens.Add(ids.TryGetValue(phones[p].Name, out var id) ? id : Unk); phone.Add(p); }
            tokens.Add(ids.TryGetValue("#" + words[w], out var wid) ? wid
                : throw new SpeechException($"speech vocabulary: no word '{words[w]}'"));
            phone.Add(-1);
        }
        return (tokens.ToArray(), phone.ToArray());
    }

    /// <summary>The words of a decoded token sequence (its word tokens, '#' removed).</summary>
    public string[] Words(IEnumerable<long> tokens) => tokens.Select(t => Tokens[(int)t]).Where(IsWord).Select(t => t[1..]).ToArray();
}
