#:project ../../src/Attend/Attend.csproj
// Lesson 8 — attention alone is blind to order: softmax(QKᵀ)V treats the tokens as a set, so permuting the input rows
// permutes the output rows the same way (permutation equivariance). Positions are added to break this:
// sinusoidal PE[p, 2i] = sin(p/10000^(2i/d)), PE[p, 2i+1] = cos(p/10000^(2i/d)); learned tables (GPT-2); or rotary
// embeddings (RoPE), which rotate q and k by angles p·θ_i so that q_m·k_n depends only on m − n.
// Run: dotnet run -c Release docs/learn/08-positions.cs
using Attend;
using Attend.Interpret;
using Attend.Nn;

const int n = 10, d = 32;
var layer = new TransformerEncoderLayer(d, 4, dimFeedforward: 64, dropout: 0f, batchFirst: true, rng: new Random(14));
var x = Tensor.Randn([1, n, d], new Random(15));                                // (B, n, d)
int[] perm = [3, 7, 0, 9, 1, 5, 8, 2, 6, 4];                                    // a fixed shuffle of the 10 positions
var pe = new SinusoidalPositionalEncoding(d);

var y = layer.Forward(x).ToArray();
var yPerm = layer.Forward(Permute(x)).ToArray();                                // encoder(permuted x)
Console.WriteLine($"no positions:        encoder(permute(x)) = permute(encoder(x)) within 1e-5: {Equivariant(y, yPerm)}");
var yp = layer.Forward(pe.Forward(x)).ToArray();
var ypPerm = layer.Forward(pe.Forward(Permute(x))).ToArray();
Console.WriteLine($"sinusoidal positions: encoder(permute(x)) = permute(encoder(x)) within 1e-5: {Equivariant(yp, ypPerm)}");

// RoPE: the score of a query at m and a key at n depends only on m − n.
var rope = new RotaryEmbedding(d);
var q = Tensor.Randn([1, 1, 1, d], new Random(16)); var k = Tensor.Randn([1, 1, 1, d], new Random(17));
float Score(int m, int nk) => rope.Forward(q, m).Mul(rope.Forward(k, nk)).Sum().Item();   // rot(q, m)·rot(k, n)
Console.WriteLine($"RoPE score q·k at (m, n) = (2, 0): {Score(2, 0):F4}, (7, 5): {Score(7, 5):F4}, (52, 50): {Score(52, 50):F4}; at (0, 2): {Score(0, 2):F4}");

// Pictures: the sinusoidal table, and how similar PE[p] and PE[q] are as a function of the distance.
var table = SinusoidalPositionalEncoding.Table(64, d);
var t = table.ToArray(); var grid = new float[64, d];
for (int i = 0; i < t.Length; i++) grid[i / d, i % d] = t[i];
var dist = Enumerable.Range(0, 40).Select(k => (double)k).ToArray();
var sim = dist.Select(k => Enumerable.Range(0, d).Sum(j => (double)t[10 * d + j] * t[(10 + (int)k) * d + j])).ToArray();   // PE[10]·PE[10 + k]
Console.WriteLine($"PE[10]·PE[10 + k] for k = 0, 1, 2, 4, 8, 16: {string.Join(", ", new[] { 0, 1, 2, 4, 8, 16 }.Select(k => sim[k].ToString("F2")))}");
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "08-sinusoidal.svg"), SvgPlot.Heatmap(grid, Enumerable.Range(0, 64).Select(p => p % 8 == 0 ? $"{p}" : "").ToArray(),
    Enumerable.Range(0, d).Select(j => j % 4 == 0 ? $"{j}" : "").ToArray(), "PE[position, dimension]", -1, 1));
SvgPlot.Save(Path.Combine(img, "08-similarity.svg"), SvgPlot.Lines([new("PE[10]·PE[10 + k]", dist, sim)], "nearby positions look alike", "distance k", "dot product"));

Tensor Permute(Tensor a)                                                        // rows of (1, n, d) reordered by perm
{
    var v = a.ToArray(); var r = new float[v.Length];
    for (int i = 0; i < n; i++) Array.Copy(v, perm[i] * d, r, i * d, d);
    return Tensor.FromArray(r, a.Shape);
}
bool Equivariant(float[] outOriginal, float[] outPermuted) =>
    Enumerable.Range(0, n).All(i => Enumerable.Range(0, d).All(c => Math.Abs(outPermuted[i * d + c] - outOriginal[perm[i] * d + c]) < 1e-5));
