using System.Runtime.InteropServices;

namespace Attend.Kernels.Attention;

/// <summary>Per-thread, 64-byte-aligned scratch memory for tiles, kept between calls (the worker threads persist).</summary>
internal static unsafe class Scratch
{
    [ThreadStatic] private static nint[]? buffers;
    [ThreadStatic] private static long[]? sizes;

    /// <summary>Slot <paramref name="slot"/> of this thread, at least <paramref name="floats"/> long (contents undefined).</summary>
    public static float* Get(int slot, long floats)
    {
        buffers ??= new nint[8];
        sizes ??= new long[8];
        if (sizes[slot] < floats)
        {
            if (buffers[slot] != 0) NativeMemory.AlignedFree((void*)buffers[slot]);
            long n = Math.Max(floats, 1024);
            buffers[slot] = (nint)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
            sizes[slot] = n;
        }
        return (float*)buffers[slot];
    }
}
