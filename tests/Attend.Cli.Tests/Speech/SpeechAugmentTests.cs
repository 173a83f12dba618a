using Attend.Cli.Speech;
using Attend.Data;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// The augmentations measured against what they claim, with independent measures: SNR from the energies, frequencies from
/// the Goertzel power at one frequency, RT60 from Schroeder's backward integral; determinism per seed; the flite/festival
/// pool; the real test set's listing.
/// </summary>
[Collection(SerialCollection.Name)]
public class SpeechAugmentTests
{
    const int Fs = 16000;

    static float[] Sine(double hz, int n, double amplitude = 0.5) =>
        Enumerable.Range(0, n).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * hz * i / Fs))).ToArray();

    static float[] Add(float[] a, float[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    static double Energy(IEnumerable<float> x) => x.Sum(v => (double)v * v);

    /// <summary>Power at <paramref name="hz"/> over the middle half of x (Goertzel), in dB.</summary>
    static double PowerDb(float[] x, double hz)
    {
        int from = x.Length / 4, n = x.Length / 2;
        double w = 2 * Math.PI * hz / Fs, c = 2 * Math.Cos(w), s1 = 0, s2 = 0;
        for (int i = 0; i < n; i++) (s2, s1) = (s1, x[from + i] + c * s1 - s2);
        return 10 * Math.Log10(s1 * s1 + s2 * s2 - c * s1 * s2 + 1e-30);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(12.5)]
    [InlineData(30.0)]
    public void Noise_is_added_at_the_requested_snr(double snr)
    {
        var x = Sine(440, Fs);
        foreach (var noise in new[] { Augment.White(new SplitMix64(1), Fs), Augment.Pink(new SplitMix64(2), Fs), Augment.Babble(new SplitMix64(3), [Sine(300, 5000), Sine(700, 9000), Sine(1200, 3000)], Fs) })
        {
            var y = (float[])x.Clone();
            Augment.AddNoise(y, noise, snr);
            double measured = 10 * Math.Log10(Energy(x) / Energy(y.Zip(x, (a, b) => a - b)));
            Assert.InRange(measured, snr - 0.01, snr + 0.01);
        }
    }

    [Fact]
    public void Speed_perturbation_scales_duration_and_frequency_together()
    {
        var x = Sine(1000, Fs);
        var fast = Augment.Speed(x, 1.1);
        Assert.InRange(fast.Length, Fs / 1.1 - 2, Fs / 1.1 + 2);
        Assert.True(PowerDb(fast, 1100) - PowerDb(fast, 1000) > 30, "the 1 kHz tone moves to 1.1 kHz");
        Assert.Same(x, Augment.Speed(x, 1.0));
    }

    [Fact]
    public void Telephone_and_low_pass_remove_the_high_band_and_keep_the_low()
    {
        var x = Add(Sine(1000, Fs), Sine(6000, Fs));
        var t = Augment.Telephone(x);
        Assert.Equal(x.Length, t.Length);
        Assert.True(PowerDb(t, 1000) - PowerDb(t, 6000) > 30, $"telephone: 6 kHz only {PowerDb(t, 1000) - PowerDb(t, 6000):F1} dB below 1 kHz");
        var low = Augment.Telephone(Add(Sine(100, Fs), Sine(1000, Fs)));
        Assert.True(PowerDb(low, 1000) - PowerDb(low, 100) > 12, "telephone: the 300 Hz high-pass takes 100 Hz down");
        var l = Augment.LowPass(Add(Sine(500, Fs), Sine(5000, Fs)), 2500);
        Assert.InRange(PowerDb(l, 500) - PowerDb(Sine(500, Fs), 500), -0.5, 0.1);   // the pass band keeps its level
        Assert.True(PowerDb(l, 500) - PowerDb(l, 5000) > 20, "low-pass at 2.5 kHz: 5 kHz is an octave above (−24 dB/octave)");
    }

    [Fact]
    public void Reverb_decays_at_the_requested_rt60_and_keeps_length_and_energy()
    {
        var impulse = new float[Fs];
        impulse[0] = 1;
        var h = Augment.Reverb(impulse, 0.5, 0, new SplitMix64(4));
        Assert.Equal(impulse.Length, h.Length);
        Assert.InRange(Energy(h), 0.999, 1.001);
        // Schroeder: EDC(t) = Σ_{τ ≥ t} h²; the slope between −5 and −25 dB extrapolated to −60 dB (T20)
        var edc = new double[h.Length];
        double acc = 0;
        for (int i = h.Length - 1; i >= 0; i--) edc[i] = acc += (double)h[i] * h[i];
        double Db(int i) => 10 * Math.Log10(edc[i] / edc[0]);
        int t5 = Array.FindIndex(edc, e => 10 * Math.Log10(e / edc[0]) <= -5), t25 = Array.FindIndex(edc, e => 10 * Math.Log10(e / edc[0]) <= -25);
        double rt60 = (t25 - t5) / (double)Fs * 60 / (Db(t5) - Db(t25));
        Assert.InRange(rt60, 0.42, 0.58);
        Assert.InRange(10 * Math.Log10(h[0] * h[0] / (Energy(h) - h[0] * h[0])), -0.5, 0.5);   // direct : reverberant = 0 dB
    }

    [Fact]
    public void Warp_and_spec_augment_act_on_the_feature_grid()
    {
        int frames = 200;
        var f = Enumerable.Range(0, frames * LogMel.Mels).Select(i => (float)(i % LogMel.Mels) + 1).ToArray();   // band m holds m + 1
        var same = (float[])f.Clone();
        Augment.Warp(same, frames, 1.0);
        Assert.Equal(f, same);
        var warped = (float[])f.Clone();
        Augment.Warp(warped, frames, 0.9);
        Assert.Equal(50 * 0.9 + 1, warped[LogMel.Mels + 50], 4);            // band 50 reads band 45
        Assert.Equal(LogMel.Mels, warped.Take(LogMel.Mels).Distinct().Count());

        var masked = (float[])f.Clone();
        Augment.SpecAugment(masked, frames, new SplitMix64(7));
        var again = (float[])f.Clone();
        Augment.SpecAugment(again, frames, new SplitMix64(7));
        Assert.Equal(masked, again);
        var zeroBands = Enumerable.Range(0, LogMel.Mels).Count(m => Enumerable.Range(0, frames).All(t => masked[t * LogMel.Mels + m] == 0));
        var zeroFrames = Enumerable.Range(0, frames).Count(t => Enumerable.Range(0, LogMel.Mels).All(m => masked[t * LogMel.Mels + m] == 0));
        Assert.InRange(zeroBands, 0, 30);
        Assert.InRange(zeroFrames, 0, 2 * Math.Min(40, frames / 10));
        Assert.True(zeroBands + zeroFrames > 0);
        Assert.All(Enumerable.Range(0, masked.Length), i => Assert.True(masked[i] == 0 || masked[i] == f[i]));
    }

    [Fact]
    public void Augmentation_names_parse_and_a_batch_is_fixed_by_its_seed()
    {
        Assert.Equal(Augmentation.All, Augmentation.Parse("all"));
        Assert.Equal("speed,spec", Augmentation.Parse("spec, speed").ToString());
        Assert.Equal("none", Augmentation.Parse("none").ToString());
        Assert.Contains("unknown augmentation 'echo'", Assert.Throws<SpeechException>(() => Augmentation.Parse("speed,echo")).Message);

        // a pool of external utterances only (no espeak-ng state): every augmentation, bit for bit the same per seed
        var pool = new[] { 300.0, 500.0, 800.0 }.Select((hz, i) => new PoolUtterance(Sine(hz, 8000 + 2000 * i, 0.2), ["five"], [new Phone("f", 0, double.NaN)], $"tone{i}")).ToArray();
        var mix = new SpeechMix(false, pool, 1, Augmentation.All);
        var a = SpeechData.MakeBatch(new SplitMix64(11), 8, mix);
        var b = SpeechData.MakeBatch(new SplitMix64(11), 8, mix);
        var c = SpeechData.MakeBatch(new SplitMix64(12), 8, mix);
        Assert.Equal(a.Select(e => e.Features), b.Select(e => e.Features));
        Assert.NotEqual(a.Select(e => e.Frames), c.Select(e => e.Frames));
        Assert.All(a, e => Assert.DoesNotContain(e.Features, v => !float.IsFinite(v)));
    }

    [Fact]
    public void Flite_and_festival_voices_speak_into_the_cache_once()
    {
        string cache = Path.Combine(Path.GetTempPath(), $"attend-voices-{Guid.NewGuid():N}");
        string? before = Environment.GetEnvironmentVariable("ATTEND_CACHE");
        Environment.SetEnvironmentVariable("ATTEND_CACHE", cache);
        try
        {
            var voices = new[] { VoicePool.Train[0], VoicePool.HeldOut[1] };       // flite kal, festival ked_diphone
            var log = new StringWriter();
            var pool = VoicePool.Load(voices, ["seven of hearts", "two nine"], log);
            Assert.Equal(4, pool.Length);
            Assert.Contains("Synthesizing 2 texts with flite:kal", log.ToString());
            Assert.Equal(["seven", "of", "hearts"], pool[0].Words);
            Assert.Equal(["s", "E", "v", "@", "n"], pool[0].Phones.Where(p => p.Word == 0).Select(p => p.Name));
            Assert.All(pool, u => Assert.InRange(u.Audio.Length / (double)Fs, 0.5, 3.0));
            Assert.All(pool, u => Assert.True(u.Audio.Max(Math.Abs) > 0.05f, $"{u.Voice} is silent"));
            Assert.Equal("festival:ked_diphone", pool[3].Voice);
            var again = new StringWriter();
            var cached = VoicePool.Load(voices, ["seven of hearts", "two nine"], again);
            Assert.Equal("", again.ToString());                                  // nothing synthesized the second time
            Assert.Equal(pool[1].Audio, cached[1].Audio);
            Assert.Empty(Directory.GetFiles(cache, "*.tmp.wav", SearchOption.AllDirectories));
        }
        finally
        {
            Environment.SetEnvironmentVariable("ATTEND_CACHE", before);
            try { Directory.Delete(cache, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void The_real_test_set_lists_seven_in_grammar_recordings_with_their_references()
    {
        var list = RealSpeech.List();
        var scored = list.Where(r => r.Scored).ToArray();
        Assert.Equal(["cards/001.wav", "cards/002.wav", "cards/003.wav", "cards/004.wav", "cards/005.wav", "tidigits/dhd.2934z.raw", "goforward.raw"], scored.Select(r => r.File));
        Assert.Equal("eight of spades four of clubs seven of hearts", scored[4].Reference);
        Assert.Equal(30, scored.Sum(r => r.Reference!.Split(' ').Length));
        Assert.All(scored, r => Assert.All(r.Reference!.Split(' '), w => Assert.Contains(w, SpeechData.Words)));
        Assert.Equal(5, list.Count(r => r.Group == "librivox" && !r.Scored));
        Assert.Contains("pocketsphinx-testdata", Assert.Throws<SpeechException>(() => RealSpeech.List("/nonexistent")).Message);
    }
}
