#:project ../../src/Attend/Attend.csproj
// Lesson 5 — self-attention sees every position at once. An RNN computes h_t = tanh(h_{t−1}·W + x_t·U) one step after
// another, so x_j reaches the output at t only through t − j multiplications by W (and tanh′); self-attention connects
// every pair in one step (path length 1), and all n outputs come from a few matrix products that run in parallel.
// Measured here: how strongly the last output depends on each input (‖∂y_last/∂x_j‖) at initialization, by distance.
// Run: dotnet run -c Release docs/learn/05-parallel.cs
using Attend;
using Attend.Interpret;
using Attend.Nn;

const int n = 64, d = 32;
var rng = new Random(6);
var inputs = Tensor.Randn([n, d], rng);                                         // one sequence: (n, d)

// An Elman RNN with PyTorch's initialization U(−1/√d, 1/√d).
var W = Tensor.Rand([d, d], rng).Sub(0.5f).Mul(2f / MathF.Sqrt(d));
var U = Tensor.Rand([d, d], rng).Sub(0.5f).Mul(2f / MathF.Sqrt(d));
var rnn = Sensitivity(x =>
{
    var h = Tensor.Zeros(1, d);
    for (int t = 0; t < n; t++) h = h.Matmul(W).Add(x.Narrow(0, t, 1).Matmul(U)).Tanh();   // n sequential steps
    return h;                                                                   // h_last: (1, d)
});
// One self-attention layer (Attend's MultiheadAttention, 4 heads), same input; its last output row.
var mha = new MultiheadAttention(d, 4, rng: new Random(7));
var attn = Sensitivity(x => mha.Forward(x, x, x).Output.Narrow(0, n - 1, 1));      // all n rows at once; keep the last

Console.WriteLine($"‖∂y_last/∂x_j‖ for a sequence of {n}, by distance n − 1 − j:");
Console.WriteLine($"{"distance",9} {"RNN",10} {"attention",10}");
foreach (int dist in new[] { 0, 1, 2, 4, 8, 16, 32, 63 })
    Console.WriteLine($"{dist,9} {rnn[n - 1 - dist],10:0.0E+0} {attn[n - 1 - dist],10:0.0E+0}");
Console.WriteLine($"sequential steps to compute all outputs: RNN {n}, self-attention 1 (its matrix products run in parallel)");

var dx = Enumerable.Range(0, n).Select(k => (double)k).ToArray();
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "05-parallel.svg"), SvgPlot.Lines([
    new("RNN", dx, dx.Select(k => (double)rnn[n - 1 - (int)k]).ToArray()), new("self-attention", dx, dx.Select(k => (double)attn[n - 1 - (int)k]).ToArray())],
    "how much the last output depends on an input, by distance", "distance n − 1 − j", "‖∂y_last/∂x_j‖", logY: true));

// ‖∂(Σ y·g)/∂x_j‖ for a fixed random g: how much input row j moves the output.
float[] Sensitivity(Func<Tensor, Tensor> f)
{
    var x = Tensor.FromArray(inputs.ToArray(), [n, d], requiresGrad: true);
    var y = f(x);
    y.Mul(Tensor.Randn(y.Shape, new Random(8))).Sum().Backward();
    var g = x.Grad!.ToArray();
    return Enumerable.Range(0, n).Select(j => MathF.Sqrt(Enumerable.Range(0, d).Sum(c => g[j * d + c] * g[j * d + c]))).ToArray();
}
