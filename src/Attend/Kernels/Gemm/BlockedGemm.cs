using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Attend.Kernels.Parallel;

namespace Attend.Kernels.Gemm;

/// <summary>
/// The packed, cache-blocked GEMM (Goto/BLIS scheme) for one micro-kernel <typeparamref name="TK"/>:
/// <code>
/// for jc in steps of NC over n:                      B block KC×NC in L3 (packed once, shared by all threads)
///   for pc in steps of KC over k:                    beta applies on the first pc block, later blocks add
///     pack op(B)[pc:pc+KC, jc:jc+NC] into NR-column panels            (threads split the panels)
///     for each task (≈MC rows × a column range):                      (threads take tasks dynamically)
///       pack alpha·op(A)[rows, pc:pc+KC] into MR-row panels           (per-thread buffer, ~L2)
///       for each NR panel of B in the range:                          (KC×NR stays in L1)
///         for each MR panel of A:  C[MR×NR] (+)= Ap · Bp              (micro-kernel, registers)
/// </code>
/// Row tasks are made equal and a multiple of the thread count; when m is too small for that, the columns are split too.
/// Sizes for <see cref="MicroKernel256"/>: MR×NR = 6×16, KC = 256, MC ≈ 120, NC ≤ 4096 (within ±2% over KC 192–512, MC 24–120
/// on Zen 4). Measured: 2048³ at ~211 GFLOP/s on 2 threads (90% of peak), one thread ~110; the micro-kernel alone 116.
/// </summary>
internal static unsafe class BlockedGemm<TK> where TK : struct, IMicroKernel
{
    private const int MaxNC = 4096;

    /// <summary>Runs the product; <paramref name="bias"/>: null, or [n] added to every row of C as the first depth block
    /// stores its tiles (beta must be 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha, float* a, long lda,
        float* b, long ldb, float beta, float* c, long ldc, int threads, float* bias = null)
    {
        int mr = TK.MR, nr = TK.NR;
        int rowPanels = (m + mr - 1) / mr;
        int rowTasks = Math.Max(1, (rowPanels * mr + TK.MC / 2) / TK.MC);
        if (threads > 1) rowTasks = Math.Min(rowPanels, (rowTasks + threads - 1) / threads * threads);
        int panelsPerTask = (rowPanels + rowTasks - 1) / rowTasks;
        rowTasks = (rowPanels + panelsPerTask - 1) / panelsPerTask;

        int ncMax = Math.Min(MaxNC, (n + nr - 1) / nr * nr);
        int kcMax = Math.Min(TK.KC, k);
        float* bPacked = PackBuffer.ForB((long)kcMax * ncMax);

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int colPanels = (nc + nr - 1) / nr;
            int colTasks = rowTasks >= threads ? 1 : Math.Min(colPanels, (threads + rowTasks - 1) / rowTasks);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                var pack = new PackBItem
                {
                    TransB = transB, B = b, Ldb = ldb, N = n, J0 = jc, P0 = pc, Kc = kc, Panels = colPanels,
                    Groups = threads > 1 ? Math.Min(colPanels, 4 * threads) : 1, Dst = bPacked,
                };
                var compute = new ComputeItem
                {
                    TransA = transA, Alpha = alpha, A = a, Lda = lda, M = m, N = n, P0 = pc, Kc = kc, J0 = jc,
                    Bp = bPacked, ColPanels = colPanels, ColTasks = colTasks, RowPanels = rowPanels,
                    PanelsPerTask = panelsPerTask, Beta = pc == 0 ? beta : 1f, C = c, Ldc = ldc, Bias = pc == 0 ? bias : null,
                };
                if (threads > 1)
                {
                    Workers.For(pack.Groups, in pack);
                    Workers.For(rowTasks * colTasks, in compute);
                }
                else
                {
                    pack.Invoke(0);
                    for (int t = 0; t < rowTasks * colTasks; t++) compute.Invoke(t);
                }
            }
        }
    }

    /// <summary>Packs group <c>index</c> of the B block's column panels.</summary>
    private struct PackBItem : IWorkItem
    {
        public bool TransB; public float* B; public long Ldb; public int N, J0, P0, Kc, Panels, Groups; public float* Dst;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int index)
        {
            int s0 = (int)((long)Panels * index / Groups), s1 = (int)((long)Panels * (index + 1) / Groups);
            Packing.PackB<TK>(TransB, B, Ldb, N, J0, P0, Kc, s0, s1, Dst);
        }
    }

    /// <summary>One task: a range of A row panels against a range of B column panels, for one (jc, pc) block.</summary>
    private struct ComputeItem : IWorkItem
    {
        public bool TransA; public float Alpha; public float* A; public long Lda; public int M, N, P0, Kc, J0;
        public float* Bp; public int ColPanels, ColTasks, RowPanels, PanelsPerTask; public float Beta; public float* C; public long Ldc;
        public float* Bias;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Invoke(int index)
        {
            int mrFull = TK.MR, nrFull = TK.NR, kc = Kc;
            int rt = index / ColTasks, ct = index - rt * ColTasks;
            int r0 = rt * PanelsPerTask, r1 = Math.Min(RowPanels, r0 + PanelsPerTask);
            int s0 = (int)((long)ColPanels * ct / ColTasks), s1 = (int)((long)ColPanels * (ct + 1) / ColTasks);
            if (r0 >= r1 || s0 >= s1) return;

            float* ap = PackBuffer.ForA((long)PanelsPerTask * mrFull * kc);
            Packing.PackA<TK>(TransA, Alpha, A, Lda, M, r0 * mrFull, P0, kc, 0, r1 - r0, ap);
            float* tile = stackalloc float[TK.MR * TK.NR];

            for (int s = s0; s < s1; s++)
            {
                int col = J0 + s * nrFull;
                int nr = Math.Min(nrFull, N - col);
                float* bpan = Bp + (long)s * nrFull * kc;
                for (int r = r0; r < r1; r++)
                {
                    int row = r * mrFull;
                    int mr = Math.Min(mrFull, M - row);
                    float* apan = ap + (long)(r - r0) * mrFull * kc;
                    float* cij = C + row * Ldc + col;
                    if (mr == mrFull && nr == nrFull) TK.Tile(kc, apan, bpan, cij, Ldc, Beta);
                    else
                    {
                        TK.Tile(kc, apan, bpan, tile, nrFull, 0f);
                        MergeEdge(tile, nrFull, cij, Ldc, mr, nr, Beta);
                    }
                    if (Bias != null) AddRow(Bias + col, cij, Ldc, mr, nr);   // the tile is still in L1
                }
            }
        }
    }

    /// <summary>C[i, j] += bias[j] for the mr×nr tile at c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddRow(float* bias, float* c, long ldc, int mr, int nr)
    {
        for (int i = 0; i < mr; i++, c += ldc)
        {
            int j = 0;
            for (; j + 16 <= nr; j += 16) (Vector512.Load(c + j) + Vector512.Load(bias + j)).Store(c + j);
            for (; j < nr; j++) c[j] += bias[j];
        }
    }

    /// <summary>Edge tile: C[i,j] = tile[i,j] + beta·C[i,j] for the mr×nr part inside C (beta = 0 ignores C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdge(float* tile, int ldt, float* c, long ldc, int mr, int nr, float beta)
    {
        for (int i = 0; i < mr; i++, c += ldc, tile += ldt)
        {
            if (beta == 0f) for (int j = 0; j < nr; j++) c[j] = tile[j];
            else for (int j = 0; j < nr; j++) c[j] = tile[j] + beta * c[j];
        }
    }
}
