using System.Diagnostics;

namespace Attend;

/// <summary>
/// An opt-in, single-threaded op profiler for finding where a training step's time goes. While <see cref="Enabled"/>,
/// every op (recorded or not) is charged the time since the previous mark ("fwd op": the work between two ops is the
/// later op's forward; call <see cref="Mark"/> with null to start the clock), and each backward node its own time
/// ("bwd op"). Off by default: then it costs one static bool test per op.
/// </summary>
public static class Profiler
{
    private static readonly Dictionary<string, (double Ms, int Count)> totals = new();
    private static long last;

    /// <summary>Turns profiling on or off (off by default). Process-wide; setting it does not clear the totals (<see cref="Report"/> does).</summary>
    public static bool Enabled { get; set; }

    /// <summary>While positive (inside a backward pass), forward marks are ignored: ops run by backward functions are
    /// part of their node's time.</summary>
    internal static int Suppress;

    /// <summary>Charges the time since the last mark to <paramref name="what"/> (null: just restarts the clock).</summary>
    public static void Mark(string? what)
    {
        if (Suppress > 0 && what is not null) return;
        long now = Stopwatch.GetTimestamp();
        if (what is not null) Add(what, Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
        last = now;
    }

    internal static void Add(string what, double ms)
    {
        totals.TryGetValue(what, out var t);
        totals[what] = (t.Ms + ms, t.Count + 1);
    }

    /// <summary>Totals so far, largest first; clears them.</summary>
    public static IReadOnlyList<(string Op, double Ms, int Count)> Report()
    {
        var r = totals.OrderByDescending(kv => kv.Value.Ms).Select(kv => (kv.Key, kv.Value.Ms, kv.Value.Count)).ToList();
        totals.Clear();
        return r;
    }
}
