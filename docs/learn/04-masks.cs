#:project ../../src/Attend/Attend.csproj
// Lesson 4 — masks decide which keys a query may see: the score of a forbidden key becomes −∞ before the softmax,
// so its weight is exactly 0. A causal mask (key j ≤ query i) makes position i independent of the future; a padding
// mask makes a padded sequence give the same outputs as the unpadded one.
// Run: dotnet run -c Release docs/learn/04-masks.cs
using Attend;
using Attend.Attention;
using Attend.Interpret;

const int n = 8, d = 16;
var rng = new Random(5);
var x = Tensor.Randn([1, 1, n, d], rng);                                        // (B = 1, H = 1, n, d)

// Causal: change the token at position 5 and see which outputs move.
var y = Functional.ScaledDotProductAttention(x, x, x, isCausal: true).ToArray();
var xa = x.ToArray(); for (int c = 0; c < d; c++) xa[5 * d + c] += 1f;            // perturb position 5
var x2 = Tensor.FromArray(xa, [1, 1, n, d]);
var y2 = Functional.ScaledDotProductAttention(x2, x2, x2, isCausal: true).ToArray();
var free = Functional.ScaledDotProductAttention(x, x, x).ToArray();
var free2 = Functional.ScaledDotProductAttention(x2, x2, x2).ToArray();
Console.WriteLine("change the token at position 5; largest change of each output position:");
Console.WriteLine("position   " + string.Concat(Enumerable.Range(0, n).Select(i => $"{i,7}")));
Console.WriteLine("no mask    " + string.Concat(Enumerable.Range(0, n).Select(i => $"{MaxDiff(free, free2, i),7:F3}")));
Console.WriteLine("causal     " + string.Concat(Enumerable.Range(0, n).Select(i => $"{MaxDiff(y, y2, i),7:F3}")));

// The weights themselves, from the kernel (the log-sum-exp it saved), with and without the causal mask.
float[,] Weights(AttentionOptions o) => Grid(Functional.Attention(x, x, x, o with { WeightsForHeads = [0] }).Weights!, n, n);
var causal = Weights(new AttentionOptions { IsCausal = true });
Console.WriteLine($"causal weights above the diagonal: {Enumerable.Range(0, n * n).Where(k => k % n > k / n).Sum(k => causal[k / n, k % n])} (exactly 0)");

// Padding: a batch of a 5-token sequence padded to 8 (mask: True = may attend) against the same 5 tokens alone.
var pad = Tensor.FromArray(Enumerable.Range(0, n).Select(j => j < 5).ToArray(), [1, 1, 1, n]);    // broadcasts to (B, H, L, S)
var padded = Functional.ScaledDotProductAttention(x, x, x, attnMask: pad).ToArray();
var alone = Functional.ScaledDotProductAttention(x.Narrow(2, 0, 5), x.Narrow(2, 0, 5), x.Narrow(2, 0, 5)).ToArray();
var unmasked = Functional.ScaledDotProductAttention(x, x, x).ToArray();
Console.WriteLine($"5 real tokens + 3 pads vs the 5 tokens alone, largest difference: with the padding mask {Enumerable.Range(0, 5).Max(i => MaxDiff(padded, alone, i)):F6}, without {Enumerable.Range(0, 5).Max(i => MaxDiff(unmasked, alone, i)):F3}");

var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
var pos = Enumerable.Range(0, n).Select(i => i.ToString()).ToArray();
SvgPlot.Save(Path.Combine(img, "04-masks.svg"), SvgPlot.Heatmaps([("no mask", Weights(new AttentionOptions())), ("causal", causal),
    ("padding (keys 5–7)", Weights(new AttentionOptions { Mask = pad }))], pos, pos, 0, 1));

static double MaxDiff(float[] a, float[] b, int row) { double m = 0; for (int c = 0; c < d; c++) m = Math.Max(m, Math.Abs(a[row * d + c] - b[row * d + c])); return m; }
static float[,] Grid(Tensor w, int r, int c) { var a = w.ToArray(); var g = new float[r, c]; for (int k = 0; k < r * c; k++) g[k / c, k % c] = a[k]; return g; }
