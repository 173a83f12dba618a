namespace Attend.Training;

/// <summary>
/// The collective operations data-parallel training needs from a group of processes (ranks) that each hold a replica of
/// the model: broadcast from one rank, and sums over all ranks, blocking and non-blocking. Every rank must call the same
/// collectives in the same order with the same lengths, as in MPI. The library ships no implementation that needs native
/// code: <c>Attend.Distributed</c> binds Open MPI (<c>mpirun -np K …</c>); tests use in-process fakes.
/// <para>Sums must be deterministic and identical on every rank (a fixed reduction order), or the replicas drift apart.</para>
/// </summary>
public interface ICollectives
{
    /// <summary>This process's rank, 0 ≤ Rank &lt; Size. Rank 0 prints and writes checkpoints.</summary>
    int Rank { get; }
    /// <summary>How many ranks train together (K).</summary>
    int Size { get; }
    /// <summary>How many of them run on this machine (they share its cores).</summary>
    int LocalSize { get; }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every rank's <paramref name="data"/>
    /// (the same length on every rank).</summary>
    void Broadcast(Span<byte> data, int root);

    /// <summary>Replaces <paramref name="data"/> on every rank by its element-wise sum over the ranks, blocking.</summary>
    void AllReduceSum(Span<double> data);

    /// <summary>Starts replacing <paramref name="data"/> on every rank by its element-wise sum over the ranks and returns
    /// at once; the memory must not be touched until the request completes. Requests complete in the order started.</summary>
    ICollectiveRequest StartAllReduceSum(Memory<float> data);
}

/// <summary>A non-blocking collective in flight.</summary>
public interface ICollectiveRequest
{
    /// <summary>Lets the collective make progress; true once it has completed (its buffer then holds the result).</summary>
    bool Test();
    /// <summary>Blocks until the collective has completed.</summary>
    void Wait();
}

/// <summary>
/// Which part of each global batch this rank takes: of a global batch of B items, rank r of K takes items
/// [r·B/K, (r+1)·B/K). The global batch is a function of (seed, step) alone, so every rank draws the same one and slices
/// it, and a resumed run — or one with another K — sees the same items.
/// </summary>
public readonly record struct Shard(int Rank, int Size)
{
    /// <summary>The whole batch: one process.</summary>
    public static Shard Whole => new(0, 1);

    /// <summary>The first item and the count of this rank's part of a global batch of <paramref name="globalBatch"/> items.</summary>
    /// <exception cref="ArgumentException">the batch is not a positive multiple of <see cref="Size"/>.</exception>
    public (int Start, int Count) Of(int globalBatch)
    {
        if (globalBatch <= 0 || globalBatch % Size != 0)
            throw new ArgumentException($"the global batch {globalBatch} must be a positive multiple of the {Size} ranks");
        int count = globalBatch / Size;
        return (Rank * count, count);
    }

    /// <summary>This rank's items of <paramref name="global"/> (all of it for one process).</summary>
    public T[] Take<T>(IReadOnlyList<T> global)
    {
        var (start, count) = Of(global.Count);
        var part = new T[count];
        for (int i = 0; i < count; i++) part[i] = global[start + i];
        return part;
    }
}
