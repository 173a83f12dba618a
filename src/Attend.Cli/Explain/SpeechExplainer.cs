using Attend.Cli.Speech;
using Attend.Data;
using Attend.Interpret;
using Attend.Training;

namespace Attend.Cli.Explain;

/// <summary>
/// A speech recognizer (<c>attend train speech</c>): a WAV file (16-bit PCM, any rate, resampled to 16 kHz as
/// <c>attend transcribe</c> does) or words to synthesize with espeak-ng in; out the transcript, the encoder
/// self-attention over its frames, the decoder self- and cross-attention, word timings by DTW over the alignment heads
/// (<see cref="AttentionAlignment"/>; here every head of the second half of the decoder layers, Whisper's default when
/// no heads were chosen), and a PNG of the log-mel spectrogram with the alignment drawn under it.
/// <code>
/// decoder input  &lt;s&gt; s E v @ n #seven …          row t of a cross map: the query that wrote token t
/// written        s E v @ n #seven … &lt;/s&gt;          (the &lt;/s&gt; row ends the last word)
/// </code>
/// </summary>
public sealed class SpeechExplainer(SpeechRecognizer recognizer) : IMediaExplainer
{
    /// <summary>The largest WAV read (40 s, the model's limit, of 48 kHz 16-bit stereo is 7.7 MB; the explorer's uploads
    /// are limited further, to <see cref="ServeCommand.MaxFile"/>).</summary>
    public const int MaxFile = 64 * 1024 * 1024;
    public const string Voice = "en-us";
    /// <summary>The attention flow only for stacks of at most this many tokens (the decoder's, usually; not 1–2 s of frames).</summary>
    public const int FlowTokens = 24;

    public string Description => $"speech recognizer (attend train speech, preset {recognizer.Config.Preset.Name}): log-mel → {recognizer.Config.Preset.EncoderLayers}-layer encoder " +
                                 $"({10 * recognizer.Subsampling} ms frames) → {recognizer.Config.Preset.DecoderLayers}-layer decoder with cross-attention, {recognizer.Config.Preset.Heads} heads, phonemes and words";
    public string Example => "seven of hearts";
    public int MaxInput => 120;
    public string Accept => ".wav,audio/wav,audio/x-wav";
    public bool TakesText => true;

    public Explanation Explain(string input) => ExplainText(input).Explanation;

    /// <summary>Speaks <paramref name="text"/> with espeak-ng (voice en-us, 175 words/min) and explains that audio; the
    /// spectrogram also shows espeak's phoneme starts, and the summary compares its word starts with DTW's.</summary>
    public MediaExplanation ExplainText(string text)
    {
        text = string.Join(' ', text.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (text.Length == 0) throw Explainers.Bad($"the input is empty: type words to synthesize, e.g. \"{Example}\", or give a .wav file");
        if (text.Length > MaxInput) throw Explainers.Bad($"the input has {text.Length} characters; at most {MaxInput}");
        int bad = text.IndexOf(text.FirstOrDefault(c => c != ' ' && !char.IsAsciiLetterLower(c)));
        if (bad >= 0) throw Explainers.Bad($"character '{text[bad]}' at position {bad + 1}: type words (letters and spaces) for espeak-ng to speak");
        try
        {
            var s = Espeak.Synthesize(text, Voice, 175, 50);
            var audio = Resampler.Resample(s.Samples, s.Rate, LogMel.SampleRate);
            return Run(audio, $"\"{text}\" (espeak-ng {Voice})", s.Phones, text.Split(' '));
        }
        catch (SpeechException ex) { throw Explainers.Bad(ex.Message); }
    }

    public MediaExplanation ExplainFile(byte[] bytes, string name)
    {
        if (bytes.Length > MaxFile) throw Explainers.Bad($"{name} is {bytes.Length} bytes; at most {MaxFile}");
        try
        {
            var (samples, rate) = Wav.Parse(bytes, name);
            return Run(Resampler.Resample(samples, rate, LogMel.SampleRate), name, null, null);
        }
        catch (SpeechException ex) { throw Explainers.Bad(ex.Message); }
    }

    MediaExplanation Run(float[] audio, string input, Phone[]? phones, string[]? spoken)
    {
        var features = LogMel.Features(audio, out int frames);
        int n = recognizer.Subsampling;
        var (model, cfg) = recognizer;
        var vocab = cfg.Vocab;
        // 1) transcribe greedily, 2) one teacher-forced pass over <s> + the output with a capture open
        var (mel, pad) = SpeechTask.Batch([(features, frames)], n);                               // (1, F, 80), (1, S)
        long[] outs;
        bool wasTraining = model.Training;
        model.Eval();
        using (Tensor.NewScope()) using (Autograd.NoGrad()) outs = SpeechTask.Greedy(model, model.Encode(mel, pad), pad)[0];
        model.Train(wasTraining);
        var (tgt, _) = SpeechTask.Targets([outs]);                                                // (1, N + 1)
        var records = Seq2SeqAttention.Capture(model, mel, pad, tgt);
        int S = pad.Shape[1];
        string[] frameLabels = Enumerable.Range(0, S).Select(k => $"{k * n * 0.01:F2}s").ToArray();
        string[] written = [.. outs.Select(t => vocab.Tokens[(int)t]), "</s>"], decoderInput = ["<s>", .. written[..^1]];
        var views = Seq2SeqAttention.Views(records, frameLabels, decoderInput, written);
        // 3) word timings: DTW over the alignment heads (second half of the decoder layers)
        int layers = cfg.Preset.DecoderLayers, from = layers / 2, width = n == 2 ? 7 : 3;
        var cross = views.Where(v => v.Kind == "cross").ToList();
        var heads = cross.Skip(from).SelectMany(v => v.Maps).ToList();
        var wordEnds = Enumerable.Range(0, outs.Length).Where(t => PhonemeTokenizer.IsWord(written[t])).Select(t => t + 1).ToArray();
        var words = wordEnds.Select(e => written[e - 1][1..]).ToArray();
        var timings = AttentionAlignment.Words(heads, words, wordEnds, n * 0.01, width);
        string note = $"DTW over the cross-attention of decoder layer{(layers - from > 1 ? "s" : "")} {string.Join(", ", Enumerable.Range(from, layers - from))}, " +
                      $"all {cfg.Preset.Heads} heads, standardized over tokens, median filter {width} frames; {10 * n} ms per frame";
        var e = new Explanation("speech", input, string.Join(' ', words), views) { WordTimings = timings, WordNote = note, MaxFlowTokens = FlowTokens };
        var matrix = AttentionAlignment.Matrix(heads, width);                                  // (N + 1, S)
        var (tok, fr) = AttentionAlignment.Dtw(AttentionAlignment.Negate(matrix));
        var png = SpectrogramPng.Encode($"{input} → {e.Output}", features, frames, n, written, matrix, tok, fr, timings, phones);
        return new MediaExplanation(e, [("png/spectrogram-alignment.png", png)], Compare(timings, phones, spoken));
    }

    /// <summary>With espeak's phonemes: each word's DTW start against espeak's (its first phoneme's start).</summary>
    static string Compare(WordTiming[] timings, Phone[]? phones, string[]? spoken)
    {
        if (phones is null || spoken is null) return "";
        var lines = new List<string> { "", "DTW word starts vs espeak-ng's (first phoneme of the word):" };
        var diffs = new List<double>();
        for (int w = 0, k = 0; w < spoken.Length; w++)
        {
            var first = phones.FirstOrDefault(p => p.Word == w);
            double? espeak = first?.StartMs / 1000;
            int match = Array.FindIndex(timings, k, t => t.Word == spoken[w]);
            if (match >= 0) k = match + 1;
            string dtw = match >= 0 ? $"{timings[match].Start:F2} s" : "(not recognized)";
            if (match >= 0 && espeak is double es) diffs.Add(Math.Abs(timings[match].Start - es));
            lines.Add($"  {spoken[w],-10} espeak {(espeak is double x ? $"{x:F2} s" : "—"),7}   DTW {dtw}");
        }
        if (diffs.Count > 0) lines.Add($"  median |DTW − espeak| over {diffs.Count} words: {1000 * Metrics.Median(diffs):F0} ms");
        return string.Join('\n', lines) + "\n";
    }
}
