namespace Attend.Interpret;

/// <summary>
/// What the captured maps say, computed in float64. Maps are [L, S] (rows: queries, columns: keys); a layer is the maps
/// of its heads. Rollout and flow follow Abnar &amp; Zuidema 2020, "Quantifying Attention Flow in Transformers".
/// </summary>
public static class AttentionAnalysis
{
    /// <summary>
    /// The raw attention graph of one layer: the head average plus the residual connection, rows renormalized,
    /// <c>Ã = rownorm((1 − r)·mean_h A_h + r·I)</c> (r = ½ in the paper). Needs square maps (self-attention).
    /// </summary>
    public static double[,] WithResidual(IReadOnlyList<float[,]> heads, double residual = 0.5)
    {
        if (heads.Count == 0) throw new ArgumentException("attention analysis: a layer needs at least one head");
        int n = heads[0].GetLength(0);
        if (heads.Any(h => h.GetLength(0) != n || h.GetLength(1) != n))
            throw new ArgumentException($"attention analysis: rollout and flow need square self-attention maps of one size, got {string.Join(", ", heads.Select(h => $"[{h.GetLength(0)}, {h.GetLength(1)}]"))}");
        if (!(residual >= 0 && residual <= 1)) throw new ArgumentOutOfRangeException(nameof(residual), $"attention analysis: residual weight must be in [0, 1], got {residual}");
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                double m = 0;
                foreach (var h in heads) m += h[i, j];
                a[i, j] = (1 - residual) * m / heads.Count + (i == j ? residual : 0);
                sum += a[i, j];
            }
            for (int j = 0; j < n; j++) a[i, j] = sum > 0 ? a[i, j] / sum : 0;
        }
        return a;
    }

    /// <summary>
    /// Attention rollout: <c>R = Ã_N·Ã_{N−1}·…·Ã_1</c> over the layers (first layer first in <paramref name="layers"/>).
    /// R[i, j] is how much of output position i is traced back to input token j by multiplying the attention graphs.
    /// </summary>
    public static double[,] Rollout(IReadOnlyList<IReadOnlyList<float[,]>> layers, double residual = 0.5)
    {
        if (layers.Count == 0) throw new ArgumentException("attention rollout: no layers");
        var r = WithResidual(layers[0], residual);
        for (int l = 1; l < layers.Count; l++) r = Multiply(WithResidual(layers[l], residual), r);
        return r;
    }

    /// <summary>Inputs up to this many tokens: <see cref="Flow"/> solves n² max-flow problems on n·(layers+1) nodes.</summary>
    public const int MaxFlowTokens = 48;

    /// <summary>
    /// Attention flow: the attention graphs as a layered flow network, node (l, i) for token i after layer l (l = 0: the
    /// input), an edge (l, i) → (l − 1, j) of capacity Ã_l[i, j]; F[i, j] = the maximum flow from (N, i) to (0, j)
    /// (Edmonds–Karp). Unlike rollout, a path carries no more than its weakest edge. For small inputs
    /// (≤ <see cref="MaxFlowTokens"/> tokens).
    /// </summary>
    public static double[,] Flow(IReadOnlyList<IReadOnlyList<float[,]>> layers, double residual = 0.5)
    {
        if (layers.Count == 0) throw new ArgumentException("attention flow: no layers");
        var graphs = layers.Select(l => WithResidual(l, residual)).ToArray();
        int n = graphs[0].GetLength(0), L = graphs.Length, V = n * (L + 1);
        if (graphs.Any(g => g.GetLength(0) != n)) throw new ArgumentException("attention flow: every layer must have the same length");
        if (n > MaxFlowTokens) throw new ArgumentException($"attention flow: {n} tokens is too many (at most {MaxFlowTokens}); use Rollout");
        var cap = new double[V, V];
        for (int l = 1; l <= L; l++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) cap[l * n + i, (l - 1) * n + j] = graphs[l - 1][i, j];
        var flow = new double[n, n];
        var residualCap = new double[V, V];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                Array.Copy(cap, residualCap, cap.Length);
                flow[i, j] = MaxFlow(residualCap, L * n + i, j, V);
            }
        return flow;
    }

    /// <summary>Edmonds–Karp on a dense residual-capacity matrix (modified in place).</summary>
    private static double MaxFlow(double[,] c, int source, int sink, int v)
    {
        const double Eps = 1e-12;
        double total = 0;
        var parent = new int[v];
        var queue = new Queue<int>();
        while (true)
        {
            Array.Fill(parent, -1);
            parent[source] = source;
            queue.Clear();
            queue.Enqueue(source);
            while (queue.Count > 0 && parent[sink] < 0)
            {
                int u = queue.Dequeue();
                for (int w = 0; w < v; w++)
                    if (parent[w] < 0 && c[u, w] > Eps) { parent[w] = u; queue.Enqueue(w); }
            }
            if (parent[sink] < 0) return total;
            double push = double.PositiveInfinity;
            for (int w = sink; w != source; w = parent[w]) push = Math.Min(push, c[parent[w], w]);
            for (int w = sink; w != source; w = parent[w]) { c[parent[w], w] -= push; c[w, parent[w]] += push; }
            total += push;
        }
    }

    /// <summary>Mean entropy (nats) of a map's rows, <c>−Σ_j p_j ln p_j</c>, over the rows that attend to anything:
    /// 0 for a head that always looks at one key, ln S for a uniform one.</summary>
    public static double Entropy(float[,] map)
    {
        double total = 0; int rows = 0;
        for (int i = 0; i < map.GetLength(0); i++)
        {
            double h = 0, sum = 0;
            for (int j = 0; j < map.GetLength(1); j++)
            {
                double p = map[i, j];
                sum += p;
                if (p > 0) h -= p * Math.Log(p);
            }
            if (sum <= 0) continue;                                   // a fully masked row
            total += h; rows++;
        }
        return rows == 0 ? 0 : total / rows;
    }

    /// <summary>The <paramref name="k"/> keys query <paramref name="row"/> attends to most, largest first (ties: lower index first).</summary>
    public static (int Key, double Weight)[] TopKeys(double[,] map, int row, int k) =>
        Enumerable.Range(0, map.GetLength(1)).Select(j => (Key: j, Weight: map[row, j]))
            .OrderByDescending(x => x.Weight).ThenBy(x => x.Key).Take(k).ToArray();

    /// <summary>The head average of a layer's maps, in float64.</summary>
    public static double[,] Mean(IReadOnlyList<float[,]> heads)
    {
        int l = heads[0].GetLength(0), s = heads[0].GetLength(1);
        var m = new double[l, s];
        foreach (var h in heads)
            for (int i = 0; i < l; i++)
                for (int j = 0; j < s; j++) m[i, j] += h[i, j] / (double)heads.Count;
        return m;
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), k = a.GetLength(1), m = b.GetLength(1);
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int x = 0; x < k; x++)
                for (int j = 0; j < m; j++) c[i, j] += a[i, x] * b[x, j];
        return c;
    }
}
