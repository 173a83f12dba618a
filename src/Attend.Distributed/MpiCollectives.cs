using System.Buffers;
using System.Globalization;
using Attend.Training;

namespace Attend.Distributed;

/// <summary>
/// <see cref="ICollectives"/> over Open MPI's MPI_COMM_WORLD, for processes started by <c>mpirun -np K …</c>:
/// <code>
/// using var world = MpiCollectives.Start();                  // MPI_Init_thread; rank and size from MPI_COMM_WORLD
/// using var trainer = new Trainer(model, options with { Collectives = world });
/// </code>
/// Sums are MPI_Allreduce / MPI_Iallreduce with MPI_SUM, broadcasts MPI_Bcast. Open MPI progresses a non-blocking
/// all-reduce only inside MPI calls, so <see cref="DataParallel"/> calls <see cref="ICollectiveRequest.Test"/> as gradients
/// arrive. Call it from one thread at a time (MPI_THREAD_SERIALIZED). Disposing finalizes MPI; <see cref="Abort"/> ends
/// every rank of the job (a rank that fails alone would leave the others waiting in their next collective).
/// </summary>
public sealed unsafe class MpiCollectives : ICollectives, IDisposable
{
    private static MpiCollectives? started;
    private bool disposed;

    /// <inheritdoc/>
    /// <remarks>From MPI_Comm_rank on MPI_COMM_WORLD.</remarks>
    public int Rank { get; }
    /// <inheritdoc/>
    /// <remarks>From MPI_Comm_size on MPI_COMM_WORLD.</remarks>
    public int Size { get; }
    /// <inheritdoc/>
    /// <remarks>From Open MPI's <c>OMPI_COMM_WORLD_LOCAL_SIZE</c>; 1 when it is unset or not a positive integer.</remarks>
    public int LocalSize { get; }
    /// <summary>The MPI library, e.g. "Open MPI v4.1.4".</summary>
    public string Version { get; }

    private MpiCollectives(int rank, int size, int localSize, string version) => (Rank, Size, LocalSize, Version) = (rank, size, localSize, version);

    /// <summary>True when this process was started by Open MPI's mpirun (it sets <c>OMPI_COMM_WORLD_SIZE</c>).</summary>
    public static bool UnderMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <summary>Initializes MPI (once per process) and returns this process's place in MPI_COMM_WORLD.</summary>
    /// <exception cref="DllNotFoundException">Open MPI's libmpi.so.40 is missing (or is not Open MPI).</exception>
    public static MpiCollectives Start()
    {
        if (started is { disposed: false }) return started;
        if (started is not null) throw new InvalidOperationException("MPI was finalized in this process: it cannot be started again");
        OpenMpi.Load();
        int provided = 0, rank = 0, size = 0, already = 0;
        OpenMpi.Check(OpenMpi.Initialized(&already), "MPI_Initialized");
        if (already == 0) OpenMpi.Check(OpenMpi.InitThread(null, null, OpenMpi.ThreadSerialized, &provided), "MPI_Init_thread");
        OpenMpi.Check(OpenMpi.CommRank(OpenMpi.CommWorld, &rank), "MPI_Comm_rank");
        OpenMpi.Check(OpenMpi.CommSize(OpenMpi.CommWorld, &size), "MPI_Comm_size");
        int local = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int l) && l > 0 ? l : 1;
        return started = new MpiCollectives(rank, size, local, OpenMpi.Version());
    }

    /// <inheritdoc/>
    /// <remarks>MPI_Bcast of MPI_BYTE, in chunks of at most 2^30 bytes.</remarks>
    public void Broadcast(Span<byte> data, int root)
    {
        const int chunk = 1 << 30;   // MPI counts are ints
        fixed (byte* p = data)
            for (int at = 0; at < data.Length; at += chunk)
                OpenMpi.Check(OpenMpi.Bcast(p + at, Math.Min(chunk, data.Length - at), OpenMpi.Byte, root, OpenMpi.CommWorld), "MPI_Bcast");
    }

    /// <inheritdoc/>
    /// <remarks>In-place MPI_Allreduce of MPI_DOUBLE with MPI_SUM.</remarks>
    public void AllReduceSum(Span<double> data)
    {
        fixed (double* p = data)
            OpenMpi.Check(OpenMpi.Allreduce(OpenMpi.InPlace, p, data.Length, OpenMpi.Double, OpenMpi.OpSum, OpenMpi.CommWorld), "MPI_Allreduce");
    }

    /// <inheritdoc/>
    /// <remarks>In-place MPI_Iallreduce of MPI_FLOAT with MPI_SUM; <paramref name="data"/> stays pinned until the request completes.</remarks>
    public ICollectiveRequest StartAllReduceSum(Memory<float> data)
    {
        var pin = data.Pin();
        nint request = 0;
        OpenMpi.Check(OpenMpi.Iallreduce(OpenMpi.InPlace, pin.Pointer, data.Length, OpenMpi.Float, OpenMpi.OpSum, OpenMpi.CommWorld, &request), "MPI_Iallreduce");
        return new Request(request, pin);
    }

    /// <summary>Waits until every rank has reached it.</summary>
    public void Barrier() => OpenMpi.Check(OpenMpi.Barrier(OpenMpi.CommWorld), "MPI_Barrier");

    /// <summary>Writes <paramref name="message"/> to stderr and ends every rank of the job with <paramref name="code"/>
    /// (MPI_Abort): for an error on one rank, which the others would otherwise wait for.</summary>
    public void Abort(string message, int code)
    {
        Console.Out.Flush();
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        OpenMpi.Abort(OpenMpi.CommWorld, code);
        Environment.Exit(code);
    }

    /// <summary>MPI_Finalize (every rank must reach it).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        int done = 0;
        OpenMpi.Check(OpenMpi.Finalized(&done), "MPI_Finalized");
        if (done == 0) OpenMpi.Check(OpenMpi.FinalizeMpi(), "MPI_Finalize");
    }

    private sealed class Request(nint handle, MemoryHandle pin) : ICollectiveRequest
    {
        private nint handle = handle;
        private MemoryHandle pin = pin;
        private bool done;

        public bool Test()
        {
            if (done) return true;
            int flag = 0;
            nint h = handle;
            OpenMpi.Check(OpenMpi.Test(&h, &flag, null), "MPI_Test");
            handle = h;
            if (flag != 0) Complete();
            return done;
        }

        public void Wait()
        {
            if (done) return;
            nint h = handle;
            OpenMpi.Check(OpenMpi.Wait(&h, null), "MPI_Wait");
            handle = h;
            Complete();
        }

        private void Complete()
        {
            done = true;
            pin.Dispose();
        }
    }
}
