#:project ../../src/Attend/Attend.csproj
// Lesson 2 — queries, keys and values are learned projections of the input: Q = X·W_Q, K = X·W_K, V = X·W_V.
// With W_Q = W_K = I (lesson 1) every token matches itself best and the score matrix is symmetric; training W_Q and W_K
// teaches an asymmetric relation ("each letter looks at the next letter of the alphabet") that X·Xᵀ cannot express.
// Run: dotnet run -c Release docs/learn/02-qkv.cs
using Attend;
using Attend.Interpret;
using Attend.Optim;

const int n = 8, d = 16;
string[] letters = ["a", "b", "c", "d", "e", "f", "g", "h"];
var emb = Tensor.Randn([n, d], new Random(2)).Mul(1f / MathF.Sqrt(d));          // a fixed random unit-ish vector per letter: (n, d)
var wq = Eye(d); var wk = Eye(d);                                              // W_Q = W_K = I: lesson 1's X·Xᵀ
wq.RequiresGrad = true; wk.RequiresGrad = true;                                // V = X (W_V = I), to watch Q and K alone

// Attention of a batch of sequences x: (B, n, d) → (weights (B, n, n), output (B, n, d)).
(Tensor W, Tensor Y) Attend(Tensor x)
{
    var q = x.Matmul(wq); var k = x.Matmul(wk);                                // Q = X·W_Q, K = X·W_K: (B, n, d)
    var w = Functional.Softmax(q.Matmul(k.Transpose(1, 2)).Mul(1f / MathF.Sqrt(d)), -1);   // softmax(QKᵀ/√d): (B, n, n)
    return (w, w.Matmul(x));                                                   // Y = W·V: (B, n, d)
}
// A batch of shuffled alphabets; the target of a letter is the embedding of the letter after it (h → a).
(Tensor X, Tensor Target) Batch(Random rng, int b)
{
    var ids = Enumerable.Range(0, b).SelectMany(_ => Enumerable.Range(0, n).OrderBy(_ => rng.Next())).ToArray();
    var e = emb.ToArray();
    float[] Rows(Func<int, int> id) => ids.SelectMany(i => e.AsSpan(id(i) * d, d).ToArray()).ToArray();
    return (Tensor.FromArray(Rows(i => i), [b, n, d]), Tensor.FromArray(Rows(i => (i + 1) % n), [b, n, d]));
}
string Report(string when)
{
    var (w, y) = Attend(emb.Unsqueeze(0));                                     // the alphabet in order: row i = letter i
    var m = w.Select(0, 0).ToArray();
    double self = Enumerable.Range(0, n).Average(i => m[i * n + i]), onNext = Enumerable.Range(0, n).Average(i => m[i * n + (i + 1) % n]);
    var s = emb.Matmul(wq).Matmul(emb.Matmul(wk).Transpose(0, 1)).ToArray();   // scores X·W_Q·(X·W_K)ᵀ: (n, n)
    bool symmetric = Enumerable.Range(0, n * n).All(k => Math.Abs(s[k] - s[k % n * n + k / n]) < 1e-6);
    var next = Tensor.Cat([emb.Narrow(0, 1, n - 1), emb.Narrow(0, 0, 1)], 0);        // row i = letter i + 1
    var loss = y.Sub(next.Unsqueeze(0)).Pow(2f).Mean().Item();
    return $"{when,-34} weight on itself {self:F2}, on the next letter {onNext:F2}, scores symmetric: {symmetric}, loss {loss:F4}";
}

var panels = new List<(string, float[,])> { ("W_Q = W_K = I", Grid(Attend(emb.Unsqueeze(0)).W)) };
Console.WriteLine(Report("W_Q = W_K = I:"));
var opt = new AdamW([("wq", wq), ("wk", wk)], lr: 0.05, weightDecay: 0);
var rng = new Random(3);
for (int step = 1; step <= 300; step++)
{
    var (x, target) = Batch(rng, 16);
    var loss = Attend(x).Y.Sub(target).Pow(2f).Mean();                         // mean squared error against the next letter
    opt.ZeroGrad(); loss.Backward(); opt.Step();
}
Console.WriteLine(Report("after 300 AdamW steps on W_Q, W_K:"));
panels.Add(("learned W_Q, W_K", Grid(Attend(emb.Unsqueeze(0)).W)));

var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "02-qkv.svg"), SvgPlot.Heatmaps(panels, letters, letters, 0, 1));

static Tensor Eye(int d) => Tensor.FromArray(Enumerable.Range(0, d * d).Select(k => k / d == k % d ? 1f : 0f).ToArray(), [d, d]);
static float[,] Grid(Tensor w)                                                 // (1, n, n) → float[n, n]
{
    var a = w.ToArray(); int n = w.Shape[^1]; var g = new float[n, n];
    for (int k = 0; k < a.Length; k++) g[k / n, k % n] = a[k];
    return g;
}
