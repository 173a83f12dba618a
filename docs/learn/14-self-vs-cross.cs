#:project ../../src/Attend.Cli/Attend.Cli.csproj
// Lesson 14 — self-attention versus encoder–decoder (cross-) attention. Attention began as cross-attention: Bahdanau
// et al. (2015) let an RNN decoder look at the RNN encoder's states, queries from one sequence and keys/values from
// another. The Transformer (Vaswani et al., 2017) added self-attention, where queries, keys and values all come from
// the same sequence, and replaced the RNNs with it. Its encoder–decoder has all three kinds:
//   encoder self-attention   Q, K, V = encoder states           (S × S, every source character sees all others)
//   decoder self-attention   Q, K, V = decoder states, causal   (T × T, lower-triangular: no peeking at the future)
//   cross-attention          Q = decoder states, K, V = encoder output (T × S)
// Captured here in one forward of the quickstart's date model.
// Run: dotnet run -c Release docs/learn/14-self-vs-cross.cs
using Attend.Cli.Dates;
using Attend.Interpret;
using Attend.Nn;

var cfg = DateConfig.Default;
var model = new Seq2Seq(cfg.Model, new Random(0));
DateTask.Train(model, cfg, seed: 0, steps: 400, seconds: null, reportSeconds: 1e9, probe: [], log: TextWriter.Null);   // as lesson 11
model.Eval();

const string source = "Tuesday 24 Nov 2026";
var output = DateTask.Predict(model, [source])[0];
var (src, pad) = DateTask.Sources([source]);
var (input, _) = DateTask.Targets([output]);
var records = Seq2SeqAttention.Capture(model, src, pad, input);                // every attention call of one forward
Console.WriteLine($"{source} → {output}; the attention calls of one forward (mean of {records[0].NumHeads} heads):");
var maps = new Dictionary<string, float[,]>();
foreach (var r in records)
{
    var m = Mean(r.Maps());
    maps[r.Site] = m;
    int above = 0; for (int i = 0; i < r.Queries; i++) for (int j = i + 1; j < r.Keys; j++) if (m[i, j] > 0) above++;
    string kind = r.Site.Contains(".encoder.") ? "encoder self" : Seq2SeqAttention.IsCross(r.Site) ? "cross" : "decoder self";
    string note = kind == "cross" ? "queries: decoder, keys: source" : $"weights above the diagonal: {above}";
    Console.WriteLine($"    {kind,-12}  {r.Site,-44} {r.Queries,2} queries × {r.Keys,2} keys, {note}");
}
var srcChars = source.Select(c => c.ToString()).ToArray();
var inChars = new[] { "<bos>" }.Concat(output[..^1].Select(c => c.ToString())).ToArray();   // decoder input: BOS + output[..^1]
var img = Environment.GetEnvironmentVariable("ATTEND_LEARN_IMG") ?? Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "img");
SvgPlot.Save(Path.Combine(img, "14-encoder-self.svg"), SvgPlot.Heatmap(maps["transformer.encoder.layers.1.self_attn"], srcChars, srcChars, "encoder self-attention, layer 2", 0, 1));
SvgPlot.Save(Path.Combine(img, "14-decoder-self.svg"), SvgPlot.Heatmap(maps["transformer.decoder.layers.1.self_attn"], inChars, inChars, "decoder self-attention, layer 2", 0, 1));
SvgPlot.Save(Path.Combine(img, "14-cross.svg"), SvgPlot.Heatmap(maps["transformer.decoder.layers.1.multihead_attn"], inChars, srcChars, "cross-attention, layer 2", 0, 1));

static float[,] Mean(float[][,] heads)
{
    var m = new float[heads[0].GetLength(0), heads[0].GetLength(1)];
    foreach (var h in heads) for (int i = 0; i < m.GetLength(0); i++) for (int j = 0; j < m.GetLength(1); j++) m[i, j] += h[i, j] / heads.Length;
    return m;
}
