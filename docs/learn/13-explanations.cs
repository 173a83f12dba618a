#:project ../../src/Attend.Cli/Attend.Cli.csproj
// Lesson 13 — attention weights as (partial) explanations. A weight w[t, s] says how much of source position s's value
// vector entered output t's mix in one layer; it does not say how much s mattered for the prediction (values differ in
// size, other layers and heads mix further, the residual stream bypasses attention; Jain & Wallace 2019, Wiegreffe &
// Pinter 2019). A behavioural test: erase source character s (mask it as padding, so no layer can see it) and measure
// how much the log-probability of output character t drops — then compare with where attention looks.
// Run: dotnet run -c Release docs/learn/13-explanations.cs
using Attend;
using Attend.Cli.Dates;
using Attend.Interpret;
using Attend.Nn;

var cfg = DateConfig.Default;
var model = new Seq2Seq(cfg.Model, new Random(0));
DateTask.Train(model, cfg, seed: 0, steps: 400, seconds: null, reportSeconds: 1e9, probe: [], log: TextWriter.Null);   // as lesson 11
model.Eval();

var examples = DateTask.HeldOut(60, seed: 2);
int agree = 0, total = 0; double rankSum = 0;
float[,]? firstAtt = null, firstOcc = null;
foreach (var (source, target) in examples)
{
    var (_, att) = DateTask.CrossAttention(model, source);                     // last decoder layer, mean of heads: (T, S)
    var occ = Occlusion(model, source, target);                                 // drop in log p(target_t) with s erased: (T, S)
    firstAtt ??= att; firstOcc ??= occ;
    for (int t = 0; t < target.Length; t++)
    {
        total++;
        if (ArgMax(att, t) == ArgMax(occ, t)) agree++;
        rankSum += Spearman(Row(att, t), Row(occ, t));
    }
}
Console.WriteLine($"{examples.Count} held-out dates, {total} output characters:");
Console.WriteLine($"    most-attended source character = the one whose erasure hurts most: {100.0 * agree / total:F1}%");
Console.WriteLine($"    mean rank correlation of attention with erasure importance: {rankSum / total:F2}");

var (src0, tgt0) = examples[0];
Console.WriteLine($"{src0} → {tgt0}, per output character: most attended | most important when erased");
Console.WriteLine("    " + string.Join("  ", tgt0.Select((c, t) => $"{c}: {Q(src0[ArgMax(firstAtt!, t)])}|{Q(src0[ArgMax(firstOcc!, t)])}")));
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
var norm = Normalize(firstOcc!);
SvgPlot.Save(Path.Combine(img, "13-attention-vs-erasure.svg"), SvgPlot.Heatmaps([("cross-attention", firstAtt!), ("erasure importance (row-normalized)", norm)],
    tgt0.Select(c => c.ToString()).ToArray(), src0.Select(c => c.ToString()).ToArray(), 0, 1));

// occ[t, s] = log p(target_t | source) − log p(target_t | source with s erased), teacher-forced; one batch of S + 1 rows.
static float[,] Occlusion(Seq2Seq model, string source, string target)
{
    int S = source.Length, T = target.Length, V = DateConfig.Target.VocabSize;
    var (src, _) = DateTask.Sources(Enumerable.Repeat(source, S + 1).ToArray());
    var mask = new bool[(S + 1) * S];
    for (int s = 0; s < S; s++) mask[(s + 1) * S + s] = true;                  // row 0 intact, row s + 1 without s
    var (input, labels) = DateTask.Targets(Enumerable.Repeat(target, S + 1).ToArray());
    using var noGrad = Autograd.NoGrad();
    var logp = Functional.LogSoftmax(model.Forward(src, Tensor.FromArray(mask, [S + 1, S]), input), -1).ToArray();   // (S+1, T, V)
    var lab = labels.ToInt64Array();
    var occ = new float[T, S];
    for (int s = 0; s < S; s++)
        for (int t = 0; t < T; t++) occ[t, s] = logp[t * V + lab[t]] - logp[((s + 1) * T + t) * V + lab[t]];
    return occ;
}
static int ArgMax(float[,] w, int t) { int m = 0; for (int s = 1; s < w.GetLength(1); s++) if (w[t, s] > w[t, m]) m = s; return m; }
static double[] Row(float[,] w, int t) => Enumerable.Range(0, w.GetLength(1)).Select(s => (double)w[t, s]).ToArray();
static double Spearman(double[] a, double[] b)
{
    static double[] Ranks(double[] x) { var r = new double[x.Length]; var o = Enumerable.Range(0, x.Length).OrderBy(i => x[i]).ToArray(); for (int i = 0; i < o.Length; i++) r[o[i]] = i; return r; }
    double[] ra = Ranks(a), rb = Ranks(b); double ma = ra.Average(), mb = rb.Average();
    double num = ra.Zip(rb).Sum(p => (p.First - ma) * (p.Second - mb)), den = Math.Sqrt(ra.Sum(x => (x - ma) * (x - ma)) * rb.Sum(x => (x - mb) * (x - mb)));
    return den == 0 ? 0 : num / den;
}
static float[,] Normalize(float[,] w)                                           // each row scaled to max 1 (negatives → 0)
{
    var r = new float[w.GetLength(0), w.GetLength(1)];
    for (int t = 0; t < w.GetLength(0); t++)
    {
        float m = Enumerable.Range(0, w.GetLength(1)).Max(s => w[t, s]);
        for (int s = 0; s < w.GetLength(1); s++) r[t, s] = m > 0 ? Math.Max(0, w[t, s]) / m : 0;
    }
    return r;
}
static string Q(char c) => c == ' ' ? "␣" : c.ToString();
