#:project ../../src/Attend/Attend.csproj
// Lesson 9 — residual connections and LayerNorm make deep stacks trainable. Each sublayer F (attention, MLP) is added
// to its input, x + F(·), so gradients reach early layers through the identity; LayerNorm(x) = γ·(x − μ)/√(σ² + ε) + β
// keeps each token's features at a fixed scale. Where the norm sits matters: post-norm (the 2017 Transformer,
// x ← LN(x + F(x))) against pre-norm (GPT-2 and later, x ← x + F(LN(x))), trained here at a high learning rate
// without warm-up — the regime in which post-norm needs warm-up (Xiong et al., 2020).
// Run: dotnet run -c Release docs/learn/09-norm-residual.cs
using Attend;
using Attend.Interpret;
using Attend.Nn;
using Attend.Optim;

// LayerNorm by its equation against Attend's.
var row = Tensor.Randn([4, 16], new Random(18)).Mul(3f).Add(1f);
var ln = new LayerNorm(16).Forward(row).ToArray();
var r = row.ToArray(); double worst = 0;
for (int i = 0; i < 4; i++)
{
    var xs = r.AsSpan(i * 16, 16).ToArray(); double mu = xs.Average(v => (double)v), var = xs.Average(v => (v - mu) * (v - mu));
    for (int j = 0; j < 16; j++) worst = Math.Max(worst, Math.Abs((xs[j] - mu) / Math.Sqrt(var + 1e-5) - ln[i * 16 + j]));
}
Console.WriteLine($"LayerNorm = (x − μ)/√(σ² + ε) per row (γ = 1, β = 0) within 1e-5: {worst < 1e-5}");

// The same 6-layer causal model, post-norm vs pre-norm, learning to sort 6 digits at lr 1e-2 without warm-up.
const int n = 6, T = 2 * n + 1, steps = 250;
var curves = new List<SvgPlot.Series>();
foreach (bool pre in new[] { false, true })
{
    var model = new Stack(pre, layers: 6, d: 64, rng: new Random(19));
    var opt = new AdamW(model.NamedParameters(), lr: 1e-2, weightDecay: 0);
    var (xs, ys) = (new List<double>(), new List<double>());
    for (int step = 0; step < steps; step++)
    {
        var (ids, targets) = Sorting(new Random(3000 + step), 32);
        var loss = Functional.CrossEntropy(model.Forward(ids).Reshape(-1, 11), targets.Reshape(-1), ignoreIndex: -1);
        opt.ZeroGrad(); loss.Backward(); opt.Step();
        if (step % 5 == 4) { xs.Add(step + 1); ys.Add(loss.Item()); }
    }
    string name = pre ? "pre-norm " : "post-norm";
    Console.WriteLine($"{name}: loss at step 50 {ys[9]:F3}, 100 {ys[19]:F3}, 150 {ys[29]:F3}, 250 {ys[^1]:F3}");
    curves.Add(new(name.Trim(), xs, ys));
}
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "09-norm.svg"), SvgPlot.Lines(curves, "6 layers, lr 1e-2, no warm-up: training loss", "step", "cross-entropy"));

static (Tensor Ids, Tensor Targets) Sorting(Random rng, int b)                 // as lesson 7: "d₀…d₅ | sorted", −1 ignored
{
    var ids = new long[b * T]; var tg = new long[b * T];
    for (int r = 0; r < b; r++)
    {
        var digits = Enumerable.Range(0, n).Select(_ => (long)rng.Next(10)).ToArray();
        var seq = digits.Append(10L).Concat(digits.Order()).ToArray();
        for (int t = 0; t < T; t++) { ids[r * T + t] = seq[t]; tg[r * T + t] = t >= n && t < T - 1 ? seq[t + 1] : -1; }
    }
    return (Tensor.FromArray(ids, [b, T]), Tensor.FromArray(tg, [b, T]));
}

// Token and position embeddings, a causal TransformerEncoder of post- or pre-norm layers, and a head: (B, T) → (B, T, 11).
sealed class Stack : Module
{
    private readonly Embedding tok; private readonly LearnedPositionalEmbedding pos;
    private readonly TransformerEncoder layers; private readonly Linear head;
    public Stack(bool pre, int layers, int d, Random rng)
    {
        tok = RegisterModule("tok", new Embedding(11, d, rng: rng));
        pos = RegisterModule("pos", new LearnedPositionalEmbedding(16, d, rng));
        this.layers = RegisterModule("layers", new TransformerEncoder(() => new TransformerEncoderLayer(d, 4, 4 * d, dropout: 0f,
            batchFirst: true, normFirst: pre, rng: rng), layers, pre ? new LayerNorm(d) : null));   // pre-norm ends with a final LN
        head = RegisterModule("head", new Linear(d, 11, rng: rng));
    }
    public Tensor Forward(Tensor ids) => head.Forward(layers.Forward(pos.Forward(tok.Forward(ids)), isCausal: true));
}
