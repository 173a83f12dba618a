using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Attend;

/// <summary>
/// A block of 64-byte-aligned native memory shared by a tensor and its views, reference-counted by the tensors that
/// use it. When the last one is disposed the block goes back to a size-class pool, so a training loop that disposes
/// its temporaries (see <see cref="TensorScope"/>) allocates nothing after the first step. A storage that is never
/// released is freed by its finalizer.
/// </summary>
internal sealed unsafe class Storage
{
    public readonly byte* Ptr;
    public readonly long Bytes;          // usable bytes requested
    private readonly int sizeClass;      // block is 2^sizeClass bytes
    private int refCount = 1;

    /// <summary>Bytes of tensor storage requested since the process started (the fuzz harness bounds it per input).</summary>
    internal static long Requested => Interlocked.Read(ref requested);
    private static long requested;

    public Storage(long bytes)
    {
        Bytes = bytes;
        Interlocked.Add(ref requested, bytes);
        sizeClass = Math.Max(6, 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(bytes, 1) - 1));
        Ptr = (byte*)Pool.Rent(sizeClass);
    }

    public int RefCount => Volatile.Read(ref refCount);

    public void AddRef() => Interlocked.Increment(ref refCount);

    public void Release()
    {
        int n = Interlocked.Decrement(ref refCount);
        if (n == 0)
        {
            Pool.Return(sizeClass, Ptr);
            GC.SuppressFinalize(this);
        }
    }

    ~Storage() => Pool.Free(sizeClass, Ptr);

    /// <summary>Free lists per power-of-two size class; holds at most <see cref="MaxCachedBytes"/> in all.</summary>
    internal static class Pool
    {
        private static readonly ConcurrentStack<nint>[] free = Enumerable.Range(0, 48).Select(_ => new ConcurrentStack<nint>()).ToArray();
        private static long cachedBytes;
        public static long MaxCachedBytes = 4L << 30;

        public static void* Rent(int sizeClass)
        {
            if (free[sizeClass].TryPop(out nint p))
            {
                Interlocked.Add(ref cachedBytes, -(1L << sizeClass));
                return (void*)p;
            }
            long bytes = 1L << sizeClass;
            void* mem;
            try { mem = NativeMemory.AlignedAlloc((nuint)bytes, 64); }
            catch (OutOfMemoryException)
            {
                Trim();
                mem = NativeMemory.AlignedAlloc((nuint)bytes, 64);
            }
            GC.AddMemoryPressure(bytes);
            return mem;
        }

        public static void Return(int sizeClass, byte* p)
        {
            long bytes = 1L << sizeClass;
            if (Interlocked.Add(ref cachedBytes, bytes) > MaxCachedBytes)
            {
                Interlocked.Add(ref cachedBytes, -bytes);
                Free(sizeClass, p);
                return;
            }
            free[sizeClass].Push((nint)p);
        }

        public static void Free(int sizeClass, byte* p)
        {
            NativeMemory.AlignedFree(p);
            GC.RemoveMemoryPressure(1L << sizeClass);
        }

        /// <summary>Frees every cached block (e.g. before measuring memory).</summary>
        public static void Trim()
        {
            for (int c = 0; c < free.Length; c++)
                while (free[c].TryPop(out nint p))
                {
                    Interlocked.Add(ref cachedBytes, -(1L << c));
                    Free(c, (byte*)p);
                }
        }
    }
}
