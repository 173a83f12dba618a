#:project ../../src/Attend/Attend.csproj
// Lesson 12 — the same attention on images: a Vision Transformer (Dosovitskiy et al., 2021) cuts an image into P × P
// patches, flattens and projects each to a token, prepends a learned [CLS] token, adds learned positions, and runs a
// Transformer encoder; the [CLS] token's final state is classified. Here: scikit-learn's 8 × 8 digits, 2 × 2 patches
// (16 tokens + [CLS]), trained for 1200 steps; then where [CLS] looks in the last layer, against where the ink is.
// Run: dotnet run -c Release docs/learn/12-vision.cs
using Attend;
using Attend.Data;
using Attend.Interpret;
using Attend.Nn;
using Attend.Optim;

var dir = (string)AppContext.GetData("EntryPointFileDirectoryPath")!;
var digits = ImageFormats.DigitsCsv(Path.Combine(dir, "..", "..", "data", "digits", "digits.csv.gz"));   // 1,797 images, pixels in [0, 1]
var (train, test) = digits.StratifiedSplit(0.2, seed: 0);
var cfg = new VitConfig(ImageSize: 8, PatchSize: 2, Channels: 1, Dim: 64, Depth: 2, NHead: 4);
var model = new VisionTransformer(cfg, new Random(0));
var (mean, std) = train.Statistics();
using (Autograd.NoGrad())
{
    var (one, _) = ImageBatches.Make(test, [0], null, mean, std);                                          // (1, 1, 8, 8)
    Console.WriteLine($"patchify: image {Shape(one)} → patches {Shape(model.Patchify(one))}: {cfg.NumPatches} tokens of {cfg.PatchDim} pixels, + [CLS] = {cfg.NumPatches + 1} tokens of size {cfg.Dim}");
}

var batches = new ImageBatches(train, 64, seed: 0, mean, std);
var opt = new AdamW(model.NamedParameters(), lr: 3e-3, weightDecay: 0.05);
for (int step = 0; step < 1200; step++)
{
    var (x, y) = batches.Train(step, shift: 1);                                  // (64, 1, 8, 8), labels (64)
    var loss = Functional.CrossEntropy(model.Forward(x), y);
    opt.ZeroGrad(); loss.Backward(); opt.Step();
}
model.Eval();
var all = Enumerable.Range(0, test.Count).ToArray();
var (tx, ty) = ImageBatches.Make(test, all, null, mean, std);
using var noGrad = Autograd.NoGrad();
var pred = model.Forward(tx).ToArray(); var labels = ty.ToInt64Array();
int right = all.Count(i => ArgMax(pred.AsSpan(i * 10, 10)) == labels[i]);
Console.WriteLine($"after 1200 AdamW steps: {right} of {test.Count} test digits right ({100.0 * right / test.Count:F1}%)");

// [CLS]'s attention over the 16 patches in the last block, mean of heads, against the ink in each patch.
using var capture = AttentionCapture.Start(model);
model.Forward(tx);
var last = capture.Records[^1];                                                  // (B, heads, 1 query = [CLS], 17 keys)
double onInk = 0, inkPatches = 0;
var panels = new List<(string, float[,])>();
for (int b = 0; b < test.Count; b++)
{
    var cls = AttentionAnalysis.Mean(last.Maps(b));                              // (1, 17)
    var ink = Ink(test.Pixels.AsSpan(b * 64, 64));                               // ink per patch, (16)
    var inked = Enumerable.Range(0, 16).Where(p => ink[p] > 0.5).ToArray();      // patches at least half covered
    onInk += inked.Sum(p => cls[0, p + 1]) / Enumerable.Range(1, 16).Sum(p => cls[0, p]);
    inkPatches += inked.Length / 16.0;
    if (b < 3)
    {
        panels.Add(($"digit {labels[b]}", Grid(p => test.Pixels[b * 64 + p])));
        double mx = Enumerable.Range(1, 16).Max(p => cls[0, p]);
        panels.Add(("[CLS] attention", Grid(p => (float)(cls[0, 1 + (p / 8 / 2) * 4 + (p % 8) / 2] / mx))));
    }
}
Console.WriteLine($"[CLS] attention, last block: {100 * onInk / test.Count:F1}% of its patch weight on inked patches, which are {100 * inkPatches / test.Count:F1}% of the patches");
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine(dir, "img");
var eight = Enumerable.Range(0, 8).Select(_ => "").ToArray();
SvgPlot.Save(Path.Combine(img, "12-vision.svg"), SvgPlot.Heatmaps(panels, eight, eight, 0, 1));

static string Shape(Tensor t) => "(" + string.Join(", ", t.Shape) + ")";
static int ArgMax(ReadOnlySpan<float> s) { int m = 0; for (int i = 1; i < s.Length; i++) if (s[i] > s[m]) m = i; return m; }
static double[] Ink(ReadOnlySpan<float> pixels)                                 // mean pixel of each 2 × 2 patch, row-major
{
    var r = new double[16];
    for (int p = 0; p < 64; p++) r[(p / 8 / 2) * 4 + (p % 8) / 2] += pixels[p] / 4;
    return r;
}
static float[,] Grid(Func<int, float> pixel) { var g = new float[8, 8]; for (int p = 0; p < 64; p++) g[p / 8, p % 8] = pixel(p); return g; }
