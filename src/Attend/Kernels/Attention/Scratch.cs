using System.Runtime.InteropServices;

namespace Attend.Kernels.Attention;

/// <summary>Per-thread, 64-byte-aligned scratch memory for tiles, kept between calls (the worker threads persist).</summary>
internal static unsafe class Scratch
{
    private sealed class Slots
    {
        public readonly nint[] Buffers = new nint[8];
        public readonly long[] Sizes = new long[8];
    }

    [ThreadStatic] private static Slots? slots;

    /// <summary>Slot <paramref name="slot"/> of this thread, at least <paramref name="floats"/> long (contents undefined).</summary>
    public static float* Get(int slot, long floats)
    {
        var s = slots ??= new Slots();
        if (s.Sizes[slot] < floats)
        {
            if (s.Buffers[slot] != 0) NativeMemory.AlignedFree((void*)s.Buffers[slot]);
            long n = Math.Max(floats, 1024);
            s.Buffers[slot] = (nint)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
            s.Sizes[slot] = n;
        }
        return (float*)s.Buffers[slot];
    }
}
