using System.Collections.Concurrent;

namespace Attend.Cli.Speech;

/// <summary>
/// Band-limited resampling by windowed-sinc interpolation. Output sample n sits at input time t = n·inRate/outRate and is
/// <code>
/// y[n] = Σ_k x[k] · h(t − k)      h(u) = 2f·sinc(2f·u) · (½ + ½·cos(π u / W))  for |u| &lt; W
/// f = 0.95 · min(inRate, outRate) / (2·inRate)  (cycles per input sample),   W = 16 / (2f)  (16 zero crossings each side)
/// </code>
/// so content below 95% of the lower Nyquist frequency passes and what the output cannot represent is filtered out (no
/// aliasing). Beyond the signal's ends it sees zeros. With g = gcd(inRate, outRate) the fractional offset of t repeats
/// every outRate/g outputs, so h is tabulated once per (rates) pair — a polyphase filter — when that is at most 4096 phases.
/// </summary>
public static class Resampler
{
    sealed record Plan(double F, double Half, int Phases, int Taps, float[]? Table);
    static readonly ConcurrentDictionary<(int, int), Plan> Plans = new();

    public static float[] Resample(float[] x, int inRate, int outRate)
    {
        if (inRate <= 0 || outRate <= 0) throw new ArgumentOutOfRangeException(nameof(inRate), $"resample: rates must be positive, got {inRate} → {outRate}");
        if (inRate == outRate) return (float[])x.Clone();
        var plan = Plans.GetOrAdd((inRate, outRate), k => MakePlan(k.Item1, k.Item2));
        int n = OutputLength(x.Length, inRate, outRate);
        var y = new float[n];
        int g = Gcd(inRate, outRate), num = inRate / g, den = outRate / g;       // t = i·num/den
        for (int i = 0; i < n; i++)
        {
            long whole = (long)i * num / den; int phase = (int)((long)i * num % den);
            double t = whole + (double)phase / den;
            int k0 = (int)Math.Ceiling(t - plan.Half);
            double acc = 0;
            for (int j = 0; j < plan.Taps; j++)
            {
                int k = k0 + j;
                if (k < 0 || k >= x.Length) continue;
                double h = plan.Table is { } tab ? tab[phase * plan.Taps + j] : H(t - k, plan.F, plan.Half);
                acc += x[k] * h;
            }
            y[i] = (float)acc;
        }
        return y;
    }

    /// <summary>The number of output samples for <paramref name="length"/> input samples: ⌊length · outRate / inRate⌋.</summary>
    public static int OutputLength(int length, int inRate, int outRate) => (int)((long)length * outRate / inRate);

    static Plan MakePlan(int inRate, int outRate)
    {
        double f = 0.95 * Math.Min(inRate, outRate) / (2.0 * inRate), half = 16 / (2 * f);
        int taps = (int)Math.Floor(2 * half) + 2;
        int g = Gcd(inRate, outRate), num = inRate / g, den = outRate / g;
        if (den > 4096) return new Plan(f, half, den, taps, null);
        var table = new float[den * taps];
        for (int p = 0; p < den; p++)
        {
            double t = (double)p / den;                                           // the fractional part of t for this phase
            int k0 = (int)Math.Ceiling(t - half);
            for (int j = 0; j < taps; j++) table[p * taps + j] = (float)H(t - (k0 + j), f, half);
        }
        return new Plan(f, half, den, taps, table);
    }

    /// <summary>The windowed sinc at offset u (input samples).</summary>
    public static double H(double u, double f, double half)
    {
        if (Math.Abs(u) >= half) return 0;
        double sinc = Math.Abs(u) < 1e-12 ? 2 * f : Math.Sin(2 * Math.PI * f * u) / (Math.PI * u);
        return sinc * (0.5 + 0.5 * Math.Cos(Math.PI * u / half));
    }

    static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
