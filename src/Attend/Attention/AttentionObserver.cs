namespace Attend.Attention;

/// <summary>
/// The hook through which attention is watched. While an observer is installed on a logical call flow, every attention
/// call made there — the fused kernel and the variants' materialized path alike — asks it which of its query heads to
/// record (<see cref="Heads"/>) and, for those, hands it the weights the call used (<see cref="Record"/>):
/// <c>P[b, n, i, j] = exp(q_i·k_j·scale + mods − LSE_i)</c>, recomputed after the fused forward from its saved
/// log-sum-exp by the forward's own tile code, so the output stays bit-identical to an unobserved call.
/// <para>This layer only defines the hook; the observers users open live in the layers above it. A call
/// names its site by the string <see cref="AttentionOptions.Site"/> (a module's dotted path), never by a module object.
/// When no observer is installed anywhere, a call pays one read of a static counter.</para>
/// </summary>
public abstract class AttentionObserver : IDisposable
{
    private static int installed;                                             // observers installed on any call flow
    private static readonly AsyncLocal<AttentionObserver?> current = new();
    private AttentionObserver? previous;
    private bool active;

    /// <summary>The observer of this call flow, or null; when none is installed anywhere this is one static read.</summary>
    public static AttentionObserver? Current => installed == 0 ? null : current.Value;

    /// <summary>Makes this observer the current one on this call flow (hiding an outer one until <see cref="Dispose"/>).</summary>
    protected void Install()
    {
        if (active) throw new InvalidOperationException("AttentionObserver: already installed");
        previous = current.Value;
        current.Value = this;
        active = true;
        Interlocked.Increment(ref installed);
    }

    /// <summary>Which query heads of a call with <paramref name="numHeads"/> heads to record (indices in [0, numHeads)),
    /// or null to let it pass unrecorded. Called once per attention call.</summary>
    /// <param name="site">the call's <see cref="AttentionOptions.Site"/>; null for a direct functional call.</param>
    /// <param name="numHeads">H, the call's query heads.</param>
    public abstract int[]? Heads(string? site, int numHeads);

    /// <summary>Which query rows (indices in [0, <paramref name="queries"/>)) of the call <see cref="Heads"/> accepted to
    /// record, or null for all L. Asked once per recorded call, after <see cref="Heads"/>. The fused kernel then recomputes
    /// only those rows from the saved log-sum-exp, so a long sequence costs O(R·S), never the L×S map.</summary>
    /// <param name="site">the call's <see cref="AttentionOptions.Site"/>.</param>
    /// <param name="queries">L, the call's query positions.</param>
    public virtual int[]? Rows(string? site, int queries) => null;

    /// <summary>The weights of the heads <see cref="Heads"/> asked for: [B, heads.Length, R, S], row-major, with R = L
    /// (<paramref name="queries"/>) or the rows <see cref="Rows"/> asked for, in its order; a query whose keys are all
    /// masked has an all-zero row.</summary>
    public abstract void Record(string? site, int numHeads, int[] heads, int batch, int queries, int keys, float[] weights);

    /// <summary>Uninstalls this observer (the outer one, if any, is current again).</summary>
    public void Dispose()
    {
        if (!active) return;
        active = false;
        current.Value = previous;
        Interlocked.Decrement(ref installed);
        GC.SuppressFinalize(this);
    }
}
