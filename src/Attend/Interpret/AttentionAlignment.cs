namespace Attend.Interpret;

/// <summary>One word of a transcript and the time span DTW over the cross-attention gave it, in seconds.</summary>
public sealed record WordTiming(string Word, double Start, double End);

/// <summary>
/// Word timings from the cross-attention of an encoder-decoder speech model, as Whisper does
/// (whisper/timing.py, find_alignment): the chosen alignment heads' weights are standardized over the tokens,
/// median-filtered over time, averaged over heads, and dynamic time warping on −weights gives a monotonic path from
/// the first output token and frame to the last; a token starts at the frame where the path first reaches it.
/// <code>
/// Z[h, t, s] = (W[h, t, s] − mean_t W[h, ·, s]) / std_t W[h, ·, s]          (biased std, per head and frame)
/// M[t, s]    = mean_h medfilt_s(Z[h, t, ·], width)[s]                        (reflect padding)
/// C[i, j]    = −M[i−1, j−1] + min(C[i−1, j−1], C[i−1, j], C[i, j−1]),  C[0, 0] = 0, C[0, ·] = C[·, 0] = ∞
/// </code>
/// </summary>
public static class AttentionAlignment
{
    /// <summary>Standardizes each head over the tokens, median-filters over time, and averages the heads: [T, S].</summary>
    /// <param name="heads">per alignment head, [T tokens, S frames].</param>
    /// <param name="medianWidth">odd filter width in frames (Whisper: 7 at 20 ms per frame); 1 = no filter.</param>
    public static double[,] Matrix(IReadOnlyList<float[,]> heads, int medianWidth)
    {
        if (heads.Count == 0) throw new ArgumentException("alignment: no heads given");
        if (medianWidth < 1 || medianWidth % 2 == 0) throw new ArgumentOutOfRangeException(nameof(medianWidth), medianWidth, "alignment: the median filter width must be odd and positive");
        int T = heads[0].GetLength(0), S = heads[0].GetLength(1);
        if (heads.Any(h => h.GetLength(0) != T || h.GetLength(1) != S))
            throw new ArgumentException($"alignment: heads of different shapes (the first is [{T}, {S}])");
        var m = new double[T, S];
        var z = new double[T, S];
        foreach (var w in heads)
        {
            // 1) standardize over tokens, per frame
            for (int s = 0; s < S; s++)
            {
                double mean = 0, var = 0;
                for (int t = 0; t < T; t++) mean += w[t, s];
                mean /= T;
                for (int t = 0; t < T; t++) var += (w[t, s] - mean) * (w[t, s] - mean);
                double std = Math.Sqrt(var / T);
                for (int t = 0; t < T; t++) z[t, s] = std > 0 ? (w[t, s] - mean) / std : 0;
            }
            // 2) median filter over frames, 3) average over heads
            var window = new double[medianWidth];
            int half = medianWidth / 2;
            for (int t = 0; t < T; t++)
                for (int s = 0; s < S; s++)
                {
                    for (int k = -half; k <= half; k++) window[k + half] = z[t, Reflect(s + k, S)];
                    Array.Sort(window);
                    m[t, s] += window[half] / heads.Count;
                }
        }
        return m;
    }

    /// <summary>numpy's "reflect" padding: −1 → 1, S → S − 2.</summary>
    static int Reflect(int i, int n)
    {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        i = ((i % period) + period) % period;
        return i < n ? i : period - i;
    }

    /// <summary>The cheapest monotonic path through <paramref name="cost"/> [T, S] from (0, 0) to (T−1, S−1) with steps
    /// (1, 1), (1, 0), (0, 1); ties prefer the step (0, 1) (Whisper's dtw_cpu).</summary>
    public static (int[] Token, int[] Frame) Dtw(double[,] cost)
    {
        int N = cost.GetLength(0), M = cost.GetLength(1);
        if (N == 0 || M == 0) throw new ArgumentException($"alignment: DTW needs a non-empty matrix, got [{N}, {M}]");
        var c = new double[N + 1, M + 1];
        var trace = new int[N + 1, M + 1];
        for (int i = 0; i <= N; i++) for (int j = 0; j <= M; j++) { c[i, j] = double.PositiveInfinity; trace[i, j] = -1; }
        c[0, 0] = 0;
        for (int j = 1; j <= M; j++)
            for (int i = 1; i <= N; i++)
            {
                double c0 = c[i - 1, j - 1], c1 = c[i - 1, j], c2 = c[i, j - 1];
                (double best, int t) = c0 < c1 && c0 < c2 ? (c0, 0) : c1 < c0 && c1 < c2 ? (c1, 1) : (c2, 2);
                c[i, j] = cost[i - 1, j - 1] + best;
                trace[i, j] = t;
            }
        for (int j = 0; j <= M; j++) trace[0, j] = 2;
        for (int i = 0; i <= N; i++) trace[i, 0] = 1;
        var path = new List<(int, int)>();
        for (int i = N, j = M; i > 0 || j > 0;)
        {
            path.Add((i - 1, j - 1));
            switch (trace[i, j])
            {
                case 0: i--; j--; break;
                case 1: i--; break;
                default: j--; break;
            }
        }
        path.Reverse();
        return (path.Select(p => p.Item1).ToArray(), path.Select(p => p.Item2).ToArray());
    }

    /// <summary>For each token 0…T−1 (the rows of <paramref name="heads"/>), the frame where the DTW path over the heads'
    /// <see cref="Matrix"/> first reaches it.</summary>
    public static int[] Starts(IReadOnlyList<float[,]> heads, int medianWidth)
    {
        var (token, frame) = Dtw(Negate(Matrix(heads, medianWidth)));
        return TokenStarts(token, frame);
    }

    /// <summary>For each token 0…T−1, the frame where the DTW path first reaches it.</summary>
    public static int[] TokenStarts(int[] token, int[] frame)
    {
        var starts = new List<int>();
        for (int k = 0; k < token.Length; k++)
            if (k == 0 || token[k] != token[k - 1]) starts.Add(frame[k]);
        return starts.ToArray();
    }

    /// <summary>
    /// Word timings: word w spans tokens [<paramref name="wordEnds"/>[w−1], <paramref name="wordEnds"/>[w]) of the
    /// alignment, starting at its first token's start and ending at the next token's (the token after the last word,
    /// e.g. end-of-text, must be a row of <paramref name="heads"/>). Frames are <paramref name="secondsPerFrame"/> long.
    /// </summary>
    public static WordTiming[] Words(IReadOnlyList<float[,]> heads, IReadOnlyList<string> words, IReadOnlyList<int> wordEnds,
        double secondsPerFrame, int medianWidth)
    {
        if (words.Count != wordEnds.Count) throw new ArgumentException($"alignment: {words.Count} words but {wordEnds.Count} word ends");
        if (words.Count == 0) return [];
        int T = heads.Count > 0 ? heads[0].GetLength(0) : 0;
        if (wordEnds[^1] >= T) throw new ArgumentException($"alignment: the last word ends at token {wordEnds[^1]} but the attention has {T} rows (one more than the words' tokens is needed)");
        var starts = Starts(heads, medianWidth);
        var result = new WordTiming[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            int first = w == 0 ? 0 : wordEnds[w - 1];
            result[w] = new WordTiming(words[w], starts[first] * secondsPerFrame, starts[wordEnds[w]] * secondsPerFrame);
        }
        return result;
    }

    /// <summary>−m, elementwise (DTW minimizes cost; the attention is to be maximized).</summary>
    public static double[,] Negate(double[,] m)
    {
        var r = new double[m.GetLength(0), m.GetLength(1)];
        for (int i = 0; i < m.GetLength(0); i++) for (int j = 0; j < m.GetLength(1); j++) r[i, j] = -m[i, j];
        return r;
    }
}
