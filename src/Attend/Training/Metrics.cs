using Attend.Data;

namespace Attend.Training;

/// <summary>
/// Evaluation metrics of sequence models: corpus BLEU, word error rate, Levenshtein distance and its alignment, median.
/// <para>Corpus BLEU (<see cref="Bleu"/>) exactly as sacreBLEU computes its default score (tokenize 13a, one reference, n-grams 1–4, 'exp' smoothing):
/// <code>
/// p_n  = Σ_sentences clipped matches of n-grams / Σ_sentences hypothesis n-grams     (clip: min(count_hyp, count_ref))
/// BLEU = 100 · BP · exp(¼ Σ_n log p_n),   BP = 1 if c ≥ r else exp(1 − r/c)           (c, r: total hyp, ref tokens)
/// </code>
/// A p_n with no matches becomes 1 / (2^j · total_n) for the j-th such order ('exp' smoothing, as mteval).</para>
/// </summary>
public static class Metrics
{
    /// <summary>Corpus BLEU (0–100) of <paramref name="hypotheses"/> against one reference each.</summary>
    public static double Bleu(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        if (hypotheses.Count != references.Count) throw new ArgumentException("BLEU: as many hypotheses as references are needed");
        var matches = new long[4]; var totals = new long[4];
        long c = 0, r = 0;
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var hyp = WordTokenizer.Tokenize13a(hypotheses[i]); var reference = WordTokenizer.Tokenize13a(references[i]);
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
    /// <summary>The median (NaN for none).</summary>
    public static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Levenshtein distance (substitutions, insertions, deletions, each 1) between two sequences.</summary>
    public static int EditDistance<T>(IReadOnlyList<T> a, IReadOnlyList<T> b) => Table(a, b)[a.Count, b.Count];

    /// <summary>Word error rate: the summed edit distances over the summed reference lengths.</summary>
    public static double Wer(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses)
    {
        if (references.Count != hypotheses.Count) throw new ArgumentException($"WER: {references.Count} references but {hypotheses.Count} hypotheses");
        int errors = 0, words = 0;
        for (int i = 0; i < references.Count; i++)
        {
            var r = references[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            errors += EditDistance(r, hypotheses[i].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            words += r.Length;
        }
        return words == 0 ? throw new ArgumentException("WER: the references have no words") : (double)errors / words;
    }

    /// <summary>The (a index, b index) pairs of equal elements on one minimal edit path.</summary>
    public static List<(int A, int B)> Matches<T>(IReadOnlyList<T> a, IReadOnlyList<T> b)
    {
        var d = Table(a, b);
        var pairs = new List<(int, int)>();
        int i = a.Count, j = b.Count;
        while (i > 0 && j > 0)
        {
            bool eq = EqualityComparer<T>.Default.Equals(a[i - 1], b[j - 1]);
            if (d[i, j] == d[i - 1, j - 1] + (eq ? 0 : 1)) { if (eq) pairs.Add((i - 1, j - 1)); i--; j--; }
            else if (d[i, j] == d[i - 1, j] + 1) i--;
            else j--;
        }
        pairs.Reverse();
        return pairs;
    }

    static int[,] Table<T>(IReadOnlyList<T> a, IReadOnlyList<T> b)
    {
        var d = new int[a.Count + 1, b.Count + 1];
        for (int i = 0; i <= a.Count; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Count; j++) d[0, j] = j;
        for (int i = 1; i <= a.Count; i++)
            for (int j = 1; j <= b.Count; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (EqualityComparer<T>.Default.Equals(a[i - 1], b[j - 1]) ? 0 : 1));
        return d;
    }
}
