#:project ../../src/Attend/Attend.csproj
// Lesson 3 — the dot product q·k measures similarity, and it is divided by √d_k: with unit-variance entries,
// Var(q·k) = d_k, so without the scale the scores grow with the head size, the softmax saturates to one-hot and its
// gradient vanishes. Measured here for d_k = 4 … 1024 over 16 keys: score variance, softmax entropy, gradient norm.
// Run: dotnet run -c Release docs/learn/03-scaling.cs
using Attend;
using Attend.Interpret;

const int rows = 2000, keys = 16;
int[] dims = [4, 16, 64, 256, 1024];
var rng = new Random(4);
var series = new Dictionary<string, List<double>> { ["entropy, ÷√d_k"] = [], ["entropy, unscaled"] = [], ["grad norm ×10, ÷√d_k"] = [], ["grad norm ×10, unscaled"] = [] };
Console.WriteLine($"{"d_k",5} {"Var(q·k)",9} {"Var(q·k/√d_k)",14} | {"entropy ÷√d_k",13} {"unscaled",8} | {"max weight ÷√d_k",16} {"unscaled",8} | {"‖∂L/∂s‖ ÷√d_k",13} {"unscaled",8}");
foreach (int dk in dims)
{
    var q = Tensor.Randn([rows, 1, dk], rng);                                  // one query per row: (rows, 1, d_k)
    var k = Tensor.Randn([rows, keys, dk], rng);                               // 16 keys per row:   (rows, 16, d_k)
    var dots = q.Matmul(k.Transpose(1, 2)).Reshape(rows, keys);                // q·k: (rows, 16)
    double var = Variance(dots.ToArray()), varScaled = var / dk;
    var g = Tensor.Randn([rows, keys], rng);                                   // a random upstream gradient ∂L/∂w
    var (hs, ms, gs) = Stats(dots.Mul(1f / MathF.Sqrt(dk)), g);
    var (hu, mu, gu) = Stats(dots, g);
    Console.WriteLine($"{dk,5} {var,9:F1} {varScaled,14:F2} | {hs,13:F2} {hu,8:F2} | {ms,16:F2} {mu,8:F2} | {gs,13:F3} {gu,8:F3}");
    series["entropy, ÷√d_k"].Add(hs); series["entropy, unscaled"].Add(hu);
    series["grad norm ×10, ÷√d_k"].Add(10 * gs); series["grad norm ×10, unscaled"].Add(10 * gu);
}
Console.WriteLine($"uniform attention over {keys} keys has entropy ln {keys} = {Math.Log(keys):F2}");

var x = dims.Select(d => Math.Log2(d)).ToArray();
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "03-scaling.svg"), SvgPlot.Lines(series.Select(kv => new SvgPlot.Series(kv.Key, x, kv.Value)).ToList(),
    "softmax over 16 keys: entropy and gradient norm", "log₂ d_k", "nats / norm"));

// Mean entropy −Σ w ln w, mean largest weight, and mean ‖∂L/∂s‖ for L = Σ w·g, of w = softmax(s) row by row.
static (double Entropy, double Max, double GradNorm) Stats(Tensor scores, Tensor g)
{
    var s = Tensor.FromArray(scores.ToArray(), scores.Shape, requiresGrad: true);
    var w = Functional.Softmax(s, -1);
    w.Mul(g).Sum().Backward();                                                 // ∂L/∂s = w ⊙ (g − Σ w g): the softmax Jacobian
    var wa = w.ToArray(); var ga = s.Grad!.ToArray(); int n = scores.Shape[1], r = wa.Length / n;
    double h = 0, m = 0, gn = 0;
    for (int i = 0; i < r; i++)
    {
        var row = wa.AsSpan(i * n, n); var grow = ga.AsSpan(i * n, n);
        double sq = 0; foreach (var v in grow) sq += v * v;
        foreach (var v in row) if (v > 0) h -= v * Math.Log(v);
        double mx = 0; foreach (var v in row) mx = Math.Max(mx, v);
        m += mx; gn += Math.Sqrt(sq);
    }
    return (h / r, m / r, gn / r);
}
static double Variance(float[] a) { double mean = a.Average(v => (double)v); return a.Average(v => (v - mean) * (v - mean)); }
