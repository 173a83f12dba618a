using Attend.Attention;
using Attend.Nn;

namespace Attend.Interpret;

/// <summary>
/// The attention weights of one attention call recorded by an <see cref="AttentionCapture"/>:
/// <c>P[b, n, i, j] = exp(q_i·k_j·scale + mods − LSE_i)</c> for the captured heads, before dropout, [B, n, L, S] row-major.
/// A query whose keys are all masked has an all-zero row.
/// </summary>
/// <param name="Site">the calling module's dotted path under the capture's root (e.g. <c>transformer.decoder.layers.1.multihead_attn</c>),
/// or <c>attention#N</c> for a direct functional call.</param>
/// <param name="NumHeads">H, the call's query heads.</param>
/// <param name="Heads">the query heads captured (indices into the call's H heads).</param>
/// <param name="Batch">B.</param>
/// <param name="Queries">L, the query positions (R when only <see cref="QueryRows"/> were captured).</param>
/// <param name="Keys">S, the key positions.</param>
/// <param name="Weights">[B, Heads.Length, L, S] (or [B, Heads.Length, R, S]), row-major.</param>
public sealed record CapturedAttention(string Site, int NumHeads, int[] Heads, int Batch, int Queries, int Keys, float[] Weights)
{
    /// <summary>The query positions of the rows captured, when the capture asked for some rows only
    /// (<see cref="AttentionCapture.Start"/>'s <c>rows</c>); null when every row was.</summary>
    public int[]? QueryRows { get; init; }

    /// <summary>The map of captured head number <paramref name="n"/> (an index into <see cref="Heads"/>) for batch item b: [L, S].</summary>
    public float[,] Map(int n, int b = 0)
    {
        if (n < 0 || n >= Heads.Length) throw new ArgumentOutOfRangeException(nameof(n), $"capture '{Site}': head slot {n} not in [0, {Heads.Length})");
        if (b < 0 || b >= Batch) throw new ArgumentOutOfRangeException(nameof(b), $"capture '{Site}': batch item {b} not in [0, {Batch})");
        var m = new float[Queries, Keys];
        long o = ((long)b * Heads.Length + n) * Queries * Keys;
        for (int i = 0; i < Queries; i++)
            for (int j = 0; j < Keys; j++) m[i, j] = Weights[o + (long)i * Keys + j];
        return m;
    }

    /// <summary>Every captured head of batch item b: [n, L, S].</summary>
    public float[][,] Maps(int b = 0) => Enumerable.Range(0, Heads.Length).Select(n => Map(n, b)).ToArray();
}

/// <summary>
/// A scope that records, for every attention call made inside it (on this logical call flow), the attention weights of
/// the chosen heads as [B, n, L, S] — self- and cross-attention alike, in call order. It is the
/// <see cref="AttentionObserver"/> that this library installs: the weights are recomputed after the fused forward from
/// its saved log-sum-exp by the forward's own tile code (<c>P = exp(S − LSE)</c>), only for the sites and heads asked
/// for: no second attention implementation, and the output is bit-identical to an uncaptured run.
/// <code>
/// using (var cap = AttentionCapture.Start(model))        // every attention module under model, every head
///     model.Forward(...);
/// foreach (var c in cap.Records) … c.Site, c.Map(head) …
/// </code>
/// Sites are the calling modules' dotted paths (<see cref="Module.Path"/>), relative to <c>root</c> when one is given
/// (a call from outside it keeps its full path); a direct functional call is <c>attention#N</c>, N its call number.
/// When no capture is open anywhere, an attention call pays one read of a static counter.
/// </summary>
public sealed class AttentionCapture : AttentionObserver
{
    private readonly string? prefix, rootName;
    private readonly Func<string, bool>? sites;
    private readonly int[]? heads, rows;
    private readonly List<CapturedAttention> records = new();
    private int calls;
    private string? pending;

    private int[]? pendingRows;

    private AttentionCapture(Module? root, Func<string, bool>? sites, int[]? heads, int[]? rows)
    {
        if (heads is not null && heads.Any(h => h < 0)) throw new ArgumentOutOfRangeException(nameof(heads), $"AttentionCapture: heads must be ≥ 0, got [{string.Join(", ", heads)}]");
        if (rows is not null && (rows.Length == 0 || rows.Any(i => i < 0)))
            throw new ArgumentOutOfRangeException(nameof(rows), $"AttentionCapture: rows must be query positions ≥ 0 (at least one), got [{string.Join(", ", rows)}]");
        (prefix, rootName) = (root?.Path, root?.GetType().Name);
        (this.sites, this.heads, this.rows) = (sites, heads?.Distinct().Order().ToArray(), rows?.ToArray());
        Install();
    }

    /// <summary>Opens a capture on this call flow (it hides an outer one until disposed).</summary>
    /// <param name="root">the model; its attention modules are named by their dotted paths below it.</param>
    /// <param name="sites">which sites to record, by name (null: all).</param>
    /// <param name="heads">which query heads to record (null: all; heads ≥ a call's H are skipped for that call).</param>
    /// <param name="rows">which query positions to record (null: all), in this order; positions ≥ a call's L are skipped
    /// for that call. Each row is recomputed alone from the kernel's log-sum-exp, so a capture of R rows of an
    /// L-token call holds R·S weights per head, never L·S: the way to look at 16,384-token inputs.</param>
    public static AttentionCapture Start(Module? root = null, Func<string, bool>? sites = null, int[]? heads = null, int[]? rows = null) => new(root, sites, heads, rows);

    /// <summary>What has been recorded so far, in call order.</summary>
    public IReadOnlyList<CapturedAttention> Records => records;

    /// <summary>The name a site is recorded under: its path below the root (the root itself: its type name).</summary>
    private string Name(string? site, int call)
    {
        if (site is null) return $"attention#{call}";
        if (string.IsNullOrEmpty(prefix)) return site;
        if (site == prefix) return rootName!;
        return site.StartsWith(prefix + ".", StringComparison.Ordinal) ? site[(prefix.Length + 1)..] : site;
    }

    /// <inheritdoc/>
    /// <remarks>Numbers the call, names its site, and returns null when <c>sites</c> rejects the name or none of the
    /// requested heads is below <paramref name="numHeads"/>.</remarks>
    public override int[]? Heads(string? site, int numHeads)
    {
        string name = Name(site, calls++);
        if (sites is not null && !sites(name)) return null;
        var hs = heads is null ? Enumerable.Range(0, numHeads).ToArray() : heads.Where(x => x < numHeads).ToArray();
        pending = name;
        return hs.Length == 0 ? null : hs;
    }

    /// <inheritdoc/>
    /// <remarks>The requested rows below <paramref name="queries"/>, in the order given; an empty array when none is, and
    /// the call is then not recorded.</remarks>
    public override int[]? Rows(string? site, int queries)
    {
        if (rows is null) return pendingRows = null;
        pendingRows = rows.Where(i => i < queries).ToArray();
        return pendingRows.Length == 0 ? pendingRows = [] : pendingRows;
    }

    /// <inheritdoc/>
    /// <remarks>Appends a <see cref="CapturedAttention"/> to <see cref="Records"/> (the array is kept, not copied).</remarks>
    public override void Record(string? site, int numHeads, int[] heads, int batch, int queries, int keys, float[] weights)
    {
        if (pendingRows is { Length: 0 }) return;                          // none of the rows asked for is in this call
        records.Add(new CapturedAttention(pending ?? Name(site, calls - 1), numHeads, heads, batch, queries, keys, weights) { QueryRows = pendingRows });
    }
}
