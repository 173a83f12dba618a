using System.Runtime.ExceptionServices;

namespace Attend.Kernels.Parallel;

/// <summary>One index of a parallel loop, as a struct so that <see cref="Workers.For{T}(int, in T)"/> allocates nothing.</summary>
/// <remarks>Each worker runs on its own copy of the struct: keep per-call state in fields, results in memory the fields point to.</remarks>
internal interface IWorkItem
{
    /// <summary>Runs index <paramref name="index"/> (0 ≤ index &lt; count). Called exactly once per index, from any thread.</summary>
    void Invoke(int index);
}

/// <summary>
/// The library's thread split: a persistent pool of <see cref="Count"/> − 1 background workers plus the calling thread.
/// <c>For(count, body)</c> runs <c>body(i)</c> for every <c>i</c> in [0, count) exactly once and returns when all are done;
/// indices are handed out one at a time from a shared counter (dynamic scheduling), so make each index a sizable chunk
/// of work (≥ ~10 µs) and let the caller decide the chunking.
/// </summary>
/// <remarks>
/// <para>Idle workers <b>block</b> (<see cref="ManualResetEventSlim"/> with a short spin first), they never spin or yield
/// forever: on a 2-core machine a spinning idle worker halves the throughput of the thread doing the work.</para>
/// <para>Serial fallbacks, so callers never need to care: <c>Count == 1</c>, <c>count ≤ 1</c>, a call from inside a worker
/// body (nested parallelism runs the inner loop on the current thread, no deadlock), or a call while another thread
/// is using the pool.</para>
/// <para>Thread count: <c>ATTEND_NUM_THREADS</c> if set, else <see cref="Environment.ProcessorCount"/>;
/// <see cref="Count"/> can be changed at run time (tests, benchmarks). The first exception thrown by a body is rethrown
/// on the calling thread after every worker has stopped; indices not yet started are skipped.</para>
/// </remarks>
internal static class Workers
{
    private static int s_count = DefaultCount();
    private static int s_busy;                      // 1 while some thread owns the pool
    [ThreadStatic] private static bool t_inside;    // true on a thread that is running a body

    /// <summary>Threads a <see cref="For(int, Action{int})"/> uses, the caller included (≥ 1).</summary>
    public static int Count
    {
        get => s_count;
        set => s_count = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "need at least one thread");
    }

    /// <summary>True on a thread that is running a <c>For</c> body (where a nested <c>For</c> runs serially).</summary>
    public static bool IsInsideFor => t_inside;

    private static int DefaultCount()
    {
        var env = Environment.GetEnvironmentVariable("ATTEND_NUM_THREADS");
        return int.TryParse(env, out int n) && n >= 1 ? n : Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>Runs <c>body(i)</c> for every i in [0, count), spread over the pool. Allocates nothing itself (the delegate may).</summary>
    public static void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var item = new DelegateItem(body);
        For(count, in item);
    }

    /// <summary>Runs <c>body.Invoke(i)</c> for every i in [0, count), spread over the pool; allocation-free.</summary>
    public static void For<T>(int count, in T body) where T : struct, IWorkItem
    {
        if (count <= 0) return;
        int threads = Math.Min(s_count, count);
        if (threads <= 1 || t_inside || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            RunSerial(count, body);
            return;
        }
        try
        {
            var job = StructJob<T>.Instance;
            job.Body = body;
            Pool.Run(job, count, threads - 1);
            job.Body = default;
        }
        finally { Volatile.Write(ref s_busy, 0); }
    }

    private static void RunSerial<T>(int count, T body) where T : struct, IWorkItem
    {
        bool was = t_inside;
        t_inside = true;
        try { for (int i = 0; i < count; i++) body.Invoke(i); }
        finally { t_inside = was; }
    }

    private readonly struct DelegateItem(Action<int> body) : IWorkItem
    {
        public void Invoke(int index) => body(index);
    }

    /// <summary>A loop body the pool can call without knowing its struct type.</summary>
    private abstract class Job
    {
        public abstract void Invoke(int index);
    }

    /// <summary>One reusable job object per body type; only the thread owning the pool touches it.</summary>
    private sealed class StructJob<T> : Job where T : struct, IWorkItem
    {
        public static readonly StructJob<T> Instance = new();
        public T Body;
        public override void Invoke(int index) => Body.Invoke(index);
    }

    /// <summary>The persistent workers. Only the thread holding <see cref="s_busy"/> calls <see cref="Run"/>.</summary>
    private static class Pool
    {
        private const int SpinCount = 200; // short spin before blocking: back-to-back loops (GEMM blocks) wake fast
        private static readonly List<Worker> s_workers = new();
        private static readonly ManualResetEventSlim s_done = new(false, SpinCount);
        private static Job? s_job;
        private static int s_total, s_next, s_pending;
        private static ExceptionDispatchInfo? s_error;

        private sealed class Worker
        {
            public readonly ManualResetEventSlim Go = new(false, SpinCount);
        }

        public static void Run(Job job, int count, int helpers)
        {
            while (s_workers.Count < helpers) Start();
            s_job = job; s_total = count; s_next = 0; s_error = null;
            Volatile.Write(ref s_pending, helpers);
            for (int w = 0; w < helpers; w++) s_workers[w].Go.Set();

            t_inside = true;
            try { Drain(); }
            finally { t_inside = false; }
            s_done.Wait();
            s_done.Reset();
            s_job = null;
            var error = s_error;
            s_error = null;
            error?.Throw();
        }

        private static void Start()
        {
            var w = new Worker();
            s_workers.Add(w);
            var thread = new Thread(() => Loop(w)) { IsBackground = true, Name = $"Attend worker {s_workers.Count}" };
            thread.Start();
        }

        private static void Loop(Worker w)
        {
            t_inside = true;
            while (true)
            {
                w.Go.Wait();
                w.Go.Reset();
                Drain();
                if (Interlocked.Decrement(ref s_pending) == 0) s_done.Set();
            }
        }

        /// <summary>Takes indices from the shared counter until none are left.</summary>
        private static void Drain()
        {
            var job = s_job!;
            int total = s_total;
            int i;
            while ((i = Interlocked.Increment(ref s_next) - 1) < total)
            {
                try { job.Invoke(i); }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null);
                    Volatile.Write(ref s_next, total); // stop handing out indices
                }
            }
        }
    }
}
