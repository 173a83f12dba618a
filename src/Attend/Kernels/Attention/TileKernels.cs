using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Attend.Kernels.Attention;

/// <summary>
/// The register-tiled products of the attention tile loop, laid out so that the softmax runs along vectors of
/// queries (no horizontal reductions, no packing of K or V):
/// <list type="bullet">
/// <item>scores, transposed: <c>Sᵀ[j][q] = Σ_e K[j][e]·Qᵀ[e][q]</c> for QG = 24 queries (three vectors) × 6 keys
/// (18 accumulators), Qᵀ packed once per query group, K read in place one broadcast at a time;</item>
/// <item><c>O[12×Ev] += P[12×n]·V[n×Ev]</c> in zmm for V rows 32 wide, P read from Sᵀ's columns, V read in place (the
/// other P·V shapes: <see cref="TileProducts"/>).</item>
/// </list>
/// </summary>
internal static unsafe class TileKernels
{
    public const int QG = 24, KR = 6, MR = 6;

    /// <summary>The forward's query group on full-width AVX-512 hosts: 30 queries (five blocks of <see cref="MR"/> for
    /// P·V) in two zmm, tile rows <see cref="Ld512"/> floats apart (two lanes of padding).</summary>
    public const int QG512 = 30, Ld512 = 32;

    /// <summary>Packs rows of Q scaled: <c>qt[e·ld + r] = scale·q[r][e]</c> for r &lt; rows, 0 for rows ≤ r &lt; ld.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackQueries(float* qt, float* q0, long qs, int rows, int e, float scale, int ld = QG)
    {
        TransposeScaled(q0, qs, rows, e, scale, qt, ld);
        for (int x = 0; x < e; x++) new Span<float>(qt + x * ld + rows, ld - rows).Clear();
    }

    /// <summary><c>dst[x·ldd + r] = scale·src[r·rs + x]</c> for r &lt; rows, x &lt; cols: 8×8 blocks transposed in
    /// registers where AVX is there, single floats at the edges (one multiply each either way: the same numbers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TransposeScaled(float* src, long rs, int rows, int cols, float scale, float* dst, int ldd)
    {
        int r8 = 0, c8 = cols & ~7;
        if (Avx.IsSupported)
            for (; r8 + 8 <= rows; r8 += 8)
                for (int x = 0; x < c8; x += 8) Transpose8(src + r8 * rs + x, rs, scale, dst + (long)x * ldd + r8, ldd);
        for (int r = 0; r < rows; r++)
        {
            float* s = src + r * rs;
            for (int x = r < r8 ? c8 : 0; x < cols; x++) dst[(long)x * ldd + r] = s[x] * scale;
        }
    }

    /// <summary>One 8×8 block of <see cref="TransposeScaled"/>: <c>d[x·ldd + r] = scale·s[r·rs + x]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(float* s, long rs, float scale, float* d, int ldd)
    {
        var k = Vector256.Create(scale);
        Vector256<float> v0 = Avx.LoadVector256(s) * k, v1 = Avx.LoadVector256(s + rs) * k, v2 = Avx.LoadVector256(s + 2 * rs) * k,
            v3 = Avx.LoadVector256(s + 3 * rs) * k, v4 = Avx.LoadVector256(s + 4 * rs) * k, v5 = Avx.LoadVector256(s + 5 * rs) * k,
            v6 = Avx.LoadVector256(s + 6 * rs) * k, v7 = Avx.LoadVector256(s + 7 * rs) * k;
        Vector256<float> t0 = Avx.UnpackLow(v0, v1), t1 = Avx.UnpackHigh(v0, v1), t2 = Avx.UnpackLow(v2, v3), t3 = Avx.UnpackHigh(v2, v3),
            t4 = Avx.UnpackLow(v4, v5), t5 = Avx.UnpackHigh(v4, v5), t6 = Avx.UnpackLow(v6, v7), t7 = Avx.UnpackHigh(v6, v7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE),
            u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(d); Avx.Permute2x128(u1, u5, 0x20).Store(d + ldd);
        Avx.Permute2x128(u2, u6, 0x20).Store(d + 2 * ldd); Avx.Permute2x128(u3, u7, 0x20).Store(d + 3 * ldd);
        Avx.Permute2x128(u0, u4, 0x31).Store(d + 4 * ldd); Avx.Permute2x128(u1, u5, 0x31).Store(d + 5 * ldd);
        Avx.Permute2x128(u2, u6, 0x31).Store(d + 6 * ldd); Avx.Permute2x128(u3, u7, 0x31).Store(d + 7 * ldd);
    }

    /// <summary>
    /// <c>st[j·ld + q] = Σ_e k[j][e]·qt[e][q]</c> for keys 0 ≤ j &lt; n (K rows at k0 + j·ks; ld ≥ QG, QG for a tile
    /// of its own), and <c>colMax[q] = max(colMax[q], max_j st[j][q])</c>. Each score is one fused multiply-add chain
    /// from 0 in e order, whatever the width (<see cref="Scores32"/> gives the same numbers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores(float* qt, int e, float* k0, long ks, int n, float* st, float* colMax, int ld = QG)
    {
        var m0 = Vector256.Load(colMax); var m1 = Vector256.Load(colMax + 8); var m2 = Vector256.Load(colMax + 16);
        int j = 0;
        for (; j + KR <= n; j += KR)
        {
            float* k = k0 + j * ks;
            float* ka = k, kb = k + ks, kc = k + 2 * ks, kd = k + 3 * ks, ke = k + 4 * ks, kf = k + 5 * ks;
            Vector256<float> a0 = default, a1 = default, a2 = default, b0 = default, b1 = default, b2 = default;
            Vector256<float> c0 = default, c1 = default, c2 = default, d0 = default, d1 = default, d2 = default;
            Vector256<float> e0 = default, e1 = default, e2 = default, f0 = default, f1 = default, f2 = default;
            float* q = qt;
            for (int x = 0; x < e; x++, q += QG)
            {
                var q0 = Vector256.Load(q); var q1 = Vector256.Load(q + 8); var q2 = Vector256.Load(q + 16);
                var w = Vector256.Create(ka[x]);
                a0 = Vector256.FusedMultiplyAdd(w, q0, a0); a1 = Vector256.FusedMultiplyAdd(w, q1, a1); a2 = Vector256.FusedMultiplyAdd(w, q2, a2);
                w = Vector256.Create(kb[x]);
                b0 = Vector256.FusedMultiplyAdd(w, q0, b0); b1 = Vector256.FusedMultiplyAdd(w, q1, b1); b2 = Vector256.FusedMultiplyAdd(w, q2, b2);
                w = Vector256.Create(kc[x]);
                c0 = Vector256.FusedMultiplyAdd(w, q0, c0); c1 = Vector256.FusedMultiplyAdd(w, q1, c1); c2 = Vector256.FusedMultiplyAdd(w, q2, c2);
                w = Vector256.Create(kd[x]);
                d0 = Vector256.FusedMultiplyAdd(w, q0, d0); d1 = Vector256.FusedMultiplyAdd(w, q1, d1); d2 = Vector256.FusedMultiplyAdd(w, q2, d2);
                w = Vector256.Create(ke[x]);
                e0 = Vector256.FusedMultiplyAdd(w, q0, e0); e1 = Vector256.FusedMultiplyAdd(w, q1, e1); e2 = Vector256.FusedMultiplyAdd(w, q2, e2);
                w = Vector256.Create(kf[x]);
                f0 = Vector256.FusedMultiplyAdd(w, q0, f0); f1 = Vector256.FusedMultiplyAdd(w, q1, f1); f2 = Vector256.FusedMultiplyAdd(w, q2, f2);
            }
            float* o = st + j * ld;
            a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); o += ld;
            b0.Store(o); b1.Store(o + 8); b2.Store(o + 16); o += ld;
            c0.Store(o); c1.Store(o + 8); c2.Store(o + 16); o += ld;
            d0.Store(o); d1.Store(o + 8); d2.Store(o + 16); o += ld;
            e0.Store(o); e1.Store(o + 8); e2.Store(o + 16); o += ld;
            f0.Store(o); f1.Store(o + 8); f2.Store(o + 16);
            m0 = Vector256.Max(m0, Vector256.Max(Vector256.Max(Vector256.Max(a0, b0), Vector256.Max(c0, d0)), Vector256.Max(e0, f0)));
            m1 = Vector256.Max(m1, Vector256.Max(Vector256.Max(Vector256.Max(a1, b1), Vector256.Max(c1, d1)), Vector256.Max(e1, f1)));
            m2 = Vector256.Max(m2, Vector256.Max(Vector256.Max(Vector256.Max(a2, b2), Vector256.Max(c2, d2)), Vector256.Max(e2, f2)));
        }
        for (; j < n; j++)
        {
            float* k = k0 + j * ks;
            Vector256<float> a0 = default, a1 = default, a2 = default;
            float* q = qt;
            for (int x = 0; x < e; x++, q += QG)
            {
                var w = Vector256.Create(k[x]);
                a0 = Vector256.FusedMultiplyAdd(w, Vector256.Load(q), a0);
                a1 = Vector256.FusedMultiplyAdd(w, Vector256.Load(q + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(w, Vector256.Load(q + 16), a2);
            }
            float* o = st + j * ld;
            a0.Store(o); a1.Store(o + 8); a2.Store(o + 16);
            m0 = Vector256.Max(m0, a0); m1 = Vector256.Max(m1, a1); m2 = Vector256.Max(m2, a2);
        }
        m0.Store(colMax); m1.Store(colMax + 8); m2.Store(colMax + 16);
    }

    /// <summary><see cref="Scores"/> for the full-width hosts' group of 32 lanes (<see cref="QG512"/> queries and padding,
    /// queries <see cref="Ld512"/> apart in qt and st): two zmm, 6 keys at a time (12 accumulators), every lane of every
    /// FMA a query's — 1.7× the useful rate of the 24-query zmm + ymm form (Zen 5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores32(float* qt, int e, float* k0, long ks, int n, float* st, float* colMax)
    {
        const int ld = Ld512;
        var m0 = Vector512.Load(colMax); var m1 = Vector512.Load(colMax + 16);
        int j = 0;
        for (; j + KR <= n; j += KR)
        {
            float* ka = k0 + j * ks, kb = ka + ks, kc = kb + ks, kd = kc + ks, ke = kd + ks, kf = ke + ks;
            Vector512<float> a0 = default, b0 = default, c0 = default, d0 = default, e0 = default, f0 = default;
            Vector512<float> a1 = default, b1 = default, c1 = default, d1 = default, e1 = default, f1 = default;
            float* q = qt;
            for (int x = 0; x < e; x++, q += ld)
            {
                var q0 = Vector512.Load(q); var q1 = Vector512.Load(q + 16);
                var w = Vector512.Create(ka[x]); a0 = Vector512.FusedMultiplyAdd(w, q0, a0); a1 = Vector512.FusedMultiplyAdd(w, q1, a1);
                w = Vector512.Create(kb[x]); b0 = Vector512.FusedMultiplyAdd(w, q0, b0); b1 = Vector512.FusedMultiplyAdd(w, q1, b1);
                w = Vector512.Create(kc[x]); c0 = Vector512.FusedMultiplyAdd(w, q0, c0); c1 = Vector512.FusedMultiplyAdd(w, q1, c1);
                w = Vector512.Create(kd[x]); d0 = Vector512.FusedMultiplyAdd(w, q0, d0); d1 = Vector512.FusedMultiplyAdd(w, q1, d1);
                w = Vector512.Create(ke[x]); e0 = Vector512.FusedMultiplyAdd(w, q0, e0); e1 = Vector512.FusedMultiplyAdd(w, q1, e1);
                w = Vector512.Create(kf[x]); f0 = Vector512.FusedMultiplyAdd(w, q0, f0); f1 = Vector512.FusedMultiplyAdd(w, q1, f1);
            }
            float* o = st + j * ld;
            a0.Store(o); a1.Store(o + 16); o += ld; b0.Store(o); b1.Store(o + 16); o += ld; c0.Store(o); c1.Store(o + 16); o += ld;
            d0.Store(o); d1.Store(o + 16); o += ld; e0.Store(o); e1.Store(o + 16); o += ld; f0.Store(o); f1.Store(o + 16);
            m0 = Vector512.Max(m0, Vector512.Max(Vector512.Max(Vector512.Max(a0, b0), Vector512.Max(c0, d0)), Vector512.Max(e0, f0)));
            m1 = Vector512.Max(m1, Vector512.Max(Vector512.Max(Vector512.Max(a1, b1), Vector512.Max(c1, d1)), Vector512.Max(e1, f1)));
        }
        for (; j < n; j++)
        {
            float* k = k0 + j * ks;
            Vector512<float> a0 = default, a1 = default;
            float* q = qt;
            for (int x = 0; x < e; x++, q += ld)
            {
                var w = Vector512.Create(k[x]);
                a0 = Vector512.FusedMultiplyAdd(w, Vector512.Load(q), a0); a1 = Vector512.FusedMultiplyAdd(w, Vector512.Load(q + 16), a1);
            }
            float* o = st + j * ld;
            a0.Store(o); a1.Store(o + 16);
            m0 = Vector512.Max(m0, a0); m1 = Vector512.Max(m1, a1);
        }
        m0.Store(colMax); m1.Store(colMax + 16);
    }

    /// <summary>P·V for 12 query rows at once on full-width AVX-512 hosts, 32 columns of V per pass (two zmm per row, 24
    /// accumulators): <c>o[r][x] += Σ_c pt[c·ld + r]·v[c][x]</c>, r &lt; 12. ev must be a multiple of 32 (the other
    /// P·V shapes go through <see cref="TileProducts"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulatePV12(float* pt, int ld, int n, float* v, long vs, int ev, float* o, int ldo)
    {
        for (int x = 0; x < ev; x += 32)
        {
            float* ob = o + x;
            Vector512<float> a00 = Vector512.Load(ob), a01 = Vector512.Load(ob + 16), a10 = Vector512.Load(ob + ldo), a11 = Vector512.Load(ob + ldo + 16);
            Vector512<float> a20 = Vector512.Load(ob + 2 * ldo), a21 = Vector512.Load(ob + 2 * ldo + 16), a30 = Vector512.Load(ob + 3 * ldo), a31 = Vector512.Load(ob + 3 * ldo + 16);
            Vector512<float> a40 = Vector512.Load(ob + 4 * ldo), a41 = Vector512.Load(ob + 4 * ldo + 16), a50 = Vector512.Load(ob + 5 * ldo), a51 = Vector512.Load(ob + 5 * ldo + 16);
            Vector512<float> a60 = Vector512.Load(ob + 6 * ldo), a61 = Vector512.Load(ob + 6 * ldo + 16), a70 = Vector512.Load(ob + 7 * ldo), a71 = Vector512.Load(ob + 7 * ldo + 16);
            Vector512<float> a80 = Vector512.Load(ob + 8 * ldo), a81 = Vector512.Load(ob + 8 * ldo + 16), a90 = Vector512.Load(ob + 9 * ldo), a91 = Vector512.Load(ob + 9 * ldo + 16);
            Vector512<float> aa0 = Vector512.Load(ob + 10 * ldo), aa1 = Vector512.Load(ob + 10 * ldo + 16), ab0 = Vector512.Load(ob + 11 * ldo), ab1 = Vector512.Load(ob + 11 * ldo + 16);
            float* vr = v + x;
            float* p = pt;
            for (int c = 0; c < n; c++, vr += vs, p += ld)
            {
                var v0 = Vector512.Load(vr); var v1 = Vector512.Load(vr + 16);
                var w = Vector512.Create(p[0]); a00 = Vector512.FusedMultiplyAdd(w, v0, a00); a01 = Vector512.FusedMultiplyAdd(w, v1, a01);
                w = Vector512.Create(p[1]); a10 = Vector512.FusedMultiplyAdd(w, v0, a10); a11 = Vector512.FusedMultiplyAdd(w, v1, a11);
                w = Vector512.Create(p[2]); a20 = Vector512.FusedMultiplyAdd(w, v0, a20); a21 = Vector512.FusedMultiplyAdd(w, v1, a21);
                w = Vector512.Create(p[3]); a30 = Vector512.FusedMultiplyAdd(w, v0, a30); a31 = Vector512.FusedMultiplyAdd(w, v1, a31);
                w = Vector512.Create(p[4]); a40 = Vector512.FusedMultiplyAdd(w, v0, a40); a41 = Vector512.FusedMultiplyAdd(w, v1, a41);
                w = Vector512.Create(p[5]); a50 = Vector512.FusedMultiplyAdd(w, v0, a50); a51 = Vector512.FusedMultiplyAdd(w, v1, a51);
                w = Vector512.Create(p[6]); a60 = Vector512.FusedMultiplyAdd(w, v0, a60); a61 = Vector512.FusedMultiplyAdd(w, v1, a61);
                w = Vector512.Create(p[7]); a70 = Vector512.FusedMultiplyAdd(w, v0, a70); a71 = Vector512.FusedMultiplyAdd(w, v1, a71);
                w = Vector512.Create(p[8]); a80 = Vector512.FusedMultiplyAdd(w, v0, a80); a81 = Vector512.FusedMultiplyAdd(w, v1, a81);
                w = Vector512.Create(p[9]); a90 = Vector512.FusedMultiplyAdd(w, v0, a90); a91 = Vector512.FusedMultiplyAdd(w, v1, a91);
                w = Vector512.Create(p[10]); aa0 = Vector512.FusedMultiplyAdd(w, v0, aa0); aa1 = Vector512.FusedMultiplyAdd(w, v1, aa1);
                w = Vector512.Create(p[11]); ab0 = Vector512.FusedMultiplyAdd(w, v0, ab0); ab1 = Vector512.FusedMultiplyAdd(w, v1, ab1);
            }
            a00.Store(ob); a01.Store(ob + 16); a10.Store(ob + ldo); a11.Store(ob + ldo + 16);
            a20.Store(ob + 2 * ldo); a21.Store(ob + 2 * ldo + 16); a30.Store(ob + 3 * ldo); a31.Store(ob + 3 * ldo + 16);
            a40.Store(ob + 4 * ldo); a41.Store(ob + 4 * ldo + 16); a50.Store(ob + 5 * ldo); a51.Store(ob + 5 * ldo + 16);
            a60.Store(ob + 6 * ldo); a61.Store(ob + 6 * ldo + 16); a70.Store(ob + 7 * ldo); a71.Store(ob + 7 * ldo + 16);
            a80.Store(ob + 8 * ldo); a81.Store(ob + 8 * ldo + 16); a90.Store(ob + 9 * ldo); a91.Store(ob + 9 * ldo + 16);
            aa0.Store(ob + 10 * ldo); aa1.Store(ob + 10 * ldo + 16); ab0.Store(ob + 11 * ldo); ab1.Store(ob + 11 * ldo + 16);
        }
    }
}
