using Attend.Data;
using Attend.Interpret;
using Attend.Training;

namespace Attend.Cli.Speech;

/// <summary>One recognized utterance: the emitted tokens, their words, the encoder frame where each emitted phoneme starts
/// by DTW over all cross-attention heads (StartFrame[t], −1 for word tokens; see <see cref="SpeechEval.PhonemeStarts"/>), and
/// the frame the cross-attention peaked on while emitting each token: PeakFrame[layer][t] for the mean over heads,
/// HeadPeakFrame[layer][head][t] for each head.</summary>
public sealed record Recognition(long[] Tokens, string[] Words, int[] StartFrame, int[][] PeakFrame, int[][][] HeadPeakFrame);

/// <summary>The held-out measures: word error rate and the alignment errors over the emitted phonemes that match a reference
/// phoneme (and how many did): the median |DTW start − espeak's start| (DtwMedianMs, with its mean signed offset) and, per
/// decoder layer, the median |peak time − espeak's start| for the mean over heads (MedianErrorMs, with the mean signed offset)
/// and for each head (HeadMedianMs[layer][head]).</summary>
public sealed record SpeechScore(double Wer, int Words, double DtwMedianMs, double DtwMeanOffsetMs, double[] MedianErrorMs, double[] MeanOffsetMs,
    int AlignedPhonemes, double[][] HeadMedianMs);

/// <summary>Recognition and the word error rate / alignment measures.</summary>
public static class SpeechEval
{
    /// <summary>The time (ms) encoder frame k stands for: the mean of the centres of its n log-mel windows (window i centred
    /// at 10 i + 12.5 ms), 10 n k + 5 (n − 1) + 12.5: 40 k + 27.5 for n = 4, 20 k + 17.5 for n = 2.</summary>
    public static double FrameMs(int frame, int subsampling) => 10.0 * subsampling * frame + 5.0 * (subsampling - 1) + 12.5;

    /// <summary>
    /// Where each emitted phoneme starts, as Whisper times its tokens (<see cref="AttentionAlignment"/>): the cross-attention
    /// rows of the queries that emitted the phonemes, and of the one that emitted EOS, in every decoder layer and head, each
    /// standardized over those rows per frame and averaged; dynamic time warping then finds the monotonic path from the first
    /// phoneme and frame to EOS and the last frame, and a phoneme starts at the first frame of its stretch of the path.
    /// The path must begin at frame 0, so the first phoneme's stretch would take in any leading silence; it starts instead
    /// at its own row's peak before the second stretch.
    /// <code>
    /// A[l, h][i, s] = cross-attention weight of query phon[i] (EOS for i = n) on encoder frame s < frames    (n + 1, frames)
    /// start[i]      = first frame of row i on DTW(−mean_{l,h} standardize(A[l, h]))           i ≥ 1
    /// start[0]      = argmax_{s < start[1]} Σ_{l,h} A[l, h][0, s]
    /// </code>
    /// Reading a path rather than each row's peak ignores the stray peaks of one row (median error on held-out voices: 31 ms
    /// against 50 ms for the peak of the last layer's mean over heads, 47 ms for the best single head).
    /// </summary>
    /// <param name="weights">per decoder layer, the cross-attention (B, H, T, S) of a teacher-forced pass over BOS + tokens.</param>
    /// <returns>for each token t, the start frame of a phoneme token; −1 for word tokens.</returns>
    public static int[] PhonemeStarts(IReadOnlyList<float[]> weights, int b, int H, int T, int S, int frames, long[] tokens, PhonemeTokenizer vocab)
    {
        var start = Enumerable.Repeat(-1, tokens.Length).ToArray();
        var phon = Enumerable.Range(0, tokens.Length).Where(t => vocab.IsPhoneme((int)tokens[t])).ToArray();
        if (phon.Length == 0 || frames <= 0) return start;
        var rows = phon.Append(tokens.Length).ToArray();                  // row t of the pass is the query that emitted token t
        var heads = new List<float[,]>();
        foreach (var w in weights)
            for (int h = 0; h < H; h++)
            {
                var a = new float[rows.Length, frames];
                for (int i = 0; i < rows.Length; i++)
                    for (int s = 0; s < frames; s++) a[i, s] = w[((b * H + h) * T + rows[i]) * S + s];
                heads.Add(a);
            }
        var starts = AttentionAlignment.Starts(heads, medianWidth: 1);
        // the path starts at frame 0, so the first phoneme's stretch also holds any leading silence: it starts instead
        // where its row (mean over all heads) peaks before the second phoneme's stretch (or EOS's) begins
        int first = 0;
        for (int s = 1; s < Math.Max(1, starts[1]); s++)
            if (heads.Sum(a => a[0, s]) > heads.Sum(a => a[0, first])) first = s;
        starts[0] = first;
        for (int i = 0; i < phon.Length; i++) start[phon[i]] = starts[i];
        return start;
    }

    /// <summary>Greedy transcripts of utterances (in chunks of 32); then one teacher-forced pass over each chunk's own outputs
    /// keeping every decoder layer's cross-attention, whose row t−1 (the query that emitted token t) gives its peak frame, and
    /// whose rows of all layers and heads give the phoneme starts (<see cref="PhonemeStarts"/>).</summary>
    public static Recognition[] Recognize(SpeechRecognizer recognizer, IReadOnlyList<(float[] Features, int Frames)> utterances)
    {
        var (model, cfg) = recognizer;
        int sub = recognizer.Subsampling;
        bool wasTraining = model.Training;
        model.Eval();
        var result = new Recognition[utterances.Count];
        try
        {
            for (int from = 0; from < utterances.Count; from += 32)
            {
                using var scope = Tensor.NewScope();
                var chunk = utterances.Skip(from).Take(32).ToArray();
                var (mel, pad) = SpeechTask.Batch(chunk, sub);
                using var noGrad = Autograd.NoGrad();
                var memory = model.Encode(mel, pad);                                          // (B, S, E)
                var outs = SpeechTask.Greedy(model, memory, pad);
                var (input, _) = SpeechTask.Targets(outs);                                    // (B, T)
                float[][] weights;                                                            // each (B, H, T, S)
                using (var capture = AttentionCapture.Start(model, Seq2SeqAttention.IsCross))
                {
                    model.Decode(memory, pad, input);
                    weights = capture.Records.Select(r => r.Weights).ToArray();
                }
                int B = chunk.Length, T = input.Shape[1], S = pad.Shape[1], H = cfg.Preset.Heads;
                int Peak(float[] w, int b, int h, int t)                                                    // h = −1: the mean over heads
                {
                    int best = 0; float bestV = float.NegativeInfinity;
                    for (int s = 0; s < S; s++)
                    {
                        float v = 0;
                        if (h >= 0) v = w[((b * H + h) * T + t) * S + s];
                        else for (int k = 0; k < H; k++) v += w[((b * H + k) * T + t) * S + s];
                        if (v > bestV) (best, bestV) = (s, v);
                    }
                    return best;
                }
                for (int b = 0; b < B; b++)
                {
                    int n = outs[b].Length;
                    var mean = weights.Select(w => Enumerable.Range(0, n).Select(t => Peak(w, b, -1, t)).ToArray()).ToArray();
                    var heads = weights.Select(w => Enumerable.Range(0, H).Select(h => Enumerable.Range(0, n).Select(t => Peak(w, b, h, t)).ToArray()).ToArray()).ToArray();
                    int frames = Math.Min(S, (chunk[b].Frames + sub - 1) / sub);
                    var starts = PhonemeStarts(weights, b, H, T, S, frames, outs[b], cfg.Vocab);
                    result[from + b] = new Recognition(outs[b], cfg.Vocab.Words(outs[b]), starts, mean, heads);
                }
            }
        }
        finally { model.Train(wasTraining); }
        return result;
    }

    /// <summary>Recognizes <paramref name="examples"/> and scores them (see <see cref="SpeechScore"/>).</summary>
    public static SpeechScore Score(SpeechRecognizer model, IReadOnlyList<SpeechExample> examples)
    {
        var rec = Recognize(model, examples.Select(e => (e.Features, e.Frames)).ToArray());
        var vocab = model.Vocab;
        int errors = 0, words = 0, layers = model.Config.Preset.DecoderLayers, H = model.Config.Preset.Heads;
        var headErrs = Enumerable.Range(0, layers * H).Select(_ => new List<double>()).ToArray();
        var errs = Enumerable.Range(0, layers).Select(_ => new List<double>()).ToArray();
        var signed = Enumerable.Range(0, layers).Select(_ => new List<double>()).ToArray();
        var dtw = new List<double>();
        for (int i = 0; i < examples.Count; i++)
        {
            var e = examples[i];
            errors += Metrics.EditDistance(e.Words, rec[i].Words);
            words += e.Words.Length;
            // the emitted phonemes (positions in the output) against the reference phonemes, matched by an edit-distance path
            var emitted = Enumerable.Range(0, rec[i].Tokens.Length).Where(t => vocab.IsPhoneme((int)rec[i].Tokens[t])).ToArray();
            var hyp = emitted.Select(t => vocab.Tokens[(int)rec[i].Tokens[t]]).ToArray();
            var reference = e.Phones.Select(p => p.Name).ToArray();
            foreach (var (hi, r) in Metrics.Matches(hyp, reference))
            {
                if (double.IsNaN(e.Phones[r].StartMs)) continue;                  // external voices: no phoneme times
                dtw.Add(FrameMs(rec[i].StartFrame[emitted[hi]], model.Subsampling) - e.Phones[r].StartMs);
                for (int l = 0; l < layers; l++)
                {
                    double d = FrameMs(rec[i].PeakFrame[l][emitted[hi]], model.Subsampling) - e.Phones[r].StartMs;
                    errs[l].Add(Math.Abs(d));
                    signed[l].Add(d);
                    for (int h = 0; h < H; h++) headErrs[l * H + h].Add(Math.Abs(FrameMs(rec[i].HeadPeakFrame[l][h][emitted[hi]], model.Subsampling) - e.Phones[r].StartMs));
                }
            }
        }
        return new SpeechScore(words == 0 ? 0 : (double)errors / words, words, Metrics.Median(dtw.Select(Math.Abs).ToArray()), dtw.Count == 0 ? double.NaN : dtw.Average(),
            errs.Select(Metrics.Median).ToArray(), signed.Select(s => s.Count == 0 ? double.NaN : s.Average()).ToArray(), errs[0].Count,
            Enumerable.Range(0, layers).Select(l => Enumerable.Range(0, H).Select(h => Metrics.Median(headErrs[l * H + h])).ToArray()).ToArray());
    }
}
