#:project ../../src/Attend/Attend.csproj
// Lesson 7 — attention has no special training rule: it is differentiable, so backpropagation trains the projections
// with everything else. With P = softmax(S), S = Q·Kᵀ/√d, Y = P·V and upstream gradient dY:
//   dV = Pᵀ·dY,  dP = dY·Vᵀ,  dS = P ∘ (dP − rowsum(dP ∘ P)),  dQ = dS·K/√d,  dK = dSᵀ·Q/√d.
// (a) those five lines against the fused kernel's backward; (b) the kernel against float64 finite differences;
// (c) a small Transformer learning to sort digits end to end, loss curve.
// Run: dotnet run -c Release docs/learn/07-backprop.cs
using Attend;
using Attend.Interpret;
using Attend.Optim;

const int L = 5, d = 4;
var rng = new Random(12);
Tensor q = Tensor.Randn([1, L, d], rng), k = Tensor.Randn([1, L, d], rng), v = Tensor.Randn([1, L, d], rng), dY = Tensor.Randn([1, L, d], rng);

// (a) By the equations (plain tensor ops, no autograd).
var P = Functional.Softmax(q.Matmul(k.Transpose(1, 2)).Mul(1f / MathF.Sqrt(d)), -1);      // (1, L, L)
var dV = P.Transpose(1, 2).Matmul(dY);
var dP = dY.Matmul(v.Transpose(1, 2));
var dS = P.Mul(dP.Sub(dP.Mul(P).Sum(-1, keepdim: true)));
var dQ = dS.Matmul(k).Mul(1f / MathF.Sqrt(d));
var dK = dS.Transpose(1, 2).Matmul(q).Mul(1f / MathF.Sqrt(d));
// The fused kernel's backward, through autograd.
var (ql, kl, vl) = (Leaf(q), Leaf(k), Leaf(v));
Functional.ScaledDotProductAttention(ql, kl, vl).Mul(dY).Sum().Backward();
Console.WriteLine($"(a) equations vs the kernel's backward, largest difference: dQ {MaxDiff(dQ, ql.Grad!):F6}, dK {MaxDiff(dK, kl.Grad!):F6}, dV {MaxDiff(dV, vl.Grad!):F6}");

// (b) GradCheck: every input element nudged by ±h, the loss in float64, Richardson-extrapolated central differences.
var check = GradCheck.Check(t => Functional.ScaledDotProductAttention(t[0], t[1], t[2], isCausal: true), [Leaf(q), Leaf(k), Leaf(v)]);
Console.WriteLine($"(b) causal attention vs finite differences: {check.Checked} gradient entries, passed: {check.Passed}, largest error below 1e-3: {check.MaxAbsError < 1e-3}");

// (c) End to end: embeddings, attention, MLP and head of a 2-layer GPT learn to sort 6 digits ("315240|012345").
const int n = 6, T = 2 * n + 1, steps = 400;
var model = new Attend.Nn.Gpt(new Attend.Nn.GptConfig(BlockSize: T, VocabSize: 11, NLayer: 2, NHead: 4, NEmbd: 48), new Random(13));
var opt = new AdamW(model.NamedParameters(), lr: 3e-3, weightDecay: 0);
var (xs, ys) = (new List<double>(), new List<double>());
Console.WriteLine($"(c) a {model.ParameterCount:N0}-parameter GPT learns to sort 6 digits, batch 64:");
for (int step = 0; step <= steps; step++)
{
    var (ids, targets) = Sorting(new Random(2000 + step), 64);
    var loss = model.Forward(ids, targets).Loss!;
    if (step % 100 == 0) Console.WriteLine($"    step {step,3}  loss {loss.Item():F3}");
    if (step % 5 == 0) { xs.Add(step); ys.Add(loss.Item()); }
    if (step == steps) break;
    opt.ZeroGrad(); loss.Backward(); opt.Step();                                          // gradients reach every parameter
}
var (tid, tt) = Sorting(new Random(99), 500);
var logits = model.Forward(tid).Logits.ToArray(); var lab = tt.ToInt64Array();
int right = Enumerable.Range(0, 500).Count(b => Enumerable.Range(n, n).All(t => ArgMax(logits.AsSpan((b * T + t) * 11, 11)) == lab[b * T + t]));
Console.WriteLine($"    held-out sequences sorted exactly: {right} of 500");

var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "07-backprop.svg"), SvgPlot.Lines([new("training loss", xs, ys)], "sorting 6 digits: loss by step", "step", "cross-entropy", logY: true));

static Tensor Leaf(Tensor t) => Tensor.FromArray(t.ToArray(), t.Shape, requiresGrad: true);
static double MaxDiff(Tensor a, Tensor b) => a.ToArray().Zip(b.ToArray()).Max(p => Math.Abs(p.First - p.Second));
static int ArgMax(ReadOnlySpan<float> s) { int m = 0; for (int i = 1; i < s.Length; i++) if (s[i] > s[m]) m = i; return m; }
// Inputs "d₀…d₅ | s₀…s₄" (separator 10) and targets: the next token where it is a sorted digit, else −1 (ignored).
static (Tensor Ids, Tensor Targets) Sorting(Random rng, int b)
{
    var ids = new long[b * T]; var tg = new long[b * T];
    for (int r = 0; r < b; r++)
    {
        var digits = Enumerable.Range(0, n).Select(_ => (long)rng.Next(10)).ToArray();
        var seq = digits.Append(10L).Concat(digits.Order()).ToArray();                   // 2n + 1 tokens
        for (int t = 0; t < T; t++) { ids[r * T + t] = seq[t]; tg[r * T + t] = t >= n && t < T - 1 ? seq[t + 1] : -1; }
    }
    return (Tensor.FromArray(ids, [b, T]), Tensor.FromArray(tg, [b, T]));
}
