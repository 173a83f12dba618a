using Attend.Data;

namespace Attend.Cli.Translate;

/// <summary>
/// Corpus BLEU exactly as sacreBLEU computes its default score (tokenize 13a, one reference, n-grams 1–4, 'exp' smoothing):
/// <code>
/// p_n  = Σ_sentences clipped matches of n-grams / Σ_sentences hypothesis n-grams     (clip: min(count_hyp, count_ref))
/// BLEU = 100 · BP · exp(¼ Σ_n log p_n),   BP = 1 if c ≥ r else exp(1 − r/c)           (c, r: total hyp, ref tokens)
/// </code>
/// A p_n with no matches becomes 1 / (2^j · total_n) for the j-th such order ('exp' smoothing, as mteval).
/// </summary>
public static class Bleu
{
    /// <summary>mteval-v13a tokenization (<see cref="WordTokenizer.Tokenize13a"/>).</summary>
    public static string[] Tokenize13a(string line) => WordTokenizer.Tokenize13a(line);

    /// <summary>Corpus BLEU (0–100) of <paramref name="hypotheses"/> against one reference each.</summary>
    public static double Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        if (hypotheses.Count != references.Count) throw new ArgumentException("BLEU: as many hypotheses as references are needed");
        var matches = new long[4]; var totals = new long[4];
        long c = 0, r = 0;
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var hyp = Tokenize13a(hypotheses[i]); var reference = Tokenize13a(references[i]);
            c += hyp.Length; r += reference.Length;
            for (int n = 1; n <= 4; n++)
            {
                var refCounts = NGrams(reference, n);
                foreach (var (gram, count) in NGrams(hyp, n))
                {
                    totals[n - 1] += count;
                    matches[n - 1] += Math.Min(count, refCounts.GetValueOrDefault(gram));
                }
            }
        }
        if (c == 0) return 0;
        double logSum = 0, smooth = 1;
        for (int n = 0; n < 4; n++)
        {
            if (totals[n] == 0) return 0;                       // a hypothesis corpus shorter than n tokens
            double p;
            if (matches[n] == 0) { smooth *= 2; p = 1 / (smooth * totals[n]); }
            else p = (double)matches[n] / totals[n];
            logSum += Math.Log(p);
        }
        double bp = c < r ? Math.Exp(1 - (double)r / c) : 1;
        return 100 * bp * Math.Exp(logSum / 4);
    }

    /// <summary>Counts of the n-grams of <paramref name="tokens"/>, each joined by a space.</summary>
    static Dictionary<string, int> NGrams(string[] tokens, int n)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            string g = string.Join(' ', tokens, i, n);
            counts[g] = counts.GetValueOrDefault(g) + 1;
        }
        return counts;
    }
}
