using System.Runtime.CompilerServices;

namespace Attend.Kernels;

/// <summary>
/// Rotary position embedding on rows of head dim D (B = batch, H = heads, T = positions). Each pair (a, b) of a row
/// at position p is rotated by the angle θ_p,i = p·base^(−2i/D):
/// <c>a' = a·cos θ − b·sin θ</c>, <c>b' = a·sin θ + b·cos θ</c>.
/// Interleaved pairs are (x[2i], x[2i+1]) (GPT-J, RoFormer); half-split pairs are (x[i], x[i + D/2]) (GPT-NeoX, LLaMA).
/// </summary>
internal static unsafe class Rotary
{
    /// <summary>
    /// y [B, H, T, D] (contiguous) from x read through strides (sB, sH, sT; unit stride along D), with the tables
    /// cos, sin [.., D/2] indexed by position <c>offset + t</c>. <paramref name="sign"/> = −1 rotates by −θ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* y, float* x, long sB, long sH, long sT, float* cos, float* sin,
        int b, int h, int t, int d, int offset, bool interleaved, float sign)
    {
        int half = d / 2;
        for (int ib = 0; ib < b; ib++)
            for (int ih = 0; ih < h; ih++)
                for (int it = 0; it < t; it++)
                {
                    float* xr = x + ib * sB + ih * sH + it * sT;
                    float* yr = y + (((long)ib * h + ih) * t + it) * d;
                    float* c = cos + (long)(offset + it) * half;
                    float* s = sin + (long)(offset + it) * half;
                    if (interleaved)
                        for (int i = 0; i < half; i++)
                        {
                            float a = xr[2 * i], bb = xr[2 * i + 1], sn = sign * s[i];
                            yr[2 * i] = a * c[i] - bb * sn;
                            yr[2 * i + 1] = a * sn + bb * c[i];
                        }
                    else
                        for (int i = 0; i < half; i++)
                        {
                            float a = xr[i], bb = xr[i + half], sn = sign * s[i];
                            yr[i] = a * c[i] - bb * sn;
                            yr[i + half] = a * sn + bb * c[i];
                        }
                }
    }
}
