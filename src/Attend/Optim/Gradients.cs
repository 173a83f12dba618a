using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Attend.Optim;

/// <summary>Gradient utilities (PyTorch's <c>torch.nn.utils.clip_grad_norm_</c>).</summary>
public static class Gradients
{
    /// <summary>
    /// Rescales the gradients of <paramref name="parameters"/> in place so that their joint norm is at most
    /// <paramref name="maxNorm"/>, as <c>torch.nn.utils.clip_grad_norm_</c>; returns the total norm before clipping.
    /// <code>
    /// total = ‖(‖g₁‖ₚ, ‖g₂‖ₚ, …)‖ₚ       (the p-norm of all gradients seen as one vector; p = ∞: max |gᵢ|)
    /// c     = maxNorm / (total + 1e-6)
    /// gᵢ   ← gᵢ · c                     when c &lt; 1
    /// </code>
    /// Parameters without a gradient are skipped (none at all: returns 0). Norms are accumulated in double.
    /// A non-finite total (a NaN or ∞ in some gradient) throws <see cref="InvalidOperationException"/> and leaves the
    /// gradients unchanged; with <paramref name="errorIfNonfinite"/> false it scales as PyTorch then does (∞ → all
    /// gradients 0, NaN → all NaN).
    /// <paramref name="normType"/> is p &gt; 0, or <see cref="float.PositiveInfinity"/> for the max norm.
    /// </summary>
    public static float ClipGradNorm(IEnumerable<Tensor> parameters, float maxNorm, float normType = 2f, bool errorIfNonfinite = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be ≥ 0");
        if (!(normType > 0)) throw new ArgumentOutOfRangeException(nameof(normType), normType, "normType must be > 0 (or +∞)");

        var grads = new List<Tensor>();
        foreach (var p in parameters)
        {
            if (p is null) throw new ArgumentException("a parameter is null", nameof(parameters));
            if (p.Grad is { } g) grads.Add(g);
        }
        if (grads.Count == 0) return 0f;

        double total = 0;
        bool inf = float.IsPositiveInfinity(normType);
        foreach (var g in grads)
        {
            var c = g.ContiguousRaw();
            try
            {
                double n = Norm(c.Span, normType);
                total = inf ? (double.IsNaN(n) || double.IsNaN(total) ? double.NaN : Math.Max(total, n))
                    : normType == 2 ? total + n * n
                    : normType == 1 ? total + n
                    : total + Math.Pow(n, normType);
            }
            finally { if (!ReferenceEquals(c, g)) c.Dispose(); }
        }
        if (!inf) total = normType == 2 ? Math.Sqrt(total) : normType == 1 ? total : Math.Pow(total, 1.0 / normType);

        if (!double.IsFinite(total) && errorIfNonfinite)
            throw new InvalidOperationException($"ClipGradNorm: the total norm of order {normType} of the gradients is {total}, " +
                "so they cannot be clipped (a NaN or ∞ in a gradient: check the loss and the learning rate). " +
                "Pass errorIfNonfinite: false to scale them by it anyway, as PyTorch's default does.");

        double coef = maxNorm / (total + 1e-6);
        if (!(coef >= 1))   // also NaN, as PyTorch's clamp(coef, max=1) keeps NaN
        {
            float s = (float)coef;
            foreach (var g in grads)
            {
                if (g.IsContiguous) { TensorPrimitives.Multiply(g.Span, s, g.Span); continue; }
                using var c = g.CloneRaw();
                TensorPrimitives.Multiply(c.Span, s, c.Span);
                g.CopyFrom(c);
            }
        }
        return (float)total;
    }

    /// <summary>‖x‖ₚ, accumulated in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // no tier-0 loop on the first (large) call
    private static unsafe double Norm(ReadOnlySpan<float> x, float p)
    {
        if (float.IsPositiveInfinity(p))
            return x.IsEmpty ? 0 : Math.Abs((double)TensorPrimitives.MaxMagnitude(x));   // NaN if any is NaN
        if (p != 2 && p != 1)
        {
            double s = 0;
            foreach (float v in x) s += Math.Pow(Math.Abs((double)v), p);
            return Math.Pow(s, 1.0 / p);
        }
        bool squares = p == 2;
        var acc0 = Vector256<double>.Zero;
        var acc1 = Vector256<double>.Zero;
        int i = 0, n = x.Length;
        fixed (float* px = x)
        {
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i <= n - 8; i += 8)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load(px + i));
                    if (squares) { acc0 += lo * lo; acc1 += hi * hi; }
                    else { acc0 += Vector256.Abs(lo); acc1 += Vector256.Abs(hi); }
                }
            }
            double sum = Vector256.Sum(acc0 + acc1);
            for (; i < n; i++) sum += squares ? (double)px[i] * px[i] : Math.Abs((double)px[i]);
            return squares ? Math.Sqrt(sum) : sum;
        }
    }
}
