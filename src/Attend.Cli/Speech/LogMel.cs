using MathNet.Numerics.IntegralTransforms;

namespace Attend.Cli.Speech;

/// <summary>
/// The speech front end: 16 kHz audio → log-mel spectrogram, 25 ms windows every 10 ms, 80 mel bands (as Whisper's and
/// Kaldi's, though without their pre-emphasis or dither). Frame i covers samples [160·i, 160·i + 400):
/// <code>
/// X_i[k]   = FFT_512(hann(400) · x[160 i … 160 i + 399], zero-padded)          k = 0 … 256     (MathNet.Numerics)
/// mel_i[m] = Σ_k fb[m, k] · |X_i[k]|²                                           m = 0 … 79
/// out[i,m] = ln(mel_i[m] + 1e-6)
/// </code>
/// fb is the HTK triangular filterbank (torchaudio's melscale_fbanks with mel_scale="htk", norm=None): mel(f) = 2595 ·
/// log10(1 + f/700), 82 points equally spaced in mel from 0 to 8 kHz, filter m rising from point m to m+1 and falling to m+2,
/// evaluated at the FFT bin frequencies k·16000/512. The window is the periodic Hann (torch.hann_window).
/// </summary>
public static class LogMel
{
    public const int SampleRate = 16000, Window = 400, Hop = 160, FftSize = 512, Bins = FftSize / 2 + 1, Mels = 80;
    public const float Floor = 1e-6f;
    static readonly float[] Hann = Enumerable.Range(0, Window).Select(i => (float)(0.5 - 0.5 * Math.Cos(2 * Math.PI * i / Window))).ToArray();
    static readonly float[,] Fb = Filterbank(Mels, FftSize, SampleRate, 0, SampleRate / 2.0);
    // each band's nonzero bins [first, last]: the sum skips the zeros
    static readonly (int First, int Last)[] Support = Enumerable.Range(0, Mels).Select(m =>
    {
        var nz = Enumerable.Range(0, Bins).Where(k => Fb[m, k] > 0).ToArray();
        return nz.Length == 0 ? (0, -1) : (nz[0], nz[^1]);
    }).ToArray();

    /// <summary>Number of frames for <paramref name="samples"/> samples (0 when shorter than one window).</summary>
    public static int Frames(int samples) => samples < Window ? 0 : 1 + (samples - Window) / Hop;

    /// <summary>The HTK mel filterbank [mels, fftSize/2 + 1] (see the class).</summary>
    public static float[,] Filterbank(int mels, int fftSize, int sampleRate, double fMin, double fMax)
    {
        static double Mel(double f) => 2595 * Math.Log10(1 + f / 700);
        static double Hz(double m) => 700 * (Math.Pow(10, m / 2595) - 1);
        int bins = fftSize / 2 + 1;
        var pts = Enumerable.Range(0, mels + 2).Select(i => Hz(Mel(fMin) + (Mel(fMax) - Mel(fMin)) * i / (mels + 1))).ToArray();
        var fb = new float[mels, bins];
        for (int m = 0; m < mels; m++)
            for (int k = 0; k < bins; k++)
            {
                double f = (double)k * sampleRate / fftSize;
                double up = (f - pts[m]) / (pts[m + 1] - pts[m]), down = (pts[m + 2] - f) / (pts[m + 2] - pts[m + 1]);
                fb[m, k] = (float)Math.Max(0, Math.Min(up, down));
            }
        return fb;
    }

    /// <summary>16 kHz samples → log-mel [frames, 80] (row-major). Throws when shorter than one 25 ms window.</summary>
    public static float[] Compute(float[] x, out int frames)
    {
        frames = Frames(x.Length);
        if (frames == 0) throw new SpeechException($"audio too short: {x.Length} samples at 16 kHz, less than one 25 ms window ({Window})");
        var result = new float[frames * Mels];
        var buf = new float[FftSize + 2];
        var power = new float[Bins];
        for (int i = 0; i < frames; i++)
        {
            // 1) window and zero-pad
            Array.Clear(buf);
            for (int j = 0; j < Window; j++) buf[j] = x[i * Hop + j] * Hann[j];
            // 2) real FFT, unscaled: buf holds (re, im) pairs of bins 0 … 256
            Fourier.ForwardReal(buf, FftSize, FourierOptions.Matlab);
            for (int k = 0; k < Bins; k++) power[k] = buf[2 * k] * buf[2 * k] + buf[2 * k + 1] * buf[2 * k + 1];
            // 3) mel filterbank and log
            for (int m = 0; m < Mels; m++)
            {
                float acc = 0;
                for (int k = Support[m].First; k <= Support[m].Last; k++) acc += Fb[m, k] * power[k];
                result[i * Mels + m] = MathF.Log(acc + Floor);
            }
        }
        return result;
    }

    /// <summary>
    /// The model's input: each band minus its mean over the utterance (removes gain and channel colour), all divided by
    /// the overall standard deviation. Throws for silence (peak below −80 dBFS), which has nothing to normalize.
    /// </summary>
    public static float[] Features(float[] x, out int frames)
    {
        float peak = 0;
        foreach (var v in x) peak = Math.Max(peak, Math.Abs(v));
        if (x.Length == 0) throw new SpeechException("the audio is empty");
        if (peak < 1e-4f) throw new SpeechException($"the audio is silent (peak {20 * Math.Log10(Math.Max(peak, 1e-12)):F0} dBFS, below −80)");
        var f = Compute(x, out frames);
        int T = frames;
        double var = 0;
        for (int m = 0; m < Mels; m++)
        {
            double mean = 0;
            for (int t = 0; t < T; t++) mean += f[t * Mels + m];
            mean /= T;
            for (int t = 0; t < T; t++) { f[t * Mels + m] -= (float)mean; var += f[t * Mels + m] * f[t * Mels + m]; }
        }
        float inv = (float)(1 / Math.Sqrt(var / (T * Mels) + 1e-8));
        for (int i = 0; i < f.Length; i++) f[i] *= inv;
        return f;
    }
}
