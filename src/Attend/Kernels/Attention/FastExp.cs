using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Kernels.Attention;

/// <summary>
/// exp and exp2 for the attention tile loops (≈3× faster than Vector256.Exp), for x ≤ 0 (the loops only feed scores
/// minus their max or their log-sum-exp).
/// </summary>
internal static class FastExp
{
    public const float Log2E = 1.44269504088896341f;
    public const float Ln2 = 0.693147180559945309f;
    private const float D1 = 0.6931464672088623f, D2 = 0.24022264778614044f, D3 = 0.055516887456178665f,
        D4 = 0.009668530896306038f, D5 = 0.0012915669940412045f;

    /// <summary><c>eˣ = 2^(x·log₂e)</c>: the product's rounding adds at most |x|·6e-8 relative error.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Exp2(x * Log2E);

    /// <summary>
    /// <c>2ˣ</c> for x ≤ 0, the form the forward's tile loop uses (scores carried in log₂ units, log₂e folded into the
    /// query scale): n = round(x), r = x − n exactly, 2ʳ by a degree-5 polynomial fitted for relative error on |r| ≤ ½
    /// (≤ 3.5e-7 evaluated in float32), 2ⁿ by adding n to the exponent bits. Inputs below −126 (−∞ included) give 0.
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

    /// <summary><see cref="Exp2(Vector256{float})"/> sixteen lanes at a time: the same operations, so the same numbers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp2(Vector512<float> x)
    {
        var tooSmall = Vector512.LessThan(x, Vector512.Create(-126f));
        x = Vector512.Max(x, Vector512.Create(-126f));
        var n = Vector512.Round(x);
        var r = x - n;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(D5), r, Vector512.Create(D4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(D3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(D2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(D1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        var scaled = Vector512.ShiftLeft(Vector512.ConvertToInt32(n), 23) + p.AsInt32();
        return Vector512.AndNot(scaled.AsSingle(), tooSmall);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => x < -87f ? 0f : MathF.Exp(x);
}
