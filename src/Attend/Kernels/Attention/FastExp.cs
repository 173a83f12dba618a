using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Attention;

/// <summary>
/// exp for the attention tile loop (≈3× faster than Vector256.Exp): <c>eˣ = 2ⁿ·eʳ</c> with n = round(x·log₂e),
/// r = x − n·ln2, eʳ by a degree-5 polynomial fitted for relative error on |r| ≤ ln2/2 (≤ 3.4e-7 evaluated in
/// float32), 2ⁿ by adding n to the exponent bits. One-part ln2 suffices here: the loop only feeds x ≤ 0, so n ∈
/// [−126, 0] and n·(ln2 − fl(ln2)) stays below 2.4e-7. Inputs below −87 (−∞ included) give exactly 0.
/// </summary>
internal static class FastExp
{
    public const float Log2E = 1.44269504088896341f;
    public const float Ln2 = 0.693147180559945309f;
    private const float C1 = 0.9999989867210388f, C2 = 0.4999919831752777f, C3 = 0.16670504212379456f,
        C4 = 0.04188501089811325f, C5 = 0.008072157390415668f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var tooSmall = Vector256.LessThan(x, Vector256.Create(-87f));
        x = Vector256.Max(x, Vector256.Create(-87f));
        var n = Vector256.Round(x * Log2E);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2), x);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C5), r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        var scaled = Vector256.ShiftLeft(Vector256.ConvertToInt32(n), 23) + p.AsInt32();
        return Vector256.AndNot(scaled.AsSingle(), tooSmall);
    }

    private const float D1 = 0.6931464672088623f, D2 = 0.24022264778614044f, D3 = 0.055516887456178665f,
        D4 = 0.009668530896306038f, D5 = 0.0012915669940412045f;

    /// <summary>
    /// <c>2ˣ</c> for x ≤ 0, the form the forward's tile loop uses (scores carried in log₂ units, log₂e folded into the
    /// query scale): n = round(x), r = x − n exactly, 2ʳ by a degree-5 fit on |r| ≤ ½ (≤ 3.5e-7 relative), so no
    /// multiply by log₂e and no ln2 reduction. Inputs below −126 (−∞ included) give exactly 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> x)
    {
        var tooSmall = Vector256.LessThan(x, Vector256.Create(-126f));
        x = Vector256.Max(x, Vector256.Create(-126f));
        var n = Vector256.Round(x);
        var r = x - n;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(D5), r, Vector256.Create(D4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(D3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(D2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(D1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f));
        var scaled = Vector256.ShiftLeft(Vector256.ConvertToInt32(n), 23) + p.AsInt32();
        return Vector256.AndNot(scaled.AsSingle(), tooSmall);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => x < -87f ? 0f : MathF.Exp(x);
}
