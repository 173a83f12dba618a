using Attend.Kernels.Parallel;

namespace Attend;

public sealed partial class Tensor
{
    /// <summary>The threads Attend's kernels use, the caller's included (PyTorch's <c>torch.get_num_threads</c>):
    /// <c>ATTEND_NUM_THREADS</c> when set at start-up, else the processor count, unless changed by
    /// <see cref="SetNumThreads"/>.</summary>
    public static int GetNumThreads() => Workers.Count;

    /// <summary>Sets the threads Attend's kernels use (PyTorch's <c>torch.set_num_threads</c>); e.g. one per core shared
    /// among the data-parallel ranks on a machine.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1.</exception>
    public static void SetNumThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "SetNumThreads: need at least one thread");
        Workers.Count = threads;
    }
}
