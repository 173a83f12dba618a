using System.Runtime.CompilerServices;

namespace Attend.Kernels.Attention;

/// <summary>
/// One attention call as the kernels see it: raw pointers with element strides (the last dim of Q, K, V is
/// contiguous), the broadcast strides of the mask, and the score modifiers of <c>Attend.Attention.AttentionOptions</c>.
/// B = batch, H = query heads, Hkv = key/value heads, L = queries, S = keys, E = q/k head dim, Ev = v head dim.
/// </summary>
internal unsafe struct AttentionProblem
{
    public int B, H, Hkv, L, S, E, Ev;
    public float* Q; public long QsB, QsH, QsL;
    public float* K; public long KsB, KsH, KsS;
    public float* V; public long VsB, VsH, VsS;
    public float Scale, Softcap;
    public byte* BoolMask; public float* AddMask; public long MsB, MsH, MsL, MsS;
    public float* Alibi;          // per query head, or null
    public int Off;               // diagonal offset: 0 (top-left) or S − L (bottom-right)
    public long BandLeft, BandRight;   // key j is structurally allowed iff i + Off − BandLeft ≤ j ≤ i + Off + BandRight
    public float DropP; public ulong Seed;

    public readonly int Group => H / Hkv;
    public readonly bool HasMods => Softcap > 0 || Alibi != null || BoolMask != null || AddMask != null;
    public readonly bool HasBand => BandLeft < S + (long)L || BandRight < S + (long)L;

    public readonly float* QRow(int b, int h, int i) => Q + b * QsB + h * QsH + i * QsL;
    public readonly float* KRow(int b, int hk, int j) => K + b * KsB + hk * KsH + j * KsS;
    public readonly float* VRow(int b, int hk, int j) => V + b * VsB + hk * VsH + j * VsS;

    /// <summary>First and last key allowed by the causal/window band for query i (may be empty: lo &gt; hi).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly (int lo, int hi) Band(int i)
    {
        long lo = Math.Max(0, i + Off - BandLeft), hi = Math.Min(S - 1, i + Off + BandRight);
        return ((int)Math.Min(lo, S), (int)Math.Max(hi, -1));
    }

    /// <summary>
    /// Applies softcap, ALiBi, the mask and the band to raw scaled scores of rows (queries) i0..i0+rows and columns
    /// (keys) j0..j0+n, element (r, c) at <c>s[r·rs + c·cs]</c> (row-major tiles use cs = 1, transposed ones rs = 1).
    /// With softcap, <paramref name="tanhOut"/> (same layout, may be null) receives tanh(s/c) for the backward.
    /// </summary>
    public readonly void ApplyMods(float* s, long rs, long cs, int rows, int b, int h, int i0, int j0, int n, float* tanhOut)
    {
        for (int r = 0; r < rows; r++)
        {
            int i = i0 + r;
            float* row = s + r * rs;
            if (Softcap > 0)
            {
                float inv = 1f / Softcap;
                for (int c = 0; c < n; c++)
                {
                    float t = MathF.Tanh(row[c * cs] * inv);
                    if (tanhOut != null) tanhOut[r * rs + c * cs] = t;
                    row[c * cs] = Softcap * t;
                }
            }
            if (Alibi != null)
            {
                float slope = Alibi[h];
                for (int c = 0; c < n; c++) row[c * cs] -= slope * Math.Abs(i + Off - (j0 + c));
            }
            if (AddMask != null)
            {
                float* m = AddMask + b * MsB + h * MsH + i * MsL + j0 * MsS;
                for (int c = 0; c < n; c++) row[c * cs] += m[c * MsS];
            }
            if (BoolMask != null)
            {
                byte* m = BoolMask + b * MsB + h * MsH + i * MsL + j0 * MsS;
                for (int c = 0; c < n; c++) if (m[c * MsS] == 0) row[c * cs] = float.NegativeInfinity;
            }
            // The band: only the columns outside [lo, hi] are touched.
            var (lo, hi) = Band(i);
            int before = Math.Clamp(lo - j0, 0, n), after = Math.Clamp(hi - j0 + 1, 0, n);
            for (int c = 0; c < before; c++) row[c * cs] = float.NegativeInfinity;
            for (int c = Math.Max(after, before); c < n; c++) row[c * cs] = float.NegativeInfinity;
        }
    }

    /// <summary>The dropout keep-scale of element (b, h, i, j): 0 with probability p, else 1/(1 − p). A counter-based
    /// hash (SplitMix64 finalizer) of the seed and the position, so the backward regenerates the same mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float DropScale(int b, int h, int i, int j)
    {
        ulong x = Seed + 0x9E3779B97F4A7C15UL * (ulong)((((long)b * H + h) * L + i) * (long)S + j + 1);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        float u = (x >> 40) * (1f / (1 << 24));
        return u < DropP ? 0f : 1f / (1f - DropP);
    }
}
