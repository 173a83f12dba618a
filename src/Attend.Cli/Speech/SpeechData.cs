using Attend.Data;

namespace Attend.Cli.Speech;

/// <summary>One training or test utterance: model features [Frames, 80], the words, and the phonemes with start times
/// (ms from the start of the 16 kHz audio, after the added leading silence).</summary>
public sealed record SpeechExample(float[] Features, int Frames, string[] Words, Phone[] Phones, string Voice);

/// <summary>
/// Synthetic speech, drawn from a <see cref="SplitMix64"/> so that a seed (and a checkpoint's saved state) fixes every
/// utterance. With <see cref="SpeechMix.ExternalShare"/> &gt; 0 that share of the utterances comes from the pool of
/// flite's and festival's voices (<see cref="VoicePool"/>); the rest espeak-ng speaks on the fly. An espeak-ng voice is an
/// accent (en-us, en-gb, scottish, …) plus a variant (f1…f5, m1…m8, klatt…, croak, or none); the variants in
/// <see cref="HeldOutVariants"/> are never trained on — the held-out voices are every accent spoken with one of them.
/// Each utterance draws:
/// <code>
/// text    45% digit strings (1–7 of zero/oh/one…nine), 35% playing cards ("seven of hearts", "ace king of spades", …
///         the grammar of pocketsphinx's cards test), 20% commands ("go forward ten meters", "turn left", "stop", …)
/// source  the external pool (one of its utterances) or espeak-ng: accent × variant, 130–240 words/min, pitch 25–75
/// audio   → 16 kHz; 0–300 ms of silence before, 0–200 ms after; then <see cref="Augment"/> with a generator seeded by
///         the utterance's own draw (augmentations off: gain −20…+6 dB and, 4 times in 5, white noise at 5–40 dB SNR,
///         the SNR being the clip's energy over the noise's)
/// </code>
/// </summary>
public static class SpeechData
{
    public static readonly string[] Accents = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"];
    public static readonly string[] TrainVariants = ["", "f1", "f2", "f3", "f5", "m1", "m2", "m3", "m4", "m5", "m7", "m8", "klatt", "klatt2", "klatt4", "croak"];
    public static readonly string[] HeldOutVariants = ["f4", "m6", "klatt3"];
    public static readonly string[] Digits = ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    public static readonly string[] Ranks = ["ace", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "jack", "queen", "king"];
    public static readonly string[] Suits = ["clubs", "hearts", "diamonds", "spades"];
    static readonly string[] Numbers = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
    static readonly string[] Commands = ["stop", "yes", "no", "turn left", "turn right", "go back", "go forward"];

    /// <summary>Every word the texts use, sorted.</summary>
    public static readonly string[] Words = Digits.Concat(Ranks).Concat(Suits).Concat(["of", "go", "forward", "back", "meters", "turn", "left", "right", "stop", "yes", "no"])
        .Distinct().Order(StringComparer.Ordinal).ToArray();

    public static string[] Voices(bool heldOut) =>
        Accents.SelectMany(a => (heldOut ? HeldOutVariants : TrainVariants).Select(v => v.Length == 0 ? a : $"{a}+{v}")).ToArray();

    static T Pick<T>(SplitMix64 rng, IReadOnlyList<T> items) => items[rng.NextInt(items.Count)];

    /// <summary>A random text (see the class).</summary>
    public static string Text(SplitMix64 rng)
    {
        double u = rng.NextDouble();
        if (u < 0.45) return string.Join(' ', Enumerable.Range(0, 1 + rng.NextInt(7)).Select(_ => Pick(rng, Digits)));
        if (u < 0.80)
        {
            string Card() => $"{Pick(rng, Ranks)} of {Pick(rng, Suits)}";
            return rng.NextInt(5) switch
            {
                0 => $"{Card()} {Card()}",
                1 => $"{Card()} {Card()} {Card()}",
                2 => $"{Pick(rng, Ranks)} {Card()}",
                3 => $"{Pick(rng, Ranks)} {Pick(rng, Ranks)}",
                _ => Card(),
            };
        }
        return rng.NextInt(2) == 0 ? $"go {(rng.NextInt(2) == 0 ? "forward" : "back")} {Pick(rng, Numbers)} meters" : Pick(rng, Commands);
    }

    /// <summary>A batch of random utterances (see the class and <see cref="SpeechMix"/>), as the model sees them: each drawn
    /// clean first, then augmented with its own generator, seeded from <paramref name="rng"/>, with the batch's other clean
    /// utterances as babble.</summary>
    public static SpeechExample[] MakeBatch(SplitMix64 rng, int count, SpeechMix mix)
    {
        var clean = Enumerable.Range(0, count).Select(_ => Draw(rng, mix, replay: false)!).ToArray();
        return clean.Select((c, i) => Finish(c, mix.Augment, clean.Where((_, j) => j != i).Select(o => o.Audio).ToArray())).ToArray();
    }

    /// <summary>
    /// Makes the same espeak-ng calls and the same draws from <paramref name="rng"/> as <see cref="MakeBatch"/>, without the
    /// resampling, augmentation or features. espeak-ng keeps internal state from one utterance to the next (its waveform for
    /// a text differs by a few samples with what it spoke before), so an exact --resume replays the utterances spoken
    /// before the checkpoint.
    /// </summary>
    public static void ReplayBatch(SplitMix64 rng, int count, SpeechMix mix)
    {
        for (int i = 0; i < count; i++) Draw(rng, mix, replay: true);
    }

    sealed record Clean(float[] Audio, string[] Words, Phone[] Phones, string Voice, ulong AugmentSeed);

    /// <summary>Source, text, voice, rate, pitch, silences and the augmentation seed, all drawn before espeak-ng speaks.</summary>
    static Clean? Draw(SplitMix64 rng, SpeechMix mix, bool replay)
    {
        bool external = mix.Pool.Length > 0 && rng.NextDouble() < mix.ExternalShare;
        int before = rng.NextInt(LogMel.SampleRate * 3 / 10), after = rng.NextInt(LogMel.SampleRate / 5);
        ulong seed = rng.Next();
        float[] audio; string[] words; Phone[] phones; string voice;
        if (external)
        {
            var u = mix.Pool[rng.NextInt(mix.Pool.Length)];
            if (replay) return null;
            (audio, words, phones, voice) = (u.Audio, u.Words, u.Phones, u.Voice);
        }
        else
        {
            string text = Text(rng);
            voice = Pick(rng, Voices(mix.HeldOut));
            int rate = 130 + rng.NextInt(111), pitch = 25 + rng.NextInt(51);
            var s = Espeak.Synthesize(text, voice, rate, pitch);
            if (replay) return null;
            audio = Resampler.Resample(s.Samples, s.Rate, LogMel.SampleRate);
            (words, phones) = (text.Split(' '), s.Phones);
        }
        var x = new float[before + audio.Length + after];
        Array.Copy(audio, 0, x, before, audio.Length);
        double shiftMs = before * 1000.0 / LogMel.SampleRate;
        return new Clean(x, words, phones.Select(p => p with { StartMs = p.StartMs + shiftMs }).ToArray(), voice, seed);
    }

    /// <summary>Speed, the waveform chain, log-mel features, then the feature augmentations (<see cref="Augment"/>).</summary>
    static SpeechExample Finish(Clean c, Augmentation a, float[][] others)
    {
        var rng = new SplitMix64(c.AugmentSeed);
        double speed = Augment.SpeedFactor(a, rng);
        var x = Augment.Wave(Augment.Speed(c.Audio, speed), a, rng, others);
        var features = LogMel.Features(x, out int frames);
        if (a.Pitch) Augment.Warp(features, frames, 0.9 + 0.2 * rng.NextDouble());
        if (a.Spec) Augment.SpecAugment(features, frames, rng);
        return new SpeechExample(features, frames, c.Words, c.Phones.Select(p => p with { StartMs = p.StartMs / speed }).ToArray(), c.Voice);
    }
}

/// <summary>
/// What utterances are drawn from: espeak-ng's training or held-out voices, and a share of them replaced by utterances of
/// external voices (<see cref="VoicePool"/>), augmented as <see cref="Augmentation"/> says.
/// </summary>
public sealed record SpeechMix(bool HeldOut, PoolUtterance[] Pool, double ExternalShare, Augmentation Augment)
{
    /// <summary>espeak-ng's voices only, today's recipe.</summary>
    public static SpeechMix Espeak(bool heldOut) => new(heldOut, [], 0, Augmentation.None);
}
