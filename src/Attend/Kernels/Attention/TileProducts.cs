using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Attention;

/// <summary>
/// The attention kernels' products on transposed tiles (keys × queries, row stride ld), register-tiled in place — no
/// packing, no GEMM call per tile pair: the forward's O += P·V, and the backward's five:
/// <code>
/// O_i += P·V_j            c[i][x] += Σ_j pt[j·QG + i]·V[j][x]      a transposed,  rows = queries (the forward)
/// Sᵀ = K_j·Q'_iᵀ          c[j][i] = Σ_e K[j][e]·Q'ᵀ[e][i]          from c = 0: one FMA chain per score, as the forward's
/// dPᵀ = V_j·dO_iᵀ         c[j][i] = Σ_e V[j][e]·dOᵀ[e][i]          from c = 0: one FMA chain, as D = dO·O
/// dV_j += P̃ᵀ·dO_i        c[j][x] += Σ_i pt[j·ld + i]·dO[i][x]      a row-major,   rows = keys
/// dK_j += dSᵀ·Q_i         c[j][x] += Σ_i st[j·ld + i]·Q[i][x]       a row-major,   rows = keys
/// dQ_i += dS·K_j          c[i][x] += Σ_j st[j·ld + i]·K[j][x]       a transposed,  rows = queries
/// </code>
/// all of the form <c>c[r][x] += Σ_k a[r·rs + k·cs]·b[k·bs + x]</c>: six rows of c at a time, 32 columns (24 ymm
/// accumulators) — 64 columns in 24 zmm on full-width AVX-512 hosts — one broadcast of a per row and four loads of b per k.
/// </summary>
internal static unsafe class TileProducts
{
    /// <summary><c>c[r][x] += Σ_{k &lt; kn} a[r·rs + k·cs]·b[k·bs + x]</c> for r &lt; rows, x &lt; w (b and c unit-stride
    /// in x); with <paramref name="add"/> false, <c>c[r][x] = Σ …</c> — each element one FMA chain from 0 in k order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateRows(float* a, long rs, long cs, int rows, int kn, float* b, long bs, int w, float* c, long ldc, bool add = true)
    {
        int r0 = 0, wide = FlashForward.Wide ? w / 64 * 64 : 0;
        for (; r0 + 6 <= rows; r0 += 6)
        {
            if (wide > 0) Six512(a + r0 * rs, rs, cs, kn, b, bs, wide, c + r0 * ldc, ldc, add);
            if (wide < w) Block<R6>(a + r0 * rs, rs, cs, kn, b + wide, bs, w - wide, c + r0 * ldc + wide, ldc, add);
        }
        if (r0 == rows) return;
        // The last 1–5 rows together (their FMA chains interleaved), the zmm part of wide rows one row at a time.
        if (wide > 0)
            for (int r = r0; r < rows; r++) One512(a + r * rs, cs, kn, b, bs, wide, c + r * ldc, add);
        float* ar = a + r0 * rs, br = b + wide, cr = c + r0 * ldc + wide;
        switch (rows - r0)
        {
            case 1: Block<R1>(ar, rs, cs, kn, br, bs, w - wide, cr, ldc, add); break;
            case 2: Block<R2>(ar, rs, cs, kn, br, bs, w - wide, cr, ldc, add); break;
            case 3: Block<R3>(ar, rs, cs, kn, br, bs, w - wide, cr, ldc, add); break;
            case 4: Block<R4>(ar, rs, cs, kn, br, bs, w - wide, cr, ldc, add); break;
            default: Block<R5>(ar, rs, cs, kn, br, bs, w - wide, cr, ldc, add); break;
        }
    }

    /// <summary>A row count known when the kernel is compiled: <see cref="Block{T}"/> is specialized for each, and the
    /// rows it does not have vanish from the code.</summary>
    private interface IRows { static abstract int N { get; } }
    private struct R1 : IRows { public static int N => 1; }
    private struct R2 : IRows { public static int N => 2; }
    private struct R3 : IRows { public static int N => 3; }
    private struct R4 : IRows { public static int N => 4; }
    private struct R5 : IRows { public static int N => 5; }
    private struct R6 : IRows { public static int N => 6; }

    /// <summary>T.N ≤ 6 rows: 32 columns a pass in 4·T.N ymm accumulators, then 8 at a time, then single columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T>(float* a, long rs, long cs, int kn, float* b, long bs, int w, float* c, long ldc, bool add) where T : struct, IRows
    {
        long r2 = 2 * rs, r3 = 3 * rs, r4 = 4 * rs, r5 = 5 * rs;
        int x = 0;
        for (; x + 32 <= w; x += 32)
        {
            float* c0 = c + x, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
            Vector256<float> a00 = L(c0, add), a01 = L(c0 + 8, add), a02 = L(c0 + 16, add), a03 = L(c0 + 24, add);
            Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default, a20 = default, a21 = default, a22 = default, a23 = default;
            Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default, a40 = default, a41 = default, a42 = default, a43 = default;
            Vector256<float> a50 = default, a51 = default, a52 = default, a53 = default;
            if (T.N > 1) { a10 = L(c1, add); a11 = L(c1 + 8, add); a12 = L(c1 + 16, add); a13 = L(c1 + 24, add); }
            if (T.N > 2) { a20 = L(c2, add); a21 = L(c2 + 8, add); a22 = L(c2 + 16, add); a23 = L(c2 + 24, add); }
            if (T.N > 3) { a30 = L(c3, add); a31 = L(c3 + 8, add); a32 = L(c3 + 16, add); a33 = L(c3 + 24, add); }
            if (T.N > 4) { a40 = L(c4, add); a41 = L(c4 + 8, add); a42 = L(c4 + 16, add); a43 = L(c4 + 24, add); }
            if (T.N > 5) { a50 = L(c5, add); a51 = L(c5 + 8, add); a52 = L(c5 + 16, add); a53 = L(c5 + 24, add); }
            float* p = a, br = b + x;
            for (int k = 0; k < kn; k++, p += cs, br += bs)
            {
                var v0 = Vector256.Load(br); var v1 = Vector256.Load(br + 8); var v2 = Vector256.Load(br + 16); var v3 = Vector256.Load(br + 24);
                var s = Vector256.Create(p[0]);
                a00 = Vector256.FusedMultiplyAdd(s, v0, a00); a01 = Vector256.FusedMultiplyAdd(s, v1, a01); a02 = Vector256.FusedMultiplyAdd(s, v2, a02); a03 = Vector256.FusedMultiplyAdd(s, v3, a03);
                if (T.N > 1)
                {
                    s = Vector256.Create(p[rs]);
                    a10 = Vector256.FusedMultiplyAdd(s, v0, a10); a11 = Vector256.FusedMultiplyAdd(s, v1, a11); a12 = Vector256.FusedMultiplyAdd(s, v2, a12); a13 = Vector256.FusedMultiplyAdd(s, v3, a13);
                }
                if (T.N > 2)
                {
                    s = Vector256.Create(p[r2]);
                    a20 = Vector256.FusedMultiplyAdd(s, v0, a20); a21 = Vector256.FusedMultiplyAdd(s, v1, a21); a22 = Vector256.FusedMultiplyAdd(s, v2, a22); a23 = Vector256.FusedMultiplyAdd(s, v3, a23);
                }
                if (T.N > 3)
                {
                    s = Vector256.Create(p[r3]);
                    a30 = Vector256.FusedMultiplyAdd(s, v0, a30); a31 = Vector256.FusedMultiplyAdd(s, v1, a31); a32 = Vector256.FusedMultiplyAdd(s, v2, a32); a33 = Vector256.FusedMultiplyAdd(s, v3, a33);
                }
                if (T.N > 4)
                {
                    s = Vector256.Create(p[r4]);
                    a40 = Vector256.FusedMultiplyAdd(s, v0, a40); a41 = Vector256.FusedMultiplyAdd(s, v1, a41); a42 = Vector256.FusedMultiplyAdd(s, v2, a42); a43 = Vector256.FusedMultiplyAdd(s, v3, a43);
                }
                if (T.N > 5)
                {
                    s = Vector256.Create(p[r5]);
                    a50 = Vector256.FusedMultiplyAdd(s, v0, a50); a51 = Vector256.FusedMultiplyAdd(s, v1, a51); a52 = Vector256.FusedMultiplyAdd(s, v2, a52); a53 = Vector256.FusedMultiplyAdd(s, v3, a53);
                }
            }
            a00.Store(c0); a01.Store(c0 + 8); a02.Store(c0 + 16); a03.Store(c0 + 24);
            if (T.N > 1) { a10.Store(c1); a11.Store(c1 + 8); a12.Store(c1 + 16); a13.Store(c1 + 24); }
            if (T.N > 2) { a20.Store(c2); a21.Store(c2 + 8); a22.Store(c2 + 16); a23.Store(c2 + 24); }
            if (T.N > 3) { a30.Store(c3); a31.Store(c3 + 8); a32.Store(c3 + 16); a33.Store(c3 + 24); }
            if (T.N > 4) { a40.Store(c4); a41.Store(c4 + 8); a42.Store(c4 + 16); a43.Store(c4 + 24); }
            if (T.N > 5) { a50.Store(c5); a51.Store(c5 + 8); a52.Store(c5 + 16); a53.Store(c5 + 24); }
        }
        for (; x + 8 <= w; x += 8)
        {
            float* c0 = c + x;
            Vector256<float> a0 = L(c0, add), a1 = T.N > 1 ? L(c0 + ldc, add) : default, a2 = T.N > 2 ? L(c0 + 2 * ldc, add) : default,
                a3 = T.N > 3 ? L(c0 + 3 * ldc, add) : default, a4 = T.N > 4 ? L(c0 + 4 * ldc, add) : default, a5 = T.N > 5 ? L(c0 + 5 * ldc, add) : default;
            float* p = a, br = b + x;
            for (int k = 0; k < kn; k++, p += cs, br += bs)
            {
                var v = Vector256.Load(br);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(p[0]), v, a0);
                if (T.N > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Create(p[rs]), v, a1);
                if (T.N > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Create(p[r2]), v, a2);
                if (T.N > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Create(p[r3]), v, a3);
                if (T.N > 4) a4 = Vector256.FusedMultiplyAdd(Vector256.Create(p[r4]), v, a4);
                if (T.N > 5) a5 = Vector256.FusedMultiplyAdd(Vector256.Create(p[r5]), v, a5);
            }
            a0.Store(c0);
            if (T.N > 1) a1.Store(c0 + ldc);
            if (T.N > 2) a2.Store(c0 + 2 * ldc);
            if (T.N > 3) a3.Store(c0 + 3 * ldc);
            if (T.N > 4) a4.Store(c0 + 4 * ldc);
            if (T.N > 5) a5.Store(c0 + 5 * ldc);
        }
        for (; x < w; x++)
            for (int r = 0; r < T.N; r++) One1(a + r * rs, cs, kn, b + x, bs, c + r * ldc + x, add);
    }

    /// <summary><see cref="Block{T}"/> of six rows on full-width AVX-512: 64 columns a pass in 24 zmm accumulators; w a multiple of 64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Six512(float* a, long rs, long cs, int kn, float* b, long bs, int w, float* c, long ldc, bool add)
    {
        long r2 = 2 * rs, r3 = 3 * rs, r4 = 4 * rs, r5 = 5 * rs;
        for (int x = 0; x < w; x += 64)
        {
            float* c0 = c + x, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
            Vector512<float> a00 = L512(c0, add), a01 = L512(c0 + 16, add), a02 = L512(c0 + 32, add), a03 = L512(c0 + 48, add);
            Vector512<float> a10 = L512(c1, add), a11 = L512(c1 + 16, add), a12 = L512(c1 + 32, add), a13 = L512(c1 + 48, add);
            Vector512<float> a20 = L512(c2, add), a21 = L512(c2 + 16, add), a22 = L512(c2 + 32, add), a23 = L512(c2 + 48, add);
            Vector512<float> a30 = L512(c3, add), a31 = L512(c3 + 16, add), a32 = L512(c3 + 32, add), a33 = L512(c3 + 48, add);
            Vector512<float> a40 = L512(c4, add), a41 = L512(c4 + 16, add), a42 = L512(c4 + 32, add), a43 = L512(c4 + 48, add);
            Vector512<float> a50 = L512(c5, add), a51 = L512(c5 + 16, add), a52 = L512(c5 + 32, add), a53 = L512(c5 + 48, add);
            float* p = a, br = b + x;
            for (int k = 0; k < kn; k++, p += cs, br += bs)
            {
                var v0 = Vector512.Load(br); var v1 = Vector512.Load(br + 16); var v2 = Vector512.Load(br + 32); var v3 = Vector512.Load(br + 48);
                var s = Vector512.Create(p[0]);
                a00 = Vector512.FusedMultiplyAdd(s, v0, a00); a01 = Vector512.FusedMultiplyAdd(s, v1, a01); a02 = Vector512.FusedMultiplyAdd(s, v2, a02); a03 = Vector512.FusedMultiplyAdd(s, v3, a03);
                s = Vector512.Create(p[rs]);
                a10 = Vector512.FusedMultiplyAdd(s, v0, a10); a11 = Vector512.FusedMultiplyAdd(s, v1, a11); a12 = Vector512.FusedMultiplyAdd(s, v2, a12); a13 = Vector512.FusedMultiplyAdd(s, v3, a13);
                s = Vector512.Create(p[r2]);
                a20 = Vector512.FusedMultiplyAdd(s, v0, a20); a21 = Vector512.FusedMultiplyAdd(s, v1, a21); a22 = Vector512.FusedMultiplyAdd(s, v2, a22); a23 = Vector512.FusedMultiplyAdd(s, v3, a23);
                s = Vector512.Create(p[r3]);
                a30 = Vector512.FusedMultiplyAdd(s, v0, a30); a31 = Vector512.FusedMultiplyAdd(s, v1, a31); a32 = Vector512.FusedMultiplyAdd(s, v2, a32); a33 = Vector512.FusedMultiplyAdd(s, v3, a33);
                s = Vector512.Create(p[r4]);
                a40 = Vector512.FusedMultiplyAdd(s, v0, a40); a41 = Vector512.FusedMultiplyAdd(s, v1, a41); a42 = Vector512.FusedMultiplyAdd(s, v2, a42); a43 = Vector512.FusedMultiplyAdd(s, v3, a43);
                s = Vector512.Create(p[r5]);
                a50 = Vector512.FusedMultiplyAdd(s, v0, a50); a51 = Vector512.FusedMultiplyAdd(s, v1, a51); a52 = Vector512.FusedMultiplyAdd(s, v2, a52); a53 = Vector512.FusedMultiplyAdd(s, v3, a53);
            }
            a00.Store(c0); a01.Store(c0 + 16); a02.Store(c0 + 32); a03.Store(c0 + 48);
            a10.Store(c1); a11.Store(c1 + 16); a12.Store(c1 + 32); a13.Store(c1 + 48);
            a20.Store(c2); a21.Store(c2 + 16); a22.Store(c2 + 32); a23.Store(c2 + 48);
            a30.Store(c3); a31.Store(c3 + 16); a32.Store(c3 + 32); a33.Store(c3 + 48);
            a40.Store(c4); a41.Store(c4 + 16); a42.Store(c4 + 32); a43.Store(c4 + 48);
            a50.Store(c5); a51.Store(c5 + 16); a52.Store(c5 + 32); a53.Store(c5 + 48);
        }
    }

    /// <summary>One row of c in zmm, 64 columns a pass (four chains); w a multiple of 64 (full-width hosts: the ymm
    /// columns and the remainder rows go through <see cref="Block{T}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One512(float* a, long cs, int kn, float* b, long bs, int w, float* c, bool add)
    {
        for (int x = 0; x < w; x += 64)
        {
            Vector512<float> a0 = L512(c + x, add), a1 = L512(c + x + 16, add), a2 = L512(c + x + 32, add), a3 = L512(c + x + 48, add);
            float* p = a, br = b + x;
            for (int k = 0; k < kn; k++, p += cs, br += bs)
            {
                var s = Vector512.Create(*p);
                a0 = Vector512.FusedMultiplyAdd(s, Vector512.Load(br), a0); a1 = Vector512.FusedMultiplyAdd(s, Vector512.Load(br + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(s, Vector512.Load(br + 32), a2); a3 = Vector512.FusedMultiplyAdd(s, Vector512.Load(br + 48), a3);
            }
            a0.Store(c + x); a1.Store(c + x + 16); a2.Store(c + x + 32); a3.Store(c + x + 48);
        }
    }

    private static void One1(float* a, long cs, int kn, float* b, long bs, float* c, bool add)
    {
        float acc = add ? *c : 0f;
        for (int k = 0; k < kn; k++) acc = MathF.FusedMultiplyAdd(a[k * cs], b[k * bs], acc);
        *c = acc;
    }

    /// <summary>The accumulator's start: c's value when adding to it, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> L(float* c, bool add) => add ? Vector256.Load(c) : Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> L512(float* c, bool add) => add ? Vector512.Load(c) : Vector512<float>.Zero;
}
