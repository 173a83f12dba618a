namespace Attend.Kernels.Parallel;

/// <summary>Splits [0, n) into fixed chunks for <see cref="Workers.For(int, Action{int})"/>: big elementwise and row
/// loops run on every thread, small ones stay on the caller. The split depends only on n and the grain, never on timing,
/// so a chunk's work (and any per-chunk partial sum) is the same from run to run.</summary>
internal static class Chunks
{
    /// <summary>Elements per chunk below which splitting costs more than it saves (~10 µs of simple work).</summary>
    public const int Grain = 16384;

    /// <summary>Number of chunks of at least <paramref name="grain"/> units (1 when n is small or one thread is used).</summary>
    public static int Count(long n, long grain)
    {
        if (Workers.Count <= 1 || n < 2 * grain) return 1;
        return (int)Math.Min(n / grain, 8L * Workers.Count);
    }

    /// <summary>[start, end) of chunk <paramref name="i"/> of <paramref name="count"/> over n units.</summary>
    public static (long Start, long End) Range(long n, int count, int i) => (n * i / count, n * (i + 1) / count);

    /// <summary>Runs body(start, length) over [0, n) in chunks of at least <paramref name="grain"/>.</summary>
    public static void For(long n, long grain, Action<long, long> body)
    {
        int count = Count(n, grain);
        if (count == 1) { if (n > 0) body(0, n); return; }
        Workers.For(count, i =>
        {
            var (s, e) = Range(n, count, i);
            body(s, e - s);
        });
    }
}
