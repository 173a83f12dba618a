using System.Buffers.Binary;
using Attend.Cli.Speech;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>The speech front end against float64 references computed here: WAV reading, resampling, the HTK mel filterbank,
/// log-mel frames (a direct DFT), the bad-audio errors, and the WER / edit-path helpers.</summary>
public class SpeechFrontEndTests
{
    static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"attend-speech-{Guid.NewGuid():N}-{name}");

    /// <summary>A minimal WAV with the given fmt fields and raw data bytes.</summary>
    static byte[] WavBytes(int format, int channels, int rate, int bits, byte[] data, int? declaredDataBytes = null)
    {
        var b = new byte[44 + data.Length];
        "RIFF"u8.CopyTo(b); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)(36 + data.Length)); "WAVE"u8.CopyTo(b.AsSpan(8));
        "fmt "u8.CopyTo(b.AsSpan(12)); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(20), (ushort)format); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(22), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), (uint)rate); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), (uint)(rate * channels * bits / 8));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(32), (ushort)(channels * bits / 8)); BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(34), (ushort)bits);
        "data"u8.CopyTo(b.AsSpan(36)); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(40), (uint)(declaredDataBytes ?? data.Length));
        data.CopyTo(b, 44);
        return b;
    }

    [Fact]
    public void Wav_stereo_16bit_is_read_as_the_channel_mean()
    {
        // left = 1000, right = −3000, then left = 32767, right = 32767 → means −1000 and 32767, over 32768
        var data = new byte[8];
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(0), 1000); BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2), -3000);
        BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(4), 32767); BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(6), 32767);
        var (samples, rate) = Wav.Parse(WavBytes(1, 2, 44100, 16, data), "x.wav");
        Assert.Equal(44100, rate);
        Assert.Equal(new[] { -1000f / 32768, 32767f / 32768 }, samples);
    }

    [Fact]
    public void Wav_write_then_read_round_trips_to_16bit_precision()
    {
        string path = Temp("rt.wav");
        try
        {
            var x = Enumerable.Range(0, 1000).Select(i => (float)(0.7 * Math.Sin(i * 0.05))).ToArray();
            Wav.Write(path, x, 8000, channels: 2);
            var (y, rate) = Wav.Read(path);
            Assert.Equal(8000, rate);
            Assert.Equal(x.Length, y.Length);
            for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Round(x[i] * 32768.0) / 32768, y[i], 7);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(3, 32, "IEEE float 32-bit (format 3)")]
    [InlineData(1, 24, "24-bit PCM")]
    [InlineData(1, 8, "8-bit PCM")]
    [InlineData(7, 8, "µ-law (format 7)")]
    public void Unsupported_wav_encodings_are_named(int format, int bits, string named)
    {
        var ex = Assert.Throws<SpeechException>(() => Wav.Parse(WavBytes(format, 1, 16000, bits, new byte[64]), "in.wav"));
        Assert.Contains($"unsupported WAV encoding {named}", ex.Message);
        Assert.Contains("in.wav", ex.Message);
    }

    [Fact]
    public void Malformed_wavs_say_what_and_where()
    {
        Assert.Contains("not a WAV file", Assert.Throws<SpeechException>(() => Wav.Parse("hello world, no header"u8.ToArray(), "t.wav")).Message);
        var truncated = Assert.Throws<SpeechException>(() => Wav.Parse(WavBytes(1, 1, 16000, 16, new byte[10], declaredDataBytes: 1000), "t.wav"));
        Assert.Contains("data chunk at offset 36 declares 1000 bytes but the file ends after 10", truncated.Message);
        var noData = WavBytes(1, 1, 16000, 16, Array.Empty<byte>())[..36];
        Assert.Contains("no data chunk", Assert.Throws<SpeechException>(() => Wav.Parse(noData, "t.wav")).Message);
        Assert.Contains("no such audio file", Assert.Throws<SpeechException>(() => Wav.Read(Temp("missing.wav"))).Message);
    }

    [Theory]
    [InlineData(22050, 16000, 440.0)]
    [InlineData(8000, 16000, 1000.0)]
    [InlineData(44100, 16000, 3000.0)]
    public void Resampling_keeps_a_sine_in_band(int inRate, int outRate, double hz)
    {
        var x = Enumerable.Range(0, inRate / 2).Select(i => (float)Math.Sin(2 * Math.PI * hz * i / inRate)).ToArray();
        var y = Resampler.Resample(x, inRate, outRate);
        Assert.Equal(outRate / 2, y.Length);
        double maxErr = 0;
        for (int n = 100; n < y.Length - 100; n++)                         // away from the edges, where zeros are seen
            maxErr = Math.Max(maxErr, Math.Abs(y[n] - Math.Sin(2 * Math.PI * hz * n / outRate)));
        Assert.True(maxErr < 2e-3, $"max error {maxErr}");
    }

    [Fact]
    public void Resampling_removes_what_the_lower_rate_cannot_hold()
    {
        // 10 kHz is above 16 kHz's Nyquist (8 kHz): without the low-pass it would alias to 6 kHz at full amplitude
        var x = Enumerable.Range(0, 22050).Select(i => (float)Math.Sin(2 * Math.PI * 10000 * i / 44100.0)).ToArray();
        var y = Resampler.Resample(x, 44100, 16000);
        double rms = Math.Sqrt(y.Skip(200).SkipLast(200).Average(v => (double)v * v));
        Assert.True(rms < 0.01, $"rms {rms}");
    }

    [Fact]
    public void Mel_filterbank_matches_the_htk_formula_in_float64()
    {
        var fb = LogMel.Filterbank(80, 512, 16000, 0, 8000);
        // reference: mel points by the HTK formula, each filter as the linear interpolation through (f[m], 0), (f[m+1], 1), (f[m+2], 0)
        double mMax = 2595 * Math.Log10(1 + 8000 / 700.0);
        var f = Enumerable.Range(0, 82).Select(i => 700 * (Math.Pow(10, mMax * i / 81 / 2595) - 1)).ToArray();
        for (int m = 0; m < 80; m++)
            for (int k = 0; k < 257; k++)
            {
                double hz = k * 16000.0 / 512;
                double want = hz <= f[m] || hz >= f[m + 2] ? 0 : hz <= f[m + 1] ? (hz - f[m]) / (f[m + 1] - f[m]) : (f[m + 2] - hz) / (f[m + 2] - f[m + 1]);
                Assert.True(Math.Abs(fb[m, k] - want) < 1e-6, $"fb[{m},{k}] = {fb[m, k]}, want {want}");
            }
        Assert.All(Enumerable.Range(0, 80), m => Assert.True(Enumerable.Range(0, 257).Any(k => fb[m, k] > 0), $"band {m} is empty"));
    }

    [Fact]
    public void Log_mel_frames_match_a_direct_dft_in_float64()
    {
        var rng = new Random(4);
        var x = Enumerable.Range(0, 400 + 160 * 4).Select(i => (float)(0.3 * Math.Sin(i * 0.3) + 0.1 * (rng.NextDouble() - 0.5))).ToArray();
        var got = LogMel.Compute(x, out int frames);
        Assert.Equal(5, frames);
        var fb = LogMel.Filterbank(80, 512, 16000, 0, 8000);
        for (int t = 0; t < frames; t++)
        {
            var power = new double[257];
            for (int k = 0; k < 257; k++)
            {
                double re = 0, im = 0;
                for (int n = 0; n < 400; n++)
                {
                    double v = x[160 * t + n] * (0.5 - 0.5 * Math.Cos(2 * Math.PI * n / 400));
                    re += v * Math.Cos(2 * Math.PI * k * n / 512); im -= v * Math.Sin(2 * Math.PI * k * n / 512);
                }
                power[k] = re * re + im * im;
            }
            for (int m = 0; m < 80; m++)
            {
                double want = Math.Log(Enumerable.Range(0, 257).Sum(k => fb[m, k] * power[k]) + 1e-6);
                Assert.True(Math.Abs(got[t * 80 + m] - want) < 1e-3 * Math.Max(1, Math.Abs(want)), $"frame {t} band {m}: {got[t * 80 + m]} vs {want}");
            }
        }
    }

    [Fact]
    public void Features_remove_gain_and_refuse_silence_and_empty_or_short_audio()
    {
        var rng = new Random(5);      // broadband (noise + a tone), so that no band sits at the log floor
        var x = Enumerable.Range(0, 8000).Select(i => (float)(0.2 * Math.Sin(i * 0.1) + 0.3 * (rng.NextDouble() - 0.5))).ToArray();
        var a = LogMel.Features(x, out int frames);
        var b = LogMel.Features(x.Select(v => v * 0.25f).ToArray(), out _);
        Assert.Equal(48, frames);
        // equal but for the log floor (1e-6), which matters only in frames where a narrow low band happens to be nearly empty
        double mean = a.Zip(b, (p, q) => Math.Abs(p - q)).Average(), max = a.Zip(b, (p, q) => Math.Abs(p - q)).Max();
        Assert.True(mean < 1e-3 && max < 0.1, $"−12 dB gain changed the features by {mean} on average, {max} at most");
        Assert.Contains("silent", Assert.Throws<SpeechException>(() => LogMel.Features(new float[16000], out _)).Message);
        Assert.Contains("empty", Assert.Throws<SpeechException>(() => LogMel.Features(Array.Empty<float>(), out _)).Message);
        Assert.Contains("too short", Assert.Throws<SpeechException>(() => LogMel.Features(new float[300].Select((_, i) => 0.5f * (i % 2)).ToArray(), out _)).Message);
    }

    [Fact]
    public void Model_batches_pad_to_whole_encoder_frames_and_mask_them()
    {
        var (mel, pad) = SpeechTask.Batch([(new float[9 * 80], 9), (new float[3 * 80], 3)], 4);
        Assert.Equal(new[] { 2, 12, 80 }, mel.Shape);
        Assert.Equal(new[] { false, false, false, false, true, true }, pad.ToBoolArray());
        (mel, pad) = SpeechTask.Batch([(new float[9 * 80], 9), (new float[3 * 80], 3)], 2);
        Assert.Equal(new[] { 2, 10, 80 }, mel.Shape);
        Assert.Equal(new[] { false, false, false, false, false, false, false, true, true, true }, pad.ToBoolArray());
        Assert.Equal(27.5, SpeechEval.FrameMs(0, 4));                       // windows centred at 12.5, 22.5, 32.5, 42.5 ms
        Assert.Equal(57.5, SpeechEval.FrameMs(2, 2));                       // windows 4 and 5: 52.5 and 62.5 ms
        var (input, labels) = SpeechTask.Targets([[7, 8], [9]]);
        Assert.Equal(new long[] { 1, 7, 8, 1, 9, 0 }, input.ToInt64Array());
        Assert.Equal(new long[] { 7, 8, 2, 9, 2, 0 }, labels.ToInt64Array());
    }

    [Fact]
    public void Phoneme_starts_follow_the_attention_path_past_a_stray_peak()
    {
        // tokens: a b #one a #one; after a silent frame 0 the phonemes (tokens 0, 1, 3) attend to frames [1, 3), [3, 6),
        // [6, 9) (the first most to frame 1), EOS (row 5) to 9; frames 10, 11 are padding. Layer 1, head 0 puts row 1's
        // largest weight on frame 8: a stray peak the path ignores. The path takes frame 0 for the first phoneme, whose
        // start is then its own peak.
        var vocab = new PhonemeTokenizer(["<pad>", "<bos>", "<eos>", "<unk>", "a", "b", "#one"]);
        long[] tokens = [4, 5, 6, 4, 6];
        const int H = 2, T = 6, S = 12, frames = 10;
        var span = new Dictionary<int, (int From, int To)> { [0] = (1, 3), [1] = (3, 6), [3] = (6, 9), [5] = (9, 10), [2] = (0, 10), [4] = (0, 10) };
        var rng = new Random(5);
        float[] Layer(bool stray)
        {
            var w = new float[H * T * S];
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                {
                    var (a, b) = span[t];
                    for (int s = 0; s < frames; s++) w[(h * T + t) * S + s] = (s >= a && s < b ? 1f : 0.05f) + 0.02f * (float)rng.NextDouble();
                }
            for (int h = 0; h < H; h++) w[(h * T + 0) * S + 1] += 0.5f;
            if (stray) w[(0 * T + 1) * S + 8] = 3f;
            return w;
        }
        var weights = new[] { Layer(false), Layer(true) };
        Assert.Equal(new[] { 1, 3, -1, 6, -1 }, SpeechEval.PhonemeStarts(weights, 0, H, T, S, frames, tokens, vocab));
        Assert.Equal(new[] { -1, -1 }, SpeechEval.PhonemeStarts(weights, 0, H, T, S, frames, [6, 6], vocab));   // words only
    }
}
