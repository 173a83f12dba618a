#:project ../../src/Attend.Cli/Attend.Cli.csproj
// Lesson 11 — what attention is used for: relating the parts of two sequences. A translation model's cross-attention
// learns which source word each output word comes from (Bahdanau et al., 2015: "cat" ↔ "chat"); a vision Transformer
// attends between image patches; a speech recognizer between audio frames and phonemes. Here the quickstart's task
// (dates in 30 formats → ISO 8601) trains for 400 steps, and its last decoder layer's cross-attention, read as an
// alignment, shows each output digit looking at the characters it is copied or translated from.
// Run: dotnet run -c Release docs/learn/11-alignment.cs
using Attend.Cli.Dates;
using Attend.Interpret;
using Attend.Nn;

var cfg = DateConfig.Default;                                                   // d_model 64, 4 heads, 2 + 2 layers
var model = new Seq2Seq(cfg.Model, new Random(0));
var heldOut = DateTask.HeldOut(200, seed: 1);                                  // dates never seen in training, any format
DateTask.Train(model, cfg, seed: 0, steps: 400, seconds: null, reportSeconds: 1e9, probe: [], log: TextWriter.Null);
model.Eval();
Console.WriteLine($"after 400 steps: {DateTask.Accuracy(model, heldOut) * 100:F1}% of 200 held-out dates exactly right");

string[] examples = ["Saturday the 17th of April, 2032", "08-07-1965", "5 Nov 1989"];
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
for (int e = 0; e < examples.Length; e++)
{
    var (output, w) = DateTask.CrossAttention(model, examples[e]);             // w[t, s]: output char t ← source char s
    var src = examples[e].Select(c => c.ToString()).ToArray();
    Console.WriteLine($"{examples[e]} → {output}; each output character's most-attended source character:");
    Console.WriteLine("    " + string.Join("  ", output.Select((c, t) => $"{c}←{Quote(src[ArgMax(w, t)])}")));
    if (e == 0) SvgPlot.Save(Path.Combine(img, "11-alignment.svg"), SvgPlot.Heatmap(w, output.Select(c => c.ToString()).ToArray(), src,
        "cross-attention: output (rows) ← source (columns)", 0, 1));
}

static int ArgMax(float[,] w, int t) { int m = 0; for (int s = 1; s < w.GetLength(1); s++) if (w[t, s] > w[t, m]) m = s; return m; }
static string Quote(string c) => c == " " ? "␣" : c;
