#:project ../../src/Attend/Attend.csproj
// Lesson 10 — soft versus hard attention. Soft attention takes a weighted average, p = softmax(s): every key gets some
// weight and the gradient reaches all of them. Hard attention picks one key, p = one_hot(argmax s): an exact choice,
// but argmax has no gradient (a surrogate is needed: straight-through, Gumbel, or REINFORCE as in Xu et al., 2015).
// Sparse normalizers sit between: sparsemax p = [s − τ]₊ (Σp = 1) gives exact zeros with a true gradient.
// One row of scores through each, then the gradient each passes back.
// Run: dotnet run -c Release docs/learn/10-soft-hard.cs
using Attend;
using Attend.Attention;
using Attend.Interpret;

float[] s = [2.0f, 1.6f, 1.2f, 0.4f, -0.3f, -1.0f, 0.9f, 0.1f];                 // one query's scores over 8 keys
string[] keys = Enumerable.Range(0, s.Length).Select(j => $"k{j}").ToArray();
var rows = new (string Name, Func<Tensor, Tensor> F)[]
{
    ("softmax", t => Functional.Softmax(t, -1)),
    ("entmax15", t => Functional.Entmax15(t, -1)),
    ("sparsemax", t => Functional.Sparsemax(t, -1)),
    ("top-2 softmax", t => Functional.TopKSoftmax(t, 2, -1)),
    ("hard (argmax)", t => Functional.HardArgmax(t, -1)),
};
Console.WriteLine($"{"scores",-14}" + string.Concat(s.Select(v => $"{v,7:F2}")));
var grid = new float[rows.Length, s.Length];
var g = Tensor.FromArray([1f, 0, 0, 0, 0, 0, 0, 0], [1, 8]);                    // upstream gradient: "more weight on k0"
var grads = new List<string>();
for (int r = 0; r < rows.Length; r++)
{
    var x = Tensor.FromArray(s, [1, 8], requiresGrad: true);
    var p = rows[r].F(x);
    var pa = p.ToArray();
    for (int j = 0; j < 8; j++) grid[r, j] = pa[j];
    Console.WriteLine($"{rows[r].Name,-14}" + string.Concat(pa.Select(v => $"{v,7:F3}")) + $"   nonzero {pa.Count(v => v > 0)}");
    p.Mul(g).Sum().Backward();
    grads.Add($"{rows[r].Name,-14}" + string.Concat(x.Grad!.ToArray().Select(v => $"{v,7:F3}")));
}
Console.WriteLine("gradient of p[k0] with respect to each score (hard: straight-through, i.e. softmax's):");
grads.ForEach(Console.WriteLine);

// The same variants inside attention: Functional.Attention with a variant gives the variant's own weights.
var rng = new Random(20);
Tensor q = Tensor.Randn([1, 1, 6, 8], rng), k = Tensor.Randn([1, 1, 6, 8], rng), v = Tensor.Randn([1, 1, 6, 8], rng);
var panels = new[] { ("soft", AttentionVariant.Soft), ("sparsemax", AttentionVariant.Sparsemax), ("hard", AttentionVariant.Hard) }.Select(p =>
{
    var w = Functional.Attention(q, k, v, new AttentionOptions { Variant = p.Item2, WeightsForHeads = [0] }).Weights!.ToArray();
    var m = new float[6, 6]; for (int i = 0; i < 36; i++) m[i / 6, i % 6] = w[i];
    return (p.Item1, m);
}).ToList();
Console.WriteLine("6 queries × 6 keys, nonzero weights: " + string.Join(", ", panels.Select(p => $"{p.Item1} {p.m.Cast<float>().Count(x => x > 0)}")));
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "10-one-row.svg"), SvgPlot.Heatmap(grid, rows.Select(r => r.Name).ToArray(), keys, "one row of scores, five normalizers", 0, 1));
var six = Enumerable.Range(0, 6).Select(i => $"{i}").ToArray();
SvgPlot.Save(Path.Combine(img, "10-attention.svg"), SvgPlot.Heatmaps(panels, six, six, 0, 1));
