#:project ../../src/Attend/Attend.csproj
// Lesson 1 — the core of self-attention: every token's output is a weighted average of all tokens,
// y_i = Σ_j softmax_j(x_i·x_j/√d) x_j, computed here by hand and then by Attend's fused kernel.
// Run: dotnet run -c Release docs/learn/01-core.cs
using Attend;
using Attend.Interpret;

string[] words = ["the", "cat", "sat", "on", "the", "mat"];
const int n = 6, d = 8;
var rng = new Random(1);                                              // one random d-vector per distinct word
var table = words.Distinct().ToDictionary(w => w, _ => Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
var x = new float[n, d];                                              // X: (n, d), row i = embedding of words[i]
for (int i = 0; i < n; i++) for (int c = 0; c < d; c++) x[i, c] = table[words[i]][c];

// By hand, with Q = K = V = X (no learned projections yet: lesson 2).
var w = new float[n, n];                                              // weights: (n, n)
var y = new float[n, d];                                              // output:  (n, d)
for (int i = 0; i < n; i++)
{
    var s = new double[n];
    for (int j = 0; j < n; j++) { for (int c = 0; c < d; c++) s[j] += x[i, c] * x[j, c]; s[j] /= Math.Sqrt(d); }   // s_ij = x_i·x_j/√d
    double m = s.Max(), z = s.Sum(v => Math.Exp(v - m));
    for (int j = 0; j < n; j++) w[i, j] = (float)(Math.Exp(s[j] - m) / z);                                         // softmax over j
    for (int j = 0; j < n; j++) for (int c = 0; c < d; c++) y[i, c] += w[i, j] * x[j, c];                         // y_i = Σ_j w_ij x_j
}

// The same with the library: X as [heads = 1, n, d] for query, key and value.
var X = Tensor.FromArray(x.Cast<float>().ToArray(), [1, n, d]);
var Y = Functional.ScaledDotProductAttention(X, X, X).ToArray();
double diff = Enumerable.Range(0, n * d).Max(k => Math.Abs(Y[k] - y[k / d, k % d]));

Console.WriteLine($"tokens: {string.Join(" ", words)}   (d = {d}, Q = K = V = X)");
Console.WriteLine("attention weights, row i = how much token i takes from each token j:");
Console.WriteLine("       " + string.Concat(words.Select(t => $"{t,6}")));
for (int i = 0; i < n; i++)
    Console.WriteLine($"{words[i],6} " + string.Concat(Enumerable.Range(0, n).Select(j => $"{w[i, j],6:F3}")));
Console.WriteLine("row sums: " + string.Join(" ", Enumerable.Range(0, n).Select(i => Enumerable.Range(0, n).Sum(j => w[i, j]).ToString("F3"))));
Console.WriteLine($"rows 1 and 5 (both \"the\") are identical: {Enumerable.Range(0, n).All(j => w[0, j] == w[4, j])}");
Console.WriteLine($"by hand = Functional.ScaledDotProductAttention within 1e-6: {diff < 1e-6}");

var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "01-weights.svg"), SvgPlot.Heatmap(w, words, words, "softmax(XXᵀ/√d): who looks at whom"));
