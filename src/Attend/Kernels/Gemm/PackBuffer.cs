using System.Runtime.InteropServices;

namespace Attend.Kernels.Gemm;

/// <summary>
/// A growable 64-byte-aligned native float buffer, one per thread and role (packed A block, packed B block), reused
/// across calls so GEMM allocates nothing in steady state. Freed by the finalizer once its thread is gone.
/// </summary>
internal sealed unsafe class PackBuffer
{
    [ThreadStatic] private static PackBuffer? t_a;
    [ThreadStatic] private static PackBuffer? t_b;

    private float* _ptr;
    private long _capacity;

    /// <summary>This thread's buffer for packed A blocks, at least <paramref name="floats"/> long.</summary>
    public static float* ForA(long floats) => (t_a ??= new PackBuffer()).Get(floats);

    /// <summary>This thread's buffer for packed B blocks (shared by the workers of a parallel GEMM this thread runs).</summary>
    public static float* ForB(long floats) => (t_b ??= new PackBuffer()).Get(floats);

    private float* Get(long floats)
    {
        if (floats > _capacity)
        {
            Free();
            long cap = Math.Max(floats, _capacity * 3 / 2);
            _ptr = (float*)NativeMemory.AlignedAlloc((nuint)(cap * sizeof(float)), 64);
            _capacity = cap;
        }
        return _ptr;
    }

    private void Free()
    {
        if (_ptr != null) NativeMemory.AlignedFree(_ptr);
        _ptr = null;
        _capacity = 0;
    }

    ~PackBuffer() => Free();
}
