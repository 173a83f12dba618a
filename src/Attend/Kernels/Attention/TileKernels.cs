using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Attention;

/// <summary>
/// The two register-tiled products of the attention tile loop, for MR = 6 query rows at a time (Vector256, the shape
/// of OpenBLAS's Haswell SGEMM kernel): scores <c>S[6×n] = Qs[6×E]·Kᵀ</c> from K packed in 16-column panels, and
/// <c>O[6×Ev] += P[6×n]·V[n×Ev]</c> straight from V's rows.
/// </summary>
internal static unsafe class TileKernels
{
    public const int MR = 6, NR = 16;

    /// <summary>Packs keys j0..j0+n (rows of K, stride ks) into ⌈n/16⌉ panels of [E][16], zero beyond n:
    /// <c>kp[p·E·16 + e·16 + c] = K[j0 + 16p + c][e]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackKeys(float* kp, float* k0, long ks, int n, int e)
    {
        int panels = (n + NR - 1) / NR;
        for (int p = 0; p < panels; p++)
        {
            float* dst = kp + (long)p * e * NR;
            for (int c = 0; c < NR; c++)
            {
                int j = p * NR + c;
                if (j < n)
                {
                    float* src = k0 + j * ks;
                    for (int x = 0; x < e; x++) dst[x * NR + c] = src[x];
                }
                else for (int x = 0; x < e; x++) dst[x * NR + c] = 0f;
            }
        }
    }

    /// <summary><c>s[r][16p + c] = Σ_e qs[r·E + e]·kp[p][e][c]</c> for r &lt; 6 and panels p0 ≤ p &lt; p1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores(float* qs, int e, float* kp, int p0, int p1, float* s, int lds)
    {
        float* q0 = qs, q1 = qs + e, q2 = qs + 2 * e, q3 = qs + 3 * e, q4 = qs + 4 * e, q5 = qs + 5 * e;
        for (int p = p0; p < p1; p++)
        {
            float* b = kp + (long)p * e * NR;
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            for (int x = 0; x < e; x++, b += NR)
            {
                var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
                var a = Vector256.Create(q0[x]); c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
                a = Vector256.Create(q1[x]); c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
                a = Vector256.Create(q2[x]); c20 = Vector256.FusedMultiplyAdd(a, b0, c20); c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
                a = Vector256.Create(q3[x]); c30 = Vector256.FusedMultiplyAdd(a, b0, c30); c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
                a = Vector256.Create(q4[x]); c40 = Vector256.FusedMultiplyAdd(a, b0, c40); c41 = Vector256.FusedMultiplyAdd(a, b1, c41);
                a = Vector256.Create(q5[x]); c50 = Vector256.FusedMultiplyAdd(a, b0, c50); c51 = Vector256.FusedMultiplyAdd(a, b1, c51);
            }
            float* o = s + p * NR;
            c00.Store(o); c01.Store(o + 8); o += lds;
            c10.Store(o); c11.Store(o + 8); o += lds;
            c20.Store(o); c21.Store(o + 8); o += lds;
            c30.Store(o); c31.Store(o + 8); o += lds;
            c40.Store(o); c41.Store(o + 8); o += lds;
            c50.Store(o); c51.Store(o + 8);
        }
    }

    /// <summary><c>o[r][x] += Σ_{c0 ≤ c &lt; c1} p[r][c]·v[c][x]</c> for r &lt; 6, x &lt; ev; v row c at v + c·vs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulatePV(float* p, int ldp, int c0, int c1, float* v, long vs, int ev, float* o, int ldo)
    {
        float* p0 = p, p1 = p + ldp, p2 = p + 2 * ldp, p3 = p + 3 * ldp, p4 = p + 4 * ldp, p5 = p + 5 * ldp;
        int x = 0;
        for (; x + 32 <= ev; x += 32)
        {
            float* o0 = o + x;
            Vector256<float> a00 = Vector256.Load(o0), a01 = Vector256.Load(o0 + 8), a02 = Vector256.Load(o0 + 16), a03 = Vector256.Load(o0 + 24);
            float* o1 = o0 + ldo;
            Vector256<float> a10 = Vector256.Load(o1), a11 = Vector256.Load(o1 + 8), a12 = Vector256.Load(o1 + 16), a13 = Vector256.Load(o1 + 24);
            float* o2 = o1 + ldo;
            Vector256<float> a20 = Vector256.Load(o2), a21 = Vector256.Load(o2 + 8), a22 = Vector256.Load(o2 + 16), a23 = Vector256.Load(o2 + 24);
            float* o3 = o2 + ldo;
            Vector256<float> a30 = Vector256.Load(o3), a31 = Vector256.Load(o3 + 8), a32 = Vector256.Load(o3 + 16), a33 = Vector256.Load(o3 + 24);
            float* o4 = o3 + ldo;
            Vector256<float> a40 = Vector256.Load(o4), a41 = Vector256.Load(o4 + 8), a42 = Vector256.Load(o4 + 16), a43 = Vector256.Load(o4 + 24);
            float* o5 = o4 + ldo;
            Vector256<float> a50 = Vector256.Load(o5), a51 = Vector256.Load(o5 + 8), a52 = Vector256.Load(o5 + 16), a53 = Vector256.Load(o5 + 24);
            for (int c = c0; c < c1; c++)
            {
                float* vr = v + c * vs + x;
                var v0 = Vector256.Load(vr); var v1 = Vector256.Load(vr + 8); var v2 = Vector256.Load(vr + 16); var v3 = Vector256.Load(vr + 24);
                var w = Vector256.Create(p0[c]);
                a00 = Vector256.FusedMultiplyAdd(w, v0, a00); a01 = Vector256.FusedMultiplyAdd(w, v1, a01); a02 = Vector256.FusedMultiplyAdd(w, v2, a02); a03 = Vector256.FusedMultiplyAdd(w, v3, a03);
                w = Vector256.Create(p1[c]);
                a10 = Vector256.FusedMultiplyAdd(w, v0, a10); a11 = Vector256.FusedMultiplyAdd(w, v1, a11); a12 = Vector256.FusedMultiplyAdd(w, v2, a12); a13 = Vector256.FusedMultiplyAdd(w, v3, a13);
                w = Vector256.Create(p2[c]);
                a20 = Vector256.FusedMultiplyAdd(w, v0, a20); a21 = Vector256.FusedMultiplyAdd(w, v1, a21); a22 = Vector256.FusedMultiplyAdd(w, v2, a22); a23 = Vector256.FusedMultiplyAdd(w, v3, a23);
                w = Vector256.Create(p3[c]);
                a30 = Vector256.FusedMultiplyAdd(w, v0, a30); a31 = Vector256.FusedMultiplyAdd(w, v1, a31); a32 = Vector256.FusedMultiplyAdd(w, v2, a32); a33 = Vector256.FusedMultiplyAdd(w, v3, a33);
                w = Vector256.Create(p4[c]);
                a40 = Vector256.FusedMultiplyAdd(w, v0, a40); a41 = Vector256.FusedMultiplyAdd(w, v1, a41); a42 = Vector256.FusedMultiplyAdd(w, v2, a42); a43 = Vector256.FusedMultiplyAdd(w, v3, a43);
                w = Vector256.Create(p5[c]);
                a50 = Vector256.FusedMultiplyAdd(w, v0, a50); a51 = Vector256.FusedMultiplyAdd(w, v1, a51); a52 = Vector256.FusedMultiplyAdd(w, v2, a52); a53 = Vector256.FusedMultiplyAdd(w, v3, a53);
            }
            a00.Store(o0); a01.Store(o0 + 8); a02.Store(o0 + 16); a03.Store(o0 + 24);
            a10.Store(o1); a11.Store(o1 + 8); a12.Store(o1 + 16); a13.Store(o1 + 24);
            a20.Store(o2); a21.Store(o2 + 8); a22.Store(o2 + 16); a23.Store(o2 + 24);
            a30.Store(o3); a31.Store(o3 + 8); a32.Store(o3 + 16); a33.Store(o3 + 24);
            a40.Store(o4); a41.Store(o4 + 8); a42.Store(o4 + 16); a43.Store(o4 + 24);
            a50.Store(o5); a51.Store(o5 + 8); a52.Store(o5 + 16); a53.Store(o5 + 24);
        }
        for (; x + 8 <= ev; x += 8)
        {
            float* o0 = o + x;
            Vector256<float> a0 = Vector256.Load(o0), a1 = Vector256.Load(o0 + ldo), a2 = Vector256.Load(o0 + 2 * ldo),
                a3 = Vector256.Load(o0 + 3 * ldo), a4 = Vector256.Load(o0 + 4 * ldo), a5 = Vector256.Load(o0 + 5 * ldo);
            for (int c = c0; c < c1; c++)
            {
                var vv = Vector256.Load(v + c * vs + x);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(p0[c]), vv, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(p1[c]), vv, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Create(p2[c]), vv, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Create(p3[c]), vv, a3);
                a4 = Vector256.FusedMultiplyAdd(Vector256.Create(p4[c]), vv, a4);
                a5 = Vector256.FusedMultiplyAdd(Vector256.Create(p5[c]), vv, a5);
            }
            a0.Store(o0); a1.Store(o0 + ldo); a2.Store(o0 + 2 * ldo); a3.Store(o0 + 3 * ldo); a4.Store(o0 + 4 * ldo); a5.Store(o0 + 5 * ldo);
        }
        for (; x < ev; x++)
            for (int r = 0; r < MR; r++)
            {
                float* pr = p + r * ldp;
                float acc = o[r * ldo + x];
                for (int c = c0; c < c1; c++) acc += pr[c] * v[c * vs + x];
                o[r * ldo + x] = acc;
            }
    }
}
