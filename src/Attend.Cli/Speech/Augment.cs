using System.Numerics;
using Attend.Data;
using MathNet.Numerics.IntegralTransforms;

namespace Attend.Cli.Speech;

/// <summary>
/// Which training augmentations are on (<c>--augment</c>: none, all, or a comma list of the names). Off, an utterance gets
/// today's recipe: a gain of −20…+6 dB and, 4 times in 5, white noise at 5–40 dB SNR — which the held-out dev and test
/// utterances always get.
/// </summary>
public sealed record Augmentation(bool Speed, bool Pitch, bool Reverb, bool Band, bool Noise, bool Level, bool Spec)
{
    public static readonly string[] Names = ["speed", "pitch", "reverb", "band", "noise", "level", "spec"];
    public static readonly Augmentation None = new(false, false, false, false, false, false, false);
    public static readonly Augmentation All = new(true, true, true, true, true, true, true);

    bool[] Flags => [Speed, Pitch, Reverb, Band, Noise, Level, Spec];

    /// <summary>"none", "all" or names separated by commas (see <see cref="Names"/>).</summary>
    public static Augmentation Parse(string text)
    {
        if (text == "none") return None;
        if (text == "all") return All;
        var on = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var n in on)
            if (!Names.Contains(n)) throw new SpeechException($"unknown augmentation '{n}' (choose none, all, or among {string.Join(", ", Names)})");
        bool Has(string n) => on.Contains(n);
        return new(Has("speed"), Has("pitch"), Has("reverb"), Has("band"), Has("noise"), Has("level"), Has("spec"));
    }

    public override string ToString() => Flags.All(f => f) ? "all" : Flags.All(f => !f) ? "none" : string.Join(',', Names.Where((_, i) => Flags[i]));
}

/// <summary>
/// Acoustic augmentation, drawn from one <see cref="SplitMix64"/> per utterance (so a (seed, step) fixes it). Written here
/// rather than run through sox: sox is one process per utterance (~10–30 ms each, 32 per step), which would take a core
/// from training; these are a few FFTs and IIR filters per utterance in the producer thread.
/// <code>
/// speed   resample by 0.9, 1.0 or 1.1 (Kaldi's speed perturbation: tempo and pitch together)
/// reverb  p 0.3: convolve with a synthetic room impulse h[n] = δ[n] + g·N(0,1)·10^(−3n/(RT60·fs)), n ≥ 1…5 ms,
///         RT60 0.1–0.7 s, direct-to-reverberant 0–12 dB; output rescaled to the input's energy
/// band    p 0.3: half telephone (8 kHz resampling, 300 Hz high-pass, μ-law 8-bit), half a low-pass at 2.5–6 kHz
/// noise   p 0.85 at 0–30 dB SNR: white, pink (Kellet's filter) or babble (3–5 other utterances of the batch)
/// level   gain −20…+6 dB (always); p 0.2 a DC offset of ±0.05; p 0.1 clipping at 30–90% of the peak
/// pitch   (features) a vocal-tract-length warp of the mel axis by α ∈ [0.9, 1.1]: band m reads band m·α
/// spec    (features) SpecAugment: 2 frequency masks of 0–15 bands, 2 time masks of 0–min(40, 10% of the frames)
/// </code>
/// </summary>
public static class Augment
{
    const int Fs = LogMel.SampleRate;

    /// <summary>The speed factor the utterance draws (1 when speed perturbation is off).</summary>
    public static double SpeedFactor(Augmentation a, SplitMix64 rng) => a.Speed ? new[] { 0.9, 1.0, 1.1 }[rng.NextInt(3)] : 1.0;

    /// <summary>Speed perturbation: the audio played <paramref name="factor"/> times faster (lengths scale by 1/factor).</summary>
    public static float[] Speed(float[] x, double factor) =>
        factor == 1.0 ? x : Resampler.Resample(x, (int)Math.Round(Fs * factor), Fs);

    /// <summary>
    /// The waveform chain after speed: reverb, band, noise (with <paramref name="others"/> as babble), level. With every
    /// waveform augmentation off, today's recipe (gain, white noise at 5–40 dB in 4 of 5 utterances).
    /// </summary>
    public static float[] Wave(float[] x, Augmentation a, SplitMix64 rng, IReadOnlyList<float[]> others)
    {
        x = (float[])x.Clone();
        if (!(a.Reverb || a.Band || a.Noise || a.Level))
        {
            Gain(x, Math.Pow(10, (-20 + 26 * rng.NextDouble()) / 20));
            if (rng.NextInt(5) != 0) AddNoise(x, White(rng, x.Length), 5 + 35 * rng.NextDouble());
            return x;
        }
        if (a.Reverb && rng.NextDouble() < 0.3) x = Reverb(x, 0.1 + 0.6 * rng.NextDouble(), rng.NextDouble() * 12, rng);
        if (a.Band && rng.NextDouble() < 0.3) x = rng.NextInt(2) == 0 ? Telephone(x) : LowPass(x, 2500 + 3500 * rng.NextDouble());
        if (a.Noise && rng.NextDouble() < 0.85)
        {
            double snr = 30 * rng.NextDouble();
            var n = rng.NextInt(3) switch { 0 => White(rng, x.Length), 1 => Pink(rng, x.Length), _ => Babble(rng, others, x.Length) };
            AddNoise(x, n, snr);
        }
        Gain(x, Math.Pow(10, (-20 + 26 * rng.NextDouble()) / 20));
        if (a.Level)
        {
            if (rng.NextDouble() < 0.2) { float dc = (float)(0.1 * rng.NextDouble() - 0.05); for (int i = 0; i < x.Length; i++) x[i] += dc; }
            if (rng.NextDouble() < 0.1) Clip(x, 0.3 + 0.6 * rng.NextDouble());
        }
        return x;
    }

    static void Gain(float[] x, double g) { for (int i = 0; i < x.Length; i++) x[i] = (float)(x[i] * g); }

    static double Energy(float[] x) { double e = 0; foreach (var v in x) e += (double)v * v; return e; }

    /// <summary>Adds <paramref name="noise"/> scaled so that energy(x) / energy(noise) is <paramref name="snrDb"/> dB.</summary>
    public static void AddNoise(float[] x, float[] noise, double snrDb)
    {
        double ex = Energy(x), en = Energy(noise);
        if (en <= 0 || ex <= 0) return;
        double scale = Math.Sqrt(ex / en / Math.Pow(10, snrDb / 10));
        for (int i = 0; i < x.Length; i++) x[i] += (float)(scale * noise[i]);
    }

    public static float[] White(SplitMix64 rng, int n)
    {
        var w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float)rng.NextGaussian();
        return w;
    }

    /// <summary>Pink (1/f) noise: white through Paul Kellet's economy filter (±0.5 dB above 9 Hz at 44.1 kHz).</summary>
    public static float[] Pink(SplitMix64 rng, int n)
    {
        var p = new float[n];
        double b0 = 0, b1 = 0, b2 = 0;
        for (int i = 0; i < n; i++)
        {
            double w = rng.NextGaussian();
            b0 = 0.99765 * b0 + w * 0.0990460; b1 = 0.96300 * b1 + w * 0.2965164; b2 = 0.57000 * b2 + w * 1.0526913;
            p[i] = (float)(b0 + b1 + b2 + w * 0.1848);
        }
        return p;
    }

    /// <summary>Babble: 3–5 of <paramref name="others"/>, each at a random offset (looped to length n), summed at equal energy.
    /// White noise when there are none.</summary>
    public static float[] Babble(SplitMix64 rng, IReadOnlyList<float[]> others, int n)
    {
        var b = new float[n];
        if (others.Count == 0) return White(rng, n);
        int talkers = 3 + rng.NextInt(3);
        for (int t = 0; t < talkers; t++)
        {
            var o = others[rng.NextInt(others.Count)];
            double e = Energy(o);
            if (e <= 0) continue;
            float g = (float)(1 / Math.Sqrt(e / o.Length));
            int off = rng.NextInt(o.Length);
            for (int i = 0; i < n; i++) b[i] += g * o[(off + i) % o.Length];
        }
        return b;
    }

    /// <summary>Reverberation with a synthetic exponentially decaying impulse response (see the class), by FFT convolution;
    /// the output keeps x's length and energy.</summary>
    public static float[] Reverb(float[] x, double rt60, double drrDb, SplitMix64 rng)
    {
        int len = (int)(rt60 * Fs), pre = Fs / 1000 * (1 + rng.NextInt(5));
        var h = new double[len];
        h[0] = 1;
        double tail = 0;
        for (int i = pre; i < len; i++) { h[i] = rng.NextGaussian() * Math.Pow(10, -3.0 * i / len); tail += h[i] * h[i]; }
        double g = Math.Sqrt(Math.Pow(10, -drrDb / 10) / Math.Max(tail, 1e-12));   // direct energy 1 : tail energy 10^(−DRR/10)
        for (int i = pre; i < len; i++) h[i] *= g;
        int n = 1;
        while (n < x.Length + len) n <<= 1;
        var X = new Complex[n]; var H = new Complex[n];
        for (int i = 0; i < x.Length; i++) X[i] = x[i];
        for (int i = 0; i < len; i++) H[i] = h[i];
        Fourier.Forward(X, FourierOptions.Matlab); Fourier.Forward(H, FourierOptions.Matlab);
        for (int i = 0; i < n; i++) X[i] *= H[i];
        Fourier.Inverse(X, FourierOptions.Matlab);
        var y = new float[x.Length];
        for (int i = 0; i < y.Length; i++) y[i] = (float)X[i].Real;
        double ex = Energy(x), ey = Energy(y);
        if (ey > 0) Gain(y, Math.Sqrt(ex / ey));
        return y;
    }

    /// <summary>Telephone: resampled to 8 kHz and back (3.4–4 kHz bandwidth), a 300 Hz high-pass, and μ-law companding to 8 bits.</summary>
    public static float[] Telephone(float[] x)
    {
        var y = Resampler.Resample(Resampler.Resample(x, Fs, 8000), 8000, Fs);
        Array.Resize(ref y, x.Length);
        Biquad(y, 300, highPass: true);
        float peak = y.Max(MathF.Abs);
        if (peak <= 0) return y;
        const double mu = 255;
        for (int i = 0; i < y.Length; i++)
        {
            double v = y[i] / peak, c = Math.Sign(v) * Math.Log(1 + mu * Math.Abs(v)) / Math.Log(1 + mu);
            c = Math.Round(c * 127) / 127;                                              // 8-bit code
            y[i] = (float)(peak * Math.Sign(c) * (Math.Pow(1 + mu, Math.Abs(c)) - 1) / mu);
        }
        return y;
    }

    /// <summary>A low-pass at <paramref name="cutoff"/> Hz: two cascaded RBJ biquads (Q 0.707), 24 dB/octave.</summary>
    public static float[] LowPass(float[] x, double cutoff)
    {
        var y = (float[])x.Clone();
        Biquad(y, cutoff, highPass: false);
        Biquad(y, cutoff, highPass: false);
        return y;
    }

    /// <summary>An RBJ cookbook Butterworth (Q = 1/√2) low- or high-pass, in place.</summary>
    static void Biquad(float[] x, double f0, bool highPass)
    {
        double w = 2 * Math.PI * f0 / Fs, cos = Math.Cos(w), alpha = Math.Sin(w) / (2 / Math.Sqrt(2));
        double b1 = highPass ? -(1 + cos) : 1 - cos, b0 = highPass ? (1 + cos) / 2 : (1 - cos) / 2, b2 = b0;
        double a0 = 1 + alpha, a1 = -2 * cos, a2 = 1 - alpha;
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i], y = (b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
            (x2, x1, y2, y1) = (x1, v, y1, y);
            x[i] = (float)y;
        }
    }

    /// <summary>Clips at <paramref name="fraction"/> of the peak.</summary>
    static void Clip(float[] x, double fraction)
    {
        float c = (float)(fraction * x.Max(MathF.Abs));
        for (int i = 0; i < x.Length; i++) x[i] = Math.Clamp(x[i], -c, c);
    }

    /// <summary>Vocal-tract-length warp of log-mel features [frames, 80] in place: band m takes the value at m·α (linear
    /// interpolation; the top band repeats past the end).</summary>
    public static void Warp(float[] f, int frames, double alpha)
    {
        const int M = LogMel.Mels;
        var row = new float[M];
        for (int t = 0; t < frames; t++)
        {
            Array.Copy(f, t * M, row, 0, M);
            for (int m = 0; m < M; m++)
            {
                double s = Math.Min(m * alpha, M - 1);
                int lo = (int)s; double fr = s - lo;
                f[t * M + m] = (float)(row[lo] * (1 - fr) + row[Math.Min(lo + 1, M - 1)] * fr);
            }
        }
    }

    /// <summary>SpecAugment (Park et al. 2019) on normalized log-mel [frames, 80] in place: 2 frequency masks of 0–15 bands
    /// and 2 time masks of 0–min(40, frames/10) frames, set to 0 (the features' mean).</summary>
    public static void SpecAugment(float[] f, int frames, SplitMix64 rng)
    {
        const int M = LogMel.Mels;
        for (int k = 0; k < 2; k++)
        {
            int w = rng.NextInt(16), m0 = rng.NextInt(M - w + 1);
            for (int t = 0; t < frames; t++) Array.Clear(f, t * M + m0, w);
        }
        int maxT = Math.Min(40, frames / 10);
        for (int k = 0; k < 2; k++)
        {
            int w = rng.NextInt(maxT + 1), t0 = rng.NextInt(frames - w + 1);
            Array.Clear(f, t0 * M, w * M);
        }
    }
}
