#:project ../../src/Attend/Attend.csproj
#:project ../../src/Attend.Interop/Attend.Interop.csproj
#:package Microsoft.ML.OnnxRuntime@1.32.0
#:property PublishAot=false
#:property NoWarn=NU1603
// How far Attend's fp32 logits and ONNX Runtime's (on Attend's opset-17 export) are from a float64 evaluation of the
// same fp32 weights, for the 6-layer, 384-wide GPT with RoPE, grouped-query heads, RMSNorm and SwiGLU (weights of a
// trained model's size): whether the export's difference from Attend is an export error or fp32 rounding.
// Run: dotnet run -c Release tools/onnx-table/gpt-float64.cs
using Attend;
using Attend.Interop;
using Attend.Nn;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Attend.Tensor;
using Module = Attend.Nn.Module;

var rng = new Random(1);
var c = new GptConfig(Positions: PositionKind.Rope, Norm: NormKind.RmsNorm, Mlp: MlpKind.SwiGlu, NKvHead: 2, TieWeights: false);
var m = new Gpt(c, new Random(1));
var values = new Dictionary<string, Tensor>();
foreach (var (name, p) in m.NamedParameters())
{
    var span = new float[p.NumEl];
    bool norm = name.Contains("ln_");
    for (int i = 0; i < span.Length; i++)
    {
        double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        span[i] = p.Rank >= 2 && !norm ? (float)(0.1 * g) : norm && name.EndsWith("weight") ? (float)(1 + 0.1 * g) : (float)(0.05 * g);
    }
    values[name] = Tensor.FromArray(span, p.Shape);
}
m.LoadStateDict(values, strict: false); m.Eval();
int B = 2, T = 256, V = c.VocabSize, C = c.NEmbd, H = c.NHead, Hkv = c.KvHeads, D = c.HeadSize, F = c.Hidden;
var ids = Enumerable.Range(0, B * T).Select(_ => (long)rng.Next(V)).ToArray();
float[] attend; using (Autograd.NoGrad()) attend = m.Forward(Tensor.FromArray(ids, [B, T])).Logits.ToArray();
OnnxExport.Save(m, Path.Combine(Path.GetTempPath(), "attend-gpt-float64.onnx"), new OnnxExportOptions { Opset = 17 });
using var s = new InferenceSession(Path.Combine(Path.GetTempPath(), "attend-gpt-float64.onnx"));
using var r = s.Run([NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [B, T]))]);
var ort = r.First().AsEnumerable<float>().ToArray();

// float64 reference from the same fp32 weights
var sd = m.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray().Select(x => (double)x).ToArray());
double[] Lin(double[] x, int n, int inF, string w, int outF) { var W = sd[w]; var bias = sd.GetValueOrDefault(w[..^6] + "bias"); var y = new double[n * outF]; for (int i = 0; i < n; i++) for (int o = 0; o < outF; o++) { double a = bias?[o] ?? 0; for (int k = 0; k < inF; k++) a += x[i * inF + k] * W[o * inF + k]; y[i * outF + o] = a; } return y; }
double[] Rms(double[] x, int n, string w) { var W = sd[w]; var y = new double[x.Length]; for (int i = 0; i < n; i++) { double ms = 0; for (int k = 0; k < C; k++) ms += x[i * C + k] * x[i * C + k]; double inv = 1 / Math.Sqrt(ms / C + 1e-5); for (int k = 0; k < C; k++) y[i * C + k] = x[i * C + k] * inv * W[k]; } return y; }
var refLogits = new double[B * T * V];
for (int b = 0; b < B; b++)
{
    var x = new double[T * C];
    for (int t = 0; t < T; t++) for (int k = 0; k < C; k++) x[t * C + k] = sd["transformer.wte.weight"][ids[b * T + t] * C + k];
    for (int l = 0; l < c.NLayer; l++)
    {
        string p = $"transformer.h.{l}.";
        var h = Rms(x, T, p + "ln_1.weight");
        int W3 = (H + 2 * Hkv) * D;
        var qkv = Lin(h, T, C, p + "attn.c_attn.weight", W3);
        double Q(int t, int hh, int d) => qkv[t * W3 + hh * D + d];
        double K(int t, int hh, int d) => qkv[t * W3 + (H + hh) * D + d];
        double Vv(int t, int hh, int d) => qkv[t * W3 + (H + Hkv + hh) * D + d];
        // rope (half split) in double
        double[,,] q = new double[H, T, D], k = new double[Hkv, T, D];
        for (int t = 0; t < T; t++) for (int i = 0; i < D / 2; i++)
        {
            double th = t * Math.Pow(c.RopeBase, -2.0 * i / D), cs = Math.Cos(th), sn = Math.Sin(th);
            for (int hh = 0; hh < H; hh++) { double a = Q(t, hh, i), bb = Q(t, hh, i + D / 2); q[hh, t, i] = a * cs - bb * sn; q[hh, t, i + D / 2] = a * sn + bb * cs; }
            for (int hh = 0; hh < Hkv; hh++) { double a = K(t, hh, i), bb = K(t, hh, i + D / 2); k[hh, t, i] = a * cs - bb * sn; k[hh, t, i + D / 2] = a * sn + bb * cs; }
        }
        var y = new double[T * C];
        for (int hh = 0; hh < H; hh++)
        {
            int kv = hh / (H / Hkv);
            for (int t = 0; t < T; t++)
            {
                var sc = new double[t + 1]; double mx = double.NegativeInfinity;
                for (int j = 0; j <= t; j++) { double a = 0; for (int d = 0; d < D; d++) a += q[hh, t, d] * k[kv, j, d]; sc[j] = a / Math.Sqrt(D); mx = Math.Max(mx, sc[j]); }
                double sum = 0; for (int j = 0; j <= t; j++) sum += sc[j] = Math.Exp(sc[j] - mx);
                for (int d = 0; d < D; d++) { double a = 0; for (int j = 0; j <= t; j++) a += sc[j] / sum * Vv(j, kv, d); y[t * C + hh * D + d] = a; }
            }
        }
        var o = Lin(y, T, C, p + "attn.c_proj.weight", C);
        for (int i = 0; i < x.Length; i++) x[i] += o[i];
        h = Rms(x, T, p + "ln_2.weight");
        var ab = Lin(h, T, C, p + "mlp.c_fc.weight", 2 * F);
        var g = new double[T * F];
        for (int t = 0; t < T; t++) for (int i = 0; i < F; i++) { double a = ab[t * 2 * F + i], bb = ab[t * 2 * F + F + i]; g[t * F + i] = a / (1 + Math.Exp(-a)) * bb; }
        o = Lin(g, T, F, p + "mlp.c_proj.weight", C);
        for (int i = 0; i < x.Length; i++) x[i] += o[i];
    }
    var fx = Rms(x, T, "transformer.ln_f.weight");
    var lg = Lin(fx, T, C, "lm_head.weight", V);
    Array.Copy(lg, 0, refLogits, b * T * V, T * V);
}
double E(float[] a) => a.Select((v, i) => Math.Abs(v - refLogits[i])).Max();
Console.WriteLine($"max |logit| {refLogits.Max(Math.Abs):F2}; vs float64: Attend {E(attend):E2}, ORT {E(ort):E2}; Attend vs ORT {attend.Zip(ort, (a, b) => Math.Abs(a - b)).Max():E2}");
