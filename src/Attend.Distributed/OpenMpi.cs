using System.Runtime.InteropServices;
using System.Text;

namespace Attend.Distributed;

/// <summary>
/// The part of the MPI C API that data-parallel training uses, bound at run time from Open MPI's <c>libmpi.so.40</c>.
/// <para>Open MPI's handles are pointers: <c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c>
/// <c>&amp;ompi_mpi_float</c>, <c>MPI_SUM</c> <c>&amp;ompi_mpi_op_sum</c> — addresses of exported symbols, read here with
/// <see cref="NativeLibrary.GetExport"/>; <c>MPI_Request</c> is a pointer too, <c>MPI_STATUS_IGNORE</c> is null. MPICH and
/// its derivatives (Intel MPI, MVAPICH) use integer handles with other values and another library name: they are not
/// bound here.</para>
/// </summary>
internal static unsafe class OpenMpi
{
    public const string Library = "libmpi.so.40";
    /// <summary>MPI_THREAD_SERIALIZED: any thread may call MPI, one at a time.</summary>
    public const int ThreadSerialized = 2;

    private static nint lib;
    public static nint CommWorld, Byte, Float, Double, OpSum;

    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public static delegate* unmanaged<int*, int> Initialized;
    public static delegate* unmanaged<int*, int> Finalized;
    public static delegate* unmanaged<int> FinalizeMpi;
    public static delegate* unmanaged<nint, int*, int> CommRank;
    public static delegate* unmanaged<nint, int*, int> CommSize;
    public static delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public static delegate* unmanaged<nint*, int*, void*, int> Test;
    public static delegate* unmanaged<nint*, void*, int> Wait;
    public static delegate* unmanaged<nint, int> Barrier;
    public static delegate* unmanaged<nint, int, int> Abort;
    public static delegate* unmanaged<byte*, int*, int> GetLibraryVersion;

    /// <summary>MPI_IN_PLACE in Open MPI.</summary>
    public static readonly void* InPlace = (void*)1;

    /// <summary>Loads the library and its symbols (once).</summary>
    /// <exception cref="DllNotFoundException">Open MPI is not installed, or the library is not Open MPI's.</exception>
    public static void Load()
    {
        if (lib != 0) return;
        nint h;
        try { h = NativeLibrary.Load(Library); }
        catch (DllNotFoundException ex)
        {
            throw new DllNotFoundException($"Open MPI's {Library} was not found ({ex.Message}); install it (Debian: apt-get install openmpi-bin libopenmpi-dev) and start with mpirun", ex);
        }
        nint Sym(string name) => NativeLibrary.TryGetExport(h, name, out var p) ? p
            : throw new DllNotFoundException($"{Library} has no symbol '{name}': it is not Open MPI's (MPICH and its derivatives are not supported)");
        CommWorld = Sym("ompi_mpi_comm_world");
        Byte = Sym("ompi_mpi_byte");
        Float = Sym("ompi_mpi_float");
        Double = Sym("ompi_mpi_double");
        OpSum = Sym("ompi_mpi_op_sum");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Sym("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Sym("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Sym("MPI_Finalized");
        FinalizeMpi = (delegate* unmanaged<int>)Sym("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_size");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Sym("MPI_Bcast");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Sym("MPI_Allreduce");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Sym("MPI_Iallreduce");
        Test = (delegate* unmanaged<nint*, int*, void*, int>)Sym("MPI_Test");
        Wait = (delegate* unmanaged<nint*, void*, int>)Sym("MPI_Wait");
        Barrier = (delegate* unmanaged<nint, int>)Sym("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Sym("MPI_Abort");
        GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Sym("MPI_Get_library_version");
        lib = h;
    }

    /// <summary>Throws unless an MPI call returned MPI_SUCCESS (0). Open MPI's default error handler aborts the job
    /// before returning an error, so this is a second line of defence.</summary>
    public static void Check(int rc, string call)
    {
        if (rc != 0) throw new InvalidOperationException($"{call} failed with MPI error {rc}");
    }

    /// <summary>The library's own version line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, …".</summary>
    public static string Version()
    {
        var buf = stackalloc byte[512];   // MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI
        int len = 0;
        Check(GetLibraryVersion(buf, &len), "MPI_Get_library_version");
        var s = Encoding.UTF8.GetString(buf, Math.Clamp(len, 0, 512)).TrimEnd('\0', '\n', ' ');
        int comma = s.IndexOf(", package", StringComparison.Ordinal);
        return comma > 0 ? s[..comma] : s;
    }
}
