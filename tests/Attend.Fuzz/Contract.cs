using System.Diagnostics;

namespace Attend.Fuzz;

/// <summary>
/// What every reader promises for any input: it returns, or throws one of its documented exception types; it allocates
/// at most <see cref="Budget"/> bytes (managed objects on this thread plus tensor storage); it finishes within
/// <see cref="TimeLimit"/> (afl-fuzz enforces it with -t; <see cref="Check"/> reports it when replaying).
/// </summary>
internal static class Contract
{
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(1);

    /// <summary>The allocation allowed for an input of <paramref name="bytes"/>: a small multiple of its size, plus room
    /// for the reader's fixed costs (buffers, the date model of the explorer target).</summary>
    public static long Budget(long bytes) => 64 * bytes + (16 << 20);

    /// <summary>Runs <paramref name="target"/> on <paramref name="input"/>; null when the contract held, else what broke it.
    /// Unexpected exceptions are returned, not thrown (the afl driver rethrows them as crashes).</summary>
    public static string? Check(Target target, byte[] input, out Exception? unexpected)
    {
        unexpected = null;
        long managed = GC.GetAllocatedBytesForCurrentThread(), tensors = Storage.Requested;
        var clock = Stopwatch.StartNew();
        try { target.Read(input); }
        catch (Exception e) when (target.Expected.Any(t => t.IsInstanceOfType(e)))
        {
            if (string.IsNullOrWhiteSpace(e.Message)) return $"{e.GetType().Name} without a message";
        }
        catch (Exception e)
        {
            unexpected = e;
            return $"unexpected {e.GetType().FullName}: {e.Message}";
        }
        long used = GC.GetAllocatedBytesForCurrentThread() - managed + (Storage.Requested - tensors);
        if (used > Budget(input.Length)) return $"allocated {used:N0} bytes for a {input.Length:N0}-byte input (budget {Budget(input.Length):N0})";
        if (clock.Elapsed > TimeLimit) return $"took {clock.Elapsed.TotalMilliseconds:F0} ms (limit {TimeLimit.TotalMilliseconds:F0} ms)";
        return null;
    }
}
