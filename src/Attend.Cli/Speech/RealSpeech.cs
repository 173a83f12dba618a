using System.Text.RegularExpressions;
using Attend.Cli.Ui;
using Attend.Training;

namespace Attend.Cli.Speech;

/// <summary>One recording of the real test set: its path under the data folder, its group, and its reference transcript
/// (null when none ships); <see cref="Scored"/> when it is in the 31-word grammar and has a reference.</summary>
public sealed record RealRecording(string File, string Group, string? Reference, bool Scored);

/// <summary>A recording's transcript and word errors (−1 when not scored).</summary>
public sealed record RealResult(RealRecording Recording, string Transcript, int Errors, int Words);

/// <summary>
/// The real recordings of Debian's <c>pocketsphinx-testdata</c> (<c>/usr/share/pocketsphinx/test/data</c>), a test set only:
/// nothing here is trained or tuned on. Scored: every in-grammar recording with a reference —
/// <code>
/// cards/001…005.wav        references from cards/cards.transcription (pocketsphinx's cards test)
/// tidigits/dhd.2934z.raw   "two nine three four zero": TIDIGITS' file naming (z = zero, o = oh), as man.ah.2934za in
///                          tidigits/test-tidigits-simple.match
/// goforward.raw            "go forward ten meters", the sentence of goforward.gram that pocketsphinx's FSG test expects
/// </code>
/// Shown, not scored: numbers.raw and something.raw (no transcript ships) and the LibriVox sentences (outside the grammar;
/// their transcripts from librivox/transcription). The 31 tidigits/*.mfc utterances are MFCC features, not audio, so a
/// log-mel model cannot read them.
/// </summary>
public static class RealSpeech
{
    public const string DefaultDir = "/usr/share/pocketsphinx/test/data";
    public const string InstallHint = "apt-get install -y pocketsphinx-testdata";

    /// <summary>The recordings under <paramref name="dir"/>, scored ones first; throws with the apt command when missing.</summary>
    public static RealRecording[] List(string dir = DefaultDir)
    {
        string cards = Path.Combine(dir, "cards", "cards.transcription");
        if (!File.Exists(cards)) throw new SpeechException($"no pocketsphinx test data in '{dir}' ({cards} is missing); install it with: {InstallHint}");
        var list = new List<RealRecording>();
        foreach (var line in File.ReadAllLines(cards))
        {
            var m = Regex.Match(line, @"^<s>\s*(.*?)\s*</s>\s*\((\w+)\)");
            if (!m.Success) throw new SpeechException($"{cards}: cannot read the line '{line}'");
            list.Add(new($"cards/{m.Groups[2].Value}.wav", "cards", m.Groups[1].Value, true));
        }
        list.Add(new("tidigits/dhd.2934z.raw", "tidigits", "two nine three four zero", true));
        list.Add(new("goforward.raw", "commands", "go forward ten meters", true));
        list.Add(new("numbers.raw", "digits?", null, false));
        list.Add(new("something.raw", "other", null, false));
        string libri = Path.Combine(dir, "librivox", "transcription");
        if (File.Exists(libri))
            foreach (var line in File.ReadAllLines(libri))
                if (Regex.Match(line, @"^<s>\s*(.*?)\s*</s>\s*\(([\w-]+)\)") is { Success: true } m)
                    list.Add(new($"librivox/{m.Groups[2].Value}.wav", "librivox", m.Groups[1].Value, false));
        return list.Where(r => File.Exists(Path.Combine(dir, r.File))).ToArray();
    }

    /// <summary>Transcribes every recording and counts the word errors of the scored ones.</summary>
    public static RealResult[] Score(SpeechRecognizer model, string dir = DefaultDir)
    {
        var list = List(dir);
        var inputs = list.Select(r => (LogMel.Features(Wav.ReadMono(Path.Combine(dir, r.File)), out int frames), frames)).ToArray();
        var rec = SpeechEval.Recognize(model, inputs);
        return list.Select((r, i) =>
        {
            var reference = r.Reference?.Split(' ') ?? [];
            return new RealResult(r, string.Join(' ', rec[i].Words), r.Scored ? Metrics.EditDistance(reference, rec[i].Words) : -1, r.Scored ? reference.Length : 0);
        }).ToArray();
    }

    /// <summary>The WER over the scored recordings.</summary>
    public static double Wer(IReadOnlyList<RealResult> results) =>
        (double)results.Where(r => r.Recording.Scored).Sum(r => r.Errors) / Math.Max(1, results.Sum(r => r.Words));

    /// <summary>file, reference, transcript and WER per file; then the total.</summary>
    public static void Write(TextWriter log, IReadOnlyList<RealResult> results)
    {
        var table = Terminal.Table("file", "reference", "transcript", ">WER");
        foreach (var r in results)
            table.Row(Regex.Replace(r.Recording.File, @"^librivox/.*-(\d+\.wav)$", "librivox/…-$1"), r.Recording.Reference ?? "(no transcript ships)", r.Transcript,
                r.Recording.Scored ? $"{100.0 * r.Errors / r.Words:F0}%" : "not scored");
        Terminal.Write(log, table);
        int errors = results.Where(r => r.Recording.Scored).Sum(r => r.Errors), words = results.Sum(r => r.Words);
        log.WriteLine($"Real recordings (pocketsphinx-testdata, {results.Count(r => r.Recording.Scored)} in-grammar files): {errors} errors in {words} words, WER {100 * Wer(results):F1}%.");
    }
}
