using System.Diagnostics;
using System.Globalization;
using System.Text;
using Attend.Data;

namespace Attend.Cli.Speech;

/// <summary>A voice of another synthesizer: its engine ("flite" or "festival"), its name there, and the espeak-ng accent
/// whose phonemes stand for its pronunciation in the targets (en-us for the American voices, Scottish for awb).</summary>
public sealed record ExternalVoice(string Engine, string Name, string Accent)
{
    public override string ToString() => $"{Engine}:{Name}";
}

/// <summary>One utterance of an external voice: 16 kHz audio, its words and espeak-ng's phonemes for them (no times:
/// <see cref="Phone.StartMs"/> is NaN, so alignment is scored on espeak-ng's voices only).</summary>
public sealed record PoolUtterance(float[] Audio, string[] Words, Phone[] Phones, string Voice);

/// <summary>
/// Voices of Debian's flite (kal, kal16, awb, rms, slt) and festival (kal_diphone, ked_diphone, cmu_us_slt_arctic_hts).
/// A process launch per utterance (flite: ~60 ms; festival: ~0.3 s) would starve training on 2 cores, so each voice
/// speaks a fixed pool of texts once — drawn from a fixed seed, so every run sees the same pool — into a cache folder
/// (<c>$ATTEND_CACHE</c>, else <c>~/.cache/attend</c>, <c>/speech-voices/ENGINE-VOICE/</c>; one WAV per text, written to a
/// temporary name and renamed), and training augments the pool on the fly. flite runs once per text; festival runs once
/// per voice over a Scheme script that saves every text. rms (flite) and ked_diphone (festival) are never trained on.
/// </summary>
public static class VoicePool
{
    public const string InstallHint = "apt-get install -y flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts";
    public static readonly ExternalVoice[] Train =
    [
        new("flite", "kal", "en-us"), new("flite", "kal16", "en-us"), new("flite", "awb", "en-gb-scotland"), new("flite", "slt", "en-us"),
        new("festival", "kal_diphone", "en-us"), new("festival", "cmu_us_slt_arctic_hts", "en-us"),
    ];
    public static readonly ExternalVoice[] HeldOut = [new("flite", "rms", "en-us"), new("festival", "ked_diphone", "en-us")];

    /// <summary>The cache folder of the voices' WAV files.</summary>
    public static string CacheDir => Path.Combine(Environment.GetEnvironmentVariable("ATTEND_CACHE")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "attend"), "speech-voices");

    /// <summary><paramref name="count"/> texts from <paramref name="seed"/> (see <see cref="SpeechData.Text"/>).</summary>
    public static string[] Texts(ulong seed, int count)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, count).Select(_ => SpeechData.Text(rng)).ToArray();
    }

    /// <summary>
    /// Each voice speaking each text: synthesized into the cache when missing (two at a time), then read back at 16 kHz,
    /// with espeak-ng's phonemes of the text in the voice's accent. Throws with the apt command when an engine is missing.
    /// </summary>
    public static PoolUtterance[] Load(IReadOnlyList<ExternalVoice> voices, IReadOnlyList<string> texts, TextWriter? log = null)
    {
        var distinct = texts.Distinct().ToArray();
        foreach (var v in voices)
        {
            var dir = Path.Combine(CacheDir, $"{v.Engine}-{v.Name}");
            var missing = distinct.Where(t => !File.Exists(PathOf(dir, t))).ToArray();
            if (missing.Length == 0) continue;
            log?.WriteLine($"Synthesizing {missing.Length} texts with {v} into {dir} (once) …");
            Directory.CreateDirectory(dir);
            if (v.Engine == "flite")
                Parallel.ForEach(missing, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t => Flite(v.Name, t, PathOf(dir, t)));
            else
                Parallel.ForEach(missing.Chunk((missing.Length + 1) / 2), new ParallelOptions { MaxDegreeOfParallelism = 2 }, part => Festival(v.Name, part, dir));
        }
        var result = new List<PoolUtterance>();
        foreach (var v in voices)
        {
            var dir = Path.Combine(CacheDir, $"{v.Engine}-{v.Name}");
            foreach (var t in texts)                                   // in order: espeak-ng's phonemes change its state
                result.Add(new PoolUtterance(Wav.ReadMono(PathOf(dir, t)), t.Split(' '),
                    Espeak.Synthesize(t, v.Accent, 175, 50).Phones.Select(p => p with { StartMs = double.NaN }).ToArray(), v.ToString()));
        }
        return result.ToArray();
    }

    /// <summary>The cache file of a text: its words joined by '_'.</summary>
    static string PathOf(string dir, string text) => Path.Combine(dir, text.Replace(' ', '_') + ".wav");

    static void Flite(string voice, string text, string path)
    {
        string tmp = path + $".{Environment.ProcessId}.tmp.wav";
        Run("flite", ["-voice", voice, "-t", text, "-o", tmp], null);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>One festival process speaks every text of <paramref name="texts"/> (its voice's selector is voice_NAME).</summary>
    static void Festival(string voice, string[] texts, string dir)
    {
        var script = new StringBuilder($"(voice_{voice})\n");
        var tmps = texts.Select(t => PathOf(dir, t) + $".{Environment.ProcessId}.tmp.wav").ToArray();
        for (int i = 0; i < texts.Length; i++)
            script.Append(CultureInfo.InvariantCulture, $"(utt.save.wave (utt.synth (Utterance Text \"{texts[i]}\")) \"{tmps[i]}\" 'riff)\n");
        Run("festival", ["--pipe"], script.ToString());
        for (int i = 0; i < texts.Length; i++)
        {
            if (!File.Exists(tmps[i])) throw new SpeechException($"festival (voice {voice}) wrote no audio for '{texts[i]}'; is its voice installed? ({InstallHint})");
            File.Move(tmps[i], PathOf(dir, texts[i]), overwrite: true);
        }
    }

    static void Run(string exe, string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardInput = stdin is not null, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception) { throw new SpeechException($"{exe} is not installed; install the voices with: {InstallHint}"); }
        using (p)
        {
            if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new SpeechException($"{exe} {string.Join(' ', args)} failed (exit {p.ExitCode}): {err.Result.Trim()}");
        }
    }
}
