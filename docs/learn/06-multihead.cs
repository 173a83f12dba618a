#:project ../../src/Attend/Attend.csproj
// Lesson 6 — multi-head attention runs h attentions side by side, each in its own d/h-dimensional subspace, and merges
// them with an output projection: MultiHead(X) = Concat(head_1, …, head_h)·W_O, head_i = Attention(X·W_Q^i, X·W_K^i, X·W_V^i).
// (a) Attend's MultiheadAttention equals that equation computed head by head; (b) on a task that needs four different
// positions at once, four heads of size 8 learn faster than one head of size 32 (same parameter count).
// Run: dotnet run -c Release docs/learn/06-multihead.cs
using Attend;
using Attend.Interpret;
using Attend.Nn;
using Attend.Optim;

// (a) The equation, head by head, against the module.
const int E = 32, H = 4, L = 6, hd = E / H;
var mha = new MultiheadAttention(E, H, rng: new Random(9));
var x = Tensor.Randn([L, E], new Random(10));                                   // (L, E), unbatched
var w = mha.InProjWeight!;                                                      // [W_Q; W_K; W_V]: (3E, E), y = x·Wᵀ + b
var b = mha.InProjBias!;
Tensor Proj(int part) => Functional.Linear(x, w.Narrow(0, part * E, E), b.Narrow(0, part * E, E));   // (L, E)
Tensor q = Proj(0), k = Proj(1), v = Proj(2);
var heads = Enumerable.Range(0, H).Select(i =>                                 // head i reads columns i·hd … (i+1)·hd − 1
{
    Tensor qi = q.Narrow(1, i * hd, hd), ki = k.Narrow(1, i * hd, hd), vi = v.Narrow(1, i * hd, hd);
    return Functional.Softmax(qi.Matmul(ki.Transpose(0, 1)).Mul(1f / MathF.Sqrt(hd)), -1).Matmul(vi);   // (L, hd)
}).ToArray();
var byHand = mha.OutProj.Forward(Tensor.Cat(heads, 1)).ToArray();              // Concat(heads)·W_Oᵀ + b_O: (L, E)
var module = mha.Forward(x, x, x).Output.ToArray();
Console.WriteLine($"(a) MultiheadAttention = Concat(head_1..head_4)·W_O computed head by head, within 1e-5: {byHand.Zip(module).All(p => Math.Abs(p.First - p.Second) < 1e-5)}");

// (b) Bits; the label at position t is the 4-bit number x[t−1] x[t−2] x[t−3] x[t−4]: four positions at once.
const int T = 12, steps = 400;
var curves = new List<SvgPlot.Series>();
Console.WriteLine($"(b) one causal layer, d_model 32, {steps} AdamW steps; label at t = the bits x[t−1..t−4] as a number (16 classes)");
foreach (int heads_ in new[] { 1, 4 })
{
    var model = new Gpt(new GptConfig(BlockSize: T, VocabSize: 16, NLayer: 1, NHead: heads_, NEmbd: E), new Random(11));
    var opt = new AdamW(model.NamedParameters(), lr: 1e-2, weightDecay: 0);
    var (xs, ys) = (new List<double>(), new List<double>());
    for (int step = 1; step <= steps; step++)
    {
        var (ids, labels) = Batch(new Random(1000 + step), 64);
        var loss = model.Forward(ids, labels).Loss!;
        opt.ZeroGrad(); loss.Backward(); opt.Step();
        if (step % 5 == 0) { xs.Add(step); ys.Add(loss.Item()); }
    }
    var (tid, tlab) = Batch(new Random(7), 1000);                              // held-out sequences
    var pred = model.Forward(tid).Logits.ToArray(); var lab = tlab.ToInt64Array();
    int right = 0, total = 0;
    for (int j = 0; j < lab.Length; j++)
        if (lab[j] >= 0) { total++; if (ArgMax(pred.AsSpan(j * 16, 16)) == lab[j]) right++; }
    int at = ys.FindIndex(l => l < 0.1); string solved = at < 0 ? "never" : $"{xs[at]}";
    Console.WriteLine($"    {heads_} head{(heads_ > 1 ? "s" : " ")} of size {E / heads_,2}: loss at step 50 {ys[9]:F3}, at 100 {ys[19]:F3}; below 0.1 from step {solved}; held-out accuracy {100.0 * right / total:F1}%");
    curves.Add(new($"{heads_} head{(heads_ > 1 ? "s" : "")} × {E / heads_}", xs, ys));
}
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "06-multihead.svg"), SvgPlot.Lines(curves, "label = bits x[t−1..t−4]: training loss", "step", "cross-entropy"));

// Random bit sequences (B, T) and their labels (B, T), −1 (ignored) where t < 4.
static (Tensor Ids, Tensor Labels) Batch(Random rng, int b)
{
    var ids = new long[b * T]; var lab = new long[b * T];
    for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(2);
    for (int i = 0; i < ids.Length; i++) lab[i] = i % T < 4 ? -1 : 8 * ids[i - 1] + 4 * ids[i - 2] + 2 * ids[i - 3] + ids[i - 4];
    return (Tensor.FromArray(ids, [b, T]), Tensor.FromArray(lab, [b, T]));
}
static int ArgMax(ReadOnlySpan<float> s) { int m = 0; for (int i = 1; i < s.Length; i++) if (s[i] > s[m]) m = i; return m; }
